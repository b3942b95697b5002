"""The built-in geometric detector (CPU, no learning), registered as ``geometric``.

Pipeline, per frame (all LiDARs merged in the ego frame):

1. **crop** to ``|x|, |y| <= range_m``;
2. **ground**: a BEV min-filter height map (default), Patchwork++'s ground returns as a height
   map (``ground="patchwork"``, the ``pypatchworkpp`` extra), or one RANSAC plane
   (:mod:`fusionlabel.detect.ground`); each point gets its height above the ground ``h``. On the
   held-out synthetic seeds the grid finds more cars (BEV AP 74.5 against 67.5), on the real
   frames neither wins clearly (``benchmarks/bench_realdata.py``), so the grid stays the default;
3. **cluster** the points with ``min_height < h < max_height`` as connected components of a BEV
   occupancy grid (``cell`` metres, 8-connected, after ``dilate`` cells of dilation so gaps
   between neighbouring beams are bridged): ``scipy.ndimage.label``, linear in the grid size;
4. **fit** an oriented rectangle to each cluster's BEV points (L-shape search over headings,
   :mod:`fusionlabel.detect.boxfit`); the box's bottom is the ground under it, its top the highest
   point;
5. **classify** by size (:func:`classify`): each :class:`SizeClass` scores how well the visible
   extent fits its typical size, allowing the parts hidden from the sensor to be missing (a
   single face seen head-on may be a car's rear or a cyclist's side); the best class under
   ``max_cost`` wins, else the cluster is dropped (or called ``Misc`` with ``misc=True``);
6. **complete** the box to at least the class's typical size, growing it *away from the sensor*
   (the faces seen are where the points are; the hidden ones are not);
7. **score** in [0, 1]: ``exp(-cost / 2) * sqrt(1 - exp(-n_eq / 40)) * (0.5 + 0.5 edge)`` with
   ``n_eq = n (max(d, 5 m) / 20 m)^2`` the point count scaled to a 20 m range (LiDAR density
   falls as ``1/d^2``) and ``edge`` the share of points on the rectangle outline;
8. BEV non-maximum suppression at ``nms_iou``.

Yaw is the heading of the long side in (-pi/2, pi/2]: a LiDAR outline does not tell the front
from the back (a tracker's motion does).

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.calibration import Lidar, Rig
>>> from fusionlabel.core.frames import Frame, PointCloud
>>> rng = np.random.default_rng(0)
>>> road = np.c_[rng.uniform(-30, 30, (20000, 2)), rng.normal(0.0, 0.02, 20000)]
>>> t = rng.uniform(0, 1, (400, 2))
>>> side = np.c_[8 + 4.4 * t[:, 0], np.full(400, -1.0), 0.3 + 1.2 * t[:, 1]]   # a car's right side
>>> rear = np.c_[np.full(400, 8.0), -1.0 + 1.8 * t[:, 0], 0.3 + 1.2 * t[:, 1]]  # and its rear
>>> frame = Frame(0, 0, {"lidar": PointCloud(np.vstack([road, side, rear]))})
>>> det = create().detect(frame, Rig(lidars={"lidar": Lidar("lidar")}))
>>> det.classes.tolist(), np.round(det.boxes.center[0, :2], 1).tolist()
(['Car'], [10.2, -0.1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from fusionlabel.core.boxes import nms_bev
from fusionlabel.core.calibration import Rig
from fusionlabel.core.frames import Frame
from fusionlabel.core.points import lidar_points_ego
from fusionlabel.core.size_priors import DEFAULT_CLASSES, SizeClass
from fusionlabel.detect.api import Detections, DetectorInfo
from fusionlabel.detect.boxfit import Rectangle, fit_rectangle
from fusionlabel.detect.ground import (
    GroundModel,
    estimate_ground_grid,
    estimate_ground_patchwork,
    estimate_ground_ransac,
    patchwork_available,
)

#: tolerance on the measured extents exceeding a class's upper bound, metres (sigma of the penalty)
_SIGMA_OVER = 0.25
#: sigma of the penalty for a silhouette narrower than the class's, metres (occlusion, sparse beams)
_SIGMA_UNDER = 0.6
#: sigma of the height misfit, metres
_SIGMA_H = 0.25


@dataclass(frozen=True)
class GeometricConfig:
    """Parameters of the geometric detector (all distances in metres).

    range_m : half-extent of the square processed around the ego
    ground : ``"patchwork"`` (Patchwork++ ground returns as a height map), ``"grid"`` (min-filter
        height map), ``"ransac"`` (one plane), or ``"auto"``: patchwork where ``pypatchworkpp`` is
        installed, else grid (the detector's ``info.version`` names the one used; default grid)
    ground_cell, ground_reach : height-map cell and min-filter half-width in cells
    min_height, max_height : clustered band of heights above the ground
    cell : clustering grid cell; dilate : dilation in cells before labelling (bridges gaps)
    min_points : smallest cluster kept
    max_bottom : a cluster whose lowest point is higher above the ground is skipped (floating)
    merge_gap, merge_extent : components behind one another along the rays with a radial gap
        up to ``merge_gap`` are joined while their BEV box diagonal stays within ``merge_extent``
        (0 disables; see :func:`_merge_along_rays`)
    split_gap : a component too large for any class (parked cars bumper to bumper merged by the
        dilation) is re-labelled without dilation and then cut along its long axis wherever no
        point lies for ``split_gap`` metres (0 disables; :func:`_split_oversize`); components
        longer than ``max_component`` (a facade, a guardrail) are not split but dropped
    overhang_gap : points above a vertical gap of this size over the object's body (a canopy,
        branches, a sign above a car) are cut before the box is fitted (0 disables)
    small_range : beyond this range, Pedestrian and Cyclist need a better fit to win over a
        vehicle: a far car shows one face as small as a cyclist (cost ``+ (d - small_range) / 20``)
    classes : the size classes; misc : report unclassified objects as ``"Misc"``
    max_cost : a cluster whose best class costs more is unclassified
    complete : grow partly seen boxes to the class's typical size
    min_score : detections below are dropped; nms_iou : BEV IoU of the suppression
    """

    range_m: float = 100.0
    ground: Literal["auto", "patchwork", "grid", "ransac"] = "grid"
    ground_cell: float = 1.0
    ground_reach: int = 2
    min_height: float = 0.25
    max_height: float = 4.2
    cell: float = 0.2
    dilate: int = 1
    min_points: int = 5
    max_bottom: float = 1.0
    merge_gap: float = 2.0
    merge_extent: float = 6.3
    split_gap: float = 0.4
    max_component: float = 60.0
    overhang_gap: float = 0.6
    small_range: float = 35.0
    classes: tuple[SizeClass, ...] = DEFAULT_CLASSES
    misc: bool = False
    max_cost: float = 4.0
    complete: bool = True
    min_score: float = 0.05
    nms_iou: float = 0.3

    def __post_init__(self) -> None:
        if self.ground not in ("auto", "patchwork", "grid", "ransac"):
            raise ValueError(f"ground must be 'auto', 'patchwork', 'grid' or 'ransac', got {self.ground!r}")
        if not self.classes:
            raise ValueError("at least one size class is needed")
        if self.range_m <= 0 or self.cell <= 0 or self.ground_cell <= 0:
            raise ValueError("range_m, cell and ground_cell must be positive")
        if not 0 <= self.min_height < self.max_height:
            raise ValueError("need 0 <= min_height < max_height")

    @property
    def class_names(self) -> tuple[str, ...]:
        names = tuple(c.name for c in self.classes)
        return names + ("Misc",) if self.misc and "Misc" not in names else names

    @property
    def max_extent(self) -> float:
        """Largest BEV diagonal of any class plus slack: larger clusters are skipped early."""
        return max(float(np.hypot(c.length[1], c.width[1])) for c in self.classes) + 1.0


@dataclass(frozen=True)
class Cluster:
    """A cluster's measurements, ego frame.

    rect : BEV rectangle fit; ground_z, top_z : ground under it and highest point (metres);
    n : points; range : BEV distance of the rectangle centre from the sensor (metres);
    bearing : direction of the sensor -> centre ray (radians); silhouette : extent of the points
    across that ray (metres), the part of the outline a LiDAR sees without self-occlusion
    """

    rect: Rectangle
    ground_z: float
    top_z: float
    n: int
    range: float
    bearing: float
    silhouette: float

    @property
    def height(self) -> float:
        return self.top_z - self.ground_z


def _over(x: float, hi: float) -> float:
    return max(0.0, x - hi)


def classify(c: Cluster, classes: Sequence[SizeClass]) -> tuple[int, float, bool]:
    """Best size class of a cluster: ``(index, cost, face_is_width)``; index -1 when none fits.

    A LiDAR sees an object's *silhouette* across its line of sight fully (up to occlusion by
    others), but its extent *along* the line of sight only partly (the far faces are hidden). So
    the visible rectangle ``a >= b`` (``a`` along heading ``yaw``) is read in two ways per class:
    ``a`` is the object's length (``face_is_width`` False) or its width (True). For each reading,
    with ``phi`` the angle between the ``a`` axis and the ray and ``(d_a, d_b)`` the class extents
    along the ``a`` and ``b`` axes, the silhouette must lie in::

        [d_a_lo |sin phi| + d_b_lo |cos phi|,  d_a_hi |sin phi| + d_b_hi |cos phi|]

    costing ``(shortfall / 0.6)^2`` below (occlusion, sparse beams) and ``(excess / 0.25)^2``
    above; the visible extents above a class's maxima cost ``(excess / 0.25)^2``; the height
    ``((h - h_typ) / 0.25)^2`` (outside ``[lo - 0.3, hi + 0.2]`` the class is out); plus ``bias``.
    """
    a, b, h = c.rect.length, c.rect.width, c.height
    phi = c.rect.yaw - c.bearing
    sa, ca = abs(np.sin(phi)), abs(np.cos(phi))
    best, best_cost, best_face_w = -1, np.inf, False
    for k, sc in enumerate(classes):
        if not (sc.height[0] - 0.3 <= h <= sc.height[1] + 0.2):
            continue
        ht = ((h - float(np.clip(sc.prior[2], *sc.height))) / _SIGMA_H) ** 2
        for face_w in (False, True):
            (a_lo, a_hi), (b_lo, b_hi) = (sc.width, sc.length) if face_w else (sc.length, sc.width)
            over = (_over(a, a_hi) / _SIGMA_OVER) ** 2 + (_over(b, b_hi) / _SIGMA_OVER) ** 2
            s_lo = a_lo * sa + b_lo * ca
            s_hi = a_hi * sa + b_hi * ca
            sil = (max(0.0, s_lo - c.silhouette) / _SIGMA_UNDER) ** 2 + (_over(c.silhouette, s_hi) / _SIGMA_OVER) ** 2
            cost = over + sil + ht + sc.bias
            if cost < best_cost:
                best, best_cost, best_face_w = k, float(cost), face_w
    return best, best_cost, best_face_w


def complete_box(
    c: Cluster, sc: SizeClass, face_is_width: bool, sensor_xy: NDArray[np.float64]
) -> tuple[NDArray[np.float64], float, float, float]:
    """Grow the fitted rectangle to at least the class's typical (l, w), away from the sensor.

    Along each rectangle axis ``e`` the points span ``[lo, hi]``; the face nearer the sensor is
    the one seen, so the box keeps it and extends the other side:
    ``[lo, lo + D]`` when the sensor lies on the ``lo`` side, else ``[hi - D, hi]``, with
    ``D = max(extent, typical)``. Returns (centre (2,), length, width, yaw).
    """
    r = c.rect
    e_long = np.array([np.cos(r.yaw), np.sin(r.yaw)])
    e_short = np.array([-e_long[1], e_long[0]])
    if face_is_width:  # the long visible side is the object's width: the object's length is across it
        want_long, want_short = sc.prior[1], sc.prior[0]
    else:
        want_long, want_short = sc.prior[0], sc.prior[1]
    center = r.center.copy()
    ext = {0: r.length, 1: r.width}
    out = {}
    for k, (e, want) in enumerate(((e_long, want_long), (e_short, want_short))):
        d = max(ext[k], want)
        s = float((sensor_xy - r.center) @ e)  # sensor position along e, relative to the centre
        grow = d - ext[k]
        if grow > 0:
            center = center + e * (grow / 2.0) * (-1.0 if s > 0 else 1.0)
        out[k] = d
    length, width, yaw = out[0], out[1], r.yaw
    if face_is_width:
        length, width = width, length
        yaw = yaw + np.pi / 2 if yaw <= 0 else yaw - np.pi / 2
    return center, float(length), float(width), float(yaw)


class GeometricDetector:
    """Ground removal + BEV clustering + L-shape boxes + size classes (see the module docstring).

    Parameters
    ----------
    config : the parameters (default :class:`GeometricConfig`)
    name : the name in ``info`` (``"geometric"``)
    """

    def __init__(self, config: GeometricConfig | None = None, name: str = "geometric") -> None:
        cfg = config or GeometricConfig()
        if cfg.ground == "auto":
            cfg = replace(cfg, ground="patchwork" if patchwork_available() else "grid")
        elif cfg.ground == "patchwork" and not patchwork_available():
            raise ValueError("ground='patchwork' needs the pypatchworkpp package (pip install pypatchworkpp)")
        self.config = cfg
        self._info = DetectorInfo(
            name,
            self.config.class_names,
            ("lidar",),
            "cpu",
            version=f"2 ground={cfg.ground}",
            description="ground removal, BEV connected components, L-shape boxes, class from size",
        )

    @property
    def info(self) -> DetectorInfo:
        return self._info

    # -- stages -------------------------------------------------------------------------------
    def ground(self, xyz: NDArray[np.float32], sensor_xyz: NDArray[np.float64] | None = None) -> GroundModel:
        cfg = self.config
        if cfg.ground == "ransac":
            return estimate_ground_ransac(xyz)
        if cfg.ground == "patchwork":
            s = np.zeros(3) if sensor_xyz is None else sensor_xyz
            return estimate_ground_patchwork(xyz, s, cfg.ground_cell, cfg.range_m)
        return estimate_ground_grid(xyz, cfg.ground_cell, cfg.ground_reach, cfg.range_m)

    def clusters(
        self, xyz: NDArray[np.float32], sensor_xy: NDArray[np.float64], sensor_z: float = 0.0
    ) -> list[Cluster]:
        """Cluster the above-ground points of an ego-frame cloud and fit a rectangle to each.

        xyz : (N, 3) float32 ego-frame points, metres; sensor_xy : (2,) LiDAR position, metres;
        sensor_z : the LiDAR's height in the ego frame, metres
        """
        cfg = self.config
        R = cfg.range_m
        inside = (np.abs(xyz[:, 0]) < R) & (np.abs(xyz[:, 1]) < R)
        xyz = xyz[inside]
        if len(xyz) < 3:
            return []
        g = self.ground(xyz, np.r_[sensor_xy, sensor_z])
        h = g.height(xyz)
        # the lowest return per 1 m cell (no neighbourhood filter): the road right around an
        # object, where the smoothed ground of a hill lies too low (see _local_ground)
        low = _LowCells.of(xyz, R)
        band = (h > cfg.min_height) & (h < cfg.max_height)
        pts, hb = xyz[band], h[band]
        if len(pts) == 0:
            return []
        order, gid = _components(pts, cfg.cell, cfg.dilate, R)
        if cfg.split_gap > 0:
            order, gid = _split_oversize(pts, order, gid, cfg)
        st = _GroupStats.of(pts, hb, sensor_xy, order, gid)
        ok = (st.n >= 2) & (st.diagonal <= cfg.max_extent)
        if cfg.merge_gap > 0:
            top = max(c.height[1] for c in cfg.classes) + 0.2
            root = _merge_along_rays(st, ok, cfg.merge_gap, cfg.merge_extent, top)
        else:
            root = np.arange(len(st.n))
        # merged groups: the points of every kept component under its root
        keep_pt = ok[gid]
        pt_root = root[gid[keep_pt]]
        pt_idx = order[keep_pt]
        o2 = np.argsort(pt_root, kind="stable")
        pt_root, pt_idx = pt_root[o2], pt_idx[o2]
        if len(pt_idx) == 0:
            return []
        starts = np.flatnonzero(np.r_[True, pt_root[1:] != pt_root[:-1]])
        ends = np.r_[starts[1:], len(pt_idx)]
        n = ends - starts
        h_lo = np.minimum.reduceat(hb[pt_idx], starts)
        h_hi = np.maximum.reduceat(hb[pt_idx], starts)
        min_h = min(c.height[0] for c in cfg.classes) - 0.3
        # objects stand on the ground (a facade, canopy or sign floats) and reach a class's height
        cand = (n >= cfg.min_points) & (h_lo <= cfg.max_bottom) & (h_hi >= (0.0 if cfg.misc else min_h))
        out: list[Cluster] = []
        max_extent = cfg.max_extent
        for s, e in zip(starts[cand], ends[cand]):
            idx = pt_idx[s:e]
            if cfg.overhang_gap > 0:
                idx = _cut_overhang(idx, hb, cfg.overhang_gap)
                if len(idx) < cfg.min_points:
                    continue
            p = pts[idx]
            rect = fit_rectangle(p[:, :2])
            if max(rect.length, rect.width) > max_extent:
                continue
            ground_z = float(np.median(p[:, 2] - hb[idx]))
            ring = low.around(rect.center, rect.length, rect.width)
            if ring > ground_z + 0.3:  # the smoothed ground lies clearly below the road around it (a hill)
                ground_z = ring
            top = float(p[:, 2].max())
            ray = rect.center - sensor_xy
            rng = float(np.hypot(*ray))
            bearing = float(np.arctan2(ray[1], ray[0]))
            across = (p[:, :2] - sensor_xy) @ np.array([-np.sin(bearing), np.cos(bearing)])
            out.append(Cluster(rect, ground_z, top, len(idx), rng, bearing, float(np.ptp(across))))
        return out

    def boxes_from_clusters(self, clusters: Sequence[Cluster], sensor_xy: NDArray[np.float64]) -> Detections:
        cfg = self.config
        rows: list[list[float]] = []
        scores: list[float] = []
        names: list[str] = []
        attrs: list[dict[str, Any]] = []
        far = tuple(SizeClass(sc.name, sc.length, sc.width, sc.height, sc.prior, sc.bias) for sc in cfg.classes)
        for c in clusters:
            extra = max(0.0, c.range - cfg.small_range) / 20.0
            classes = (
                tuple(replace(sc, bias=sc.bias + extra) if sc.name in ("Pedestrian", "Cyclist") else sc for sc in far)
                if extra > 0
                else cfg.classes
            )
            k, cost, face_w = classify(c, classes)
            if k < 0 or cost > cfg.max_cost:
                if not cfg.misc:
                    continue
                center, length, width, yaw = c.rect.center, max(c.rect.length, 0.1), max(c.rect.width, 0.1), c.rect.yaw
                height, name, s_size = max(c.height, 0.1), "Misc", 0.3
            else:
                sc = classes[k]
                if cfg.complete:
                    center, length, width, yaw = complete_box(c, sc, face_w, sensor_xy)
                else:
                    r = c.rect
                    center, length, width, yaw = r.center, max(r.length, 0.1), max(r.width, 0.1), r.yaw
                height, name, s_size = max(c.height, sc.height[0]), sc.name, float(np.exp(-cost / 2.0))
            n_eq = c.n * (max(c.range, 5.0) / 20.0) ** 2
            s_pts = 1.0 - np.exp(-n_eq / 40.0)
            score = float(s_size * np.sqrt(s_pts) * (0.5 + 0.5 * c.rect.edge_fraction))
            if score < cfg.min_score:
                continue
            rows.append([center[0], center[1], c.ground_z + height / 2.0, length, width, height, yaw])
            scores.append(score)
            names.append(name)
            attrs.append({"num_points": c.n})
        if not rows:
            return Detections.empty()
        det = Detections.from_arrays(np.asarray(rows), np.asarray(scores), names)
        det = Detections(det.boxes, det.scores, det.classes, tuple(attrs))
        return _nms(det, cfg.nms_iou)

    # -- the protocol -------------------------------------------------------------------------
    def detect(self, frame: Frame, rig: Rig) -> Detections:
        """Detections of one frame, ego frame (see the module docstring)."""
        cloud = lidar_points_ego(frame, rig)
        sensor = _sensor_xyz(frame, rig)
        sensor_xy = sensor[:2]
        return self.boxes_from_clusters(self.clusters(cloud.xyz, sensor_xy, float(sensor[2])), sensor_xy)


def _components(
    pts: NDArray[np.float32], cell: float, dilate: int, R: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """8-connected components of the BEV occupancy grid (``cell`` metres, dilated ``dilate`` cells).

    Returns ``(order, gid)``: point indices sorted by component, and the component id (0-based,
    consecutive) of each point in that order.
    """
    n_cells = int(np.ceil(2 * R / cell))
    ij = np.clip(((pts[:, :2] + R) / cell).astype(np.int64), 0, n_cells - 1)
    occ = np.zeros((n_cells, n_cells), dtype=bool)
    occ[ij[:, 0], ij[:, 1]] = True
    grown = ndimage.maximum_filter(occ, size=2 * dilate + 1) if dilate > 0 else occ  # square dilation
    labels, _ = ndimage.label(grown, structure=np.ones((3, 3), dtype=bool))
    plab = labels[ij[:, 0], ij[:, 1]]
    order = np.argsort(plab, kind="stable")
    _, gid = np.unique(plab[order], return_inverse=True)
    return order, gid.astype(np.int64)


@dataclass(frozen=True)
class _LowCells:
    """The lowest LiDAR return of every 1 m BEV cell (+inf where empty), for the local ground."""

    origin: float
    zmin: NDArray[np.float32]

    @classmethod
    def of(cls, xyz: NDArray[np.float32], R: float) -> _LowCells:
        from fusionlabel.detect.ground import _cell_min

        n = int(np.ceil(2 * R)) + 1
        return cls(-R, _cell_min(xyz, np.array([-R, -R]), 1.0, (n, n)))

    def around(self, center: NDArray[np.float64], length: float, width: float) -> float:
        """The lowest return in a 2 m ring around an object (``-inf`` when fewer than 4 of its
        cells have returns): the road right around it. A height map smoothed over metres lies
        too low on a hill; the object stands on this."""
        r_in = 0.5 * float(np.hypot(length, width))
        r_out = r_in + 2.0
        i0, j0 = np.floor(center - self.origin).astype(int)
        k = int(np.ceil(r_out)) + 1
        n = self.zmin.shape[0]
        ii = np.arange(max(i0 - k, 0), min(i0 + k + 1, n))
        jj = np.arange(max(j0 - k, 0), min(j0 + k + 1, n))
        if not len(ii) or not len(jj):
            return -np.inf
        gi, gj = np.meshgrid(ii, jj, indexing="ij")
        cx, cy = gi + 0.5 + self.origin - center[0], gj + 0.5 + self.origin - center[1]
        d = np.hypot(cx, cy)
        z = self.zmin[gi, gj][(d > r_in) & (d <= r_out)]
        z = z[np.isfinite(z)]
        return float(z.min()) if len(z) >= 4 else -np.inf


def _split_oversize(
    pts: NDArray[np.float32], order: NDArray[np.int64], gid: NDArray[np.int64], cfg: GeometricConfig
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Split the components too large for any class into object-sized pieces.

    A component whose BEV diagonal exceeds the largest class (:attr:`GeometricConfig.max_extent`)
    but not ``max_component`` is first re-labelled at the same cell without dilation (the
    dilation bridges the 0.3-1 m between parked cars); a piece still too large is cut along its
    principal axis wherever the points leave a gap of ``split_gap`` metres. A wall or guardrail
    has no gaps and stays one piece, which the size test then drops. Returns the new
    ``(order, gid)`` (same meaning as :func:`_components`).
    """
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    ends = np.r_[starts[1:], len(gid)]
    max_extent = cfg.max_extent
    pieces: list[NDArray[np.int64]] = []
    changed = False
    for s, e in zip(starts, ends):
        idx = order[s:e]
        xy = pts[idx, :2].astype(np.float64)
        diag = float(np.hypot(*(xy.max(axis=0) - xy.min(axis=0)))) if len(idx) else 0.0
        if diag <= max_extent or diag > cfg.max_component or len(idx) < 2:
            pieces.append(idx)
            continue
        changed = True
        sub_order, sub_gid = _components(pts[idx], cfg.cell, 0, cfg.range_m)
        sub_starts = np.flatnonzero(np.r_[True, sub_gid[1:] != sub_gid[:-1]])
        for a, b in zip(sub_starts, np.r_[sub_starts[1:], len(sub_gid)]):
            sub = idx[sub_order[a:b]]
            pieces.extend(_cut_at_gaps(pts[sub, :2].astype(np.float64), sub, cfg.split_gap, max_extent))
    if not changed:
        return order, gid
    new_order = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
    new_gid = np.repeat(np.arange(len(pieces)), [len(p) for p in pieces]).astype(np.int64)
    return new_order.astype(np.int64), new_gid


