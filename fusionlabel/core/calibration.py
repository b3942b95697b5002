"""Sensor rig calibration: cameras, LiDARs and radars with extrinsics to the ego frame.

Frames
------
* ego: the vehicle body frame, x forward, y left, z up, metres (ISO 8855 / nuScenes ego).
* sensor frames: each sensor's own frame; its extrinsic is ``T_ego_sensor`` (sensor -> ego).
* camera frame: OpenCV optical frame, x right, y down, z forward (the viewing direction).

Intrinsics follow OpenCV: ``K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` and the distortion
vector ``(k1, k2, p1, p2[, k3[, k4, k5, k6]])`` of the plumb-bob / rational model, or
``(k1, k2, k3, k4)`` with ``model: fisheye`` (equidistant).

The YAML schema is documented in ``calib/README.md``; :func:`load_rig` validates it and raises
:class:`~fusionlabel.core.errors.CalibrationError` naming the file and the missing key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.errors import CalibrationError
from fusionlabel.core.transforms import Transform

SCHEMA_VERSION = 1
DISTORTION_MODELS = ("pinhole", "fisheye")


@dataclass(frozen=True, init=False)
class Camera:
    """A calibrated camera.

    Attributes
    ----------
    name : sensor name, e.g. ``"CAM_FRONT"``
    K : (3, 3) float64 intrinsic matrix, pixels, read-only
    D : (k,) float64 distortion coefficients (OpenCV order), may be empty, read-only
    width, height : image size, pixels
    T_ego_cam : camera optical frame -> ego frame
    model : ``"pinhole"`` (OpenCV radial-tangential) or ``"fisheye"`` (equidistant)

    The constructor takes ``K`` and ``D`` as any array-like (nested lists from YAML included)
    and stores float64 copies; it raises ``ValueError`` for an unknown model, a distortion
    vector of the wrong length or a non-positive focal length.
    """

    name: str
    K: NDArray[np.float64]
    width: int
    height: int
    T_ego_cam: Transform
    D: NDArray[np.float64]
    model: str

    def __init__(
        self,
        name: str,
        K: ArrayLike,
        width: int,
        height: int,
        T_ego_cam: Transform | None = None,
        D: ArrayLike = (),
        model: str = "pinhole",
    ) -> None:
        K_ = np.asarray(K, dtype=np.float64).reshape(3, 3).copy()
        D_ = np.asarray(D, dtype=np.float64).reshape(-1).copy()
        if model not in DISTORTION_MODELS:
            raise ValueError(f"camera {name}: unknown model {model!r}")
        if model == "pinhole" and len(D_) not in (0, 4, 5, 8):
            raise ValueError(f"camera {name}: pinhole distortion needs 0, 4, 5 or 8 coefficients")
        if model == "fisheye" and len(D_) not in (0, 4):
            raise ValueError(f"camera {name}: fisheye distortion needs 4 coefficients")
        if K_[0, 0] <= 0 or K_[1, 1] <= 0:
            raise ValueError(f"camera {name}: focal lengths must be positive")
        K_.setflags(write=False)
        D_.setflags(write=False)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "K", K_)
        object.__setattr__(self, "width", int(width))
        object.__setattr__(self, "height", int(height))
        object.__setattr__(self, "T_ego_cam", Transform.identity() if T_ego_cam is None else T_ego_cam)
        object.__setattr__(self, "D", D_)
        object.__setattr__(self, "model", model)


@dataclass(frozen=True)
class Lidar:
    """A LiDAR and its extrinsic ``T_ego_lidar``."""

    name: str
    T_ego_lidar: Transform = field(default_factory=Transform.identity)


@dataclass(frozen=True)
class Radar:
    """A radar and its extrinsic ``T_ego_radar``."""

    name: str
    T_ego_radar: Transform = field(default_factory=Transform.identity)


@dataclass(frozen=True)
class Rig:
    """All sensors of a vehicle. Look sensors up by name.

    Example
    -------
    >>> rig = Rig(lidars={"lidar": Lidar("lidar")})
    >>> rig.T_ego_sensor("lidar").allclose(Transform.identity())
    True
    """

    cameras: Mapping[str, Camera] = field(default_factory=dict)
    lidars: Mapping[str, Lidar] = field(default_factory=dict)
    radars: Mapping[str, Radar] = field(default_factory=dict)

    @property
    def sensor_names(self) -> list[str]:
        return [*self.lidars, *self.cameras, *self.radars]

    def T_ego_sensor(self, name: str) -> Transform:
        """Extrinsic of any sensor (sensor -> ego). ``KeyError`` names the unknown sensor."""
        if name in self.cameras:
            return self.cameras[name].T_ego_cam
        if name in self.lidars:
            return self.lidars[name].T_ego_lidar
        if name in self.radars:
            return self.radars[name].T_ego_radar
        raise KeyError(f"no sensor named {name!r} in the rig (have: {', '.join(self.sensor_names) or 'none'})")

    def T_cam_sensor(self, camera: str, sensor: str) -> Transform:
        """``T_cam_sensor = inv(T_ego_cam) @ T_ego_sensor``."""
        return self.cameras[camera].T_ego_cam.inverse() @ self.T_ego_sensor(sensor)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "cameras": {
                n: {
                    "model": c.model,
                    "width": c.width,
                    "height": c.height,
                    "K": [[float(v) for v in row] for row in c.K],
                    "D": [float(v) for v in c.D],
                    "T_ego_cam": c.T_ego_cam.to_list(),
                }
                for n, c in self.cameras.items()
            },
            "lidars": {n: {"T_ego_lidar": s.T_ego_lidar.to_list()} for n, s in self.lidars.items()},
            "radars": {n: {"T_ego_radar": s.T_ego_radar.to_list()} for n, s in self.radars.items()},
        }


#: how far a rotation matrix may be from orthonormal (``max |R Rᵀ - I|``) and its determinant from +1
ROTATION_TOL = 1e-6
#: how far a quaternion's norm may be from 1 (it is normalised on load; further off is a typo)
QUATERNION_NORM_TOL = 0.01


def rotation_defect(R: ArrayLike, tol: float = ROTATION_TOL) -> str | None:
    """What is wrong with ``R`` as a rotation matrix, or None for a proper rotation.

    A rotation is orthonormal, ``R Rᵀ = I``, with ``det R = +1`` (a reflection has -1); both are
    checked to ``tol``.

    >>> rotation_defect(np.eye(3)) is None
    True
    >>> rotation_defect(2 * np.eye(3))
    'rotation is not orthonormal: it is scaled by 2 (R Rᵀ = 4 I)'
    >>> rotation_defect(np.diag([1.0, 1.0, -1.0]))
    'rotation has determinant -1: a reflection (one axis flipped), not a rotation'
    """
    R = np.asarray(R, dtype=np.float64).reshape(3, 3)
    if not np.all(np.isfinite(R)):
        return "rotation contains NaN or infinity"
    if not np.any(R):
        return "rotation is all zeros"
    RRt = R @ R.T
    err = float(np.max(np.abs(RRt - np.eye(3))))
    if err > tol:
        s2 = float(np.trace(RRt)) / 3.0
        if np.allclose(RRt, s2 * np.eye(3), atol=tol * max(1.0, s2)):
            return f"rotation is not orthonormal: it is scaled by {np.sqrt(s2):.6g} (R Rᵀ = {s2:.6g} I)"
        return f"rotation is not orthonormal: max |R Rᵀ - I| = {err:.3g} (tolerance {tol:g})"
    det = float(np.linalg.det(R))
    if abs(det - 1.0) > tol:
        if det < 0:
            return f"rotation has determinant {det:.6g}: a reflection (one axis flipped), not a rotation"
        return f"rotation has determinant {det:.6g}, not +1 (tolerance {tol:g})"
    return None


def transform_defect(T: Transform, tol: float = ROTATION_TOL) -> str | None:
    """What is wrong with ``T`` as a rigid transform (its rotation, its last row), or None."""
    m = T.matrix
    if not np.allclose(m[3], [0.0, 0.0, 0.0, 1.0], atol=tol, rtol=0.0):
        return f"the last row of the matrix must be 0 0 0 1, got {' '.join(f'{v:g}' for v in m[3])}"
    return rotation_defect(m[:3, :3], tol)


def rig_problems(rig: Rig, path: str | Path) -> list[CalibrationError]:
    """Every extrinsic of ``rig`` that is not a rigid transform, as errors naming ``path``,
    the sensor and the defect (:func:`transform_defect`). Empty for a sound rig.

    :func:`load_rig` refuses such a file outright; readers that build their rig otherwise
    (KITTI's matrices, a bag's TF tree) are checked by ``fusionlabel info`` and ``prelabel``.
    """
    out = []
    for section, key, items in (
        ("cameras", "T_ego_cam", [(n, c.T_ego_cam) for n, c in rig.cameras.items()]),
        ("lidars", "T_ego_lidar", [(n, s.T_ego_lidar) for n, s in rig.lidars.items()]),
        ("radars", "T_ego_radar", [(n, s.T_ego_radar) for n, s in rig.radars.items()]),
    ):
        for name, T in items:
            why = transform_defect(T)
            if why is not None:
                out.append(CalibrationError(path, f"{section}.{name}.{key}: {why}"))
    return out


def _transform(d: Mapping[str, Any], key: str, where: str, path: Path) -> Transform:
    """A transform given as a 4x4/3x4 ``matrix`` or as ``{rotation: [w,x,y,z], translation: [x,y,z]}``.

    The rotation must be proper (:func:`rotation_defect`); a quaternion's norm within
    :data:`QUATERNION_NORM_TOL` of 1 (it is normalised).
    """
    if not isinstance(d, Mapping):
        raise CalibrationError(path, f"{where}: must be a mapping")
    if key not in d:
        raise CalibrationError(path, f"{where}: missing key '{key}'")
    v = d[key]
    try:
        if isinstance(v, Mapping):
            if "rotation" not in v or "translation" not in v:
                raise CalibrationError(path, f"{where}.{key}: needs 'rotation' (w, x, y, z) and 'translation'")
            q = np.asarray(v["rotation"], dtype=np.float64).reshape(-1)
            if q.shape == (4,) and np.all(np.isfinite(q)):
                norm = float(np.linalg.norm(q))
                if norm > 1e-9 and abs(norm - 1.0) > QUATERNION_NORM_TOL:
                    raise CalibrationError(
                        path,
                        f"{where}.{key}: rotation quaternion has norm {norm:.6g}, not 1 "
                        "(a unit quaternion [w, x, y, z] is expected: scaled or mistyped?)",
                    )
            T = Transform.from_quaternion(v["rotation"], v["translation"])
        else:
            T = Transform(np.asarray(v, dtype=np.float64))
    except (ValueError, TypeError) as exc:
        raise CalibrationError(path, f"{where}.{key}: {exc}") from None
    why = transform_defect(T)
    if why is not None:
        raise CalibrationError(path, f"{where}.{key}: {why}")
    return T


def rig_from_dict(d: Any, path: str | Path = "<rig>") -> Rig:
    """Validate and build a :class:`Rig` from the parsed YAML/JSON schema."""
    path = Path(path)
    if not isinstance(d, Mapping):
        raise CalibrationError(path, "calibration must be a mapping with cameras/lidars/radars")
    version = d.get("version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise CalibrationError(
            path, f"calibration schema version {version!r} is newer than this FusionLabel ({SCHEMA_VERSION})"
        )
    for section in ("cameras", "lidars", "radars"):
        if d.get(section) is not None and not isinstance(d[section], Mapping):
            raise CalibrationError(path, f"'{section}' must be a mapping from sensor name to its calibration")
    cams: dict[str, Camera] = {}
    for name, c in (d.get("cameras") or {}).items():
        where = f"cameras.{name}"
        if not isinstance(c, Mapping):
            raise CalibrationError(path, f"{where}: must be a mapping")
        for key in ("K", "width", "height"):
            if key not in c:
                raise CalibrationError(path, f"{where}: missing key '{key}'")
        try:
            cams[str(name)] = Camera(
                name=str(name),
                K=np.asarray(c["K"], dtype=np.float64),
                width=int(c["width"]),
                height=int(c["height"]),
                D=np.asarray(c.get("D") or [], dtype=np.float64),
                model=str(c.get("model", "pinhole")),
                T_ego_cam=_transform(c, "T_ego_cam", where, path),
            )
        except (ValueError, TypeError) as exc:
            raise CalibrationError(path, f"{where}: {exc}") from None
    lidars = {
        str(n): Lidar(str(n), _transform(v or {}, "T_ego_lidar", f"lidars.{n}", path))
        for n, v in (d.get("lidars") or {}).items()
    }
    radars = {
        str(n): Radar(str(n), _transform(v or {}, "T_ego_radar", f"radars.{n}", path))
        for n, v in (d.get("radars") or {}).items()
    }
    if not (cams or lidars or radars):
        raise CalibrationError(path, "calibration lists no sensors")
    return Rig(cams, lidars, radars)


def load_rig(path: str | Path) -> Rig:
    """Load a rig from the documented YAML format (``calib/README.md``)."""
    from fusionlabel.core.textfile import read_text

    path = Path(path)
    text = read_text(path, "calibration", CalibrationError)
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CalibrationError(path, f"invalid YAML: {str(exc).splitlines()[0]}") from None
    return rig_from_dict(d, path)


def save_rig(rig: Rig, path: str | Path) -> None:
    """Write ``rig`` as YAML, atomically (temp file + rename)."""
    from fusionlabel.core.atomic import atomic_write_text

    atomic_write_text(Path(path), yaml.safe_dump(rig.to_dict(), sort_keys=False))


def camera_from_projection(name: str, P: ArrayLike, width: int, height: int, T_ego_rect: Transform) -> Camera:
    """A distortion-free camera from a 3x4 rectified projection matrix ``P = K [I | t]`` (KITTI).

    ``T_ego_rect`` is the rectified reference camera (KITTI cam 0 rectified) in the ego frame;
    the baseline ``t = K^-1 P[:, 3]`` becomes a translation of this camera relative to it.
    """
    P = np.asarray(P, dtype=np.float64).reshape(3, 4)
    K = P[:, :3]
    t = np.linalg.solve(K, P[:, 3])  # P[:,3] = K t  ->  x_cam = x_rect + t
    T_cam_rect = Transform.from_rt(np.eye(3), t)
    return Camera(name=name, K=K, width=width, height=height, T_ego_cam=T_ego_rect @ T_cam_rect.inverse())
