"""Exact batched GIoU, gating and the Hungarian step on hand-made cases."""

from __future__ import annotations

import numpy as np

from fusionlabel.core.boxes import Boxes, giou_3d, iou_3d
from fusionlabel.track.association import affinity_matrix, associate, giou_3d_pairs


def _boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack(
        [
            rng.uniform(-3, 3, (n, 2)),
            rng.uniform(-0.5, 0.5, n),
            rng.uniform(0.5, 5, (n, 3)),
            rng.uniform(-np.pi, np.pi, n),
        ]
    )


def test_giou_equals_core_shapely_version() -> None:
    rng = np.random.default_rng(0)
    a, b = _boxes(rng, 300), _boxes(rng, 300)
    b[:10] = a[:10]  # identical
    b[10:20] = a[10:20]
    b[10:20, 6] += np.pi / 2  # same centre, turned
    b[20:30] = a[20:30]
    b[20:30, 0] += a[20:30, 3] + 0.5
    a[20:30, 6] = b[20:30, 6] = 0.0  # axis-aligned, apart along x: collinear hull edges
    A, B = Boxes.from_array(a), Boxes.from_array(b)
    ref_g = np.array([giou_3d(A[i], B[i])[0, 0] for i in range(len(a))])
    ref_i = np.array([iou_3d(A[i], B[i])[0, 0] for i in range(len(a))])
    np.testing.assert_allclose(giou_3d_pairs(a, b), ref_g, atol=1e-9)
    np.testing.assert_allclose(giou_3d_pairs(a, b, iou_only=True), ref_i, atol=1e-9)
    full = affinity_matrix(a[:40], b[:40], "giou", 1e9)
    np.testing.assert_allclose(full, giou_3d(A[:40], B[:40]), atol=1e-9)
    np.testing.assert_allclose(affinity_matrix(a[:40], b[:40], "iou", 1e9), iou_3d(A[:40], B[:40]), atol=1e-9)


def test_gating_and_distance_metric() -> None:
    t = np.array([[0.0, 0, 0, 4, 2, 1.5, 0], [20.0, 0, 0, 4, 2, 1.5, 0]])
    d = np.array([[1.0, 0, 0, 4, 2, 1.5, 0], [26.0, 0, 0, 4, 2, 1.5, 0]])
    aff = affinity_matrix(t, d, "dist", gate_distance=5.0)
    assert aff[0, 0] == -1.0
    assert np.isneginf(aff[0, 1]) and np.isneginf(aff[1, 0]) and np.isneginf(aff[1, 1])
    r = associate(aff, threshold=-2.0)
    assert r.matches.tolist() == [[0, 0]]
    assert r.unmatched_tracks.tolist() == [1] and r.unmatched_dets.tolist() == [1]


def test_hungarian_prefers_global_optimum_and_reports_margins() -> None:
    # greedy would take (0, 0) = 0.9 and leave (1, 1) = 0.1; the optimum is the swap 0.8 + 0.85
    aff = np.array([[0.9, 0.8], [0.85, 0.1]])
    r = associate(aff, threshold=0.0)
    assert sorted(r.matches.tolist()) == [[0, 1], [1, 0]]
    # match (0,1)=0.8: best alternative in row 0 or column 1 is 0.9 -> margin -0.1
    m = dict(zip(map(tuple, r.matches.tolist()), r.margin))
    np.testing.assert_allclose(m[(0, 1)], 0.8 - 0.9)
    np.testing.assert_allclose(m[(1, 0)], 0.85 - 0.9)
    # a clear case has a large margin; a pair under the threshold is refused
    r2 = associate(np.array([[0.9, -0.5], [-0.75, -0.9]]), threshold=-0.7)
    assert r2.matches.tolist() == [[0, 0]]
    np.testing.assert_allclose(r2.margin, [0.9 - (-0.5)])
    assert r2.unmatched_tracks.tolist() == [1] and r2.unmatched_dets.tolist() == [1]