def _cut_at_gaps(
    xy: NDArray[np.float64], idx: NDArray[np.int64], gap: float, max_extent: float
) -> list[NDArray[np.int64]]:
    """``idx`` cut along the points' principal axis wherever consecutive projections are more
    than ``gap`` apart (only when the piece is larger than ``max_extent``)."""
    if len(idx) < 2 or float(np.hypot(*(xy.max(axis=0) - xy.min(axis=0)))) <= max_extent:
        return [idx]
    c = xy - xy.mean(axis=0)
    _, vecs = np.linalg.eigh(c.T @ c)
    t = c @ vecs[:, -1]  # along the long axis
    o = np.argsort(t, kind="stable")
    cuts = np.flatnonzero(np.diff(t[o]) > gap) + 1
    return [idx[o[a:b]] for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(o)])]


def _cut_overhang(idx: NDArray[np.int64], hb: NDArray[np.float32], gap: float) -> NDArray[np.int64]:
    """The points of ``idx`` below the first vertical gap of ``gap`` metres above the lowest point
    (heights above ground ``hb``): an object's body is vertically continuous, a canopy or a sign
    over it is not."""
    h = np.asarray(hb[idx], dtype=np.float64)
    o = np.argsort(h, kind="stable")
    steps = np.flatnonzero(np.diff(h[o]) > gap)
    if not len(steps):
        return idx
    return idx[o[: steps[0] + 1]]


