"""Conversions between the box conventions of the datasets and tools we read and write.

Everything here is pure numpy: no files. ``docs/conventions.md`` documents every frame and
convention in one place; this module is its executable form.

Our convention (:mod:`fusionlabel.core.boxes`): boxes live in the ego/LiDAR frame (x forward,
y left, z up, metres), ``center`` is the *gravity* centre, ``size`` is ``(l, w, h)`` and ``yaw``
is the rotation about +z, 0 = box forward axis along frame +x, counter-clockwise positive.

Headings across frames
----------------------
A box is "upright" in the frame it is labelled in: a KITTI box rotates about the rectified
camera's y axis, our boxes about the ego z axis. On a real rig these two axes differ by a small
tilt (KITTI 2011_09_26: 0.85 degrees), so no rotation maps one upright box exactly onto the other. We
carry the *heading* across: the box's forward unit vector ``d_src(theta)`` is mapped into the
destination frame, ``d_dst = R_dst_src d_src``, and its azimuth in the destination ground plane is
the destination heading::

    phi = atan2(b . d_dst, a . d_dst)          (a, b: the destination ground-plane axes)

The inverse direction solves that very map exactly: with ``n = -sin(phi) a + cos(phi) b`` (the
in-plane normal of the wanted heading) we need ``n . R d_src(theta) = 0``, which for
``d_src = cos(theta) u + sin(theta) v`` gives ``theta = atan2(-n.Ru, n.Rv)`` (plus pi if that
points backwards). Both round trips are therefore exact to floating point, whatever the tilt.

Centres map as points (``p_dst = T_dst_src p_src``); sizes are permuted, never scaled.

Example
-------
>>> import numpy as np
>>> T_rect_lidar = np.array([[0., -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
>>> b = kitti_camera_to_boxes([[0.0, 1.0, 10.0]], [[1.5, 1.8, 4.0]], [-np.pi / 2], T_rect_lidar)
>>> b.center.round(6).tolist(), b.size.tolist(), round(float(b.yaw[0]), 6)
([[10.0, 0.0, -0.25]], [[4.0, 1.8, 1.5]], 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import Boxes, wrap_angle
from fusionlabel.core.transforms import Transform

TransformLike = Transform | ArrayLike

_EX = np.array([1.0, 0.0, 0.0])
_EY = np.array([0.0, 1.0, 0.0])
_EZ = np.array([0.0, 0.0, 1.0])

#: mmdet3d's default LiDAR box origin: bottom centre
MMDET3D_BOTTOM = (0.5, 0.5, 0.0)
#: gravity centre (OpenPCDet, ours)
MMDET3D_GRAVITY = (0.5, 0.5, 0.5)


# -- helpers ----------------------------------------------------------------------------------
def _matrix(T: TransformLike) -> NDArray[np.float64]:
    """(4, 4) float64 from a Transform or a 4x4 / 3x4 array."""
    if isinstance(T, Transform):
        return np.array(T.matrix, dtype=np.float64)
    m = np.asarray(T, dtype=np.float64)
    if m.shape == (3, 4):
        m = np.vstack([m, [0.0, 0.0, 0.0, 1.0]])
    if m.shape != (4, 4):
        raise ValueError(f"expected a 4x4 or 3x4 transform, got shape {m.shape}")
    return m


def _inv(M: NDArray[np.float64]) -> NDArray[np.float64]:
    """Exact (general) inverse of a 4x4 matrix: KITTI's R0_rect is not exactly orthonormal."""
    return np.asarray(np.linalg.inv(M), dtype=np.float64)


def _apply(M: NDArray[np.float64], p: NDArray[np.float64]) -> NDArray[np.float64]:
    """``p' = M[:3,:3] p + M[:3,3]`` for (N, 3) points."""
    return p @ M[:3, :3].T + M[:3, 3]


def _as3(a: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 3:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3), got {arr.shape}")
    return arr


