"""Gold tasks: hidden reference frames in an annotator's queue, and the annotator's score on them.

:func:`mix_gold` takes ``count`` frames that a reference label file labels (frames the queue
does not hold yet) and adds them to the review queue of the annotator's label file **as
ordinary flagged frames**: a score inside the range of the queue's own scores, a reason of the
queue's own kinds naming a track of that frame's pre-labels, the digest of the frame's boxes.
Nothing in the label or review file tells them apart; which frames they are goes to a separate
gold manifest (:mod:`fusionlabel.io.gold_file`) that stays with the lead.

:func:`score_gold` compares what the annotator saved on those frames with the reference, per
frame and in all:

* **box IoU**: reference and annotator boxes matched one to one per frame (Hungarian on 3D
  IoU, a match needs ``IoU >= iou``); the mean 3D IoU of the matches;
* **misses** (reference boxes without a match), **extras** (annotator boxes without one),
  **class errors** (matches of another category);
* **ID consistency**: for every reference track on two or more gold frames, the annotator's
  track ids of its matches in frame order; each consecutive pair of matches with the same id is
  consistent: ``consistent / pairs`` (None without pairs);
* **time**: a gold frame resolved at ``t`` by a user took ``t - t_prev``, ``t_prev`` that
  user's previous resolution of any frame (None for their first, or after a gap longer than
  ``max_gap_s``: a break); frames not resolved are ``open``.

The totals count the gold frames the annotator has **resolved** (signed off) only: a frame still
open is work not done yet, not a miss. Every gold frame is listed with its own figures.

Example
-------
>>> from fusionlabel.pipeline.gold import seconds_between
>>> seconds_between("2026-12-07T10:00:00+00:00", "2026-12-07T10:01:30+00:00")
90.0
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.boxes import iou_3d
from fusionlabel.core.errors import DataError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.review import Review, ReviewItem, frame_digest, frame_state


@dataclass(frozen=True)
class GoldFrameScore:
    """One gold frame: counts, mean IoU (None without a match), state, resolution, seconds."""

    frame: int
    reference_boxes: int
    annotator_boxes: int
    matched: int
    mean_iou: float | None
    misses: int
    extras: int
    class_errors: int
    state: str | None
    resolved_by: str | None
    seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        if d["mean_iou"] is not None:
            d["mean_iou"] = round(d["mean_iou"], 4)
        if d["seconds"] is not None:
            d["seconds"] = round(d["seconds"], 1)
        return d


@dataclass(frozen=True)
class GoldScore:
    """The annotator's score on the gold frames (module docstring)."""

    labels: str
    reference: str
    frames: tuple[GoldFrameScore, ...]
    id_pairs: int
    id_consistent: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id_consistency(self) -> float | None:
        return self.id_consistent / self.id_pairs if self.id_pairs else None

    def summary(self) -> dict[str, Any]:
        """Totals over the resolved gold frames (``scored``), every gold frame in ``frames``."""
        fr = [f for f in self.frames if f.resolved_by is not None]
        ious = [f.mean_iou * f.matched for f in fr if f.mean_iou is not None]
        matched = sum(f.matched for f in fr)
        secs = [f.seconds for f in fr if f.seconds is not None]
        n_ref = sum(f.reference_boxes for f in fr)
        return {
            "labels": self.labels,
            "reference": self.reference,
            "gold_frames": len(self.frames),
            "resolved": len(fr),
            "open": len(self.frames) - len(fr),
            "reference_boxes": n_ref,
            "matched": matched,
            "mean_iou": round(sum(ious) / matched, 4) if matched else None,
            "misses": sum(f.misses for f in fr),
            "miss_rate": round(sum(f.misses for f in fr) / n_ref, 4) if n_ref else None,
            "extras": sum(f.extras for f in fr),
            "class_errors": sum(f.class_errors for f in fr),
            "id_pairs": self.id_pairs,
            "id_consistency": None if self.id_consistency is None else round(self.id_consistency, 4),
            "seconds_total": round(sum(secs), 1) if secs else None,
            "seconds_per_frame": round(float(np.mean(secs)), 1) if secs else None,
            "frames": [f.to_dict() for f in self.frames],
            **self.extra,
        }


def seconds_between(a: str, b: str) -> float:
    """Seconds from ISO 8601 time ``a`` to ``b``."""
    return (_dt.datetime.fromisoformat(b) - _dt.datetime.fromisoformat(a)).total_seconds()


