"""Oriented 3D boxes as struct-of-arrays, and the geometry on them.

Convention (see ``docs/conventions.md``)
----------------------------------------
A box lives in a right-handed metric frame with +z up (the ego/LiDAR frame):

* ``center`` (N, 3) float64, metres: the *gravity* centre of the box;
* ``size``   (N, 3) float64, metres: ``(l, w, h)`` = extent along the box's own x (forward),
  y (left) and z (up) axes;
* ``yaw``    (N,)   float64, radians in (-pi, pi]: rotation about +z, 0 = box x along frame x.

This is OpenPCDet's ``(x, y, z, dx, dy, dz, heading)``. Boxes with roll/pitch are represented
through :func:`Boxes.from_quaternions`, which keeps the yaw of the full rotation (driving data
labels carry roll = pitch = 0, and BEV/3D IoU here are defined for yaw-only boxes).

Corner order (``corners``)::

        4 -------- 5          top face (z = +h/2): 4 5 6 7
       /|         /|          bottom face (z = -h/2): 0 1 2 3
      7 -------- 6 .          0: (+l/2, +w/2)  1: (+l/2, -w/2)
      | 0 -------| 1          2: (-l/2, -w/2)  3: (-l/2, +w/2)
      |/         |/           front (box +x) face: 0 1 5 4
      3 -------- 2

Example
-------
>>> b = Boxes.from_array([[0, 0, 1, 4, 2, 1.5, 0.0]])
>>> float(bev_iou(b, b)[0, 0])
1.0
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyquaternion import Quaternion

from fusionlabel.core.transforms import Transform

_UNIT_CORNERS = np.array(
    [
        [0.5, 0.5, -0.5],
        [0.5, -0.5, -0.5],
        [-0.5, -0.5, -0.5],
        [-0.5, 0.5, -0.5],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [-0.5, -0.5, 0.5],
        [-0.5, 0.5, 0.5],
    ]
)

#: the 12 edges of a box as pairs of corner indices (for drawing)
BOX_EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]])


def wrap_angle(a: ArrayLike) -> NDArray[np.float64]:
    """Wrap angles to (-pi, pi]."""
    x = np.asarray(a, dtype=np.float64)
    w = np.mod(x + np.pi, 2.0 * np.pi) - np.pi
    return np.where(w == -np.pi, np.pi, w)


@dataclass(frozen=True)
class Boxes:
    """N oriented 3D boxes. See the module docstring for the convention.

    Attributes
    ----------
    center : (N, 3) float64, metres, gravity centre
    size   : (N, 3) float64, metres, (l, w, h), all > 0
    yaw    : (N,) float64, radians, wrapped to (-pi, pi]
    """

    center: NDArray[np.float64]
    size: NDArray[np.float64]
    yaw: NDArray[np.float64]

    def __post_init__(self) -> None:
        c = np.asarray(self.center, dtype=np.float64).reshape(-1, 3)
        s = np.asarray(self.size, dtype=np.float64).reshape(-1, 3)
        y = wrap_angle(np.asarray(self.yaw, dtype=np.float64).reshape(-1))
        if not (len(c) == len(s) == len(y)):
            raise ValueError(f"center, size and yaw lengths differ: {len(c)}, {len(s)}, {len(y)}")
        for name, arr in (("center", c), ("size", s), ("yaw", y)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"box {name} contains NaN or infinity")
        if np.any(s <= 0):
            raise ValueError("box sizes must be positive")
        for arr in (c, s, y):
            arr.setflags(write=False)
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "size", s)
        object.__setattr__(self, "yaw", y)

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def empty(cls) -> Boxes:
        return cls(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0))

    @classmethod
    def from_array(cls, a: ArrayLike) -> Boxes:
        """From an (N, 7) array ``[x, y, z, l, w, h, yaw]``."""
        arr = np.asarray(a, dtype=np.float64).reshape(-1, 7)
        return cls(arr[:, 0:3], arr[:, 3:6], arr[:, 6])

    @classmethod
    def from_quaternions(cls, center: ArrayLike, size: ArrayLike, q_wxyz: ArrayLike) -> Boxes:
        """From full 3D orientations (N, 4) ``(w, x, y, z)``; keeps the yaw of each rotation.

        The yaw is the heading of the rotated box x axis projected on the xy-plane, which is
        exact for the roll = pitch = 0 boxes of driving data.
        """
        qs = np.asarray(q_wxyz, dtype=np.float64).reshape(-1, 4)
        yaws = np.empty(len(qs))
        for i, q in enumerate(qs):
            R = Quaternion(*q).normalised.rotation_matrix
            yaws[i] = np.arctan2(R[1, 0], R[0, 0])
        return cls(np.asarray(center, dtype=np.float64), np.asarray(size, dtype=np.float64), yaws)

    # -- views --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.yaw)

    def __getitem__(self, idx: int | slice | NDArray[np.bool_] | NDArray[np.int64]) -> Boxes:
        if isinstance(idx, (int, np.integer)):
            idx = slice(int(idx), int(idx) + 1 if int(idx) != -1 else None)
        return Boxes(self.center[idx], self.size[idx], self.yaw[idx])

    def __iter__(self) -> Iterator[Boxes]:
        for i in range(len(self)):
            yield self[i]

    def to_array(self) -> NDArray[np.float64]:
        """(N, 7) ``[x, y, z, l, w, h, yaw]``."""
        return np.hstack([self.center, self.size, self.yaw[:, None]])

    def quaternions(self) -> NDArray[np.float64]:
        """(N, 4) ``(w, x, y, z)`` of the yaw rotations."""
        h = self.yaw / 2.0
        return np.stack([np.cos(h), np.zeros_like(h), np.zeros_like(h), np.sin(h)], axis=1)

    @property
    def volume(self) -> NDArray[np.float64]:
        return np.prod(self.size, axis=1)

    @property
    def bottom_z(self) -> NDArray[np.float64]:
        return self.center[:, 2] - self.size[:, 2] / 2.0

    @property
    def top_z(self) -> NDArray[np.float64]:
        return self.center[:, 2] + self.size[:, 2] / 2.0

    def concat(self, other: Boxes) -> Boxes:
        return Boxes(
            np.vstack([self.center, other.center]),
            np.vstack([self.size, other.size]),
            np.concatenate([self.yaw, other.yaw]),
        )

    def transformed(self, T_dst_src: Transform) -> Boxes:
        """The same physical boxes expressed in another frame.

        Only the yaw of ``T_dst_src`` is added to the box yaw: boxes stay upright, which is
        exact when the frames differ by a rotation about z (ego <-> LiDAR <-> global for level
        rigs) and the usual approximation otherwise.
        """
        c = T_dst_src.apply(self.center)
        return Boxes(c, self.size, self.yaw + T_dst_src.yaw)

    # -- geometry -----------------------------------------------------------------------------
    def corners(self) -> NDArray[np.float64]:
        """(N, 8, 3) corners in the box frame's coordinates, order in the module docstring."""
        local = _UNIT_CORNERS[None, :, :] * self.size[:, None, :]  # (N, 8, 3)
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        x = local[..., 0] * c[:, None] - local[..., 1] * s[:, None]
        y = local[..., 0] * s[:, None] + local[..., 1] * c[:, None]
        out = np.stack([x, y, local[..., 2]], axis=-1)
        return out + self.center[:, None, :]

    def bev_corners(self) -> NDArray[np.float64]:
        """(N, 4, 2) footprint corners (counter-clockwise: 0, 3, 2, 1 of ``corners``)."""
        return self.corners()[:, [0, 3, 2, 1], :2]


