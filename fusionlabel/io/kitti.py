"""KITTI readers: raw drives, tracking sequences and object frames (plus the tracking label writer).

In every KITTI recording the **ego frame is the Velodyne frame** (x forward, y left, z up): the
LiDAR is the sensor ``"velodyne"`` with ``T_ego_lidar = I``, and the cameras ``image_00`` ..
``image_03`` are the *rectified* cameras (distortion-free, ``K = P_rect[:, :3]``) placed by::

    T_rect_velo = R0_rect @ Tr_velo_to_cam          (4x4, Velodyne -> rectified camera 0)
    T_ego_cam_i = inv(T_rect_velo) @ inv(T_cami_rect), with P_i = K_i [I | t_i], T_cami_rect = [I | t_i]

Labels (tracking, object) are boxes in the rectified camera-0 frame (bottom centre, ``h w l``,
``rotation_y``); they are converted to ego-frame :class:`~fusionlabel.core.boxes.Boxes` by
:func:`fusionlabel.core.conventions.kitti_camera_to_boxes` (see ``docs/conventions.md``).

Layouts
-------
raw (``open_kitti_raw``)::

    2011_09_26/calib_{cam_to_cam,velo_to_cam,imu_to_velo}.txt    (in the date folder or the drive)
    2011_09_26/2011_09_26_drive_0001_sync/
        velodyne_points/{timestamps.txt, data/0000000000.bin ...}
        image_0{0..3}/{timestamps.txt, data/0000000000.png ...}
        oxts/{timestamps.txt, data/0000000000.txt ...}

  Frames are the sample indices that have a Velodyne scan or an image file (sync'd drives share
  file indices across sensors). Timestamps come from ``timestamps.txt`` ("2011-09-26
  13:02:25.964389445", read to the nanosecond, as UTC: KITTI states no zone); a drive without them
  gets nominal 10 Hz times (index * 100 ms) and a notice in ``problems``. A drive folder holding
  only metadata (timestamps, oxts, no data files) opens with **0 frames**; its streams still carry
  the recorded timestamps and its ego poses come from the oxts packets present. Ego poses follow
  the KITTI devkit: Mercator position scaled by ``cos(lat0)``, ``R = Rz(yaw) Ry(pitch) Rx(roll)``,
  origin at the first packet (as pykitti), then ``T_world_velo = T_world_imu @ inv(T_velo_imu)``.

tracking (``open_kitti_tracking``)::

    training/calib/0001.txt  label_02/0001.txt  image_02/0001/000000.png
    training/velodyne/0001/000000.bin (optional)  oxts/0001.txt (optional)

  Pass ``training/image_02/0001``, ``training/velodyne/0001``, ``training/label_02/0001.txt`` (or
  ``calib/0001.txt``, ``oxts/0001.txt``) or ``training`` when it holds exactly one sequence.
  Frames ``0 .. max`` over label frames and file indices; timestamps are nominal 10 Hz
  (index * 100 ms: the tracking benchmark ships none). A frame without an image or scan simply
  has no such entry.

object (``open_kitti_object``)::

    training/{calib/000001.txt, velodyne/000001.bin, image_2/000001.png, label_2/000001.txt}

  Each file index is one frame, in index order, with nominal times (index position * 100 ms;
  object frames are not a sequence). Calibration differs between object frames: ``rig`` is the
  first frame's, :meth:`KittiObjectRecording.rig_at` gives each frame's, and each frame's labels
  are converted with its own calibration. Objects carry no track ids: every box gets a unique id.

Calibration files are read in both spellings: object style ``R0_rect:`` / ``Tr_velo_to_cam:`` /
``Tr_imu_to_velo:`` and the official tracking style ``R_rect`` / ``Tr_velo_cam`` / ``Tr_imu_velo``
without colons. Rectified image sizes come from ``S_rect_0x`` (raw) or the first PNG header
found (tracking/object), else KITTI's usual 1242 x 375.
"""