@dataclass(frozen=True)
class _GroupStats:
    """Per-component statistics, each (G,): point count, BEV box, heights above ground, and the
    range and azimuth interval seen from the sensor (radians, unwrapped around the component)."""

    n: NDArray[np.int64]
    box: NDArray[np.float64]  # (G, 4) x_min, y_min, x_max, y_max
    h_lo: NDArray[np.float64]
    h_hi: NDArray[np.float64]
    r_lo: NDArray[np.float64]
    r_hi: NDArray[np.float64]
    a_lo: NDArray[np.float64]
    a_hi: NDArray[np.float64]

    @property
    def diagonal(self) -> NDArray[np.float64]:
        return np.hypot(self.box[:, 2] - self.box[:, 0], self.box[:, 3] - self.box[:, 1])

    @classmethod
    def of(
        cls,
        pts: NDArray[np.float32],
        hb: NDArray[np.float32],
        sensor_xy: NDArray[np.float64],
        order: NDArray[np.int64],
        gid: NDArray[np.int64],
    ) -> _GroupStats:
        starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
        p = pts[order].astype(np.float64)
        d = p[:, :2] - sensor_xy
        r = np.hypot(d[:, 0], d[:, 1])
        az = np.arctan2(d[:, 1], d[:, 0])
        ref = az[starts][gid]
        rel = np.mod(az - ref + np.pi, 2 * np.pi) - np.pi  # unwrapped around each component's first point
        hh = hb[order].astype(np.float64)
        mn, mx = np.minimum.reduceat, np.maximum.reduceat
        box = np.stack([mn(p[:, 0], starts), mn(p[:, 1], starts), mx(p[:, 0], starts), mx(p[:, 1], starts)], axis=1)
        ref0 = az[starts]
        return cls(
            np.diff(np.r_[starts, len(gid)]),
            box,
            mn(hh, starts),
            mx(hh, starts),
            mn(r, starts),
            mx(r, starts),
            ref0 + mn(rel, starts),
            ref0 + mx(rel, starts),
        )


