"""AP on hand-built cases whose values follow from the R40 definition."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.quality.detection_ap import average_precision, evaluate_ap, evaluate_recordings


def _b(*rows: list[float]) -> Boxes:
    return Boxes.from_array(rows) if rows else Boxes.empty()


CAR_A = [0, 0, 0, 4, 2, 1.5, 0]
CAR_B = [10, 0, 0, 4, 2, 1.5, 0]
CAR_C = [20, 0, 0, 4, 2, 1.5, 0]


def test_perfect_and_empty() -> None:
    gt = [(_b(CAR_A, CAR_B), ["Car", "Car"], np.zeros(2, bool))]
    det = [(_b(CAR_A, CAR_B), np.array([0.9, 0.8]), ["Car", "Car"])]
    r = average_precision(det, gt, "Car", 0.7, "3d")
    assert r.ap == pytest.approx(1.0) and r.true_positives == 2 and r.positives == 2
    r = average_precision([(_b(), np.zeros(0), [])], gt, "Car", 0.7)
    assert r.ap == 0.0 and r.positives == 2


def test_half_recall_gives_half_ap() -> None:
    # 2 GT, one found with the top score: recall reaches 0.5 at precision 1 -> 20 of 40 points
    gt = [(_b(CAR_A, CAR_B), ["Car", "Car"], np.zeros(2, bool))]
    det = [(_b(CAR_A), np.array([0.9]), ["Car"])]
    assert average_precision(det, gt, "Car", 0.5).ap == pytest.approx(0.5)


def test_false_positive_ranked_first() -> None:
    # ranking: FP (0.95), TP (0.9): precision at recall 1 is 1/2 -> AP 0.5
    gt = [(_b(CAR_A), ["Car"], np.zeros(1, bool))]
    det = [(_b(CAR_C, CAR_A), np.array([0.95, 0.9]), ["Car", "Car"])]
    assert average_precision(det, gt, "Car", 0.5).ap == pytest.approx(0.5)
    # the FP ranked last does not hurt
    det = [(_b(CAR_C, CAR_A), np.array([0.1, 0.9]), ["Car", "Car"])]
    assert average_precision(det, gt, "Car", 0.5).ap == pytest.approx(1.0)


def test_duplicates_class_and_ignored() -> None:
    gt = [(_b(CAR_A, CAR_B), ["Car", "Pedestrian"], np.array([False, False]))]
    # a duplicate of CAR_A is a false positive; the Pedestrian GT is another class
    det = [(_b(CAR_A, CAR_A), np.array([0.9, 0.8]), ["Car", "Car"])]
    r = average_precision(det, gt, "Car", 0.5)
    assert r.positives == 1 and r.true_positives == 1 and r.ap == pytest.approx(1.0)
    # a detection on an ignored GT box is neither TP nor FP, and the box is not a positive
    gt2 = [(_b(CAR_A, CAR_B), ["Car", "Car"], np.array([False, True]))]
    det2 = [(_b(CAR_B, CAR_A), np.array([0.99, 0.5]), ["Car", "Car"])]
    r2 = average_precision(det2, gt2, "Car", 0.5)
    assert r2.positives == 1 and r2.detections == 1 and r2.ap == pytest.approx(1.0)


def test_iou_threshold_and_kind() -> None:
    shifted = [0, 0, 0.9, 4, 2, 1.5, 0]  # same footprint, 0.9 m higher: BEV IoU 1, 3D IoU 4.8 / 19.2 = 0.25
    gt = [(_b(CAR_A), ["Car"], np.zeros(1, bool))]
    det = [(_b(shifted), np.array([1.0]), ["Car"])]
    assert average_precision(det, gt, "Car", 0.7, "bev").ap == pytest.approx(1.0)
    assert average_precision(det, gt, "Car", 0.5, "3d").ap == 0.0


def test_a_false_positive_above_every_true_one_and_a_duplicate() -> None:
    gt = [(_b(CAR_A, CAR_B), ["Car", "Car"], np.zeros(2, bool)), (_b(CAR_A), ["Car"], np.zeros(1, bool))]
    far = [40, 0, 0, 4, 2, 1.5, 0]
    det = [(_b(CAR_A, CAR_B, far), np.array([0.9, 0.8, 0.95]), ["Car"] * 3), (_b(CAR_A), np.array([0.7]), ["Car"])]
    r = average_precision(det, gt, "Car", 0.5)
    # precision 1/2, 2/3, 3/4 at recall 1/3, 2/3, 1: the envelope is 3/4 at every recall point
    assert r.ap == pytest.approx(0.75) and (r.true_positives, r.false_positives, r.positives) == (3, 1, 3)
    shifted = [1, 0, 0, 4, 2, 1.5, 0]  # BEV IoU 6 / 10 with CAR_A: fails 0.7, passes 0.5
    one = [(_b(CAR_A), ["Car"], np.zeros(1, bool))]
    assert average_precision([(_b(shifted), np.ones(1), ["Car"])], one, "Car", 0.7).ap == 0.0
    assert average_precision([(_b(shifted), np.ones(1), ["Car"])], one, "Car", 0.5).ap == pytest.approx(1.0)


def test_neighbouring_classes_are_dont_care() -> None:
    van = [30, 0, 0, 5, 2, 2, 0]
    gt = [(_b(CAR_A, van), ["Car", "Van"], np.zeros(2, bool)), (_b(CAR_A), ["Car"], np.array([True]))]
    det = [(_b(CAR_A, van), np.array([0.9, 0.95]), ["Car", "Car"]), (_b(CAR_A), np.array([0.99]), ["Car"])]
    res = evaluate_ap(det, gt, ("Car", "Cyclist"))  # KITTI's: a car detected on a van is not false
    assert res["Car"].ap == pytest.approx(1.0) and res["Car"].positives == 1 and res["Car"].false_positives == 0
    assert res["Cyclist"].positives == 0 and res["Cyclist"].ap == 0.0
    alone = average_precision(det, gt, "Car", 0.5, neighbours=())
    assert alone.false_positives == 1 and alone.ap == pytest.approx(0.5)
    with pytest.raises(ValueError, match="kind"):
        average_precision(det, gt, "Car", 0.5, "2d")  # type: ignore[arg-type]


def test_evaluate_recordings_on_a_synthetic_recording(tmp_path: Path) -> None:
    """The runner on a real recording on disk: a detector that returns the ground truth scores
    AP 1 where boxes hold enough points; the table reports the classes without ground truth as None."""
    from fusionlabel.io.open import open_recording
    from fusionlabel.synth import generate

    root = generate(tmp_path / "rec", frames=3, seed=3, cameras=(), radar_rate_hz=0)
    rec = open_recording(root)

    class Oracle:
        def detect(self, frame, rig):  # type: ignore[no-untyped-def]
            fl = rec.labels.get(frame.index)

            class D:
                boxes, scores, classes = fl.boxes, np.ones(len(fl)), list(fl.categories)

            return D()

    r = evaluate_recordings(Oracle(), [root], classes=("Car", "Pedestrian", "Bus"))
    table = r.table()
    assert r.frames == 3 and table["Car"]["gt"] > 0 and table["Car"]["AP_BEV"] == pytest.approx(1.0)
    assert table["Car"]["AP_3D"] == pytest.approx(1.0) and table["Bus"]["AP_BEV"] is None
    few = evaluate_recordings(Oracle(), [root], classes=("Car",), min_points=10**6)
    assert few.bev["Car"].positives == 0 and not math.isnan(few.bev["Car"].ap)


def test_a_valid_box_is_preferred_to_a_dont_care_one_and_each_takes_one_detection() -> None:
    # a detection between a valid car and an ignored one that it overlaps more: it matches the valid one
    valid, ignored = [0, 0, 0, 4, 2, 1.5, 0], [0.8, 0, 0, 4, 2, 1.5, 0]
    det_box = [0.6, 0, 0, 4, 2, 1.5, 0]  # BEV IoU 0.74 with the valid car, 0.90 with the ignored one
    gt = [(_b(valid, ignored), ["Car", "Car"], np.array([False, True]))]
    r = average_precision([(_b(det_box), np.ones(1), ["Car"])], gt, "Car", 0.5)
    assert (r.positives, r.true_positives) == (1, 1) and r.ap == pytest.approx(1.0)
    # a neighbouring class's box takes one detection; a second one on it is false
    van = [20, 0, 0, 5, 2, 2, 0]
    gt2 = [(_b(CAR_A, van), ["Car", "Van"], np.zeros(2, bool))]
    dets = [(_b(CAR_A, van, van), np.array([0.9, 0.8, 0.7]), ["Car"] * 3)]
    r2 = average_precision(dets, gt2, "Car", 0.5, neighbours=("Van",))
    assert (r2.true_positives, r2.false_positives) == (1, 1)
