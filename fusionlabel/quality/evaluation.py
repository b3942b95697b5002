"""Tracking evaluation: every metric of ``fusionlabel eval`` from a list of sequences.

:func:`evaluate_sequences` runs the KITTI/AB3DMOT CLEAR sweep (:mod:`.clear_mot`), HOTA
(:mod:`.hota`), IDF1 (:mod:`.idf1`), the correction effort (:mod:`.edit_ops`) and, where review
queues are given, the review metrics (:mod:`.review_metrics`). :func:`evaluate_kitti` and
:func:`evaluate_native` build the sequences from files.

Which results each metric sees
------------------------------
* sAMOTA, AMOTA, AMOTP: the recall sweep over score thresholds;
* MOTA, MOTP, IDS, FRAG, FP, FN, TP, MT, ML: at the best-MOTA threshold (AB3DMOT's table);
* HOTA, IDF1: all results, no score threshold (TrackEval also scores HOTA on all boxes), after
  the ignore rules;
* edit_ops, review_load, error_coverage: the pre-labels as delivered to the annotator, after the
  ignore rules: the result tracks whose mean score reaches the operating point the tool
  declares in its review files (``score_threshold``), all results where none is declared.

Example
-------
>>> import numpy as np
>>> from fusionlabel.quality.clear_mot import EvalFrame, EvalSequence
>>> fr = tuple(EvalFrame.simple(k, [1], [1], [[1.0]]) for k in range(3))
>>> s = evaluate_sequences([EvalSequence("a", fr, 3)]).summary()
>>> (s["MOTA"], s["HOTA"], s["IDS"], s["edit_ops"], s["keyframe_ops"])
(100.0, 100.0, 0, 0, 2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import iou_3d
from fusionlabel.core.errors import DataError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.quality.clear_mot import (
    NO_THRESHOLD,
    ClearEvaluator,
    ClearResult,
    EvalFrame,
    EvalSequence,
    SweepResult,
    kitti_sweep,
)
from fusionlabel.quality.edit_ops import EditOps, edit_ops_total
from fusionlabel.quality.hota import HotaResult, combine_hota, hota_sequence
from fusionlabel.quality.idf1 import IdResult, combine_idf1, idf1_sequence
from fusionlabel.quality.review_metrics import (
    ReviewMetrics,
    load_review_queues,
    load_review_thresholds,
    review_metrics,
)

DEFAULT_IOU = 0.25


@dataclass(frozen=True)
class EvaluationReport:
    """All figures of one evaluation; :meth:`summary` flattens them (percentages 0-100)."""

    cls: str
    iou_threshold: float
    sweep: SweepResult
    hota: HotaResult
    idf1: IdResult
    edit: EditOps
    review: ReviewMetrics | None
    sequences: int
    delivered: ClearResult | None = None
    prelabel_thresholds: Mapping[str, float] | None = None
    #: what a native evaluation adds: ground truth counts, per-class and per-range figures
    extra: Mapping[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        b = self.sweep.best
        h = self.hota.summary()

        def pct(x: float) -> float | None:
            return None if x is None or math.isnan(x) or math.isinf(x) else round(100.0 * x, 4)

        out: dict[str, Any] = {
            "class": self.cls,
            "iou_threshold": self.iou_threshold,
            "sequences": self.sequences,
            "sAMOTA": pct(self.sweep.samota),
            "AMOTA": pct(self.sweep.amota),
            "AMOTP": pct(self.sweep.amotp),
            "MOTA": pct(b.mota),
            "MOTP": pct(b.motp),
            "IDS": b.ids,
            "FRAG": b.frag,
            "FP": b.fp,
            "FN": b.fn,
            "TP": b.tp - b.itp,
            "MT": pct(b.mt),
            "ML": pct(b.ml),
            "recall": pct(b.recall),
            "precision": pct(b.precision),
            # None when no sweep threshold beat "keep everything" (no placeholder number)
            "best_threshold": None if b.threshold <= NO_THRESHOLD else b.threshold,
            "n_gt": b.n_gt,
            "IDF1": pct(self.idf1.idf1),
            "IDP": pct(self.idf1.idp),
            "IDR": pct(self.idf1.idr),
            "HOTA": pct(h["HOTA"]),
            "DetA": pct(h["DetA"]),
            "AssA": pct(h["AssA"]),
            "LocA": pct(h["LocA"]),
            "IDS_all": self.sweep.base.ids,
            "FRAG_all": self.sweep.base.frag,
            "edit_ops": self.edit.edit_ops,
            "keyframe_ops": self.edit.keyframe_ops,
            "edit_ratio": None if math.isinf(self.edit.ratio) else round(self.edit.ratio, 4),
            "prelabels": None
            if self.delivered is None
            else {
                "thresholds": dict(self.prelabel_thresholds or {}),
                "tracks": len(
                    {(k, int(t)) for k, fr in self.delivered.assigned.items() for f in fr for t in f.trk_ids}
                ),
                "IDS": self.delivered.ids,
                "FRAG": self.delivered.frag,
                "FP": self.delivered.fp,
                "FN": self.delivered.fn,
                "MOTA": pct(self.delivered.mota),
            },
            "edit_breakdown": {
                "deletes": self.edit.deletes,
                "reassigns": self.edit.reassigns,
                "merges": self.edit.merges,
                "adds": self.edit.adds,
            },
        }
        if self.extra:
            out.update(dict(self.extra))
        if self.review is not None:
            r = self.review
            out.update(
                review_load=round(r.review_load, 6),
                error_coverage=round(r.error_coverage, 6),
                review={
                    "sequences": r.sequences,
                    "queued_frames": r.queued_frames,
                    "total_frames": r.total_frames,
                    "error_events": r.error_events,
                    "covered_events": r.covered_events,
                    "ids_events": r.ids_events,
                    "ids_coverage": round(r.ids_coverage, 6),
                    "identity_events": r.identity_events,
                    "identity_covered": r.identity_covered,
                    "identity_coverage": round(r.identity_coverage, 6),
                },
            )
        return out


def evaluate_sequences(
    sequences: Sequence[EvalSequence],
    iou_threshold: float = DEFAULT_IOU,
    queues: Mapping[str, tuple[set[int], int]] | None = None,
    cls: str = "",
    review_window: int = 0,
    prelabel_thresholds: Mapping[str, float] | None = None,
    exact_means: bool = False,
) -> EvaluationReport:
    """Every metric on prepared sequences (see the module docstring for which results each uses).

    ``prelabel_thresholds`` (sequence -> operating point) selects the pre-labels that
    ``edit_ops`` and the review metrics score: the result tracks whose mean score reaches it
    (:func:`prelabel_sequences`); ``None`` scores all results. ``exact_means`` sums the track mean
    scores of the sweep exactly instead of with AB3DMOT's drifting float sum
    (:class:`~fusionlabel.quality.clear_mot.ClearEvaluator`).
    """
    ev = ClearEvaluator(sequences, iou_threshold, exact_means=exact_means)
    sweep = kitti_sweep(ev)
    hs, ids = [], []
    for s in sequences:
        frames = [(f.gt_ids, f.trk_ids, f.similarity) for f in sweep.base.assigned[s.name]]
        hs.append(hota_sequence(frames))
        ids.append(idf1_sequence(frames, iou_threshold))
    delivered = None
    base = sweep.base
    if prelabel_thresholds:
        pre = prelabel_sequences(sequences, prelabel_thresholds)
        delivered = base = ClearEvaluator(pre, iou_threshold).run(details=True)
    edit = edit_ops_total(base.assigned[s.name] for s in sequences)
    review = review_metrics(base.events, queues, review_window) if queues else None
    return EvaluationReport(
        cls,
        iou_threshold,
        sweep,
        combine_hota(hs),
        combine_idf1(ids),
        edit,
        review,
        len(sequences),
        delivered,
        prelabel_thresholds,
    )


def track_mean_scores(seq: EvalSequence) -> dict[int, float]:
    """Result track id -> mean score over the sequence (sequential float sum, as the sweep)."""
    acc: dict[int, list[float]] = {}
    for f in seq.frames:
        for t, s in zip(f.trk_ids.tolist(), f.trk_scores.tolist()):
            acc.setdefault(t, []).append(s)
    return {t: float(np.cumsum(v)[-1]) / len(v) for t, v in acc.items()}


def prelabel_sequences(sequences: Sequence[EvalSequence], thresholds: Mapping[str, float]) -> list[EvalSequence]:
    """The sequences with only the result tracks whose mean score is at least the sequence's
    threshold (sequences without one keep every track): the pre-labels the tool delivers."""
    out = []
    for s in sequences:
        thr = thresholds.get(s.name)
        if thr is None:
            out.append(s)
            continue
        means = track_mean_scores(s)
        frames = []
        for f in s.frames:
            k = np.array([means[t] >= thr for t in f.trk_ids.tolist()], dtype=bool)
            frames.append(
                EvalFrame(
                    f.frame,
                    f.gt_ids,
                    f.gt_ignored,
                    f.trk_ids[k],
                    f.trk_scores[k],
                    f.trk_ignorable[k],
                    f.similarity[:, k],
                )
            )
        out.append(EvalSequence(s.name, tuple(frames), s.n_frames))
    return out


def evaluate_kitti(
    gt_dir: str | Path,
    results_dir: str | Path,
    seqmap: str | Path,
    cls: str = "Car",
    iou_threshold: float = DEFAULT_IOU,
    exact_means: bool = False,
) -> EvaluationReport:
    """KITTI tracking evaluation (:mod:`.kitti_eval` rules); review queues read beside the results.
    ``exact_means``: see :func:`evaluate_sequences` (False reproduces AB3DMOT's script)."""
    from fusionlabel.quality.kitti_eval import load_kitti

    seqs = load_kitti(gt_dir, results_dir, seqmap, cls)
    names = [s.name for s in seqs]
    queues = load_review_queues(results_dir, names)
    thresholds = load_review_thresholds(results_dir, names)
    return evaluate_sequences(
        seqs, iou_threshold, queues or None, cls, prelabel_thresholds=thresholds or None, exact_means=exact_means
    )


def labelsets_sequence(
    name: str,
    gt: LabelSet,
    results: LabelSet,
    n_frames: int,
    category: str | None = None,
    gt_points: Mapping[int, NDArray[np.int64]] | None = None,
) -> EvalSequence:
    """An :class:`EvalSequence` from two label sets (ego frame).

    ``category`` keeps only boxes of that category (case-insensitive) on both sides; ``None``
    keeps all boxes and matches across categories. ``gt_points`` (frame -> (G,) LiDAR points in
    each ground-truth box of that frame, in the frame's order) marks ground truth without a point
    as *ignored*, as nuScenes drops it: a result matching it is neither a TP nor a FP, missing it
    is no FN (frames absent from ``gt_points`` keep all their ground truth).
    """

    def mask(fl: Any) -> NDArray[np.bool_]:
        if category is None:
            return np.ones(len(fl), dtype=bool)
        return np.array([c.lower() == category.lower() for c in fl.categories], dtype=bool)

    frames = []
    for k in sorted(set(gt.frames) | set(results.frames)):
        g0, r0 = gt.get(k), results.get(k)
        mg = mask(g0)
        g, r = g0.select(mg), r0.select(mask(r0))
        if len(g) == 0 and len(r) == 0:
            continue
        sim = iou_3d(g.boxes, r.boxes) if len(g) and len(r) else np.zeros((len(g), len(r)))
        ignored = np.zeros(len(g), dtype=bool)
        if gt_points is not None and k in gt_points:
            ignored = np.asarray(gt_points[k])[mg] == 0
        frames.append(EvalFrame(k, g.track_ids, ignored, r.track_ids, r.scores, np.zeros(len(r), dtype=bool), sim))
    return EvalSequence(name, tuple(frames), n_frames)


def map_categories(labels: LabelSet, class_map: Mapping[str, str]) -> LabelSet:
    """``labels`` with categories renamed through ``class_map`` (e.g. ``{"Van": "Car"}``; others kept)."""
    if not class_map:
        return labels
    out = {}
    for k, fl in labels.frames.items():
        cats = tuple(class_map.get(c, c) for c in fl.categories)
        out[k] = FrameLabels(fl.track_ids, cats, fl.boxes, fl.scores, fl.attributes)
    return LabelSet(out)


def parse_class_map(text: str | None) -> dict[str, str]:
    """``"Van=Car,Truck=Car"`` -> ``{"Van": "Car", "Truck": "Car"}``; ``ValueError`` on a bad entry.

    >>> parse_class_map("Van=Car, Bus=Truck")
    {'Van': 'Car', 'Bus': 'Truck'}
    """
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        src, sep, dst = part.partition("=")
        if not sep or not src.strip() or not dst.strip() or "=" in dst:
            raise ValueError(f"class map entry {part.strip()!r} is not NAME=NAME")
        if src.strip() in out and out[src.strip()] != dst.strip():
            raise ValueError(f"class {src.strip()!r} is mapped twice ({out[src.strip()]} and {dst.strip()})")
        out[src.strip()] = dst.strip()
    return out


#: BEV range bins of the per-range figures, metres from the ego origin ([lo, hi))
RANGE_BINS: tuple[tuple[float, float], ...] = ((0.0, 30.0), (30.0, 50.0), (50.0, 80.0), (80.0, math.inf))


def range_bin_name(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g}" if math.isfinite(hi) else f"{lo:g}+"


def select_range(labels: LabelSet, lo: float, hi: float) -> LabelSet:
    """The boxes whose BEV centre distance from the ego origin lies in ``[lo, hi)``."""
    out = {}
    for k, fl in labels.frames.items():
        d = np.hypot(fl.boxes.center[:, 0], fl.boxes.center[:, 1])
        sel = fl.select((d >= lo) & (d < hi))
        if len(sel):
            out[k] = sel
    return LabelSet(out)


def count_gt_points(rec: Any, gt: LabelSet) -> tuple[dict[int, NDArray[np.int64]], list[str]]:
    """LiDAR points inside each ground-truth box, per frame (in the frame's box order), from the
    recording's own clouds in the ego frame; frames whose clouds cannot be read are left out and
    named in the second return value."""
    from fusionlabel.core.boxes import points_in_boxes
    from fusionlabel.core.errors import FusionLabelError
    from fusionlabel.core.points import lidar_points_ego

    counts: dict[int, NDArray[np.int64]] = {}
    problems: list[str] = []
    for k, fl in gt.frames.items():
        if not 0 <= k < len(rec) or len(fl) == 0:
            continue
        try:
            frame = rec.frame(k)
            if not frame.lidar:
                continue
            xyz = lidar_points_ego(frame, rec.rig).xyz
        except (FusionLabelError, KeyError) as exc:
            problems.append(f"frame {k}: {exc}")
            continue
        inside = points_in_boxes(xyz, fl.boxes) if len(xyz) else np.zeros((0, len(fl)), dtype=bool)
        counts[k] = np.asarray(inside, dtype=bool).reshape(len(xyz), len(fl)).sum(axis=0).astype(np.int64)
    return counts, problems


def evaluate_native(
    recording: str | Path,
    labels: str | Path,
    cls: str | None = None,
    iou_threshold: float = DEFAULT_IOU,
    class_map: Mapping[str, str] | None = None,
    seen_only: bool = True,
    breakdown: bool = True,
) -> EvaluationReport:
    """Score a native label file against the ground truth a recording carries (any format
    :func:`fusionlabel.io.open.open_recording` reads: a synthetic recording, KITTI tracking,
    nuScenes, Argoverse 2, TRI DGP, ...). The review file beside the labels, when there is one,
    gives the review load and coverage.

    ``class_map`` renames categories on both sides first (a detector with another taxonomy);
    ``seen_only`` ignores ground truth with no LiDAR point of the recording inside (counted from
    the recording's own clouds), as nuScenes does; ``breakdown`` adds the figures per class and
    per BEV range bin (:data:`RANGE_BINS`) to :attr:`EvaluationReport.breakdown`.

    Raises :class:`DataError` when the recording has no ground truth.
    """
    from fusionlabel.io.native_labels import check_within, read_labels, resolve_label_path
    from fusionlabel.io.open import open_recording

    labels = resolve_label_path(labels)  # a label file or a prelabel output folder
    rec = open_recording(recording)
    gt = rec.labels
    if gt is None or len(gt) == 0:
        raise DataError(Path(recording), "the recording carries no ground-truth labels")
    res = read_labels(labels)
    check_within(res, len(rec), labels)
    gt, res = map_categories(gt, class_map or {}), map_categories(res, class_map or {})
    points, problems = count_gt_points(rec, gt) if seen_only else ({}, [])
    name = Path(recording).name
    seq = labelsets_sequence(name, gt, res, len(rec), cls, points)
    queues = {}
    thresholds: dict[str, float] = {}
    from fusionlabel.io.review_file import find_review, read_review

    rp = find_review(labels)  # labels.review.json (prelabel, the app), or an older prelabel's review.json
    q = read_review(rp).queue if rp is not None else None
    if q is not None:
        queues[seq.name] = (set(q.frames), q.num_frames)
        if q.score_threshold is not None:
            thresholds[seq.name] = q.score_threshold
    report = evaluate_sequences(
        [seq], iou_threshold, queues or None, cls or "all", prelabel_thresholds=thresholds or None
    )
    n_gt = sum(len(fl) for fl in gt.frames.values())
    unseen = sum(int((c == 0).sum()) for c in points.values())
    extra: dict[str, Any] = {
        "gt_boxes": n_gt,
        "gt_without_points": unseen if seen_only else None,
        "point_count_problems": problems,
        "class_map": dict(class_map or {}),
    }
    if breakdown:
        extra["by_class"] = {
            c: _brief(evaluate_sequences([labelsets_sequence(name, gt, res, len(rec), c, points)], iou_threshold))
            for c in sorted({c for fl in gt.frames.values() for c in fl.categories})
            if cls is None or c.lower() == cls.lower()
        }
        by_range = {}
        for lo, hi in RANGE_BINS:
            g_bin = select_range(gt, lo, hi)
            if g_bin.num_boxes == 0:
                continue
            p_bin = {k: points[k][_range_mask(gt.get(k), lo, hi)] for k in g_bin.frames if k in points}
            seq_bin = labelsets_sequence(name, g_bin, select_range(res, lo, hi), len(rec), cls, p_bin)
            by_range[range_bin_name(lo, hi)] = _brief(evaluate_sequences([seq_bin], iou_threshold))
        extra["by_range"] = by_range
    return replace(report, extra=extra)


def _range_mask(fl: FrameLabels, lo: float, hi: float) -> NDArray[np.bool_]:
    d = np.hypot(fl.boxes.center[:, 0], fl.boxes.center[:, 1])
    return (d >= lo) & (d < hi)


def _brief(r: EvaluationReport) -> dict[str, Any]:
    """The headline figures of a sub-report (per class, per range bin)."""
    s = r.summary()
    keys = (
        "n_gt",
        "MOTA",
        "MOTP",
        "IDS",
        "FP",
        "FN",
        "recall",
        "precision",
        "IDF1",
        "HOTA",
        "edit_ops",
        "keyframe_ops",
        "edit_ratio",
    )
    return {k: s[k] for k in keys}
