"""Association of detections to tracks: exact batched 3D GIoU, gating and the Hungarian step.

Boxes enter as plain ``(N, 7)`` float64 arrays ``[x, y, z, l, w, h, yaw]`` (the layout of
:meth:`fusionlabel.core.boxes.Boxes.to_array`, gravity centre, metres, radians) because this is
the tracker's inner loop. :func:`giou_3d_pairs` computes the same numbers as
:func:`fusionlabel.core.boxes.giou_3d` (shapely) without a Python loop over pairs:

* footprint intersection of two convex quadrilaterals: the vertices of the intersection
  polygon are the corners of each box inside the other and the 16 edge-edge crossings; sorted by
  angle about their mean they give the area by the shoelace formula
  ``A = 1/2 sum_k (x_k y_k+1 - x_k+1 y_k)``;
* convex hull of the 8 footprint corners: a directed segment ``p_i -> p_j`` is a hull edge
  (counter-clockwise) when every other point lies strictly left of it or on it; the hull area is
  ``1/2 sum_(i->j) p_i x p_j`` over those edges;
* ``I = A_bev_inter * overlap_z``, ``U = V_a + V_b - I``, ``C = A_hull * extent_z`` and
  ``GIoU = I / U - (C - U) / C``.

Example
-------
>>> import numpy as np
>>> a = np.array([[0.0, 0, 0, 4, 2, 1.5, 0.0]])
>>> round(float(giou_3d_pairs(a, a)[0]), 6)
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from fusionlabel.track._fast import affinity_kernel, assignment_margins

#: association metric name -> code of the compiled kernels
METRICS = {"giou": 0, "iou": 1, "dist": 2}

#: cost given to gated-out pairs in the assignment problem
INFEASIBLE = 1e6

# corner signs of the footprint, counter-clockwise: (+l,+w), (-l,+w), (-l,-w), (+l,-w)
_SX = np.array([0.5, -0.5, -0.5, 0.5])
_SY = np.array([0.5, 0.5, -0.5, -0.5])
_HULL_I, _HULL_J = np.nonzero(~np.eye(8, dtype=bool))  # the 56 directed pairs of 8 points


def bev_corners(b: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N, 4, 2) counter-clockwise footprint corners of (N, 7) boxes."""
    c, s = np.cos(b[:, 6]), np.sin(b[:, 6])
    lx = _SX[None, :] * b[:, 3:4]
    ly = _SY[None, :] * b[:, 4:5]
    x = b[:, 0:1] + lx * c[:, None] - ly * s[:, None]
    y = b[:, 1:2] + lx * s[:, None] + ly * c[:, None]
    return np.stack([x, y], axis=-1)


def _cross(
    ax: NDArray[np.float64], ay: NDArray[np.float64], bx: NDArray[np.float64], by: NDArray[np.float64]
) -> NDArray[np.float64]:
    return ax * by - ay * bx


def _inside(pts: NDArray[np.float64], poly: NDArray[np.float64], tol: NDArray[np.float64]) -> NDArray[np.bool_]:
    """(K, P) whether each of P points lies in the CCW quad ``poly`` (K, 4, 2) (boundary included)."""
    e0 = poly
    e1 = np.roll(poly, -1, axis=1)
    ex = (e1 - e0)[:, None, :, 0]  # (K, 1, 4)
    ey = (e1 - e0)[:, None, :, 1]
    dx = pts[:, :, None, 0] - e0[:, None, :, 0]  # (K, P, 4)
    dy = pts[:, :, None, 1] - e0[:, None, :, 1]
    return np.all(_cross(ex, ey, dx, dy) >= -tol[:, None, None], axis=2)


