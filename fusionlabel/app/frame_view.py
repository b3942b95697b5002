"""What the viewer shows for one frame, computed without Qt or vispy.

:func:`build_frame_view` loads a frame, brings every LiDAR and radar sample into the ego frame,
colours points, builds cuboid wireframes coloured by track, and draws LiDAR points and cuboids
into every camera image through the calibration. The Qt layer only hands these arrays to vispy
and to image widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import BOX_EDGES
from fusionlabel.core.labels import FrameLabels
from fusionlabel.core.projection import project_boxes, project_points
from fusionlabel.core.recording import Recording

ColorBy = Literal["height", "intensity", "distance"]


def track_color(track_id: int) -> NDArray[np.float32]:
    """A stable, distinct RGBA colour per track id (golden-ratio hue walk)."""
    h = (int(track_id) * 0.618033988749895) % 1.0
    i = int(h * 6)
    f = h * 6 - i
    v, s = 1.0, 0.75
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i % 6]
    return np.array([r, g, b, 1.0], dtype=np.float32)


def colormap(values: NDArray[np.floating], lo: float, hi: float) -> NDArray[np.float32]:
    """(N,) values -> (N, 4) RGBA, a turbo-like blue-green-yellow-red ramp, float32 in [0, 1]."""
    x = np.clip((values - lo) / max(hi - lo, 1e-9), 0.0, 1.0).astype(np.float32)
    r = np.clip(1.5 - np.abs(4 * x - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * x - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * x - 1), 0, 1)
    return np.stack([r, g, b, np.ones_like(x)], axis=1)


@dataclass(frozen=True)
class FrameView:
    """Render-ready arrays for one frame (all positions in the ego frame, metres).

    points : (N, 3) float32, all LiDARs merged
    point_colors : (N, 4) float32 RGBA
    box_segments : (12 M, 2, 3) float32 wireframe edge endpoints of M cuboids
    box_colors : (12 M, 4) float32, the track colour per edge
    radar_points : (R, 3) float32; radar_velocity_tips : (R, 3) end of the radial-velocity arrow
    camera_images : camera name -> (H, W, 3) uint8 RGB with LiDAR points and cuboids drawn in
    """

    index: int
    timestamp_ns: int
    points: NDArray[np.float32]
    point_colors: NDArray[np.float32]
    box_segments: NDArray[np.float32]
    box_colors: NDArray[np.float32]
    radar_points: NDArray[np.float32]
    radar_velocity_tips: NDArray[np.float32]
    camera_images: dict[str, NDArray[np.uint8]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def build_frame_view(
    rec: Recording,
    index: int,
    labels: FrameLabels | None = None,
    color_by: ColorBy = "height",
    cameras: bool = True,
    max_overlay_points: int = 200_000,
) -> FrameView:
    """Load frame ``index`` of ``rec`` and compute everything the viewer draws."""
    from fusionlabel.core.errors import DataError

    fr = rec.frame(index)
    pts, inten = [], []
    for name, cloud in fr.lidar.items():
        c = cloud.finite()
        T = rec.rig.T_ego_sensor(name) if name in rec.rig.lidars else None
        xyz = T.apply(c.xyz).astype(np.float32) if T is not None else c.xyz
        pts.append(xyz)
        inten.append(c.intensity if c.intensity is not None else np.zeros(len(c), np.float32))
    points = np.vstack(pts) if pts else np.zeros((0, 3), np.float32)
    intensity = np.concatenate(inten) if inten else np.zeros(0, np.float32)
    if color_by == "intensity" and len(points):
        hi = float(np.percentile(intensity, 99)) if len(intensity) else 1.0
        colors = colormap(intensity, 0.0, hi or 1.0)
    elif color_by == "distance":
        colors = colormap(np.linalg.norm(points[:, :2], axis=1), 0.0, 60.0)
    else:
        colors = colormap(points[:, 2], -2.5, 2.5)

    labels = labels if labels is not None else FrameLabels.empty()
    if len(labels):
        corners = labels.boxes.corners().astype(np.float32)  # (M, 8, 3)
        segs = corners[:, BOX_EDGES].reshape(-1, 2, 3)
        bcol = np.repeat(np.stack([track_color(t) for t in labels.track_ids]), 12, axis=0)
    else:
        segs = np.zeros((0, 2, 3), np.float32)
        bcol = np.zeros((0, 4), np.float32)

    rp, rt = [], []
    for name, det in fr.radar.items():
        T = rec.rig.T_ego_sensor(name) if name in rec.rig.radars else None
        xyz = T.apply(det.xyz) if T is not None else det.xyz
        origin = T.translation if T is not None else np.zeros(3)
        los = xyz - origin
        los /= np.maximum(np.linalg.norm(los, axis=1, keepdims=True), 1e-9)
        rp.append(xyz)
        rt.append(xyz + los * det.radial_velocity[:, None] * 0.5)  # arrow: 0.5 s of radial motion
    radar = np.vstack(rp).astype(np.float32) if rp else np.zeros((0, 3), np.float32)
    tips = np.vstack(rt).astype(np.float32) if rt else np.zeros((0, 3), np.float32)

    images: dict[str, NDArray[np.uint8]] = {}
    problems: list[str] = []
    if cameras:
        sub = points if len(points) <= max_overlay_points else points[:: int(np.ceil(len(points) / max_overlay_points))]
        for cam_name, ref in fr.images.items():
            if cam_name not in rec.rig.cameras:
                problems.append(f"{ref.source}: camera {cam_name!r} has no calibration; shown without overlay")
            try:
                img = ref.load()
            except DataError as exc:
                problems.append(str(exc))
                continue
            if cam_name in rec.rig.cameras:
                img = draw_overlay(img, sub, labels, rec.rig.cameras[cam_name])
            images[cam_name] = img
    return FrameView(index, fr.timestamp_ns, points, colors, segs, bcol, radar, tips, images, problems)


def draw_overlay(img: NDArray[np.uint8], points_ego: NDArray[np.float32], labels: FrameLabels, camera) -> NDArray[np.uint8]:  # noqa: ANN001
    """Draw LiDAR points (coloured by depth) and cuboid wireframes into a copy of ``img``."""
    import cv2

    out = img.copy()
    T_cam_ego = camera.T_ego_cam.inverse()
    sx, sy = out.shape[1] / camera.width, out.shape[0] / camera.height
    pr = project_points(points_ego, camera, T_cam_ego)
    if pr.valid.any():
        uv = pr.uv[pr.valid]
        col = (colormap(pr.depth[pr.valid], 0.0, 60.0)[:, :3] * 255).astype(np.uint8)
        u = np.clip((uv[:, 0] * sx).astype(np.int32), 0, out.shape[1] - 1)
        v = np.clip((uv[:, 1] * sy).astype(np.int32), 0, out.shape[0] - 1)
        out[v, u] = col
    if len(labels):
        bp = project_boxes(labels.boxes, camera, T_cam_ego)
        for i, tid in enumerate(labels.track_ids):
            c = tuple(int(x) for x in (track_color(int(tid))[:3] * 255))
            for e in np.flatnonzero(bp.edge_visible[i]):
                (u0, v0), (u1, v1) = bp.segments[i, e]
                if not np.all(np.isfinite([u0, v0, u1, v1])):
                    continue
                p0 = (int(np.clip(u0 * sx, -1e4, 1e4)), int(np.clip(v0 * sy, -1e4, 1e4)))
                p1 = (int(np.clip(u1 * sx, -1e4, 1e4)), int(np.clip(v1 * sy, -1e4, 1e4)))
                cv2.line(out, p0, p1, c, 2, cv2.LINE_AA)
    return out
