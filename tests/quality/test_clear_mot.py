"""CLEAR MOT, the sAMOTA sweep, HOTA, IDF1 on hand-computed tiny cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fusionlabel.quality.clear_mot import (
    ClearEvaluator,
    EvalFrame,
    EvalSequence,
    kitti_sweep,
    match_frame,
    recall_thresholds,
    trajectory_errors,
)
from fusionlabel.quality.evaluation import evaluate_sequences
from fusionlabel.quality.hota import hota_sequence
from fusionlabel.quality.idf1 import idf1_sequence

S = 0.77  # similarity of every true pair (away from the HOTA alpha grid 0.05, 0.10, ...)


def frame(k: int, pairs: dict[int, int | None], false: tuple[int, ...] = ()) -> EvalFrame:
    """GT id -> matching result id (None: missed); ``false``: result ids matching nothing."""
    gt = list(pairs)
    trk = [t for t in pairs.values() if t is not None] + list(false)
    sim = np.zeros((len(gt), len(trk)))
    for i, g in enumerate(gt):
        if pairs[g] is not None:
            sim[i, trk.index(pairs[g])] = S
    return EvalFrame.simple(k, gt, trk, sim)


def tiny_case() -> EvalSequence:
    """Three GT tracks over frames 0-5.

    GT 1 (frames 0-5): result 10 on 0-2, result 11 on 3-5            -> ID switch + FRAG at 3
    GT 2 (frames 0-5): result 20 on 0-1, missed at 2, result 20 on 3-5 -> FRAG at 3, 1 FN
    GT 3 (frames 0-3): never matched                                   -> 4 FN (mostly lost)
    result 30 (frames 4-5): matches nothing                            -> 2 FP (a false track)
    """
    fr = []
    for k in range(6):
        p: dict[int, int | None] = {1: 10 if k < 3 else 11, 2: None if k == 2 else 20}
        if k < 4:
            p[3] = None
        fr.append(frame(k, p, (30,) if k >= 4 else ()))
    return EvalSequence("tiny", tuple(fr), 6)


def test_tiny_case_clear() -> None:
    r = ClearEvaluator([tiny_case()]).run()
    # n_gt = 6 + 6 + 4 = 16; TP = 6 (GT 1) + 5 (GT 2); FN = 1 + 4; FP = 2 (track 30)
    assert (r.n_gt, r.tp, r.fn, r.fp) == (16, 11, 5, 2)
    # IDS: GT 1 at frame 3. FRAG: GT 1 at 3 (the switch) and GT 2 at 3 (resumes after the miss)
    assert (r.ids, r.frag) == (1, 2)
    # MOTA = 1 - (FN + FP + IDS) / n_gt = 1 - 8/16; MOTP = mean IoU of matches = 0.77
    assert r.mota == pytest.approx(0.5)
    assert r.motp == pytest.approx(S)
    # GT 1: 6/6 tracked, GT 2: 5/6 = 0.83 > 0.8 -> MT; GT 3 never -> ML
    assert (r.mt, r.ml) == (pytest.approx(2 / 3), pytest.approx(1 / 3))


def test_tiny_case_sweep() -> None:
    sw = kitti_sweep(ClearEvaluator([tiny_case()]))
    # all 11 TP scores are 1.0 and num_gt = TP + FN = 16: each TP adds a recall level,
    # 11 levels (0, 1/40 .. 10/40) minus the first -> 10 thresholds, all 1.0 (nothing removed).
    # sMOTA_r = clip(1 - (8 - (1 - r) 16) / (16 r)) = 1 for r <= 10/40; MOTA 0.5, MOTP 0.77 each.
    assert sw.samota == pytest.approx(10 / 40)
    assert sw.amota == pytest.approx(10 * 0.5 / 40)
    assert sw.amotp == pytest.approx(10 * S / 40)
    assert sw.best.mota == pytest.approx(0.5)


def test_tiny_case_hota_idf1() -> None:
    fr = [(f.gt_ids, f.trk_ids, f.similarity) for f in tiny_case().frames]
    h = hota_sequence(fr)
    # alpha <= 0.75 (15 of the 19 alphas): TP 11, FN 5, FP 2 -> DetA = 11/18.
    # matches per pair: (1,10) 3, (1,11) 3, (2,20) 5; |gt 1| = |gt 2| = 6, |10| = |11| = 3, |20| = 5
    # AssA = (3 * 3/6 + 3 * 3/6 + 5 * 5/6) / 11 = 43/66; alpha >= 0.80: no match, HOTA_alpha = 0.
    expect = 15 / 19 * math.sqrt(11 / 18 * 43 / 66)
    assert h.hota == pytest.approx(expect)
    assert h.det_a[0] == pytest.approx(11 / 18)
    assert h.ass_a[0] == pytest.approx(43 / 66)
    # IDF1: best binding 1<->10 (or 11) with 3, 2<->20 with 5 -> IDTP 8, IDFN 16 - 8, IDFP 13 - 8
    i = idf1_sequence(fr, 0.25)
    assert (i.idtp, i.idfn, i.idfp) == (8, 8, 5)
    assert i.idf1 == pytest.approx(8 / (8 + 2.5 + 4))


def test_tiny_case_edit_ops() -> None:
    s = evaluate_sequences([tiny_case()]).edit
    # delete track 30 (1); merge 11 into 10 (1); GT 2's one-frame gap between matched boxes
    # (1); GT 3 missed over 4 frames from scratch: K(4) = 1 + ceil(3/10) = 2 -> 5 ops
    assert (s.deletes, s.reassigns, s.merges, s.adds) == (1, 0, 1, 3)
    assert s.edit_ops == 5
    # keyframes: K(6) + K(6) + K(4) = 2 + 2 + 2
    assert s.keyframe_ops == 6


def test_identity_swap_costs_two_reassigns() -> None:
    # results 10 and 20 swap objects at frame 3
    fr = tuple(frame(k, {1: 10, 2: 20} if k < 3 else {1: 20, 2: 10}) for k in range(6))
    rep = evaluate_sequences([EvalSequence("swap", fr, 6)])
    assert (rep.sweep.base.ids, rep.sweep.base.frag) == (2, 2)
    assert (rep.edit.reassigns, rep.edit.merges, rep.edit.edit_ops) == (2, 0, 2)


def test_perfect_results() -> None:
    # 50 GT boxes: at least 40 TPs are needed to reach every recall level of the sweep
    fr = tuple(EvalFrame.simple(k, [1, 2], [7, 8], np.eye(2)) for k in range(25))
    s = evaluate_sequences([EvalSequence("p", fr, 25)]).summary()
    assert (s["MOTA"], s["sAMOTA"], s["HOTA"], s["IDF1"], s["IDS"], s["FRAG"]) == (100.0, 100.0, 100.0, 100.0, 0, 0)
    assert (s["edit_ops"], s["keyframe_ops"]) == (0, 2 * 4)  # K(25) = 1 + ceil(24/10) = 4 per track


def test_few_ground_truth_boxes_cap_samota() -> None:
    # AB3DMOT's sweep needs a TP per recall level: 24 GT boxes reach 24 of the 41 levels,
    # the first dropped -> 23 thresholds, sAMOTA = 23/40 even for perfect results
    fr = tuple(EvalFrame.simple(k, [1, 2], [7, 8], np.eye(2)) for k in range(12))
    assert evaluate_sequences([EvalSequence("p", fr, 12)]).summary()["sAMOTA"] == pytest.approx(57.5)


def test_trajectory_rules() -> None:
    f = [False] * 5
    assert trajectory_errors([1, 1, -1, 1, 1], f).fragmentations == (3,)  # gap, same id resumes
    assert trajectory_errors([1, 1, -1, 1, 1], f).id_switches == ()
    assert trajectory_errors([1, 1, 2, -1, 2], f).id_switches == (2,)
    # a switch right before a miss is an IDS but no FRAG (the next frame is unmatched)
    assert trajectory_errors([1, 1, 2, -1, 2], f).fragmentations == (4,)  # last-frame rule only
    # AB3DMOT's last-frame rule: the final entry differs from the one before
    assert trajectory_errors([1, 1, -1, 1], [False] * 4).fragmentations == (3,)
    # an ignored frame resets the last id: no IDS, but the last-frame rule still counts a FRAG
    e = trajectory_errors([1, 1, 2], [False, True, False])
    assert (e.id_switches, e.fragmentations) == ((), (2,))
    assert trajectory_errors([5, 5], [True, True]).all_ignored


def test_fragmentations_resuming_under_the_same_id_are_told_apart() -> None:
    f = [False] * 6
    assert trajectory_errors([1, 1, -1, 1, 1, 1], f).same_id_fragmentations == (3,)
    assert trajectory_errors([1, 1, -1, 2, 2, 2], f).same_id_fragmentations == ()  # new id: identity error
    # last-frame rule: resumes under 1 (same) / under 3 (new)
    assert trajectory_errors([1, 1, 1, 1, -1, 1], f).same_id_fragmentations == (5,)
    assert trajectory_errors([1, 1, 1, 1, -1, 3], f).same_id_fragmentations == ()
    # an ignored frame resets the last id: what comes back is not "the same" as anything
    assert trajectory_errors([1, 1, 2], [False, True, False]).same_id_fragmentations == ()


def test_recall_thresholds_pick_nearest_recall() -> None:
    # 4 TPs of 8 GT: recalls 1/8 .. 4/8 against targets 0, 1/4, 2/4 (num_sample_pts 5)
    th, rc = recall_thresholds([0.9, 0.8, 0.7, 0.6], 8, num_sample_pts=5)
    # i=0 (recall 1/8) is the first kept (target 0) and dropped; target 1/4 is met at i=1
    # (2/8); target 2/4 at i=3 (4/8, the last, always kept)
    assert th == [0.8, 0.6] and rc == [0.25, 0.5]


def test_score_threshold_removes_whole_tracks() -> None:
    # track 7 matches GT 1 with scores 0.9, 0.1 (mean 0.5); track 8 is false with score 0.2
    fr = (
        EvalFrame.simple(0, [1], [7, 8], [[0.9, 0.0]], [0.9, 0.2]),
        EvalFrame.simple(1, [1], [7], [[0.9]], [0.1]),
    )
    ev = ClearEvaluator([EvalSequence("s", fr, 2)])
    assert ev.run().fp == 1
    r = ev.run(threshold=0.3)  # removes track 8 (mean 0.2) but keeps track 7 (mean 0.5)
    assert (r.tp, r.fp, r.fn) == (2, 0, 0)
    r = ev.run(threshold=0.6)  # removes track 7 too
    assert (r.tp, r.fp, r.fn) == (0, 0, 2)


def test_match_gating() -> None:
    r, c = match_frame(np.array([[0.3, 0.24], [0.0, 0.26]]), 0.25)
    assert sorted(zip(r.tolist(), c.tolist())) == [(0, 0), (1, 1)]
    r, c = match_frame(np.array([[0.2]]), 0.25)
    assert len(r) == 0


def test_ignored_ground_truth_and_results() -> None:
    # GT 1 normal, GT 2 ignored (e.g. truncated); result 5 on GT 1, result 6 on GT 2,
    # result 7 ignorable and unmatched (e.g. 20 px tall), result 8 unmatched -> the only FP
    f = EvalFrame(
        0,
        np.array([1, 2]),
        np.array([False, True]),
        np.array([5, 6, 7, 8]),
        np.ones(4),
        np.array([False, False, True, False]),
        np.array([[0.9, 0, 0, 0], [0, 0.8, 0, 0]]),
    )
    r = ClearEvaluator([EvalSequence("s", (f,), 1)]).run(details=True)
    assert (r.n_gt, r.tp, r.itp, r.fp, r.fn) == (1, 2, 1, 1, 0)
    a = r.assigned["s"][0]
    assert a.gt_ids.tolist() == [1] and a.trk_ids.tolist() == [5, 8]  # 6 and 7 removed for HOTA


def test_exact_means_do_not_drift() -> None:
    """AB3DMOT's track mean is a sequential float sum recomputed each run (it drifts by an ulp);
    exact_means takes math.fsum once: the second sAMOTA the tracking benchmark reports."""
    import math

    from fusionlabel.quality.clear_mot import ClearEvaluator, EvalFrame, EvalSequence

    scores = [0.688, 0.389, 0.135, 0.721, 0.525]  # a sequential sum that rounds differently
    seq = EvalSequence("s", tuple(EvalFrame.simple(k, [1], [7], [[0.9]], [sc]) for k, sc in enumerate(scores)), 5)
    drift = ClearEvaluator([seq])._track_means[0]
    exact = ClearEvaluator([seq], exact_means=True)._track_means[0]
    assert exact.tolist() == [math.fsum(scores) / 5]
    assert drift[0] == float(np.cumsum(scores)[-1]) / 5 != exact[0]
