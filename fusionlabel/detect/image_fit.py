"""Cuboids from a few points and a class prior: the box under a click, and the 2D-to-3D box.

Two fits an annotator starts by hand (the app calls them; pure numpy/scipy, no Qt):

:func:`fit_cluster_box`
    The BEV rectangle of an object's points (L-shape fit, :mod:`fusionlabel.detect.boxfit`),
    **completed to the class prior** (:func:`complete_to_prior`): along each axis the box keeps
    the seen extent when it is at least the class minimum, and takes the class's typical size
    otherwise, growing *away from the sensor* (the seen face is where the points are; the hidden
    ones are not). So a sparse object never collapses to a pole: no result is smaller than the
    class minimum.

:func:`fit_box_in_image` (the 2D-to-3D of SUSTechPOINTS and Xtreme1)
    A 2D box drawn around an object in a camera image selects the LiDAR points whose projection
    falls inside it (the *frustum*). Ground points go (height above a local BEV ground map under
    0.2 m), the rest are linked into clusters (points closer than ``link`` metres), and the
    nearest cluster with enough points is the object: :func:`fit_cluster_box` gives the first
    cuboid. With no points (a distant or dark object) the prior alone places it: its depth from
    the box's pixel height, ``Z = f_y H / h_px``, on the ray through the box centre, heading along
    the camera. Then a least-squares refinement moves and sizes the cuboid so that its projection
    matches the drawn box::

        r = [ (bbox(p) - drawn) / 2 px,  (xyz - xyz0) / sigma_xyz,  (lwh - lwh0) / (0.2 lwh0) ]

    over ``p = (x, y, z, l, w, h)``, heading fixed, sizes bounded below by the class minimum
    (``sigma_xyz`` is 0.5 m where points gave the start, 5 m where only the prior did).

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.size_priors import size_class
>>> rng = np.random.default_rng(0)
>>> pole = np.c_[rng.normal(10, 0.05, (30, 2)), rng.uniform(0.3, 1.4, 30)]   # a sparse car seen as a pole
>>> road = np.c_[rng.uniform(0, 20, (3000, 2)) - [0, 10], np.zeros(3000)]
>>> box = fit_cluster_box(pole, 0.0, size_class("Car"), np.zeros(2))
>>> bool(np.all(box.size[0] >= size_class("Car").minimum))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import Boxes, wrap_angle
from fusionlabel.core.calibration import Camera
from fusionlabel.core.projection import pixels_to_normalised, project_boxes, project_points
from fusionlabel.core.size_priors import SizeClass
from fusionlabel.detect.boxfit import Rectangle, fit_rectangle


@dataclass(frozen=True)
class ImageBoxFit:
    """The cuboid of :func:`fit_box_in_image`.

    box : one box, ego frame; points : object points used (0: placed from the prior alone);
    residual_px : largest difference between the cuboid's projected 2D box and the drawn one
    """

    box: Boxes
    points: int
    residual_px: float


def local_ground(points: ArrayLike, xy: ArrayLike, cell: float = 1.0, reach: int = 3) -> NDArray[np.float64]:
    """(M,) ground height under the (M, 2) ego positions ``xy`` from the cloud ``points`` (N, 3).

    The lowest point per ``cell``-metre BEV cell, then the minimum over ``(2 reach + 1)^2``
    cells (an object's cells take the road height around it); where no cell within reach has
    points, the cloud's 5th height percentile.
    """
    from scipy.ndimage import minimum_filter

    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    q = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(q) == 0:
        return np.zeros(0)
    fallback = float(np.percentile(p[:, 2], 5)) if len(p) else 0.0
    lo = q.min(axis=0) - (reach + 1) * cell
    hi = q.max(axis=0) + (reach + 1) * cell
    near = p[np.all((p[:, :2] >= lo) & (p[:, :2] <= hi), axis=1)]
    if len(near) == 0:
        return np.full(len(q), fallback)
    shape = np.ceil((hi - lo) / cell).astype(int) + 1
    ij = np.floor((near[:, :2] - lo) / cell).astype(int)
    grid = np.full(tuple(shape), np.inf)
    np.minimum.at(grid, (ij[:, 0], ij[:, 1]), near[:, 2])
    g = minimum_filter(grid, size=2 * reach + 1, mode="constant", cval=np.inf)
    qi = np.clip(np.floor((q - lo) / cell).astype(int), 0, shape - 1)
    out = g[qi[:, 0], qi[:, 1]]
    return np.where(np.isfinite(out), out, fallback)


def _target(seen: float, lo: float, typical: float) -> float:
    """A seen extent at least the class minimum is the object's; a shorter one is a partial view:
    the object gets the class's typical size (never less than what was seen)."""
    return seen if seen >= lo else max(seen, typical)


def _closest_heading(yaw: float, hint: float) -> float:
    """``yaw`` or ``yaw + pi``, whichever is nearer ``hint`` (a LiDAR outline has no front)."""
    a, b = float(wrap_angle(yaw)), float(wrap_angle(yaw + np.pi))
    return a if abs(float(wrap_angle(a - hint))) <= abs(float(wrap_angle(b - hint))) else b


def complete_to_prior(
    rect: Rectangle,
    ground_z: float,
    top_z: float,
    sc: SizeClass,
    sensor_xy: ArrayLike,
    yaw_hint: float | None = None,
) -> Boxes:
    """The cuboid of a BEV rectangle completed to the class's sizes (module docstring).

    Parameters
    ----------
    rect : the seen outline (``length >= width``, ``yaw`` along the long side)
    ground_z, top_z : the ground under the object and its highest point, metres
    sc : the class's sizes
    sensor_xy : (2,) the sensor that saw it (ego frame): hidden faces are away from it
    yaw_hint : a heading the box should keep (the box being refitted); None: decide from the
        outline (its long side is the length unless it fits the class width and faces the sensor)
    """
    a, b, yaw = float(rect.length), float(rect.width), float(rect.yaw)
    sensor = np.asarray(sensor_xy, dtype=np.float64).reshape(2)
    bearing = float(np.arctan2(*(rect.center - sensor)[::-1]))
    if yaw_hint is not None:
        d_long = abs(float(wrap_angle(2 * (yaw - yaw_hint)))) / 2  # angle mod pi between axis and hint
        face_is_width = d_long > np.pi / 4
    else:
        faces_sensor = abs(np.sin(yaw - bearing)) > 0.8  # the long side is across the line of sight
        face_is_width = a <= sc.width[1] + 0.2 and faces_sensor and b < 0.5 * sc.length[0]
    lmin, wmin, hmin = sc.minimum
    lt, wt, ht = sc.prior
    if face_is_width:  # the a-axis is the object's width, the b-axis its length
        tgt = (_target(a, wmin, wt), _target(b, lmin, lt))
    else:
        tgt = (_target(a, lmin, lt), _target(b, wmin, wt))
    e_a = np.array([np.cos(yaw), np.sin(yaw)])
    e_b = np.array([-e_a[1], e_a[0]])
    center = rect.center.astype(np.float64).copy()
    for e, seen, want in ((e_a, a, tgt[0]), (e_b, b, tgt[1])):
        grow = want - seen
        if grow > 0:
            s = float((sensor - rect.center) @ e)  # the sensor's side of the centre along e
            center = center + e * (grow / 2.0) * (-1.0 if s > 0 else 1.0)
    if face_is_width:
        length, width, heading = tgt[1], tgt[0], yaw + np.pi / 2
    else:
        length, width, heading = tgt[0], tgt[1], yaw
    heading = _closest_heading(heading, yaw_hint if yaw_hint is not None else float(wrap_angle(heading)))
    height = _target(max(top_z - ground_z, 0.0), hmin, ht)
    return Boxes.from_array([[center[0], center[1], ground_z + height / 2, length, width, height, heading]])


def fit_cluster_box(
    cluster: ArrayLike, ground_z: float, sc: SizeClass, sensor_xy: ArrayLike, yaw_hint: float | None = None
) -> Boxes:
    """The cuboid of one object's (K, 3) ego-frame points standing on ``ground_z``, completed to
    the class ``sc`` (:func:`complete_to_prior`); never smaller than the class minimum."""
    c = np.asarray(cluster, dtype=np.float64).reshape(-1, 3)
    if len(c) == 0:
        raise ValueError("no points to fit")
    rect = fit_rectangle(c[:, :2])
    return complete_to_prior(rect, float(ground_z), float(c[:, 2].max()), sc, sensor_xy, yaw_hint)


def _clusters(obj: NDArray[np.float64], link: float) -> NDArray[np.int64]:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pairs = cKDTree(obj).query_pairs(link, output_type="ndarray")
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(obj), len(obj)))
    return connected_components(g, directed=False)[1].astype(np.int64)