def points_in_boxes(points: ArrayLike, boxes: Boxes, margin: float = 0.0) -> NDArray[np.bool_]:
    """Which points lie inside which boxes.

    Parameters
    ----------
    points : (M, 3) array, same frame as the boxes
    boxes : N boxes
    margin : grow each box by this many metres on every side

    Returns
    -------
    (M, N) bool. Points are rotated into each box frame: ``p_box = R(-yaw) (p - c)`` and
    compared with ``|p_box| <= size / 2 + margin``.
    """
    p = np.asarray(points, dtype=np.float64)[:, :3]
    out = np.zeros((len(p), len(boxes)), dtype=bool)
    for j in range(len(boxes)):
        half = boxes.size[j] / 2.0 + margin
        # cheap axis-aligned prefilter on the bounding circle
        r = float(np.hypot(half[0], half[1]))
        d = p - boxes.center[j]
        cand = np.flatnonzero((np.abs(d[:, 0]) <= r) & (np.abs(d[:, 1]) <= r) & (np.abs(d[:, 2]) <= half[2]))
        if len(cand) == 0:
            continue
        c, s = np.cos(boxes.yaw[j]), np.sin(boxes.yaw[j])
        dx, dy = d[cand, 0], d[cand, 1]
        lx = c * dx + s * dy
        ly = -s * dx + c * dy
        inside = (np.abs(lx) <= half[0]) & (np.abs(ly) <= half[1])
        out[cand[inside], j] = True
    return out


def _polygons(boxes: Boxes) -> NDArray[np.object_]:
    return shapely.polygons(boxes.bev_corners())


