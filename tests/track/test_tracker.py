"""Tracker behaviour on constructed sequences: birth/death, flips, ego motion, radar, ambiguity."""

from __future__ import annotations

import numpy as np

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.transforms import Transform
from fusionlabel.track.ambiguity import REASONS
from fusionlabel.track.tracker import FrameDetections, Tracker, TrackerConfig, radar_from_arrays, track_sequence


def _fd(rows: list[list[float]], **kw: object) -> FrameDetections:
    b = Boxes.from_array(np.array(rows, dtype=float).reshape(-1, 7)) if rows else Boxes.empty()
    return FrameDetections(b, np.full(len(b), 5.0), ("Car",) * len(b), **kw)  # type: ignore[arg-type]


def _car(x: float, y: float, yaw: float = 0.0) -> list[float]:
    return [x, y, 0.8, 4.0, 1.8, 1.5, yaw]


def test_birth_needs_min_hits_and_death_after_max_age() -> None:
    cfg = TrackerConfig(min_hits=3, max_age=2)
    frames = [_fd([_car(10 + k, 0)]) for k in range(5)]
    frames += [_fd([]) for _ in range(4)]  # the car vanishes: track dies after 2 misses
    frames += [_fd([_car(19 + k, 0)]) for k in range(3)]  # ... and comes back as a new track
    frames += [_fd([_car(-20, 5)]) for _ in range(2)]  # a 2-hit blip never becomes a track
    res = track_sequence(frames, cfg)
    ids = [res.labels.get(k).track_ids.tolist() for k in range(len(frames))]
    assert ids[:5] == [[1]] * 5
    assert ids[5:9] == [[]] * 4
    assert ids[9:12] == [[2]] * 3
    assert ids[12:] == [[], []]
    # the online view reports a track only once it has min_hits
    trk = Tracker(cfg)
    online = [len(trk.step(f)) for f in frames[:5]]
    assert online == [0, 0, 1, 1, 1]


def test_short_gap_is_bridged_by_interpolation() -> None:
    cfg = TrackerConfig(min_hits=2, max_age=3)
    frames = [_fd([_car(10 + k, 0)]) if k not in (4, 5) else _fd([]) for k in range(10)]
    res = track_sequence(frames, cfg)
    assert all(res.labels.get(k).track_ids.tolist() == [1] for k in range(10))
    mid = res.labels.get(4)
    assert mid.attributes is not None and mid.attributes[0]["interpolated"] is True
    np.testing.assert_allclose(mid.boxes.center[0, 0], 14.0, atol=0.2)


def test_heading_flip_keeps_the_track_and_its_heading() -> None:
    frames = [_fd([_car(10 + 0.5 * k, 0, np.pi if k % 3 == 2 else 0.0)]) for k in range(12)]
    res = track_sequence(frames, TrackerConfig(min_hits=2))
    assert res.labels.track_ids().tolist() == [1]
    yaws = np.array([res.labels.get(k).boxes.yaw[0] for k in range(12)])
    assert np.all(np.abs(np.sin(yaws)) < 0.05) and np.all(np.cos(yaws) > 0)  # never flipped to pi


def test_two_crossing_cars_keep_their_ids() -> None:
    frames = []
    for k in range(30):
        t = k * 0.1
        frames.append(_fd([_car(5 + 10 * t, -6 + 4 * t, 0.38), _car(5 + 10 * t, 6 - 4 * t, -0.38)]))
    res = track_sequence(frames, TrackerConfig(min_hits=2))
    first = res.labels.get(0)
    last = res.labels.get(29)
    y0 = dict(zip(first.track_ids.tolist(), first.boxes.center[:, 1]))
    y1 = dict(zip(last.track_ids.tolist(), last.boxes.center[:, 1]))
    assert set(y0) == set(y1) == {1, 2}
    for tid in (1, 2):
        assert np.sign(y0[tid]) == -np.sign(y1[tid])  # each id crossed over


def test_ego_motion_compensation_with_a_turning_ego() -> None:
    """A parked car seen from a turning, moving ego: with poses it is static in the world."""
    car_world = np.array([20.0, 5.0, 0.8])
    frames_pose, frames_nopose = [], []
    for k in range(40):
        yaw = 0.08 * k  # the ego turns 0.8 rad/s at 5 m/s
        T_world_ego = Transform.from_yaw(yaw, [5.0 * 0.1 * k, 0.0, 0.0])
        c = T_world_ego.inverse().apply(car_world[None])[0]
        row = [c[0], c[1], c[2], 4.0, 1.8, 1.5, -yaw]
        frames_pose.append(_fd([row], T_world_ego=T_world_ego))
        frames_nopose.append(_fd([row]))
    cfg = TrackerConfig(min_hits=2, metric="iou", threshold=0.3)
    with_pose = Tracker(cfg)
    for f in frames_pose:
        with_pose.step(f)
    res = with_pose.finish()
    assert res.labels.track_ids().tolist() == [1]
    np.testing.assert_allclose(with_pose.kf.x[0, 7:9], 0.0, atol=0.3)  # world velocity ~ 0
    # the ego-frame tracker sees the car swing around and, with a strict IoU gate, loses it
    res2 = track_sequence(frames_nopose, cfg)
    assert res.labels.num_boxes() == 40
    assert len(res2.labels.track_ids()) > 1 or res2.labels.num_boxes() < 30
    # boxes come back in each frame's ego frame
    for k in (0, 20, 39):
        np.testing.assert_allclose(res.labels.get(k).boxes.center[0], frames_pose[k].boxes.center[0], atol=0.3)


