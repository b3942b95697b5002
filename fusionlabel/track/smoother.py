"""Offline smoothing of finished tracks: the Rauch-Tung-Striebel fixed-interval smoother.

Why
---
The online filter's estimate at frame ``k`` uses the detections up to ``k`` only. When an object
changes its apparent motion (the ego brakes, the object turns) the constant-velocity posterior
*lags* its detections until the velocity has caught up: on KITTI a car 35-40 m ahead was seen
reported 1.3 m behind a detection that fitted the labelled box with 3D IoU 0.84, and such lags
were the main cause of fragmentations (the box dips below the evaluation's IoU 0.25 and
comes back). Labelling is offline: every detection of a track is known when it is reported, so
each box can use the detections before *and after* it. The RTS smoother gives the minimum-variance
estimate of every state of a linear-Gaussian model from all measurements of the interval.

Method
------
For each track, over its rows ``k = 0 .. n-1`` (consecutive reported frames; ``s_k`` frames between
rows ``k-1`` and ``k``, 1 in the tracker), a forward Kalman pass with the tracker's motion model
(:class:`~fusionlabel.track.kalman.MotionModel`), started from the first detection with
``P = P0`` and zero velocity::

    predict  x_k|k-1 = F^s x_k-1|k-1,   P_k|k-1 = F P F' + Q  (s times)
    update   (rows with a detection z_k; yaw aligned modulo pi as kalman.align_yaw)
             K = P H' (H P H' + R)^-1,  x_k|k = x + K (z - H x),
             P_k|k = (I - K H) P (I - K H)' + K R K'          (Joseph form, as filterpy)

then the backward pass (Rauch, Tung and Striebel, 1965)::

    C_k  = P_k|k (F^s)' P_k+1|k^-1
    x_k|n = x_k|k + C_k (x_k+1|n - x_k+1|k)

Rows without a detection (coasting gaps) are predicted only; their smoothed states are the
optimal interpolation of the model between the detections on either side. The yaw is kept
continuous through both passes (each measured yaw is brought within pi/2 of the prediction)
and wrapped to [-pi, pi) only on output.

What the smoother does not use: radar range rates (they steer the online association, not the
reported boxes) and the online filter's re-initialisations (the birth prior's "moving with
the scene" hypothesis): the backward pass recovers a young track's velocity from its later
detections instead.

Two implementations: :func:`smooth_tracks` (compiled, every track of a sequence in one call;
the tracker's) and :func:`smooth_track_filterpy` (filterpy's ``KalmanFilter`` forward and its
``rts_smoother`` backward: the reference). Tests hold them equal to 1e-9. The compiled one uses
the model's structure: ``F``, ``Q`` and ``P0`` are block diagonal (each centre coordinate with
its velocity; each size and the yaw alone), ``H = [I_7 | 0]`` and ``R`` is diagonal, so the
10-state filter and smoother split exactly into three 2-state and four 1-state ones (checked
on every call: a model that couples the blocks is refused).

Example
-------
>>> import numpy as np
>>> from fusionlabel.track.kalman import MotionModel
>>> z = np.array([[10.0 + k, 0.0, 1.0, 4.0, 1.8, 1.5, 0.0] for k in range(5)])
>>> z[2] = np.nan                               # a frame without a detection
>>> x = smooth_tracks(np.array([0, 5]), np.ones(5, np.int64), z, MotionModel())
>>> round(float(x[2, 0]), 2), round(float(x[2, 7]), 1)   # centre of the gap, about 10 m/s
(12.0, 9.9)
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from fusionlabel.core.boxes import wrap_angle
from fusionlabel.track._fast import wrap_scalar
from fusionlabel.track.kalman import MEAS_DIM, STATE_DIM, YAW, MotionModel

_PI = np.pi


@njit(cache=True)
def _rts_axis(
    starts: NDArray[np.int64],
    steps: NDArray[np.int64],
    z: NDArray[np.float64],
    F: NDArray[np.float64],
    Q: NDArray[np.float64],
    r: float,
    P0: NDArray[np.float64],
    is_yaw: bool,
    out_p: NDArray[np.float64],
    out_v: NDArray[np.float64],
) -> None:
    """RTS smoother of one independent block of the state: a measured entry ``p`` and, when
    ``F`` is 2 x 2, its rate ``v`` (``[p, v]`` with ``F``, ``Q``, ``P0`` 2 x 2; a 1 x 1 block
    has no rate). ``z`` (R,) is the measured ``p`` (NaN: none); ``is_yaw`` aligns the
    innovation modulo pi. Writes the smoothed ``p`` (and ``v``) of every row."""
    d = F.shape[0]
    n_max = 0
    for t in range(starts.shape[0] - 1):
        n_max = max(n_max, starts[t + 1] - starts[t])
    # work arrays for the longest track: filtered and predicted means / covariances, s-step F
    xf = np.zeros((n_max, 2))
    Pf = np.zeros((n_max, 2, 2))
    xp = np.zeros((n_max, 2))
    Pp = np.zeros((n_max, 2, 2))
    Fs = np.zeros((n_max, 2, 2))
    x = np.zeros(2)
    P = np.zeros((2, 2))
    T = np.zeros((2, 2))
    for t in range(starts.shape[0] - 1):
        a, b = starts[t], starts[t + 1]
        n = b - a
        if n <= 0:
            continue
        x[:] = 0.0
        x[0] = z[a]
        if is_yaw:
            x[0] = wrap_scalar(x[0])
        P[:, :] = 0.0
        for i in range(d):
            for j in range(d):
                P[i, j] = P0[i, j]
        for k in range(n):
            rr = a + k
            if k > 0:
                # predict s steps: x = F x, P = F P F' + Q; Fs[k] = F^s
                for i in range(2):
                    for j in range(2):
                        Fs[k, i, j] = 1.0 if i == j else 0.0
                for _ in range(steps[rr]):
                    x0 = F[0, 0] * x[0] + (F[0, 1] * x[1] if d == 2 else 0.0)
                    x1 = F[1, 1] * x[1] if d == 2 else 0.0
                    x[0], x[1] = x0, x1
                    for i in range(d):  # T = F P
                        for j in range(d):
                            acc = 0.0
                            for m in range(d):
                                acc += F[i, m] * P[m, j]
                            T[i, j] = acc
                    for i in range(d):  # P = T F' + Q
                        for j in range(d):
                            acc = 0.0
                            for m in range(d):
                                acc += T[i, m] * F[j, m]
                            P[i, j] = acc + Q[i, j]
                    for i in range(d):  # Fs = F Fs
                        for j in range(d):
                            acc = 0.0
                            for m in range(d):
                                acc += F[i, m] * Fs[k, m, j]
                            T[i, j] = acc
                    for i in range(d):
                        for j in range(d):
                            Fs[k, i, j] = T[i, j]
            xp[k, 0], xp[k, 1] = x[0], x[1]
            for i in range(2):
                for j in range(2):
                    Pp[k, i, j] = P[i, j]
            if k > 0 and not np.isnan(z[rr]):
                y = z[rr] - x[0]
                if is_yaw:  # innovation aligned modulo pi (kalman.align_yaw); state left unwrapped
                    y = wrap_scalar(y)
                    if abs(y) > _PI / 2.0:
                        y = y - _PI * np.sign(y)
                # K = P H' / (H P H' + r), H = [1, 0]; x = x + K y
                S = P[0, 0] + r
                k0 = P[0, 0] / S
                k1 = P[1, 0] / S if d == 2 else 0.0
                x[0] += k0 * y
                x[1] += k1 * y
                # Joseph form with A = I - K H = [[1 - k0, 0], [-k1, 1]]: P = A P A' + r K K'
                p00, p01, p10, p11 = P[0, 0], P[0, 1], P[1, 0], P[1, 1]
                a00, a10 = 1.0 - k0, -k1
                t00, t01 = a00 * p00, a00 * p01
                t10, t11 = a10 * p00 + p10, a10 * p01 + p11
                P[0, 0] = t00 * a00 + r * k0 * k0
                if d == 2:
                    P[0, 1] = t00 * a10 + t01 + r * k0 * k1
                    P[1, 0] = t10 * a00 + r * k1 * k0
                    P[1, 1] = t10 * a10 + t11 + r * k1 * k1
            xf[k, 0], xf[k, 1] = x[0], x[1]
            for i in range(2):
                for j in range(2):
                    Pf[k, i, j] = P[i, j]
        # backward: C = P_k|k Fs' P_k+1|k^-1, x_k|n = x_k|k + C (x_k+1|n - x_k+1|k)
        s0, s1 = xf[n - 1, 0], xf[n - 1, 1]
        out_p[b - 1] = s0
        if d == 2:
            out_v[b - 1] = s1
        for k in range(n - 2, -1, -1):
            e0, e1 = s0 - xp[k + 1, 0], s1 - xp[k + 1, 1]
            if d == 2:
                # M = P_k|k Fs' (2 x 2), then C = M Pp^-1 with the 2 x 2 inverse
                f00, f01, f10, f11 = Fs[k + 1, 0, 0], Fs[k + 1, 0, 1], Fs[k + 1, 1, 0], Fs[k + 1, 1, 1]
                q00, q01, q10, q11 = Pf[k, 0, 0], Pf[k, 0, 1], Pf[k, 1, 0], Pf[k, 1, 1]
                m00, m01 = q00 * f00 + q01 * f01, q00 * f10 + q01 * f11
                m10, m11 = q10 * f00 + q11 * f01, q10 * f10 + q11 * f11
                g00, g01, g10, g11 = Pp[k + 1, 0, 0], Pp[k + 1, 0, 1], Pp[k + 1, 1, 0], Pp[k + 1, 1, 1]
                det = g00 * g11 - g01 * g10
                i00, i01, i10, i11 = g11 / det, -g01 / det, -g10 / det, g00 / det
                c00, c01 = m00 * i00 + m01 * i10, m00 * i01 + m01 * i11
                c10, c11 = m10 * i00 + m11 * i10, m10 * i01 + m11 * i11
                s0 = xf[k, 0] + c00 * e0 + c01 * e1
                s1 = xf[k, 1] + c10 * e0 + c11 * e1
                out_v[a + k] = s1
            else:
                s0 = xf[k, 0] + Pf[k, 0, 0] * Fs[k + 1, 0, 0] / Pp[k + 1, 0, 0] * e0
            out_p[a + k] = s0
        if is_yaw:
            for k in range(a, b):
                out_p[k] = wrap_scalar(out_p[k])


def _blocks(model: MotionModel) -> list[tuple[int, int | None]]:
    """The independent blocks of the model: ``(measured index, rate index or None)``, checked.

    The constant-velocity model's matrices are block diagonal (each centre coordinate with its
    velocity; each size and the yaw alone) and ``H = [I_7 | 0]``, ``R`` diagonal, so its Kalman
    filter and smoother split exactly into 3 two-state and 4 one-state problems.
    """
    blocks: list[tuple[int, int | None]] = [(0, 7), (1, 8), (2, 9), (3, None), (4, None), (5, None), (YAW, None)]
    mask = np.zeros((STATE_DIM, STATE_DIM), bool)
    for p, v in blocks:
        idx = [p] if v is None else [p, v]
        mask[np.ix_(idx, idx)] = True
    R = model.R()
    for name, M in (("F", model.F()), ("Q", model.Q()), ("P0", model.P0())):
        if np.any(M[~mask] != 0.0):
            raise ValueError(f"the smoother needs a block-diagonal motion model; {name} couples the blocks")
    if np.any(R != np.diag(np.diag(R))) or np.any(model.H() != np.eye(MEAS_DIM, STATE_DIM)):
        raise ValueError("the smoother needs H = [I | 0] and a diagonal R")
    return blocks


def smooth_tracks(
    starts: NDArray[np.int64], steps: NDArray[np.int64], z: NDArray[np.float64], model: MotionModel
) -> NDArray[np.float64]:
    """RTS-smoothed states of every row of every track.

    Parameters
    ----------
    starts : (K + 1,) int64 row offsets: track ``t`` owns rows ``starts[t]:starts[t+1]``, in frame order
    steps : (R,) int64 frames from the previous row of the same track (ignored on a track's first row)
    z : (R, 7) float64 box measurements ``[x, y, z, l, w, h, yaw]`` (tracking frame); a row of NaN
        where the track has no detection. The first row of each track must have one.
    model : the motion model (the tracker's)

    Returns
    -------
    (R, 10) float64 smoothed states ``[x, y, z, l, w, h, yaw, vx, vy, vz]`` (yaw wrapped to [-pi, pi))
    """
    z = np.ascontiguousarray(z, dtype=np.float64).reshape(-1, MEAS_DIM)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    steps = np.ascontiguousarray(steps, dtype=np.int64)
    if len(steps) != len(z):
        raise ValueError(f"steps has {len(steps)} rows, z {len(z)}")
    firsts = starts[:-1][np.diff(starts) > 0]
    if len(firsts) and np.isnan(z[firsts, 0]).any():
        raise ValueError("every track must start with a measurement")
    if (np.delete(steps, firsts) < 1).any():
        raise ValueError("rows of a track must be in increasing frame order (steps >= 1)")
    out = np.zeros((len(z), STATE_DIM))
    if not len(z):
        return out
    F, Q, P0, r = model.F(), model.Q(), model.P0(), np.diag(model.R())
    scratch = np.zeros(len(z))
    for p, v in _blocks(model):
        idx = [p] if v is None else [p, v]
        sub = np.ix_(idx, idx)
        _rts_axis(
            starts,
            steps,
            np.ascontiguousarray(z[:, p]),
            np.ascontiguousarray(F[sub]),
            np.ascontiguousarray(Q[sub]),
            float(r[p]),
            np.ascontiguousarray(P0[sub]),
            p == YAW,
            out[:, p],
            out[:, v] if v is not None else scratch,
        )
    return out


def smooth_track_filterpy(steps: NDArray[np.int64], z: NDArray[np.float64], model: MotionModel) -> NDArray[np.float64]:
    """The reference: one track (rows ``(n,)`` / ``(n, 7)`` as :func:`smooth_tracks`) through
    ``filterpy.kalman.KalmanFilter`` (predict / update in Joseph form) and its ``rts_smoother``.

    Returns the (n, 10) smoothed states (yaw wrapped).
    """
    from filterpy.kalman import KalmanFilter

    n = len(z)
    kf = KalmanFilter(dim_x=STATE_DIM, dim_z=MEAS_DIM)
    F, Q = model.F(), model.Q()
    kf.F, kf.H, kf.Q, kf.R, kf.P = F, model.H(), Q, model.R(), model.P0()
    kf.x = np.zeros((STATE_DIM, 1))
    kf.x[:MEAS_DIM, 0] = z[0]
    kf.x[YAW, 0] = wrap_angle(z[0, YAW])
    xs = np.zeros((n, STATE_DIM, 1))
    Ps = np.zeros((n, STATE_DIM, STATE_DIM))
    Fs = np.zeros((n, STATE_DIM, STATE_DIM))
    Qs = np.zeros((n, STATE_DIM, STATE_DIM))
    Fs[0], Qs[0] = F, Q
    for k in range(n):
        if k > 0:
            Fk, Qk = np.eye(STATE_DIM), np.zeros((STATE_DIM, STATE_DIM))
            for _ in range(int(steps[k])):
                kf.predict()
                Fk, Qk = F @ Fk, F @ Qk @ F.T + Q  # the s-step transition and its accumulated noise
            Fs[k], Qs[k] = Fk, Qk
            if not np.isnan(z[k, 0]):
                zk = z[k].copy()
                d = float(wrap_angle(zk[YAW] - kf.x[YAW, 0]))
                if abs(d) > np.pi / 2:
                    d -= np.pi * np.sign(d)
                zk[YAW] = kf.x[YAW, 0] + d
                kf.update(zk.reshape(MEAS_DIM, 1))
        xs[k], Ps[k] = kf.x, kf.P
    x_s, _, _, _ = kf.rts_smoother(xs, Ps, Fs, Qs)
    out = x_s[:, :, 0].copy()
    out[:, YAW] = wrap_angle(out[:, YAW])
    return out


__all__ = ["smooth_track_filterpy", "smooth_tracks"]
