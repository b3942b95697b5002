"""Compiled (numba) kernel of the association affinity: the tracker's inner loop.

:func:`affinity_kernel` computes, for every (track, detection) pair within the gate, the same
3D GIoU / IoU as :func:`fusionlabel.track.association.giou_3d_pairs` (and so as
:func:`fusionlabel.core.boxes.giou_3d`), with scalar geometry instead of array broadcasting:

* footprint intersection: Sutherland-Hodgman clipping of one counter-clockwise quad by the
  four half-planes of the other, then the shoelace area;
* enclosing footprint: Andrew's monotone-chain convex hull of the 8 corners, shoelace area.

Compiled on first use and cached beside this file (``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

_SX = np.array([0.5, -0.5, -0.5, 0.5])
_SY = np.array([0.5, 0.5, -0.5, -0.5])


@njit(cache=True)
def _corners(b: NDArray[np.float64], out: NDArray[np.float64]) -> None:
    c, s = np.cos(b[6]), np.sin(b[6])
    for k in range(4):
        lx = _SX[k] * b[3]
        ly = _SY[k] * b[4]
        out[k, 0] = b[0] + lx * c - ly * s
        out[k, 1] = b[1] + lx * s + ly * c


@njit(cache=True)
def _shoelace(p: NDArray[np.float64], n: int) -> float:
    a = 0.0
    for k in range(n):
        j = (k + 1) % n
        a += p[k, 0] * p[j, 1] - p[j, 0] * p[k, 1]
    return 0.5 * a


@njit(cache=True)
def _clip_area(
    ca: NDArray[np.float64], cb: NDArray[np.float64], buf1: NDArray[np.float64], buf2: NDArray[np.float64]
) -> float:
    """Area of quad ``ca`` clipped by the CCW quad ``cb`` (Sutherland-Hodgman)."""
    n = 4
    for k in range(4):
        buf1[k, 0] = ca[k, 0]
        buf1[k, 1] = ca[k, 1]
    src, dst = buf1, buf2
    for e in range(4):
        ex0, ey0 = cb[e, 0], cb[e, 1]
        ex1, ey1 = cb[(e + 1) % 4, 0], cb[(e + 1) % 4, 1]
        dx, dy = ex1 - ex0, ey1 - ey0
        m = 0
        for k in range(n):
            px, py = src[k, 0], src[k, 1]
            qx, qy = src[(k + 1) % n, 0], src[(k + 1) % n, 1]
            sp = dx * (py - ey0) - dy * (px - ex0)  # > 0: p inside (left of the edge)
            sq = dx * (qy - ey0) - dy * (qx - ex0)
            if sp >= 0.0:
                dst[m, 0] = px
                dst[m, 1] = py
                m += 1
            if (sp >= 0.0) != (sq >= 0.0):
                t = sp / (sp - sq)
                dst[m, 0] = px + t * (qx - px)
                dst[m, 1] = py + t * (qy - py)
                m += 1
        n = m
        if n < 3:
            return 0.0
        src, dst = dst, src
    return abs(_shoelace(src, n))


@njit(cache=True)
def _hull_area(pts: NDArray[np.float64], hull: NDArray[np.float64]) -> float:
    """Area of the convex hull of the 8 points ``pts`` (monotone chain)."""
    n = pts.shape[0]
    # insertion sort by (x, y)
    for i in range(1, n):
        x, y = pts[i, 0], pts[i, 1]
        j = i - 1
        while j >= 0 and (pts[j, 0] > x or (pts[j, 0] == x and pts[j, 1] > y)):
            pts[j + 1, 0] = pts[j, 0]
            pts[j + 1, 1] = pts[j, 1]
            j -= 1
        pts[j + 1, 0] = x
        pts[j + 1, 1] = y
    k = 0
    for i in range(n):  # lower hull
        while (
            k >= 2
            and (hull[k - 1, 0] - hull[k - 2, 0]) * (pts[i, 1] - hull[k - 2, 1])
            - (hull[k - 1, 1] - hull[k - 2, 1]) * (pts[i, 0] - hull[k - 2, 0])
            <= 0.0
        ):
            k -= 1
        hull[k, 0] = pts[i, 0]
        hull[k, 1] = pts[i, 1]
        k += 1
    lo = k + 1
    for i in range(n - 2, -1, -1):  # upper hull
        while (
            k >= lo
            and (hull[k - 1, 0] - hull[k - 2, 0]) * (pts[i, 1] - hull[k - 2, 1])
            - (hull[k - 1, 1] - hull[k - 2, 1]) * (pts[i, 0] - hull[k - 2, 0])
            <= 0.0
        ):
            k -= 1
        hull[k, 0] = pts[i, 0]
        hull[k, 1] = pts[i, 1]
        k += 1
    return abs(_shoelace(hull, k - 1))


@njit(cache=True)
def affinity_kernel(
    tracks: NDArray[np.float64], dets: NDArray[np.float64], metric: int, gate: float
) -> NDArray[np.float64]:
    """(T, D) affinities of (T, 7) and (D, 7) boxes; ``-inf`` beyond the centre-distance gate.

    metric: 0 = GIoU, 1 = IoU, 2 = negative centre distance (m).
    """
    nt, nd = tracks.shape[0], dets.shape[0]
    out = np.full((nt, nd), -np.inf)
    ca = np.empty((4, 2))
    cb = np.empty((4, 2))
    buf1 = np.empty((16, 2))
    buf2 = np.empty((16, 2))
    pts = np.empty((8, 2))
    hull = np.empty((17, 2))
    for i in range(nt):
        a = tracks[i]
        for j in range(nd):
            b = dets[j]
            d = np.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2)
            if not d < gate:
                continue
            if metric == 2:
                out[i, j] = -d
                continue
            # work relative to the track centre (smaller numbers)
            _corners(a, ca)
            _corners(b, cb)
            ox, oy = a[0], a[1]
            for k in range(4):
                ca[k, 0] -= ox
                ca[k, 1] -= oy
                cb[k, 0] -= ox
                cb[k, 1] -= oy
            za0, za1 = a[2] - a[5] / 2, a[2] + a[5] / 2
            zb0, zb1 = b[2] - b[5] / 2, b[2] + b[5] / 2
            zo = min(za1, zb1) - max(za0, zb0)
            inter = 0.0
            if zo > 0.0:
                inter = _clip_area(ca, cb, buf1, buf2) * zo
            union = a[3] * a[4] * a[5] + b[3] * b[4] * b[5] - inter
            iou = inter / max(union, 1e-12)
            if metric == 1:
                out[i, j] = iou
                continue
            for k in range(4):
                pts[k, 0] = ca[k, 0]
                pts[k, 1] = ca[k, 1]
                pts[4 + k, 0] = cb[k, 0]
                pts[4 + k, 1] = cb[k, 1]
            enclose = _hull_area(pts, hull) * (max(za1, zb1) - min(za0, zb0))
            out[i, j] = iou - (enclose - union) / max(enclose, 1e-12)
    return out


@njit(cache=True)
def assignment_margins(
    affinity: NDArray[np.float64], threshold: float, rows: NDArray[np.int64], cols: NDArray[np.int64]
) -> NDArray[np.float64]:
    """(K,) margin of each match ``(rows[k], cols[k])``: its affinity minus the best feasible
    (``> threshold``) affinity of another pair sharing its row or its column (``inf`` if none)."""
    nt, nd = affinity.shape
    out = np.empty(len(rows))
    for k in range(len(rows)):
        i, j = rows[k], cols[k]
        best = -np.inf
        for jj in range(nd):
            v = affinity[i, jj]
            if jj != j and v > threshold and v > best:
                best = v
        for ii in range(nt):
            v = affinity[ii, j]
            if ii != i and v > threshold and v > best:
                best = v
        out[k] = affinity[i, j] - best
    return out


# -- Kalman filter kernels (the equations of fusionlabel.track.kalman, one track at a time) ------

_PI = np.pi
_TWO_PI = 2.0 * np.pi


@njit(cache=True, inline="always")
def wrap_scalar(a: float) -> float:
    """One angle wrapped to (-pi, pi]: the compiled twin of :func:`fusionlabel.core.boxes.wrap_angle`."""
    w = a - _TWO_PI * np.floor((a + _PI) / _TWO_PI)
    return _PI if w == -_PI else w


@njit(cache=True)
def kf_predict(x: NDArray[np.float64], P: NDArray[np.float64], F: NDArray[np.float64], Q: NDArray[np.float64]) -> None:
    """In place for every row: ``x = F x``, ``P = F P F' + Q`` ((N, 10) and (N, 10, 10))."""
    FT = np.ascontiguousarray(F.T)
    for i in range(x.shape[0]):
        x[i] = F @ np.ascontiguousarray(x[i])
        P[i] = F @ np.ascontiguousarray(P[i]) @ FT + Q


