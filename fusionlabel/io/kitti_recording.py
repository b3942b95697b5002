"""What the three KITTI recordings share: frames by KITTI file index, nominal 10 Hz times, file lookup.

The raw (:mod:`fusionlabel.io.kitti_raw`), tracking (:mod:`fusionlabel.io.kitti_tracking`) and
object (:mod:`fusionlabel.io.kitti_object`) recordings index their frames by KITTI file index
(``0000000000.bin``, ``000000.png`` ...); where KITTI ships no times a frame is ``index * 100 ms``
(:data:`NOMINAL_PERIOD_NS`). Rectified image sizes come from ``S_rect_0x`` (raw) or the first
PNG header found (tracking/object, :func:`_first_png_size`), else KITTI's usual 1242 x 375.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.frames import Frame, ImageRef, PointCloud
from fusionlabel.core.recording import Recording
from fusionlabel.io.kitti_calib import DEFAULT_IMAGE_SIZE, LIDAR

NOMINAL_PERIOD_NS = 100_000_000  # KITTI's Velodyne spins at 10 Hz


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
