"""Truncation and z-buffer occlusion (:mod:`fusionlabel.core.occlusion`) on hand-made scenes.

Scenes are built in a z-up ego frame with a forward camera 1.5 m above the ground; expected
values come from the scene's geometry (similar triangles), and LiDAR points from ray casting the
scene from a roof LiDAR, so the point rule sees what a real sweep would give.
"""

from __future__ import annotations

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera
from fusionlabel.core.occlusion import (
    LARGELY_OCCLUDED,
    UNKNOWN,
    image_visibility,
    occlusion_level,
    ray_box_entry,
)
from fusionlabel.core.projection import normalised_to_pixels, pixels_to_normalised
from fusionlabel.core.transforms import Transform

# optical (x right, y down, z forward) -> ego (x forward, y left, z up)
R_EGO_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
CAM = Camera(
    "front",
    K=[[500, 0, 320], [0, 500, 180], [0, 0, 1]],
    width=640,
    height=360,
    T_ego_cam=Transform.from_rt(R_EGO_OPTICAL, (0.0, 0.0, 1.5)),
)
T_CAM_EGO = CAM.T_ego_cam.inverse()
LIDAR_ORIGIN = np.array([0.0, 0.0, 1.8])
CAR = [20.0, 0.0, 0.75, 4.0, 1.8, 1.5, 0.0]  # back face at x = 18 m, seen from behind
GROUND = [60.0, 0.0, -0.5, 200.0, 200.0, 1.0, 0.0]  # top face at z = 0


def boxes(*rows: list[float]) -> Boxes:
    return Boxes.from_array(np.array(rows, dtype=np.float64))


def lidar_sweep(scene: Boxes, az_step_deg: float = 0.15, el_step_deg: float = 0.3) -> np.ndarray:
    """(M, 3) first returns of a LiDAR at :data:`LIDAR_ORIGIN` over +-20 deg azimuth and
    -20..+5 deg elevation, ray cast against the cuboids of ``scene`` (ego frame)."""
    az = np.radians(np.arange(-20.0, 20.0, az_step_deg))
    el = np.radians(np.arange(-20.0, 5.0, el_step_deg))
    A, E = np.meshgrid(az, el)
    d = np.stack([np.cos(E) * np.cos(A), np.cos(E) * np.sin(A), np.sin(E)], axis=-1).reshape(-1, 3)
    c, s = np.cos(scene.yaw), np.sin(scene.yaw)
    R = np.zeros((len(scene), 3, 3))
    R[:, 0, 0], R[:, 0, 1], R[:, 1, 0], R[:, 1, 1], R[:, 2, 2] = c, -s, s, c, 1.0
    t, hit = ray_box_entry(d, scene.center - LIDAR_ORIGIN, R, scene.size / 2, near=0.5)
    t = np.where(hit, t, np.inf).min(axis=0)
    ok = np.isfinite(t) & (t < 120.0)
    return LIDAR_ORIGIN + d[ok] * t[ok, None]


def test_levels_and_thresholds() -> None:
    assert occlusion_level([0.0, 0.099, 0.1, 0.49, 0.5, 1.0, np.nan]).tolist() == [0, 0, 1, 1, 2, 2, 3]
    assert occlusion_level([0.2], thresholds=(0.25, 0.6)).tolist() == [0]


def test_a_box_fully_behind_another_is_largely_occluded() -> None:
    # a pedestrian straight behind a 2 m tall van: the van's silhouette covers it completely
    # (behind the 1.5 m car its head would show: the car's roof is at the camera's height)
    van = [20.0, 0.0, 1.0, 5.0, 2.0, 2.0, 0.0]
    v = image_visibility(boxes(van, [30.0, 0.0, 0.85, 0.6, 0.6, 1.7, 0.0]), CAM, T_CAM_EGO)
    assert v.level.tolist() == [0, LARGELY_OCCLUDED]
    assert v.occlusion[0] == 0.0 and v.occlusion[1] == pytest.approx(1.0)
    assert v.hidden_by_boxes[1] == pytest.approx(1.0) and v.visible_area_px[1] == pytest.approx(0.0)
    assert np.all(v.truncation == 0.0)