@njit(cache=True)
def kf_update(
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    idx: NDArray[np.int64],
    z: NDArray[np.float64],
    R_diag: NDArray[np.float64],
    flipped: NDArray[np.bool_],
) -> None:
    """In place: box update of rows ``idx`` with (M, 7) measurements ``z``; heading flips in ``flipped``.

    Per row (``H = [I_7 | 0]``, yaw innovation aligned modulo pi, see ``kalman.align_yaw``)::

        y = z - H x;  S = P[:7, :7] + R;  K = P[:, :7] S^-1;  x = x + K y
        P = (I - K H) P (I - K H)' + K R K'
    """
    n = x.shape[1]
    m = z.shape[1]
    y = np.empty(m)
    for k in range(idx.shape[0]):
        i = idx[k]
        d = z[k, 6] - x[i, 6]
        d = wrap_scalar(d)
        fl = abs(d) > _PI / 2.0
        if fl:
            d = d - _PI * np.sign(d)
        flipped[k] = fl
        za = x[i, 6] + d
        for a in range(m):
            y[a] = z[k, a] - x[i, a]
        y[6] = za - x[i, 6]
        Pi = np.ascontiguousarray(P[i])
        S = np.ascontiguousarray(Pi[:m, :m]).copy()
        for a in range(m):
            S[a, a] += R_diag[a]
        PHT = np.ascontiguousarray(Pi[:, :m])
        K = PHT @ np.linalg.inv(S)
        x[i] += K @ y
        I_KH = np.eye(n)
        I_KH[:, :m] -= K
        KR = K * R_diag
        P[i] = I_KH @ Pi @ np.ascontiguousarray(I_KH.T) + KR @ np.ascontiguousarray(K.T)
        x[i, 6] = wrap_scalar(x[i, 6])


