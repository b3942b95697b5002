"""Rigid transforms, named ``T_dst_src``.

A :class:`Transform` ``T_b_a`` maps points expressed in frame ``a`` into frame ``b``::

    p_b = R_b_a @ p_a + t_b_a          (homogeneous: P_b = T_b_a @ P_a)

Composition reads right to left, so frame names cancel: ``T_c_a = T_c_b @ T_b_a``.

Example
-------
>>> import numpy as np
>>> T_ego_lidar = Transform.from_rt(np.eye(3), [1.0, 0.0, 1.8])
>>> T_ego_lidar.apply(np.array([[0.0, 0.0, 0.0]]))
array([[1. , 0. , 1.8]])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyquaternion import Quaternion


def _as_matrix(m: ArrayLike) -> NDArray[np.float64]:
    a = np.asarray(m, dtype=np.float64)
    if a.shape == (3, 4):
        a = np.vstack([a, [0.0, 0.0, 0.0, 1.0]])
    if a.shape != (4, 4):
        raise ValueError(f"a rigid transform needs a 4x4 or 3x4 matrix, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("transform contains NaN or infinity")
    return a


def quaternions_to_matrices(q_wxyz: ArrayLike) -> NDArray[np.float64]:
    """(K, 4) quaternions ``(w, x, y, z)`` (normalised here) -> (K, 3, 3) rotation matrices.

    The vectorised form of pyquaternion's ``Quaternion.rotation_matrix``:
    ``R = I + 2 w [v]x + 2 [v]x^2`` with ``v = (x, y, z)``.

    >>> quaternions_to_matrices([[np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]]).round(6)[0, :2, :2].tolist()
    [[0.0, -1.0], [1.0, 0.0]]
    """
    q = np.asarray(q_wxyz, dtype=np.float64).reshape(-1, 4)
    n = np.linalg.norm(q, axis=1, keepdims=True)
    if not np.all(np.isfinite(n)) or np.any(n < 1e-12):
        raise ValueError("a quaternion has no rotation (zero or non-finite norm)")
    w, x, y, z = (q / n).T
    R = np.empty((len(q), 3, 3))
    R[:, 0, 0] = 1 - 2 * (y * y + z * z)
    R[:, 0, 1] = 2 * (x * y - w * z)
    R[:, 0, 2] = 2 * (x * z + w * y)
    R[:, 1, 0] = 2 * (x * y + w * z)
    R[:, 1, 1] = 1 - 2 * (x * x + z * z)
    R[:, 1, 2] = 2 * (y * z - w * x)
    R[:, 2, 0] = 2 * (x * z - w * y)
    R[:, 2, 1] = 2 * (y * z + w * x)
    R[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return R


@dataclass(frozen=True)
class Transform:
    """A rigid (or, for KITTI's rectification, near-rigid) 4x4 homogeneous transform.

    Attributes
    ----------
    matrix : (4, 4) float64
        ``[[R, t], [0, 1]]``. Read-only.
    """

    matrix: NDArray[np.float64] = field(default_factory=lambda: np.eye(4))

    def __post_init__(self) -> None:
        m = _as_matrix(self.matrix).copy()
        m.setflags(write=False)
        object.__setattr__(self, "matrix", m)

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def identity(cls) -> Transform:
        return cls(np.eye(4))

    @classmethod
    def from_rt(cls, rotation: ArrayLike, translation: ArrayLike) -> Transform:
        """From a (3, 3) rotation matrix and a (3,) translation."""
        m = np.eye(4)
        m[:3, :3] = np.asarray(rotation, dtype=np.float64).reshape(3, 3)
        m[:3, 3] = np.asarray(translation, dtype=np.float64).reshape(3)
        return cls(m)

    @classmethod
    def from_quaternion(cls, q_wxyz: Sequence[float] | Quaternion, translation: ArrayLike) -> Transform:
        """From a unit quaternion ``(w, x, y, z)`` (nuScenes / ROS order is w first here) and a translation."""
        q = q_wxyz if isinstance(q_wxyz, Quaternion) else Quaternion(*[float(v) for v in q_wxyz])
        if not np.isfinite(q.norm) or q.norm < 1e-9:
            raise ValueError(f"quaternion {[float(x) for x in q.elements]} has no rotation (zero or non-finite norm)")
        return cls.from_rt(q.normalised.rotation_matrix, translation)

    @classmethod
    def from_yaw(cls, yaw: float, translation: ArrayLike = (0.0, 0.0, 0.0)) -> Transform:
        """Rotation ``yaw`` radians about +z, then translation."""
        c, s = np.cos(yaw), np.sin(yaw)
        return cls.from_rt([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], translation)

    # -- accessors ----------------------------------------------------------------------------
    @property
    def rotation(self) -> NDArray[np.float64]:
        """(3, 3) rotation part ``R``."""
        return self.matrix[:3, :3]

    @property
    def translation(self) -> NDArray[np.float64]:
        """(3,) translation part ``t``."""
        return self.matrix[:3, 3]

    @property
    def quaternion(self) -> Quaternion:
        """Rotation as a pyquaternion ``Quaternion`` (w, x, y, z)."""
        return Quaternion(matrix=self.rotation, atol=1e-6, rtol=1e-6)

    @property
    def yaw(self) -> float:
        """Heading of the rotated x axis in the xy-plane, radians."""
        return float(np.arctan2(self.matrix[1, 0], self.matrix[0, 0]))

    # -- algebra ------------------------------------------------------------------------------
    def __matmul__(self, other: Transform) -> Transform:
        """Compose: ``(T_c_b @ T_b_a) = T_c_a``."""
        return Transform(self.matrix @ other.matrix)

    def inverse(self) -> Transform:
        """``T_a_b`` from ``T_b_a``. Exact for rigid transforms: ``[R', -R' t]``; general inverse otherwise."""
        R = self.rotation
        if np.allclose(R @ R.T, np.eye(3), atol=1e-6):
            m = np.eye(4)
            m[:3, :3] = R.T
            m[:3, 3] = -R.T @ self.translation
            return Transform(m)
        return Transform(np.asarray(np.linalg.inv(self.matrix), dtype=np.float64))

    def apply(self, points: ArrayLike) -> NDArray[np.float64]:
        """Map (N, 3) points: ``p' = R p + t``. Returns a new (N, 3) float64 array."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 3:
            raise ValueError(f"points must have shape (N, 3), got {p.shape}")
        return _rotate(p, self.rotation, self.translation)

    def apply_vectors(self, vectors: ArrayLike) -> NDArray[np.float64]:
        """Rotate (N, 3) direction vectors (velocities): ``v' = R v``."""
        v = np.asarray(vectors, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != 3:
            raise ValueError(f"vectors must have shape (N, 3), got {v.shape}")
        return _rotate(v, self.rotation, None)

    def allclose(self, other: Transform, atol: float = 1e-9) -> bool:
        return bool(np.allclose(self.matrix, other.matrix, atol=atol))

    def to_list(self) -> list[list[float]]:
        """Row-major nested list (for YAML/JSON)."""
        return [[float(v) for v in row] for row in self.matrix]


def _rotate(p: NDArray[np.float64], R: NDArray[np.float64], t: NDArray[np.float64] | None) -> NDArray[np.float64]:
    """``p R' + t`` for (N, 3) ``p``, column by column.

    Three fused multiply-adds per output column beat a BLAS (N, 3) x (3, 3) product by a wide
    margin for the tall, thin shapes of point clouds (no BLAS dispatch, contiguous writes).
    """
    out = np.empty_like(p)
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    for i in range(3):
        col = x * R[i, 0]
        col += y * R[i, 1]
        col += z * R[i, 2]
        if t is not None:
            col += t[i]
        out[:, i] = col
    return out


def interpolate(T0: Transform, T1: Transform, alpha: float) -> Transform:
    """Interpolate two poses: linear in translation, spherical (slerp) in rotation.

    ``alpha`` = 0 gives ``T0``, 1 gives ``T1``; values outside [0, 1] extrapolate the
    translation and clamp nothing (callers decide whether extrapolation is acceptable).
    """
    q = Quaternion.slerp(T0.quaternion, T1.quaternion, amount=float(np.clip(alpha, 0.0, 1.0)))
    t = (1.0 - alpha) * T0.translation + alpha * T1.translation
    return Transform.from_rt(q.rotation_matrix, t)
