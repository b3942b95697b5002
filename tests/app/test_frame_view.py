"""The viewer's per-frame data (no Qt): points in the ego frame, wireframes, camera overlays."""

from __future__ import annotations

import numpy as np

from fusionlabel.app.frame_view import build_frame_view, track_color
from fusionlabel.core.projection import project_boxes
from fusionlabel.io.native import open_native


def test_frame_view_brings_points_to_ego_and_draws_overlays(tiny_recording) -> None:
    rec = open_native(tiny_recording)
    labels = rec.labels()
    fv = build_frame_view(rec, 1, labels.get(1))
    # the ground was written 1.8 m below the LiDAR: in the ego frame it is at z = 0
    ground = fv.points[np.abs(fv.points[:, 2]) < 1e-3]
    assert len(ground) >= 3000
    assert fv.point_colors.shape == (len(fv.points), 4)
    assert fv.box_segments.shape == (12, 2, 3)
    np.testing.assert_allclose(fv.box_colors[0], track_color(5))
    # radar detection at 8.5+1 m ahead of a radar mounted 3.5 m forward of the ego origin
    np.testing.assert_allclose(fv.radar_points[0, 0], 3.5 + 9.5 * np.cos(0.05), atol=1e-3)
    assert fv.radar_velocity_tips[0, 0] > fv.radar_points[0, 0]  # moving away: arrow points outward
    img = fv.camera_images["cam_front"]
    assert img.shape == (240, 320, 3)
    cam = rec.rig.cameras["cam_front"]
    bb = project_boxes(labels.get(1).boxes, cam, cam.T_ego_cam.inverse()).bbox[0]
    x1, y1, x2, y2 = bb.astype(int)
    # the box outline (track colour) is drawn around the projected box, nothing drawn far from it
    colour = (track_color(5)[:3] * 255).astype(int)
    border = img[max(y1 - 2, 0) : y2 + 3, max(x1 - 2, 0) : x2 + 3].reshape(-1, 3).astype(int)
    assert np.any(np.all(np.abs(border - colour) <= 40, axis=1))
    assert np.all(img[5, 5] == 90)  # the sky corner is untouched


def test_colour_modes_differ(tiny_recording) -> None:
    rec = open_native(tiny_recording)
    a = build_frame_view(rec, 0, None, "height", cameras=False)
    b = build_frame_view(rec, 0, None, "intensity", cameras=False)
    c = build_frame_view(rec, 0, None, "distance", cameras=False)
    assert not np.allclose(a.point_colors, b.point_colors)
    assert not np.allclose(a.point_colors, c.point_colors)
    assert a.camera_images == {}
