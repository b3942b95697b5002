"""KITTI object frames (``training/{calib,velodyne,image_2,label_2}/<index>``) as a recording.

Layout (``open_kitti_object``)::

    training/{calib/000001.txt, velodyne/000001.bin, image_2/000001.png, label_2/000001.txt}

Each file index is one frame, in index order, with nominal times (index position * 100 ms;
object frames are not a sequence). Calibration differs between object frames: ``rig`` is the
first frame's, :meth:`KittiObjectRecording.rig_at` gives each frame's, and each frame's labels
are converted with its own calibration. Objects carry no track ids: every box gets a unique id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Lidar, Rig
from fusionlabel.core.errors import CalibrationError, UnsupportedFormatError
from fusionlabel.core.frames import Frame
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import Stream
from fusionlabel.core.transforms import Transform
from fusionlabel.io.kitti_calib import (
    DEFAULT_IMAGE_SIZE,
    LIDAR,
    kitti_T_rect_velo,
    read_kitti_calib,
    rig_from_kitti_calib,
)
from fusionlabel.io.kitti_labels import frame_labels_from_kitti, read_kitti_labels
from fusionlabel.io.kitti_recording import _indexed_files, _KittiRecording, _nominal, _png_size

_OBJECT_DIRS = {"calib", "velodyne", "image_2", "image_3", "label_2"}


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
        stamps = dict.fromkeys([*imgs, *([LIDAR] if scan.is_file() else [])], t)
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

    @property
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
