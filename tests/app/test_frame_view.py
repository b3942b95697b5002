"""The viewer's per-frame data (no Qt): points in the ego frame, wireframes, camera overlays."""

from __future__ import annotations

import numpy as np

from fusionlabel.app.frame_view import build_frame_view, draw_overlay, load_frame_data, track_color
from fusionlabel.core.projection import project_boxes
from fusionlabel.io.native import open_native


def test_frame_view_brings_points_to_ego_and_draws_overlays(tiny_recording) -> None:
    rec = open_native(tiny_recording)
    labels = rec.labels
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
    # the cuboid is projected into the camera with its label; the points carry depth colours
    cb = fv.camera_boxes["cam_front"]
    cam = rec.rig.cameras["cam_front"]
    bb = project_boxes(labels.get(1).boxes, cam, cam.T_ego_cam.inverse()).bbox[0]
    np.testing.assert_allclose(cb.bbox[0], bb, atol=1e-6)
    assert cb.texts == ("5 Car",) and cb.edge_visible[0].all()
    np.testing.assert_array_equal(cb.colors[0], (track_color(5)[:3] * 255).astype(np.uint8))
    data = load_frame_data(rec, 1)
    cp = data.camera_points["cam_front"]
    assert len(cp.uv) > 100 and cp.colors.shape == (len(cp.uv), 3)
    assert np.all((cp.uv >= 0) & (cp.uv < [320, 240]))
    assert data.camera_base["cam_front"].shape == (240, 320, 3) and np.all(data.camera_base["cam_front"] == 90)
    # burning points and boxes into a copy of the image (reports, exports)
    img = draw_overlay(data.camera_base["cam_front"], data.points, labels.get(1), cam)
    x1, y1, x2, y2 = bb.astype(int)
    colour = (track_color(5)[:3] * 255).astype(int)
    border = img[max(y1 - 2, 0) : y2 + 3, max(x1 - 2, 0) : x2 + 3].reshape(-1, 3).astype(int)
    assert np.any(np.all(np.abs(border - colour) <= 40, axis=1))
    assert np.all(img[5, 5] == 90)  # the sky corner is untouched


def test_cameras_without_an_image_or_calibration_say_so(tiny_recording) -> None:
    """A camera with no image at this time, an image that does not decode, and one without a
    calibration each get a note; nothing else stops."""
    from dataclasses import replace

    from fusionlabel.core.calibration import Rig

    rec = open_native(tiny_recording)
    png = sorted(tiny_recording.rglob("*.png"))[0]
    png.write_bytes(b"not a png")  # frame 0's image no longer decodes
    data = load_frame_data(rec, 0)
    assert "cam_front" not in data.camera_base
    assert "does not decode" in data.camera_notes["cam_front"] and str(png.name) in data.camera_notes["cam_front"]
    assert len(data.points) > 3000  # the LiDAR is still there
    # no calibration: the image is shown, with a note and no points
    rec2 = open_native(tiny_recording)
    object.__setattr__(rec2, "rig", replace(rec2.rig, cameras={}))
    assert isinstance(rec2.rig, Rig)
    d2 = load_frame_data(rec2, 1)
    assert "no calibration" in d2.camera_notes["cam_front"] and "cam_front" not in d2.camera_points
    assert d2.camera_base["cam_front"].shape == (240, 320, 3)


def test_colour_modes_differ(tiny_recording) -> None:
    rec = open_native(tiny_recording)
    a = build_frame_view(rec, 0, None, "height", cameras=False)
    b = build_frame_view(rec, 0, None, "intensity", cameras=False)
    c = build_frame_view(rec, 0, None, "distance", cameras=False)
    assert not np.allclose(a.point_colors, b.point_colors)
    assert not np.allclose(a.point_colors, c.point_colors)
    assert a.camera_boxes == {}