def _match(ref: FrameLabels, ann: FrameLabels, iou: float) -> list[tuple[int, int, float]]:
    """One-to-one matches ``(ref row, annotator row, IoU)`` with IoU >= ``iou`` (Hungarian)."""
    if len(ref) == 0 or len(ann) == 0:
        return []
    from scipy.optimize import linear_sum_assignment

    m = iou_3d(ref.boxes, ann.boxes)
    rows, cols = linear_sum_assignment(-m)
    return [(int(r), int(c), float(m[r, c])) for r, c in zip(rows, cols) if m[r, c] >= iou]


def _gold_items(
    review: Review, labels: LabelSet, frames: Sequence[int], rng: np.random.Generator
) -> tuple[ReviewItem, ...]:
    """Queue items for ``frames`` that look like the queue's own (module docstring)."""
    q = review.queue
    assert q is not None
    scores = [it.score for it in q.items] or [0.5]
    kinds = [r.get("reason") for it in q.items for r in it.reasons if r.get("reason")] or ["crossing"]
    sev = [float(r.get("severity", 0.5)) for it in q.items for r in it.reasons] or [0.5]
    all_ids = labels.track_ids
    out = []
    for f in frames:
        fl = labels.get(f)
        ids = fl.track_ids if len(fl) else all_ids
        reasons: tuple[dict[str, Any], ...] = ()
        if len(ids):
            reasons = (
                {
                    "track_id": int(ids[int(rng.integers(len(ids)))]),
                    "reason": str(kinds[int(rng.integers(len(kinds)))]),
                    "severity": round(float(sev[int(rng.integers(len(sev)))]), 4),
                },
            )
        score = float(rng.uniform(min(scores), max(scores)))
        out.append(ReviewItem(int(f), round(score, 6), reasons, frame_digest(fl)))
    return tuple(out)


def mix_gold(
    labels_path: str | Path,
    reference: str | Path,
    manifest: str | Path,
    count: int = 5,
    frames: Sequence[int] | None = None,
    seed: int = 0,
    user: str | None = None,
    force: bool = False,
) -> tuple[int, ...]:
    """Mix ``count`` reference frames (or exactly ``frames``) into the queue of ``labels_path``
    unmarked, and write the gold manifest to ``manifest``. Returns the gold frames. An existing
    manifest (another task's record of its hidden gold frames) is replaced only with ``force``.

    Raises
    ------
    DataError : naming the file: no review queue beside the labels, a reference without
        labelled frames outside the queue, a frame the reference does not label, the manifest
        inside the annotator's folder, an editing session with unsaved work on the labels
    """
    from fusionlabel.core.atomic import file_sha256, locked
    from fusionlabel.io.gold_file import GoldManifest, write_gold
    from fusionlabel.io.native_labels import read_labels, resolve_label_path
    from fusionlabel.io.review_file import find_review, read_review, review_path, write_review
    from fusionlabel.io.session import check_replaceable, current_user, now_utc

    lp = resolve_label_path(labels_path)
    ref_path = Path(reference)
    man = Path(manifest)
    if man.resolve().parent == lp.resolve().parent:
        raise DataError(man, "the gold manifest must not lie beside the annotator's labels (they would see it)")
    if man.exists() and not force:
        raise DataError(man, "exists (the record of another task's gold frames): choose another file or pass --force")
    ref = read_labels(ref_path)
    with locked(lp):
        # a window's save would be refused, and the annotator would see the gold frames come in
        check_replaceable(lp, force=True)
        rp = find_review(lp)
        if rp is None:
            raise DataError(lp, f"no review queue beside it ({review_path(lp).name}): pre-label it first")
        review = read_review(rp)
        if review.queue is None:
            raise DataError(rp, "holds no review queue to mix gold frames into")
        labels = read_labels(lp)
        queued = set(review.queue.frames)
        n = review.queue.num_frames
        candidates = [k for k, fl in sorted(ref.frames.items()) if len(fl) and k not in queued and (n == 0 or k < n)]
        rng = np.random.default_rng(seed)
        if frames is not None:
            bad = [f for f in frames if f not in ref.frames or len(ref.get(f)) == 0]
            if bad:
                raise DataError(ref_path, f"frame {bad[0]} holds no reference box")
            dup = [f for f in frames if f in queued]
            if dup:
                raise DataError(rp, f"frame {dup[0]} is already in the queue: choose another gold frame")
            chosen = sorted(int(f) for f in frames)
        else:
            if not candidates:
                raise DataError(ref_path, "labels no frame outside the annotator's queue: nothing to mix in")
            k = min(count, len(candidates))
            chosen = sorted(int(f) for f in rng.choice(candidates, size=k, replace=False))
        items = _gold_items(review, labels, chosen, rng)
        merged = tuple(sorted((*review.queue.items, *items), key=lambda it: (-it.score, it.frame)))
        new = replace(review, queue=replace(review.queue, items=merged))
        write_review(rp if rp.name == review_path(lp).name else review_path(lp), new, labels)
    write_gold(
        man,
        GoldManifest(
            str(lp.resolve()),
            str(ref_path.resolve()),
            file_sha256(ref_path),
            tuple(chosen),
            now_utc(),
            user or current_user(),
            seed,
        ),
    )
    return tuple(chosen)


