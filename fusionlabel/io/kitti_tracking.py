"""KITTI tracking sequences (``training/{calib,label_02,image_02,velodyne,oxts}/<seq>``) as recordings.

Layout (``open_kitti_tracking``)::

    training/calib/0001.txt  label_02/0001.txt  image_02/0001/000000.png
    training/velodyne/0001/000000.bin (optional)  oxts/0001.txt (optional)

Pass ``training/image_02/0001``, ``training/velodyne/0001``, ``training/label_02/0001.txt`` (or
``calib/0001.txt``, ``oxts/0001.txt``) or ``training`` when it holds exactly one sequence.
Frames ``0 .. max`` over label frames and file indices; timestamps are nominal 10 Hz
(index * 100 ms: the tracking benchmark ships none). A frame without an image or scan simply
has no such entry.

Label rows: :mod:`fusionlabel.io.kitti_labels`; calibration: :mod:`fusionlabel.io.kitti_calib`;
oxts: :mod:`fusionlabel.io.kitti_oxts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import Frame
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Stream
from fusionlabel.core.transforms import Transform
from fusionlabel.io.kitti_calib import (
    LIDAR,
    kitti_T_rect_velo,
    kitti_T_velo_imu,
    read_kitti_calib,
    rig_from_kitti_calib,
)
from fusionlabel.io.kitti_labels import KittiLabels, kitti_labels_to_labelset, read_kitti_labels
from fusionlabel.io.kitti_oxts import oxts_pose_track, parse_oxts_packet
from fusionlabel.io.kitti_recording import _first_png_size, _indexed_files, _KittiRecording, _nominal

_TRACKING_DIRS = {"label_02", "image_02", "image_03", "velodyne", "calib", "oxts"}


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

    @property
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


#: KITTI names its files with 6 digits: no frame number reaches this
MAX_FRAMES = 1_000_000


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
    if last >= MAX_FRAMES:  # a frame number no sequence has (6-digit file names): not a length to allocate
        raise CorruptFileError(labels_path, f"frame {last} is beyond any KITTI sequence (at most {MAX_FRAMES - 1})")
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
