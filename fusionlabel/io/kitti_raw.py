"""KITTI raw drives (``<date>/<date>_drive_XXXX_sync``) as recordings.

Layout (``open_kitti_raw``)::

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

Calibration: :mod:`fusionlabel.io.kitti_calib`; timestamps and oxts: :mod:`fusionlabel.io.kitti_oxts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Lidar, Rig
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import Frame
from fusionlabel.core.recording import Stream
from fusionlabel.core.transforms import Transform
from fusionlabel.io.kitti_calib import CAMERAS, LIDAR, read_kitti_raw_calib
from fusionlabel.io.kitti_oxts import oxts_pose_track, parse_oxts_packet, read_kitti_timestamps
from fusionlabel.io.kitti_recording import NOMINAL_PERIOD_NS, _indexed_files, _KittiRecording, _nominal

_RAW_SENSOR_DIRS = ("velodyne_points", "oxts", *CAMERAS)


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
