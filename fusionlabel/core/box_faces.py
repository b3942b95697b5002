"""The six faces of a cuboid, and moving one of them (the image editor's face drag).

Faces are named by ``(axis, sign)`` in the box's own frame (axis 0 = x along the heading,
1 = y to the left, 2 = z up; sign +1 the front / left / top face). Moving a face by ``t``
metres along its outward normal changes the size along that axis by ``t`` and moves the centre
by ``t / 2`` along the normal, so the opposite face stays where it was.

To follow the mouse in a camera image, :func:`face_drag_distance` linearises the projection of
the face centre ``c_f`` along the normal ``n``: with ``J = d uv(c_f + t n) / dt`` (pixels per
metre, a finite difference) the drag ``du`` (pixels) moves the face by the least-squares
``t = (du . J) / (J . J)``.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> b = Boxes.from_array([[10, 0, 1, 4, 2, 1.5, 0]])
>>> face_centers(b)[FACES.index((0, 1))].tolist()
[12.0, 0.0, 1.0]
>>> move_face(b, (0, 1), 0.5).to_array()[0, [0, 3]].tolist()   # front face 0.5 m forward
[10.25, 4.5]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera
from fusionlabel.core.projection import normalised_to_pixels
from fusionlabel.core.transforms import Transform

#: (axis, sign) of the six faces: front, back, left, right, top, bottom
FACES: tuple[tuple[int, int], ...] = ((0, 1), (0, -1), (1, 1), (1, -1), (2, 1), (2, -1))


def _rot(yaw: float) -> NDArray[np.float64]:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])  # R_ego_box


def face_normal(box: Boxes, face: tuple[int, int]) -> NDArray[np.float64]:
    """(3,) outward unit normal of ``face`` of the first box, in the box's frame's parent (ego)."""
    e = np.zeros(3)
    e[face[0]] = float(face[1])
    return _rot(float(box.yaw[0])) @ e


def face_centers(box: Boxes) -> NDArray[np.float64]:
    """(6, 3) centres of the first box's faces in :data:`FACES` order (ego frame, metres)."""
    half = box.size[0] / 2.0
    return np.stack([box.center[0] + face_normal(box, f) * half[f[0]] for f in FACES])


def move_face(box: Boxes, face: tuple[int, int], t: float, min_size: float = 0.05) -> Boxes:
    """The first box with ``face`` moved ``t`` metres outwards (negative: inwards), the opposite
    face fixed; the size along the axis never drops below ``min_size``."""
    a = box.to_array()[0].copy()
    ax = face[0]
    new = max(float(a[3 + ax]) + float(t), min_size)
    grow = new - float(a[3 + ax])
    a[:3] += face_normal(box, face) * grow / 2.0
    a[3 + ax] = new
    return Boxes.from_array(a[None])


def _project(p_ego: NDArray[np.float64], camera: Camera, T_cam_ego: Transform) -> NDArray[np.float64]:
    p = T_cam_ego.apply(p_ego.reshape(-1, 3))
    z = np.maximum(p[:, 2], 1e-3)
    return normalised_to_pixels(p[:, :2] / z[:, None], camera)


def face_drag_distance(
    box: Boxes, face: tuple[int, int], camera: Camera, T_cam_ego: Transform, duv: ArrayLike, eps: float = 0.05
) -> float:
    """Metres to move ``face`` so that its centre's projection follows the image drag ``duv``
    (pixels), in the least-squares sense along the face normal (module docstring); 0 when the
    normal points straight at the camera (the face cannot be dragged in this view)."""
    c = face_centers(box)[FACES.index(face)]
    n = face_normal(box, face)
    uv = _project(np.stack([c, c + eps * n]), camera, T_cam_ego)
    J = (uv[1] - uv[0]) / eps  # pixels per metre along n
    jj = float(J @ J)
    if jj < 1.0:  # under a pixel per metre: moving the face does not move its picture
        return 0.0
    return float(np.asarray(duv, dtype=np.float64).reshape(2) @ J) / jj


def face_screen_points(
    box: Boxes, camera: Camera, T_cam_ego: Transform
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """(6, 2) pixels of the face centres and (6,) True where a centre is in front of the camera."""
    c = face_centers(box)
    p = T_cam_ego.apply(c)
    front = p[:, 2] > 0.1
    return _project(c, camera, T_cam_ego), front
