"""Average precision of 3D detectors, BEV and 3D IoU, per class.

Definition (KITTI R40 style)
----------------------------
For one class and one IoU threshold ``t``:

1. Per frame, detections are sorted by score and matched greedily to the not yet matched
   ground-truth box of the same class with the highest IoU; a match needs ``IoU >= t``.
2. Ground truth flagged *ignored* (too few LiDAR points, beyond range) is "don't care": a
   detection matching it is neither a true nor a false positive, and it is not counted in the
   number of positives.
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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes, bev_iou, iou_3d

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


def average_precision(
    detections: Sequence[FrameDet],
    ground_truth: Sequence[FrameGT],
    cls: str,
    iou_threshold: float,
    kind: Literal["bev", "3d"] = "bev",
) -> APResult:
    """AP of one class over frames (``detections[k]`` and ``ground_truth[k]`` are the same frame)."""
    if len(detections) != len(ground_truth):
        raise ValueError("detections and ground truth must list the same frames")
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
        gi = np.flatnonzero(gm)
        iou = iou_fn(dboxes[order], gboxes[gi]) if len(gi) else np.zeros((len(order), 0))
        taken = np.zeros(len(gi), dtype=bool)
        for r, d in enumerate(order):
            scores.append(float(dscores[d]))
            if len(gi) == 0:
                outcome.append(0)
                continue
            cand = np.where(taken, -1.0, iou[r])
            j = int(np.argmax(cand))
            if cand[j] >= iou_threshold:
                taken[j] = True
                outcome.append(-1 if gign[gi[j]] else 1)
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
