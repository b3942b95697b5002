"""KITTI time and motion: ``timestamps.txt`` and oxts packets, and the ego poses they give.

Timestamps (``timestamps.txt``: "2011-09-26 13:02:25.964389445") are read to the nanosecond, as
UTC (KITTI states no zone; :func:`parse_kitti_timestamp`). Ego poses from oxts packets follow the
KITTI devkit (:func:`oxts_to_poses`): Mercator position scaled by ``cos(lat0)``, ``R = Rz(yaw)
Ry(pitch) Rx(roll)``, origin at the first packet (as pykitti), then ``T_world_velo = T_world_imu @
inv(T_velo_imu)``.

Example
-------
>>> parse_kitti_timestamp("1970-01-01 00:00:01.5")
1500000000
"""

from __future__ import annotations

import calendar
import re
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform
from fusionlabel.io.kitti_calib import _inv

EARTH_RADIUS_M = 6378137.0


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