def _merge_along_rays(
    st: _GroupStats, ok: NDArray[np.bool_], max_gap: float, max_extent: float, max_top: float
) -> NDArray[np.int64]:
    """Join components that lie behind one another along the sensor's rays; (G,) root ids.

    A sparse LiDAR hits a vehicle seen from behind on its rear face, rear window and roof: three
    BEV strips separated by gaps that grow with range (1-2 m at 15 m for 32 beams). Two
    components (both ``ok``) are joined when

    * their azimuth intervals (seen from the sensor) overlap by at least 30 % of the narrower;
    * the radial gap between them is at most ``max_gap`` metres;
    * the farther one is an *upper surface* of the nearer: its lowest point is at least 0.25 m
      higher than the nearer one's lowest, and its top at most ``max_top`` (a pole, wall or person
      standing behind a car reaches down to the ground, a rear window or roof does not);
    * the joined axis-aligned BEV box stays within a ``max_extent`` diagonal.

    Greedy, smallest gaps first.
    """
    G = len(st.n)
    root_of = np.arange(G)
    cand = np.flatnonzero(ok)
    if len(cand) < 2:
        return root_of
    a_lo, a_hi = st.a_lo[cand], st.a_hi[cand]
    r_lo, r_hi, h_lo, h_hi = st.r_lo[cand], st.r_hi[cand], st.h_lo[cand], st.h_hi[cand]
    mid = (a_lo + a_hi) / 2
    half = (a_hi - a_lo) / 2
    dm = np.abs(np.mod(mid[:, None] - mid[None, :] + np.pi, 2 * np.pi) - np.pi)  # centre separation
    small = np.minimum(half[:, None], half[None, :])
    overlap = np.minimum(half[:, None] + half[None, :] - dm, 2 * small)
    slack = 0.005  # rad: a strip one azimuth step wide still overlaps
    frac = (overlap + slack) / (2 * small + slack)
    gap = np.maximum(r_lo[None, :] - r_hi[:, None], r_lo[:, None] - r_hi[None, :])
    near = (frac >= 0.3) & (gap <= max_gap)
    ii, jj = np.nonzero(np.triu(near, k=1))
    if len(ii) == 0:
        return root_of
    # the farther of each pair (by nearest point) must be an upper surface of the nearer
    far_j = r_lo[jj] >= r_lo[ii]
    f, c = np.where(far_j, jj, ii), np.where(far_j, ii, jj)
    upper = (h_lo[f] >= h_lo[c] + 0.25) & (h_hi[f] <= max_top)
    ii, jj = ii[upper], jj[upper]
    parent = list(range(len(cand)))
    ext = {k: st.box[cand[k]].copy() for k in set(ii.tolist()) | set(jj.tolist())}

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for t in np.argsort(np.maximum(gap[ii, jj], 0.0), kind="stable"):
        a, b = root(int(ii[t])), root(int(jj[t]))
        if a == b:
            continue
        u = np.array(
            [min(ext[a][0], ext[b][0]), min(ext[a][1], ext[b][1]), max(ext[a][2], ext[b][2]), max(ext[a][3], ext[b][3])]
        )
        if np.hypot(u[2] - u[0], u[3] - u[1]) > max_extent:
            continue
        parent[b] = a
        ext[a] = u
    root_of[cand] = cand[[root(k) for k in range(len(cand))]]
    return root_of