def heading_to_frame(
    theta: ArrayLike,
    R_dst_src: ArrayLike,
    src_axes: tuple[ArrayLike, ArrayLike] = (_EX, _EY),
    dst_axes: tuple[ArrayLike, ArrayLike] = (_EX, _EY),
) -> NDArray[np.float64]:
    """Carry headings from one frame's ground plane into another's.

    Parameters
    ----------
    theta : (N,) radians, heading in the source frame: the forward vector is
        ``d_src = cos(theta) u + sin(theta) v`` with ``(u, v) = src_axes``
    R_dst_src : (3, 3) linear part of ``T_dst_src`` (need not be exactly orthonormal)
    src_axes, dst_axes : the two ground-plane axes ``(u, v)`` / ``(a, b)`` of each frame

    Returns
    -------
    (N,) radians in (-pi, pi]: ``phi = atan2(b . R d_src, a . R d_src)``.
    """
    t = np.asarray(theta, dtype=np.float64).reshape(-1)
    R = np.asarray(R_dst_src, dtype=np.float64).reshape(3, 3)
    u, v = (np.asarray(x, dtype=np.float64) for x in src_axes)
    a, b = (np.asarray(x, dtype=np.float64) for x in dst_axes)
    Ru, Rv = R @ u, R @ v
    # R d = cos(t) R u + sin(t) R v
    da = np.cos(t) * (a @ Ru) + np.sin(t) * (a @ Rv)
    db = np.cos(t) * (b @ Ru) + np.sin(t) * (b @ Rv)
    return wrap_angle(np.arctan2(db, da))


def heading_from_frame(
    phi: ArrayLike,
    R_dst_src: ArrayLike,
    src_axes: tuple[ArrayLike, ArrayLike] = (_EX, _EY),
    dst_axes: tuple[ArrayLike, ArrayLike] = (_EX, _EY),
) -> NDArray[np.float64]:
    """Exact inverse of :func:`heading_to_frame`: the source heading whose image is ``phi``.

    With ``n = -sin(phi) a + cos(phi) b`` and ``m = cos(phi) a + sin(phi) b``, solve
    ``n . R d_src(theta) = cos(theta) (n.Ru) + sin(theta) (n.Rv) = 0`` for
    ``theta = atan2(-n.Ru, n.Rv)``, then add pi where ``m . R d_src(theta) < 0``.
    """
    f = np.asarray(phi, dtype=np.float64).reshape(-1)
    R = np.asarray(R_dst_src, dtype=np.float64).reshape(3, 3)
    u, v = (np.asarray(x, dtype=np.float64) for x in src_axes)
    a, b = (np.asarray(x, dtype=np.float64) for x in dst_axes)
    Ru, Rv = R @ u, R @ v
    n = -np.sin(f)[:, None] * a + np.cos(f)[:, None] * b  # (N, 3)
    m = np.cos(f)[:, None] * a + np.sin(f)[:, None] * b
    theta = np.arctan2(-(n @ Ru), n @ Rv)
    forward = np.cos(theta) * (m @ Ru) + np.sin(theta) * (m @ Rv)
    theta = np.where(forward < 0, theta + np.pi, theta)
    return wrap_angle(theta)


# -- KITTI --------------------------------------------------------------------------------------
#: KITTI's heading: d_cam = R_y(ry) e_x = (cos ry, 0, -sin ry), i.e. u = e_x, v = -e_z
_KITTI_AXES = (_EX, -_EZ)


def kitti_camera_to_boxes(
    xyz_bottom: ArrayLike, hwl: ArrayLike, rotation_y: ArrayLike, T_rect_lidar: TransformLike
) -> Boxes:
    """KITTI rectified-camera labels -> our :class:`Boxes` in the LiDAR (ego) frame.

    Parameters
    ----------
    xyz_bottom : (N, 3) metres, rectified reference camera (cam 0 after ``R0_rect``): x right,
        y down, z forward. The **bottom** centre of the box (KITTI ``location``).
    hwl : (N, 3) metres, KITTI ``dimensions`` in file order: height, width, length
    rotation_y : (N,) radians, rotation about the camera y axis (pointing down); the box's
        forward (length) axis is ``(cos ry, 0, -sin ry)`` in the camera frame, so ``ry = 0``
        faces camera +x (right) and ``ry = -pi/2`` faces camera +z (away from the camera)
    T_rect_lidar : ``R0_rect @ Tr_velo_to_cam`` (4, 4), LiDAR -> rectified camera

    Returns
    -------
    Boxes in the LiDAR frame. Math::

        c_rect  = xyz_bottom - (0, h/2, 0)           (gravity centre: camera y points down)
        center  = inv(T_rect_lidar) c_rect
        size    = (l, w, h)
        yaw     = heading_to_frame(ry, R_lidar_rect, src_axes=(e_x, -e_z))
    """
    xyz = _as3(xyz_bottom, "xyz_bottom")
    dims = _as3(hwl, "hwl")
    ry = np.asarray(rotation_y, dtype=np.float64).reshape(-1)
    M_lidar_rect = _inv(_matrix(T_rect_lidar))
    c_rect = xyz.copy()
    c_rect[:, 1] -= dims[:, 0] / 2.0
    center = _apply(M_lidar_rect, c_rect)
    yaw = heading_to_frame(ry, M_lidar_rect[:3, :3], src_axes=_KITTI_AXES)
    return Boxes(center, dims[:, [2, 1, 0]], yaw)


