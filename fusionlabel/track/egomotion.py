"""Ego rotation estimated from the tracks themselves, for tracking without ego poses.

Why
---
Without ego poses the tracker runs in the ego frame, where a constant-velocity model describes
the *relative* motion of objects. That is right while the ego drives straight (a parked car just
approaches at ``-v_ego``) but not while it turns: the whole scene then rotates about the sensor,
and an object at range ``r`` sweeps sideways by ``r * dpsi`` per frame (``dpsi`` the ego's yaw
increment: 1-3 m per frame at 40-50 m in a city turn). Predictions lag behind the sweep, far
objects are lost or, worse, swap identities with a neighbour.

What a system without odometry does is estimate the ego's rotation from the scene. Here the
*apparent rotation* of the scene ``phi = -dpsi`` (rad per frame, counter-clockwise positive,
about the ego origin, the sensor) is estimated every frame from the matched tracks and applied
to every track's state before association (:meth:`fusionlabel.track.kalman.BatchKalman.rotate`)::

    p' = R(phi) p,    yaw' = yaw + phi,    P' = G P G'   (G rotates the position block)

The relative velocity is kept: for a static object it is ``-v_ego`` in the ego's own axes
before and after the turn, so keeping it is exact for the static background (the objects a turn
sweeps the farthest); a moving object's own velocity is off by ``|v| phi`` per frame, well inside
the process noise.

Estimation
----------
A scalar Kalman filter on ``phi`` (:class:`EgoRotationFilter`) with a first-order Gauss-Markov
turn rate (a turn persists for about ``tau`` seconds, then the car drives straight again)::

    phi_k = a phi_k-1 + w,   a = exp(-dt / tau),   w ~ N(0, q),   q = sigma_phi^2 (1 - a^2)

with ``sigma_phi = yaw_rate_sigma * dt`` the stationary spread of the turn rate:

1. *predict*: ``phi = a phi``, ``V = a^2 V + q``; the predicted rotation is applied to the tracks
   before association;
2. *measure*: after association, the rotation of the scene between the previous frame and this
   one is fitted robustly on the tracks matched in both (:func:`fit_rigid`: filtered centres at
   ``k-1`` against detections at ``k``; translation-free, independent of the tracks' velocities),
   with variance ``s^2 = 2 meas_sigma^2 / sum |p_i - p_bar|^2``;
3. *update*: ``K = V / (V + s^2)``, ``phi += K (phi_meas - phi)``, ``V = (1 - K) V``; the tracks
   are rotated by the correction and, when that moves one of them by more than ``reassociate``
   metres, association is run again.

The estimate is a property of the scene, not of one object: fewer than ``min_pairs`` inliers give
no measurement (a lone car changing lanes is not an ego turn), and ``|phi|`` is capped at
``max_yaw_rate * dt``.

Status (measured, KITTI development split, Car, PointRCNN detections)
--------------------------------------------------------------------
Off by default (``EgoRotationConfig.enabled = False``). Turned on, the estimate follows the
turn of sequence 0004 (about 50 mrad per frame at its peak, compared with a robust fit on the
ground-truth boxes) but is noisy elsewhere (a few to 20 mrad rms against that reference), and
rotating every track by it added ID switches (Car IDS 6-21 instead of 1, sAMOTA 91.5-92.1
instead of 92.37, depending on the settings): the compensation lags and overshoots at turn
entry and exit, and tracks whose velocity already absorbed the sweep are rotated twice. Starting
new tracks with the scene's majority motion alone (``compensate=False``) kept IDS at 1 but moved
the switch (0004, ground-truth track 7 at frame 38) and cost sAMOTA 0.09 and MOTA 0.33. That
switch is removed instead by giving young tracks both hypotheses, at rest in the ego frame and
moving with the scene, and letting the detection choose (:mod:`fusionlabel.track.birth_prior`,
on by default).

Example
-------
>>> import numpy as np
>>> f = EgoRotationFilter(EgoRotationConfig(enabled=True), dt=0.1)
>>> p = np.array([[30.0, 5.0], [40.0, -8.0], [25.0, 12.0]])
>>> c, s = np.cos(0.03), np.sin(0.03)
>>> z = p @ np.array([[c, s], [-s, c]])          # the scene turned by 0.03 rad
>>> _ = f.predict()
>>> 0.0 < f.measure(p, z) < 0.03                 # part of the turn at once (the Kalman gain)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class EgoRotationConfig:
    """Parameters of the ego-rotation estimate (SI units; used only when no ego poses are given).

    Attributes
    ----------
    enabled : estimate the ego's rotation when tracking without poses (off by default: on the KITTI
        development split it added ID switches, see the module docstring)
    compensate : rotate the tracks by the estimate before association
    birth_velocity : start new tracks with the scene's majority motion instead of zero velocity
    yaw_rate_sigma : rad/s, spread of the ego's turn rate (the stationary standard deviation of
        the turn-rate model, and its uncertainty at the start)
    yaw_rate_tau : s, correlation time of the turn rate: without evidence, the estimate relaxes
        towards driving straight with this time constant (turns end)
    meas_sigma : m, lateral noise of one matched track's residual (detection and prediction)
    min_objects : inlier objects needed for a measurement (with 3, one moving object among them
        is recognised as such)
    inlier_gate : m, objects whose displacement differs from the majority's by more than this
        (after the rotation) move on their own and are not used
    max_yaw_rate : rad/s, cap on the estimated turn rate
    reassociate : m, re-run association when the correction moves a track more than this
    """

    enabled: bool = False
    compensate: bool = True
    birth_velocity: bool = True
    yaw_rate_sigma: float = 0.3
    yaw_rate_tau: float = 1.0
    meas_sigma: float = 0.5
    min_objects: int = 3
    inlier_gate: float = 0.8
    max_yaw_rate: float = 1.5
    reassociate: float = 0.25


def fit_rotation(p: NDArray[np.float64], z: NDArray[np.float64], inlier_gate: float) -> tuple[float, float, int]:
    """The rotation, information and inlier count of :func:`fit_rigid` (see there)."""
    angle, _, info, n = fit_rigid(p, z, inlier_gate)
    return angle, info, n


def fit_rigid(
    p: NDArray[np.float64], z: NDArray[np.float64], inlier_gate: float
) -> tuple[float, NDArray[np.float64], float, int]:
    """Robust rigid 2D fit ``z ~ R(angle) p + t`` of the majority motion of the scene.

    The translation (the ego's displacement, unknown without odometry) is never needed: the
    rotation is that of the *difference vectors* between objects, ``z_i - z_j = R (p_i - p_j)``
    for any two objects moving with the same velocity (two parked cars, two cars in a column), so
    the estimate does not depend on the tracks' velocities either.

    1. every pair ``i < j``: the angle from ``p_i - p_j`` to ``z_i - z_j``; their median weighted
       by ``|p_i - p_j|^2`` (the inverse variance of a pair's angle) is ``a_med``;
    2. each object's translation ``t_i = z_i - R(a_med) p_i``; objects farther than
       ``inlier_gate`` from the component-wise median translation move differently from the
       majority and are dropped;
    3. least squares over the inliers (Procrustes about their centroids ``p_bar``, ``z_bar``)::

           angle = atan2(sum (p_i - p_bar) x (z_i - z_bar), sum (p_i - p_bar) . (z_i - z_bar))

    Parameters
    ----------
    p : (N, 2) float64, m, positions at the previous frame (that frame's ego frame)
    z : (N, 2) float64, m, the same objects now (this frame's ego frame)
    inlier_gate : m

    Returns
    -------
    angle : rad, counter-clockwise (0 when fewer than 2 objects)
    t : (2,) float64, m, the translation ``z_bar - R(angle) p_bar`` of the inliers
    info : m^2, ``sum |p_i - p_bar|^2`` over the inliers (the estimate's variance is
        ``2 sigma^2 / info`` for a position noise ``sigma`` on both ends)
    n : number of inliers
    """
    p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
    z = np.asarray(z, dtype=np.float64).reshape(-1, 2)
    n = len(p)
    if n < 2:
        return 0.0, np.zeros(2), 0.0, 0
    i, j = np.triu_indices(n, 1)
    dp, dz = p[i] - p[j], z[i] - z[j]
    w = dp[:, 0] ** 2 + dp[:, 1] ** 2
    a = np.arctan2(dp[:, 0] * dz[:, 1] - dp[:, 1] * dz[:, 0], dp[:, 0] * dz[:, 0] + dp[:, 1] * dz[:, 1])
    o = np.argsort(a)
    cw = np.cumsum(w[o])
    a_med = a[o][min(int(np.searchsorted(cw, 0.5 * cw[-1])), len(o) - 1)]
    c, s = np.cos(a_med), np.sin(a_med)
    t = z - np.column_stack([c * p[:, 0] - s * p[:, 1], s * p[:, 0] + c * p[:, 1]])
    inl = np.hypot(*(t - np.median(t, axis=0)).T) <= inlier_gate
    if inl.sum() < 2:
        return 0.0, np.zeros(2), 0.0, int(inl.sum())
    pc = p[inl] - p[inl].mean(axis=0)
    zc = z[inl] - z[inl].mean(axis=0)
    cross = float(np.sum(pc[:, 0] * zc[:, 1] - pc[:, 1] * zc[:, 0]))
    dot = float(np.sum(pc[:, 0] * zc[:, 0] + pc[:, 1] * zc[:, 1]))
    ang = float(np.arctan2(cross, dot))
    c, s = np.cos(ang), np.sin(ang)
    pb, zb = p[inl].mean(axis=0), z[inl].mean(axis=0)
    t = zb - np.array([c * pb[0] - s * pb[1], s * pb[0] + c * pb[1]])
    return ang, t, float(np.sum(pc * pc)), int(inl.sum())


class EgoRotationFilter:
    """Scalar constant-rate Kalman filter on the scene's apparent rotation per frame.

    Attributes
    ----------
    rate : rad per frame, the current estimate of ``phi`` (counter-clockwise positive)
    var : rad^2, its variance
    """

    def __init__(self, config: EgoRotationConfig, dt: float) -> None:
        self.config = config
        self.dt = dt
        self._a = float(np.exp(-dt / config.yaw_rate_tau))
        self._v_stat = (config.yaw_rate_sigma * dt) ** 2
        self._q = self._v_stat * (1.0 - self._a * self._a)
        self._max = config.max_yaw_rate * dt
        self.rate = 0.0
        self.var = self._v_stat
        #: the scene's majority motion of the last measurement, ``z = R(angle) p + t`` (or None)
        self.motion: tuple[float, NDArray[np.float64]] | None = None

    def predict(self) -> float:
        """One frame ahead, ``phi = a phi``, ``V = a^2 V + q``; returns the rotation (rad) to
        apply to the tracks now."""
        self.rate *= self._a
        self.var = self._a * self._a * self.var + self._q
        return self.rate

    def measure(self, p: NDArray[np.float64], z: NDArray[np.float64]) -> float:
        """Update with one frame's rotation measured on matched objects (see the module
        docstring); returns the correction (rad) to apply to the tracks now (0 when the objects
        make no measurement).

        Parameters
        ----------
        p : (N, 2) float64, m, filtered centres of tracks at the previous frame (its ego frame)
        z : (N, 2) float64, m, their matched detections now (this frame's ego frame)
        """
        cfg = self.config
        phi, t, info, n = fit_rigid(p, z, cfg.inlier_gate)
        if n < cfg.min_objects or info <= 0.0:
            self.motion = None
            return 0.0
        self.motion = (phi, t)
        s2 = 2.0 * cfg.meas_sigma**2 / info  # variance of phi
        k = self.var / (self.var + s2)
        new = float(np.clip(self.rate + k * (phi - self.rate), -self._max, self._max))
        corr = new - self.rate
        self.rate = new
        self.var = (1.0 - k) * self.var
        return corr

    def birth_velocity(self, xy: NDArray[np.float64]) -> NDArray[np.float64] | None:
        """(M, 3) m/s prior velocity of objects first seen at ``xy`` (M, 2) m, ego frame: the
        scene's majority motion, ``v = ((R - I) xy + t) / dt`` (None without a measurement)."""
        if self.motion is None:
            return None
        phi, t = self.motion
        c, s = np.cos(phi), np.sin(phi)
        v = np.zeros((len(xy), 3))
        v[:, 0] = ((c - 1.0) * xy[:, 0] - s * xy[:, 1] + t[0]) / self.dt
        v[:, 1] = (s * xy[:, 0] + (c - 1.0) * xy[:, 1] + t[1]) / self.dt
        return v


__all__ = ["EgoRotationConfig", "EgoRotationFilter", "fit_rigid", "fit_rotation"]
