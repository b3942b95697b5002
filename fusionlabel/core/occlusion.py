"""Truncation and occlusion of cuboids in a camera image (KITTI's ``truncated`` and ``occluded``).

Silhouette
----------
A cuboid's silhouette ``S`` is the projection of its part in front of the near plane: the edges
clipped at ``z = near`` (:func:`fusionlabel.core.projection.clipped_box_edges`), projected
through the lens model, and their convex hull. For a pinhole camera this is exact (the image of
a convex polyhedron is the convex hull of its projected vertices); with distortion the hull of
8 samples per edge stands in for the slightly curved outline.

Truncation
----------
``truncation = 1 - area(S ∩ I) / area(S)`` with the image ``I = [0, W] x [0, H]`` (pixels): the
fraction of the silhouette outside the picture, KITTI's object-benchmark definition. 1 for a
cuboid wholly behind the camera or beside the image.

Occlusion (a z-buffer sampled per box)
--------------------------------------
The in-image part of each silhouette is sampled on a ``grid x grid`` lattice of pixel positions
over its bounding rectangle (so a far car gets as many samples as a near one, ~1e-3 resolution
in the fraction). Each sample is the camera ray ``d = (x, y, 1)`` through it
(:func:`~fusionlabel.core.projection.pixels_to_normalised`); a slab test gives the depth at
which it enters each cuboid (``t = max(t_enter, near)``, camera ``z`` in metres, since
``d_z = 1``). A sample *belongs* to box ``i`` when its ray meets ``i``; of those:

* **hidden by a box**: another cuboid ``j`` meets the ray nearer, ``t_j < t_i - 1 mm``
  (``f_box`` = the hidden share of box ``i``'s samples);
* **hidden by points**: LiDAR points stand for the unlabelled scene (walls, poles, vegetation,
  parked things nobody labelled). A point is an *occluder* of box ``i`` when it is

  1. not inside any labelled cuboid grown by ``box_margin`` (a labelled object already hides
     through its box, and its own points must not hide it),
  2. nearer than box ``i``'s surface at its pixel by more than ``depth_margin``,
  3. above the ground: higher than box ``i``'s bottom face plus ``ground_clearance`` (the
     source frame is z-up, as the boxes). Ground in front of an object projects *below* its
     bottom edge from a camera above the road, so only road roughness, slopes and the sample
     cell size could bring ground returns onto the silhouette; the clearance keeps them out.

  Points are sparse, so they are not splatted with a guessed footprint: every point that lands
  on a sample cell of box ``i``'s silhouette not already hidden by a box is one LiDAR ray
  through that part of the silhouette, and ``f_points = occluders / all such points`` (the
  share of rays stopped in front of the box; 0 below ``min_points`` points: no evidence). This
  holds for any beam pattern (HDL-64 or VLP-16) because rays sample solid angle about evenly
  over one silhouette. The LiDAR's viewpoint (typically 0.2-0.5 m above the camera) stands in
  for the camera's: a low wall the LiDAR looks over hides a little more from the camera.

``occlusion = f_box + (1 - f_box) f_points``: the hidden fraction of the in-image silhouette (a
sliver so thin that no lattice sample meets it counts as hidden: 1).

KITTI levels (:func:`occlusion_level`)
--------------------------------------
``0`` fully visible (``occlusion < 0.10``), ``1`` partly occluded (``< 0.50``), ``2`` largely
occluded, ``3`` unknown: the cuboid has no part in the image (``truncation == 1``). KITTI names
the levels without numbers (people chose them by eye); the bounds are the plain "a tenth / half"
reading, checked rather than fitted against KITTI's human levels on its tracking training labels:
no other pair of bounds agrees markedly better (``docs/label_formats.md`` gives the figures and
``tests/io/test_kitti_export_eval.py`` the confusion matrix).

Example
-------
>>> from fusionlabel.core.calibration import Camera
>>> cam = Camera("c", K=[[100, 0, 50], [0, 100, 50], [0, 0, 1]], width=100, height=100)
>>> b = Boxes.from_array([[0, 0, 10, 2, 2, 2, 0], [0, 0, 20, 2, 2, 2, 0], [4, 0, 10, 2, 2, 2, 0]])
>>> v = image_visibility(b, cam)                    # camera frame: z forward, boxes along it
>>> v.level.tolist(), np.round(v.truncation, 2).tolist()
([0, 2, 0], [0.0, 0.0, 0.2])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import Boxes, points_in_boxes
from fusionlabel.core.calibration import Camera
from fusionlabel.core.projection import NEAR, clipped_box_edges, normalised_to_pixels, pixels_to_normalised
from fusionlabel.core.transforms import Transform

#: KITTI occlusion levels
FULLY_VISIBLE, PARTLY_OCCLUDED, LARGELY_OCCLUDED, UNKNOWN = 0, 1, 2, 3
#: upper bounds (exclusive) of the hidden fraction for levels 0 and 1
OCCLUSION_THRESHOLDS = (0.10, 0.50)
#: a nearer cuboid hides a sample only when it is nearer by more than this (metres): touching
#: or duplicated boxes do not hide each other
BOX_DEPTH_EPS = 1e-3


@dataclass(frozen=True)
class ImageVisibility:
    """How much of each cuboid one camera sees (N cuboids).

    truncation : (N,) float64 in [0, 1], fraction of the silhouette outside the image
    occlusion : (N,) float64 in [0, 1], hidden fraction of the in-image silhouette (boxes and
        points); NaN where ``truncation == 1``
    hidden_by_boxes : (N,) float64, the part of ``occlusion`` due to other cuboids alone
    visible_area_px : (N,) float64, pixels^2 of the silhouette inside the image and not hidden
    level : (N,) int64, KITTI occlusion level (:func:`occlusion_level`)
    """

    truncation: NDArray[np.float64]
    occlusion: NDArray[np.float64]
    hidden_by_boxes: NDArray[np.float64]
    visible_area_px: NDArray[np.float64]
    level: NDArray[np.int64]

    @property
    def in_image(self) -> NDArray[np.bool_]:
        """(N,) bool: some part of the cuboid is in the picture (``truncation < 1``)."""
        return np.asarray(self.truncation < 1.0)


def occlusion_level(occlusion: ArrayLike, thresholds: tuple[float, float] = OCCLUSION_THRESHOLDS) -> NDArray[np.int64]:
    """(N,) KITTI levels of hidden fractions: 0 below ``thresholds[0]``, 1 below ``thresholds[1]``,
    else 2; NaN (not in the image) is 3.

    >>> occlusion_level([0.0, 0.3, 0.9, np.nan]).tolist()
    [0, 1, 2, 3]
    """
    f = np.asarray(occlusion, dtype=np.float64).reshape(-1)
    lv = np.where(f < thresholds[0], FULLY_VISIBLE, np.where(f < thresholds[1], PARTLY_OCCLUDED, LARGELY_OCCLUDED))
    return np.where(np.isnan(f), UNKNOWN, lv).astype(np.int64)


def image_visibility(
    boxes: Boxes,
    camera: Camera,
    T_cam_src: Transform | None = None,
    points: ArrayLike | None = None,
    *,
    near: float = NEAR,
    grid: int = 32,
    depth_margin: float = 0.3,
    box_margin: float = 0.25,
    ground_clearance: float = 0.3,
    min_points: int = 5,
    thresholds: tuple[float, float] = OCCLUSION_THRESHOLDS,
) -> ImageVisibility:
    """Truncation and occlusion of ``boxes`` in ``camera`` (rules in the module docstring).

    Parameters
    ----------
    boxes : N upright cuboids in frame ``src`` (z up when ``points`` are given)
    camera : the camera (its image size bounds the picture)
    T_cam_src : ``src`` -> camera optical frame (None: the boxes are in the camera frame)
    points : (M, 3) LiDAR points in ``src`` (metres), or None: boxes alone occlude
    near : near plane, metres
    grid : samples per axis of each silhouette's in-image bounding rectangle
    depth_margin : metres a point must lie in front of the box surface to hide it
    box_margin : metres by which labelled boxes grow when deciding that a point belongs to one
    ground_clearance : metres above a box's bottom face below which points are ground
    min_points : fewer points on an unhidden silhouette than this give no point occlusion
    thresholds : level bounds for :func:`occlusion_level`
    """
    n = len(boxes)
    T = T_cam_src if T_cam_src is not None else Transform.identity()
    trunc = np.ones(n)
    occ = np.full(n, np.nan)
    f_box = np.full(n, np.nan)
    area_in = np.zeros(n)
    if n == 0:
        return ImageVisibility(trunc, occ, f_box, area_in, np.zeros(0, np.int64))
    W, H = float(camera.width), float(camera.height)
    # -- silhouettes and truncation --------------------------------------------------------
    samples = 8 if np.any(camera.D) else 2  # straight edges need their end points only
    pts, vis = clipped_box_edges(boxes, T, near, samples)
    rects = np.full((n, 4), np.nan)
    centroids = np.full((n, 2), np.nan)
    for i in range(n):
        if not vis[i].any():
            continue
        p = pts[i][vis[i]].reshape(-1, 3)
        uv = normalised_to_pixels(p[:, :2] / p[:, 2:3], camera)
        hull = convex_hull(uv)
        whole = polygon_area(hull)
        inside = clip_polygon_to_rect(hull, 0.0, 0.0, W, H)
        a_in = polygon_area(inside)
        if whole <= 0.0 or a_in <= 0.0:
            continue
        trunc[i] = min(max(1.0 - a_in / whole, 0.0), 1.0)
        area_in[i] = a_in
        rects[i] = [inside[:, 0].min(), inside[:, 1].min(), inside[:, 0].max(), inside[:, 1].max()]
        centroids[i] = inside.mean(axis=0)
    # -- camera-frame box geometry for the slab tests --------------------------------------
    R_cam_src = np.asarray(T.rotation, dtype=np.float64)
    c, s = np.cos(boxes.yaw), np.sin(boxes.yaw)
    Rz = np.zeros((n, 3, 3))
    Rz[:, 0, 0], Rz[:, 0, 1], Rz[:, 1, 0], Rz[:, 1, 1], Rz[:, 2, 2] = c, -s, s, c, 1.0
    R_cam_box = np.einsum("ij,njk->nik", R_cam_src, Rz)  # R_cam_box = R_cam_src Rz(yaw)
    centre_cam = T.apply(boxes.center)
    half = boxes.size / 2.0
    # -- points in the picture: pixels, depth, height, whether in a labelled box ----------
    fg_pts = _PointSet.empty()
    if points is not None:
        fg_pts = _PointSet.build(
            np.asarray(points, dtype=np.float64).reshape(-1, 3)[:, :3], boxes, camera, T, near, box_margin
        )
    bottom = boxes.bottom_z
    # -- per box z-buffer on its own sample lattice ----------------------------------------
    cell_u, cell_v = np.meshgrid(np.arange(grid) + 0.5, np.arange(grid) + 0.5)  # (grid, grid), row = v
    lattice = np.stack([cell_u.ravel(), cell_v.ravel()], axis=1)  # (grid^2, 2) cell centres, in cells
    for i in np.flatnonzero(np.isfinite(rects[:, 0])).tolist():
        x0, y0, x1, y1 = rects[i]
        dx, dy = max(x1 - x0, 1e-9) / grid, max(y1 - y0, 1e-9) / grid
        uv = np.vstack([lattice * (dx, dy) + (x0, y0), centroids[i][None, :]])  # + the centroid
        xy = pixels_to_normalised(uv, camera)
        ok = np.all(np.isfinite(xy), axis=1)
        d = np.hstack([np.where(ok[:, None], xy, 0.0), np.ones((len(xy), 1))])
        # only boxes whose in-image rectangle overlaps this one can hide it
        cand = np.flatnonzero(
            (rects[:, 0] < x1) & (rects[:, 2] > x0) & (rects[:, 1] < y1) & (rects[:, 3] > y0) & (np.arange(n) != i)
        )
        rows = np.concatenate([[i], cand])
        t_in, hit = ray_box_entry(d, centre_cam[rows], R_cam_box[rows], half[rows], near)  # (1 + C, S)
        hit &= ok[None, :]
        own = hit[0]
        if not own.any():
            occ[i], f_box[i] = 1.0, 1.0  # a sliver thinner than the lattice: nothing seen of it
            continue
        nearer = hit[1:] & (t_in[1:] < t_in[0][None, :] - BOX_DEPTH_EPS)
        hidden = nearer.any(axis=0) & own
        fb = float(hidden.sum() / own.sum())
        fp = 0.0
        if len(fg_pts.uv):
            fp = _point_share(
                fg_pts,
                (x0, y0, dx, dy),
                grid,
                (own & ~hidden)[: grid * grid],
                t_in[0][: grid * grid],
                depth_margin,
                float(bottom[i]) + ground_clearance,
                min_points,
            )
        f_box[i] = fb
        occ[i] = fb + (1.0 - fb) * fp
    level = occlusion_level(occ, thresholds)
    vis_area = np.where(np.isfinite(occ), area_in * (1.0 - np.nan_to_num(occ)), 0.0)
    return ImageVisibility(trunc, occ, f_box, vis_area, level)


@dataclass(frozen=True)
class _PointSet:
    """LiDAR points in front of the camera and inside the image.

    uv : (M, 2) pixels; depth : (M,) camera z, metres; z_src : (M,) height in ``src``;
    in_box : (M,) bool, inside some labelled box grown by the margin
    """

    uv: NDArray[np.float64]
    depth: NDArray[np.float64]
    z_src: NDArray[np.float64]
    in_box: NDArray[np.bool_]

    @classmethod
    def empty(cls) -> _PointSet:
        z = np.zeros(0)
        return cls(np.zeros((0, 2)), z, z, np.zeros(0, bool))

    @classmethod
    def build(
        cls, p_src: NDArray[np.float64], boxes: Boxes, camera: Camera, T: Transform, near: float, margin: float
    ) -> _PointSet:
        p_src = p_src[np.all(np.isfinite(p_src), axis=1)]
        p = T.apply(p_src)
        front = p[:, 2] > near
        p, p_src = p[front], p_src[front]
        uv = normalised_to_pixels(p[:, :2] / p[:, 2:3], camera)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < camera.width) & (uv[:, 1] >= 0) & (uv[:, 1] < camera.height)
        p, p_src, uv = p[inside], p_src[inside], uv[inside]
        in_box = np.asarray(points_in_boxes(p_src, boxes, margin).any(axis=1), dtype=bool)
        return cls(uv, p[:, 2].copy(), p_src[:, 2].copy(), in_box)


def _point_share(
    pts: _PointSet,
    cell: tuple[float, float, float, float],
    grid: int,
    seen: NDArray[np.bool_],
    depth: NDArray[np.float64],
    depth_margin: float,
    ground_z: float,
    min_points: int,
) -> float:
    """Share of the points on a box's unhidden silhouette cells (``seen``, (grid^2,), lattice
    origin and cell size ``cell`` in pixels, box depth ``depth`` per cell) that are occluders (module docstring): in front by ``depth_margin``, in no box, above ``ground_z``."""
    x0, y0, dx, dy = cell
    ix = np.floor((pts.uv[:, 0] - x0) / dx).astype(np.int64)
    iy = np.floor((pts.uv[:, 1] - y0) / dy).astype(np.int64)
    on = (ix >= 0) & (ix < grid) & (iy >= 0) & (iy < grid)
    k = iy[on] * grid + ix[on]
    sel = seen[k]
    if sel.sum() < min_points:
        return 0.0
    idx = np.flatnonzero(on)[sel]
    k = k[sel]
    occluder = (pts.depth[idx] < depth[k] - depth_margin) & ~pts.in_box[idx] & (pts.z_src[idx] > ground_z)
    return float(occluder.mean())


def ray_box_entry(
    d: NDArray[np.float64],
    centre: NDArray[np.float64],
    R: NDArray[np.float64],
    half: NDArray[np.float64],
    near: float = NEAR,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Where rays from the camera centre enter oriented boxes (slab test).

    Parameters
    ----------
    d : (S, 3) ray directions in the camera frame (any length; with ``d_z = 1`` the returned
        parameter is the camera ``z`` depth in metres)
    centre : (N, 3) box centres, camera frame, metres
    R : (N, 3, 3) ``R_cam_box``, box axes (length, width, height) in the camera frame
    half : (N, 3) half sizes, metres
    near : rays start at ``t = near``

    Returns
    -------
    t_in : (N, S) float64, ``max(t_enter, near)``: in each box frame ``o' = -R^T c``,
        ``d' = R^T d``, per axis the slab ``[(-h - o') / d', (h - o') / d']``; the ray is
        inside the box for ``t`` in ``[max_k lo_k, min_k hi_k]``
    hit : (N, S) bool, that interval meets ``[near, inf)``
    """
    o = -np.einsum("nji,nj->ni", R, centre)  # (N, 3) camera centre in each box frame, o' = -R^T c
    dl = np.matmul(np.asarray(d, dtype=np.float64)[None, :, :], R)  # (N, S, 3), d' = R^T d per row
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half[:, None, :] - o[:, None, :]) / dl
        t2 = (half[:, None, :] - o[:, None, :]) / dl
    lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
    par = dl == 0.0  # ray parallel to a slab: inside it for every t, or never
    within = np.broadcast_to((np.abs(o) <= half)[:, None, :], dl.shape)
    lo = np.where(par, np.where(within, -np.inf, np.inf), lo)
    hi = np.where(par, np.where(within, np.inf, -np.inf), hi)
    t_enter = np.maximum(np.maximum(lo[..., 0], lo[..., 1]), lo[..., 2])
    t_exit = np.minimum(np.minimum(hi[..., 0], hi[..., 1]), hi[..., 2])
    t_in = np.maximum(t_enter, near)
    return t_in, np.asarray(t_exit >= t_in)