@njit(cache=True)
def kf_rotate(x: NDArray[np.float64], P: NDArray[np.float64], phi: float) -> None:
    """In place for every row: rotate the position about the origin by ``phi`` (rad, CCW) and
    turn the yaw with it; ``x' = G x``, ``P' = G P G'`` with ``G`` the rotation on ``x, y``
    (velocity, size and height untouched; see ``kalman.rotate_state``)."""
    c, s = np.cos(phi), np.sin(phi)
    n = x.shape[1]
    for i in range(x.shape[0]):
        x0, x1 = x[i, 0], x[i, 1]
        x[i, 0] = c * x0 - s * x1
        x[i, 1] = s * x0 + c * x1
        yw = x[i, 6] + phi
        x[i, 6] = wrap_scalar(yw)
        for j in range(n):  # rows: G P
            a, b = P[i, 0, j], P[i, 1, j]
            P[i, 0, j] = c * a - s * b
            P[i, 1, j] = s * a + c * b
        for j in range(n):  # columns: (G P) G'
            a, b = P[i, j, 0], P[i, j, 1]
            P[i, j, 0] = c * a - s * b
            P[i, j, 1] = s * a + c * b


@njit(cache=True)
def _inv3(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse of a (3, 3) matrix by its adjugate."""
    out = np.empty((3, 3))
    out[0, 0] = a[1, 1] * a[2, 2] - a[1, 2] * a[2, 1]
    out[0, 1] = a[0, 2] * a[2, 1] - a[0, 1] * a[2, 2]
    out[0, 2] = a[0, 1] * a[1, 2] - a[0, 2] * a[1, 1]
    out[1, 0] = a[1, 2] * a[2, 0] - a[1, 0] * a[2, 2]
    out[1, 1] = a[0, 0] * a[2, 2] - a[0, 2] * a[2, 0]
    out[1, 2] = a[0, 2] * a[1, 0] - a[0, 0] * a[1, 2]
    out[2, 0] = a[1, 0] * a[2, 1] - a[1, 1] * a[2, 0]
    out[2, 1] = a[0, 1] * a[2, 0] - a[0, 0] * a[2, 1]
    out[2, 2] = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
    det = a[0, 0] * out[0, 0] + a[0, 1] * out[1, 0] + a[0, 2] * out[2, 0]
    return out / det


@njit(cache=True)
def scene_update(
    theta: NDArray[np.float64],
    P: NDArray[np.float64],
    p: NDArray[np.float64],
    z: NDArray[np.float64],
    sigma2: float,
    gate: float,
) -> int:
    """Gated linear Kalman update, in place, of the scene motion ``theta = (phi, tx, ty)`` (3,)
    and its covariance ``P`` (3, 3) with the displacements of N objects from ``p`` (N, 2) to
    ``z`` (N, 2): ``z_i - p_i = H_i theta + e``, ``H_i = [[-p_iy, 1, 0], [p_ix, 0, 1]]``
    (small-angle rigid motion), ``e ~ N(0, sigma2 I)``. Objects whose residual exceeds
    ``gate + 2 sqrt(trace(H_i P H_i'))`` are left out. Information form::

        P' = (P^-1 + sum H_i' H_i / sigma2)^-1,   theta' = P' (P^-1 theta + sum H_i' d_i / sigma2)

    Returns the number of objects used.
    """
    A = np.zeros((3, 3))
    b = np.zeros(3)
    m = 0
    for i in range(p.shape[0]):
        hx0, hy0 = -p[i, 1], p[i, 0]  # d/dphi of the displacement
        dx, dy = z[i, 0] - p[i, 0], z[i, 1] - p[i, 1]
        rx = dx - (hx0 * theta[0] + theta[1])
        ry = dy - (hy0 * theta[0] + theta[2])
        # trace(H P H') = hx P hx' + hy P hy',  hx = (hx0, 1, 0), hy = (hy0, 0, 1)
        vx = hx0 * hx0 * P[0, 0] + 2.0 * hx0 * P[0, 1] + P[1, 1]
        vy = hy0 * hy0 * P[0, 0] + 2.0 * hy0 * P[0, 2] + P[2, 2]
        if np.sqrt(rx * rx + ry * ry) > gate + 2.0 * np.sqrt(vx + vy):
            continue
        m += 1
        A[0, 0] += hx0 * hx0 + hy0 * hy0
        A[0, 1] += hx0
        A[0, 2] += hy0
        A[1, 1] += 1.0
        A[2, 2] += 1.0
        b[0] += hx0 * dx + hy0 * dy
        b[1] += dx
        b[2] += dy
    if m == 0:
        return 0
    A[1, 0] = A[0, 1]
    A[2, 0] = A[0, 2]
    Pi = _inv3(P)
    Pn = _inv3(Pi + A / sigma2)
    rhs = Pi @ theta + b / sigma2
    theta[:] = Pn @ rhs
    P[:, :] = 0.5 * (Pn + Pn.T)
    return m


@njit(cache=True)
def scene_hypothesis_kernel(
    x: NDArray[np.float64], steps: NDArray[np.int64], angle: float, tx: float, ty: float, dt: float
) -> NDArray[np.float64]:
    """The states ``x`` (M, 10) under the scene's motion ``z = R(angle) p + t`` per frame, ``steps``
    (M,) frames after their last detection (the equations of
    :func:`fusionlabel.track.birth_prior.scene_hypothesis`)."""
    c, s = np.cos(angle), np.sin(angle)
    out = x.copy()
    for i in range(x.shape[0]):
        k = float(steps[i])
        p0x = x[i, 0] - k * dt * x[i, 7]
        p0y = x[i, 1] - k * dt * x[i, 8]
        dx = (c - 1.0) * p0x - s * p0y + tx
        dy = s * p0x + (c - 1.0) * p0y + ty
        out[i, 0] = p0x + k * dx
        out[i, 1] = p0y + k * dy
        a = x[i, 6] + k * angle
        out[i, 6] = wrap_scalar(a)
        out[i, 7] = dx / dt
        out[i, 8] = dy / dt
    return out


@njit(cache=True)
def merge_hypotheses(
    aff: NDArray[np.float64],
    aff_alt: NDArray[np.float64],
    young: NDArray[np.int64],
    mt: NDArray[np.int64],
    md: NDArray[np.int64],
    threshold: float,
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.int64], NDArray[np.float64], bool]:
    """The better of two hypotheses' affinities for the young tracks.

    Parameters
    ----------
    aff : (T, D) affinities of the predictions; aff_alt : (Y, D) those of the young tracks'
        second hypothesis; young : (Y,) their rows (increasing); mt, md : (K,) the matches of ``aff``
    threshold : a pair is feasible when its affinity exceeds it

    Returns
    -------
    merged : (T, D) ``aff`` with young rows replaced by the pairwise maximum
    better : (Y, D) where the second hypothesis is better
    my : (K,) young index of each match (-1 for the other tracks)
    gain : (K,) affinity gained by each match
    reassociate : whether a feasible pair outside the matches improved (else the matches stay
        optimal: only their affinity, and their margin, grow by ``gain``)
    """
    merged = aff.copy()
    better = np.zeros(aff_alt.shape, dtype=np.bool_)
    yi = np.full(aff.shape[0], -1, dtype=np.int64)
    n_new = 0
    for k in range(young.shape[0]):
        r = young[k]
        yi[r] = k
        for j in range(aff.shape[1]):
            if aff_alt[k, j] > aff[r, j]:
                better[k, j] = True
                merged[r, j] = aff_alt[k, j]
                if aff_alt[k, j] > threshold:
                    n_new += 1
    my = np.empty(mt.shape[0], dtype=np.int64)
    gain = np.zeros(mt.shape[0])
    n_gain = 0
    for m in range(mt.shape[0]):
        my[m] = yi[mt[m]]
        if my[m] >= 0 and better[my[m], md[m]]:
            gain[m] = aff_alt[my[m], md[m]] - aff[mt[m], md[m]]
            n_gain += 1
    return merged, better, my, gain, n_new > n_gain


@njit(cache=True)
def young_hypotheses(
    x: NDArray[np.float64],
    young: NDArray[np.int64],
    steps: NDArray[np.int64],
    angle: float,
    tx: float,
    ty: float,
    dt: float,
    boxes: NDArray[np.float64],
    metric: int,
    gate: float,
    aff: NDArray[np.float64],
    mt: NDArray[np.int64],
    md: NDArray[np.int64],
    threshold: float,
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.bool_],
    NDArray[np.int64],
    NDArray[np.float64],
    bool,
    NDArray[np.int64],
]:
    """The young tracks' scene hypothesis (:func:`scene_hypothesis_kernel` of rows ``young`` of
    ``x``), its affinities to ``boxes`` (:func:`affinity_kernel`) and their merge with ``aff``
    (:func:`merge_hypotheses`), in one call. Returns ``x_alt`` (Y, 10), what
    :func:`merge_hypotheses` returns, and the matches whose affinity the hypothesis raised."""
    xs = np.empty((young.shape[0], x.shape[1]))
    for k in range(young.shape[0]):
        xs[k] = x[young[k]]
    x_alt = scene_hypothesis_kernel(xs, steps, angle, tx, ty, dt)
    aff_alt = affinity_kernel(np.ascontiguousarray(x_alt[:, :7]), boxes, metric, gate)
    merged, better, my, gain, again = merge_hypotheses(aff, aff_alt, young, mt, md, threshold)
    return x_alt, merged, better, my, gain, again, np.flatnonzero(gain > 0.0)
