"""Detection average precision (BEV or 3D IoU), KITTI-style 40-point interpolation; and a runner.

For one class ``c`` over a set of frames:

1. ground truth: boxes of class ``c`` that are *valid* (``gt_valid`` mask: e.g. enough LiDAR points,
   inside the evaluated region); invalid ones, and boxes of a *neighbouring* class (``Van`` for
   ``Car``) are "don't care": a detection matching them is neither a true nor a false positive;
2. detections of class ``c`` from all frames, sorted by decreasing score; each is a true positive
   when its best IoU with a still-unmatched valid ground-truth box of its frame is >= ``t_c``
   (that box becomes matched), ignored when it overlaps a don't-care box by >= ``t_c``, and a
   false positive otherwise;
3. ``precision_k = TP_k / (TP_k + FP_k)``, ``recall_k = TP_k / N_gt`` after the k-th detection;
   the interpolated precision ``p(r) = max_{recall_k >= r} precision_k``;
   ``AP = 1/40 sum_{r in {1/40, 2/40, ..., 1}} p(r)`` (KITTI's ``R40``, Simonelli et al. 2019).

IoU is :func:`fusionlabel.core.boxes.bev_iou` (``metric="bev"``) or :func:`~fusionlabel.core.boxes.iou_3d`.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> from fusionlabel.detect.api import Detections
>>> gt = [EvalFrame(Boxes.from_array([[10, 0, 1, 4, 2, 1.5, 0]]), np.array(["Car"]))]
>>> det = [Detections.from_arrays([[10.2, 0, 1, 4, 2, 1.5, 0], [30, 5, 1, 4, 2, 1.5, 0]], [0.9, 0.4], ["Car", "Car"])]
>>> r = average_precision(gt, det, "Car", 0.5)
>>> round(r.ap, 3), r.num_gt, r.tp, r.fp
(1.0, 1, 1, 1)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes, bev_iou, iou_3d, points_in_boxes
from fusionlabel.core.points import lidar_points_ego
from fusionlabel.detect.api import Detections

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
#: recall sample points of KITTI's R40 AP
R40 = np.linspace(1.0 / 40, 1.0, 40)


@dataclass(frozen=True)
class EvalFrame:
    """Ground truth of one frame for AP.

    boxes : N boxes (same frame as the detections, normally ego); classes : (N,) str;
    valid : (N,) bool, False for don't-care boxes (default: all valid)
    """

    boxes: Boxes
    classes: NDArray[np.str_]
    valid: NDArray[np.bool_] | None = None

    def valid_mask(self) -> NDArray[np.bool_]:
        return np.ones(len(self.boxes), bool) if self.valid is None else np.asarray(self.valid, bool)


@dataclass(frozen=True)
class APResult:
    """AP of one class: ``ap`` in [0, 1] (NaN without valid ground truth), counts, the PR curve."""

    cls: str
    iou_threshold: float
    metric: str
    ap: float
    num_gt: int
    num_det: int
    tp: int
    fp: int
    precision: NDArray[np.float64] = field(repr=False, default_factory=lambda: np.zeros(0))
    recall: NDArray[np.float64] = field(repr=False, default_factory=lambda: np.zeros(0))


def _iou(a: Boxes, b: Boxes, metric: str) -> NDArray[np.float64]:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return bev_iou(a, b) if metric == "bev" else iou_3d(a, b)


def ap_from_pr(precision: NDArray[np.float64], recall: NDArray[np.float64]) -> float:
    """R40 AP from a precision / recall curve (detections in decreasing score order)."""
    if len(precision) == 0:
        return 0.0
    # interpolated precision: p(r) = max precision at recall >= r
    env = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, R40, side="left")
    p = np.where(idx < len(env), env[np.minimum(idx, len(env) - 1)], 0.0)
    return float(p.mean())


def average_precision(
    gt: Sequence[EvalFrame],
    det: Sequence[Detections],
    cls: str,
    iou_threshold: float,
    metric: Literal["bev", "3d"] = "bev",
    neighbours: Sequence[str] = (),
) -> APResult:
    """AP of class ``cls`` over frames (``gt[i]`` and ``det[i]`` are the same frame); see the module docstring."""
    if len(gt) != len(det):
        raise ValueError(f"{len(gt)} ground-truth frames but {len(det)} detection frames")
    if metric not in ("bev", "3d"):
        raise ValueError(f"metric must be 'bev' or '3d', got {metric!r}")
    scores: list[NDArray[np.float64]] = []
    status: list[NDArray[np.int8]] = []  # 1 TP, 0 FP, -1 ignored
    num_gt = 0
    for g, d in zip(gt, det):
        gcls = np.asarray(g.classes).astype(str)
        valid = g.valid_mask()
        care = np.flatnonzero((gcls == cls) & valid)
        dont = np.flatnonzero(((gcls == cls) & ~valid) | np.isin(gcls, list(neighbours)))
        num_gt += len(care)
        di = np.flatnonzero(np.asarray(d.classes).astype(str) == cls)
        if len(di) == 0:
            continue
        di = di[np.argsort(-d.scores[di], kind="stable")]
        db = d.boxes[di]
        iou_c = _iou(db, g.boxes[care], metric)
        iou_d = _iou(db, g.boxes[dont], metric)
        matched = np.zeros(len(care), bool)
        st = np.zeros(len(di), np.int8)
        for k in range(len(di)):
            if len(care):
                cand = np.where(matched, -1.0, iou_c[k])
                j = int(np.argmax(cand))
                if cand[j] >= iou_threshold:
                    matched[j] = True
                    st[k] = 1
                    continue
            if len(dont) and iou_d[k].max() >= iou_threshold:
                st[k] = -1
        scores.append(d.scores[di])
        status.append(st)
    s = np.concatenate(scores) if scores else np.zeros(0)
    st_all = np.concatenate(status) if status else np.zeros(0, np.int8)
    keep = st_all >= 0
    s, st_all = s[keep], st_all[keep]
    order = np.argsort(-s, kind="stable")
    tp = np.cumsum(st_all[order] == 1).astype(np.float64)
    fp = np.cumsum(st_all[order] == 0).astype(np.float64)
    if num_gt == 0:
        return APResult(
            cls,
            iou_threshold,
            metric,
            float("nan"),
            0,
            len(s),
            int(tp[-1]) if len(tp) else 0,
            int(fp[-1]) if len(fp) else 0,
        )
    precision = tp / np.maximum(tp + fp, 1e-12)
    recall = tp / num_gt
    return APResult(
        cls,
        iou_threshold,
        metric,
        ap_from_pr(precision, recall),
        num_gt,
        len(s),
        int(tp[-1]) if len(tp) else 0,
        int(fp[-1]) if len(fp) else 0,
        precision,
        recall,
    )


def evaluate_ap(
    gt: Sequence[EvalFrame],
    det: Sequence[Detections],
    classes: Sequence[str] = tuple(DEFAULT_THRESHOLDS),
    thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS,
    metric: Literal["bev", "3d"] = "bev",
    neighbours: Mapping[str, Sequence[str]] = DEFAULT_NEIGHBOURS,
) -> dict[str, APResult]:
    """:func:`average_precision` of each class at its threshold; ``{class: APResult}``."""
    return {c: average_precision(gt, det, c, thresholds.get(c, 0.5), metric, neighbours.get(c, ())) for c in classes}


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
        return {
            c: {"AP_BEV": round(self.bev[c].ap, 4), "AP_3D": round(self.iou3d[c].ap, 4), "gt": self.bev[c].num_gt}
            for c in self.bev
        }


def evaluation_frame(
    labels: Any,
    xyz_ego: NDArray[np.float32],
    min_points: int = 5,
    region: tuple[float, float, float, float] | None = None,
) -> EvalFrame:
    """Ground truth of a frame's :class:`~fusionlabel.core.labels.FrameLabels` with don't-care boxes marked.

    A box is valid when at least ``min_points`` of ``xyz_ego`` ((M, 3) ego-frame points) lie in it
    and its centre lies inside ``region = (x_min, x_max, y_min, y_max)`` (when given).
    """
    boxes = labels.boxes
    valid = np.ones(len(boxes), bool)
    if len(boxes):
        valid &= points_in_boxes(xyz_ego, boxes).sum(axis=0) >= min_points
        if region is not None:
            x, y = boxes.center[:, 0], boxes.center[:, 1]
            valid &= (x >= region[0]) & (x < region[1]) & (y >= region[2]) & (y < region[3])
    return EvalFrame(boxes, np.asarray(labels.categories, dtype=str) if len(boxes) else np.zeros(0, str), valid)


def evaluate_recordings(
    detector: Any,
    recordings: Sequence[str | Path],
    classes: Sequence[str] = tuple(DEFAULT_THRESHOLDS),
    thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS,
    min_points: int = 5,
    region: tuple[float, float, float, float] | None = None,
    frame_step: int = 1,
) -> RecordingEval:
    """Run ``detector`` on every ``frame_step``-th labelled frame of ``recordings``; BEV and 3D AP.

    ``seconds`` counts only ``detector.detect`` calls (not loading or the AP computation).
    """
    from fusionlabel.io.open import open_recording

    gts: list[EvalFrame] = []
    dets: list[Detections] = []
    seconds = 0.0
    for r in recordings:
        rec = open_recording(r)
        labels = rec.labels
        if labels is None:
            from fusionlabel.core.errors import DataError

            raise DataError(Path(r), "recording has no labels to evaluate against")
        for fi in sorted(labels)[::frame_step]:
            frame = rec.frame(fi)
            t0 = time.perf_counter()
            d = detector.detect(frame, rec.rig)
            seconds += time.perf_counter() - t0
            dets.append(d)
            gts.append(evaluation_frame(labels.get(fi), lidar_points_ego(frame, rec.rig).xyz, min_points, region))
    return RecordingEval(
        evaluate_ap(gts, dets, classes, thresholds, "bev"),
        evaluate_ap(gts, dets, classes, thresholds, "3d"),
        len(dets),
        seconds,
    )