def bev_intersection_pairs(ca: NDArray[np.float64], cb: NDArray[np.float64]) -> NDArray[np.float64]:
    """(K,) area of the intersection of K pairs of CCW quads ``ca``, ``cb`` (K, 4, 2), m^2."""
    k = len(ca)
    if k == 0:
        return np.zeros(0)
    # work relative to the first quad's first corner: smaller numbers, less cancellation
    o = ca[:, :1, :]
    ca = ca - o
    cb = cb - o
    scale = np.max(np.abs(np.concatenate([ca, cb], axis=1)), axis=(1, 2)) + 1e-12
    tol = 1e-12 * scale * scale
    in_a = _inside(ca, cb, tol)  # corners of a inside b  (K, 4)
    in_b = _inside(cb, ca, tol)
    # edge crossings: p + t r  and  q + u s
    p = ca[:, :, None, :]
    r = (np.roll(ca, -1, axis=1) - ca)[:, :, None, :]
    q = cb[:, None, :, :]
    s = (np.roll(cb, -1, axis=1) - cb)[:, None, :, :]
    den = _cross(r[..., 0], r[..., 1], s[..., 0], s[..., 1])  # (K, 4, 4)
    qp = q - p
    ok = np.abs(den) > 1e-14 * scale[:, None, None] ** 2
    den_safe = np.where(ok, den, 1.0)
    t = _cross(qp[..., 0], qp[..., 1], s[..., 0], s[..., 1]) / den_safe
    u = _cross(qp[..., 0], qp[..., 1], r[..., 0], r[..., 1]) / den_safe
    ok &= (t >= 0.0) & (t <= 1.0) & (u >= 0.0) & (u <= 1.0)
    xing = p + t[..., None] * r  # (K, 4, 4, 2)
    pts = np.concatenate([ca, cb, xing.reshape(k, 16, 2)], axis=1)  # (K, 24, 2)
    valid = np.concatenate([in_a, in_b, ok.reshape(k, 16)], axis=1)
    n = valid.sum(axis=1)
    w = valid.astype(np.float64)
    cen = np.einsum("kp,kpd->kd", w, pts) / np.maximum(n, 1)[:, None]
    ang = np.arctan2(pts[..., 1] - cen[:, None, 1], pts[..., 0] - cen[:, None, 0])
    ang = np.where(valid, ang, np.inf)
    order = np.argsort(ang, axis=1)
    sp = np.take_along_axis(pts, order[..., None], axis=1)
    sv = np.take_along_axis(valid, order, axis=1)
    sp = np.where(sv[..., None], sp, sp[:, :1, :])  # pad with the first vertex: closes the ring
    nx = np.roll(sp, -1, axis=1)
    area = 0.5 * np.sum(_cross(sp[..., 0], sp[..., 1], nx[..., 0], nx[..., 1]), axis=1)
    return np.where(n >= 3, np.abs(area), 0.0)


def hull_area_pairs(ca: NDArray[np.float64], cb: NDArray[np.float64]) -> NDArray[np.float64]:
    """(K,) area of the convex hull of the 8 corners of K pairs of quads (K, 4, 2), m^2."""
    k = len(ca)
    if k == 0:
        return np.zeros(0)
    pts = np.concatenate([ca, cb], axis=1)
    pts = pts - pts.mean(axis=1, keepdims=True)
    scale = np.max(np.abs(pts), axis=(1, 2)) + 1e-12
    tol = 1e-12 * scale * scale
    # a point equal to an earlier one is not an endpoint (no double-counted edges)
    d2 = np.sum((pts[:, :, None, :] - pts[:, None, :, :]) ** 2, axis=-1)  # (K, 8, 8)
    dup = np.any(np.tril(d2 <= tol[:, None, None] * 1e-6, k=-1), axis=2)  # (K, 8)
    pi = pts[:, _HULL_I, :]  # (K, 56, 2)
    pj = pts[:, _HULL_J, :]
    e = pj - pi
    rel = pts[:, None, :, :] - pi[:, :, None, :]  # (K, 56, 8, 2)
    cr = _cross(e[..., None, 0], e[..., None, 1], rel[..., 0], rel[..., 1])  # (K, 56, 8)
    dot = e[..., None, 0] * rel[..., 0] + e[..., None, 1] * rel[..., 1]
    ee = np.sum(e * e, axis=-1)[..., None]
    on_seg = (np.abs(cr) <= tol[:, None, None]) & (dot >= -tol[:, None, None]) & (dot <= ee + tol[:, None, None])
    edge = np.all((cr > tol[:, None, None]) | on_seg, axis=2)
    edge &= ~dup[:, _HULL_I] & ~dup[:, _HULL_J] & (ee[..., 0] > tol[:, None])
    contrib = _cross(pi[..., 0], pi[..., 1], pj[..., 0], pj[..., 1])
    return 0.5 * np.sum(np.where(edge, contrib, 0.0), axis=1)


