"""AP on hand-built cases whose values follow from the R40 definition."""

from __future__ import annotations

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.quality.detection_ap import average_precision


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
