"""What the viewer shows for one frame, computed without Qt or vispy.

Two stages, so the expensive one can be cached and prefetched:

1. :func:`load_frame_data` loads a frame and does everything that does not depend on the labels:
   every LiDAR and radar sample brought into the ego frame, images decoded, LiDAR points
   projected into every camera (pixels, depth and a depth colour per point,
   :class:`CameraPoints`), and a note for every camera that has nothing to show (no image at this
   time, an image that does not decode, no calibration) (:class:`FrameData`). This is what
   :class:`fusionlabel.app.frame_cache.FrameCache` keeps and prefetches in a background thread.
2. :func:`compose_view` adds what depends on labels, selection and colour mode: point colours,
   cuboid wireframes coloured by track, and every cuboid projected into every camera
   (:class:`CameraBoxes`: edges, 2D box, "ID class" label) (:class:`FrameView`). It takes a few
   milliseconds.

:func:`build_frame_view` does both. The Qt layer only hands these arrays to vispy and to image
widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import BOX_EDGES
from fusionlabel.core.calibration import Camera
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


def ramp(x: NDArray[np.floating]) -> NDArray[np.float32]:
    """(N,) values in [0, 1] -> (N, 4) RGBA of the blue-green-yellow-red ramp (the 3D view's
    shader computes the same ``r = clip(1.5 - |4x - 3|)``, ``g = clip(1.5 - |4x - 2|)``,
    ``b = clip(1.5 - |4x - 1|)`` on the GPU)."""
    x = np.asarray(x, dtype=np.float32)
    r = np.clip(1.5 - np.abs(4 * x - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * x - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * x - 1), 0, 1)
    return np.stack([r, g, b, np.ones_like(x)], axis=1)


def colormap(values: NDArray[np.floating], lo: float, hi: float) -> NDArray[np.float32]:
    """(N,) values -> (N, 4) RGBA, a turbo-like blue-green-yellow-red ramp, float32 in [0, 1]."""
    return ramp(np.clip((values - lo) / max(hi - lo, 1e-9), 0.0, 1.0))


def point_values(points: NDArray[np.float32], intensity: NDArray[np.float32], color_by: ColorBy) -> NDArray[np.float32]:
    """(N,) float32 in [0, 1]: where each ego-frame point sits on the colour ramp, by height
    (z in [-2.5, 2.5] m), intensity (0..99th percentile) or horizontal distance (0..60 m)."""
    if color_by == "intensity" and len(points):
        hi = float(np.percentile(intensity, 99)) if len(intensity) else 1.0
        v, lo, span = intensity, 0.0, hi or 1.0
    elif color_by == "distance":
        v, lo, span = np.hypot(points[:, 0], points[:, 1]), 0.0, 60.0
    else:
        v, lo, span = points[:, 2], -2.5, 5.0
    return np.clip((np.asarray(v, np.float32) - lo) / span, 0.0, 1.0).astype(np.float32)


def point_colors(points: NDArray[np.float32], intensity: NDArray[np.float32], color_by: ColorBy) -> NDArray[np.float32]:
    """(N, 4) RGBA of ego-frame points by height, intensity or distance (:func:`point_values`)."""
    return ramp(point_values(points, intensity, color_by))


@dataclass(frozen=True)
class CameraPoints:
    """LiDAR points projected into one camera image.

    uv : (M, 2) float32 pixel coordinates in the decoded image (x right, y down)
    depth : (M,) float32 metres along the optical axis
    colors : (M, 3) uint8 RGB, the depth colour ramp over 0..60 m (blue near, red far)
    """

    uv: NDArray[np.float32]
    depth: NDArray[np.float32]
    colors: NDArray[np.uint8]

    @property
    def nbytes(self) -> int:
        return int(self.uv.nbytes + self.depth.nbytes + self.colors.nbytes)


@dataclass(frozen=True)
class CameraBoxes:
    """The frame's cuboids projected into one camera image (pixels of the decoded image).

    track_ids : (M,) int64; texts : M labels ``"ID class"``; colors : (M, 3) uint8 RGB (the
    track colour, white for the selected track); segments : (M, 12, 2, 2) float64 edge end
    points after near-plane clipping; edge_visible : (M, 12) bool; bbox : (M, 4) float64
    ``x1 y1 x2 y2`` clipped to the image, NaN where the box is not in the picture
    """

    track_ids: NDArray[np.int64]
    texts: tuple[str, ...]
    colors: NDArray[np.uint8]
    segments: NDArray[np.float64]
    edge_visible: NDArray[np.bool_]
    bbox: NDArray[np.float64]


@dataclass(frozen=True)
class FrameData:
    """Label-independent, cacheable data of one frame (ego frame, metres).

    points : (N, 3) float32, all LiDARs merged; intensity : (N,) float32
    radar_points : (R, 3) float32; radar_velocity_tips : (R, 3) float32, end of a 0.5 s
        radial-velocity arrow
    camera_base : camera name -> (H, W, 3) uint8 RGB, the decoded image
    camera_points : camera name -> the LiDAR points in that image (calibrated cameras only)
    camera_notes : camera name -> why it shows no image or no overlay (no image at this time, an
        image that does not decode, no calibration); cameras that show everything have none
    problems : the same for the status bar, one line each
    """

    index: int
    timestamp_ns: int
    points: NDArray[np.float32]
    intensity: NDArray[np.float32]
    radar_points: NDArray[np.float32]
    radar_velocity_tips: NDArray[np.float32]
    camera_base: dict[str, NDArray[np.uint8]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    camera_points: dict[str, CameraPoints] = field(default_factory=dict)
    camera_notes: dict[str, str] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (what the frame cache budgets)."""
        arrs: list[Any] = [self.points, self.intensity, self.radar_points, self.radar_velocity_tips]
        return int(
            sum(a.nbytes for a in arrs)
            + sum(a.nbytes for a in self.camera_base.values())
            + sum(c.nbytes for c in self.camera_points.values())
        )


