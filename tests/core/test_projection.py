"""Tests for :mod:`fusionlabel.core.projection` against OpenCV and real KITTI calibration."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from pyquaternion import Quaternion

from fusionlabel.core.boxes import BOX_EDGES, Boxes
from fusionlabel.core.calibration import Camera, camera_from_projection, load_rig
from fusionlabel.core.projection import NEAR, _field_limit, bbox_iou, project_boxes, project_points, visible_fraction
from fusionlabel.core.transforms import Transform

SAMPLE_RIG = Path(__file__).resolve().parents[2] / "calib" / "sample_rig.yaml"

K_HD = np.array([[1266.42, 0.0, 816.27], [0.0, 1266.42, 491.51], [0.0, 0.0, 1.0]])
D_PLUMB_BOB = np.array([-0.1203, 0.0851, 0.00041, -0.00027, -0.0187])  # the sample rig's CAM_FRONT
D_RATIONAL = np.array([0.35, -0.12, 0.0008, -0.0005, 0.02, 0.61, -0.09, 0.05])
# R_cam_ego of a camera looking along ego +x (x_cam = -y_ego, y_cam = -z_ego, z_cam = x_ego)
R_CAM_EGO = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
T_CAM_EGO = Transform.from_rt(R_CAM_EGO, [0.0, 0.0, 0.0])


def _cv2_project(points: np.ndarray, camera: Camera, T_cam_src: Transform) -> np.ndarray:
    rvec, _ = cv2.Rodrigues(T_cam_src.rotation)
    tvec = np.ascontiguousarray(T_cam_src.translation, dtype=np.float64).reshape(3, 1)
    if camera.model == "fisheye":
        uv, _ = cv2.fisheye.projectPoints(points.reshape(1, -1, 3), rvec, tvec, camera.K, camera.D)
    else:
        uv, _ = cv2.projectPoints(points.reshape(-1, 1, 3), rvec, tvec, camera.K, camera.D)
    return uv.reshape(-1, 2)


def _random_pose(rng: np.random.Generator) -> Transform:
    q = Quaternion(axis=rng.normal(size=3), angle=rng.uniform(0, 0.3))
    return Transform.from_quaternion(q, rng.normal(size=3) * 0.5)


def _points_in_view(rng: np.random.Generator, n: int, max_tan: float) -> np.ndarray:
    """Points in the camera frame, 1-60 m deep, within a square cone |x/z|, |y/z| < max_tan."""
    z = rng.uniform(1.0, 60.0, n)
    xy = rng.uniform(-max_tan, max_tan, (n, 2)) * z[:, None]
    return np.column_stack([xy, z])


# -- project_points against OpenCV -------------------------------------------------------------


@pytest.mark.parametrize("D", [np.zeros(0), D_PLUMB_BOB, D_RATIONAL], ids=["none", "plumb_bob5", "rational8"])
def test_project_points_matches_cv2(D: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    cam = Camera("c", K_HD, 1600, 900, D=D)
    T_cam_src = _random_pose(rng)
    p_cam = _points_in_view(rng, 5000, 0.9)
    p_src = T_cam_src.inverse().apply(p_cam)
    pr = project_points(p_src, cam, T_cam_src)
    ref = _cv2_project(p_src, cam, T_cam_src)
    np.testing.assert_allclose(pr.depth, p_cam[:, 2], atol=1e-9)
    front = pr.depth > NEAR
    assert front.all()
    # inside the lens model's trusted field we agree with OpenCV; beyond it OpenCV's polynomial
    # folds back, we switch to the pinhole model and mark the points invalid (see _field_limit)
    r = np.hypot(p_cam[:, 0] / p_cam[:, 2], p_cam[:, 1] / p_cam[:, 2])
    in_field = r <= _field_limit(cam)
    assert 0.5 < in_field.mean() < 1.0
    np.testing.assert_allclose(pr.uv[in_field], ref[in_field], atol=1e-6, rtol=1e-9)
    inside = (ref[:, 0] >= 0) & (ref[:, 0] < 1600) & (ref[:, 1] >= 0) & (ref[:, 1] < 900)
    assert 0.2 < inside.mean() < 1.0  # the test covers both sides of the image border
    np.testing.assert_array_equal(pr.valid, inside & in_field)
    assert not pr.valid[~in_field].any()


def test_project_points_without_transform_is_camera_frame() -> None:
    rng = np.random.default_rng(1)
    cam = Camera("c", K_HD, 1600, 900, D=D_PLUMB_BOB)
    p = _points_in_view(rng, 100, 0.5)
    np.testing.assert_allclose(project_points(p, cam).uv, _cv2_project(p, cam, Transform.identity()), atol=1e-6)


def test_project_points_with_skew() -> None:
    K = K_HD.copy()
    K[0, 1] = 3.0
    cam = Camera("c", K, 1600, 900)
    p = np.array([[2.0, 1.0, 10.0]])
    # u = fx x + s y + cx with x = 0.2, y = 0.1
    np.testing.assert_allclose(project_points(p, cam).uv, [[1266.42 * 0.2 + 0.3 + 816.27, 1266.42 * 0.1 + 491.51]])


def test_fisheye_matches_cv2() -> None:
    rng = np.random.default_rng(2)
    K = np.array([[400.0, 0.0, 640.0], [0.0, 400.0, 480.0], [0.0, 0.0, 1.0]])
    cam = Camera("f", K, 1280, 960, D=[0.012, -0.004, 0.0006, -0.0001], model="fisheye")
    T_cam_src = _random_pose(rng)
    p_cam = _points_in_view(rng, 5000, 2.0)  # up to ~63 deg off-axis per direction
    p_src = T_cam_src.inverse().apply(p_cam)
    pr = project_points(p_src, cam, T_cam_src)
    np.testing.assert_allclose(pr.uv, _cv2_project(p_src, cam, T_cam_src), atol=1e-6)


def test_fisheye_wide_angle_points_in_image_are_valid() -> None:
    K = np.array([[400.0, 0.0, 640.0], [0.0, 400.0, 480.0], [0.0, 0.0, 1.0]])
    cam = Camera("f", K, 1280, 960, D=[0.01, 0.0, 0.0, 0.0], model="fisheye")
    th = np.radians(75.0)
    p = np.array([[np.sin(th), 0.0, np.cos(th)]]) * 5.0
    ref = _cv2_project(p, cam, Transform.identity())
    assert 0 <= ref[0, 0] < 1280 and 0 <= ref[0, 1] < 960  # OpenCV puts it inside the image
    pr = project_points(p, cam)
    np.testing.assert_allclose(pr.uv, ref, atol=1e-6)
    assert pr.valid[0]


# -- validity -----------------------------------------------------------------------------------


def test_behind_camera_points_are_culled_not_mirrored() -> None:
    cam = Camera("c", K_HD, 1600, 900, D=D_PLUMB_BOB)
    # these would land inside the image if divided by their negative z (through the origin)
    p = np.array([[-1.0, -0.5, -10.0], [2.0, 1.0, -5.0], [0.0, 0.0, 0.0], [0.0, 0.0, NEAR], [0.0, 0.0, -1e-9]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero on z = 0
        pr = project_points(p, cam)
    assert not pr.valid.any()
    np.testing.assert_array_equal(pr.depth, p[:, 2])
    assert np.all(np.isfinite(pr.uv))
    # a point just beyond the near plane is valid
    assert project_points(np.array([[0.0, 0.0, NEAR * 1.01]]), cam).valid.tolist() == [True]


def test_behind_camera_through_a_transform() -> None:
    cam = Camera("c", K_HD, 1600, 900)
    # ego points ahead of and behind a front camera at the ego origin
    p_ego = np.array([[10.0, 0.0, 0.0], [-10.0, 0.0, 0.0], [-10.0, 1.0, 0.5]])
    pr = project_points(p_ego, cam, T_CAM_EGO)
    assert pr.valid.tolist() == [True, False, False]
    np.testing.assert_allclose(pr.uv[0], K_HD[:2, 2])
    np.testing.assert_allclose(pr.depth, [10.0, -10.0, -10.0])


def test_out_of_image_points_invalid_with_exact_borders() -> None:
    cam = Camera("c", [[100.0, 0.0, 50.0], [0.0, 100.0, 50.0], [0.0, 0.0, 1.0]], 100, 100)
    # x/z = -0.5 -> u = 0 (first column, inside); x/z = +0.5 -> u = 100 (one past the last column)
    p = np.array([[-5.0, 0.0, 10.0], [5.0, 0.0, 10.0], [0.0, -5.0, 10.0], [0.0, 5.0, 10.0], [4.99, 4.99, 10.0]])
    pr = project_points(p, cam)
    np.testing.assert_allclose(pr.uv, np.array([[0, 50], [100, 50], [50, 0], [50, 100], [99.9, 99.9]]))
    assert pr.valid.tolist() == [True, False, True, False, True]


def test_points_folded_back_by_the_distortion_polynomial_are_invalid() -> None:
    # with k1 = -0.3 the radial factor 1 - 0.3 r^2 turns negative: a point 62 deg off-axis
    # (x/z = 1.9) is "projected" by the polynomial to u = cx - 0.16 f, inside the image
    cam = Camera("c", K_HD, 1600, 900, D=[-0.3, 0.0, 0.0, 0.0, 0.0])
    p = np.array([[1.9, 0.0, 1.0]])
    ref = _cv2_project(p, cam, Transform.identity())
    assert 0 <= ref[0, 0] < 1600  # OpenCV's polynomial folds it into the image...
    assert not project_points(p, cam).valid[0]  # ...but it is outside the lens' field


def test_extra_columns_are_ignored() -> None:
    cam = Camera("c", K_HD, 1600, 900)
    p = np.array([[1.0, 2.0, 20.0, 0.5]])  # x y z intensity
    np.testing.assert_allclose(project_points(p, cam).uv, project_points(p[:, :3], cam).uv)


# -- project_boxes ------------------------------------------------------------------------------


def test_box_in_front_bbox_is_extent_of_projected_corners() -> None:
    cam = Camera("c", K_HD, 1600, 900)
    boxes = Boxes.from_array([[15.0, 1.0, 0.0, 4.2, 1.9, 1.6, 0.4], [30.0, -4.0, 0.5, 10.0, 2.5, 3.2, -1.2]])
    bp = project_boxes(boxes, cam, T_CAM_EGO)
    assert bp.bbox.shape == (2, 4) and bp.segments.shape == (2, 12, 2, 2) and bp.edge_visible.all()
    for i in range(2):
        pr = project_points(boxes.corners()[i], cam, T_CAM_EGO)
        assert pr.valid.all()
        ref = np.concatenate([pr.uv.min(axis=0), pr.uv.max(axis=0)])[[0, 1, 2, 3]]
        np.testing.assert_allclose(bp.bbox[i], ref, atol=1e-9)
        # segment end points are the projected corners of each edge
        np.testing.assert_allclose(bp.segments[i, :, 0], pr.uv[BOX_EDGES[:, 0]], atol=1e-9)
        np.testing.assert_allclose(bp.segments[i, :, 1], pr.uv[BOX_EDGES[:, 1]], atol=1e-9)


def test_box_in_front_with_distortion_matches_cv2_edge_samples() -> None:
    cam = Camera("c", K_HD, 1600, 900, D=D_PLUMB_BOB)
    boxes = Boxes.from_array([[8.0, 2.5, 0.0, 4.2, 1.9, 1.6, 0.4]])
    bp = project_boxes(boxes, cam, T_CAM_EGO, samples=64)
    c = boxes.corners()[0]
    s = np.linspace(0, 1, 400)[:, None, None]
    edge_pts = (c[BOX_EDGES[:, 0]] + (c[BOX_EDGES[:, 1]] - c[BOX_EDGES[:, 0]]) * s).reshape(-1, 3)
    uv = _cv2_project(edge_pts, cam, T_CAM_EGO)
    ref = np.concatenate([uv.min(axis=0), uv.max(axis=0)])
    np.testing.assert_allclose(bp.bbox[0], ref, atol=0.5)


def test_box_fully_behind_has_nan_bbox() -> None:
    cam = Camera("c", K_HD, 1600, 900, D=D_PLUMB_BOB)
    boxes = Boxes.from_array([[-10.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.3], [15.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bp = project_boxes(boxes, cam, T_CAM_EGO)
    assert np.all(np.isnan(bp.bbox[0]))
    assert not bp.edge_visible[0].any()
    assert np.all(np.isfinite(bp.bbox[1]))


def test_box_in_front_but_outside_the_image_has_nan_bbox() -> None:
    cam = Camera("c", K_HD, 1600, 900)
    bp = project_boxes(Boxes.from_array([[5.0, 30.0, 0.0, 4.0, 2.0, 1.5, 0.0]]), cam, T_CAM_EGO)
    assert bp.edge_visible.all() and np.all(np.isnan(bp.bbox))


def _surface_reference_bbox(box: Boxes, cam: Camera, T: Transform) -> np.ndarray:
    """Extent of the valid projections of 300k points on the box surface (inner bound of the bbox)."""
    rng = np.random.default_rng(11)
    n = 300_000
    u = rng.uniform(-0.5, 0.5, (n, 3))
    k = rng.integers(0, 3, n)
    u[np.arange(n), k] = np.sign(u[np.arange(n), k]) * 0.5
    pts = Transform.from_yaw(float(box.yaw[0]), box.center[0]).apply(u * box.size[0])
    pr = project_points(pts, cam, T)
    return np.concatenate([pr.uv[pr.valid].min(axis=0), pr.uv[pr.valid].max(axis=0)])


STRADDLING = [
    [3.0, -2.0, 0.0, 8.0, 1.8, 1.5, 0.0],  # beside the car on the right, from 1 m behind to 7 m ahead
    [3.0, 2.0, -1.0, 8.0, 1.8, 0.5, 0.3],  # left, low, turned
    [0.0, 0.0, 0.0, 6.0, 3.0, 2.0, 0.0],  # around the camera itself
]


@pytest.mark.parametrize("row", STRADDLING)
def test_box_straddling_the_camera_plane_is_clipped(row: list[float]) -> None:
    cam = Camera("c", K_HD, 1600, 900)
    box = Boxes.from_array([row])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bp = project_boxes(box, cam, T_CAM_EGO)
    vis = bp.edge_visible[0]
    assert vis.any() and not vis.all()  # really straddling
    assert np.all(np.isfinite(bp.segments[0][vis]))
    assert np.all(np.isfinite(bp.bbox[0]))
    x1, y1, x2, y2 = bp.bbox[0]
    assert 0 <= x1 < x2 <= 1600 and 0 <= y1 < y2 <= 900
    # the bbox hugs the visible part: compare with dense samples of the box surface
    np.testing.assert_allclose(bp.bbox[0], _surface_reference_bbox(box, cam, T_CAM_EGO), atol=3.0)


@pytest.mark.parametrize("row", STRADDLING[:2])
def test_box_straddling_with_distortion_is_clipped(row: list[float]) -> None:
    cam = Camera("c", K_HD, 1600, 900, D=D_PLUMB_BOB)
    box = Boxes.from_array([row])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bp = project_boxes(box, cam, T_CAM_EGO)
    assert np.all(np.isfinite(bp.bbox[0]))
    np.testing.assert_allclose(bp.bbox[0], _surface_reference_bbox(box, cam, T_CAM_EGO), atol=5.0)


def test_visible_fraction_is_the_share_of_the_extent_inside_the_image() -> None:
    cam = Camera("c", K_HD, 1600, 900)
    rows = [
        [15.0, 1.0, 0.0, 4.2, 1.9, 1.6, 0.4],  # in view
        [-10.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.3],  # behind the camera
        [5.0, 30.0, 0.0, 4.0, 2.0, 1.5, 0.0],  # in front, beside the image
        STRADDLING[0],  # alongside the car, reaching behind the camera plane
    ]
    boxes = Boxes.from_array(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        frac = visible_fraction(boxes, cam, T_CAM_EGO)
    assert frac[0] == 1.0 and frac[1] == 0.0 and frac[2] == 0.0
    assert 0.0 < frac[3] < 0.3  # the near-plane clipped wireframe spreads far beyond the picture
    # a box sliding sideways out of the picture: the fraction falls monotonically from 1 to 0
    ys = np.linspace(0.0, 30.0, 31)
    slide = Boxes.from_array([[15.0, y, 0.0, 4.0, 1.8, 1.5, 0.0] for y in ys])
    f = visible_fraction(slide, cam, T_CAM_EGO)
    assert f[0] == 1.0 and f[-1] == 0.0 and np.all(np.diff(f) <= 1e-12)
    # against the definition: clipped bbox area over extent area
    bp = project_boxes(slide, cam, T_CAM_EGO)
    part = np.isfinite(bp.bbox[:, 0])
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    np.testing.assert_allclose(f[part], area(bp.bbox[part]) / area(bp.extent[part]), atol=1e-12)
    assert len(visible_fraction(Boxes.empty(), cam)) == 0


def test_bbox_iou() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], dtype=float)
    np.testing.assert_allclose(bbox_iou(a, b), [50 / 150, 0.0, 1.0])


# -- the sample rig -----------------------------------------------------------------------------


def test_sample_rig_projects_a_point_ahead_near_the_principal_point() -> None:
    rig = load_rig(SAMPLE_RIG)
    cam = rig.cameras["CAM_FRONT"]
    T_cam_ego = cam.T_ego_cam.inverse()
    # 30 m straight ahead at the camera height: the image centre
    pr = project_points(np.array([[1.70 + 30.0, 0.0, 1.51]]), cam, T_cam_ego)
    assert pr.valid[0]
    np.testing.assert_allclose(pr.uv[0], cam.K[:2, 2], atol=1e-6)
    # the left camera is pitched 3 deg down: a point level with it appears f tan(3 deg) above centre
    left = rig.cameras["CAM_LEFT"]
    t = left.T_ego_cam.translation
    pr = project_points(np.array([t + [0.0, 40.0, 0.0]]), left, left.T_ego_cam.inverse())
    assert pr.valid[0]
    assert pr.uv[0, 0] == pytest.approx(left.K[0, 2], abs=0.5)  # only the tangential terms move it
    f_tan3 = left.K[1, 1] * np.tan(np.radians(3.0))
    assert left.K[1, 2] - pr.uv[0, 1] == pytest.approx(f_tan3, rel=0.02)  # mild distortion


# -- real data: KITTI object frame 000001 --------------------------------------------------------


def _kitti_calib(path: Path) -> dict[str, np.ndarray]:
    out = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = np.array([float(x) for x in v.split()])
    return out


def test_kitti_projection_matches_P_R0_Tr(real_data: Path) -> None:
    root = real_data / "kitti" / "object" / "training"
    c = _kitti_calib(root / "calib" / "000001.txt")
    P2 = c["P2"].reshape(3, 4)
    R0 = np.eye(4)
    R0[:3, :3] = c["R0_rect"].reshape(3, 3)
    Tr = np.vstack([c["Tr_velo_to_cam"].reshape(3, 4), [0, 0, 0, 1]])
    T_rect_velo = Transform(R0 @ Tr)
    cam = camera_from_projection("image_2", P2, 1242, 375, T_rect_velo.inverse())  # ego = velodyne frame
    velo = np.fromfile(root / "velodyne" / "000001.bin", dtype=np.float32).reshape(-1, 4)
    pr = project_points(velo, cam, cam.T_ego_cam.inverse())
    # the KITTI devkit: x_img = P2 R0_rect Tr_velo_to_cam [x y z 1]'
    X = np.hstack([velo[:, :3].astype(np.float64), np.ones((len(velo), 1))])
    h = X @ (P2 @ R0 @ Tr).T
    front = h[:, 2] > 0.5
    uv_ref = h[front, :2] / h[front, 2:3]
    np.testing.assert_allclose(pr.uv[front], uv_ref, atol=1e-4)  # 1e-4 px: round-off of K^-1 P
    inside = (uv_ref[:, 0] >= 0) & (uv_ref[:, 0] < 1242) & (uv_ref[:, 1] >= 0) & (uv_ref[:, 1] < 375)
    assert pr.valid.sum() == pytest.approx(inside.sum(), abs=len(velo) * 1e-3)
    assert 10_000 < pr.valid.sum() < len(velo) // 2  # a forward camera sees a slice of the sweep


def test_kitti_3d_labels_project_onto_their_2d_boxes(real_data: Path) -> None:
    """The KITTI label's 3D box, projected with our chain, matches the hand-drawn 2D box."""
    root = real_data / "kitti" / "object" / "training"
    c = _kitti_calib(root / "calib" / "000001.txt")
    R0 = np.eye(4)
    R0[:3, :3] = c["R0_rect"].reshape(3, 3)
    Tr = np.vstack([c["Tr_velo_to_cam"].reshape(3, 4), [0, 0, 0, 1]])
    T_velo_rect = Transform(R0 @ Tr).inverse()
    cam = camera_from_projection("image_2", c["P2"].reshape(3, 4), 1242, 375, T_velo_rect)
    n = 0
    for line in (root / "label_2" / "000001.txt").read_text().splitlines():
        f = line.split()
        if f[0] == "DontCare":
            continue
        bbox2d = np.array([float(v) for v in f[4:8]])
        h, w, l = (float(v) for v in f[8:11])
        x, y, z, ry = (float(v) for v in f[11:15])
        # KITTI: location is the bottom centre in rectified camera coordinates (y down), ry about y
        centre = T_velo_rect.apply(np.array([[x, y - h / 2, z]]))[0]
        # the object's heading (its length axis) is (cos ry, 0, -sin ry) in the camera frame
        heading = T_velo_rect.apply_vectors(np.array([[np.cos(ry), 0.0, -np.sin(ry)]]))[0]
        yaw = float(np.arctan2(heading[1], heading[0]))
        box = Boxes.from_array([[*centre, l, w, h, yaw]])
        bp = project_boxes(box, cam, cam.T_ego_cam.inverse())
        assert bbox_iou(bp.bbox, bbox2d[None])[0] > 0.95, (f[0], bp.bbox, bbox2d)  # measured 0.98-0.99
        n += 1
    assert n == 3
