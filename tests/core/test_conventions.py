"""Conversions between label conventions: exact round trips and hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest
from pyquaternion import Quaternion

from fusionlabel.core.boxes import Boxes, wrap_angle
from fusionlabel.core.conventions import (
    MMDET3D_BOTTOM,
    MMDET3D_GRAVITY,
    boxes_to_kitti_camera,
    boxes_to_mmdet3d_lidar,
    boxes_to_nuscenes_global,
    heading_from_frame,
    heading_to_frame,
    kitti_alpha,
    kitti_camera_to_boxes,
    kitti_rotation_y_from_alpha,
    lwh_to_nuscenes_wlh,
    mmdet3d_lidar_to_boxes,
    nuscenes_global_to_boxes,
    nuscenes_wlh_to_lwh,
)
from fusionlabel.core.transforms import Transform

# LiDAR -> camera with exactly permuted axes: cam x = -lidar y, cam y = -lidar z, cam z = lidar x
T_IDEAL = np.array([[0.0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]])

# KITTI 2011_09_26 calibration (R_rect_00 and calib_velo_to_cam), as printed in the dataset:
# neither matrix is exactly orthonormal, and camera y is tilted 0.85 degrees from LiDAR -z.
R0_RECT = np.array(
    [
        [9.999239e-01, 9.837760e-03, -7.445048e-03],
        [-9.869795e-03, 9.999421e-01, -4.278459e-03],
        [7.402527e-03, 4.351614e-03, 9.999631e-01],
    ]
)
TR_VELO_TO_CAM = np.array(
    [
        [7.533745e-03, -9.999714e-01, -6.166020e-04, -4.069766e-03],
        [1.480249e-02, 7.280733e-04, -9.998902e-01, -7.631618e-02],
        [9.998621e-01, 7.523790e-03, 1.480755e-02, -2.717806e-01],
    ]
)


def kitti_T() -> np.ndarray:
    R = np.eye(4)
    R[:3, :3] = R0_RECT
    V = np.vstack([TR_VELO_TO_CAM, [0, 0, 0, 1]])
    return R @ V


def tilted_T(seed: int, max_tilt_deg: float = 5.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    roll, pitch = np.deg2rad(rng.uniform(-max_tilt_deg, max_tilt_deg, 2))
    yaw = rng.uniform(-np.pi, np.pi)
    q = (
        Quaternion(axis=[0, 0, 1], angle=yaw)
        * Quaternion(axis=[0, 1, 0], angle=pitch)
        * Quaternion(axis=[1, 0, 0], angle=roll)
    )
    M = np.eye(4)
    M[:3, :3] = q.rotation_matrix
    M[:3, 3] = rng.uniform(-2, 2, 3)
    return T_IDEAL @ M


def random_boxes(seed: int, n: int = 400) -> Boxes:
    rng = np.random.default_rng(seed)
    center = np.column_stack([rng.uniform(-80, 80, n), rng.uniform(-40, 40, n), rng.uniform(-3, 3, n)])
    size = rng.uniform(0.3, 15.0, (n, 3))
    yaw = rng.uniform(-np.pi, np.pi, n)
    yaw[:4] = [np.pi, -np.pi / 2, 0.0, np.pi / 2]  # the axis-aligned edge cases
    return Boxes(center, size, yaw)


def angle_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(wrap_angle(np.asarray(a) - np.asarray(b)))))


def kitti_corners(xyz: np.ndarray, hwl: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """(N, 8, 3) corners the way the KITTI devkit computes them (camera frame)."""
    out = []
    for (x, y, z), (h, w, l), r in zip(xyz, hwl, ry):
        R = np.array([[np.cos(r), 0, np.sin(r)], [0, 1, 0], [-np.sin(r), 0, np.cos(r)]])
        xc = l / 2 * np.array([1, 1, -1, -1, 1, 1, -1, -1])
        yc = np.array([0, 0, 0, 0, -h, -h, -h, -h])
        zc = w / 2 * np.array([1, -1, -1, 1, 1, -1, -1, 1])
        out.append((R @ np.vstack([xc, yc, zc])).T + [x, y, z])
    return np.array(out)


def corner_set_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Largest distance from a corner of ``a`` to the nearest corner of ``b`` (per box), (N, 8, 3)."""
    d = np.linalg.norm(a[:, :, None, :] - b[:, None, :, :], axis=-1)
    return float(d.min(axis=2).max())