def bev_intersection(a: Boxes, b: Boxes) -> NDArray[np.float64]:
    """(N, M) area of the footprint intersection, m^2 (rotated rectangles, exact)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    pa, pb = _polygons(a), _polygons(b)
    # skip pairs whose bounding circles cannot touch
    ra = np.hypot(a.size[:, 0], a.size[:, 1]) / 2
    rb = np.hypot(b.size[:, 0], b.size[:, 1]) / 2
    d = np.linalg.norm(a.center[:, None, :2] - b.center[None, :, :2], axis=2)
    near = d < ra[:, None] + rb[None, :]
    out = np.zeros((len(a), len(b)))
    ii, jj = np.nonzero(near)
    if len(ii):
        out[ii, jj] = shapely.area(shapely.intersection(pa[ii], pb[jj]))
    return out


def bev_iou(a: Boxes, b: Boxes) -> NDArray[np.float64]:
    """(N, M) bird's-eye-view IoU of the footprints: ``I / (A_a + A_b - I)``."""
    inter = bev_intersection(a, b)
    area_a = a.size[:, 0] * a.size[:, 1]
    area_b = b.size[:, 0] * b.size[:, 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / np.maximum(union, 1e-12)


def greedy_pairs(overlap: ArrayLike, threshold: float) -> list[tuple[int, int]]:
    """One-to-one pairs ``(i, j)`` of an ``(N, M)`` overlap matrix, greedily from the largest
    overlap down to ``threshold`` (inclusive); each row and each column is used at most once.

    >>> greedy_pairs([[0.9, 0.5], [0.8, 0.1]], 0.3)
    [(0, 0)]
    >>> greedy_pairs([[0.9, 0.5], [0.8, 0.1]], 0.05)
    [(0, 0), (1, 1)]
    """
    m = np.asarray(overlap, dtype=np.float64)
    if m.ndim != 2 or m.size == 0:
        return []
    used_i: set[int] = set()
    used_j: set[int] = set()
    out = []
    for flat in np.argsort(-m, axis=None, kind="stable"):
        i, j = divmod(int(flat), m.shape[1])
        if m[i, j] < threshold:
            break
        if i in used_i or j in used_j:
            continue
        used_i.add(i)
        used_j.add(j)
        out.append((i, j))
    return out


def nms_bev(boxes: Boxes, scores: ArrayLike, iou: float) -> NDArray[np.bool_]:
    """Greedy non-maximum suppression over bird's-eye-view footprints, whatever the classes:
    best score first, a box is dropped when its BEV IoU with a kept box exceeds ``iou``.
    Returns the keep mask (ties keep the earlier box).

    >>> b = Boxes.from_array([[0, 0, 0, 4, 2, 1.5, 0], [0.3, 0, 0, 4, 2, 1.5, 0], [9, 0, 0, 4, 2, 1.5, 0]])
    >>> nms_bev(b, [0.5, 0.9, 0.4], 0.3).tolist()
    [False, True, True]
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    keep = np.ones(len(boxes), dtype=bool)
    if len(boxes) < 2:
        return keep
    m = bev_iou(boxes, boxes)
    for i in np.argsort(-s, kind="stable"):
        if keep[i]:
            worse = m[i] > iou
            worse[i] = False
            # only boxes not yet visited (lower score, or equal and later) are suppressed
            keep &= ~(worse & ((s < s[i]) | ((s == s[i]) & (np.arange(len(s)) > i))))
    return keep


def _z_overlap(a: Boxes, b: Boxes) -> NDArray[np.float64]:
    lo = np.maximum(a.bottom_z[:, None], b.bottom_z[None, :])
    hi = np.minimum(a.top_z[:, None], b.top_z[None, :])
    return np.clip(hi - lo, 0.0, None)


def iou_3d(a: Boxes, b: Boxes) -> NDArray[np.float64]:
    """(N, M) 3D IoU of upright boxes: ``I = I_bev * overlap_z``, ``IoU = I / (V_a + V_b - I)``."""
    inter = bev_intersection(a, b) * _z_overlap(a, b)
    union = a.volume[:, None] + b.volume[None, :] - inter
    return inter / np.maximum(union, 1e-12)


def giou_3d(a: Boxes, b: Boxes) -> NDArray[np.float64]:
    """(N, M) generalised 3D IoU in [-1, 1].

    ``GIoU = IoU - (V_C - U) / V_C`` where ``C`` is the smallest enclosing upright prism:
    the convex hull of both footprints times the joint z extent (the rotated-box GIoU used by
    AB3DMOT). Unlike IoU it is informative for boxes that do not overlap.
    """
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    inter = bev_intersection(a, b) * _z_overlap(a, b)
    union = a.volume[:, None] + b.volume[None, :] - inter
    ca, cb = a.bev_corners(), b.bev_corners()
    pts = np.concatenate(
        [np.broadcast_to(ca[:, None], (len(a), len(b), 4, 2)), np.broadcast_to(cb[None], (len(a), len(b), 4, 2))],
        axis=2,
    ).reshape(-1, 8, 2)
    hull_area = shapely.area(shapely.convex_hull(shapely.multipoints(pts))).reshape(len(a), len(b))
    z_lo = np.minimum(a.bottom_z[:, None], b.bottom_z[None, :])
    z_hi = np.maximum(a.top_z[:, None], b.top_z[None, :])
    enclose = hull_area * (z_hi - z_lo)
    iou = inter / np.maximum(union, 1e-12)
    return iou - (enclose - union) / np.maximum(enclose, 1e-12)
