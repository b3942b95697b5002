"""3D constant-velocity Kalman model of a cuboid track.

State and measurement
---------------------
The state of one track is the (10,) vector ::

    x = [x, y, z, l, w, h, yaw, vx, vy, vz]

(the box part in the layout of :meth:`fusionlabel.core.boxes.Boxes.to_array`) in the tracking frame (the ego frame, or the world frame when ego poses are known; see
:mod:`fusionlabel.track.tracker`): ``x, y, z`` gravity centre (m), ``yaw`` (rad, about +z),
``l, w, h`` box size (m), ``vx, vy, vz`` velocity of the centre (m/s). A box detection
measures the first seven entries ``[x, y, z, l, w, h, yaw]``, ``z = H x`` with ``H = [I_7 | 0]``.

Motion: constant velocity over a step of ``dt`` seconds, ``x_k+1 = F x_k + w``, with ::

    F = | I_3  0    0    dt I_3 |        (position += dt * velocity)
        | 0    I_3  0    0      |        (size, yaw: random walk)
        | 0    0    1    0      |
        | 0    0    0    I_3    |

and process noise ``w ~ N(0, Q)``: a piecewise-constant white acceleration per axis
(``Q_pp = s_a^2 dt^4 / 4``, ``Q_pv = s_a^2 dt^3 / 2``, ``Q_vv = s_a^2 dt^2``) plus random walks
on yaw and size.

Two implementations of the same equations are given:

* :class:`FilterpyTrack`, one :class:`filterpy.kalman.KalmanFilter` per track: the reference;
* :class:`BatchKalman`, all tracks at once in ``(N, 10)`` / ``(N, 10, 10)`` numpy arrays: the one
  the tracker runs. Tests hold it equal to the reference to 1e-9.

Both use filterpy's update in Joseph form, ``P = (I - K H) P (I - K H)' + K R K'``.

Radar radial velocity (EKF update)
----------------------------------
A radar at position ``s`` moving with velocity ``v_s`` (tracking frame) measures the range rate
of a target at the track centre ``p`` moving with velocity ``v``::

    h(x) = (v - v_s) . u,      u = (p - s) / |p - s|

which is nonlinear in the state. It is fused with an extended-Kalman update linearised at the
prediction, with the (1, 10) Jacobian ::

    dh/dp = (v - v_s)' (I - u u') / |p - s|,     dh/dv = u',     0 elsewhere.

Example
-------
>>> import numpy as np
>>> m = MotionModel(dt=0.1)
>>> kf = BatchKalman(m)
>>> idx = kf.add(np.array([[10.0, 0.0, 1.0, 4.0, 1.8, 1.5, 0.0]]))
>>> kf.predict()
>>> flipped = kf.update(idx, np.array([[10.5, 0.0, 1.0, 4.0, 1.8, 1.5, 0.0]]))
>>> bool(kf.x[0, 7] > 0)    # vx > 0 after seeing the box move forward
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import wrap_angle
from fusionlabel.track._fast import kf_predict, kf_rotate, kf_update

#: state and measurement sizes
STATE_DIM = 10
MEAS_DIM = 7
#: index of yaw in the state / measurement
YAW = 6
#: slices into the state
POS = slice(0, 3)
SIZE = slice(3, 6)
VEL = slice(7, 10)


def align_yaw(z_yaw: ArrayLike, x_yaw: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Bring a measured yaw next to the predicted one, resolving wrap and heading flips.

    A detector often reports a box with its heading turned by pi (front and back swapped): the
    same cuboid. The measured yaw is replaced by the angle equivalent modulo pi that is closest
    to the prediction::

        d = wrap(z - x_yaw) in [-pi, pi);  flipped = |d| > pi / 2
        z' = x_yaw + d - pi sign(d)  if flipped  else  x_yaw + d

    so ``|z' - x_yaw| <= pi / 2`` and the innovation never sees a 2 pi jump.

    Parameters
    ----------
    z_yaw, x_yaw : (N,) float64, radians

    Returns
    -------
    z_aligned : (N,) float64, radians (not wrapped: within pi/2 of ``x_yaw``)
    flipped : (N,) bool, True where the detection heading was flipped by pi
    """
    x_yaw = np.asarray(x_yaw, dtype=np.float64)
    d = wrap_angle(np.asarray(z_yaw, dtype=np.float64) - x_yaw)
    flipped = np.abs(d) > np.pi / 2.0
    d = np.where(flipped, d - np.pi * np.sign(d), d)
    return x_yaw + d, flipped