# -- KITTI -------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["ideal", "kitti", "tilted0", "tilted1", "tilted2"])
def test_kitti_round_trips(which: str) -> None:
    T = {"ideal": T_IDEAL, "kitti": kitti_T()}.get(which)
    if T is None:
        T = tilted_T(int(which[-1]))
    boxes = random_boxes(seed=11)
    # ours -> KITTI -> ours
    xyz, hwl, ry = boxes_to_kitti_camera(boxes, T)
    back = kitti_camera_to_boxes(xyz, hwl, ry, T)
    assert np.max(np.abs(back.center - boxes.center)) < 1e-9
    assert np.array_equal(back.size, boxes.size)
    assert angle_err(back.yaw, boxes.yaw) < 1e-9
    # KITTI -> ours -> KITTI, from independently drawn KITTI labels
    rng = np.random.default_rng(12)
    n = 400
    xyz = np.column_stack([rng.uniform(-30, 30, n), rng.uniform(-1, 3, n), rng.uniform(1, 80, n)])
    hwl = rng.uniform(0.3, 12.0, (n, 3))
    ry = rng.uniform(-np.pi, np.pi, n)
    b = kitti_camera_to_boxes(xyz, hwl, ry, Transform(T))  # a Transform works as well as an array
    xyz2, hwl2, ry2 = boxes_to_kitti_camera(b, T)
    assert np.max(np.abs(xyz2 - xyz)) < 1e-9
    assert np.array_equal(hwl2, hwl)
    assert angle_err(ry2, ry) < 1e-9


def test_kitti_hand_checked_cases() -> None:
    # a 4 x 1.8 x 1.5 m car 10 m straight ahead of the LiDAR, its bottom 1.2 m below the LiDAR
    def car(yaw: float) -> Boxes:
        return Boxes([[10.0, 0.0, -1.2 + 0.75]], [[4.0, 1.8, 1.5]], [yaw])

    xyz, hwl, ry = boxes_to_kitti_camera(car(0.0), T_IDEAL)
    assert np.allclose(xyz, [[0.0, 1.2, 10.0]])  # bottom centre: camera y points down
    assert np.allclose(hwl, [[1.5, 1.8, 4.0]])
    assert ry[0] == pytest.approx(-np.pi / 2)  # facing forward (away from the camera)
    assert kitti_alpha(xyz, ry)[0] == pytest.approx(-np.pi / 2)
    assert boxes_to_kitti_camera(car(np.pi / 2), T_IDEAL)[2][0] == pytest.approx(np.pi)  # facing left = camera -x
    assert boxes_to_kitti_camera(car(-np.pi / 2), T_IDEAL)[2][0] == pytest.approx(0.0)  # facing right = camera +x
    assert boxes_to_kitti_camera(car(np.pi), T_IDEAL)[2][0] == pytest.approx(np.pi / 2)  # facing the camera
    # a car 45 degrees to the right, driving away: ry = -pi/2 but alpha = -3pi/4
    assert kitti_alpha([[10.0, 1.2, 10.0]], [-np.pi / 2])[0] == pytest.approx(-3 * np.pi / 4)
    # and one 45 degrees to the left, seen from its right side (facing right): ry = 0, alpha = pi/4
    assert kitti_alpha([[-10.0, 1.2, 10.0]], [0.0])[0] == pytest.approx(np.pi / 4)


