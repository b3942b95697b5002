"""KITTI calibration files and the rig they give.

**The ego frame is the Velodyne frame** (x forward, y left, z up): the LiDAR is the sensor
``"velodyne"`` with ``T_ego_lidar = I``, and the cameras ``image_00`` .. ``image_03`` are the
*rectified* cameras (distortion-free, ``K = P_rect[:, :3]``) placed by::

    T_rect_velo = R0_rect @ Tr_velo_to_cam          (4x4, Velodyne -> rectified camera 0)
    T_ego_cam_i = inv(T_rect_velo) @ inv(T_cami_rect), with P_i = K_i [I | t_i], T_cami_rect = [I | t_i]

Calibration files are read in both spellings: object style ``R0_rect:`` / ``Tr_velo_to_cam:`` /
``Tr_imu_to_velo:`` and the official tracking style ``R_rect`` / ``Tr_velo_cam`` / ``Tr_imu_velo``
without colons (:func:`read_kitti_calib`, :data:`KEY_ALIASES`); a raw-data day has three files
(:func:`read_kitti_raw_calib`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Camera, Lidar, Rig, camera_from_projection
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError
from fusionlabel.core.transforms import Transform

LIDAR = "velodyne"
CAMERAS = ("image_00", "image_01", "image_02", "image_03")
DEFAULT_IMAGE_SIZE = (1242, 375)  # (width, height) of most rectified KITTI images

#: official tracking spelling -> object spelling (the canonical keys of :func:`read_kitti_calib`)
KEY_ALIASES = {"R_rect": "R0_rect", "Tr_velo_cam": "Tr_velo_to_cam", "Tr_imu_velo": "Tr_imu_to_velo"}
_TEXT_KEYS = {"calib_time"}


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
    m = _h(R0) @ _h(Tr)
    if not np.all(np.isfinite(m)) or abs(float(np.linalg.det(m[:3, :3]))) < 1e-12:
        raise CalibrationError(p, "R0_rect @ Tr_velo_to_cam is not a valid transform (NaN, infinite or singular)")
    return Transform(m)


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
    try:
        T = kitti_T_rect_velo(calib, p)
        P = {f"image_0{i}": _require(calib, f"P{i}", p, 12) for i in range(4)}
        return _rig(P, T, dict.fromkeys(P, image_size))
    except (ValueError, np.linalg.LinAlgError) as exc:  # NaN, a singular matrix
        raise CalibrationError(p, str(exc)) from None


def kitti_T_velo_imu(calib: Mapping[str, NDArray[np.float64]], path: str | Path) -> Transform:
    """``T_velo_imu`` (``Tr_imu_to_velo``, IMU -> Velodyne) from a tracking/object calibration."""
    return Transform(_require(calib, "Tr_imu_to_velo", Path(path), 12).reshape(3, 4))


def _rt(calib: Mapping[str, NDArray[np.float64]], path: Path) -> Transform:
    """``R`` and ``T`` of a KITTI raw calibration file as a transform; CalibrationError naming
    the file when they are missing or not finite."""
    R = _require(calib, "R", path, 9).reshape(3, 3)
    t = _require(calib, "T", path, 3)
    try:
        return Transform.from_rt(R, t)
    except ValueError as exc:  # NaN or infinity
        raise CalibrationError(path, f"R and T: {exc}") from None


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
