"""Offboard track refinement on a synthetic recording with exact ground truth: one size per rigid
track, one world pose for static objects, tracks extended where the object is seen but was not
detected, tracks in empty space dropped."""

from __future__ import annotations

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes, points_in_boxes
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.points import lidar_points_ego
from fusionlabel.io.open import SAMPLE, open_recording
from fusionlabel.track.refine import RefineConfig, refine_tracks


@pytest.fixture(scope="module")
def rec():
    return open_recording(SAMPLE)


def _noisy(gt: LabelSet, keep: dict[int, set[int]] | None = None, seed: int = 0) -> LabelSet:
    """The ground truth with noisy sizes and headings (a detector's), optionally only some frames per track."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, fl in gt.frames.items():
        sel = np.array([keep is None or k in keep.get(int(t), set()) for t in fl.track_ids], dtype=bool)
        if not sel.any():
            continue
        f = fl.select(sel)
        arr = f.boxes.to_array()
        arr[:, 3:6] *= rng.uniform(0.8, 1.0, (len(arr), 3))  # partial views: smaller than the object
        arr[:, 6] += rng.normal(0, 0.05, len(arr))
        out[k] = FrameLabels(f.track_ids, f.categories, Boxes.from_array(arr), np.full(len(f), 0.7))
    return LabelSet(out)


def test_one_size_per_rigid_track_and_one_world_pose_when_static(rec) -> None:
    gt = rec.labels
    refined, report = refine_tracks(rec, _noisy(gt))
    assert report.tracks_out > 0 and report.static > 0
    for tid in refined.track_ids.tolist():
        frames, boxes, cats = refined.track(tid)
        if cats[0] not in ("Car", "Van", "Truck", "Bus") or len(frames) < 2:
            continue
        assert np.allclose(boxes.size, boxes.size[0]), f"track {tid}: one size"
        attrs = [refined.get(int(k)).attributes[list(refined.get(int(k)).track_ids).index(tid)] for k in frames]
        if all(a.get("refined") == "static" for a in attrs):
            world = np.array(
                [rec.ego_pose_at(int(rec.timestamps_ns[k])).apply(c[None])[0] for k, c in zip(frames, boxes.center)]
            )
            assert np.ptp(world[:, 0]) < 1e-6 and np.ptp(world[:, 1]) < 1e-6, f"track {tid}: one world pose"


def test_sizes_grow_back_towards_the_objects_and_never_shrink(rec) -> None:
    gt = rec.labels
    noisy = _noisy(gt)
    refined, _ = refine_tracks(rec, noisy)
    err_before, err_after = [], []
    for tid in refined.track_ids.tolist():
        _, gb, cats = gt.track(tid)
        if cats[0] != "Car":
            continue
        _, nb, _ = noisy.track(tid)
        _, rb, _ = refined.track(tid)
        assert np.all(rb.size[:, :2] >= np.median(nb.size[:, :2], axis=0) - 1e-9)
        err_before.append(np.abs(np.median(nb.size[:, :2], axis=0) - gb.size[0, :2]).sum())
        err_after.append(np.abs(rb.size[0, :2] - gb.size[0, :2]).sum())
    assert err_before and np.mean(err_after) < np.mean(err_before)


def test_tracks_are_extended_where_the_object_is_seen(rec) -> None:
    gt = rec.labels
    # a well-seen car: its points in every frame
    counts = {}
    for k, fl in gt.frames.items():
        inside = points_in_boxes(lidar_points_ego(rec.frame(k), rec.rig).xyz, fl.boxes).sum(axis=0)
        for t, c, n in zip(fl.track_ids.tolist(), fl.categories, inside.tolist()):
            if c == "Car":
                counts.setdefault(t, {})[k] = n
    tid = max(counts, key=lambda t: min(counts[t].values()) if len(counts[t]) == len(rec) else -1)
    assert min(counts[tid].values()) >= 30
    keep = {t: set(gt.frames) for t in gt.track_ids.tolist()}
    keep[tid] = set(range(5, 15))  # the detector missed its first and last frames
    refined, report = refine_tracks(rec, _noisy(gt, keep))
    frames, _, _ = refined.track(tid)
    assert report.extended > 0 and frames.min() < 5 and frames.max() > 14
    assert set(frames.tolist()) <= set(counts[tid])  # only where the object is


def test_tracks_in_empty_space_are_dropped_and_refinement_can_be_off(rec) -> None:
    gt = rec.labels
    ghost = LabelSet(
        {k: FrameLabels([999], ["Car"], Boxes.from_array([[-30.0, 60.0, 30.0, 4, 2, 1.5, 0]])) for k in range(len(rec))}
    )
    merged = LabelSet(
        {
            k: FrameLabels(
                np.r_[gt.get(k).track_ids, ghost.get(k).track_ids],
                gt.get(k).categories + ghost.get(k).categories,
                gt.get(k).boxes.concat(ghost.get(k).boxes),
            )
            for k in range(len(rec))
        }
    )
    refined, report = refine_tracks(rec, merged, RefineConfig())
    assert 999 not in refined.track_ids and report.dropped >= 1


def test_prelabel_records_the_refinement(rec) -> None:
    from fusionlabel.pipeline import prelabel
    from tests.pipeline.test_prelabel import OracleDetector

    on = prelabel(rec, OracleDetector(rec.labels))
    off = prelabel(rec, OracleDetector(rec.labels), refine=False)
    assert on.report.config["refine"] is not None and off.report.config["refine"] is None
    assert on.report.fingerprint != off.report.fingerprint
    assert on.report.refine is not None and off.report.refine is None


def test_a_lost_and_found_track_is_stitched_under_one_id() -> None:
    """Step 6: a parked car the tracker lost for a few frames and found again under a new id is
    one track after refinement (the extension of the first reaches the second); two cars seen on
    the same frames are never stitched, and stitch_iou=None keeps the two ids."""
    rec = open_recording(SAMPLE)
    gt = rec.labels
    pts0 = lidar_points_ego(rec.frame(0), rec.rig).xyz

    def world(k: int, c: np.ndarray) -> np.ndarray:
        return (rec.ego_pose_at(int(rec.timestamps_ns[k])).matrix @ np.r_[c, 1.0])[:3]

    # the best-seen parked car of the sample: its ground truth is the "detector" output, with a gap
    best, most = None, -1
    for t in np.unique(gt.track_ids):
        frames, boxes, cats = gt.track(int(t))
        if len(frames) != len(rec) or cats[0] != "Car":
            continue
        if np.linalg.norm(world(frames[-1], boxes.center[-1]) - world(frames[0], boxes.center[0])) > 0.1:
            continue
        n = int(points_in_boxes(pts0, boxes[[0]]).sum())
        if n > most:
            best, most = int(t), n
    assert best is not None and most >= 20
    frames, boxes, _ = gt.track(best)
    split = len(rec) // 2
    rows: dict[int, FrameLabels] = {}
    for i, k in enumerate(frames.tolist()):
        if split - 2 <= k < split + 1:
            continue  # lost for 3 frames
        rows[k] = FrameLabels([1 if k < split else 2], ["Car"], boxes[[i]])
    out, rep = refine_tracks(rec, LabelSet(rows))
    assert rep.stitched == {2: 1}
    assert set(out.track_ids.tolist()) == {1} and all(len(fl) == 1 for fl in out.frames.values())
    _, rep_off = refine_tracks(rec, LabelSet(rows), RefineConfig(stitch_iou=None))
    assert rep_off.stitched == {} and set(
        refine_tracks(rec, LabelSet(rows), RefineConfig(stitch_iou=None))[0].track_ids.tolist()
    ) == {1, 2}
    # two tracks detected on a common frame are two objects, whatever their overlap
    both = dict(rows)
    k0 = min(k for k in rows if k >= split + 1)
    both[k0] = FrameLabels(
        [2, 1],
        ["Car", "Car"],
        Boxes.from_array(np.vstack([rows[k0].boxes.to_array(), rows[k0].boxes.to_array() + [0, 6, 0, 0, 0, 0, 0]])),
    )
    assert refine_tracks(rec, LabelSet(both))[1].stitched == {}