def test_kitti_boxes_match_devkit_corners() -> None:
    rng = np.random.default_rng(3)
    n = 200
    xyz = np.column_stack([rng.uniform(-20, 20, n), rng.uniform(0, 2.5, n), rng.uniform(3, 60, n)])
    hwl = np.column_stack([rng.uniform(1.2, 3.5, n), rng.uniform(0.5, 2.5, n), rng.uniform(0.5, 12, n)])
    ry = rng.uniform(-np.pi, np.pi, n)
    kc = kitti_corners(xyz, hwl, ry)
    # exact with exactly permuted axes
    ours = kitti_camera_to_boxes(xyz, hwl, ry, T_IDEAL).corners()
    ours_cam = (ours.reshape(-1, 3) @ T_IDEAL[:3, :3].T + T_IDEAL[:3, 3]).reshape(n, 8, 3)
    assert corner_set_distance(kc, ours_cam) < 1e-9
    # with the real KITTI calibration the two "up" axes differ by 0.85 degrees: corners of boxes up to 12 m long within 12 cm
    T = kitti_T()
    ours = kitti_camera_to_boxes(xyz, hwl, ry, T).corners()
    ours_cam = (ours.reshape(-1, 3) @ T[:3, :3].T + T[:3, 3]).reshape(n, 8, 3)
    d = corner_set_distance(kc, ours_cam)
    assert 1e-4 < d < 0.12


def test_alpha_round_trip_and_range() -> None:
    rng = np.random.default_rng(5)
    xyz = np.column_stack([rng.uniform(-30, 30, 300), rng.uniform(-2, 3, 300), rng.uniform(0.5, 80, 300)])
    ry = rng.uniform(-np.pi, np.pi, 300)
    alpha = kitti_alpha(xyz, ry)
    assert np.all((alpha > -np.pi) & (alpha <= np.pi))
    assert angle_err(kitti_rotation_y_from_alpha(xyz, alpha), ry) < 1e-12


def test_heading_transfer_inverse_for_random_linear_maps() -> None:
    rng = np.random.default_rng(8)
    for _ in range(20):
        R = tilted_T(int(rng.integers(1000)), 20.0)[:3, :3]
        R = R @ (np.eye(3) + rng.normal(0, 1e-3, (3, 3)))  # not exactly orthonormal
        theta = rng.uniform(-np.pi, np.pi, 100)
        phi = heading_to_frame(theta, R, src_axes=(np.array([1.0, 0, 0]), np.array([0, 0, -1.0])))
        back = heading_from_frame(phi, R, src_axes=(np.array([1.0, 0, 0]), np.array([0, 0, -1.0])))
        assert angle_err(back, theta) < 1e-9


def test_kitti_bad_shapes() -> None:
    with pytest.raises(ValueError):
        kitti_camera_to_boxes(np.zeros((2, 2)), np.ones((2, 3)), np.zeros(2), T_IDEAL)
    with pytest.raises(ValueError):
        kitti_camera_to_boxes(np.zeros((1, 3)), np.ones((1, 3)), np.zeros(1), np.eye(3))


