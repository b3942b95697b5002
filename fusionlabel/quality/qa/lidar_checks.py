"""The checks that need the recording: LiDAR evidence of a box and its height above the ground.

``few_points``: per box, ``x = n_through / (n_through + n_inside + 10)``, where ``n_through``
counts the LiDAR rays that pass through the (shrunk) box and end behind it, i.e. rays that saw
empty space where the box claims an object (:func:`rays_through`). An occluded object has no
such rays; a box in empty space has many.

``off_ground``: per box, ``gap = box bottom - ground height`` under it, the ground being the 5th
percentile of the z of the LiDAR points within 3 m of its footprint that lie in no labelled box
(:func:`local_ground`; boxes with fewer than 10 such points are not scored).

All in the ego frame of each labelled frame, metres.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> box = Boxes.from_array([[10.0, 0.0, 1.0, 4.0, 2.0, 2.0, 0.0]])
>>> pts = np.array([[20.0, 0.0, 2.0], [10.0, 0.5, 1.0], [20.0, 5.0, 1.0]])      # behind, inside, aside
>>> inside, through = rays_through(pts, np.zeros((3, 3)), box, shrink=0.1)
>>> inside.tolist(), through.tolist()
([1], [1])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes, points_in_boxes, wrap_angle
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.transforms import Transform
from fusionlabel.quality.qa.stats import Samples

_PSEUDO_RAYS = 10.0  # a few rays are no evidence: x = n_through / (n_through + n_inside + 10)


def _frame_points(rec: Recording, k: int) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """(N, 3) ego-frame LiDAR points of frame k (all LiDARs) and (N, 3) the sensor origin of each
    point, or None where the recording has no such frame or no LiDAR in it."""
    if not 0 <= k < len(rec):
        return None
    fr = rec.frame(k)
    if not fr.lidar:
        return None
    pts, orig = [], []
    for name, pc in fr.lidar.items():
        T = rec.rig.T_ego_sensor(name) if name in rec.rig.lidars else Transform.identity()
        p = T.apply(pc.finite().xyz.astype(np.float64))
        pts.append(p)
        orig.append(np.broadcast_to(np.asarray(T.translation, dtype=np.float64), p.shape))
    return np.vstack(pts), np.vstack(orig)


def rays_through(
    pts: NDArray[np.float64], orig: NDArray[np.float64], boxes: Boxes, shrink: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per box: points inside, and rays ``orig -> pts`` that cross the shrunk box and end beyond it.

    Slab test in each box's frame: the segment ``o + s (p - o)``, ``s in [0, 1]``, enters the box
    at ``s_in = max_d min(s_lo, s_hi)`` and leaves at ``s_out = min_d max(s_lo, s_hi)``; it crosses
    when ``s_in <= s_out`` and ``s_out < 1`` (the return lies beyond the box).

    pts, orig : (N, 3) returns and their sensor origins, metres; the shrunk box is ``shrink``
    of each size smaller per side, its bottom lifted by ``0.3 h``. Returns two (B,) int64 arrays.
    """
    inside = points_in_boxes(pts, boxes).sum(axis=0).astype(np.int64)
    through = np.zeros(len(boxes), np.int64)
    az = np.arctan2(pts[:, 1] - orig[:, 1], pts[:, 0] - orig[:, 0])
    rng = np.linalg.norm(pts[:, :2] - orig[:, :2], axis=1)
    for j in range(len(boxes)):
        c, s, yaw = boxes.center[j], boxes.size[j], boxes.yaw[j]
        half = s / 2.0 * (1.0 - 2.0 * shrink)
        lo = np.array([-half[0], -half[1], -s[2] / 2.0 + 0.3 * s[2]])
        hi = np.array([half[0], half[1], s[2] / 2.0 - shrink * s[2]])
        d = float(np.hypot(c[0], c[1]))
        r = float(np.hypot(s[0], s[1])) / 2.0
        if d <= r:
            continue  # the sensor is inside or next to the box
        span = np.arcsin(min(1.0, r / d))
        daz = np.abs(wrap_angle(az - np.arctan2(c[1], c[0])))
        cand = np.flatnonzero((daz <= span) & (rng >= d - r))
        if len(cand) == 0:
            continue
        cy, sy = np.cos(yaw), np.sin(yaw)
        R = np.array([[cy, sy, 0.0], [-sy, cy, 0.0], [0.0, 0.0, 1.0]])  # ego -> box
        o = (orig[cand] - c) @ R.T
        p = (pts[cand] - c) @ R.T
        dd = p - o
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (lo - o) / dd
            t2 = (hi - o) / dd
        tmin = np.where(np.isnan(t1), -np.inf, np.minimum(t1, t2))
        tmax = np.where(np.isnan(t2), np.inf, np.maximum(t1, t2))
        # a zero direction component: inside the slab -> (-inf, inf), outside -> empty
        par = dd == 0
        ok_par = (o >= lo) & (o <= hi)
        tmin = np.where(par, np.where(ok_par, -np.inf, np.inf), tmin)
        tmax = np.where(par, np.where(ok_par, np.inf, -np.inf), tmax)
        s_in = np.max(tmin, axis=1)
        s_out = np.min(tmax, axis=1)
        through[j] = int(np.sum((s_in <= s_out) & (s_in > 0) & (s_out < 1.0)))
    return inside, through


def local_ground(
    pts: NDArray[np.float64], in_any: NDArray[np.bool_], boxes: Boxes, radius: float = 3.0, min_points: int = 10
) -> NDArray[np.float64]:
    """(N,) ground z around each box: the 5th percentile of z of the points within ``radius`` m of
    the box footprint (bounding circle) that lie in no labelled box; NaN with fewer than ``min_points``."""
    free = pts[~in_any]
    out = np.full(len(boxes), np.nan)
    for j in range(len(boxes)):
        r = float(np.hypot(boxes.size[j, 0], boxes.size[j, 1])) / 2.0 + radius
        d = np.hypot(free[:, 0] - boxes.center[j, 0], free[:, 1] - boxes.center[j, 1])
        z = free[d <= r, 2]
        if len(z) >= min_points:
            out[j] = float(np.quantile(z, 0.05))
    return out


def lidar_checks(labels: LabelSet, rec: Recording, shrink: float, pts_out: Samples, gnd_out: Samples) -> int:
    """Add the ``few_points`` values to ``pts_out`` and the ``off_ground`` gaps (metres) to ``gnd_out``.

    shrink : see :func:`rays_through`. Returns the number of labelled frames with LiDAR points.
    """
    used = 0
    for k, fl in labels.frames.items():
        got = _frame_points(rec, k)
        if got is None or len(fl) == 0:
            continue
        used += 1
        pts, orig = got
        inside, through = rays_through(pts, orig, fl.boxes, shrink)
        in_any = np.asarray(points_in_boxes(pts, fl.boxes, margin=0.3).any(axis=1), dtype=bool)
        gz = local_ground(pts, in_any, fl.boxes)
        for j in range(len(fl)):
            tid, cat = int(fl.track_ids[j]), fl.categories[j]
            frac = through[j] / (through[j] + inside[j] + _PSEUDO_RAYS)
            pts_out.add(
                frac,
                cat,
                tid,
                (k,),
                f"{inside[j]} LiDAR points inside, {through[j]} rays pass through it (empty space)",
            )
            if np.isfinite(gz[j]):
                gap = float(fl.boxes.bottom_z[j] - gz[j])
                gnd_out.add(gap, cat, tid, (k,), f"bottom {gap:+.2f} m from the LiDAR ground around it")
    return used
