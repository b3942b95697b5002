"""Edit-operation and keyframe counts on hand-computed cases, and native evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.cli import main
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.quality.clear_mot import AssignedFrame
from fusionlabel.quality.edit_ops import edit_ops_sequence, gap_cost, keyframe_count


def test_keyframe_count_and_gap_cost() -> None:
    # first, every 10th, last: L=1 -> {0}; L=10 -> {0, 9}; L=11 -> {0, 10}; L=21 -> {0, 10, 20}
    assert [keyframe_count(n) for n in (0, 1, 2, 10, 11, 12, 21)] == [0, 1, 2, 2, 2, 3, 3]
    # between two boxes: keyframes so no span exceeds 10 frames, at least one action
    assert [gap_cost(n, True, True) for n in (1, 9, 19, 20)] == [1, 1, 1, 2]
    # one side: keyframes every 10 frames out to the far end
    assert [gap_cost(n, True, False) for n in (1, 10, 11)] == [1, 1, 2]
    assert gap_cost(4, False, False) == keyframe_count(4)


def af(k: int, gt: list[int], trk: list[int], pairs: list[tuple[int, int]]) -> AssignedFrame:
    """pairs: (gt id, result id) matches."""
    g, t = np.array(gt, np.int64), np.array(trk, np.int64)
    mg = np.array([gt.index(a) for a, _ in pairs], np.int64)
    mt = np.array([trk.index(b) for _, b in pairs], np.int64)
    return AssignedFrame(k, g, t, np.ones(len(t)), np.zeros((len(g), len(t))), mg, mt)


def test_false_stretch_inside_a_track() -> None:
    # result 5 follows GT 1 on frames 0-2, drifts off it at 3-4 (false), returns at 5-6;
    # GT 1 is therefore missed at 3-4 (a 2-frame gap between matched boxes)
    fr = [af(k, [1], [5], [] if k in (3, 4) else [(1, 5)]) for k in range(7)]
    e = edit_ops_sequence(fr)
    # delete the false stretch (1); the two GT-1 stretches merge back (0 reassigns);
    # fill the gap: max(1, ceil(3/10) - 1) = 1
    assert (e.deletes, e.reassigns, e.merges, e.adds) == (1, 0, 0, 1)
    assert e.keyframe_ops == keyframe_count(7) == 2


def test_track_jumping_to_another_object_and_gt_absence() -> None:
    # GT 1 present 0-3 and (after an absence) 6-8; GT 2 present 0-8
    # result 5: GT 1 at 0-3, then GT 2 at 4-8 (after GT 2 was followed by result 6 at 0-3)
    fr = []
    for k in range(9):
        gt = ([1] if k < 4 or k >= 6 else []) + [2]
        pairs = [(1, 5), (2, 6)] if k < 4 else [(2, 5)]
        trk = [5, 6] if k < 4 else [5]
        fr.append(af(k, gt, trk, pairs))
    e = edit_ops_sequence(fr)
    # result 5 stretches [1, 2] -> 1 reassign; first stretches: 5 -> GT 1, 6 -> GT 2: no merge;
    # GT 1 missed at 6-8 with no matched neighbour inside its run 6-8 -> K(3) = 2
    assert (e.deletes, e.reassigns, e.merges, e.adds) == (0, 1, 0, 2)
    # keyframes: GT 1 runs 0-3 (K=2) and 6-8 (K=2); GT 2 run 0-8 (K=2)
    assert e.keyframe_ops == 6


@pytest.fixture(scope="module")
def synth_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fusionlabel.synth import generate

    return Path(generate(tmp_path_factory.mktemp("rec") / "rec", frames=6, seed=1))


def test_native_eval(synth_recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fusionlabel.io.native import open_native
    from fusionlabel.io.native_labels import write_labels

    gt = open_native(synth_recording).labels
    assert gt is not None and gt.num_boxes > 0
    perfect = tmp_path / "perfect.json"
    write_labels(gt, perfect)
    assert main(["eval", "--format", "native", "--gt", str(synth_recording), "--results", str(perfect), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert (s["MOTA"], s["HOTA"], s["IDF1"], s["IDS"], s["FP"], s["FN"], s["edit_ops"]) == (
        100.0,
        100.0,
        100.0,
        0,
        0,
        0,
        0,
    )

    # swap a track's id from frame 3 on to a new id: one ID switch, one merge (a track the LiDAR
    # sees in every frame: ground truth without a point is ignored by the evaluation)
    seen: dict[int, bool] = {}
    for f in gt.frames.values():
        for t, a in zip(f.track_ids.tolist(), f.attributes):
            seen[t] = seen.get(t, True) and a.get("num_lidar_points", 0) > 0
    tid = next(t for t in gt.get(0).track_ids.tolist() if seen[t] and len(gt.track(t)[0]) == len(gt.frames))
    frames = {}
    for k, f in gt.frames.items():
        ids = f.track_ids.copy()
        if k >= 3:
            ids[ids == tid] = 10_000
        frames[k] = FrameLabels(ids, f.categories, f.boxes, f.scores, f.attributes)
    switched = tmp_path / "switched.json"
    write_labels(LabelSet(frames), switched)
    assert main(["eval", "--format", "native", "--gt", str(synth_recording), "--results", str(switched), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert (s["IDS"], s["FP"], s["FN"], s["edit_ops"]) == (1, 0, 0, 1)
    cat = gt.get(0).categories[list(gt.get(0).track_ids).index(tid)]
    assert (
        main(
            [
                "eval",
                "--format",
                "native",
                "--gt",
                str(synth_recording),
                "--results",
                str(switched),
                "--class",
                cat,
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["IDS"] == 1


def test_prelabel_threshold_scores_only_the_delivered_tracks() -> None:
    """A tool that declares an operating point is charged for the tracks it delivers."""
    from fusionlabel.quality.clear_mot import EvalFrame, EvalSequence
    from fusionlabel.quality.evaluation import evaluate_sequences, prelabel_sequences, track_mean_scores

    # gt 1 over 12 frames; result track 7 follows it (score 5), track 8 is a false track (score 1)
    frames = tuple(EvalFrame.simple(k, [1], [7, 8], [[0.8, 0.0]], [5.0, 1.0]) for k in range(12))
    seq = EvalSequence("s", frames, 12)
    assert track_mean_scores(seq) == {7: 5.0, 8: 1.0}
    pre = prelabel_sequences([seq], {"s": 3.0})
    assert all(f.trk_ids.tolist() == [7] for f in pre[0].frames)
    everything = evaluate_sequences([seq]).summary()
    delivered = evaluate_sequences([seq], prelabel_thresholds={"s": 3.0}).summary()
    assert everything["edit_breakdown"]["deletes"] == 1 and everything["edit_ops"] == 1
    assert delivered["edit_ops"] == 0 and delivered["prelabels"]["FP"] == 0
    # the sweep figures do not depend on the declared operating point
    assert delivered["sAMOTA"] == everything["sAMOTA"] and delivered["MOTA"] == everything["MOTA"]
