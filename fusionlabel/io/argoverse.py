"""Argoverse 2 sensor-dataset logs.

Layout of one log (``<split>/<log_id>/``)::

    annotations.feather                  cuboids: timestamp_ns, track_uuid, category,
                                         length_m, width_m, height_m, qw qx qy qz, tx_m ty_m tz_m
                                         (ego frame at timestamp_ns), num_interior_pts
    city_SE3_egovehicle.feather          ego poses T_city_ego: timestamp_ns, qw..qz, tx_m..tz_m
    calibration/egovehicle_SE3_sensor.feather   T_ego_sensor per sensor_name (qw..qz, tx_m..tz_m)
    calibration/intrinsics.feather       per camera: fx_px fy_px cx_px cy_px k1 k2 k3 width_px height_px
    sensors/lidar/<t_ns>.feather         one sweep: x y z (float16, metres) intensity laser_number offset_ns
    sensors/cameras/<camera>/<t_ns>.jpg  images (optional here: the shared sample has none)

Conventions
-----------
* **LiDAR points are already in the ego frame** (AV2 merges its two stacked LiDARs, ``up_lidar``
  and ``down_lidar``, into one ego-frame sweep). The reader exposes one stream ``"lidar"`` and a
  :class:`Lidar` ``"lidar"`` at the identity, so ``rig.T_ego_sensor(cloud.frame_id)`` is correct;
  the two physical LiDARs' extrinsics are listed in the rig as well. Per-point fields:
  ``intensity`` (float32, 0..255), ``ring`` (uint16, the ``laser_number``: 0-31 up, 32-63 down)
  and ``time`` (float64 seconds after the sweep timestamp, from ``offset_ns``).
* Cameras: ``egovehicle_SE3_sensor`` maps the camera's OpenCV optical frame (x right, y down,
  z forward) to the ego frame (``ring_front_center`` has ``q ~ (0.5, -0.5, 0.5, -0.5)``, the
  optical -> x-forward rotation), as the av2 API's ``PinholeCamera`` uses it. Distortion is
  radial only: ``D = (k1, k2, 0, 0, k3)`` in OpenCV order.
* Frames are the sweeps present on disk; a camera stream exists only where image files exist.
* Labels: the cuboids whose ``timestamp_ns`` equals a sweep's timestamp (AV2 annotates at the
  sweep times), gravity centre, ``(l, w, h)``, heading of the quaternion. Track ids are
  ``1, 2, ...`` in order of first appearance (timestamp, then uuid) over the whole annotation
  file, so they do not depend on which sweeps are present; the uuid is kept in
  ``attributes["track_uuid"]``, AV2's category in ``attributes["source_category"]``.
  Annotated timestamps without a sweep are reported in ``problems``.

Example
-------
>>> rec = open_argoverse2("sensor/val/7fab2350-7eaf-3b7e-a39d-6937a4c1bede")   # doctest: +SKIP
>>> len(rec), rec.reference, len(rec.labels.get(0))                          # doctest: +SKIP
(2, 'lidar', 74)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera, Lidar, Rig
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import Frame, ImageRef, PointCloud
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import DEFAULT_TOLERANCE_NS, Recording, Stream
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform

LIDAR = "lidar"
POSE_COLUMNS = ("qw", "qx", "qy", "qz", "tx_m", "ty_m", "tz_m")
SWEEP_COLUMNS = ("x", "y", "z", "intensity", "laser_number", "offset_ns")
INTRINSIC_COLUMNS = ("sensor_name", "fx_px", "fy_px", "cx_px", "cy_px", "k1", "k2", "k3", "height_px", "width_px")
ANNOTATION_COLUMNS = ("timestamp_ns", "track_uuid", "category", "length_m", "width_m", "height_m", *POSE_COLUMNS)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

#: AV2 category -> canonical name; unmapped categories pass through
CATEGORY_MAP: dict[str, str] = {
    "REGULAR_VEHICLE": "Car",
    "LARGE_VEHICLE": "Truck",
    "BOX_TRUCK": "Truck",
    "TRUCK": "Truck",
    "TRUCK_CAB": "Truck",
    "BUS": "Bus",
    "SCHOOL_BUS": "Bus",
    "ARTICULATED_BUS": "Bus",
    "VEHICULAR_TRAILER": "Misc",
    "RAILED_VEHICLE": "Tram",
    "PEDESTRIAN": "Pedestrian",
    "OFFICIAL_SIGNALER": "Pedestrian",
    "BICYCLE": "Cyclist",
    "BICYCLIST": "Cyclist",
    "MOTORCYCLE": "Motorcycle",
    "MOTORCYCLIST": "Motorcycle",
}


def _read_feather(path: Path, columns: Sequence[str]) -> Any:
    """A pyarrow Table with ``columns``; typed errors naming the file."""
    import pyarrow as pa
    from pyarrow import feather

    if not path.is_file():
        raise DataError(path, "file is missing")
    try:
        table = feather.read_table(path)
        table.validate(full=True)  # offsets and lengths inside the buffers: a flipped byte decodes to garbage otherwise
    except (OSError, pa.ArrowException) as exc:
        raise CorruptFileError(path, f"not a readable Feather/Arrow file: {exc}") from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise CorruptFileError(path, f"missing column(s) {', '.join(missing)} (have: {', '.join(table.column_names)})")
    return table


def _col(table: Any, name: str, dtype: Any, path: Path) -> NDArray[Any]:
    try:
        a = table.column(name).to_numpy()
        out = np.asarray(a, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise CorruptFileError(path, f"column {name}: {exc}") from None
    if out.dtype.kind == "f" and not np.all(np.isfinite(out)):
        raise CorruptFileError(path, f"column {name} contains NaN or infinity")
    return out


def _poses(table: Any, path: Path) -> list[Transform]:
    q = np.stack([_col(table, c, np.float64, path) for c in POSE_COLUMNS[:4]], axis=1)
    t = np.stack([_col(table, c, np.float64, path) for c in POSE_COLUMNS[4:]], axis=1)
    norms = np.linalg.norm(q, axis=1)
    bad = np.flatnonzero(np.abs(norms - 1.0) > 1e-3)
    if len(bad):
        raise CorruptFileError(path, f"row {int(bad[0])}: quaternion is not unit (|q| = {norms[bad[0]]:.4f})")
    return [Transform.from_quaternion(q[i], t[i]) for i in range(len(q))]


def read_sweep(path: str | Path, frame_id: str = LIDAR, timestamp_ns: int | None = None) -> PointCloud:
    """Read one AV2 LiDAR sweep (``sensors/lidar/<t_ns>.feather``), points in the ego frame.

    Returns
    -------
    PointCloud: ``xyz`` (N, 3) float32 metres, ego frame; ``intensity`` float32 0..255;
    ``ring`` uint16 (laser_number); ``time`` float64 seconds after ``timestamp_ns``.
    """
    path = Path(path)
    table = _read_feather(path, SWEEP_COLUMNS)
    xyz = np.stack([_col(table, c, np.float32, path) for c in ("x", "y", "z")], axis=1)
    fields = {
        "intensity": _col(table, "intensity", np.float32, path),
        "ring": _col(table, "laser_number", np.uint16, path),
        "time": _col(table, "offset_ns", np.float64, path) * 1e-9,
    }
    return PointCloud(xyz, fields, frame_id, timestamp_ns)


def sniff_argoverse2(path: Path) -> bool:
    """True for an AV2 log folder: ``calibration/egovehicle_SE3_sensor.feather`` plus sweeps or poses."""
    path = Path(path)
    return (
        path.is_dir()
        and (path / "calibration" / "egovehicle_SE3_sensor.feather").is_file()
        and ((path / "sensors" / "lidar").is_dir() or (path / "city_SE3_egovehicle.feather").is_file())
    )


sniff = sniff_argoverse2


def _stamped_files(
    folder: Path, suffixes: tuple[str, ...], problems: list[DataError]
) -> tuple[NDArray[np.int64], list[Path]]:
    """Files named ``<t_ns><suffix>`` sorted by time; other names are reported, not guessed."""
    found: list[tuple[int, Path]] = []
    for p in folder.iterdir() if folder.is_dir() else []:
        if not p.is_file() or p.suffix.lower() not in suffixes:
            continue
        if not p.stem.isdigit():
            problems.append(DataError(p, "file name is not a nanosecond timestamp; skipped"))
            continue
        found.append((int(p.stem), p))
    found.sort()
    return np.array([t for t, _ in found], dtype=np.int64), [p for _, p in found]


def _read_rig(root: Path, problems: list[DataError]) -> Rig:
    ext_path = root / "calibration" / "egovehicle_SE3_sensor.feather"
    ext = _read_feather(ext_path, ("sensor_name", *POSE_COLUMNS))
    names = [str(n) for n in ext.column("sensor_name").to_pylist()]
    T_ego = dict(zip(names, _poses(ext, ext_path)))
    lidars = {LIDAR: Lidar(LIDAR, Transform.identity())}
    for n in names:
        if n.endswith("lidar"):
            lidars[n] = Lidar(n, T_ego[n])
    cameras: dict[str, Camera] = {}
    int_path = root / "calibration" / "intrinsics.feather"
    try:
        intr = _read_feather(int_path, INTRINSIC_COLUMNS)
    except DataError as exc:
        problems.append(CalibrationError(exc.path, exc.reason))
        return Rig(cameras, lidars, {})
    cam_names = [str(n) for n in intr.column("sensor_name").to_pylist()]
    cols = {c: _col(intr, c, np.float64, int_path) for c in INTRINSIC_COLUMNS[1:]}
    for i, n in enumerate(cam_names):
        if n not in T_ego:
            problems.append(
                CalibrationError(ext_path, f"camera {n} has intrinsics but no extrinsic; left out of the rig")
            )
            continue
        K = np.array(
            [[cols["fx_px"][i], 0.0, cols["cx_px"][i]], [0.0, cols["fy_px"][i], cols["cy_px"][i]], [0.0, 0.0, 1.0]]
        )
        D = np.array([cols["k1"][i], cols["k2"][i], 0.0, 0.0, cols["k3"][i]])
        try:
            cameras[n] = Camera(
                n, K=K, width=int(cols["width_px"][i]), height=int(cols["height_px"][i]), T_ego_cam=T_ego[n], D=D
            )
        except ValueError as exc:
            raise CalibrationError(int_path, f"camera {n}: {exc}") from None
    return Rig(cameras, lidars, {})


@dataclass
class Argoverse2Recording(Recording):
    """An AV2 sensor log (see the module docstring). ``files``: stream -> paths aligned with its timestamps."""

    files: dict[str, list[Path]] = field(default_factory=dict, repr=False)
    _annotations: Path | None = field(default=None, repr=False)
    _labels_cache: LabelSet | None = field(default=None, init=False, repr=False)

    def _load_frame(self, index: int) -> Frame:
        t_ref = int(self.timestamps_ns[index])
        lidar = {LIDAR: read_sweep(self.files[LIDAR][index], LIDAR, t_ref)}
        images: dict[str, ImageRef] = {}
        stamps = {LIDAR: t_ref}
        for name, _s, i, t in self.matched_samples(index):
            if name != LIDAR:
                images[name] = ImageRef.from_file(self.files[name][i], t)
                stamps[name] = t
        return Frame(index, t_ref, lidar, {}, images, self.ego_pose_at(t_ref), stamps)

    @property
    def labels(self) -> LabelSet | None:
        if self._annotations is None:
            return None
        if self._labels_cache is None:
            self._labels_cache = read_annotations(self._annotations, self.timestamps_ns)
        return self._labels_cache


def read_annotations(path: str | Path, sweep_timestamps_ns: NDArray[np.int64]) -> LabelSet:
    """``annotations.feather`` -> LabelSet keyed by the index of the sweep with the same timestamp.

    Track ids: ``1, 2, ...`` by first appearance (timestamp, then uuid) over the whole file.
    """
    path = Path(path)
    table = _read_feather(path, ANNOTATION_COLUMNS)
    t = _col(table, "timestamp_ns", np.int64, path)
    uuids = [str(u) for u in table.column("track_uuid").to_pylist()]
    cats = [str(c) for c in table.column("category").to_pylist()]
    lwh = np.stack([_col(table, c, np.float64, path) for c in ("length_m", "width_m", "height_m")], axis=1)
    q = np.stack([_col(table, c, np.float64, path) for c in POSE_COLUMNS[:4]], axis=1)
    c = np.stack([_col(table, c, np.float64, path) for c in POSE_COLUMNS[4:]], axis=1)
    npts = (
        _col(table, "num_interior_pts", np.int64, path)
        if "num_interior_pts" in table.column_names
        else np.full(len(t), -1)
    )
    if np.any(lwh <= 0):
        raise CorruptFileError(
            path, f"row {int(np.flatnonzero(np.any(lwh <= 0, axis=1))[0])}: box size is not positive"
        )
    norms = np.linalg.norm(q, axis=1)
    if np.any(np.abs(norms - 1.0) > 1e-3):
        raise CorruptFileError(
            path, f"row {int(np.flatnonzero(np.abs(norms - 1.0) > 1e-3)[0])}: quaternion is not unit"
        )
    first: dict[str, tuple[int, str]] = {}
    for ti, u in zip(t.tolist(), uuids):
        if u not in first or (ti, u) < first[u]:
            first[u] = (ti, u)
    ids = {u: i + 1 for i, u in enumerate(sorted(first, key=lambda k: first[k]))}
    frame_of = {int(ts): i for i, ts in enumerate(np.asarray(sweep_timestamps_ns).tolist())}
    rows_by_frame: dict[int, list[int]] = {}
    for r, ti in enumerate(t.tolist()):
        f = frame_of.get(ti)
        if f is not None:
            rows_by_frame.setdefault(f, []).append(r)
    frames: dict[int, FrameLabels] = {}
    for f, rows in rows_by_frame.items():
        rows.sort(key=lambda r: ids[uuids[r]])
        idx = np.array(rows)
        boxes = Boxes.from_quaternions(c[idx], lwh[idx], q[idx])
        try:
            frames[f] = FrameLabels(
                np.array([ids[uuids[r]] for r in rows], dtype=np.int64),
                tuple(CATEGORY_MAP.get(cats[r], cats[r]) for r in rows),
                boxes,
                None,
                tuple(
                    {"source_category": cats[r], "track_uuid": uuids[r], "num_interior_pts": int(npts[r])} for r in rows
                ),
            )
        except ValueError as exc:
            raise CorruptFileError(path, f"timestamp {int(t[rows[0]])}: {exc}") from None
    return LabelSet(frames)


def open_argoverse2(path: str | Path) -> Argoverse2Recording:
    """Open an AV2 sensor log folder. Reads calibration, poses and file names; sweeps load per frame.

    Raises
    ------
    UnsupportedFormatError : not an AV2 log folder
    DataError : no sweeps; a calibration/pose table missing or malformed (names the file)
    """
    root = Path(path)
    if not sniff_argoverse2(root):
        raise UnsupportedFormatError(
            root, "not an Argoverse 2 log (needs calibration/egovehicle_SE3_sensor.feather and sensors/lidar)"
        )
    problems: list[DataError] = []
    rig = _read_rig(root, problems)
    t_lidar, lidar_files = _stamped_files(root / "sensors" / "lidar", (".feather",), problems)
    if len(t_lidar) == 0:
        raise DataError(root / "sensors" / "lidar", "no LiDAR sweeps (<t_ns>.feather) in this log")
    streams: dict[str, Stream] = {LIDAR: Stream(LIDAR, "lidar", t_lidar)}
    files: dict[str, list[Path]] = {LIDAR: lidar_files}
    cam_root = root / "sensors" / "cameras"
    for cam in sorted(rig.cameras):
        t_cam, cam_files = _stamped_files(cam_root / cam, IMAGE_SUFFIXES, problems)
        if len(t_cam):
            streams[cam] = Stream(cam, "camera", t_cam)
            files[cam] = cam_files
    if cam_root.is_dir():
        for d in sorted(cam_root.iterdir()):
            if d.is_dir() and d.name not in rig.cameras:
                problems.append(
                    CalibrationError(
                        root / "calibration" / "intrinsics.feather", f"images of {d.name} but no calibration; not shown"
                    )
                )

    poses: PoseTrack | None = None
    pose_path = root / "city_SE3_egovehicle.feather"
    try:
        tab = _read_feather(pose_path, ("timestamp_ns", *POSE_COLUMNS))
        tp = _col(tab, "timestamp_ns", np.int64, pose_path)
        poses = PoseTrack(tp, tuple(_poses(tab, pose_path)))
    except DataError as exc:
        problems.append(exc)
    except ValueError as exc:
        problems.append(CorruptFileError(pose_path, str(exc)))

    ann = root / "annotations.feather"
    annotations = ann if ann.is_file() else None
    if annotations is not None:
        try:
            ta = np.unique(_col(_read_feather(ann, ("timestamp_ns",)), "timestamp_ns", np.int64, ann))
        except DataError as exc:
            problems.append(exc)
            annotations = None
        else:
            orphans = int(np.count_nonzero(~np.isin(ta, t_lidar)))
            if orphans:
                problems.append(
                    DataError(
                        ann,
                        f"{orphans} of {len(ta)} annotated timestamps have no LiDAR sweep on disk; their labels are not shown",
                    )
                )
    return Argoverse2Recording(
        path=root,
        format="argoverse2",
        rig=rig,
        streams=streams,
        reference=LIDAR,
        tolerance_ns=DEFAULT_TOLERANCE_NS,
        ego_poses=poses,
        problems=problems,
        files=files,
        _annotations=annotations,
    )