@dataclass(frozen=True)
class MotionModel:
    """Noise levels and time step of the constant-velocity model (SI units).

    Attributes
    ----------
    dt : s, time between frames
    sigma_accel : m/s^2, horizontal (x, y) white acceleration
    sigma_accel_z : m/s^2, vertical white acceleration
    sigma_yaw : rad per step, yaw random walk
    sigma_size : m per step, size random walk
    meas_sigma_pos : m, detection centre noise (x, y)
    meas_sigma_z : m, detection centre height noise
    meas_sigma_yaw : rad, detection yaw noise
    meas_sigma_size : m, detection size noise
    init_sigma_vel : m/s, prior velocity uncertainty at birth (horizontal)
    init_sigma_vel_z : m/s, prior vertical velocity uncertainty at birth
    """

    dt: float = 0.1
    sigma_accel: float = 4.0
    sigma_accel_z: float = 0.5
    sigma_yaw: float = 0.1
    sigma_size: float = 0.02
    meas_sigma_pos: float = 0.3
    meas_sigma_z: float = 0.2
    meas_sigma_yaw: float = 0.3
    meas_sigma_size: float = 0.2
    init_sigma_vel: float = 10.0
    init_sigma_vel_z: float = 1.0

    def F(self) -> NDArray[np.float64]:
        """(10, 10) state transition."""
        F = np.eye(STATE_DIM)
        F[0, 7] = F[1, 8] = F[2, 9] = self.dt
        return F

    def H(self) -> NDArray[np.float64]:
        """(7, 10) box measurement matrix ``[I_7 | 0]``."""
        return np.eye(MEAS_DIM, STATE_DIM)

    def Q(self) -> NDArray[np.float64]:
        """(10, 10) process noise (white acceleration per axis, random walk on yaw and size)."""
        dt = self.dt
        Q = np.zeros((STATE_DIM, STATE_DIM))
        for axis, sa in ((0, self.sigma_accel), (1, self.sigma_accel), (2, self.sigma_accel_z)):
            q = sa * sa
            p, v = axis, 7 + axis
            Q[p, p] = q * dt**4 / 4.0
            Q[p, v] = Q[v, p] = q * dt**3 / 2.0
            Q[v, v] = q * dt**2
        Q[YAW, YAW] = self.sigma_yaw**2
        Q[3, 3] = Q[4, 4] = Q[5, 5] = self.sigma_size**2
        return Q

    def R(self) -> NDArray[np.float64]:
        """(7, 7) box measurement noise."""
        s = [self.meas_sigma_pos, self.meas_sigma_pos, self.meas_sigma_z]
        s += [self.meas_sigma_size] * 3 + [self.meas_sigma_yaw]
        return np.diag(np.square(s))

    def P0(self) -> NDArray[np.float64]:
        """(10, 10) state covariance of a track born from one detection."""
        d = np.zeros(STATE_DIM)
        d[:MEAS_DIM] = np.diag(self.R())
        d[7] = d[8] = self.init_sigma_vel**2
        d[9] = self.init_sigma_vel_z**2
        return np.diag(d)


