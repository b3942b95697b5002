"""Tracker behaviour on constructed sequences: birth/death, flips, ego motion, radar, ambiguity."""

from __future__ import annotations

import numpy as np

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.transforms import Transform
from fusionlabel.track import FrameDetections, Tracker, TrackerConfig, radar_from_arrays, track_sequence
from fusionlabel.track.ambiguity import REASONS


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
    assert res.labels.track_ids.tolist() == [1]
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
    assert res.labels.track_ids.tolist() == [1]
    np.testing.assert_allclose(with_pose.kf.x[0, 7:9], 0.0, atol=0.3)  # world velocity ~ 0
    # the ego-frame tracker sees the car swing around and, with a strict IoU gate, loses it
    res2 = track_sequence(frames_nopose, cfg)
    assert res.labels.num_boxes == 40
    assert len(res2.labels.track_ids) > 1 or res2.labels.num_boxes < 30
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
    crossing = track_sequence([_fd([_car(5 + k, -3 + 0.3 * k), _car(5 + k, 3 - 0.3 * k)]) for k in range(20)], cfg)
    found = {r for fa in crossing.ambiguity.values() for rs in fa.reasons for r, _ in rs}
    assert "crossing" in found
    # the crossing frames are more suspicious than any clean frame (whether they reach the
    # review queue is the fitted error model's call)
    cross_frames = [
        k for k, fa in crossing.ambiguity.items() if any(r == "crossing" for rs in fa.reasons for r, _ in rs)
    ]
    assert max(crossing.ambiguity[k].score for k in cross_frames) > max(fa.score for fa in clean.ambiguity.values())
    # near tie: a detection halfway between two tracks' predictions
    frames = [_fd([_car(10, -1.2), _car(10, 1.2)]) for _ in range(6)]
    frames.append(_fd([_car(10, -0.1)]))
    tie = track_sequence(frames, cfg)
    assert any(r == "near_tie" for rs in tie.ambiguity[6].reasons for r, _ in rs)
    # fragment: a track dies and a new one is born where it was heading
    frames = [_fd([_car(10 + 0.5 * k, 0)]) for k in range(8)] + [_fd([]) for _ in range(8)]
    frames += [_fd([_car(10 + 0.5 * k, 0)]) for k in range(16, 24)]
    frag = track_sequence(frames, TrackerConfig(min_hits=2, max_age=2))
    assert frag.labels.track_ids.tolist() == [1, 2]
    assert any(r == "fragment" for rs in frag.ambiguity[16].reasons for r, _ in rs)
    assert 16 in frag.review.frames
    # long coasting, then a size jump and a class change
    frames = [_fd([_car(10 + 0.5 * k, 0)]) for k in range(6)] + [_fd([]) for _ in range(4)]
    frames += [_fd([_car(10 + 0.5 * k, 0)]) for k in range(10, 14)]
    frames += [_fd([[17.0, 0, 0.8, 7.0, 2.6, 3.0, 0]])]
    frames += [FrameDetections(Boxes.from_array([_car(17.5, 0)]), np.ones(1), ("Van",))]
    odd = track_sequence(frames, TrackerConfig(min_hits=2, max_age=6, gate_distance=8.0, threshold=-0.6))
    assert odd.labels.track_ids.tolist() == [1]
    reasons = {k: {r for rs in fa.reasons for r, _ in rs} for k, fa in odd.ambiguity.items()}
    assert "coasting" in reasons[10]
    assert "size_change" in reasons[14]
    assert "class_change" in reasons[15]
    assert set(REASONS) >= set().union(*reasons.values())
    # the review queue is JSON-serialisable and ordered by score
    import json

    from fusionlabel.core.review import Review
    from fusionlabel.io.review_file import review_to_dict

    d = json.loads(json.dumps(review_to_dict(Review(odd.review))))
    scores = [e["score"] for e in d["frames"]]
    assert scores == sorted(scores, reverse=True)