def _sensor_xyz(frame: Frame, rig: Rig) -> NDArray[np.float64]:
    """Ego-frame position of the (first) LiDAR: the viewpoint the visible faces face."""
    for n, cloud in frame.lidar.items():
        if cloud.frame_id != "ego" and n in rig.lidars:
            return np.asarray(rig.lidars[n].T_ego_lidar.translation, dtype=np.float64)
    return np.zeros(3)


def _sensor_xy(frame: Frame, rig: Rig) -> NDArray[np.float64]:
    """Ego-frame BEV position of the (first) LiDAR."""
    return _sensor_xyz(frame, rig)[:2]


def _nms(det: Detections, iou: float) -> Detections:
    """Greedy BEV non-maximum suppression (:func:`~fusionlabel.core.boxes.nms_bev`): keep the
    best-scored box of any group overlapping > iou."""
    if len(det) < 2:
        return det
    return det.select(np.flatnonzero(nms_bev(det.boxes, det.scores, iou)))


def create(**options: Any) -> GeometricDetector:
    """Entry-point factory: ``create(range_m=50, ground="ransac", misc=True, ...)``.

    Options are :class:`GeometricConfig` fields; ``name`` sets the name in ``info``. Unknown
    options raise ``TypeError`` naming them.
    """
    name = str(options.pop("name", "geometric"))
    fields = set(GeometricConfig.__dataclass_fields__)
    unknown = sorted(set(options) - fields)
    if unknown:
        raise TypeError(f"unknown geometric detector option(s) {unknown}; known: {sorted(fields)}")
    if "classes" in options:
        options["classes"] = tuple(options["classes"])
    return GeometricDetector(replace(GeometricConfig(), **options), name)


__all__ = ["DEFAULT_CLASSES", "Cluster", "GeometricConfig", "GeometricDetector", "SizeClass", "classify", "create"]
