"""Learning from the annotator: fine-tune the learned detector on the frames an annotator
labelled or corrected (the *seed*), then pre-label the recording again (``fusionlabel adapt``).

Flow for a recording ``R`` and a native label file ``SEED``::

    seed frames   = the frames of SEED an annotator labelled (:func:`labelled_frames`)
    samples       = their LiDAR points and boxes (classes of the detector only)
    adapted.pt    = pillars checkpoint fine-tuned on the samples, with copy-paste, flip,
                    rotation and scaling (fusionlabel.detect.pillars.finetune)
    pre-labels    = prelabel(R, adapted detector): detect, track, refine, review queue
    labels        = the pre-labels with SEED's frames put back exactly as they are, and each
                    pre-labelled track that matches a seed box on a seed frame renamed to the
                    seed's track id (:func:`merge_with_seed`)

and writes ``OUT/<name>/``: ``labels.json`` (seed frames as in SEED, the rest *proposed*),
``labels.review.json`` (the queue of the adapted pre-labels, seed frames left out: they are
done), ``adapted.pt`` (the checkpoint; its metadata's ``adaptation`` names the base weights and
their SHA-256, the recording, the seed file and its frames, every option) and ``report.json``
(as ``fusionlabel prelabel`` writes it, so ``fusionlabel open OUT/<name>`` opens the result, plus
the ``adaptation`` provenance). An existing output is handled as ``fusionlabel prelabel`` does
(:func:`fusionlabel.pipeline.batch.output_status`): an annotator's work is never replaced
without ``overwrite``. The base weights are only read, never written.

Bad input is refused before any training, each error naming the file: a SEED without a box, a
seed frame past the recording's end, a seed class the detector lacks (unless
``skip_unknown_classes``: those boxes stay in the labels and are not trained on), a corrupt or
foreign checkpoint.

Example
-------
>>> from fusionlabel.pipeline.adapt import labelled_frames
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> from fusionlabel.core.labels import FrameLabels, LabelSet
>>> box = Boxes.from_array([[5, 0, 0.8, 4, 1.8, 1.5, 0]])
>>> ls = LabelSet({0: FrameLabels([1], ["Car"], box, attributes=[{"state": "edited"}]),
...                1: FrameLabels([1], ["Car"], box, attributes=[{"state": "proposed"}])})
>>> labelled_frames(ls)
[0]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.boxes import bev_iou, greedy_pairs
from fusionlabel.core.edits import box_state
from fusionlabel.core.errors import DataError, EditingElsewhereError, FusionLabelError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.review import ReviewQueue

#: the adapted checkpoint's name in the output folder
CHECKPOINT = "adapted.pt"

#: ``progress(phase, done, total)``; phases ``"fine-tuning"`` and ``"pre-labelling"``
AdaptProgress = Callable[[str, int, int], None]


class AdaptCancelled(FusionLabelError):
    """The caller's ``cancel()`` returned True; nothing was written."""


@dataclass(frozen=True)
class AdaptResult:
    """What :func:`adapt` wrote and found: the labels, the queue, the checkpoint and the report."""

    labels: LabelSet
    review: ReviewQueue
    checkpoint: Path
    out_dir: Path
    report: Mapping[str, Any] = field(default_factory=dict)


def labelled_frames(labels: LabelSet, resolved: Iterable[int] = ()) -> list[int]:
    """The frames of a label file that an annotator labelled: frames with boxes none of which is
    still *proposed* (every box accepted, edited or hand-made: ground truth counts), frames
    resolved in the review (``resolved``), and, in a file without any proposed box, its empty
    frames (labelled as holding nothing)."""
    done = {int(k) for k in resolved}
    any_proposed = any(box_state(a) == "proposed" for fl in labels.frames.values() for a in fl.attributes)
    out = []
    for k, fl in labels.frames.items():
        states = [box_state(a) for a in fl.attributes]
        if k in done or (len(fl) and "proposed" not in states) or (len(fl) == 0 and not any_proposed):
            out.append(int(k))
    return sorted(out)