def test_radar_range_rate_corrects_velocity_while_coasting() -> None:
    """A car braking from 15 to 5 m/s during a 10-frame detection gap: radar sees it, boxes don't."""

    def run(with_radar: bool) -> float:
        trk = Tracker(TrackerConfig(min_hits=2, max_age=20))
        x, v = 20.0, 15.0
        for k in range(30):
            if k >= 15:
                v = 5.0
            x += v * 0.1
            in_gap = 15 <= k < 25
            radar = radar_from_arrays([[x, 0.0, 0.8], [x - 1.0, 0.2, 0.6]], [v, v]) if with_radar else None
            trk.step(_fd([] if in_gap else [_car(x, 0)], radar=radar))
            if k == 24:
                return abs(float(trk.kf.x[0, 7]) - v)
        raise AssertionError

    err_without, err_with = run(False), run(True)
    assert err_without > 8.0  # the filter still believes ~15 m/s
    assert err_with < 1.0


def test_ambiguity_reasons_fire_on_constructed_cases_and_not_on_clean_ones() -> None:
    cfg = TrackerConfig(min_hits=2)
    # clean: two cars far apart, steady
    clean = track_sequence([_fd([_car(10 + k, -10), _car(10 + k, 10)]) for k in range(20)], cfg)
    assert all(not any(r for r in fa.reasons) for fa in clean.ambiguity.values())
    assert clean.review.items == ()
    # crossing: two cars passing close to each other
    crossing = track_sequence(
        [_fd([_car(5 + k, -3 + 0.3 * k), _car(5 + k, 3 - 0.3 * k)]) for k in range(20)], cfg
    )
    found = {r for fa in crossing.ambiguity.values() for rs in fa.reasons for r, _ in rs}
    assert "crossing" in found
    assert crossing.review.items and any(
        rr["reason"] == "crossing" for it in crossing.review.items for rr in it.reasons
    )
    # near tie: a detection halfway between two tracks' predictions
    frames = [_fd([_car(10, -1.2), _car(10, 1.2)]) for _ in range(6)]
    frames.append(_fd([_car(10, -0.1)]))
    tie = track_sequence(frames, cfg)
    assert any(r == "near_tie" for rs in tie.ambiguity[6].reasons for r, _ in rs)
    # fragment: a track dies and a new one is born where it was heading
    frames = [_fd([_car(10 + 0.5 * k, 0)]) for k in range(8)] + [_fd([]) for _ in range(8)]
    frames += [_fd([_car(10 + 0.5 * k, 0)]) for k in range(16, 24)]
    frag = track_sequence(frames, TrackerConfig(min_hits=2, max_age=2))
    assert frag.labels.track_ids().tolist() == [1, 2]
    assert any(r == "fragment" for rs in frag.ambiguity[16].reasons for r, _ in rs)
    assert 16 in frag.review.frames
    # long coasting, then a size jump and a class change
    frames = [_fd([_car(10 + 0.5 * k, 0)]) for k in range(6)] + [_fd([]) for _ in range(4)]
    frames += [_fd([_car(10 + 0.5 * k, 0)]) for k in range(10, 14)]
    frames += [_fd([[17.0, 0, 0.8, 7.0, 2.6, 3.0, 0]])]
    frames += [FrameDetections(Boxes.from_array([_car(17.5, 0)]), np.ones(1), ("Van",))]
    odd = track_sequence(frames, TrackerConfig(min_hits=2, max_age=6, gate_distance=8.0, threshold=-0.6))
    assert odd.labels.track_ids().tolist() == [1]
    reasons = {k: {r for rs in fa.reasons for r, _ in rs} for k, fa in odd.ambiguity.items()}
    assert "coasting" in reasons[10]
    assert "size_change" in reasons[14]
    assert "class_change" in reasons[15]
    assert set(REASONS) >= set().union(*reasons.values())
    # the review queue is JSON-serialisable and ordered by score
    import json

    d = json.loads(json.dumps(odd.review.to_dict()))
    scores = [e["score"] for e in d["frames"]]
    assert scores == sorted(scores, reverse=True)