def _kitti_frames(root, seq: str = "0000", n: int = 80):  # type: ignore[no-untyped-def]
    from fusionlabel.io.kitti import kitti_T_rect_velo, read_kitti_calib
    from fusionlabel.io.kitti_mot import detections_to_ego, read_ab3dmot_detections

    cal_path = root / "calib" / f"{seq}.txt"
    cal = read_kitti_calib(cal_path)
    T = kitti_T_rect_velo(cal, cal_path)
    d = read_ab3dmot_detections(root / "detection" / "pointrcnn_Car" / f"{seq}.txt")
    d = d.select(d.frame < n)
    boxes = detections_to_ego(d, T).to_array()
    return (
        [(boxes[d.frame == k], d.score[d.frame == k], d.bbox[d.frame == k]) for k in range(n)],
        T,
        cal["P2"].reshape(3, 4),
    )


def test_batch_backend_equals_the_filterpy_reference_on_kitti(kitti_tracking_dev) -> None:  # type: ignore[no-untyped-def]
    frames, _, _ = _kitti_frames(kitti_tracking_dev)
    out = {}
    for backend in ("batch", "filterpy"):
        trk = Tracker(TrackerConfig.for_class("Car"), backend=backend)
        codes = trk.category_codes(["Car"])
        for boxes, scores, bbox in frames:
            trk.step_arrays(boxes, scores, np.repeat(codes, len(boxes)), bbox)
        out[backend] = (trk.finish(), trk.kf.x.copy(), trk.kf.P.copy())
    (a, xa, Pa), (b, xb, Pb) = out["batch"], out["filterpy"]
    assert len(a.table) > 100
    np.testing.assert_array_equal(a.table.track_id, b.table.track_id)
    np.testing.assert_array_equal(a.table.frame, b.table.frame)
    np.testing.assert_allclose(a.table.box, b.table.box, atol=1e-9)
    np.testing.assert_allclose(a.table.score, b.table.score, atol=1e-9)
    np.testing.assert_allclose(xa, xb, atol=1e-9)
    np.testing.assert_allclose(Pa, Pb, atol=1e-9)
    assert a.review.frames == b.review.frames


def test_operating_point_selects_the_prelabels_and_is_declared(kitti_tracking_dev) -> None:  # type: ignore[no-untyped-def]
    from fusionlabel.io.kitti import DEFAULT_IMAGE_SIZE
    from fusionlabel.io.kitti_mot import kitti_results_from_table, labels_to_kitti_results

    frames, T, P2 = _kitti_frames(kitti_tracking_dev, n=154)
    trk = Tracker(TrackerConfig.for_class("Car", output_threshold=4.0))
    codes = trk.category_codes(["Car"])
    for boxes, scores, bbox in frames:
        trk.step_arrays(boxes, scores, np.repeat(codes, len(boxes)), bbox)
    res = trk.finish()
    t = res.table
    # the track confidence is the mean reported score of the track; delivered iff >= 4
    for tid in np.unique(t.track_id):
        sel = t.track_id == tid
        assert np.allclose(t.track_score[sel], t.score[sel].mean())
        assert np.all(t.delivered[sel] == (t.score[sel].mean() >= 4.0))
    assert 0 < t.delivered.sum() < len(t)
    # pre-labels: the delivered tracks, numbered first; scored labels: everything
    delivered_ids = np.unique(t.track_id[t.delivered])
    assert res.labels.track_ids.tolist() == delivered_ids.tolist() == list(range(1, len(delivered_ids) + 1))
    assert res.scored_labels.num_boxes == len(t) > res.labels.num_boxes
    # ambiguity and review queue only concern pre-labels; the queue declares the operating point
    assert set(np.unique(res.rows.track_id)) <= set(delivered_ids.tolist())
    from fusionlabel.core.review import Review
    from fusionlabel.io.review_file import FORMAT, review_from_dict, review_to_dict

    back = review_from_dict(
        {"format": FORMAT.name, "version": FORMAT.version, **review_to_dict(Review(res.review))}
    ).queue
    assert back is not None
    assert back.score_threshold == 4.0 and back.max_fraction == 0.1 and back.frames == res.review.frames
    assert res.review.load <= 0.1
    # the vectorised KITTI rows equal the per-frame conversion of the scored labels
    a = kitti_results_from_table(t, T, P2, DEFAULT_IMAGE_SIZE)
    b = labels_to_kitti_results(res.scored_labels, T, P2, DEFAULT_IMAGE_SIZE)
    np.testing.assert_array_equal(a.track_id, b.track_id)
    for f in ("bbox", "hwl", "xyz", "rotation_y", "alpha", "score"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), atol=1e-9)