from __future__ import annotations

import calendar
import re
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.calibration import Camera, Lidar, Rig, camera_from_projection
from fusionlabel.core.conventions import boxes_to_kitti_camera, kitti_alpha, kitti_camera_to_boxes
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import Frame, ImageRef, PointCloud
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import Recording, Stream
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform

LIDAR = "velodyne"
CAMERAS = ("image_00", "image_01", "image_02", "image_03")
NOMINAL_PERIOD_NS = 100_000_000  # KITTI's Velodyne spins at 10 Hz
DEFAULT_IMAGE_SIZE = (1242, 375)  # (width, height) of most rectified KITTI images
EARTH_RADIUS_M = 6378137.0

#: official tracking spelling -> object spelling (the canonical keys of :func:`read_kitti_calib`)
KEY_ALIASES = {"R_rect": "R0_rect", "Tr_velo_cam": "Tr_velo_to_cam", "Tr_imu_velo": "Tr_imu_to_velo"}
_TEXT_KEYS = {"calib_time"}

TRACKING_FIELDS = 17
OBJECT_FIELDS = 15
_TRACKING_DIRS = {"label_02", "image_02", "image_03", "velodyne", "calib", "oxts"}
_OBJECT_DIRS = {"calib", "velodyne", "image_2", "image_3", "label_2"}
_RAW_SENSOR_DIRS = ("velodyne_points", "oxts", *CAMERAS)


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


def _rig(P: Mapping[str, NDArray[np.float64]], T_rect_velo: Transform, sizes: Mapping[str, tuple[int, int]]) -> Rig:
    # T_ego_rect with the exact matrix inverse: R0_rect is not exactly orthonormal in the files
    T_ego_rect = Transform(_inv(T_rect_velo.matrix))
    cams: dict[str, Camera] = {}
    for name, Pm in P.items():
        w, h = sizes.get(name, DEFAULT_IMAGE_SIZE)
        cams[name] = camera_from_projection(name, Pm.reshape(3, 4), w, h, T_ego_rect)
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


def _parse_oxts_line(line: str, path: Path, where: str) -> NDArray[np.float64]:
    parts = line.split()
    try:
        v = np.array([float(x) for x in parts], dtype=np.float64)
    except ValueError:
        raise CorruptFileError(path, f"{where}: oxts packet is not numeric") from None
    if len(v) != 30:
        raise CorruptFileError(path, f"{where}: oxts packet has {len(v)} values, expected 30")
    return v


def _poses(oxts: list[NDArray[np.float64]], t_ns: NDArray[np.int64], T_velo_imu: Transform, path: Path) -> PoseTrack:
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
    truncated : (N,) float64 (tracking: 0, 1, 2; object: 0..1; -1 for DontCare)
    occluded : (N,) int64, 0 visible .. 3 unknown
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


def format_kitti_tracking_labels(labels: KittiLabels) -> str:
    """KITTI tracking label text, as the devkit writes it: ``%d %d %s %d %d`` then ``%f`` fields.

    ``frame track_id type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y [score]``.
    """
    out = []
    for i in range(len(labels)):
        vals = [labels.alpha[i], *labels.bbox[i], *labels.hwl[i], *labels.xyz[i], labels.rotation_y[i]]
        if labels.score is not None:
            vals.append(labels.score[i])
        out.append(
            f"{int(labels.frame[i])} {int(labels.track_id[i])} {labels.type[i]} "
            f"{round(float(labels.truncated[i]))} {int(labels.occluded[i])} " + " ".join(_f(v) for v in vals)
        )
    return "\n".join(out) + ("\n" if out else "")


def write_kitti_tracking_labels(path: str | Path, labels: KittiLabels) -> None:
    """Write ``labels`` as a KITTI tracking label file (atomically)."""
    atomic_write_text(Path(path), format_kitti_tracking_labels(labels))