# -- nuScenes ------------------------------------------------------------------------------------
def random_pose(seed: int, tilt_deg: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = (
        Quaternion(axis=[0, 0, 1], angle=rng.uniform(-np.pi, np.pi))
        * Quaternion(axis=[0, 1, 0], angle=np.deg2rad(rng.uniform(-tilt_deg, tilt_deg)))
        * Quaternion(axis=[1, 0, 0], angle=np.deg2rad(rng.uniform(-tilt_deg, tilt_deg)))
    )
    M = np.eye(4)
    M[:3, :3] = q.rotation_matrix
    M[:3, 3] = rng.uniform(-2000, 2000, 3)
    return M


def test_nuscenes_size_order() -> None:
    assert nuscenes_wlh_to_lwh([[1.8, 4.5, 1.6]]).tolist() == [[4.5, 1.8, 1.6]]
    assert lwh_to_nuscenes_wlh([[4.5, 1.8, 1.6]]).tolist() == [[1.8, 4.5, 1.6]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nuscenes_round_trips(seed: int) -> None:
    T = random_pose(seed)
    boxes = random_boxes(seed + 100)
    c, wlh, q = boxes_to_nuscenes_global(boxes, T)
    assert np.all(q[:, 0] >= 0) and np.allclose(np.linalg.norm(q, axis=1), 1.0)
    back = nuscenes_global_to_boxes(c, wlh, q, T)
    assert np.max(np.abs(back.center - boxes.center)) < 1e-9
    assert np.array_equal(back.size, boxes.size)
    assert angle_err(back.yaw, boxes.yaw) < 1e-9
    # global -> ego -> global from independently drawn upright global boxes
    rng = np.random.default_rng(seed + 200)
    n = 300
    cg = T[:3, 3] + rng.uniform(-60, 60, (n, 3))
    psi = rng.uniform(-np.pi, np.pi, n)
    qg = np.stack([np.cos(psi / 2), 0 * psi, 0 * psi, np.sin(psi / 2)], axis=1)
    wlh = rng.uniform(0.3, 10, (n, 3))
    c2, wlh2, q2 = boxes_to_nuscenes_global(nuscenes_global_to_boxes(cg, wlh, qg, T), T)
    assert np.max(np.abs(c2 - cg)) < 1e-9
    assert np.array_equal(wlh2, wlh)
    assert np.max(np.abs(q2 - qg)) < 1e-9


def test_nuscenes_hand_checked_and_devkit_agreement() -> None:
    # ego at (10, 10, 0) heading +y (90 deg); a car at (10, 20, 1) also heading +y, 2 m wide, 4 m long
    T = Transform.from_yaw(np.pi / 2, [10.0, 10.0, 0.0]).matrix
    q = Quaternion(axis=[0, 0, 1], angle=np.pi / 2)
    b = nuscenes_global_to_boxes([[10.0, 20.0, 1.0]], [[2.0, 4.0, 1.5]], [list(q)], T)
    assert np.allclose(b.center, [[10.0, 0.0, 1.0]])  # 10 m straight ahead
    assert np.allclose(b.size, [[4.0, 2.0, 1.5]])
    assert b.yaw[0] == pytest.approx(0.0)
    # the nuScenes devkit way (Box.translate(-t); Box.rotate(q_ego.inverse); yaw of the quaternion)
    # agrees for a level ego pose
    rng = np.random.default_rng(4)
    T = random_pose(9, tilt_deg=0.0)
    q_ego = Quaternion(matrix=T[:3, :3])
    for _ in range(50):
        qb = Quaternion(axis=[0, 0, 1], angle=rng.uniform(-np.pi, np.pi))
        c = T[:3, 3] + rng.uniform(-50, 50, 3)
        ours = nuscenes_global_to_boxes([c], [[2.0, 4.0, 1.5]], [list(qb)], T)
        c_dev = q_ego.inverse.rotate(c - T[:3, 3])
        yaw_dev = (q_ego.inverse * qb).yaw_pitch_roll[0]
        assert np.allclose(ours.center[0], c_dev, atol=1e-9)
        assert angle_err(ours.yaw, [yaw_dev]) < 1e-9


# -- mmdetection3d -------------------------------------------------------------------------------
def test_mmdet3d_origins() -> None:
    boxes = random_boxes(21)
    bottom = boxes_to_mmdet3d_lidar(boxes)  # default origin (0.5, 0.5, 0): bottom centre
    assert np.allclose(bottom[:, 2], boxes.bottom_z)
    assert np.array_equal(bottom[:, [0, 1, 3, 4, 5, 6]], boxes.to_array()[:, [0, 1, 3, 4, 5, 6]])
    back = mmdet3d_lidar_to_boxes(bottom, MMDET3D_BOTTOM)
    assert np.max(np.abs(back.to_array() - boxes.to_array())) < 1e-9
    grav = boxes_to_mmdet3d_lidar(boxes, MMDET3D_GRAVITY)
    assert np.array_equal(grav, boxes.to_array())
    # a 9-column tensor (with velocities) reads its first 7 columns
    nine = np.hstack([bottom, np.ones((len(bottom), 2))])
    assert np.max(np.abs(mmdet3d_lidar_to_boxes(nine).to_array() - boxes.to_array())) < 1e-9
    # hand case: a box lying on z = 0 with h = 2 has its gravity centre at z = 1
    assert mmdet3d_lidar_to_boxes([[5, 0, 0, 4, 2, 2, 0]]).center[0].tolist() == [5.0, 0.0, 1.0]
    with pytest.raises(ValueError):
        mmdet3d_lidar_to_boxes(bottom, (0.5, 1.0, 0.5))  # camera-style origin is not a LiDAR origin