def read_seed(
    path: str | Path,
    num_frames: int,
    classes: tuple[str, ...],
    skip_unknown_classes: bool = False,
) -> LabelSet:
    """The seed frames of a native label file (:func:`labelled_frames`; the review file beside
    it, when there is one, adds its resolved frames), checked.

    Raises
    ------
    DataError : naming the file: no labelled box, a frame past the recording's ``num_frames``,
        a class outside ``classes`` (unless ``skip_unknown_classes``)
    """
    from fusionlabel.io.native_labels import check_within, read_labels, resolve_label_path
    from fusionlabel.io.review_file import find_review, read_review

    p = resolve_label_path(path)
    labels = read_labels(p)
    rp = find_review(p)
    resolved = read_review(rp).resolutions.keys() if rp is not None else ()
    frames = labelled_frames(labels, resolved)
    seed = LabelSet({k: labels.get(k) for k in frames})
    if seed.num_boxes == 0:
        what = "no box" if labels.num_boxes == 0 else "no frame an annotator labelled (every box is still proposed)"
        raise DataError(p, f"holds {what}: label or correct a few frames first, then adapt")
    check_within(seed, num_frames, p)
    unknown = sorted({c for fl in seed.frames.values() for c in fl.categories} - set(classes))
    if unknown and not skip_unknown_classes:
        raise DataError(
            p,
            f"class(es) {', '.join(unknown)} are not among the detector's ({', '.join(classes)}); "
            "pass --skip-unknown-classes to keep those boxes without training on them",
        )
    return seed


def merge_with_seed(pre: LabelSet, seed: LabelSet, iou: float = 0.3) -> tuple[LabelSet, dict[int, int]]:
    """The pre-labels with the seed frames put back exactly, and tracks linked to the seed.

    A pre-labelled track whose box on a seed frame overlaps a seed box (BEV IoU >= ``iou``, one
    to one per frame, best first) takes that seed box's track id, when no other track that
    shares a frame with it takes the same id (the longer track wins). Every other track gets an
    id above the seed's. The boxes pre-labelled on seed frames are dropped: the seed's stand.

    Returns the merged labels and the map old pre-label id -> new id.
    """
    votes: dict[int, dict[int, int]] = {}
    for k, sf in seed.frames.items():
        pf = pre.get(k)
        if len(pf) == 0 or len(sf) == 0:
            continue
        for i, j in greedy_pairs(bev_iou(pf.boxes, sf.boxes), iou):  # (P, S)
            t, s = int(pf.track_ids[i]), int(sf.track_ids[j])
            votes.setdefault(t, {})
            votes[t][s] = votes[t].get(s, 0) + 1
    lengths = {int(t): 0 for t in pre.track_ids}
    frames_of: dict[int, set[int]] = {int(t): set() for t in pre.track_ids}
    for k, fl in pre.frames.items():
        for t in fl.track_ids:
            lengths[int(t)] += 1
            frames_of[int(t)].add(int(k))
    remap: dict[int, int] = {}
    taken: dict[int, list[int]] = {}  # seed id -> pre tracks renamed to it
    for t in sorted(votes, key=lambda t: (-lengths[t], t)):
        s = max(votes[t], key=lambda s: (votes[t][s], -s))
        if any(frames_of[t] & frames_of[o] for o in taken.get(s, [])):
            continue
        remap[t] = s
        taken.setdefault(s, []).append(t)
    next_id = int(max([*seed.track_ids.tolist(), *[int(v) for v in remap.values()], 0])) + 1
    for t in sorted(lengths):
        if t not in remap:
            remap[t] = next_id
            next_id += 1
    frames: dict[int, FrameLabels] = {}
    for k, fl in pre.frames.items():
        if k in seed.frames:
            continue
        ids = np.array([remap[int(t)] for t in fl.track_ids], dtype=np.int64)
        frames[k] = FrameLabels(ids, fl.categories, fl.boxes, fl.scores, fl.attributes)
    for k, fl in seed.frames.items():
        frames[k] = fl
    return LabelSet(dict(sorted(frames.items()))), remap