def boxes_to_kitti_camera(
    boxes: Boxes, T_rect_lidar: TransformLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Our LiDAR-frame :class:`Boxes` -> KITTI camera labels; exact inverse of :func:`kitti_camera_to_boxes`.

    Returns
    -------
    xyz_bottom : (N, 3) metres, rectified camera frame, bottom centre ``= T_rect_lidar c + (0, h/2, 0)``
    hwl : (N, 3) metres ``(h, w, l)``
    rotation_y : (N,) radians in (-pi, pi], ``heading_from_frame(yaw, R_lidar_rect, (e_x, -e_z))``
    """
    M = _matrix(T_rect_lidar)
    M_lidar_rect = _inv(M)
    c_rect = _apply(M, boxes.center)
    xyz = c_rect.copy()
    xyz[:, 1] += boxes.size[:, 2] / 2.0
    ry = heading_from_frame(boxes.yaw, M_lidar_rect[:3, :3], src_axes=_KITTI_AXES)
    return xyz, boxes.size[:, [2, 1, 0]].copy(), ry


def kitti_alpha(xyz_cam: ArrayLike, rotation_y: ArrayLike) -> NDArray[np.float64]:
    """KITTI observation angle ``alpha`` from the location and ``rotation_y``.

    ``alpha`` is the heading relative to the viewing ray: the ray to the object, seen from
    above (x right, z forward), leaves the camera at azimuth ``beta = atan2(x, z)`` measured
    from +z towards +x. Rotating the camera about y by ``beta`` puts the object straight ahead;
    ``rotation_y`` (measured about the *down* axis) then becomes ``ry - beta``::

        alpha = wrap(ry - atan2(x, z))

    A car straight ahead (x = 0) has ``alpha = ry``; a car driving away from the camera
    (``ry = -pi/2``) 45 degrees to the right of it (x = z) has ``alpha = -3 pi / 4``.

    Parameters
    ----------
    xyz_cam : (N, 3) metres, rectified camera frame (the bottom centre, as in the label files;
        any point on the box's vertical axis gives the same angle)
    rotation_y : (N,) radians

    Returns
    -------
    (N,) radians in (-pi, pi]
    """
    xyz = _as3(xyz_cam, "xyz_cam")
    ry = np.asarray(rotation_y, dtype=np.float64).reshape(-1)
    return wrap_angle(ry - np.arctan2(xyz[:, 0], xyz[:, 2]))


def kitti_rotation_y_from_alpha(xyz_cam: ArrayLike, alpha: ArrayLike) -> NDArray[np.float64]:
    """Inverse of :func:`kitti_alpha`: ``ry = wrap(alpha + atan2(x, z))``."""
    xyz = _as3(xyz_cam, "xyz_cam")
    a = np.asarray(alpha, dtype=np.float64).reshape(-1)
    return wrap_angle(a + np.arctan2(xyz[:, 0], xyz[:, 2]))


# -- nuScenes -------------------------------------------------------------------------------------
def nuscenes_wlh_to_lwh(wlh: ArrayLike) -> NDArray[np.float64]:
    """nuScenes ``size = (w, l, h)`` -> our ``(l, w, h)``; (N, 3) metres."""
    return _as3(wlh, "wlh")[:, [1, 0, 2]].copy()


def lwh_to_nuscenes_wlh(lwh: ArrayLike) -> NDArray[np.float64]:
    """Our ``(l, w, h)`` -> nuScenes ``(w, l, h)``; (N, 3) metres."""
    return _as3(lwh, "lwh")[:, [1, 0, 2]].copy()


def _quat_heading(q_wxyz: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N,) azimuth of each rotation's x axis in its parent xy-plane.

    For ``q = (w, x, y, z)``: ``R[0,0] = 1 - 2(y^2 + z^2)``, ``R[1,0] = 2(xy + wz)``.
    """
    q = q_wxyz / np.linalg.norm(q_wxyz, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.arctan2(2.0 * (x * y + w * z), 1.0 - 2.0 * (y * y + z * z))


def nuscenes_global_to_boxes(
    center_global: ArrayLike, wlh: ArrayLike, rotation_wxyz: ArrayLike, T_world_ego: TransformLike
) -> Boxes:
    """nuScenes ``sample_annotation`` boxes (global frame) -> our Boxes in the ego frame.

    Parameters
    ----------
    center_global : (N, 3) metres, gravity centre in the nuScenes global (map) frame, z up
    wlh : (N, 3) metres, nuScenes size order ``(w, l, h)``
    rotation_wxyz : (N, 4) unit quaternions ``(w, x, y, z)``, box -> global; only the heading of
        the box x axis is kept (nuScenes boxes have roll = pitch = 0)
    T_world_ego : (4, 4) ego pose at the sample's timestamp (nuScenes ``ego_pose``)

    Returns
    -------
    Boxes, ego frame::

        center = inv(T_world_ego) c_global
        psi    = atan2(R_q[1,0], R_q[0,0])                         (global heading)
        yaw    = heading_to_frame(psi, R_ego_world)                (= psi - ego yaw for a level ego)
        size   = (l, w, h)
    """
    c = _as3(center_global, "center_global")
    q = np.asarray(rotation_wxyz, dtype=np.float64).reshape(-1, 4)
    M_ego_world = _inv(_matrix(T_world_ego))
    center = _apply(M_ego_world, c)
    yaw = heading_to_frame(_quat_heading(q), M_ego_world[:3, :3])
    return Boxes(center, nuscenes_wlh_to_lwh(wlh), yaw)


def boxes_to_nuscenes_global(
    boxes: Boxes, T_world_ego: TransformLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Ego-frame Boxes -> nuScenes global boxes; exact inverse of :func:`nuscenes_global_to_boxes`.

    Returns
    -------
    center_global : (N, 3) metres ``= T_world_ego c``
    wlh : (N, 3) metres ``(w, l, h)``
    rotation_wxyz : (N, 4) upright quaternions ``(cos(psi/2), 0, 0, sin(psi/2))``, ``w >= 0``,
        with ``psi = heading_from_frame(yaw, R_ego_world)``
    """
    M = _matrix(T_world_ego)
    M_ego_world = _inv(M)
    center = _apply(M, boxes.center)
    psi = heading_from_frame(boxes.yaw, M_ego_world[:3, :3])
    h = psi / 2.0
    q = np.stack([np.cos(h), np.zeros_like(h), np.zeros_like(h), np.sin(h)], axis=1)
    return center, lwh_to_nuscenes_wlh(boxes.size), q


# -- mmdetection3d ----------------------------------------------------------------------------------
def _check_origin(origin: Sequence[float]) -> float:
    o = tuple(float(v) for v in origin)
    if len(o) != 3 or o[0] != 0.5 or o[1] != 0.5 or not 0.0 <= o[2] <= 1.0:
        raise ValueError(
            f"origin must be (0.5, 0.5, oz) with 0 <= oz <= 1 (mmdet3d shifts only along the box height), got {origin}"
        )
    return o[2]


def mmdet3d_lidar_to_boxes(array: ArrayLike, origin: Sequence[float] = MMDET3D_BOTTOM) -> Boxes:
    """mmdetection3d (>= 1.0) ``LiDARInstance3DBoxes`` tensor -> Boxes.

    Parameters
    ----------
    array : (N, 7) ``[x, y, z, l, w, h, yaw]`` (extra columns such as velocities are ignored);
        LiDAR frame, yaw about +z from +x towards +y (as ours)
    origin : relative position of ``(x, y, z)`` inside the box: ``(0.5, 0.5, 0)`` bottom centre
        (mmdet3d's default), ``(0.5, 0.5, 0.5)`` gravity centre

    Returns
    -------
    Boxes with ``z_gravity = z + (0.5 - oz) h``.
    """
    oz = _check_origin(origin)
    a = np.asarray(array, dtype=np.float64)
    a = a.reshape(-1, a.shape[-1] if a.ndim else 7)
    if a.shape[1] < 7:
        raise ValueError(f"mmdet3d boxes need 7 columns [x, y, z, l, w, h, yaw], got {a.shape[1]}")
    center = a[:, 0:3].copy()
    center[:, 2] += (0.5 - oz) * a[:, 5]
    return Boxes(center, a[:, 3:6], a[:, 6])


def boxes_to_mmdet3d_lidar(boxes: Boxes, origin: Sequence[float] = MMDET3D_BOTTOM) -> NDArray[np.float64]:
    """Boxes -> (N, 7) mmdet3d ``[x, y, z, l, w, h, yaw]`` with ``z = z_gravity - (0.5 - oz) h``."""
    oz = _check_origin(origin)
    a = boxes.to_array()
    a[:, 2] -= (0.5 - oz) * a[:, 5]
    return a