def test_the_frame_interval_sets_the_velocity_units() -> None:
    """A car at 12 m/s seen at 5 Hz: with the recording's interval the filter's velocity is in
    m/s (what radar range rates are in); with the 10 Hz default it is twice that."""

    def speed(cfg: TrackerConfig) -> float:
        trk = Tracker(cfg)
        for k in range(15):
            trk.step(_fd([_car(10.0 + 12.0 * 0.2 * k, 0.0)]))
        return float(trk.kf.x[0, 7])

    assert abs(speed(TrackerConfig().for_interval(0.2)) - 12.0) < 0.5
    assert abs(speed(TrackerConfig()) - 24.0) < 1.0  # the per-step displacement read as 0.1 s
    cfg = TrackerConfig()
    assert cfg.for_interval(None) is cfg and cfg.for_interval(0.0) is cfg and cfg.for_interval(float("nan")) is cfg
    assert cfg.for_interval(1 / 15).motion.dt == 1 / 15 and cfg.for_interval(1 / 15).metric == cfg.metric


def test_two_radars_each_point_along_its_own_ray() -> None:
    """A car crossing beside the ego brakes from 12 to 4 m/s during a detection gap; a front and a
    rear radar see it. Each range rate is along the ray from the radar that measured it: with
    each point's own origin the filter follows the braking; with one origin for all (what
    prelabel did with two radars) it is misled."""
    front, rear = np.array([3.5, 0.0, 0.5]), np.array([-1.0, 0.0, 0.5])

    def run(per_point_origin: bool) -> float:
        trk = Tracker(TrackerConfig(min_hits=2, max_age=20))
        y, v = -10.0, 12.0
        for k in range(30):
            if k >= 15:
                v = 4.0
            y += v * 0.1
            in_gap = 15 <= k < 25
            pts = np.array([[4.0, y, 0.8], [4.5, y - 0.5, 0.6], [3.8, y + 0.6, 0.7]])
            origins = np.array([rear, rear, front])  # two points from the rear radar, one from the front
            ray = pts - origins
            vr = (ray @ np.array([0.0, v, 0.0])) / np.linalg.norm(ray, axis=1)
            radar = radar_from_arrays(pts, vr, origins if per_point_origin else front)
            trk.step(_fd([] if in_gap else [[4.0, y, 0.8, 4.0, 1.8, 1.5, np.pi / 2]], radar=radar))
            if k == 24:
                return abs(float(np.hypot(trk.kf.x[0, 7], trk.kf.x[0, 8])) - v)
        raise AssertionError

    right, wrong = run(True), run(False)
    assert right < 1.0
    assert wrong > 2.0 * right + 0.5


def test_radar_measurements_of_several_radars_keep_their_origins() -> None:
    from fusionlabel.core.frames import RadarDetections
    from fusionlabel.track.types import RadarMeasurements

    front = Transform.from_rt(np.eye(3), [3.5, 0.0, 0.5])
    rear = Transform.from_yaw(np.pi, [-1.0, 0.0, 0.5])  # looking backwards
    a = RadarMeasurements.from_detections(RadarDetections([[10.0, 0.0, 0.0]], [1.0]), front)
    b = RadarMeasurements.from_detections(RadarDetections([[5.0, 1.0, 0.0], [6.0, 0.0, 0.0]], [2.0, 3.0]), rear)
    m = RadarMeasurements.merge([a, b])
    assert np.allclose(m.xyz, [[13.5, 0, 0.5], [-6.0, -1.0, 0.5], [-7.0, 0.0, 0.5]])
    assert np.allclose(m.origins(), [[3.5, 0, 0.5], [-1.0, 0, 0.5], [-1.0, 0, 0.5]])
    assert m.radial_velocity.tolist() == [1.0, 2.0, 3.0]
    assert np.allclose(a.origins(), [[3.5, 0, 0.5]])  # one radar: its origin for every point
