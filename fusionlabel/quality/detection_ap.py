"""Average precision of 3D detectors, BEV and 3D IoU, per class.

Definition (KITTI R40 style)
----------------------------
For one class and one IoU threshold ``t``:

1. Per frame, detections are sorted by score and matched greedily to the not yet matched
   valid ground-truth box of the same class with the highest IoU; a match needs ``IoU >= t``.
2. Ground truth flagged *ignored* (too few LiDAR points, beyond range) is "don't care", and so
   is a box of a *neighbouring* class (``neighbours``, e.g. ``Van`` for ``Car`` as KITTI does):
   a detection that matched no valid box takes the not yet matched don't-care box it overlaps
   most (``IoU >= t``) and is neither a true nor a false positive; don't-care boxes are not
   counted in the number of positives. A valid box is preferred to a don't-care one even when
   the latter overlaps more (as COCO's ignore handling does; KITTI's devkit instead walks the
   ground-truth boxes in file order and gives each the detection it overlaps most, with a strict
   ``IoU > t``: figures can differ from its slightly), and each box takes one detection (a
   duplicate on it is false).
3. All detections of all frames are ranked by score; precision ``P(r)`` and recall ``r`` follow
   along the ranking; precision is made monotone (``P(r) = max_{r' >= r} P(r')``).
4. ``AP = 1/40 * sum_{r in {1/40, 2/40, ..., 1}} P(r)`` (0 where the recall is not reached).

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> gt = [(Boxes.from_array([[0, 0, 0, 4, 2, 1.5, 0]]), ["Car"], np.zeros(1, bool))]
>>> det = [(Boxes.from_array([[0.1, 0, 0, 4, 2, 1.5, 0]]), np.ones(1), ["Car"])]
>>> round(average_precision(det, gt, "Car", 0.5, "bev").ap, 3)
1.0
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes, bev_iou, iou_3d, points_in_boxes
from fusionlabel.core.errors import DataError
from fusionlabel.core.points import lidar_points_ego

#: IoU thresholds of the loose KITTI setting (BEV / 3D): vehicles 0.5, Pedestrian and Cyclist 0.25
DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "Car": 0.5,
    "Van": 0.5,
    "Truck": 0.5,
    "Bus": 0.5,
    "Pedestrian": 0.25,
    "Cyclist": 0.25,
}
#: ground-truth classes that are "don't care" for a detected class (KITTI's neighbouring classes)
DEFAULT_NEIGHBOURS: Mapping[str, tuple[str, ...]] = {"Car": ("Van",), "Pedestrian": ("Person_sitting",)}

FrameDet = tuple[Boxes, NDArray[np.float64], Sequence[str]]  # boxes, scores, classes
FrameGT = tuple[Boxes, Sequence[str], NDArray[np.bool_]]  # boxes, classes, ignored


@dataclass(frozen=True)
class APResult:
    """AP in [0, 1] with its counts: positives (non-ignored GT), detections ranked, true positives."""

    ap: float
    positives: int
    detections: int
    true_positives: int

    @property
    def max_recall(self) -> float:
        return self.true_positives / self.positives if self.positives else 0.0

    @property
    def false_positives(self) -> int:
        """Ranked detections that are not true positives (ignored ones are not ranked)."""
        return self.detections - self.true_positives


def _take(iou: NDArray[np.float64], taken: NDArray[np.bool_], threshold: float) -> bool:
    """Mark taken the not yet taken box that ``iou`` (one detection against the boxes) is highest
    with, when it reaches ``threshold``; whether one was."""
    if not len(iou):
        return False
    cand = np.where(taken, -1.0, iou)
    j = int(np.argmax(cand))
    if cand[j] < threshold:
        return False
    taken[j] = True
    return True


def average_precision(
    detections: Sequence[FrameDet],
    ground_truth: Sequence[FrameGT],
    cls: str,
    iou_threshold: float,
    kind: Literal["bev", "3d"] = "bev",
    neighbours: Sequence[str] = (),
) -> APResult:
    """AP of one class over frames (``detections[k]`` and ``ground_truth[k]`` are the same frame);
    ``neighbours``: ground-truth classes a detection of ``cls`` may overlap without counting."""
    if len(detections) != len(ground_truth):
        raise ValueError("detections and ground truth must list the same frames")
    if kind not in ("bev", "3d"):
        raise ValueError(f"kind must be 'bev' or '3d', got {kind!r}")
    iou_fn = bev_iou if kind == "bev" else iou_3d
    scores: list[float] = []
    outcome: list[int] = []  # 1 TP, 0 FP, -1 ignored
    positives = 0
    for (dboxes, dscores, dcls), (gboxes, gcls, gign) in zip(detections, ground_truth):
        dm = np.array([c == cls for c in dcls], dtype=bool)
        gm = np.array([c == cls for c in gcls], dtype=bool)
        gign = np.asarray(gign, dtype=bool)
        positives += int((gm & ~gign).sum())
        di = np.flatnonzero(dm)
        if len(di) == 0:
            continue
        order = di[np.argsort(-np.asarray(dscores)[di], kind="stable")]
        # the boxes a detection may match: valid ones of its class first, then the "don't care"
        # ones (ignored boxes of its class, boxes of a neighbouring class); each box takes one
        valid = np.flatnonzero(gm & ~gign)
        dont = np.flatnonzero((gm & gign) | np.array([c in neighbours for c in gcls], dtype=bool))
        iou_v = iou_fn(dboxes[order], gboxes[valid]) if len(valid) else np.zeros((len(order), 0))
        iou_d = iou_fn(dboxes[order], gboxes[dont]) if len(dont) else np.zeros((len(order), 0))
        taken_v = np.zeros(len(valid), dtype=bool)
        taken_d = np.zeros(len(dont), dtype=bool)
        for r, d in enumerate(order):
            scores.append(float(dscores[d]))
            if _take(iou_v[r], taken_v, iou_threshold):
                outcome.append(1)
            elif _take(iou_d[r], taken_d, iou_threshold):
                outcome.append(-1)
            else:
                outcome.append(0)
    s = np.asarray(scores)
    o = np.asarray(outcome)
    keep = o >= 0
    s, o = s[keep], o[keep]
    rank = np.argsort(-s, kind="stable")
    o = o[rank]
    tp = np.cumsum(o == 1)
    fp = np.cumsum(o == 0)
    if positives == 0:
        return APResult(0.0, 0, len(o), 0)
    recall = tp / positives
    precision = tp / np.maximum(tp + fp, 1)
    # monotone precision envelope
    prec_env = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    ap = 0.0
    for r in np.linspace(1 / 40, 1.0, 40):
        hit = np.flatnonzero(recall >= r - 1e-12)
        ap += float(prec_env[hit[0]]) if len(hit) else 0.0
    return APResult(ap / 40, positives, len(o), int(tp[-1]) if len(tp) else 0)


def evaluate_ap(
    detections: Sequence[FrameDet],
    ground_truth: Sequence[FrameGT],
    classes: Sequence[str] = tuple(DEFAULT_THRESHOLDS),
    thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS,
    kind: Literal["bev", "3d"] = "bev",
    neighbours: Mapping[str, Sequence[str]] = DEFAULT_NEIGHBOURS,
) -> dict[str, APResult]:
    """:func:`average_precision` of each class at its threshold; ``{class: APResult}``."""
    return {
        c: average_precision(detections, ground_truth, c, thresholds.get(c, 0.5), kind, neighbours.get(c, ()))
        for c in classes
    }


def ground_truth_frame(
    labels: Any,
    xyz_ego: NDArray[np.float32],
    min_points: int = 5,
    region: tuple[float, float, float, float] | None = None,
) -> FrameGT:
    """A frame's :class:`~fusionlabel.core.labels.FrameLabels` as AP ground truth, ignored where
    fewer than ``min_points`` of ``xyz_ego`` ((M, 3) ego-frame points) lie in the box or its
    centre lies outside ``region = (x_min, x_max, y_min, y_max)`` (when given)."""
    boxes = labels.boxes
    ignored = np.zeros(len(boxes), bool)
    if len(boxes):
        ignored |= points_in_boxes(xyz_ego, boxes).sum(axis=0) < min_points
        if region is not None:
            x, y = boxes.center[:, 0], boxes.center[:, 1]
            ignored |= ~((x >= region[0]) & (x < region[1]) & (y >= region[2]) & (y < region[3]))
    return boxes, list(labels.categories), ignored


@dataclass(frozen=True)
class RecordingEval:
    """:func:`evaluate_recordings` output: per-class BEV and 3D AP, frames, detector seconds."""

    bev: dict[str, APResult]
    iou3d: dict[str, APResult]
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")

    def table(self) -> dict[str, Any]:
        """``{class: {"AP_BEV", "AP_3D", "gt"}}``; AP None where the class has no positive."""
        return {
            c: {
                "AP_BEV": round(self.bev[c].ap, 4) if self.bev[c].positives else None,
                "AP_3D": round(self.iou3d[c].ap, 4) if self.iou3d[c].positives else None,
                "gt": self.bev[c].positives,
            }
            for c in self.bev
        }


def evaluate_recordings(
    detector: Any,
    recordings: Sequence[str | Path],
    classes: Sequence[str] = tuple(DEFAULT_THRESHOLDS),
    thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS,
    min_points: int = 5,
    region: tuple[float, float, float, float] | None = None,
    frame_step: int = 1,
) -> RecordingEval:
    """Run ``detector`` (anything with ``detect(frame, rig)`` returning detections with
    ``boxes``, ``scores``, ``classes``) on every ``frame_step``-th labelled frame of
    ``recordings``; BEV and 3D AP against :func:`ground_truth_frame`.

    ``seconds`` counts only ``detector.detect`` calls (not loading or the AP computation).
    """
    from fusionlabel.io.open import open_recording

    gts: list[FrameGT] = []
    dets: list[FrameDet] = []
    seconds = 0.0
    for r in recordings:
        rec = open_recording(r)
        labels = rec.labels
        if labels is None:
            raise DataError(Path(r), "recording has no labels to evaluate against")
        for fi in sorted(labels)[::frame_step]:
            frame = rec.frame(fi)
            t0 = time.perf_counter()
            d = detector.detect(frame, rec.rig)
            seconds += time.perf_counter() - t0
            dets.append((d.boxes, np.asarray(d.scores, float), [str(c) for c in d.classes]))
            gts.append(ground_truth_frame(labels.get(fi), lidar_points_ego(frame, rec.rig).xyz, min_points, region))
    return RecordingEval(
        evaluate_ap(dets, gts, classes, thresholds, "bev"),
        evaluate_ap(dets, gts, classes, thresholds, "3d"),
        len(dets),
        seconds,
    )