def _frame_labels(
    labels: KittiLabels, rows: NDArray[np.int64], T_rect_velo: Transform, ids: NDArray[np.int64], path: Path
) -> FrameLabels:
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
            frames[int(f)] = _frame_labels(labels, rows, T_rect_velo, labels.track_id[rows], path)
        d = np.flatnonzero((labels.frame == f) & dc)
        if len(d):
            dont_care[int(f)] = labels.bbox[d].copy()
    return LabelSet(frames), dont_care


def labelset_to_kitti_labels(
    labels: LabelSet,
    T_rect_velo: Transform,
    dont_care: Mapping[int, NDArray[np.float64]] | None = None,
    camera: Camera | None = None,
) -> KittiLabels:
    """Ego-frame labels -> KITTI tracking rows (inverse of :func:`kitti_labels_to_labelset`).

    ``alpha``, ``truncated``, ``occluded`` and ``bbox_2d`` come from each box's attributes when
    present; otherwise alpha is computed (:func:`~fusionlabel.core.conventions.kitti_alpha`),
    truncated = 0, occluded = 3 (unknown) and the 2D box is the projection into ``camera``
    (``image_02``). Per frame, DontCare rows come first, then boxes in track order.

    Raises
    ------
    ValueError : a box has no ``bbox_2d`` attribute and no ``camera`` is given
    """
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
    for f in sorted(set(labels.frames) | set(dont_care)):
        for bb in dont_care.get(f, np.zeros((0, 4))):
            # the tracking benchmark's DontCare filler (object files use h w l = -1, xyz = -1000, ry = -10)
            add(f, -1, "DontCare", -1, -1, -10.0, bb, [-1000.0] * 3, [-10.0, -1.0, -1.0], -1.0, 1.0)
        fl = labels.get(f)
        if len(fl) == 0:
            continue
        xyz, hwl, ry = boxes_to_kitti_camera(fl.boxes, T_rect_velo)
        alpha = kitti_alpha(xyz, ry)
        proj = project_boxes(fl.boxes, camera, T_cam_velo).bbox if camera is not None else None
        assert fl.attributes is not None and fl.scores is not None
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
                float(a.get("truncated", 0)),
                int(a.get("occluded", 3)),
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
        score=None,
    )


# ============================================================================ shared helpers
def _png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk (24 bytes read), None when not a readable PNG."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", head[16:24])
    return (int(w), int(h)) if w > 0 and h > 0 else None


def _first_png_size(images: Mapping[str, Mapping[int, Path]]) -> tuple[int, int]:
    """Size of the first image of the first camera that has a readable PNG header, else the default."""
    for files in images.values():
        for i in sorted(files)[:1]:
            size = _png_size(files[i])
            if size is not None:
                return size
    return DEFAULT_IMAGE_SIZE


def _indexed_files(folder: Path, suffix: str) -> dict[int, Path]:
    """``{index: path}`` of files named ``<digits><suffix>`` in ``folder`` (empty if absent)."""
    if not folder.is_dir():
        return {}
    out = {}
    for p in folder.iterdir():
        if p.name.endswith(suffix) and p.name[: -len(suffix)].isdigit():
            out[int(p.name[: -len(suffix)])] = p
    return out


@dataclass
class _KittiRecording(Recording):
    """Frames are indexed by KITTI file index; ``timestamps_ns`` holds one time per frame.

    The reference stream may have fewer samples than there are frames (a tracking frame with a
    label but no scan), so the frame times are stored here rather than taken from it.
    """

    _frame_ts: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)

    @property
    def timestamps_ns(self) -> NDArray[np.int64]:
        return self._frame_ts

    def _frame(self, index: int, scan: Path | None, images: Mapping[str, Path], stamps: dict[str, int]) -> Frame:
        from fusionlabel.io.pointcloud import read_point_cloud

        t = int(self._frame_ts[index])
        lidar: dict[str, PointCloud] = {}
        if scan is not None:
            lidar[LIDAR] = read_point_cloud(scan, frame_id=LIDAR, timestamp_ns=stamps.get(LIDAR, t))
        imgs = {n: ImageRef.from_file(p, stamps.get(n, t)) for n, p in images.items()}
        return Frame(index, t, lidar, {}, imgs, self.ego_pose_at(t), stamps)


