"""Tests for :mod:`fusionlabel.core.boxes`: convention, IoU against exact areas and Monte-Carlo."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyquaternion import Quaternion

from fusionlabel.core.boxes import (
    BOX_EDGES,
    Boxes,
    bev_intersection,
    bev_iou,
    giou_3d,
    iou_3d,
    points_in_boxes,
    wrap_angle,
)
from fusionlabel.core.transforms import Transform


def _box(x: float, y: float, z: float, l: float, w: float, h: float, yaw: float = 0.0) -> Boxes:
    return Boxes.from_array([[x, y, z, l, w, h, yaw]])


def _inside_brute_force(points: np.ndarray, boxes: Boxes, margin: float = 0.0) -> np.ndarray:
    """Independent reference: move the points into each box frame with a Transform."""
    out = np.zeros((len(points), len(boxes)), dtype=bool)
    for j in range(len(boxes)):
        T_box_frame = Transform.from_yaw(float(boxes.yaw[j]), boxes.center[j]).inverse()
        local = T_box_frame.apply(points)
        out[:, j] = np.all(np.abs(local) <= boxes.size[j] / 2.0 + margin, axis=1)
    return out


def _random_boxes(rng: np.random.Generator, n: int, spread: float = 2.0) -> Boxes:
    return Boxes(
        rng.uniform(-spread, spread, (n, 3)),
        rng.uniform(0.5, 4.0, (n, 3)),
        rng.uniform(-np.pi, np.pi, n),
    )


# -- convention --------------------------------------------------------------------------------


def test_corner_order_matches_the_documented_table() -> None:
    l, w, h = 4.0, 2.0, 1.5
    c = _box(10.0, -3.0, 1.0, l, w, h).corners()[0]
    expected_local = np.array(
        [
            [+l / 2, +w / 2, -h / 2],  # 0
            [+l / 2, -w / 2, -h / 2],  # 1
            [-l / 2, -w / 2, -h / 2],  # 2
            [-l / 2, +w / 2, -h / 2],  # 3
            [+l / 2, +w / 2, +h / 2],  # 4
            [+l / 2, -w / 2, +h / 2],  # 5
            [-l / 2, -w / 2, +h / 2],  # 6
            [-l / 2, +w / 2, +h / 2],  # 7
        ]
    )
    np.testing.assert_allclose(c, expected_local + [10.0, -3.0, 1.0])
    # the front (box +x) face is 0 1 5 4, the top face 4 5 6 7
    assert np.all(c[[0, 1, 5, 4], 0] == 10.0 + l / 2)
    assert np.all(c[[4, 5, 6, 7], 2] == 1.0 + h / 2)
    assert np.all(c[[0, 1, 2, 3], 2] == 1.0 - h / 2)


def test_corners_of_a_rotated_box() -> None:
    yaw = 0.7
    b = _box(1.0, 2.0, 3.0, 4.0, 2.0, 1.0, yaw)
    c = b.corners()[0]
    local = np.array([[2.0, 1.0, -0.5], [2.0, -1.0, -0.5], [-2.0, -1.0, -0.5], [-2.0, 1.0, -0.5]])
    np.testing.assert_allclose(c[:4], Transform.from_yaw(yaw, [1.0, 2.0, 3.0]).apply(local), atol=1e-12)
    # centre is the gravity centre: mean of the corners
    np.testing.assert_allclose(c.mean(axis=0), [1.0, 2.0, 3.0], atol=1e-12)


def test_box_edges_have_the_box_dimensions() -> None:
    b = _box(0, 0, 0, 4.0, 2.0, 1.5, 0.3)
    c = b.corners()[0]
    lengths = np.linalg.norm(c[BOX_EDGES[:, 0]] - c[BOX_EDGES[:, 1]], axis=1)
    assert sorted(np.round(lengths, 9).tolist()) == [1.5] * 4 + [2.0] * 4 + [4.0] * 4


def test_bev_corners_are_counter_clockwise() -> None:
    b = _random_boxes(np.random.default_rng(0), 10)
    for poly in shapely.polygons(b.bev_corners()):
        assert shapely.is_ccw(poly.exterior)
        assert poly.area > 0


def test_transformed_moves_corners_with_the_frame() -> None:
    b = _random_boxes(np.random.default_rng(1), 5)
    T = Transform.from_yaw(1.1, [5.0, -2.0, 0.3])
    moved = b.transformed(T)
    np.testing.assert_allclose(
        np.sort(moved.corners().reshape(-1, 3), axis=0),
        np.sort(T.apply(b.corners().reshape(-1, 3)), axis=0),
        atol=1e-9,
    )
    # per box the corner sets are the same (order is the same too: yaw is added)
    np.testing.assert_allclose(moved.corners(), T.apply(b.corners().reshape(-1, 3)).reshape(-1, 8, 3), atol=1e-9)


def test_array_round_trip_and_quaternions() -> None:
    rng = np.random.default_rng(2)
    b = _random_boxes(rng, 7)
    np.testing.assert_array_equal(Boxes.from_array(b.to_array()).to_array(), b.to_array())
    for q, yaw in zip(b.quaternions(), b.yaw):
        assert Quaternion(*q).yaw_pitch_roll[0] == pytest.approx(yaw, abs=1e-12)


# -- wrap_angle and validation -----------------------------------------------------------------


def test_wrap_angle() -> None:
    a = np.array([0.0, np.pi, -np.pi, 3 * np.pi / 2, -3 * np.pi / 2, 7.0, -7.0, 5 * np.pi])
    out = wrap_angle(a)
    np.testing.assert_allclose(
        out, [0.0, np.pi, np.pi, -np.pi / 2, np.pi / 2, 7.0 - 2 * np.pi, -7.0 + 2 * np.pi, np.pi], atol=1e-12
    )
    assert np.all((out > -np.pi) & (out <= np.pi))
    # same direction as the input
    np.testing.assert_allclose(np.cos(out), np.cos(a), atol=1e-12)
    np.testing.assert_allclose(np.sin(out), np.sin(a), atol=1e-12)


def test_boxes_wrap_their_yaw() -> None:
    assert _box(0, 0, 0, 1, 1, 1, -np.pi).yaw[0] == pytest.approx(np.pi)
    assert _box(0, 0, 0, 1, 1, 1, 2 * np.pi + 0.1).yaw[0] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ([np.nan, 0, 0, 1, 1, 1, 0], "center"),
        ([0, 0, 0, 1, np.inf, 1, 0], "size"),
        ([0, 0, 0, 1, 1, 1, np.nan], "yaw"),
        ([0, 0, 0, -1, 1, 1, 0], "positive"),
        ([0, 0, 0, 1, 0, 1, 0], "positive"),
    ],
)
def test_validation_errors(row: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Boxes.from_array([row])


def test_length_mismatch_refused() -> None:
    with pytest.raises(ValueError, match="lengths differ"):
        Boxes(np.zeros((2, 3)), np.ones((2, 3)), np.zeros(3))


def test_boxes_are_immutable() -> None:
    b = _box(0, 0, 0, 1, 1, 1)
    with pytest.raises(ValueError):
        b.center[0, 0] = 1.0


def test_indexing() -> None:
    b = Boxes.from_array([[i, 0, 0, 1, 1, 1, 0] for i in range(4)])
    assert b[-1].center[0, 0] == 3.0
    assert b[-2].center[0, 0] == 2.0
    assert len(b[np.array([True, False, True, False])]) == 2
    assert [float(x.center[0, 0]) for x in b] == [0.0, 1.0, 2.0, 3.0]


# -- from_quaternions ------------------------------------------------------------------------


def test_from_quaternions_recovers_yaw() -> None:
    yaws = np.array([-3.0, -1.2, 0.0, 0.4, 2.9])
    q = [Quaternion(axis=[0, 0, 1], angle=y).elements for y in yaws]
    b = Boxes.from_quaternions(np.zeros((5, 3)), np.ones((5, 3)), q)
    np.testing.assert_allclose(b.yaw, yaws, atol=1e-12)


def test_from_quaternions_keeps_heading_of_a_pitched_box() -> None:
    # R = Rz(yaw) Ry(pitch): the box x axis points along yaw in the xy-plane, tilted up/down
    yaw, pitch = 0.8, 0.15
    q = Quaternion(axis=[0, 0, 1], angle=yaw) * Quaternion(axis=[0, 1, 0], angle=pitch)
    b = Boxes.from_quaternions([[0, 0, 0]], [[4, 2, 1.5]], [q.elements])
    assert b.yaw[0] == pytest.approx(yaw, abs=1e-12)


def test_from_quaternions_accepts_unnormalised() -> None:
    q = 3.0 * Quaternion(axis=[0, 0, 1], angle=1.0).elements
    assert Boxes.from_quaternions([[0, 0, 0]], [[1, 1, 1]], [q]).yaw[0] == pytest.approx(1.0)


# -- IoU: exact values -------------------------------------------------------------------------


def test_identical_boxes_iou_one() -> None:
    b = _box(3, -1, 0.5, 4.2, 1.9, 1.6, 0.9)
    assert bev_iou(b, b)[0, 0] == pytest.approx(1.0)
    assert iou_3d(b, b)[0, 0] == pytest.approx(1.0)
    assert giou_3d(b, b)[0, 0] == pytest.approx(1.0)


def test_half_overlapping_axis_aligned_boxes() -> None:
    # footprints [-2, 2] x [-1, 1] and [0, 4] x [-1, 1]: I = 4, U = 8 + 8 - 4 = 12
    a, b = _box(0, 0, 0, 4, 2, 1.5), _box(2, 0, 0, 4, 2, 1.5)
    assert bev_intersection(a, b)[0, 0] == pytest.approx(4.0)
    assert bev_iou(a, b)[0, 0] == pytest.approx(1 / 3)
    assert iou_3d(a, b)[0, 0] == pytest.approx(1 / 3)


def test_rotated_square_inside_bigger_box() -> None:
    # a unit square rotated 45 deg (diagonal sqrt 2 = 1.41 < 2) lies inside a 4 x 2 box: I = 1
    small, big = _box(0.5, 0, 0, 1, 1, 1, np.pi / 4), _box(0, 0, 0, 4, 2, 1)
    assert bev_intersection(small, big)[0, 0] == pytest.approx(1.0)
    assert bev_iou(small, big)[0, 0] == pytest.approx(1 / 8)
    assert iou_3d(small, big)[0, 0] == pytest.approx(1 / 8)


def test_rotated_square_cut_in_half() -> None:
    # a 2 x 2 square rotated 45 deg centred at the origin (a diamond of area 4) against the box
    # [0, 10] x [-5, 5]: exactly half the diamond is inside, I = 2, U = 4 + 100 - 2
    diamond, half_plane = _box(0, 0, 0, 2, 2, 1, np.pi / 4), _box(5, 0, 0, 10, 10, 1, 0)
    assert bev_intersection(diamond, half_plane)[0, 0] == pytest.approx(2.0)
    assert bev_iou(diamond, half_plane)[0, 0] == pytest.approx(2 / 102)


def test_cross_shaped_overlap() -> None:
    # 4 x 2 box and the same box rotated 90 deg: intersection is the central 2 x 2 square
    a, b = _box(0, 0, 0, 4, 2, 1), _box(0, 0, 0, 4, 2, 1, np.pi / 2)
    assert bev_iou(a, b)[0, 0] == pytest.approx(4 / 12)


def test_disjoint_boxes_iou_zero() -> None:
    a = _box(0, 0, 0, 4, 2, 1.5, 0.3)
    for other in (_box(10, 0, 0, 4, 2, 1.5), _box(0, 0, 5, 4, 2, 1.5, 0.3), _box(6.0, 0, 0, 4, 2, 1.5, 0.0)):
        assert iou_3d(a, other)[0, 0] == 0.0
    # touching edges: zero area, not a spurious overlap
    assert bev_iou(_box(0, 0, 0, 2, 2, 1), _box(2, 0, 0, 2, 2, 1))[0, 0] == pytest.approx(0.0, abs=1e-12)


def test_iou_3d_with_z_offsets() -> None:
    # same footprint, z ranges [0, 2] and [1, 3]: I = A * 1, U = 2 * 2A - A -> 1/3
    a, b = _box(0, 0, 1, 4, 2, 2), _box(0, 0, 2, 4, 2, 2)
    assert iou_3d(a, b)[0, 0] == pytest.approx(1 / 3)
    assert bev_iou(a, b)[0, 0] == pytest.approx(1.0)
    # half overlap in x as well: I = 4 * 1 = 4, V = 16 each, U = 28
    c = _box(2, 0, 2, 4, 2, 2)
    assert iou_3d(a, c)[0, 0] == pytest.approx(4 / 28)
    # different heights, one inside the other in z: [0, 2] vs [0.5, 1.0]
    d = _box(0, 0, 0.75, 4, 2, 0.5)
    assert iou_3d(a, d)[0, 0] == pytest.approx(0.5 / 2.0)


def test_giou_disjoint_is_negative_and_hand_computed() -> None:
    # two 2x2x2 cubes 10 m apart: hull 12 x 2, z extent 2 -> V_C = 48, U = 16, GIoU = -(48-16)/48
    a, b = _box(0, 0, 0, 2, 2, 2), _box(10, 0, 0, 2, 2, 2)
    g = giou_3d(a, b)[0, 0]
    assert g == pytest.approx(-2 / 3)
    # farther apart -> more negative, bounded by -1
    g_far = giou_3d(a, _box(100, 0, 0, 2, 2, 2))[0, 0]
    assert -1.0 <= g_far < g < 0.0


def test_giou_vertically_disjoint() -> None:
    # same footprint 2 x 2, z ranges [0, 2] and [4, 6]: V_C = 4 * 6, U = 16
    g = giou_3d(_box(0, 0, 1, 2, 2, 2), _box(0, 0, 5, 2, 2, 2))[0, 0]
    assert g == pytest.approx(-(24 - 16) / 24)


def test_giou_equals_iou_for_nested_boxes() -> None:
    # the small box lies inside the big one (same yaw): the enclosing prism is the big box, so
    # V_C = U and GIoU = IoU = V_small / V_big
    big = _box(1, 2, 1, 6, 3, 2, 0.4)
    small = _box(1, 2, 1, 3, 1.5, 1, 0.4)
    iou = iou_3d(small, big)[0, 0]
    assert iou == pytest.approx(4.5 / 36)
    assert giou_3d(small, big)[0, 0] == pytest.approx(iou)


def test_giou_partial_overlap_hand_computed() -> None:
    # half-overlapping 4x2x1.5 boxes: hull 6 x 2 x 1.5 = 18, U = 18 -> GIoU = IoU = 1/3
    a, b = _box(0, 0, 0, 4, 2, 1.5), _box(2, 0, 0, 4, 2, 1.5)
    assert giou_3d(a, b)[0, 0] == pytest.approx(1 / 3)
    # shifted sideways too: footprints [-2,2]x[-1,1] and [0,4]x[0,2]; I = 2*1*1.5 = 3,
    # U = 12 + 12 - 3 = 21, hull is the hexagon of area 6*3 - 2*(2*1/2)*... computed by shapely
    c = _box(2, 1, 0, 4, 2, 1.5)
    hull = shapely.convex_hull(shapely.multipoints(np.vstack([a.bev_corners()[0], c.bev_corners()[0]]))).area
    assert hull == pytest.approx(6 * 3 - 2 * (2 * 1 / 2))  # rectangle 6x3 minus two corner triangles
    assert giou_3d(a, c)[0, 0] == pytest.approx(3 / 21 - (hull * 1.5 - 21) / (hull * 1.5))


def test_iou_is_symmetric_and_in_range() -> None:
    rng = np.random.default_rng(3)
    a, b = _random_boxes(rng, 12), _random_boxes(rng, 9)
    for fn in (bev_iou, iou_3d, giou_3d):
        ab, ba = fn(a, b), fn(b, a)
        assert ab.shape == (12, 9)
        np.testing.assert_allclose(ab, ba.T, atol=1e-12)
    assert np.all((iou_3d(a, b) >= 0) & (iou_3d(a, b) <= 1))
    g = giou_3d(a, b)
    assert np.all((g >= -1) & (g <= iou_3d(a, b) + 1e-12))


def test_empty_sets() -> None:
    a = _random_boxes(np.random.default_rng(4), 3)
    assert bev_iou(a, Boxes.empty()).shape == (3, 0)
    assert iou_3d(Boxes.empty(), a).shape == (0, 3)
    assert giou_3d(Boxes.empty(), a).shape == (0, 3)


def test_iou_3d_against_monte_carlo() -> None:
    """Random rotated, overlapping pairs: IoU = n(in both) / n(in either), points uniform in the
    axis-aligned volume enclosing both boxes. 400k samples: standard error < 0.003."""
    rng = np.random.default_rng(5)
    n_samples = 400_000
    checked = 0
    while checked < 6:
        a = _random_boxes(rng, 1, spread=0.5)
        b = _random_boxes(rng, 1, spread=0.5)
        expected = iou_3d(a, b)[0, 0]
        if expected < 0.05:
            continue
        corners = np.vstack([a.corners()[0], b.corners()[0]])
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        pts = rng.uniform(lo, hi, (n_samples, 3))
        ina = _inside_brute_force(pts, a)[:, 0]
        inb = _inside_brute_force(pts, b)[:, 0]
        estimate = np.count_nonzero(ina & inb) / np.count_nonzero(ina | inb)
        se = np.sqrt(estimate * (1 - estimate) / np.count_nonzero(ina | inb))
        assert abs(estimate - expected) < max(5 * se, 2e-3), (a.to_array(), b.to_array(), estimate, expected)
        checked += 1


def test_bev_iou_against_monte_carlo() -> None:
    rng = np.random.default_rng(6)
    n_samples = 200_000
    for _ in range(4):
        a = _random_boxes(rng, 1, spread=0.7)
        b = _random_boxes(rng, 1, spread=0.7)
        expected = bev_iou(a, b)[0, 0]
        flat_a = Boxes(a.center * [1, 1, 0], a.size * [1, 1, 0] + [0, 0, 1], a.yaw)
        flat_b = Boxes(b.center * [1, 1, 0], b.size * [1, 1, 0] + [0, 0, 1], b.yaw)
        corners = np.vstack([flat_a.corners()[0], flat_b.corners()[0]])
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        pts = rng.uniform(lo, hi, (n_samples, 3)) * [1, 1, 0]
        ina = _inside_brute_force(pts, flat_a)[:, 0]
        inb = _inside_brute_force(pts, flat_b)[:, 0]
        union = np.count_nonzero(ina | inb)
        estimate = np.count_nonzero(ina & inb) / union
        se = np.sqrt(max(estimate * (1 - estimate), 1e-4) / union)
        assert abs(estimate - expected) < max(5 * se, 2e-3)


# -- points_in_boxes --------------------------------------------------------------------------


def test_points_in_boxes_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    boxes = _random_boxes(rng, 15, spread=5.0)
    pts = rng.uniform(-8, 8, (20_000, 3))
    got = points_in_boxes(pts, boxes)
    ref = _inside_brute_force(pts, boxes)
    assert got.shape == (20_000, 15) and got.dtype == bool
    assert ref.sum() > 500  # the test exercises the inside branch
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("margin", [0.25, 1.0])
def test_points_in_boxes_margin_matches_brute_force(margin: float) -> None:
    rng = np.random.default_rng(8)
    boxes = _random_boxes(rng, 10, spread=5.0)
    pts = rng.uniform(-8, 8, (20_000, 3))
    got = points_in_boxes(pts, boxes, margin=margin)
    np.testing.assert_array_equal(got, _inside_brute_force(pts, boxes, margin))
    # a margin only ever adds points
    assert np.all(got >= points_in_boxes(pts, boxes))
    assert got.sum() > points_in_boxes(pts, boxes).sum()


def test_points_in_boxes_hand_placed() -> None:
    # box 4 x 2 x 1.5 at (10, 5, 1) turned 90 deg: its length runs along y
    b = _box(10, 5, 1, 4, 2, 1.5, np.pi / 2)
    pts = np.array(
        [
            [10.0, 5.0, 1.0],  # centre
            [10.0, 6.9, 1.0],  # 1.9 m along the box length: inside
            [10.9, 5.0, 1.0],  # 0.9 m along the width: inside
            [11.1, 5.0, 1.0],  # 1.1 m along the width: outside
            [10.0, 7.1, 1.0],  # 2.1 m along the length: outside
            [10.0, 5.0, 1.8],  # above the top (1.75)
            [10.0, 5.0, 0.2],  # below the bottom (0.25)
        ]
    )
    assert points_in_boxes(pts, b)[:, 0].tolist() == [True, True, True, False, False, False, False]
    # 0.2 m of margin on every side brings in the points 0.1 m and 0.05 m outside
    assert points_in_boxes(pts, b, margin=0.2)[:, 0].tolist() == [True, True, True, True, True, True, True]
    # 0.08 m: the points 0.05 m above/below come in, those 0.1 m to the side stay out
    assert points_in_boxes(pts, b, margin=0.08)[:, 0].tolist() == [True, True, True, False, False, True, True]


def test_points_in_boxes_accepts_extra_columns_and_no_boxes() -> None:
    pts = np.array([[0.0, 0.0, 0.0, 0.7]])  # x y z intensity
    assert points_in_boxes(pts, _box(0, 0, 0, 1, 1, 1)).tolist() == [[True]]
    assert points_in_boxes(pts, Boxes.empty()).shape == (1, 0)