def radial_velocity_model(
    x: NDArray[np.float64], sensor_pos: NDArray[np.float64], sensor_vel: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Predicted range rate and its Jacobian for N states.

    Parameters
    ----------
    x : (N, 10) float64 states
    sensor_pos : (N, 3) float64, radar position, tracking frame (m)
    sensor_vel : (N, 3) float64, radar velocity, tracking frame (m/s)

    Returns
    -------
    h : (N,) float64, ``(v - v_s) . u`` (m/s, positive = moving away)
    J : (N, 10) float64, ``dh/dx`` (see the module docstring)
    """
    d = x[:, POS] - sensor_pos
    r = np.maximum(np.linalg.norm(d, axis=1), 1e-6)
    u = d / r[:, None]  # u = (p - s) / |p - s|
    vrel = x[:, VEL] - sensor_vel
    h = np.einsum("ij,ij->i", vrel, u)  # h = (v - v_s) . u
    J = np.zeros((len(x), STATE_DIM))
    # dh/dp = (v - v_s)' (I - u u') / r = (v_rel - h u) / r
    J[:, POS] = (vrel - h[:, None] * u) / r[:, None]
    J[:, VEL] = u  # dh/dv = u'
    return h, J


def rotate_state(
    x: NDArray[np.float64], P: NDArray[np.float64], phi: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One state rotated about the tracking frame's origin by ``phi`` (rad, counter-clockwise).

    Used to compensate an estimated ego rotation when no ego poses are known
    (:mod:`fusionlabel.track.egomotion`): ``x' = G x``, ``P' = G P G'``, with ``G`` the identity
    but for the 2D rotation ``R(phi)`` on ``(x, y)``; the yaw turns by ``phi`` (wrapped), the
    relative velocity is kept (see the egomotion module for why).

    Parameters
    ----------
    x : (10,) float64 state; P : (10, 10) float64 covariance; phi : rad

    Returns
    -------
    the rotated (10,) state and (10, 10) covariance (new arrays)
    """
    c, s = np.cos(phi), np.sin(phi)
    G = np.eye(STATE_DIM)
    G[0, 0], G[0, 1], G[1, 0], G[1, 1] = c, -s, s, c
    xn = G @ x
    xn[YAW] = wrap_angle(x[YAW] + phi)
    return xn, G @ P @ G.T


class FilterpyTrack:
    """One track filtered by :class:`filterpy.kalman.KalmanFilter`: the reference implementation.

    Parameters
    ----------
    model : the motion model
    z0 : (7,) first box measurement ``[x, y, z, l, w, h, yaw]``, tracking frame
    """

    def __init__(self, model: MotionModel, z0: ArrayLike, v0: ArrayLike | None = None) -> None:
        from filterpy.kalman import KalmanFilter

        self.kf = KalmanFilter(dim_x=STATE_DIM, dim_z=MEAS_DIM)
        self.kf.F = model.F()
        self.kf.H = model.H()
        self.kf.Q = model.Q()
        self.kf.R = model.R()
        self.kf.P = model.P0()
        z = np.asarray(z0, dtype=np.float64).reshape(MEAS_DIM)
        self.kf.x = np.zeros((STATE_DIM, 1))
        self.kf.x[:MEAS_DIM, 0] = z
        self.kf.x[YAW, 0] = wrap_angle(z[YAW])
        if v0 is not None:
            self.kf.x[VEL, 0] = np.asarray(v0, dtype=np.float64).reshape(3)

    @property
    def x(self) -> NDArray[np.float64]:
        """(10,) state."""
        return np.asarray(self.kf.x, dtype=np.float64).reshape(STATE_DIM)

    @property
    def P(self) -> NDArray[np.float64]:
        """(10, 10) state covariance."""
        return np.asarray(self.kf.P, dtype=np.float64)

    def predict(self) -> None:
        """``x = F x``, ``P = F P F' + Q`` (yaw is left unchanged by ``F``)."""
        self.kf.predict()

    def update(self, z: ArrayLike) -> bool:
        """Box update (yaw aligned with :func:`align_yaw` first); returns whether the heading was flipped."""
        z = np.asarray(z, dtype=np.float64).reshape(MEAS_DIM).copy()
        za, flipped = align_yaw(z[YAW : YAW + 1], self.kf.x[YAW : YAW + 1, 0])
        z[YAW] = za[0]
        self.kf.update(z.reshape(MEAS_DIM, 1))
        self.kf.x[YAW, 0] = wrap_angle(self.kf.x[YAW, 0])
        return bool(flipped[0])

    def rotate(self, phi: float) -> None:
        """Rotate the state about the origin by ``phi`` rad (:func:`rotate_state`)."""
        x, P = rotate_state(self.x, self.P, phi)
        self.kf.x = x.reshape(STATE_DIM, 1)
        self.kf.P = P

    def update_radial_velocity(self, vr: float, sensor_pos: ArrayLike, sensor_vel: ArrayLike, sigma: float) -> None:
        """EKF update with one range-rate measurement ``vr`` (m/s) of noise ``sigma`` (m/s).

        filterpy's linear update computes ``y = z - H x``; passing ``z' = vr - h(x) + J x`` with
        ``H = J`` gives the EKF innovation ``y = vr - h(x)``.
        """
        x = self.x[None, :]
        h, J = radial_velocity_model(
            x,
            np.asarray(sensor_pos, dtype=np.float64).reshape(1, 3),
            np.asarray(sensor_vel, dtype=np.float64).reshape(1, 3),
        )
        z_eff = vr - h[0] + float(J[0] @ self.x)
        self.kf.update(np.array([[z_eff]]), R=np.array([[sigma * sigma]]), H=J)
        self.kf.x[YAW, 0] = wrap_angle(self.kf.x[YAW, 0])


class BatchKalman:
    """All tracks' filters as arrays: ``x`` (N, 10) and ``P`` (N, 10, 10), float64.

    Row ``i`` is track slot ``i``; :meth:`add` appends rows, :meth:`keep` drops rows. The
    equations are those of :class:`FilterpyTrack`, written with ``H = [I_7 | 0]`` so that
    ``P H' = P[:, :7]`` and ``H P H' = P[:7, :7]`` (the same numbers filterpy computes).
    """

    def __init__(self, model: MotionModel) -> None:
        self.model = model
        self._F = model.F()
        self._FT = self._F.T.copy()
        self._Q = model.Q()
        self._R = model.R()
        self._Rdiag = np.diag(self._R).copy()
        self._P0 = model.P0()
        self._I = np.eye(STATE_DIM)
        self.x = np.zeros((0, STATE_DIM))
        self.P = np.zeros((0, STATE_DIM, STATE_DIM))

    def __len__(self) -> int:
        return len(self.x)

    def add(self, z: NDArray[np.float64], v0: NDArray[np.float64] | None = None) -> NDArray[np.int64]:
        """Start filters from (M, 7) box measurements, with prior velocities ``v0`` (M, 3) m/s
        (zero if None); returns their (M,) row indices."""
        z = np.asarray(z, dtype=np.float64).reshape(-1, MEAS_DIM)
        m = len(z)
        xn = np.zeros((m, STATE_DIM))
        xn[:, :MEAS_DIM] = z
        xn[:, YAW] = wrap_angle(z[:, YAW])
        if v0 is not None:
            xn[:, VEL] = np.asarray(v0, dtype=np.float64).reshape(m, 3)
        n0 = len(self.x)
        self.x = np.concatenate([self.x, xn]) if n0 else xn
        Pn = np.broadcast_to(self._P0, (m, STATE_DIM, STATE_DIM))
        self.P = np.concatenate([self.P, Pn]) if n0 else Pn.copy()
        return np.arange(n0, n0 + m, dtype=np.int64)

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Keep only the rows where ``mask`` is True (order preserved)."""
        self.x = np.ascontiguousarray(self.x[mask])
        self.P = np.ascontiguousarray(self.P[mask])

    def predict(self) -> None:
        """Predict every track one step: ``x = F x``, ``P = F P F' + Q`` (compiled kernel
        :func:`fusionlabel.track._fast.kf_predict`; ``F`` leaves yaw unchanged: no wrap needed)."""
        if not len(self.x):
            return
        kf_predict(self.x, self.P, self._F, self._Q)

    def set_states(self, idx: NDArray[np.int64], x: NDArray[np.float64]) -> None:
        """Replace the state means of rows ``idx`` by (M, 10) ``x`` (covariances kept)."""
        self.x[np.asarray(idx, dtype=np.int64)] = np.asarray(x, dtype=np.float64).reshape(-1, STATE_DIM)

    def rotate(self, phi: float) -> None:
        """Rotate every track about the origin by ``phi`` rad, counter-clockwise (compiled kernel
        :func:`fusionlabel.track._fast.kf_rotate`; the equations of :func:`rotate_state`)."""
        if len(self.x) and phi != 0.0:
            kf_rotate(self.x, self.P, float(phi))

    def update(self, idx: NDArray[np.int64], z: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Box update of rows ``idx`` with (M, 7) measurements; returns (M,) heading flips.

        The equations (compiled kernel :func:`fusionlabel.track._fast.kf_update`)::

            z_yaw = align_yaw(z_yaw, x_yaw);  y = z - H x;  S = H P H' + R = P[:7, :7] + R
            K = P H' S^-1 = P[:, :7] S^-1;    x = x + K y
            P = (I - K H) P (I - K H)' + K R K'
        """
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        flipped = np.zeros(len(idx), dtype=bool)
        if not len(idx):
            return flipped
        z = np.ascontiguousarray(z, dtype=np.float64).reshape(-1, MEAS_DIM)
        kf_update(self.x, self.P, idx, z, self._Rdiag, flipped)
        return flipped

    def update_radial_velocity(
        self,
        idx: NDArray[np.int64],
        vr: NDArray[np.float64],
        sensor_pos: NDArray[np.float64],
        sensor_vel: NDArray[np.float64],
        sigma: float,
    ) -> None:
        """EKF range-rate update of rows ``idx``.

        Parameters
        ----------
        idx : (M,) int64 rows
        vr : (M,) float64 measured range rates, m/s (positive = moving away)
        sensor_pos, sensor_vel : (M, 3) float64 radar position (m) and velocity (m/s), tracking frame
        sigma : m/s, range-rate noise
        """
        idx = np.asarray(idx, dtype=np.int64)
        if not len(idx):
            return
        x = self.x[idx]
        P = self.P[idx]
        h, J = radial_velocity_model(
            x, np.asarray(sensor_pos, float).reshape(-1, 3), np.asarray(sensor_vel, float).reshape(-1, 3)
        )
        # y = z - h(x)
        y = np.asarray(vr, dtype=np.float64).reshape(-1) - h
        # S = J P J' + r
        PJT = np.einsum("nij,nj->ni", P, J)
        S = np.einsum("ni,ni->n", J, PJT) + sigma * sigma
        # K = P J' / S
        K = PJT / S[:, None]
        # x = x + K y
        x = x + K * y[:, None]
        # P = (I - K J) P (I - K J)' + K r K'
        I_KH = self._I[None] - K[:, :, None] * J[:, None, :]
        P = I_KH @ P @ I_KH.transpose(0, 2, 1) + (sigma * sigma) * K[:, :, None] * K[:, None, :]
        x[:, YAW] = wrap_angle(x[:, YAW])
        self.x[idx] = x
        self.P[idx] = P