@dataclass(frozen=True)
class FrameView:
    """Render-ready arrays for one frame (all positions in the ego frame, metres).

    points : (N, 3) float32, all LiDARs merged
    point_values : (N,) float32 in [0, 1], each point's place on the colour ramp (the GPU turns
        it into a colour; :attr:`point_colors` gives the same RGBA on the CPU)
    box_segments : (12 M, 2, 3) float32 wireframe edge endpoints of M cuboids
    box_colors : (12 M, 4) float32, the track colour per edge (white for the selected track)
    radar_points : (R, 3) float32; radar_velocity_tips : (R, 3) end of the radial-velocity arrow
    camera_boxes : camera name -> the cuboids projected into it (calibrated cameras with an image)
    """

    index: int
    timestamp_ns: int
    points: NDArray[np.float32]
    point_values: NDArray[np.float32]
    box_segments: NDArray[np.float32]
    box_colors: NDArray[np.float32]
    radar_points: NDArray[np.float32]
    radar_velocity_tips: NDArray[np.float32]
    camera_boxes: dict[str, CameraBoxes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def point_colors(self) -> NDArray[np.float32]:
        """(N, 4) float32 RGBA of the points (:func:`ramp` of :attr:`point_values`)."""
        return ramp(self.point_values)


def camera_names(rec: Recording) -> list[str]:
    """The cameras the window shows: those with an image stream (in rig order), else the rig's."""
    streams = [n for n, s in rec.streams.items() if s.kind == "camera"]
    return [n for n in rec.rig.cameras if n in streams] + [n for n in streams if n not in rec.rig.cameras] or list(
        rec.rig.cameras
    )


def project_camera_points(
    points_ego: NDArray[np.float32], camera: Camera, image_shape: tuple[int, ...]
) -> CameraPoints:
    """Ego-frame points -> :class:`CameraPoints` of an image of ``image_shape`` (which may be a
    scaled version of the calibrated ``camera.width x camera.height``)."""
    pr = project_points(points_ego, camera, camera.T_ego_cam.inverse())
    sx, sy = image_shape[1] / camera.width, image_shape[0] / camera.height
    uv = pr.uv[pr.valid] * np.array([sx, sy])
    depth = pr.depth[pr.valid]
    colors = (colormap(depth, 0.0, 60.0)[:, :3] * 255).astype(np.uint8)
    return CameraPoints(uv.astype(np.float32), depth.astype(np.float32), colors)


def load_frame_data(rec: Recording, index: int, cameras: bool = True, max_overlay_points: int = 200_000) -> FrameData:
    """Load frame ``index`` of ``rec``: points and radar in the ego frame, camera images with the
    LiDAR points drawn (coloured by depth, 0..60 m). Raises DataError naming the file when the
    frame's LiDAR/radar data is broken; a broken image is reported in ``problems`` instead."""
    from fusionlabel.core.errors import DataError

    fr = rec.frame(index)
    pts, inten = [], []
    for name, cloud in fr.lidar.items():
        c = cloud.finite()
        T = rec.rig.T_ego_sensor(name) if name in rec.rig.lidars else None
        xyz = T.apply(c.xyz).astype(np.float32) if T is not None else np.asarray(c.xyz, np.float32)
        pts.append(xyz)
        inten.append(np.asarray(c.intensity, np.float32) if c.intensity is not None else np.zeros(len(c), np.float32))
    points = np.vstack(pts) if pts else np.zeros((0, 3), np.float32)
    intensity = np.concatenate(inten) if inten else np.zeros(0, np.float32)

    rp, rt = [], []
    for name, det in fr.radar.items():
        T = rec.rig.T_ego_sensor(name) if name in rec.rig.radars else None
        rxyz = T.apply(det.xyz) if T is not None else det.xyz
        origin = T.translation if T is not None else np.zeros(3)
        los = rxyz - origin
        los /= np.maximum(np.linalg.norm(los, axis=1, keepdims=True), 1e-9)
        rp.append(rxyz)
        rt.append(rxyz + los * det.radial_velocity[:, None] * 0.5)  # arrow: 0.5 s of radial motion
    radar = np.vstack(rp).astype(np.float32) if rp else np.zeros((0, 3), np.float32)
    tips = np.vstack(rt).astype(np.float32) if rt else np.zeros((0, 3), np.float32)

    images: dict[str, NDArray[np.uint8]] = {}
    problems: list[str] = []
    cam_points: dict[str, CameraPoints] = {}
    notes: dict[str, str] = {}
    if cameras:
        sub = points if len(points) <= max_overlay_points else points[:: int(np.ceil(len(points) / max_overlay_points))]
        for cam_name in camera_names(rec):
            ref = fr.images.get(cam_name)
            if ref is None:
                notes[cam_name] = (
                    f"no image from {cam_name} at this time"
                    if cam_name in rec.streams
                    else f"this recording has no images from {cam_name}"
                )
                continue
            try:
                img = ref.load()
            except DataError as exc:
                problems.append(str(exc))
                notes[cam_name] = f"the image does not decode: {exc}"
                continue
            cam = rec.rig.cameras.get(cam_name)
            if cam is not None:
                cam_points[cam_name] = project_camera_points(sub, cam, img.shape)
            else:
                why = f"camera {cam_name!r} has no calibration: points and boxes cannot be drawn"
                problems.append(f"{ref.source}: {why}")
                notes[cam_name] = why
            images[cam_name] = img
    return FrameData(index, fr.timestamp_ns, points, intensity, radar, tips, images, problems, cam_points, notes)


def compose_view(
    data: FrameData,
    labels: FrameLabels | None,
    color_by: ColorBy,
    rig_cameras: dict[str, Camera],
    selected: int | None = None,
) -> FrameView:
    """Add colours, wireframes and the cuboids in every camera for ``labels`` to cached ``data``."""
    colors = point_values(data.points, data.intensity, color_by)
    labels = labels if labels is not None else FrameLabels.empty()
    if len(labels):
        corners = labels.boxes.corners().astype(np.float32)  # (M, 8, 3)
        segs = corners[:, BOX_EDGES].reshape(-1, 2, 3)
        cols = np.stack([track_color(t) if t != selected else np.ones(4, np.float32) for t in labels.track_ids])
        bcol = np.repeat(cols, 12, axis=0)
    else:
        segs = np.zeros((0, 2, 3), np.float32)
        bcol = np.zeros((0, 4), np.float32)
    cam_boxes: dict[str, CameraBoxes] = {}
    for name, base in data.camera_base.items():
        cam = rig_cameras.get(name)
        if cam is not None and len(labels):
            cam_boxes[name] = camera_boxes(labels, cam, base.shape, selected)
    return FrameView(
        data.index,
        data.timestamp_ns,
        data.points,
        colors,
        segs,
        bcol,
        data.radar_points,
        data.radar_velocity_tips,
        cam_boxes,
        list(data.problems),
    )


def camera_boxes(
    labels: FrameLabels, camera: Camera, image_shape: tuple[int, ...], selected: int | None = None
) -> CameraBoxes:
    """The cuboids of ``labels`` projected into ``camera``'s image of ``image_shape``."""
    bp = project_boxes(labels.boxes, camera, camera.T_ego_cam.inverse(), samples=2)
    s = np.array([image_shape[1] / camera.width, image_shape[0] / camera.height])
    cols = np.stack(
        [
            np.full(3, 255, np.uint8) if int(t) == selected else (track_color(int(t))[:3] * 255).astype(np.uint8)
            for t in labels.track_ids
        ]
    )
    texts = tuple(f"{int(t)} {c}" for t, c in zip(labels.track_ids, labels.categories))
    return CameraBoxes(
        labels.track_ids.copy(), texts, cols, bp.segments * s, bp.edge_visible.copy(), bp.bbox * np.r_[s, s]
    )


def build_frame_view(
    rec: Recording,
    index: int,
    labels: FrameLabels | None = None,
    color_by: ColorBy = "height",
    cameras: bool = True,
    max_overlay_points: int = 200_000,
    selected: int | None = None,
) -> FrameView:
    """Load frame ``index`` of ``rec`` and compute everything the viewer draws."""
    data = load_frame_data(rec, index, cameras, max_overlay_points)
    return compose_view(data, labels, color_by, dict(rec.rig.cameras), selected)


def draw_points(img: NDArray[np.uint8], points_ego: NDArray[np.float32], camera: Camera) -> NDArray[np.uint8]:
    """A copy of ``img`` with ego-frame points drawn as pixels coloured by depth (0..60 m)."""
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
    return out


def draw_boxes(
    img: NDArray[np.uint8], labels: FrameLabels, camera: Camera, selected: int | None = None
) -> NDArray[np.uint8]:
    """A copy of ``img`` with the cuboids' visible edges drawn in their track colours."""
    import cv2

    out = img.copy()
    T_cam_ego = camera.T_ego_cam.inverse()
    sx, sy = out.shape[1] / camera.width, out.shape[0] / camera.height
    bp = project_boxes(labels.boxes, camera, T_cam_ego)
    for i, tid in enumerate(labels.track_ids):
        sel = selected is not None and int(tid) == selected
        c = (255, 255, 255) if sel else tuple(int(x) for x in (track_color(int(tid))[:3] * 255))
        for e in np.flatnonzero(bp.edge_visible[i]):
            (u0, v0), (u1, v1) = bp.segments[i, e]
            if not np.all(np.isfinite([u0, v0, u1, v1])):
                continue
            p0 = (int(np.clip(u0 * sx, -1e4, 1e4)), int(np.clip(v0 * sy, -1e4, 1e4)))
            p1 = (int(np.clip(u1 * sx, -1e4, 1e4)), int(np.clip(v1 * sy, -1e4, 1e4)))
            cv2.line(out, p0, p1, c, 3 if sel else 2, cv2.LINE_AA)
    return out


def draw_overlay(
    img: NDArray[np.uint8], points_ego: NDArray[np.float32], labels: FrameLabels, camera: Camera
) -> NDArray[np.uint8]:
    """LiDAR points and cuboid wireframes drawn into a copy of ``img``."""
    out = draw_points(img, points_ego, camera)
    return draw_boxes(out, labels, camera) if len(labels) else out