def _nominal(n: int) -> NDArray[np.int64]:
    return np.arange(n, dtype=np.int64) * NOMINAL_PERIOD_NS


# ============================================================================ raw
@dataclass
class KittiRawRecording(_KittiRecording):
    """A KITTI raw drive folder (see the module docstring)."""

    _indices: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    _scans: dict[int, Path] = field(default_factory=dict, repr=False)
    _images: dict[str, dict[int, Path]] = field(default_factory=dict, repr=False)

    def _load_frame(self, index: int) -> Frame:
        i = int(self._indices[index])
        imgs = {n: files[i] for n, files in self._images.items() if i in files}
        scan = self._scans.get(i)
        present = [*imgs, *([LIDAR] if scan is not None else [])]
        stamps = {n: int(self.streams[n].timestamps_ns[i]) for n in present if n in self.streams}
        return self._frame(index, scan, imgs, stamps)


def _raw_calib_folder(drive: Path) -> Path | None:
    for d in (drive, drive.parent):
        if (d / "calib_cam_to_cam.txt").is_file():
            return d
    return None


def sniff_kitti_raw(path: Path) -> bool:
    """A drive folder: sensor sub-folders (velodyne_points, oxts, image_0x) and the day's calib beside it."""
    path = Path(path)
    return path.is_dir() and any((path / d).is_dir() for d in _RAW_SENSOR_DIRS) and _raw_calib_folder(path) is not None