# -- 2D polygon helpers (pixels) ------------------------------------------------------------------
def convex_hull(p: ArrayLike) -> NDArray[np.float64]:
    """(K, 2) counter-clockwise (in x-right, y-up axes) convex hull of (M, 2) points (Andrew's
    monotone chain); collinear points dropped.

    >>> convex_hull([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]]).tolist()
    [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    """
    q = np.asarray(p, dtype=np.float64).reshape(-1, 2)
    q = q[np.lexsort((q[:, 1], q[:, 0]))]  # by x, then y
    if len(q) > 1:
        q = q[np.concatenate([[True], np.any(q[1:] != q[:-1], axis=1)])]
    pts = [(float(x), float(y)) for x, y in q]
    if len(pts) < 3:
        return np.array(pts, dtype=np.float64).reshape(-1, 2)

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def half_chain(seq: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for v in seq:
            while len(out) >= 2 and cross(out[-2], out[-1], v) <= 0:
                out.pop()
            out.append(v)
        return out

    lower, upper = half_chain(pts), half_chain(pts[::-1])
    return np.array(lower[:-1] + upper[:-1], dtype=np.float64)


def polygon_area(p: NDArray[np.float64]) -> float:
    """Area of a simple polygon (K, 2) by the shoelace formula, ``|sum x_i y_i+1 - x_i+1 y_i| / 2``."""
    if len(p) < 3:
        return 0.0
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]) + x[-1] * y[0] - x[0] * y[-1]) / 2.0)