class FilterpyBank:
    """The per-track reference: one :class:`FilterpyTrack` (a ``filterpy.kalman.KalmanFilter``)
    per row, with the interface of :class:`BatchKalman` (``x``, ``P`` stacked on access).

    The tracker runs on it with ``backend="filterpy"``: the same algorithm with AB3DMOT's
    structure (one filter object per track, predicted and updated one by one), for speed and
    equality comparisons.
    """

    def __init__(self, model: MotionModel) -> None:
        self.model = model
        self.tracks: list[FilterpyTrack] = []

    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def x(self) -> NDArray[np.float64]:
        """(N, 10) states (a copy)."""
        return np.array([t.x for t in self.tracks]).reshape(-1, STATE_DIM)

    @property
    def P(self) -> NDArray[np.float64]:
        """(N, 10, 10) covariances (a copy)."""
        return np.array([t.P for t in self.tracks]).reshape(-1, STATE_DIM, STATE_DIM)

    def add(self, z: NDArray[np.float64], v0: NDArray[np.float64] | None = None) -> NDArray[np.int64]:
        z = np.asarray(z, dtype=np.float64).reshape(-1, MEAS_DIM)
        n0 = len(self.tracks)
        vs = [None] * len(z) if v0 is None else list(np.asarray(v0, dtype=np.float64).reshape(-1, 3))
        self.tracks.extend(FilterpyTrack(self.model, zi, vi) for zi, vi in zip(z, vs))
        return np.arange(n0, n0 + len(z), dtype=np.int64)

    def keep(self, mask: NDArray[np.bool_]) -> None:
        self.tracks = [t for t, k in zip(self.tracks, mask) if k]

    def predict(self) -> None:
        for t in self.tracks:
            t.predict()

    def set_states(self, idx: NDArray[np.int64], x: NDArray[np.float64]) -> None:
        x = np.asarray(x, dtype=np.float64).reshape(-1, STATE_DIM)
        for i, xi in zip(np.asarray(idx).tolist(), x):
            self.tracks[i].kf.x = xi.reshape(STATE_DIM, 1).copy()

    def rotate(self, phi: float) -> None:
        if phi != 0.0:
            for t in self.tracks:
                t.rotate(phi)

    def update(self, idx: NDArray[np.int64], z: NDArray[np.float64]) -> NDArray[np.bool_]:
        z = np.asarray(z, dtype=np.float64).reshape(-1, MEAS_DIM)
        return np.array([self.tracks[i].update(zi) for i, zi in zip(np.asarray(idx).tolist(), z)], dtype=bool)

    def update_radial_velocity(
        self,
        idx: NDArray[np.int64],
        vr: NDArray[np.float64],
        sensor_pos: NDArray[np.float64],
        sensor_vel: NDArray[np.float64],
        sigma: float,
    ) -> None:
        for k, i in enumerate(np.asarray(idx).tolist()):
            self.tracks[i].update_radial_velocity(float(vr[k]), sensor_pos[k], sensor_vel[k], sigma)