def adapt(
    recording: str | Path,
    seed: str | Path,
    out: str | Path,
    *,
    detector: str = "pillars",
    weights: str | Path | None = None,
    options: Any = None,
    overwrite: bool = False,
    skip_unknown_classes: bool = False,
    refine: bool = True,
    score_threshold: float = 0.3,
    progress: AdaptProgress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> AdaptResult:
    """Fine-tune on SEED's frames, pre-label ``recording`` again, write ``OUT/<name>/`` (module docstring).

    Parameters
    ----------
    recording : any recording :func:`~fusionlabel.io.open.open_recording` opens
    seed : native label file with the annotator's frames
    out : output folder (one sub-folder per recording, as ``fusionlabel prelabel``)
    detector : the registered detector to adapt: one whose object is
        :class:`~fusionlabel.detect.adaptation.Adaptable` (``"pillars"``)
    weights : its base weights (default: the detector's own, for pillars the shipped ones); only read
    options : :class:`~fusionlabel.detect.adaptation.AdaptOptions`
    overwrite : redo an output that exists (an annotator's files are backed up first)
    skip_unknown_classes : keep seed boxes of classes the detector lacks, untrained on
    refine : the offboard track refinement of the new pre-labels
    score_threshold : the adapted detector's operating point
    progress : ``progress(phase, done, total)``
    cancel : polled between steps and frames; True raises :class:`AdaptCancelled`

    Raises
    ------
    DataError : bad seed, checkpoint or output folder (naming the file); FusionLabelError: an
        untrainable detector, an output that must not be replaced
    """
    from fusionlabel.core.atomic import file_sha256, locked
    from fusionlabel.core.review import Review
    from fusionlabel.detect.adaptation import (
        Adaptable,
        AdaptOptions,
        FinetuneCancelled,
        NoTrainingData,
    )
    from fusionlabel.detect.registry import create_detector, factory_accepts
    from fusionlabel.io.native_labels import OUTPUT_LABELS, write_labels
    from fusionlabel.io.open import open_recording
    from fusionlabel.io.review_file import write_review
    from fusionlabel.io.session import editing_elsewhere
    from fusionlabel.pipeline.batch import REVIEW, backup_outputs, output_status, plan_jobs, write_report
    from fusionlabel.pipeline.prelabel import Cancelled, config_fingerprint, prelabel

    opts = options or AdaptOptions()
    t0 = time.perf_counter()
    base_opts: dict[str, Any] = {
        k: v for k, v in (("device", opts.device), ("score_threshold", score_threshold)) if factory_accepts(detector, k)
    }
    if weights is not None:
        base_opts["weights"] = str(weights)
    base_det = create_detector(detector, base_opts)  # a corrupt or foreign checkpoint: PluginError naming it
    if not isinstance(base_det, Adaptable):
        raise FusionLabelError(
            f"detector {detector!r} cannot be fine-tuned (it has no finetune method): adapt the learned "
            "detector 'pillars', or retrain your own model where it was made and pass it to prelabel --weights"
        )
    classes = tuple(base_det.info.classes)
    rec_path = Path(recording)
    rec = open_recording(rec_path)
    from fusionlabel.io.native_labels import resolve_label_path

    seed_path = resolve_label_path(seed)  # a label file or a prelabel output folder
    seed_labels = read_seed(seed_path, len(rec), classes, skip_unknown_classes)
    job = plan_jobs([rec_path], Path(out))[0]
    st = output_status(job, None, overwrite)
    if st.action == "refuse" or (st.action == "skip" and not overwrite):
        raise FusionLabelError(st.reason or f"{job.out_dir / OUTPUT_LABELS}: exists; pass --overwrite to redo it")
    job.out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = job.out_dir / CHECKPOINT
    base = getattr(base_det, "weights", None)
    if base is not None and ckpt.exists() and ckpt.resolve() == Path(base).resolve():
        raise DataError(ckpt, "is the base checkpoint: choose another --out")
    tmp_ckpt = job.out_dir / f".{CHECKPOINT}.training"

    def on_step(step: int, total: int, _loss: float) -> None:
        if progress is not None:
            progress("fine-tuning", step, total)

    provenance = {
        "recording": str(rec_path.resolve()),
        "seed_labels": str(seed_path.resolve()),
        "seed_sha256": file_sha256(seed_path),
        "seed_frames": sorted(seed_labels.frames),
        "seed_boxes": seed_labels.num_boxes,
        "detector": detector,
    }
    try:
        ft = base_det.finetune(rec, seed_labels, tmp_ckpt, opts, provenance, on_step, cancel)
    except FinetuneCancelled as exc:
        raise AdaptCancelled(str(exc)) from None
    except NoTrainingData as exc:
        raise DataError(seed_path, f"{exc} to learn from (--min-points {opts.min_points})") from None
    det = create_detector(detector, {**base_opts, "weights": str(tmp_ckpt)})
    try:
        res = prelabel(
            rec,
            det,
            progress=(lambda d, t: progress("pre-labelling", d, t)) if progress is not None else None,
            cancel=cancel,
            refine=refine,
        )
    except Cancelled as exc:
        tmp_ckpt.unlink(missing_ok=True)
        raise AdaptCancelled(str(exc)) from None
    labels, remap = merge_with_seed(res.labels, seed_labels)
    queue = res.review.remap_tracks(remap)
    queue = ReviewQueue(
        tuple(it for it in queue.items if it.frame not in seed_labels.frames),
        queue.num_frames,
        queue.max_fraction,
        queue.score_threshold,
    ).with_digests(labels)
    tmp_ckpt.replace(ckpt)
    config = dict(res.report.config)
    config["detector"] = {"name": detector, "version": f"{CHECKPOINT} sha256:{ft.sha256[:12]}"}
    stamps = {int(k): int(rec.timestamps_ns[k]) for k in labels.frames if k < len(rec.timestamps_ns)}
    labels_path = job.out_dir / OUTPUT_LABELS
    backup = None
    with locked(labels_path):
        holder = editing_elsewhere(labels_path)  # a window that opened during the run
        if holder is not None:
            raise EditingElsewhereError(
                labels_path,
                f"opened for editing in a FusionLabel window during the run ({holder}); nothing overwritten "
                "(the adapted checkpoint is kept): close that window and run again",
            )
        if st.backup:
            backup = backup_outputs(job.out_dir)
        if labels_path.exists():
            labels_path.unlink()
        write_labels(labels, labels_path, stamps)
        write_review(
            job.out_dir / REVIEW,
            Review(queue, provenance={"tool": "fusionlabel adapt", **config, "adapted_checkpoint": CHECKPOINT}),
            labels,
        )
    report: dict[str, Any] = {
        "status": "ok",
        **res.report.to_dict(),
        "recording": str(rec_path.resolve()),
        "detector": detector,
        "config": config,
        "fingerprint": config_fingerprint(config),
        "review_load": round(queue.load, 4),
        "labels_sha256": file_sha256(labels_path),
        "review_sha256": file_sha256(job.out_dir / REVIEW),
        "adapted_checkpoint": CHECKPOINT,
        "adapted_sha256": ft.sha256,
        "adaptation": dict(ft.meta.get("adaptation", {})),
        "seconds_finetune": round(ft.seconds, 3),
        "seconds": round(time.perf_counter() - t0, 3),
        "adapt_options": asdict(opts),
    }
    if backup is not None:
        report["backup"] = str(backup)
    write_report(job.out_dir, report)
    if file_sha256(ft.base) != ft.base_sha256:
        raise DataError(ft.base, "the base checkpoint changed during the run (another process wrote it?)")
    return AdaptResult(labels, queue, ckpt, job.out_dir, report)
