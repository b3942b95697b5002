"""Project 3D points and cuboids into calibrated cameras.

Pipeline for a point ``p_src`` (any sensor frame)::

    p_cam = T_cam_src p_src                     (camera optical frame, z forward)
    (x, y) = (p_cam.x / z, p_cam.y / z)         (normalised image plane, z > near)
    (x', y') = distort(x, y; D)                 (OpenCV radial-tangential or fisheye)
    (u, v) = (fx x' + s y' + cx, fy y' + cy)

Points with ``z <= near`` are behind the camera and are *culled* (``valid = False``), never
projected through the origin. Cuboid edges that cross the near plane are clipped to it before
projection, so a box half behind the camera still draws correctly.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.calibration import Camera
>>> cam = Camera("c", K=[[100, 0, 50], [0, 100, 50], [0, 0, 1]], width=100, height=100)
>>> pr = project_points(np.array([[0.0, 0.0, 10.0], [0.0, 0.0, -1.0]]), cam)
>>> pr.uv[0].tolist(), pr.valid.tolist()
([50.0, 50.0], [True, False])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import BOX_EDGES, Boxes
from fusionlabel.core.calibration import Camera
from fusionlabel.core.transforms import Transform

NEAR = 0.1  # metres: the near plane for culling and clipping


@dataclass(frozen=True)
class Projection:
    """Result of projecting N points.

    uv : (N, 2) float64 pixel coordinates (meaningless where ``valid`` is False)
    depth : (N,) float64, z in the camera frame, metres
    valid : (N,) bool, in front of the camera, inside the image and the lens' valid field
    """

    uv: NDArray[np.float64]
    depth: NDArray[np.float64]
    valid: NDArray[np.bool_]


def distort(xy: NDArray[np.float64], camera: Camera) -> NDArray[np.float64]:
    """Apply the lens model to (N, 2) normalised coordinates."""
    D = camera.D
    if len(D) == 0 or not np.any(D):
        return xy
    x, y = xy[:, 0], xy[:, 1]
    r2 = x * x + y * y
    if camera.model == "fisheye":
        r = np.sqrt(r2)
        theta = np.arctan(r)
        t2 = theta * theta
        theta_d = theta * (1 + D[0] * t2 + D[1] * t2**2 + D[2] * t2**3 + D[3] * t2**4)
        scale = np.where(r > 1e-12, theta_d / np.maximum(r, 1e-12), 1.0)
        return xy * scale[:, None]
    k = np.zeros(8)
    k[: len(D)] = D
    k1, k2, p1, p2, k3, k4, k5, k6 = k
    # radial = (1 + k1 r^2 + k2 r^4 + k3 r^6) / (1 + k4 r^2 + k5 r^4 + k6 r^6)
    radial = (1 + k1 * r2 + k2 * r2**2 + k3 * r2**3) / (1 + k4 * r2 + k5 * r2**2 + k6 * r2**3)
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=1)


def _field_limit(camera: Camera) -> float:
    """Largest undistorted normalised radius ``r = tan(theta)`` we trust the lens model at.

    Polynomial lens models fold back outside the calibrated field, mapping far-off-axis points
    into the image. ``K^-1`` of the image corners gives the *distorted* radius of the field's
    edge; we accept points up to 1.5x that radius. For the pinhole model the distorted and
    undistorted radii are close near the calibrated field; for the fisheye model the distorted
    radius is approximately the angle ``theta`` itself, so the limit is ``tan(min(1.5 theta, 89.4 deg))``.
    """
    Kinv = np.linalg.inv(camera.K)
    corners = np.array([[0, 0, 1], [camera.width, 0, 1], [0, camera.height, 1], [camera.width, camera.height, 1]])
    n = corners @ Kinv.T
    r_edge = float(np.max(np.hypot(n[:, 0], n[:, 1])))
    if camera.model == "fisheye":
        return float(np.tan(min(1.5 * r_edge, np.pi / 2 - 0.01)))
    return 1.5 * r_edge


def _pixels(xy: NDArray[np.float64], camera: Camera) -> NDArray[np.float64]:
    """Normalised (N, 2) -> pixels. Beyond the lens model's field the plain pinhole model is used:
    those points are outside the image anyway, and the pinhole model keeps them on the correct
    side of it (clipped wireframes and 2D boxes then extend to the right border)."""
    xyd = distort(xy, camera)
    if len(camera.D) and np.any(camera.D):
        far = np.hypot(xy[:, 0], xy[:, 1]) > _field_limit(camera)
        if far.any():
            xyd = np.where(far[:, None], xy, xyd)
    K = camera.K
    u = K[0, 0] * xyd[:, 0] + K[0, 1] * xyd[:, 1] + K[0, 2]
    v = K[1, 1] * xyd[:, 1] + K[1, 2]
    return np.stack([u, v], axis=1)


def project_points(
    points: ArrayLike, camera: Camera, T_cam_src: Transform | None = None, near: float = NEAR
) -> Projection:
    """Project (N, 3) points given in frame ``src`` (camera frame when ``T_cam_src`` is None)."""
    p = np.asarray(points, dtype=np.float64)[:, :3]
    if T_cam_src is not None:
        p = T_cam_src.apply(p)
    z = p[:, 2]
    front = z > near
    safe_z = np.where(front, z, 1.0)
    xy = p[:, :2] / safe_z[:, None]
    in_field = np.hypot(xy[:, 0], xy[:, 1]) <= _field_limit(camera) if np.any(camera.D) else np.ones(len(p), bool)
    uv = _pixels(xy, camera)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < camera.width) & (uv[:, 1] >= 0) & (uv[:, 1] < camera.height)
    return Projection(uv=uv, depth=z, valid=front & in_field & inside)


def normalised_to_pixels(xy: ArrayLike, camera: Camera) -> NDArray[np.float64]:
    """(N, 2) normalised image coordinates ``(x/z, y/z)`` -> (N, 2) pixels through the lens model.

    ``u = K distort(x, y)``; beyond the lens model's trusted field the plain pinhole model is used
    (those points are outside the image anyway, see :func:`project_points`).
    """
    return _pixels(np.asarray(xy, dtype=np.float64).reshape(-1, 2), camera)


def pixels_to_normalised(uv: ArrayLike, camera: Camera, iterations: int = 30) -> NDArray[np.float64]:
    """(N, 2) pixels -> (N, 2) undistorted normalised coordinates ``(x, y)``: the ray ``(x, y, 1)``.

    ``x_d = K^-1 (u, v, 1)``, then the fixed-point iteration ``x <- x - (distort(x) - x_d)``
    (converges for the mild distortion of automotive cameras; exact in one step without
    distortion). Rows where it has not converged to 1e-6 are NaN.

    Example
    -------
    >>> cam = Camera("c", K=[[100, 0, 50], [0, 100, 50], [0, 0, 1]], width=100, height=100, D=[-0.1, 0.01, 0, 0])
    >>> xy = pixels_to_normalised([[80.0, 20.0]], cam)
    >>> np.allclose(normalised_to_pixels(xy, cam), [[80.0, 20.0]])
    True
    """
    p = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    K = camera.K
    yd = (p[:, 1] - K[1, 2]) / K[1, 1]
    xd = (p[:, 0] - K[0, 2] - K[0, 1] * yd) / K[0, 0]
    target = np.stack([xd, yd], axis=1)
    if len(camera.D) == 0 or not np.any(camera.D):
        return target
    xy = target.copy()
    for _ in range(iterations):
        step = distort(xy, camera) - target  # x <- x - (distort(x) - x_d)
        xy = xy - step
        if not np.any(np.abs(step) > 1e-12):
            break
    bad = ~(np.max(np.abs(distort(xy, camera) - target), axis=1) <= 1e-6)
    xy[bad] = np.nan
    return xy


def clipped_box_edges(
    boxes: Boxes, T_cam_src: Transform | None = None, near: float = NEAR, samples: int = 2
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The 12 edges of each cuboid in the camera frame, clipped to the near plane ``z = near``.

    Returns
    -------
    points : (N, 12, S, 3) float64, ``S = samples`` points evenly spaced along each clipped edge
        (end points included), camera frame, metres; ``z >= near`` everywhere
    visible : (N, 12) bool, False for edges entirely behind the near plane (their points are
        meaningless)

    An edge crossing the plane has its behind end point moved onto the plane, so the points of
    the visible edges are exactly the vertices (and edge samples) of the cuboid cut by the
    half-space ``z >= near``, a convex polyhedron.
    """
    n = len(boxes)
    corners: NDArray[np.float64] = boxes.corners().reshape(-1, 3)  # (8N, 3), then (N, 8, 3)
    if T_cam_src is not None:
        corners = T_cam_src.apply(corners)
    corners = corners.reshape(n, 8, 3)
    a = corners[:, BOX_EDGES[:, 0]]  # (N, 12, 3)
    b = corners[:, BOX_EDGES[:, 1]]
    za, zb = a[..., 2], b[..., 2]
    vis = (za > near) | (zb > near)
    # clip: move the behind endpoint onto the near plane
    with np.errstate(divide="ignore", invalid="ignore"):
        # fraction along the edge where it crosses z = near (edges parallel to the plane: 0)
        t = np.clip(np.nan_to_num((near - za) / (zb - za), nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
        t2 = np.clip(np.nan_to_num((near - zb) / (za - zb), nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
    a_c = np.where((za <= near)[..., None], a + (b - a) * t[..., None], a)
    b_c = np.where((zb <= near)[..., None], b + (a - b) * t2[..., None], b)
    a_c[..., 2] = np.maximum(a_c[..., 2], near)
    b_c[..., 2] = np.maximum(b_c[..., 2], near)
    s = np.linspace(0.0, 1.0, samples)
    pts = a_c[:, :, None, :] + (b_c - a_c)[:, :, None, :] * s[None, None, :, None]  # (N,12,S,3)
    return pts, vis


@dataclass(frozen=True)
class BoxProjection:
    """Projected cuboid wireframes.

    segments : (N, 12, 2, 2) float64 pixel endpoints of each box edge after near-plane clipping
    edge_visible : (N, 12) bool, False for edges entirely behind the camera
    bbox : (N, 4) float64 ``[x1, y1, x2, y2]`` of the visible wireframe clipped to the image;
           NaN where no part of the box is in front of the camera or inside the image
    extent : (N, 4) float64 the same before clipping to the image (may reach far outside it);
           NaN where no part of the box is in front of the camera
    """

    segments: NDArray[np.float64]
    edge_visible: NDArray[np.bool_]
    bbox: NDArray[np.float64]
    extent: NDArray[np.float64]


def project_boxes(
    boxes: Boxes, camera: Camera, T_cam_src: Transform | None = None, near: float = NEAR, samples: int = 8
) -> BoxProjection:
    """Project cuboids given in frame ``src`` into ``camera``.

    Each edge is clipped against the near plane ``z = near``; with distortion, straight edges
    become curves, so the 2D box is computed from ``samples`` points along each clipped edge.
    """
    n = len(boxes)
    pts, vis = clipped_box_edges(boxes, T_cam_src, near, samples)
    flat = pts.reshape(-1, 3)
    uv = _pixels(flat[:, :2] / flat[:, 2:3], camera).reshape(n, 12, samples, 2)
    segments = uv[:, :, [0, -1], :]
    extent = _extent(uv, vis)
    x1, x2 = np.clip(extent[:, 0], 0, camera.width), np.clip(extent[:, 2], 0, camera.width)
    y1, y2 = np.clip(extent[:, 1], 0, camera.height), np.clip(extent[:, 3], 0, camera.height)
    ok = (x2 > x1) & (y2 > y1)  # False also where the extent is NaN (nothing in front)
    bbox = np.where(ok[:, None], np.stack([x1, y1, x2, y2], axis=1), np.nan)
    return BoxProjection(segments=segments, edge_visible=vis, bbox=bbox, extent=extent)


def _extent(uv: NDArray[np.float64], vis: NDArray[np.bool_]) -> NDArray[np.float64]:
    """(N, 4) ``[x1, y1, x2, y2]`` of the points of the visible edges (``uv`` (N, 12, S, 2),
    ``vis`` (N, 12)); NaN rows where no edge is visible."""
    n = len(uv)
    pts = np.where(vis[:, :, None, None], uv, np.nan).reshape(n, -1, 2)
    out = np.full((n, 4), np.nan)
    any_vis = vis.any(axis=1)
    if any_vis.any():
        q = pts[any_vis]
        out[any_vis] = np.concatenate([np.nanmin(q, axis=1), np.nanmax(q, axis=1)], axis=1)
    return out


def visible_fraction(
    boxes: Boxes, camera: Camera, T_cam_src: Transform | None = None, near: float = NEAR
) -> NDArray[np.float64]:
    """(N,) fraction of each cuboid's image extent that lies inside the image, in [0, 1].

    The extent is the 2D box of the cuboid's wireframe (edges clipped at the near plane,
    :func:`project_boxes`) before clipping to the image; the fraction is the area of its part
    inside ``[0, width] x [0, height]`` over its whole area. 1 for a cuboid fully in view,
    about 0.5 for one half out of the picture, 0 for one behind the camera or beside the image.
    A cuboid that reaches behind the camera projects to a very wide extent, so a car passing
    alongside scores low. Annotation guidelines that label what a camera sees (KITTI labels
    objects in ``image_02``) keep a track only where this is high enough.

    Example
    -------
    >>> cam = Camera("c", K=[[100, 0, 50], [0, 100, 50], [0, 0, 1]], width=100, height=100)
    >>> b = Boxes.from_array([[0, 0, 20, 2, 2, 2, 0], [5, 0, 10, 2, 2, 2, 0], [0, 0, -5, 2, 2, 2, 0]])
    >>> np.round(visible_fraction(b, cam), 2).tolist()    # in view, half out on the right, behind
    [1.0, 0.45, 0.0]
    """
    if not len(boxes):
        return np.zeros(0)
    # straight edges need their end points only; distortion bends them (sample along them)
    bp = project_boxes(boxes, camera, T_cam_src, near, samples=8 if np.any(camera.D) else 2)

    def area(r: NDArray[np.float64]) -> NDArray[np.float64]:
        return (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])

    inside, whole = area(bp.bbox), area(bp.extent)  # NaN where nothing is in front / in the picture
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(whole > 0, inside / whole, 0.0)
    return np.nan_to_num(frac, nan=0.0)


def bbox_iou(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Row-wise IoU of two (N, 4) ``[x1, y1, x2, y2]`` arrays."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-12)
