"""KITTI text files: calibration, timestamps, oxts packets and label rows.

The per-file readers and writers behind the KITTI recordings of :mod:`fusionlabel.io.kitti`;
everything here reads or writes one file (or one folder's calibration files) and knows nothing
about recording layouts.

Frames
------
The **ego frame is the Velodyne frame** (x forward, y left, z up): the LiDAR is the sensor
``"velodyne"`` with ``T_ego_lidar = I``, and the cameras ``image_00`` .. ``image_03`` are the
*rectified* cameras (distortion-free, ``K = P_rect[:, :3]``) placed by::

    T_rect_velo = R0_rect @ Tr_velo_to_cam          (4x4, Velodyne -> rectified camera 0)
    T_ego_cam_i = inv(T_rect_velo) @ inv(T_cami_rect), with P_i = K_i [I | t_i], T_cami_rect = [I | t_i]

Calibration files are read in both spellings: object style ``R0_rect:`` / ``Tr_velo_to_cam:`` /
``Tr_imu_to_velo:`` and the official tracking style ``R_rect`` / ``Tr_velo_cam`` / ``Tr_imu_velo``
without colons (:func:`read_kitti_calib`); a raw-data day has three files
(:func:`read_kitti_raw_calib`).

Timestamps (``timestamps.txt``: "2011-09-26 13:02:25.964389445") are read to the nanosecond, as
UTC (KITTI states no zone). Ego poses from oxts packets follow the KITTI devkit
(:func:`oxts_to_poses`): Mercator position scaled by ``cos(lat0)``, ``R = Rz(yaw) Ry(pitch)
Rx(roll)``, origin at the first packet (as pykitti), then ``T_world_velo = T_world_imu @
inv(T_velo_imu)``.

Labels (tracking: 17 fields, object: 15 fields, each with an optional score;
:class:`KittiLabels`) are boxes in the rectified camera-0 frame (bottom centre, ``h w l``,
``rotation_y``); they are converted to ego-frame :class:`~fusionlabel.core.boxes.Boxes` by
:func:`fusionlabel.core.conventions.kitti_camera_to_boxes` (see ``docs/conventions.md``).

Example
-------
>>> from fusionlabel.io.kitti_files import parse_kitti_timestamp
>>> parse_kitti_timestamp("1970-01-01 00:00:01.5")
1500000000
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.calibration import Camera, Lidar, Rig, camera_from_projection
from fusionlabel.core.conventions import boxes_to_kitti_camera, kitti_alpha, kitti_camera_to_boxes
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform

LIDAR = "velodyne"
CAMERAS = ("image_00", "image_01", "image_02", "image_03")
DEFAULT_IMAGE_SIZE = (1242, 375)  # (width, height) of most rectified KITTI images
EARTH_RADIUS_M = 6378137.0

#: official tracking spelling -> object spelling (the canonical keys of :func:`read_kitti_calib`)
KEY_ALIASES = {"R_rect": "R0_rect", "Tr_velo_cam": "Tr_velo_to_cam", "Tr_imu_velo": "Tr_imu_to_velo"}
_TEXT_KEYS = {"calib_time"}

TRACKING_FIELDS = 17
OBJECT_FIELDS = 15


# ============================================================================ calibration
def read_kitti_calib(path: str | Path) -> dict[str, NDArray[np.float64]]:
    """Read any KITTI calibration text file into ``{key: (k,) float64}``.

    Lines are ``key: v1 v2 ...`` or ``key v1 v2 ...``; official tracking keys are renamed to the
    object spelling (:data:`KEY_ALIASES`), so ``R_rect`` comes back as ``R0_rect``. Text entries
    (``calib_time``) are skipped. A numeric key whose values do not parse raises
    :class:`CorruptFileError`; an unreadable file raises :class:`CalibrationError`.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(path, f"cannot read calibration: {getattr(exc, 'strerror', None) or exc}") from None
    out: dict[str, NDArray[np.float64]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        key, sep, rest = line.partition(":")
        if not sep or " " in key.strip():
            key, _, rest = line.partition(" ")
        key = key.strip()
        if key in _TEXT_KEYS:
            continue
        try:
            values = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            raise CorruptFileError(path, f"line {n}: calibration entry {key!r} is not a list of numbers") from None
        out[KEY_ALIASES.get(key, key)] = values
    return out


def _require(calib: Mapping[str, NDArray[np.float64]], key: str, path: Path, size: int) -> NDArray[np.float64]:
    """``calib[key]`` with ``size`` values, else :class:`CalibrationError` naming file and key."""
    if key not in calib:
        spelled = [k for k, v in KEY_ALIASES.items() if v == key]
        also = f" (or '{spelled[0]}')" if spelled else ""
        raise CalibrationError(path, f"missing key '{key}'{also}")
    v = calib[key]
    if v.size != size:
        raise CalibrationError(path, f"key '{key}' has {v.size} values, expected {size}")
    return v


def _inv(m: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.linalg.inv(m), dtype=np.float64)


def _h(m: NDArray[np.float64]) -> NDArray[np.float64]:
    """3x3 or 3x4 -> 4x4 homogeneous."""
    out = np.eye(4)
    out[:3, : m.shape[1]] = m
    return out


def kitti_T_rect_velo(calib: Mapping[str, NDArray[np.float64]], path: str | Path) -> Transform:
    """``T_rect_velo = R0_rect @ Tr_velo_to_cam`` (4x4) from a tracking/object calibration dict."""
    p = Path(path)
    R0 = _require(calib, "R0_rect", p, 9).reshape(3, 3)
    Tr = _require(calib, "Tr_velo_to_cam", p, 12).reshape(3, 4)
    return Transform(_h(R0) @ _h(Tr))


def kitti_camera(
    name: str, P: NDArray[np.float64], T_rect_velo: Transform, image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE
) -> Camera:
    """The rectified camera of projection matrix ``P`` (3x4, e.g. ``P2`` for ``image_02``) in the
    Velodyne (ego) frame, for images of ``image_size`` (width, height)."""
    # T_ego_rect with the exact matrix inverse: R0_rect is not exactly orthonormal in the files
    T_ego_rect = Transform(_inv(T_rect_velo.matrix))
    return camera_from_projection(name, np.asarray(P).reshape(3, 4), image_size[0], image_size[1], T_ego_rect)


def _rig(P: Mapping[str, NDArray[np.float64]], T_rect_velo: Transform, sizes: Mapping[str, tuple[int, int]]) -> Rig:
    cams = {name: kitti_camera(name, Pm, T_rect_velo, sizes.get(name, DEFAULT_IMAGE_SIZE)) for name, Pm in P.items()}
    return Rig(cameras=cams, lidars={LIDAR: Lidar(LIDAR)})


def rig_from_kitti_calib(
    calib: Mapping[str, NDArray[np.float64]], path: str | Path, image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE
) -> Rig:
    """The rig of a tracking/object calibration (keys ``P0..P3``, ``R0_rect``, ``Tr_velo_to_cam``).

    Parameters
    ----------
    calib : from :func:`read_kitti_calib`
    path : the file, for error messages
    image_size : (width, height) of the rectified images, pixels

    Raises
    ------
    CalibrationError : naming ``path`` and the missing key
    """
    p = Path(path)
    T = kitti_T_rect_velo(calib, p)
    P = {f"image_0{i}": _require(calib, f"P{i}", p, 12) for i in range(4)}
    try:
        return _rig(P, T, {n: image_size for n in P})
    except ValueError as exc:
        raise CalibrationError(p, str(exc)) from None


def kitti_T_velo_imu(calib: Mapping[str, NDArray[np.float64]], path: str | Path) -> Transform:
    """``T_velo_imu`` (``Tr_imu_to_velo``, IMU -> Velodyne) from a tracking/object calibration."""
    return Transform(_require(calib, "Tr_imu_to_velo", Path(path), 12).reshape(3, 4))


def _rt(calib: Mapping[str, NDArray[np.float64]], path: Path) -> Transform:
    R = _require(calib, "R", path, 9).reshape(3, 3)
    t = _require(calib, "T", path, 3)
    return Transform.from_rt(R, t)


def read_kitti_raw_calib(folder: str | Path) -> tuple[Rig, Transform | None, list[DataError]]:
    """The rig of a raw-data day from its three calibration files.

    Parameters
    ----------
    folder : the folder holding ``calib_cam_to_cam.txt``, ``calib_velo_to_cam.txt`` and
        (optional) ``calib_imu_to_velo.txt``

    Returns
    -------
    rig : cameras ``image_00..03`` from ``P_rect_0x``, ``S_rect_0x`` and ``R_rect_00``; LiDAR ``velodyne``
    T_velo_imu : IMU -> Velodyne, None when ``calib_imu_to_velo.txt`` is missing or bad
    problems : the errors about the optional IMU file

    Raises
    ------
    CalibrationError : a camera or Velodyne calibration file or key is missing
    """
    folder = Path(folder)
    cam_path, velo_path, imu_path = (folder / f"calib_{n}.txt" for n in ("cam_to_cam", "velo_to_cam", "imu_to_velo"))
    for p in (cam_path, velo_path):
        if not p.is_file():
            raise CalibrationError(p, "calibration file is missing")
    cc = read_kitti_calib(cam_path)
    T_cam0_velo = _rt(read_kitti_calib(velo_path), velo_path)
    R_rect = _require(cc, "R_rect_00", cam_path, 9).reshape(3, 3)
    T_rect_velo = Transform(_h(R_rect) @ T_cam0_velo.matrix)
    P: dict[str, NDArray[np.float64]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for i in range(4):
        P[f"image_0{i}"] = _require(cc, f"P_rect_0{i}", cam_path, 12)
        s = _require(cc, f"S_rect_0{i}", cam_path, 2)
        sizes[f"image_0{i}"] = (round(float(s[0])), round(float(s[1])))
    try:
        rig = _rig(P, T_rect_velo, sizes)
    except ValueError as exc:
        raise CalibrationError(cam_path, str(exc)) from None
    problems: list[DataError] = []
    T_velo_imu = None
    if imu_path.is_file():
        try:
            T_velo_imu = _rt(read_kitti_calib(imu_path), imu_path)
        except DataError as exc:
            problems.append(exc)
    else:
        problems.append(CalibrationError(imu_path, "calibration file is missing: no ego poses from oxts"))
    return rig, T_velo_imu, problems


# ============================================================================ time and poses
_TS = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?$")


def parse_kitti_timestamp(text: str) -> int:
    """``"2011-09-26 13:02:25.964389445"`` -> int nanoseconds since the Unix epoch (read as UTC).

    Integer arithmetic throughout: ``seconds * 10**9 + fraction`` with the fraction right-padded
    to 9 digits, never through a float. Raises ``ValueError`` on another format.
    """
    m = _TS.match(text.strip())
    if not m:
        raise ValueError(f"not a KITTI timestamp: {text.strip()!r}")
    secs = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S"))
    frac = (m.group(2) or "").ljust(9, "0")
    return secs * 1_000_000_000 + int(frac)


def read_kitti_timestamps(path: str | Path) -> NDArray[np.int64]:
    """(K,) int64 nanoseconds from a KITTI ``timestamps.txt`` (one per line, blank lines skipped)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, f"cannot read timestamps: {getattr(exc, 'strerror', None) or exc}") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(parse_kitti_timestamp(line))
        except ValueError as exc:
            raise CorruptFileError(path, f"line {n}: {exc}") from None
    return np.asarray(out, dtype=np.int64)


def _rotx(a: float) -> NDArray[np.float64]:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _roty(a: float) -> NDArray[np.float64]:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rotz(a: float) -> NDArray[np.float64]:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def oxts_to_poses(oxts: NDArray[np.float64], T_velo_imu: Transform) -> list[Transform]:
    """KITTI devkit ``convertOxtsToPose``, ending in the Velodyne (ego) frame.

    Parameters
    ----------
    oxts : (P, >=6) rows ``lat (deg), lon (deg), alt (m), roll, pitch, yaw (rad)`` ...
    T_velo_imu : IMU -> Velodyne (``calib_imu_to_velo``)

    Returns
    -------
    P transforms ``T_world_velo``; the world frame is x east, y north, z up (metres), origin at the
    first packet's IMU position::

        s = cos(lat0 pi/180)
        t = (s er lon pi/180, s er ln(tan((90 + lat) pi/360)), alt) - t_0      (er = 6378137 m)
        T_world_imu = [Rz(yaw) Ry(pitch) Rx(roll) | t],  T_world_velo = T_world_imu inv(T_velo_imu)
    """
    o = np.asarray(oxts, dtype=np.float64).reshape(len(oxts), -1)
    scale = np.cos(np.deg2rad(o[0, 0]))
    tx = scale * np.deg2rad(o[:, 1]) * EARTH_RADIUS_M
    ty = scale * EARTH_RADIUS_M * np.log(np.tan(np.deg2rad(90.0 + o[:, 0]) / 2.0))
    t = np.column_stack([tx, ty, o[:, 2]])
    t -= t[0]
    T_imu_velo = Transform(_inv(T_velo_imu.matrix))
    poses = []
    for (roll, pitch, yaw), ti in zip(o[:, 3:6], t):
        R = _rotz(yaw) @ _roty(pitch) @ _rotx(roll)
        poses.append(Transform.from_rt(R, ti) @ T_imu_velo)
    return poses


def parse_oxts_packet(line: str, path: Path, where: str) -> NDArray[np.float64]:
    """One oxts packet (a line of 30 numbers) as (30,) float64 (lat, lon in degrees, angles in radians).

    ``where`` locates the packet in error messages (``"line 3"``, ``"packet"``).

    Raises
    ------
    CorruptFileError : naming ``path`` and ``where`` for a non-numeric value or a wrong count
    """
    parts = line.split()
    try:
        v = np.array([float(x) for x in parts], dtype=np.float64)
    except ValueError:
        raise CorruptFileError(path, f"{where}: oxts packet is not numeric") from None
    if len(v) != 30:
        raise CorruptFileError(path, f"{where}: oxts packet has {len(v)} values, expected 30")
    return v


def oxts_pose_track(
    oxts: list[NDArray[np.float64]], t_ns: NDArray[np.int64], T_velo_imu: Transform, path: Path
) -> PoseTrack:
    """``T_world_velo`` poses (:func:`oxts_to_poses`) of packets stamped ``t_ns`` ((P,) int64 ns).

    Raises
    ------
    CorruptFileError : naming ``path`` when the poses cannot form a track (no packet, repeated times)
    """
    try:
        return PoseTrack(t_ns, tuple(oxts_to_poses(np.vstack(oxts), T_velo_imu)))
    except ValueError as exc:
        raise CorruptFileError(path, f"cannot build ego poses: {exc}") from None


# ============================================================================ labels
@dataclass(frozen=True)
class KittiLabels:
    """Rows of a KITTI label file, struct-of-arrays, in the file's order and units.

    kind : ``"tracking"`` (17 fields, + score) or ``"object"`` (15 fields, + score)
    frame : (N,) int64 frame numbers (object files: 0)
    track_id : (N,) int64 (-1 for DontCare; object files: -1)
    type : N class names (``Car``, ``Van``, ``Pedestrian``, ``DontCare``...)
    truncated : (N,) float64 (KITTI's tracking files: levels 0, 1, 2; object files and FusionLabel's
        tracking export: the fraction 0..1 outside the image; -1 for DontCare)
    occluded : (N,) int64, 0 fully visible, 1 partly, 2 largely occluded, 3 unknown
    alpha : (N,) float64 radians, observation angle
    bbox : (N, 4) float64 pixels ``x1 y1 x2 y2`` in image_02
    hwl : (N, 3) float64 metres ``h w l``
    xyz : (N, 3) float64 metres, bottom centre in the rectified camera-0 frame
    rotation_y : (N,) float64 radians about camera y
    score : (N,) float64 or None when the file has no score column
    """

    kind: Literal["tracking", "object"]
    frame: NDArray[np.int64]
    track_id: NDArray[np.int64]
    type: tuple[str, ...]
    truncated: NDArray[np.float64]
    occluded: NDArray[np.int64]
    alpha: NDArray[np.float64]
    bbox: NDArray[np.float64]
    hwl: NDArray[np.float64]
    xyz: NDArray[np.float64]
    rotation_y: NDArray[np.float64]
    score: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return len(self.type)

    @property
    def dont_care(self) -> NDArray[np.bool_]:
        return np.array([t == "DontCare" for t in self.type], dtype=bool)


def read_kitti_labels(path: str | Path) -> KittiLabels:
    """Read a KITTI tracking (17 fields) or object (15 fields) label file, each with an optional score.

    Raises
    ------
    CorruptFileError : naming the file and line for a wrong field count or a non-numeric value
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, f"cannot read labels: {getattr(exc, 'strerror', None) or exc}") from None
    rows: list[list[str]] = []
    lines: list[int] = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            rows.append(line.split())
            lines.append(n)
    ncols = len(rows[0]) if rows else TRACKING_FIELDS
    if ncols not in (OBJECT_FIELDS, OBJECT_FIELDS + 1, TRACKING_FIELDS, TRACKING_FIELDS + 1):
        raise CorruptFileError(
            path, f"line {lines[0]}: {ncols} fields; KITTI labels have 15 (object) or 17 (tracking), +1 score"
        )
    kind: Literal["tracking", "object"] = "tracking" if ncols >= TRACKING_FIELDS else "object"
    off = 2 if kind == "tracking" else 0
    for r, n in zip(rows, lines):
        if len(r) != ncols:
            raise CorruptFileError(path, f"line {n}: {len(r)} fields, the file's first row has {ncols}")
    try:
        num = np.array([[float(v) for v in r[off + 1 :]] for r in rows], dtype=np.float64).reshape(
            len(rows), ncols - off - 1
        )
        head = np.array([[int(v) for v in r[:off]] for r in rows], dtype=np.int64).reshape(len(rows), off)
    except ValueError:
        bad = next(n for r, n in zip(rows, lines) if not _numeric_row(r, off))
        raise CorruptFileError(path, f"line {bad}: a numeric field does not parse") from None
    if np.any(num[:, 1] != np.round(num[:, 1])):
        raise CorruptFileError(path, "the 'occluded' field must be an integer")
    n = len(rows)
    return KittiLabels(
        kind=kind,
        frame=head[:, 0] if off else np.zeros(n, np.int64),
        track_id=head[:, 1] if off else np.full(n, -1, np.int64),
        type=tuple(r[off] for r in rows),
        truncated=num[:, 0],
        occluded=num[:, 1].astype(np.int64),
        alpha=num[:, 2],
        bbox=num[:, 3:7],
        hwl=num[:, 7:10],
        xyz=num[:, 10:13],
        rotation_y=num[:, 13],
        score=num[:, 14] if num.shape[1] > 14 else None,
    )


def _numeric_row(r: list[str], off: int) -> bool:
    try:
        [int(v) for v in r[:off]]
        [float(v) for v in r[off + 1 :]]
        return True
    except ValueError:
        return False


def _f(v: float) -> str:
    return "%f" % (round(float(v), 6) + 0.0)  # + 0.0 turns -0.0 into 0.0


def _truncation_text(v: float) -> str:
    """``truncated`` as text: an integer as ``%d`` (KITTI's levels, -1 for DontCare, 1 for a box
    wholly outside the image), a fraction in (0, 1) as ``%.2f`` capped at ``0.99``.

    Every KITTI tracking evaluator reads the field as ``int(float(x))`` (the devkit, AB3DMOT,
    TrackEval), so a partly visible box reads as level 0 and is evaluated; the cap keeps
    ``0.996`` from printing as ``1.00`` and turning a visible box into an ignored one.
    """
    v = float(v)
    if v == round(v):
        return str(round(v))
    return f"{min(v, 0.99) if 0.0 < v < 1.0 else v:.2f}"


def format_kitti_tracking_labels(labels: KittiLabels) -> str:
    """KITTI tracking label text, as the devkit writes it: ``%d %d %s`` then ``truncated``
    (:func:`_truncation_text`), ``%d`` occluded and ``%f`` fields.

    ``frame track_id type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y [score]``.
    """
    out = []
    for i in range(len(labels)):
        vals = [labels.alpha[i], *labels.bbox[i], *labels.hwl[i], *labels.xyz[i], labels.rotation_y[i]]
        if labels.score is not None:
            vals.append(labels.score[i])
        out.append(
            f"{int(labels.frame[i])} {int(labels.track_id[i])} {labels.type[i]} "
            f"{_truncation_text(labels.truncated[i])} {int(labels.occluded[i])} " + " ".join(_f(v) for v in vals)
        )
    return "\n".join(out) + ("\n" if out else "")


def write_kitti_tracking_labels(path: str | Path, labels: KittiLabels) -> None:
    """Write ``labels`` as a KITTI tracking label file (atomically)."""
    atomic_write_text(Path(path), format_kitti_tracking_labels(labels))


def frame_labels_from_kitti(
    labels: KittiLabels, rows: NDArray[np.int64], T_rect_velo: Transform, ids: NDArray[np.int64], path: Path
) -> FrameLabels:
    """The label rows ``rows`` ((K,) indices into ``labels``) as ego-frame :class:`FrameLabels`.

    Boxes get the track ids ``ids`` ((K,) int64), the types as categories and the attributes
    ``truncated``, ``occluded``, ``alpha`` and ``bbox_2d`` (image_02 pixels).

    Raises
    ------
    CorruptFileError : naming ``path`` (and the frame of tracking labels) for an invalid box
    """
    try:
        boxes = kitti_camera_to_boxes(labels.xyz[rows], labels.hwl[rows], labels.rotation_y[rows], T_rect_velo)
        attrs = tuple(
            {
                "truncated": float(labels.truncated[i]),
                "occluded": int(labels.occluded[i]),
                "alpha": float(labels.alpha[i]),
                "bbox_2d": [float(v) for v in labels.bbox[i]],
            }
            for i in rows
        )
        scores = None if labels.score is None else labels.score[rows]
        return FrameLabels(ids, tuple(labels.type[i] for i in rows), boxes, scores, attrs)
    except ValueError as exc:
        where = f"frame {int(labels.frame[rows[0]])}" if labels.kind == "tracking" and len(rows) else "labels"
        raise CorruptFileError(path, f"{where}: {exc}") from None


def kitti_labels_to_labelset(
    labels: KittiLabels, T_rect_velo: Transform, path: str | Path
) -> tuple[LabelSet, dict[int, NDArray[np.float64]]]:
    """Tracking labels -> (LabelSet in the Velodyne/ego frame, DontCare regions per frame).

    Boxes keep the KITTI track ids and types (as categories) and carry the attributes
    ``truncated``, ``occluded``, ``alpha`` and ``bbox_2d`` (image_02 pixels). ``DontCare`` rows
    are kept out of the tracks and returned as ``{frame: (K, 4) x1 y1 x2 y2}``.
    """
    path = Path(path)
    dc = labels.dont_care
    frames: dict[int, FrameLabels] = {}
    dont_care: dict[int, NDArray[np.float64]] = {}
    for f in np.unique(labels.frame):
        rows = np.flatnonzero((labels.frame == f) & ~dc)
        if len(rows):
            frames[int(f)] = frame_labels_from_kitti(labels, rows, T_rect_velo, labels.track_id[rows], path)
        d = np.flatnonzero((labels.frame == f) & dc)
        if len(d):
            dont_care[int(f)] = labels.bbox[d].copy()
    return LabelSet(frames), dont_care


def labelset_to_kitti_labels(
    labels: LabelSet,
    T_rect_velo: Transform,
    dont_care: Mapping[int, NDArray[np.float64]] | None = None,
    camera: Camera | None = None,
    points: Callable[[int], NDArray[np.float64]] | None = None,
    scores: bool = False,
) -> KittiLabels:
    """Ego-frame labels -> KITTI tracking rows (inverse of :func:`kitti_labels_to_labelset`).

    ``alpha``, ``truncated``, ``occluded`` and ``bbox_2d`` come from each box's attributes when
    present; otherwise alpha is computed (:func:`~fusionlabel.core.conventions.kitti_alpha`),
    the 2D box is the projection into ``camera`` (``image_02``), and ``truncated`` (the fraction
    of the silhouette outside the image) and ``occluded`` (KITTI level 0-2 of the hidden
    fraction, 3 when no part is in the image) are computed in ``camera`` by
    :func:`fusionlabel.core.occlusion.image_visibility`: the frame's other boxes and, when
    ``points`` is given, ``points(frame)`` ((M, 3) LiDAR points in that frame's ego frame) occlude.
    Without a camera: truncated 0, occluded 3 (unknown). Per frame, DontCare rows come first,
    then boxes in track order.

    ``scores=True`` gives the rows the 18th field (the box scores) as KITTI tracking *results*
    have it, and leaves the DontCare rows out (results carry none: evaluators would read them as
    result boxes with the duplicate id -1).

    Raises
    ------
    ValueError : a box has no ``bbox_2d`` attribute and no ``camera`` is given
    """
    from fusionlabel.core.occlusion import image_visibility
    from fusionlabel.core.projection import project_boxes

    cols: dict[str, list[Any]] = {
        k: [] for k in ("frame", "tid", "type", "tr", "oc", "al", "bb", "hwl", "xyz", "ry", "sc")
    }

    def add(
        f: int, tid: int, typ: str, tr: float, oc: int, al: float, bb: Any, hwl: Any, xyz: Any, ry: float, sc: float
    ) -> None:
        for k, v in zip(cols, (f, tid, typ, tr, oc, al, bb, hwl, xyz, ry, sc)):
            cols[k].append(v)

    dont_care = dont_care or {}
    T_cam_velo = None
    if camera is not None:
        T_cam_velo = camera.T_ego_cam.inverse()
    for f in sorted(set(labels.frames) | (set() if scores else set(dont_care))):
        for bb in dont_care.get(f, np.zeros((0, 4))) if not scores else ():
            # the tracking benchmark's DontCare filler (object files use h w l = -1, xyz = -1000, ry = -10)
            add(f, -1, "DontCare", -1, -1, -10.0, bb, [-1000.0] * 3, [-10.0, -1.0, -1.0], -1.0, 1.0)
        fl = labels.get(f)
        if len(fl) == 0:
            continue
        xyz, hwl, ry = boxes_to_kitti_camera(fl.boxes, T_rect_velo)
        alpha = kitti_alpha(xyz, ry)
        proj = project_boxes(fl.boxes, camera, T_cam_velo).bbox if camera is not None else None
        trunc, occl = np.zeros(len(fl)), np.full(len(fl), 3, np.int64)
        if camera is not None and any("truncated" not in a or "occluded" not in a for a in fl.attributes):
            vis = image_visibility(fl.boxes, camera, T_cam_velo, points(f) if points is not None else None)
            trunc, occl = vis.truncation, vis.level
            if proj is not None:
                # no 2D box where the silhouette misses the picture (its bounding box may touch a corner)
                proj = np.where(vis.in_image[:, None], proj, np.nan)
        for j in range(len(fl)):
            a = fl.attributes[j]
            if "bbox_2d" in a:
                bb = np.asarray(a["bbox_2d"], dtype=np.float64)
            elif proj is not None:
                bb = proj[j]
            else:
                raise ValueError(
                    f"frame {f}, track {int(fl.track_ids[j])}: no 'bbox_2d' attribute and no camera to project into"
                )
            add(
                f,
                int(fl.track_ids[j]),
                fl.categories[j],
                float(a.get("truncated", trunc[j])),
                int(a.get("occluded", occl[j])),
                float(a.get("alpha", alpha[j])),
                bb,
                hwl[j],
                xyz[j],
                ry[j],
                float(fl.scores[j]),
            )
    n = len(cols["frame"])
    return KittiLabels(
        kind="tracking",
        frame=np.asarray(cols["frame"], np.int64),
        track_id=np.asarray(cols["tid"], np.int64),
        type=tuple(cols["type"]),
        truncated=np.asarray(cols["tr"], np.float64),
        occluded=np.asarray(cols["oc"], np.int64),
        alpha=np.asarray(cols["al"], np.float64),
        bbox=np.asarray(cols["bb"], np.float64).reshape(n, 4),
        hwl=np.asarray(cols["hwl"], np.float64).reshape(n, 3),
        xyz=np.asarray(cols["xyz"], np.float64).reshape(n, 3),
        rotation_y=np.asarray(cols["ry"], np.float64),
        score=np.asarray(cols["sc"], np.float64) if scores else None,
    )
