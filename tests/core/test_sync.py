"""Tests for :mod:`fusionlabel.core.sync`: nearest-timestamp matching and ego-pose interpolation."""

from __future__ import annotations

import numpy as np
import pytest

from fusionlabel.core.sync import PoseTrack, match_nearest
from fusionlabel.core.transforms import Transform

MS = 1_000_000  # nanoseconds per millisecond


def _brute_force_nearest(ref: np.ndarray, ts: np.ndarray, tol: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference: each frame's nearest sample within tol; a sample claimed by several frames goes
    to the closest one (ties: the earlier frame; equidistant samples: the earlier time)."""
    pick = np.full(len(ref), -1)
    for f, t in enumerate(ref):
        d = np.abs(ts - t)
        cands = np.flatnonzero(d == d.min())
        best = cands[np.argmin(ts[cands])]
        if d[best] <= tol:
            pick[f] = best
    index = np.full(len(ref), -1)
    for s in set(pick[pick >= 0].tolist()):
        claimants = np.flatnonzero(pick == s)
        winner = claimants[np.argmin(np.abs(ts[s] - ref[claimants]))]
        index[winner] = s
    used = np.zeros(len(ts), bool)
    used[index[index >= 0]] = True
    return index, np.flatnonzero(~used)


def test_docstring_example() -> None:
    s = match_nearest(np.array([0, 100, 200]), np.array([5, 190, 400]), tolerance_ns=20)
    assert s.index.tolist() == [0, -1, 1]
    assert s.offset_ns.tolist() == [5, 0, -10]
    assert s.unused.tolist() == [2]
    assert s.matched == 2
    assert s.unmatched_frames.tolist() == [1]
    assert s.max_abs_offset_ns == 10
    assert s.mean_abs_offset_ns == pytest.approx(7.5)


def test_camera_at_12hz_against_lidar_at_10hz() -> None:
    ref = np.arange(10) * 100 * MS  # LiDAR 10 Hz
    cam = 3 * MS + np.arange(12) * 83_333_333  # camera ~12 Hz, 3 ms offset
    s = match_nearest(ref, cam, tolerance_ns=50 * MS)
    idx, unused = _brute_force_nearest(ref, cam, 50 * MS)
    assert s.index.tolist() == idx.tolist()
    assert s.unused.tolist() == unused.tolist()
    assert s.matched == 10
    m = s.index >= 0
    np.testing.assert_array_equal(s.offset_ns[m], cam[s.index[m]] - ref[m])
    assert np.all(np.abs(s.offset_ns) <= 50 * MS)
    # 12 samples for 10 frames: exactly two left over
    assert len(s.unused) == 2


def test_tolerance_is_inclusive_and_enforced() -> None:
    ref = np.array([1000, 2000])
    s = match_nearest(ref, np.array([1050, 2051]), tolerance_ns=50)
    assert s.index.tolist() == [0, -1]
    assert s.unused.tolist() == [1]
    assert s.offset_ns.tolist() == [50, 0]


def test_one_sample_never_serves_two_frames() -> None:
    # a 5 Hz stream against 10 Hz frames: every sample is nearest to two frames
    ref = np.arange(6) * 100 * MS
    slow = np.array([10, 210, 410]) * MS
    s = match_nearest(ref, slow, tolerance_ns=150 * MS)
    used = s.index[s.index >= 0]
    assert len(used) == len(set(used.tolist())) == 3
    # each sample goes to its closest frame (10 ms away), the other frame stays unmatched
    assert s.index.tolist() == [0, -1, 1, -1, 2, -1]
    assert s.unmatched_frames.tolist() == [1, 3, 5]
    assert s.unused.tolist() == []


def test_unsorted_stream_indices_refer_to_the_input_order() -> None:
    ref = np.array([0, 100, 200, 300]) * MS
    ts = np.array([305, 2, 198, 99]) * MS
    s = match_nearest(ref, ts, tolerance_ns=10 * MS)
    assert s.index.tolist() == [1, 3, 2, 0]
    np.testing.assert_array_equal(ts[s.index], ref + s.offset_ns)


def test_matches_brute_force_on_random_jittered_streams() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        ref = np.sort(rng.integers(0, 10**10, 60))
        ts = rng.integers(0, 10**10, 80)
        rng.shuffle(ts)
        tol = int(rng.integers(10**7, 10**9))
        s = match_nearest(ref, ts, tol)
        idx, unused = _brute_force_nearest(ref, ts, tol)
        assert s.index.tolist() == idx.tolist()
        assert sorted(s.unused.tolist()) == unused.tolist()
        assert set(s.unused.tolist()).isdisjoint(s.index.tolist())
        assert len(s.unused) + s.matched == len(ts)


def test_empty_inputs() -> None:
    s = match_nearest(np.array([1, 2, 3]), np.array([], dtype=np.int64), 10)
    assert s.index.tolist() == [-1, -1, -1] and s.unused.tolist() == [] and s.matched == 0
    assert s.max_abs_offset_ns == 0 and s.mean_abs_offset_ns == 0.0
    s = match_nearest(np.array([], dtype=np.int64), np.array([5, 6]), 10)
    assert s.index.tolist() == [] and s.unused.tolist() == [0, 1]


def test_nanosecond_precision_of_epoch_timestamps() -> None:
    # epoch nanoseconds exceed float64's 2^53: offsets of 1 ns must survive
    t0 = 1_700_000_000_123_456_789
    s = match_nearest(np.array([t0, t0 + 100 * MS]), np.array([t0 + 1, t0 + 100 * MS - 1]), tolerance_ns=1)
    assert s.index.tolist() == [0, 1]
    assert s.offset_ns.tolist() == [1, -1]
    assert s.index.dtype == np.int64 and s.offset_ns.dtype == np.int64


# -- PoseTrack -----------------------------------------------------------------------------------


def _track() -> PoseTrack:
    return PoseTrack(
        np.array([1000, 2000, 4000]) * MS,
        (
            Transform.from_yaw(0.0, [0.0, 0.0, 0.0]),
            Transform.from_yaw(0.4, [10.0, 2.0, 0.0]),
            Transform.from_yaw(1.0, [30.0, 10.0, 1.0]),
        ),
    )


def test_pose_at_samples_is_exact() -> None:
    tr = _track()
    for t, T in zip(tr.timestamps_ns, tr.poses):
        assert tr.at(int(t)).allclose(T, atol=1e-12)


def test_pose_interpolated_midway() -> None:
    tr = _track()
    mid = tr.at(1500 * MS)
    assert mid.yaw == pytest.approx(0.2, abs=1e-12)
    np.testing.assert_allclose(mid.translation, [5.0, 1.0, 0.0], atol=1e-12)
    q = tr.at(2500 * MS)  # a quarter of the way from 2 s to 4 s
    assert q.yaw == pytest.approx(0.55, abs=1e-12)
    np.testing.assert_allclose(q.translation, [15.0, 4.0, 0.25], atol=1e-12)


def test_pose_extrapolation_within_allowance_holds_the_end_pose() -> None:
    tr = _track()
    assert tr.at(1000 * MS - 20 * MS, max_extrapolation_ns=50 * MS).allclose(tr.poses[0])
    assert tr.at(4000 * MS + 50 * MS, max_extrapolation_ns=50 * MS).allclose(tr.poses[-1])


@pytest.mark.parametrize("t_ms", [1000 - 51, 4000 + 51, 0, 10_000])
def test_pose_extrapolation_refused_beyond_allowance(t_ms: int) -> None:
    with pytest.raises(ValueError, match="outside the ego-pose span"):
        _track().at(t_ms * MS, max_extrapolation_ns=50 * MS)


def test_pose_outside_span_refused_by_default() -> None:
    with pytest.raises(ValueError):
        _track().at(4000 * MS + 1)


def test_pose_track_sorts_and_validates() -> None:
    A, B = Transform.from_yaw(0.0), Transform.from_yaw(1.0, [1.0, 0.0, 0.0])
    tr = PoseTrack(np.array([20, 10]), (B, A))
    assert tr.timestamps_ns.tolist() == [10, 20]
    assert tr.poses[0] is A and len(tr) == 2
    with pytest.raises(ValueError, match="distinct"):
        PoseTrack(np.array([10, 10]), (A, B))
    with pytest.raises(ValueError, match="as many poses"):
        PoseTrack(np.array([10, 20, 30]), (A, B))
    with pytest.raises(ValueError):
        PoseTrack(np.array([], dtype=np.int64), ())


def test_single_pose_track() -> None:
    tr = PoseTrack(np.array([100]), (Transform.from_yaw(0.3),))
    assert tr.at(100).yaw == pytest.approx(0.3)
    assert tr.at(90, max_extrapolation_ns=10).yaw == pytest.approx(0.3)
    with pytest.raises(ValueError):
        tr.at(111, max_extrapolation_ns=10)