def giou_3d_pairs(a: NDArray[np.float64], b: NDArray[np.float64], iou_only: bool = False) -> NDArray[np.float64]:
    """Row-wise generalised 3D IoU of K pairs of (K, 7) boxes (or plain 3D IoU with ``iou_only``).

    Equal to the diagonal of :func:`fusionlabel.core.boxes.giou_3d` (``iou_3d``) on the same boxes.

    Returns
    -------
    (K,) float64 in [-1, 1]
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 7)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 7)
    if not len(a):
        return np.zeros(0)
    ca, cb = bev_corners(a), bev_corners(b)
    za0, za1 = a[:, 2] - a[:, 5] / 2, a[:, 2] + a[:, 5] / 2
    zb0, zb1 = b[:, 2] - b[:, 5] / 2, b[:, 2] + b[:, 5] / 2
    zo = np.clip(np.minimum(za1, zb1) - np.maximum(za0, zb0), 0.0, None)
    inter = bev_intersection_pairs(ca, cb) * zo
    va = a[:, 3] * a[:, 4] * a[:, 5]
    vb = b[:, 3] * b[:, 4] * b[:, 5]
    union = va + vb - inter
    iou = inter / np.maximum(union, 1e-12)
    if iou_only:
        return iou
    enclose = hull_area_pairs(ca, cb) * (np.maximum(za1, zb1) - np.minimum(za0, zb0))
    return iou - (enclose - union) / np.maximum(enclose, 1e-12)


def affinity_matrix(
    tracks: NDArray[np.float64], dets: NDArray[np.float64], metric: str, gate_distance: float
) -> NDArray[np.float64]:
    """(T, D) similarity of predicted track boxes and detections (higher = more alike).

    Parameters
    ----------
    tracks : (T, 7) predicted boxes; dets : (D, 7) detections; same frame
    metric : ``"giou"`` (3D GIoU in [-1, 1]), ``"iou"`` (3D IoU in [0, 1]) or ``"dist"``
        (negative centre distance, m)
    gate_distance : m; pairs whose centres are farther apart get ``-inf``

    Returns
    -------
    (T, D) float64, ``-inf`` where gated out. Computed by the compiled kernel
    :func:`fusionlabel.track._fast.affinity_kernel` (equal to :func:`giou_3d_pairs`).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown association metric {metric!r} (giou, iou, dist)")
    t = np.ascontiguousarray(tracks, dtype=np.float64).reshape(-1, 7)
    d = np.ascontiguousarray(dets, dtype=np.float64).reshape(-1, 7)
    return affinity_kernel(t, d, METRICS[metric], float(gate_distance))


@dataclass(frozen=True)
class Assignment:
    """Result of one association step.

    matches : (K, 2) int64 ``[track_row, det_index]``
    unmatched_tracks : (T - K,) int64 track rows
    unmatched_dets : (D - K,) int64 detection indices
    affinity : (K,) float64 affinity of each match
    margin : (K,) float64, affinity of the match minus that of the best competing pair sharing its
        track or its detection (``inf`` when there is none): a small margin is a near tie
    """

    matches: NDArray[np.int64]
    unmatched_tracks: NDArray[np.int64]
    unmatched_dets: NDArray[np.int64]
    affinity: NDArray[np.float64]
    margin: NDArray[np.float64]


def associate(affinity: NDArray[np.float64], threshold: float) -> Assignment:
    """Hungarian assignment maximising total affinity, keeping pairs with affinity > ``threshold``.

    The cost is ``-affinity`` with gated pairs (``-inf``) set to :data:`INFEASIBLE`; solved by
    :func:`scipy.optimize.linear_sum_assignment`.

    Example
    -------
    >>> import numpy as np
    >>> r = associate(np.array([[0.9, 0.1], [0.2, 0.8]]), threshold=0.0)
    >>> r.matches.tolist()
    [[0, 0], [1, 1]]
    """
    nt, nd = affinity.shape
    feasible = affinity > threshold
    if nt == 0 or nd == 0 or not feasible.any():
        return Assignment(
            np.zeros((0, 2), np.int64),
            np.arange(nt, dtype=np.int64),
            np.arange(nd, dtype=np.int64),
            np.zeros(0),
            np.zeros(0),
        )
    cost = np.where(feasible, -affinity, INFEASIBLE)
    rows, cols = linear_sum_assignment(cost)
    keep = feasible[rows, cols]
    rows, cols = rows[keep].astype(np.int64), cols[keep].astype(np.int64)
    aff = affinity[rows, cols]
    # margin: affinity of the match minus the best feasible alternative in its row or column
    margin = assignment_margins(np.ascontiguousarray(affinity, dtype=np.float64), float(threshold), rows, cols)
    ut = np.ones(nt, bool)
    ut[rows] = False
    ud = np.ones(nd, bool)
    ud[cols] = False
    return Assignment(
        np.stack([rows, cols], axis=1).astype(np.int64),
        np.flatnonzero(ut).astype(np.int64),
        np.flatnonzero(ud).astype(np.int64),
        aff,
        margin,
    )