def score_gold(
    manifest: str | Path, labels_path: str | Path | None = None, iou: float = 0.25, max_gap_s: float = 1800.0
) -> GoldScore:
    """Score the annotator's saved work on the gold frames of ``manifest`` (module docstring).

    ``labels_path`` defaults to the label file the manifest names.

    Raises
    ------
    DataError : a file is missing or corrupt (naming it)
    """
    from fusionlabel.core.atomic import file_sha256
    from fusionlabel.io.gold_file import read_gold
    from fusionlabel.io.native_labels import read_labels, resolve_label_path
    from fusionlabel.io.review_file import find_review, read_review

    m = read_gold(manifest)
    lp = resolve_label_path(labels_path if labels_path is not None else m.labels)
    own = Path(m.labels)
    if own.is_file() and own.resolve() != lp.resolve():  # (a moved task: the recorded file is gone)
        raise DataError(
            Path(manifest), f"holds the gold frames of {own}, not of {lp}: score that file, or its own manifest"
        )
    ref_path = Path(m.reference)
    ref = read_labels(ref_path)
    ann = read_labels(lp)
    rp = find_review(lp)
    review = read_review(rp) if rp is not None else Review()
    # each user's resolutions in time order: the time a gold frame took
    by_user: dict[str, list[tuple[str, int]]] = {}
    for f, resol in review.resolutions.items():
        by_user.setdefault(resol.user, []).append((resol.time, f))
    took: dict[int, float | None] = {}
    for items in by_user.values():
        items.sort()
        for i, (t, f) in enumerate(items):
            dt = seconds_between(items[i - 1][0], t) if i > 0 else None
            took[f] = dt if dt is not None and 0 <= dt <= max_gap_s else None
    per_frame = []
    track_matches: dict[int, list[tuple[int, int]]] = {}  # reference track -> (frame, annotator id)
    for f in m.frames:
        r, a = ref.get(f), ann.get(f)
        pairs = _match(r, a, iou)
        item = review.queue.item(f) if review.queue is not None else None
        res = review.resolutions.get(f)
        for ri, ai, _ in pairs if res is not None else ():  # identities over the resolved frames
            track_matches.setdefault(int(r.track_ids[ri]), []).append((f, int(a.track_ids[ai])))
        per_frame.append(
            GoldFrameScore(
                int(f),
                len(r),
                len(a),
                len(pairs),
                float(np.mean([p[2] for p in pairs])) if pairs else None,
                len(r) - len(pairs),
                len(a) - len(pairs),
                sum(1 for ri, ai, _ in pairs if r.categories[ri] != a.categories[ai]),
                None if item is None else frame_state(item, a, res is not None),
                None if res is None else res.user,
                took.get(f) if res is not None else None,
            )
        )
    pairs_n = consistent = 0
    for seq in track_matches.values():
        seq.sort()
        for (_, a0), (_, a1) in itertools.pairwise(seq):
            pairs_n += 1
            consistent += int(a0 == a1)
    extra: dict[str, Any] = {}
    if m.reference_sha256 and ref_path.exists() and file_sha256(ref_path) != m.reference_sha256:
        extra["warning"] = f"{ref_path} changed since the gold frames were mixed in"
    if not math.isfinite(iou):
        raise ValueError("iou must be finite")
    return GoldScore(str(lp), str(ref_path), tuple(per_frame), pairs_n, consistent, extra)