def clip_polygon_to_rect(p: NDArray[np.float64], x0: float, y0: float, x1: float, y1: float) -> NDArray[np.float64]:
    """A convex polygon (K, 2) clipped to the rectangle ``[x0, x1] x [y0, y1]`` (Sutherland-Hodgman).

    >>> polygon_area(clip_polygon_to_rect(np.array([[-1.0, 0], [1, 0], [1, 2], [-1, 2]]), 0, 0, 4, 1))
    1.0
    """
    out = [(float(x), float(y)) for x, y in np.asarray(p, dtype=np.float64).reshape(-1, 2)]
    # each boundary as (axis, value, sign): keep the points with sign * (coordinate - value) >= 0
    for axis, val, sign in ((0, x0, 1.0), (0, x1, -1.0), (1, y0, 1.0), (1, y1, -1.0)):
        if not out:
            break
        res: list[tuple[float, float]] = []
        for a, b in zip(out, out[1:] + out[:1]):
            ina, inb = sign * (a[axis] - val) >= 0, sign * (b[axis] - val) >= 0
            if ina:
                res.append(a)
            if ina != inb:
                t = (val - a[axis]) / (b[axis] - a[axis])
                res.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
        out = res
    return np.array(out, dtype=np.float64).reshape(-1, 2)
