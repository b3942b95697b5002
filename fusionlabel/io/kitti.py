"""KITTI readers: raw drives, tracking sequences and object frames.

In every KITTI recording the **ego frame is the Velodyne frame** (x forward, y left, z up): the
LiDAR is the sensor ``"velodyne"`` with ``T_ego_lidar = I``, and the cameras ``image_00`` ..
``image_03`` are the *rectified* cameras placed by the calibration chain documented in
:mod:`fusionlabel.io.kitti_files`. That module reads and writes the single files (calibration,
timestamps, oxts packets, label rows and the tracking label writer); its public names are
re-exported here. Labels (tracking, object) are boxes in the rectified camera-0 frame, converted
to ego-frame :class:`~fusionlabel.core.boxes.Boxes` (see ``docs/conventions.md``).

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
Rectified image sizes come from ``S_rect_0x`` (raw) or the first PNG header found
(tracking/object), else KITTI's usual 1242 x 375.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Lidar, Rig
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import Frame, ImageRef, PointCloud
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import Recording, Stream
from fusionlabel.core.transforms import Transform
from fusionlabel.io.kitti_files import (
    CAMERAS,
    DEFAULT_IMAGE_SIZE,
    EARTH_RADIUS_M,
    KEY_ALIASES,
    LIDAR,
    OBJECT_FIELDS,
    TRACKING_FIELDS,
    KittiLabels,
    format_kitti_tracking_labels,
    frame_labels_from_kitti,
    kitti_camera,
    kitti_labels_to_labelset,
    kitti_T_rect_velo,
    kitti_T_velo_imu,
    labelset_to_kitti_labels,
    oxts_pose_track,
    oxts_to_poses,
    parse_kitti_timestamp,
    parse_oxts_packet,
    read_kitti_calib,
    read_kitti_labels,
    read_kitti_raw_calib,
    read_kitti_timestamps,
    rig_from_kitti_calib,
    write_kitti_tracking_labels,
)

# the recordings are defined here; the single-file readers and writers come from kitti_files
__all__ = [
    "CAMERAS",
    "DEFAULT_IMAGE_SIZE",
    "EARTH_RADIUS_M",
    "KEY_ALIASES",
    "LIDAR",
    "NOMINAL_PERIOD_NS",
    "OBJECT_FIELDS",
    "TRACKING_FIELDS",
    "KittiLabels",
    "KittiObjectRecording",
    "KittiRawRecording",
    "KittiTrackingRecording",
    "format_kitti_tracking_labels",
    "frame_labels_from_kitti",
    "kitti_camera",
    "kitti_T_rect_velo",
    "kitti_T_velo_imu",
    "kitti_labels_to_labelset",
    "labelset_to_kitti_labels",
    "open_kitti_object",
    "open_kitti_raw",
    "open_kitti_tracking",
    "oxts_pose_track",
    "oxts_to_poses",
    "parse_kitti_timestamp",
    "parse_oxts_packet",
    "read_kitti_calib",
    "read_kitti_labels",
    "read_kitti_raw_calib",
    "read_kitti_timestamps",
    "rig_from_kitti_calib",
    "sniff_kitti_object",
    "sniff_kitti_raw",
    "sniff_kitti_tracking",
    "write_kitti_tracking_labels",
]

NOMINAL_PERIOD_NS = 100_000_000  # KITTI's Velodyne spins at 10 Hz

_TRACKING_DIRS = {"label_02", "image_02", "image_03", "velodyne", "calib", "oxts"}
_OBJECT_DIRS = {"calib", "velodyne", "image_2", "image_3", "label_2"}
_RAW_SENSOR_DIRS = ("velodyne_points", "oxts", *CAMERAS)


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
                    rows.append(parse_oxts_packet(p.read_text(encoding="utf-8"), p, "packet"))
                except (OSError, UnicodeDecodeError) as exc:
                    raise CorruptFileError(p, f"cannot read oxts packet: {exc}") from None
            poses = oxts_pose_track(rows, ots[keys], T_velo_imu, drive / "oxts")
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
            rows = [parse_oxts_packet(ln, oxts_path, f"line {k + 1}") for k, ln in enumerate(lines)]
            if rows:
                poses = oxts_pose_track(rows, _nominal(len(rows)), T_velo_imu, oxts_path)
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
                    frames[k] = frame_labels_from_kitti(rows, keep, self.T_rect_velo_at(k), ids, p)
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
