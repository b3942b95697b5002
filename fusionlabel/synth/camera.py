"""Calibrated pinhole cameras with mild lens distortion, rendered by ray casting.

Each pixel centre ``(u, v)`` (OpenCV convention: pixel ``(row i, column j)`` is centred at
``u = j, v = i``) is back-projected through the same lens model :mod:`fusionlabel.core.projection`
uses forwards: the distorted normalised coordinates ``x_d = K^-1 (u, v, 1)`` are undistorted by
the fixed-point iteration ``x <- x - (distort(x) - x_d)`` (converges for mild distortion), and
the ray ``(x, y, 1) / |(x, y, 1)|`` in the optical frame is rotated into the road frame. So a
3D point projected with :func:`fusionlabel.core.projection.project_points` lands on the pixel
whose ray hits it.

Shading: ``colour = albedo (0.45 + 0.55 max(0, n . sun) + 0.1 n_z)`` with the surface normal
``n`` facing the camera, then blended towards the horizon colour with ``1 - exp(-d / 400 m)``
(aerial perspective); rays that hit nothing get a sky gradient by elevation.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Camera
from fusionlabel.core.projection import distort
from fusionlabel.core.transforms import Transform
from fusionlabel.synth.geometry import Snapshot, cast, dot3, rotate, surface
from fusionlabel.synth.world import Scenario

#: name -> (position in the ego frame (m), yaw (deg, left +), pitch (deg, down +), horizontal FOV (deg), distortion)
CAMERA_PRESETS: dict[str, tuple[tuple[float, float, float], float, float, float, tuple[float, ...]]] = {
    "cam_front": ((1.9, 0.0, 1.45), 0.0, 2.0, 75.0, (-0.07, 0.018, 0.0004, -0.0003, 0.0)),
    "cam_front_left": ((1.75, 0.45, 1.45), 55.0, 2.0, 75.0, (-0.07, 0.018, 0.0, 0.0, 0.0)),
    "cam_front_right": ((1.75, -0.45, 1.45), -55.0, 2.0, 75.0, (-0.07, 0.018, 0.0, 0.0, 0.0)),
    "cam_back": ((-0.9, 0.0, 1.5), 180.0, 3.0, 90.0, (-0.05, 0.01, 0.0, 0.0, 0.0)),
}

# optical frame (x right, y down, z forward) -> ego (x forward, y left, z up)
_R_EGO_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])

SKY_HORIZON = np.array([0.78, 0.85, 0.93])
SKY_ZENITH = np.array([0.33, 0.52, 0.85])


def make_camera(name: str, image_size: tuple[int, int] = (640, 360)) -> Camera:
    """A :class:`Camera` from :data:`CAMERA_PRESETS` for an image of ``(width, height)`` pixels."""
    if name not in CAMERA_PRESETS:
        raise ValueError(f"unknown camera {name!r}; known: {', '.join(CAMERA_PRESETS)}")
    W, H = int(image_size[0]), int(image_size[1])
    if W < 16 or H < 16:
        raise ValueError("image_size must be at least 16 x 16 pixels")
    pos, yaw_deg, pitch_deg, hfov_deg, D = CAMERA_PRESETS[name]
    f = (W / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    # a principal point slightly off-centre, as real calibrations have
    K = np.array([[f, 0.0, (W - 1) / 2.0 + 0.004 * W], [0.0, f, (H - 1) / 2.0 - 0.005 * H], [0.0, 0.0, 1.0]])
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    Rz = np.array([[math.cos(yaw), -math.sin(yaw), 0.0], [math.sin(yaw), math.cos(yaw), 0.0], [0.0, 0.0, 1.0]])
    Ry = np.array([[math.cos(pitch), 0.0, math.sin(pitch)], [0.0, 1.0, 0.0], [-math.sin(pitch), 0.0, math.cos(pitch)]])
    T_ego_cam = Transform.from_rt(Rz @ Ry @ _R_EGO_OPTICAL, pos)
    return Camera(name=name, K=K, width=W, height=H, T_ego_cam=T_ego_cam, D=np.array(D))


def pixel_rays(camera: Camera, iterations: int = 30) -> NDArray[np.float64]:
    """(H W, 3) unit ray directions in the optical frame through every pixel centre, row-major."""
    H, W = camera.height, camera.width
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    K = camera.K
    yd = (v.ravel() - K[1, 2]) / K[1, 1]
    xd = (u.ravel() - K[0, 2] - K[0, 1] * yd) / K[0, 0]
    target = np.stack([xd, yd], axis=1)
    xy = target.copy()
    for _ in range(iterations):
        step = distort(xy, camera) - target
        xy = xy - step
        if not np.any(np.abs(step) > 1e-12):
            break
    resid = float(np.max(np.abs(distort(xy, camera) - target))) if len(xy) else 0.0
    if resid > 1e-6:
        raise ValueError(f"camera {camera.name}: lens undistortion did not converge (residual {resid:.2e})")
    d = np.hstack([xy, np.ones((len(xy), 1))])
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def render(
    snap: Snapshot, scenario: Scenario, camera: Camera, T_road_cam: Transform, dirs_cam: NDArray[np.float64]
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Render one image.

    Returns
    -------
    rgb : (H, W, 3) uint8
    actor : (H, W) int64, index of the actor seen at each pixel (-1 ground, -2 structure, -3 sky)
    """
    d = rotate(T_road_cam.rotation, dirs_cam)
    o = T_road_cam.translation
    h = cast(snap, o, d)
    hit = np.isfinite(h.t) & (h.t < 1500.0)
    pts = o[None, :] + d * np.where(hit, h.t, 0.0)[:, None]
    _, albedo = surface(snap, h, pts, scenario)
    sun = np.asarray(scenario.sun, dtype=np.float64)
    shade = 0.45 + 0.55 * np.clip(dot3(h.normal, sun), 0.0, None) + 0.1 * h.normal[:, 2]
    fog = 1.0 - np.exp(-np.where(hit, h.t, 0.0) / 400.0)
    el = np.clip(d[:, 2], 0.0, 1.0) ** 0.6
    col = np.empty((len(d), 3))
    for ch in range(3):  # colour = albedo * shade, fogged; sky where nothing was hit
        lit = albedo[:, ch] * shade * (1.0 - fog) + SKY_HORIZON[ch] * fog
        sky = SKY_HORIZON[ch] * (1.0 - el) + SKY_ZENITH[ch] * el
        col[:, ch] = np.where(hit, lit, sky)
    rgb = np.clip(np.round(col * 255.0), 0, 255).astype(np.uint8).reshape(camera.height, camera.width, 3)
    actor = np.where(hit, h.actor, -3).reshape(camera.height, camera.width)
    return rgb, actor


def encode_jpeg(rgb: NDArray[np.uint8], quality: int = 90) -> bytes:
    """JPEG bytes of an RGB image (OpenCV, fixed quality: the same pixels give the same bytes)."""
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 image
        raise RuntimeError("JPEG encoding failed")
    return bytes(buf.tobytes())