def open_kitti_raw(path: str | Path) -> KittiRawRecording:
    """Open a KITTI raw drive folder (``<date>/<date>_drive_XXXX_sync``). Reads only the index."""
    drive = Path(path)
    if not drive.is_dir() or not any((drive / d).is_dir() for d in _RAW_SENSOR_DIRS):
        raise UnsupportedFormatError(drive, "not a KITTI raw drive folder (no velodyne_points, oxts or image_0x)")
    problems: list[DataError] = []
    calib_dir = _raw_calib_folder(drive)
    rig = Rig(lidars={LIDAR: Lidar(LIDAR)})
    T_velo_imu: Transform | None = None
    if calib_dir is None:
        problems.append(
            CalibrationError(
                drive.parent / "calib_cam_to_cam.txt", "no KITTI calibration in the drive or its date folder"
            )
        )
    else:
        try:
            rig, T_velo_imu, more = read_kitti_raw_calib(calib_dir)
            problems.extend(more)
        except DataError as exc:
            problems.append(exc)

    def stamps(folder: Path) -> NDArray[np.int64] | None:
        p = folder / "timestamps.txt"
        if not p.is_file():
            return None
        try:
            return read_kitti_timestamps(p)
        except DataError as exc:
            problems.append(exc)
            return None

    scans = _indexed_files(drive / "velodyne_points" / "data", ".bin")
    images = {c: _indexed_files(drive / c / "data", ".png") for c in CAMERAS}
    images = {c: f for c, f in images.items() if f}
    streams: dict[str, Stream] = {}
    sensors: list[tuple[str, str, Path, dict[int, Path]]] = [(LIDAR, "lidar", drive / "velodyne_points", scans)]
    sensors += [(c, "camera", drive / c, images.get(c, {})) for c in CAMERAS]
    for name, kind, folder, files in sensors:
        ts = stamps(folder)
        if ts is None:
            if not files:
                continue
            ts = _nominal(max(files) + 1)
            problems.append(DataError(folder / "timestamps.txt", "missing: using nominal 10 Hz times (index * 100 ms)"))
        elif files and max(files) >= len(ts):
            problems.append(
                CorruptFileError(
                    folder / "timestamps.txt", f"{len(ts)} timestamps but a data file with index {max(files)}"
                )
            )
            start = int(ts[-1]) + NOMINAL_PERIOD_NS if len(ts) else 0
            ts = np.concatenate([ts, start + _nominal(max(files) + 1 - len(ts))])
        streams[name] = Stream(name, kind, ts)  # type: ignore[arg-type]
    if not streams:
        raise UnsupportedFormatError(drive, "KITTI raw drive holds no timestamps and no data files")
    indices = np.array(sorted(set(scans) | {i for f in images.values() for i in f}), dtype=np.int64)
    reference = LIDAR if LIDAR in streams else next(iter(streams))
    # each frame's time: the reference sensor's, else the first stream that has this index
    order = [reference, *[n for n in streams if n != reference]]
    frame_ts = np.array(
        [next(int(streams[n].timestamps_ns[i]) for n in order if i < len(streams[n])) for i in indices], dtype=np.int64
    )
    if len(indices) == 0:
        problems.append(
            DataError(
                drive,
                f"no velodyne_points/data/*.bin or image_0x/data/*.png: metadata only "
                f"({len(streams[reference])} {reference} timestamps), 0 frames",
            )
        )
    poses = None
    oxts_files = _indexed_files(drive / "oxts" / "data", ".txt")
    if oxts_files and T_velo_imu is not None:
        try:
            ots = stamps(drive / "oxts")
            keys = sorted(oxts_files)
            if ots is None or keys[-1] >= len(ots):
                problems.append(
                    DataError(drive / "oxts" / "timestamps.txt", "missing or short: ego poses at nominal 10 Hz")
                )
                ots = _nominal(keys[-1] + 1)
            rows = []
            for k in keys:
                p = oxts_files[k]
                try:
                    rows.append(_parse_oxts_line(p.read_text(encoding="utf-8"), p, "packet"))
                except (OSError, UnicodeDecodeError) as exc:
                    raise CorruptFileError(p, f"cannot read oxts packet: {exc}") from None
            poses = _poses(rows, ots[keys], T_velo_imu, drive / "oxts")
        except DataError as exc:
            problems.append(exc)
    elif not oxts_files:
        problems.append(DataError(drive / "oxts", "no oxts packets: no ego poses"))
    return KittiRawRecording(
        path=drive,
        format="kitti-raw",
        rig=rig,
        streams=streams,
        reference=reference,
        ego_poses=poses,
        problems=problems,
        _frame_ts=np.asarray(frame_ts, dtype=np.int64),
        _indices=indices,
        _scans=scans,
        _images=images,
    )


# ============================================================================ tracking
@dataclass
class KittiTrackingRecording(_KittiRecording):
    """One KITTI tracking sequence. ``dont_care`` maps frame -> (K, 4) DontCare 2D regions."""

    sequence: str = ""
    T_rect_velo: Transform = field(default_factory=Transform.identity)
    _raw_labels: KittiLabels | None = field(default=None, repr=False)
    _labels_path: Path | None = field(default=None, repr=False)
    _scans: dict[int, Path] = field(default_factory=dict, repr=False)
    _images: dict[str, dict[int, Path]] = field(default_factory=dict, repr=False)
    _cache: tuple[LabelSet, dict[int, NDArray[np.float64]]] | None = field(default=None, repr=False)

    def _load_frame(self, index: int) -> Frame:
        imgs = {n: files[index] for n, files in self._images.items() if index in files}
        stamps = {n: int(self._frame_ts[index]) for n in [*imgs, *([LIDAR] if index in self._scans else [])]}
        return self._frame(index, self._scans.get(index), imgs, stamps)

    def _converted(self) -> tuple[LabelSet, dict[int, NDArray[np.float64]]] | None:
        if self._raw_labels is None or self._labels_path is None:
            return None
        if self._cache is None:
            self._cache = kitti_labels_to_labelset(self._raw_labels, self.T_rect_velo, self._labels_path)
        return self._cache

    def labels(self) -> LabelSet | None:
        c = self._converted()
        return None if c is None else c[0]

    @property
    def dont_care(self) -> dict[int, NDArray[np.float64]]:
        c = self._converted()
        return {} if c is None else c[1]

    @property
    def kitti_labels(self) -> KittiLabels | None:
        """The label file's rows as read (camera frame), or None without a label file."""
        return self._raw_labels