def test_side_by_side_boxes_do_not_occlude_each_other() -> None:
    v = image_visibility(
        boxes(CAR, [20.0, 3.5, 0.75, 4.0, 1.8, 1.5, 0.0], [20.0, -3.5, 0.75, 4.0, 1.8, 1.5, 0.0]), CAM, T_CAM_EGO
    )
    assert v.level.tolist() == [0, 0, 0]
    assert np.all(v.occlusion == 0.0) and np.all(v.truncation == 0.0)
    # visible area: the back face of the middle car, 1.8 m x 1.5 m at 18 m with f = 500 px
    assert v.visible_area_px[0] == pytest.approx((500 * 1.8 / 18) * (500 * 1.5 / 18), rel=1e-6)


def test_partial_occlusion_by_a_nearer_box_is_the_hidden_share() -> None:
    # a thin panel 10 m ahead covering y < -0.25: seen from the camera (y = 0) its inner edge
    # (the far corner, x = 10.05) shadows the car's back face (x = 18) up to y = -0.25 * 18 / 10.05
    panel = [10.0, -1.25, 1.5, 0.1, 2.0, 3.0, 0.0]
    v = image_visibility(boxes(CAR, panel), CAM, T_CAM_EGO)
    expected = (-0.25 * 18.0 / 10.05 + 0.9) / 1.8  # ~0.25 of the back face's width
    assert v.occlusion[0] == pytest.approx(expected, abs=0.01)
    assert v.level.tolist() == [1, 0]
    assert v.hidden_by_boxes[0] == v.occlusion[0]


def test_truncation_half_out_of_the_image() -> None:
    # a thin board centred on the image's left border ray (u = 0): half of it is outside
    cam = Camera("c", K=[[100, 0, 50], [0, 100, 50], [0, 0, 1]], width=100, height=100)
    z = 10.0
    v = image_visibility(boxes([-0.5 * z, 0.0, z, 2.0, 2.0, 0.01, 0.0]), cam)  # camera frame
    assert v.truncation[0] == pytest.approx(0.5, abs=0.01)
    assert v.level[0] == 0 and v.in_image[0]
    assert v.visible_area_px[0] == pytest.approx(0.5 * (100 * 2 / z) ** 2, rel=0.02)


def test_boxes_behind_the_camera_or_beside_the_image_are_unknown() -> None:
    v = image_visibility(
        boxes([-10.0, 0.0, 0.75, 4.0, 1.8, 1.5, 0.0], [5.0, 30.0, 0.75, 4.0, 1.8, 1.5, 0.0]), CAM, T_CAM_EGO
    )
    assert v.truncation.tolist() == [1.0, 1.0]
    assert np.all(np.isnan(v.occlusion)) and v.level.tolist() == [UNKNOWN, UNKNOWN]
    assert not v.in_image.any() and np.all(v.visible_area_px == 0.0)


def test_a_car_passing_alongside_is_mostly_truncated() -> None:
    # reaching from behind the camera to 3 m ahead on the right: most of its silhouette is outside
    v = image_visibility(boxes([1.0, -2.0, 0.75, 4.0, 1.8, 1.5, 0.0]), CAM, T_CAM_EGO)
    assert 0.5 < v.truncation[0] < 1.0 and v.level[0] in (0, 1, 2)


