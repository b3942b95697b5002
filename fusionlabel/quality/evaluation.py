"""Tracking evaluation: every metric of ``fusionlabel eval`` from a list of sequences.

:func:`evaluate_sequences` runs the KITTI/AB3DMOT CLEAR sweep (:mod:`.clear_mot`), HOTA
(:mod:`.hota`), IDF1 (:mod:`.idf1`), the correction effort (:mod:`.edit_ops`) and, where review
queues are given, the review metrics (:mod:`.review_metrics`). :func:`evaluate_kitti` and
:func:`evaluate_native` build the sequences from files.

Which results each metric sees
------------------------------
* sAMOTA, AMOTA, AMOTP: the recall sweep over score thresholds;
* MOTA, MOTP, IDS, FRAG, FP, FN, TP, MT, ML: at the best-MOTA threshold (AB3DMOT's table);
* HOTA, IDF1, edit_ops, review_load, error_coverage: all results, no score threshold (the
  pre-labels as delivered; TrackEval also scores HOTA on all boxes), after the ignore rules.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.boxes import iou_3d
from fusionlabel.core.errors import DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.quality.clear_mot import ClearEvaluator, EvalFrame, EvalSequence, SweepResult, kitti_sweep
from fusionlabel.quality.edit_ops import EditOps, edit_ops_total
from fusionlabel.quality.hota import HotaResult, combine_hota, hota_sequence
from fusionlabel.quality.idf1 import IdResult, combine_idf1, idf1_sequence
from fusionlabel.quality.review_metrics import ReviewMetrics, load_review_queues, review_metrics

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
            "best_threshold": b.threshold,
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
            "edit_breakdown": {
                "deletes": self.edit.deletes,
                "reassigns": self.edit.reassigns,
                "merges": self.edit.merges,
                "adds": self.edit.adds,
            },
        }
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
                },
            )
        return out


def evaluate_sequences(
    sequences: Sequence[EvalSequence],
    iou_threshold: float = DEFAULT_IOU,
    queues: Mapping[str, tuple[set[int], int]] | None = None,
    cls: str = "",
    review_window: int = 0,
) -> EvaluationReport:
    """Every metric on prepared sequences (see the module docstring for which results each uses)."""
    ev = ClearEvaluator(sequences, iou_threshold)
    sweep = kitti_sweep(ev)
    hs, ids = [], []
    for s in sequences:
        frames = [(f.gt_ids, f.trk_ids, f.similarity) for f in sweep.base.assigned[s.name]]
        hs.append(hota_sequence(frames))
        ids.append(idf1_sequence(frames, iou_threshold))
    edit = edit_ops_total(sweep.base.assigned[s.name] for s in sequences)
    review = review_metrics(sweep.base.events, queues, review_window) if queues else None
    return EvaluationReport(cls, iou_threshold, sweep, combine_hota(hs), combine_idf1(ids), edit, review, len(sequences))


def evaluate_kitti(
    gt_dir: str | Path,
    results_dir: str | Path,
    seqmap: str | Path,
    cls: str = "Car",
    iou_threshold: float = DEFAULT_IOU,
) -> EvaluationReport:
    """KITTI tracking evaluation (:mod:`.kitti_eval` rules); review queues read beside the results."""
    from fusionlabel.quality.kitti_eval import load_kitti

    seqs = load_kitti(gt_dir, results_dir, seqmap, cls)
    queues = load_review_queues(results_dir, [s.name for s in seqs])
    return evaluate_sequences(seqs, iou_threshold, queues or None, cls)


def labelsets_sequence(
    name: str, gt: LabelSet, results: LabelSet, n_frames: int, category: str | None = None
) -> EvalSequence:
    """An :class:`EvalSequence` from two label sets (ego frame, no ignore rules).

    ``category`` keeps only boxes of that category (case-insensitive) on both sides; ``None``
    keeps all boxes and matches across categories.
    """

    def pick(fl: Any) -> Any:
        if category is None:
            return fl
        return fl.select(np.array([c.lower() == category.lower() for c in fl.categories], dtype=bool))

    frames = []
    for k in sorted(set(gt.frames) | set(results.frames)):
        g, r = pick(gt.get(k)), pick(results.get(k))
        if len(g) == 0 and len(r) == 0:
            continue
        sim = iou_3d(g.boxes, r.boxes) if len(g) and len(r) else np.zeros((len(g), len(r)))
        frames.append(EvalFrame.simple(k, g.track_ids, r.track_ids, sim, r.scores))
    return EvalSequence(name, tuple(frames), n_frames)


def evaluate_native(
    recording: str | Path,
    labels: str | Path,
    cls: str | None = None,
    iou_threshold: float = DEFAULT_IOU,
) -> EvaluationReport:
    """Score a native label file against the ground truth a native recording carries.

    Raises :class:`DataError` when the recording has no ground truth.
    """
    from fusionlabel.io.native import MANIFEST, open_native
    from fusionlabel.io.native_labels import read_labels

    rec = open_native(recording)
    gt = rec.labels()
    if gt is None:
        raise DataError(Path(recording) / MANIFEST, "the recording carries no ground-truth labels")
    res = read_labels(labels)
    seq = labelsets_sequence(Path(recording).name, gt, res, len(rec), cls)
    lp = Path(labels)
    queues = {}
    review = lp.with_name(lp.name.removesuffix(".json") + ".review.json")
    if review.is_file():
        from fusionlabel.track.review import ReviewQueue

        q = ReviewQueue.load_file(review)
        queues[seq.name] = (set(q.frames), q.num_frames)
    return evaluate_sequences([seq], iou_threshold, queues or None, cls or "all")