def _tracking_sequences(root: Path) -> list[str]:
    seqs: set[str] = set()
    for d in ("label_02", "oxts"):
        if (root / d).is_dir():
            seqs |= {p.stem for p in (root / d).glob("*.txt")}
    for d in ("image_02", "image_03", "velodyne"):
        if (root / d).is_dir():
            seqs |= {p.name for p in (root / d).iterdir() if p.is_dir()}
    return sorted(seqs)


def _resolve_tracking(path: Path) -> tuple[Path, str | None]:
    """(training root, sequence name or None for the root itself)."""
    if path.is_file() and path.suffix == ".txt" and path.parent.name in _TRACKING_DIRS:
        return path.parent.parent, path.stem
    if path.is_dir() and path.parent.name in _TRACKING_DIRS - {"calib", "label_02", "oxts"}:
        return path.parent.parent, path.name
    return path, None


def sniff_kitti_tracking(path: Path) -> bool:
    """``training``, ``training/{image_02,velodyne}/<seq>`` or ``training/{label_02,calib,oxts}/<seq>.txt``."""
    root, seq = _resolve_tracking(Path(path))
    if not (root / "calib").is_dir():
        return False
    if seq is not None:
        return (root / "calib" / f"{seq}.txt").is_file() and (
            (root / "label_02" / f"{seq}.txt").is_file()
            or (root / "oxts" / f"{seq}.txt").is_file()
            or any((root / d / seq).is_dir() for d in ("image_02", "image_03", "velodyne"))
        )
    if (root / "label_02").is_dir() or (root / "image_02").is_dir():
        return True
    velo = root / "velodyne"
    return velo.is_dir() and any(p.is_dir() for p in velo.iterdir())