def fit_box_in_image(
    points: ArrayLike,
    camera: Camera,
    bbox: ArrayLike,
    sc: SizeClass,
    yaw_hint: float | None = None,
    link: float = 0.6,
    max_points: int = 20000,
) -> ImageBoxFit:
    """The cuboid of the object inside the drawn 2D box (module docstring).

    Parameters
    ----------
    points : (N, 3) ego-frame LiDAR points, metres
    camera : the camera the box was drawn in (``T_ego_cam`` places it)
    bbox : ``[x1, y1, x2, y2]`` pixels of ``camera``'s image
    sc : the class's sizes (prior, minimum)
    yaw_hint : heading for the cuboid (default: from the points, else along the camera)
    link : neighbour distance that joins points into one object, metres

    Raises
    ------
    ValueError : the 2D box is empty (zero width or height)
    """
    from scipy.optimize import least_squares

    x1, y1, x2, y2 = (float(v) for v in np.asarray(bbox, dtype=np.float64).reshape(4))
    x1, x2 = min(x1, x2), max(x1, x2)
    y1, y2 = min(y1, y2), max(y1, y2)
    if x2 - x1 < 2 or y2 - y1 < 2:
        raise ValueError("the 2D box is empty: drag a rectangle around the object")
    drawn = np.array([x1, y1, x2, y2])
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    T_cam_ego = camera.T_ego_cam.inverse()
    sensor_xy = camera.T_ego_cam.translation[:2]
    axis = camera.T_ego_cam.rotation @ np.array([0.0, 0.0, 1.0])
    cam_heading = float(np.arctan2(axis[1], axis[0]))
    box0: Boxes | None = None
    n_obj = 0
    if len(pts):
        pr = project_points(pts, camera, T_cam_ego)
        uv = pr.uv
        inside = pr.valid & (uv[:, 0] >= x1) & (uv[:, 0] <= x2) & (uv[:, 1] >= y1) & (uv[:, 1] <= y2)
        fp, depth = pts[inside], pr.depth[inside]
        if len(fp) > max_points:
            step = int(np.ceil(len(fp) / max_points))
            fp, depth = fp[::step], depth[::step]
        if len(fp) >= 3:
            g = local_ground(pts, fp[:, :2])
            keep = (fp[:, 2] > g + 0.2) & (fp[:, 2] < g + 4.0)
            obj, og, od = fp[keep], g[keep], depth[keep]
            if len(obj) >= 3:
                lab = _clusters(obj, link)
                need = max(3, int(0.05 * len(obj)))
                best, best_d = -1, np.inf
                for c in np.unique(lab):
                    m = lab == c
                    if m.sum() >= need and float(np.median(od[m])) < best_d:
                        best, best_d = int(c), float(np.median(od[m]))
                if best >= 0:
                    cl = obj[lab == best]
                    n_obj = len(cl)
                    box0 = fit_cluster_box(cl, float(np.median(og[lab == best])), sc, sensor_xy, yaw_hint)
    if box0 is None:
        box0 = _prior_box(camera, drawn, sc, cam_heading if yaw_hint is None else yaw_hint)
    a0 = box0.to_array()[0]
    sig_xyz = 0.5 if n_obj else 5.0
    lwh0 = a0[3:6]
    lo = np.r_[[-np.inf] * 3, np.minimum(sc.minimum, lwh0)]

    def bbox_of(p: NDArray[np.float64]) -> NDArray[np.float64]:
        b = Boxes.from_array([[*p[:6], a0[6]]])
        return project_boxes(b, camera, T_cam_ego, samples=2 if not np.any(camera.D) else 8).bbox[0]

    def residuals(p: NDArray[np.float64]) -> NDArray[np.float64]:
        bb = bbox_of(p)
        r_img = np.full(4, 200.0) if not np.all(np.isfinite(bb)) else (bb - drawn) / 2.0
        return np.concatenate([r_img, (p[:3] - a0[:3]) / sig_xyz, (p[3:6] - lwh0) / (0.2 * lwh0)])

    sol = least_squares(residuals, a0[:6], bounds=(lo, np.full(6, np.inf)), x_scale=np.r_[[1.0] * 3, lwh0 * 0.2])
    box = Boxes.from_array([[*sol.x[:6], a0[6]]])
    bb = bbox_of(sol.x)
    resid = float(np.max(np.abs(bb - drawn))) if np.all(np.isfinite(bb)) else float("inf")
    return ImageBoxFit(box, n_obj, resid)


def _prior_box(camera: Camera, drawn: NDArray[np.float64], sc: SizeClass, heading: float) -> Boxes:
    """A class-prior cuboid placed from the 2D box alone: depth ``Z = f_y H / h_px`` on the ray
    through the box's centre, heading ``heading``."""
    l, w, h = sc.prior
    x1, y1, x2, y2 = drawn
    z = float(camera.K[1, 1]) * h / max(y2 - y1, 1.0)
    ray = pixels_to_normalised([[(x1 + x2) / 2, (y1 + y2) / 2]], camera)[0]
    if not np.all(np.isfinite(ray)):
        ray = np.zeros(2)
    # the ray meets the object's near face at depth z; its centre lies about half a length beyond
    p_cam = np.array([ray[0], ray[1], 1.0]) * (z + 0.5 * min(l, w))
    c = camera.T_ego_cam.apply(p_cam[None])[0]
    return Boxes.from_array([[c[0], c[1], c[2], l, w, h, heading]])
