"""2D box in a camera -> cuboid (frustum points + class prior), prior-completed fits, face drags."""

from __future__ import annotations

import numpy as np
import pytest

from fusionlabel.core.box_faces import FACES, face_drag_distance, face_normal, face_screen_points, move_face
from fusionlabel.core.boxes import Boxes, iou_3d
from fusionlabel.core.calibration import Camera
from fusionlabel.core.projection import bbox_iou, project_boxes
from fusionlabel.core.size_priors import size_class
from fusionlabel.core.transforms import Transform
from fusionlabel.detect.image_fit import fit_box_in_image, fit_cluster_box, local_ground

R_EGO_CAM = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
CAM = Camera(
    "front",
    K=[[700, 0, 640], [0, 700, 360], [0, 0, 1]],
    width=1280,
    height=720,
    T_ego_cam=Transform.from_rt(R_EGO_CAM, [1.5, 0, 1.6]),
)
CAR = Boxes.from_array([[18.0, 2.0, 0.78, 4.4, 1.85, 1.56, 0.15]])


def _scene(rng: np.random.Generator, car_points: int = 800) -> np.ndarray:
    road = np.c_[rng.uniform(0, 60, (20000, 2)) - [0, 30], rng.normal(0.0, 0.02, 20000)]
    wall = np.c_[rng.uniform(35, 40, 3000), rng.uniform(-10, 10, 3000), rng.uniform(0, 6, 3000)]
    # the faces the LiDAR at the origin sees: the rear and the right side of the car
    c, s = np.cos(CAR.yaw[0]), np.sin(CAR.yaw[0])
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    l, w, h = CAR.size[0]
    t = rng.uniform(-0.5, 0.5, (car_points, 3))
    rear = np.c_[np.full(car_points // 2, -l / 2), t[: car_points // 2, 1] * w, t[: car_points // 2, 2] * h]
    side = np.c_[
        t[car_points // 2 :, 0] * l, np.full(car_points - car_points // 2, -w / 2), t[car_points // 2 :, 2] * h
    ]
    car = np.vstack([rear, side]) @ R.T + CAR.center[0]
    return np.vstack([road, wall, car]).astype(np.float32)


def test_a_drawn_box_gives_the_cuboid_of_the_object_in_its_frustum() -> None:
    pts = _scene(np.random.default_rng(0))
    drawn = project_boxes(CAR, CAM, CAM.T_ego_cam.inverse()).bbox[0]
    fit = fit_box_in_image(pts, CAM, drawn, size_class("Car"))
    assert fit.points > 100 and fit.residual_px < 3.0
    assert iou_3d(fit.box, CAR)[0, 0] > 0.6  # the car, not the wall behind it
    got = project_boxes(fit.box, CAM, CAM.T_ego_cam.inverse()).bbox[0]
    assert bbox_iou(got, drawn)[0] > 0.95
    assert np.all(fit.box.size[0] >= np.array(size_class("Car").minimum) - 1e-9)


def test_without_points_the_prior_places_the_box_from_its_pixel_height() -> None:
    drawn = project_boxes(CAR, CAM, CAM.T_ego_cam.inverse()).bbox[0]
    road = np.c_[np.random.default_rng(1).uniform(0, 10, (500, 2)), np.zeros(500)]  # nothing near the car
    fit = fit_box_in_image(road, CAM, drawn, size_class("Car"))
    assert fit.points == 0 and fit.residual_px < 3.0
    assert abs(fit.box.center[0, 0] - CAR.center[0, 0]) < 2.0  # depth from f H / h_px
    with pytest.raises(ValueError, match="empty"):
        fit_box_in_image(road, CAM, [10, 10, 11, 50], size_class("Car"))


def test_a_sparse_object_is_completed_to_the_class_not_a_pole() -> None:
    rng = np.random.default_rng(2)
    pole = np.c_[rng.normal([25.0, -3.0], 0.05, (12, 2)), rng.uniform(0.3, 1.4, 12)]
    for name in ("Car", "Pedestrian", "Truck"):
        sc = size_class(name)
        box = fit_cluster_box(pole, 0.0, sc, np.zeros(2))
        assert np.all(box.size[0] >= np.array(sc.minimum) - 1e-9), name
        # grown away from the sensor: the seen points stay on the near side of the box
        assert np.hypot(*box.center[0, :2]) >= np.hypot(25.0, -3.0) - 0.1
    # a well-seen object keeps its measured size
    full = np.c_[rng.uniform([10, -1], [14.5, 0.9], (600, 2)), rng.uniform(0.2, 1.6, 600)]
    box = fit_cluster_box(full, 0.0, size_class("Car"), np.zeros(2), yaw_hint=0.0)
    np.testing.assert_allclose(box.size[0, :2], [4.5, 1.9], atol=0.15)
    assert abs(box.yaw[0]) < 0.1


def test_local_ground_follows_the_road_under_an_object() -> None:
    rng = np.random.default_rng(3)
    road = np.c_[rng.uniform(-20, 20, (8000, 2)), 0.3 + rng.normal(0, 0.01, 8000)]
    car = np.c_[rng.uniform(5, 9, (400, 2)), rng.uniform(0.8, 1.9, 400)]
    g = local_ground(np.vstack([road, car]), [[7.0, 7.0], [-10.0, 3.0]])
    np.testing.assert_allclose(g, [0.3, 0.3], atol=0.05)


def test_face_drag_follows_the_mouse() -> None:
    T = CAM.T_ego_cam.inverse()
    box = CAR
    uv, front = face_screen_points(box, CAM, T)
    assert front.all()
    face = (1, -1)  # the right side: it moves right in the image as it grows
    k = FACES.index(face)
    t = face_drag_distance(box, face, CAM, T, (20.0, 0.0))
    moved = move_face(box, face, t)
    uv2, _ = face_screen_points(moved, CAM, T)
    assert abs((uv2[k] - uv[k])[0] - 20.0) < 2.0  # the face centre followed the 20 px drag
    np.testing.assert_allclose(moved.center[0] - box.center[0], face_normal(box, face) * t / 2, atol=1e-12)
    # the opposite face did not move
    np.testing.assert_allclose(
        move_face(box, face, t).center[0] - face_normal(box, face) * moved.size[0, 1] / 2,
        box.center[0] - face_normal(box, face) * box.size[0, 1] / 2,
        atol=1e-12,
    )
    assert move_face(box, (0, 1), -10.0).size[0, 0] == pytest.approx(0.05)  # never below 5 cm