def open_kitti_tracking(path: str | Path) -> KittiTrackingRecording:
    """Open one KITTI tracking sequence (see the module docstring for the accepted paths).

    Raises
    ------
    UnsupportedFormatError : ``training`` holds several sequences (the message lists them) or none
    CalibrationError : the sequence's calibration is missing or lacks a key
    """
    path = Path(path)
    root, seq = _resolve_tracking(path)
    if seq is None:
        seqs = _tracking_sequences(root)
        if not seqs:
            raise UnsupportedFormatError(
                path, "no KITTI tracking sequence here (no label_02/*.txt, image_02/*/ or velodyne/*/)"
            )
        if len(seqs) > 1:
            raise UnsupportedFormatError(
                path,
                f"{len(seqs)} KITTI tracking sequences here ({', '.join(seqs)}); open one of them, "
                f"e.g. {root / 'label_02' / (seqs[0] + '.txt')} or {root / 'image_02' / seqs[0]}",
            )
        seq = seqs[0]
    calib_path = root / "calib" / f"{seq}.txt"
    if not calib_path.is_file():
        raise CalibrationError(calib_path, f"calibration of sequence {seq} is missing")
    calib = read_kitti_calib(calib_path)
    scans = _indexed_files(root / "velodyne" / seq, ".bin")
    images = {c: _indexed_files(root / c / seq, ".png") for c in ("image_02", "image_03")}
    images = {c: f for c, f in images.items() if f}
    size = _first_png_size(images)
    rig = rig_from_kitti_calib(calib, calib_path, size)
    T_rect_velo = kitti_T_rect_velo(calib, calib_path)
    labels_path = root / "label_02" / f"{seq}.txt"
    raw = read_kitti_labels(labels_path) if labels_path.is_file() else None
    if raw is not None and raw.kind != "tracking":
        raise CorruptFileError(labels_path, "object-style labels (15 fields) in a tracking label_02 file")
    last = max(
        [
            -1,
            *scans,
            *[i for f in images.values() for i in f],
            *([int(raw.frame.max())] if raw is not None and len(raw) else []),
        ]
    )
    problems: list[DataError] = []
    oxts_path = root / "oxts" / f"{seq}.txt"
    poses = None
    if oxts_path.is_file():
        try:
            T_velo_imu = kitti_T_velo_imu(calib, calib_path)
            lines = [ln for ln in oxts_path.read_text(encoding="utf-8").splitlines() if ln.strip()]
            rows = [_parse_oxts_line(ln, oxts_path, f"line {k + 1}") for k, ln in enumerate(lines)]
            if rows:
                poses = _poses(rows, _nominal(len(rows)), T_velo_imu, oxts_path)
                last = max(last, len(rows) - 1)
        except DataError as exc:
            problems.append(exc)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(CorruptFileError(oxts_path, f"cannot read oxts: {exc}"))
    if last < 0:
        raise UnsupportedFormatError(path, f"KITTI tracking sequence {seq} has no labels, velodyne scans or images")
    frame_ts = _nominal(last + 1)
    streams: dict[str, Stream] = {}
    if scans:
        streams[LIDAR] = Stream(LIDAR, "lidar", frame_ts[sorted(scans)])
    for c, f in images.items():
        streams[c] = Stream(c, "camera", frame_ts[sorted(f)])
    if not streams:  # labels only: a LiDAR stream with no samples keeps the reference defined
        streams[LIDAR] = Stream(LIDAR, "lidar", np.zeros(0, np.int64))
    return KittiTrackingRecording(
        path=path,
        format="kitti-tracking",
        rig=rig,
        streams=streams,
        reference=LIDAR if LIDAR in streams else next(iter(streams)),
        ego_poses=poses,
        problems=problems,
        _frame_ts=frame_ts,
        sequence=seq,
        T_rect_velo=T_rect_velo,
        _raw_labels=raw,
        _labels_path=labels_path if raw is not None else None,
        _scans=scans,
        _images=images,
    )