def test_unlabelled_occluder_seen_only_in_the_lidar() -> None:
    wall = [10.0, -1.25, 1.5, 0.2, 2.0, 3.0, 0.0]  # y from -2.25 to -0.25: unlabelled
    expected = (-0.25 * 18.0 / 10.1 + 0.9) / 1.8  # share of the car's width behind the wall's edge
    clear = lidar_sweep(boxes(CAR, GROUND))
    blocked = lidar_sweep(boxes(CAR, GROUND, wall))
    car = boxes(CAR)
    free = image_visibility(car, CAM, T_CAM_EGO, clear)
    assert free.occlusion[0] == 0.0 and free.level[0] == 0  # its own and ground returns never hide it
    v = image_visibility(car, CAM, T_CAM_EGO, blocked)
    assert v.hidden_by_boxes[0] == 0.0
    assert v.occlusion[0] == pytest.approx(expected, abs=0.08)
    assert v.level[0] == occlusion_level([expected])[0]
    # labelled, the wall hides through its box; its points are then no extra evidence
    both = image_visibility(boxes(CAR, wall), CAM, T_CAM_EGO, blocked)
    assert both.hidden_by_boxes[0] == pytest.approx(expected, abs=0.02)
    assert both.occlusion[0] == pytest.approx(both.hidden_by_boxes[0], abs=0.02)
    assert both.level[1] == 0


def test_ground_returns_and_too_few_points_do_not_hide() -> None:
    clear = lidar_sweep(boxes(CAR, GROUND))
    y = np.linspace(-0.85, 0.85, 30)
    # a row of returns 0.5 m in front of the car's back face, inside its silhouette
    low = np.stack([np.full_like(y, 17.5), y, np.full_like(y, 0.2)], axis=1)  # below the clearance
    high = low + [0.0, 0.0, 0.6]
    assert image_visibility(boxes(CAR), CAM, T_CAM_EGO, np.vstack([clear, low])).occlusion[0] == 0.0
    hid = image_visibility(boxes(CAR), CAM, T_CAM_EGO, np.vstack([clear, high])).occlusion[0]
    assert hid > 0.0
    # two points alone (no other return on the silhouette) are no evidence
    assert image_visibility(boxes(CAR), CAM, T_CAM_EGO, high[:2]).occlusion[0] == 0.0


def test_distorted_camera_round_trip_and_a_box_in_view() -> None:
    cam = Camera(
        "d",
        K=[[400, 0, 320], [0, 400, 180], [0, 0, 1]],
        width=640,
        height=360,
        T_ego_cam=CAM.T_ego_cam,
        D=[-0.07, 0.018, 0.0004, -0.0003, 0.0],
    )
    uv = np.array([[0.0, 0.0], [639.0, 359.0], [320.0, 180.0], [100.0, 300.0]])
    assert np.allclose(normalised_to_pixels(pixels_to_normalised(uv, cam), cam), uv, atol=1e-6)
    van = [20.0, 0.0, 1.0, 5.0, 2.0, 2.0, 0.0]
    v = image_visibility(boxes(van, [30.0, 0.0, 0.85, 0.6, 0.6, 1.7, 0.0]), cam, cam.T_ego_cam.inverse())
    assert v.truncation[0] == 0.0 and v.level.tolist() == [0, LARGELY_OCCLUDED]


def test_ray_box_entry_matches_the_geometry() -> None:
    # an axis-aligned cube 2 m wide centred 10 m ahead (camera frame): rays enter its front face at z = 9
    d = np.array([[0.0, 0.0, 1.0], [0.05, 0.05, 1.0], [0.2, 0.0, 1.0]])
    t, hit = ray_box_entry(d, np.array([[0.0, 0.0, 10.0]]), np.eye(3)[None], np.array([[1.0, 1.0, 1.0]]))
    assert hit[0].tolist() == [True, True, False]
    assert t[0, :2] == pytest.approx([9.0, 9.0])
    # the camera inside a box: the ray enters at the near plane
    t, hit = ray_box_entry(d[:1], np.zeros((1, 3)), np.eye(3)[None], np.ones((1, 3)), near=0.1)
    assert hit[0, 0] and t[0, 0] == pytest.approx(0.1)


def test_empty_input() -> None:
    v = image_visibility(Boxes.empty(), CAM, T_CAM_EGO, np.zeros((0, 3)))
    assert len(v.truncation) == len(v.level) == 0