# ============================================================================ object
@dataclass
class KittiObjectRecording(_KittiRecording):
    """KITTI object frames; frame ``k`` is file index ``file_indices[k]``."""

    file_indices: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    _root: Path = field(default_factory=Path, repr=False)
    _rigs: dict[int, tuple[Rig, Transform]] = field(default_factory=dict, repr=False)
    _cache: tuple[LabelSet, dict[int, NDArray[np.float64]]] | None = field(default=None, repr=False)

    def _file(self, sub: str, index: int, suffix: str) -> Path:
        return self._root / sub / f"{int(self.file_indices[index]):06d}{suffix}"

    def _calib(self, index: int) -> tuple[Rig, Transform]:
        if index not in self._rigs:
            p = self._file("calib", index, ".txt")
            if not p.is_file():
                raise CalibrationError(p, "calibration of this frame is missing")
            calib = read_kitti_calib(p)
            size = _png_size(self._file("image_2", index, ".png")) or DEFAULT_IMAGE_SIZE
            self._rigs[index] = (rig_from_kitti_calib(calib, p, size), kitti_T_rect_velo(calib, p))
        return self._rigs[index]

    def rig_at(self, index: int) -> Rig:
        """The rig of frame ``index`` (object frames come from different days and cameras)."""
        return self._calib(index)[0]

    def T_rect_velo_at(self, index: int) -> Transform:
        return self._calib(index)[1]

    def _load_frame(self, index: int) -> Frame:
        scan = self._file("velodyne", index, ".bin")
        imgs = {
            c: p
            for c, sub in (("image_02", "image_2"), ("image_03", "image_3"))
            if (p := self._file(sub, index, ".png")).is_file()
        }
        t = int(self._frame_ts[index])
        stamps = {n: t for n in [*imgs, *([LIDAR] if scan.is_file() else [])]}
        return self._frame(index, scan if scan.is_file() else None, imgs, stamps)

    def _converted(self) -> tuple[LabelSet, dict[int, NDArray[np.float64]]]:
        if self._cache is None:
            frames: dict[int, FrameLabels] = {}
            dont_care: dict[int, NDArray[np.float64]] = {}
            next_id = 0
            for k in range(len(self)):
                p = self._file("label_2", k, ".txt")
                if not p.is_file():
                    continue
                rows = read_kitti_labels(p)
                keep = np.flatnonzero(~rows.dont_care)
                if len(keep):
                    ids = np.arange(next_id, next_id + len(keep), dtype=np.int64)
                    next_id += len(keep)
                    frames[k] = _frame_labels(rows, keep, self.T_rect_velo_at(k), ids, p)
                if rows.dont_care.any():
                    dont_care[k] = rows.bbox[rows.dont_care].copy()
            self._cache = (LabelSet(frames), dont_care)
        return self._cache

    def labels(self) -> LabelSet | None:
        if not (self._root / "label_2").is_dir():
            return None
        return self._converted()[0]

    @property
    def dont_care(self) -> dict[int, NDArray[np.float64]]:
        return self._converted()[1] if (self._root / "label_2").is_dir() else {}


def _object_root(path: Path) -> Path:
    return path.parent if path.is_dir() and path.name in _OBJECT_DIRS else path


def sniff_kitti_object(path: Path) -> bool:
    """``training`` (or one of its sub-folders) with ``calib/`` and ``image_2/``, ``label_2/`` or ``velodyne/*.bin``."""
    root = _object_root(Path(path))
    if not root.is_dir() or not (root / "calib").is_dir():
        return False
    return (root / "image_2").is_dir() or (root / "label_2").is_dir() or any((root / "velodyne").glob("*.bin"))


def open_kitti_object(path: str | Path) -> KittiObjectRecording:
    """Open a KITTI object ``training`` (or ``testing``) folder. Reads the index and frame 0's calibration."""
    path = Path(path)
    root = _object_root(path)
    idx: set[int] = set()
    for sub, suffix in (("velodyne", ".bin"), ("image_2", ".png"), ("label_2", ".txt")):
        idx |= set(_indexed_files(root / sub, suffix))
    if not idx:
        raise UnsupportedFormatError(path, "no KITTI object frames (velodyne/*.bin, image_2/*.png or label_2/*.txt)")
    indices = np.array(sorted(idx), dtype=np.int64)
    frame_ts = _nominal(len(indices))
    streams: dict[str, Stream] = {}
    for name, kind, sub, suffix in (
        (LIDAR, "lidar", "velodyne", ".bin"),
        ("image_02", "camera", "image_2", ".png"),
        ("image_03", "camera", "image_3", ".png"),
    ):
        have = np.array([(root / sub / f"{i:06d}{suffix}").is_file() for i in indices], dtype=bool)
        if have.any():
            streams[name] = Stream(name, kind, frame_ts[have])  # type: ignore[arg-type]
    if not streams:
        streams[LIDAR] = Stream(LIDAR, "lidar", np.zeros(0, np.int64))
    rec = KittiObjectRecording(
        path=root,
        format="kitti-object",
        rig=Rig(lidars={LIDAR: Lidar(LIDAR)}),
        streams=streams,
        reference=LIDAR if LIDAR in streams else next(iter(streams)),
        _frame_ts=frame_ts,
        file_indices=indices,
        _root=root,
    )
    rec.rig = rec.rig_at(0)
    return rec
