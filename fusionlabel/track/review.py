"""The review queue: the frames an annotator should look at, most suspicious first.

Built from the per-frame ambiguity (:mod:`fusionlabel.track.ambiguity`): a frame's score is the
model's probability that it holds an ID error; frames where at least one box has a reason and
whose score is at least ``min_score`` are ordered by decreasing score and the queue is cut at
the review budget, ``max_fraction`` of the sequence's frames (10 % by default). The tracker's
default ``min_score`` is 0: the budget is filled with the most suspicious frames (on the KITTI
development split a floor of 0.01 left about a quarter of the Car budget unused and one more ID
error uncovered; ``benchmarks/bench_tracking.py`` reports the coverage). Each entry names the tracks and reasons behind its score.
The queue is a plain JSON-serialisable structure (:meth:`ReviewQueue.to_dict`) that also records
the budget and the pre-labels' operating point ``score_threshold`` (the tracks delivered to the
annotator are those whose mean reported score is at least this value; the results file may
hold lower-scored tracks for score sweeps).

Example
-------
>>> q = ReviewQueue((ReviewItem(12, 0.8, ({"track_id": 3, "reason": "crossing", "severity": 0.9},)),), 100)
>>> ReviewQueue.from_dict(q.to_dict()) == q
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from fusionlabel.core.errors import CorruptFileError
import numpy as np

from fusionlabel.track.ambiguity import REASONS, AmbiguityRows, FrameAmbiguity

#: format tag written into review files
REVIEW_FORMAT = "fusionlabel.review_queue/1"


@dataclass(frozen=True)
class ReviewItem:
    """One queued frame: its index, score in [0, 1] and the reasons (dicts with
    ``track_id``, ``reason``, ``severity``)."""

    frame: int
    score: float
    reasons: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class ReviewQueue:
    """Queued frames, most suspicious first, out of ``num_frames`` frames."""

    items: tuple[ReviewItem, ...]
    num_frames: int
    max_fraction: float | None = None
    score_threshold: float | None = None

    @property
    def frames(self) -> list[int]:
        return [it.frame for it in self.items]

    @property
    def load(self) -> float:
        """Fraction of the frames queued."""
        return len(self.items) / self.num_frames if self.num_frames else 0.0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": REVIEW_FORMAT,
            "num_frames": self.num_frames,
            "max_fraction": self.max_fraction,
            "score_threshold": self.score_threshold,
            "frames": [
                {"frame": it.frame, "score": round(it.score, 6), "reasons": [dict(r) for r in it.reasons]}
                for it in self.items
            ],
        }
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReviewQueue:
        return cls(
            tuple(
                ReviewItem(int(e["frame"]), float(e["score"]), tuple(dict(r) for r in e.get("reasons", ())))
                for e in d["frames"]
            ),
            int(d["num_frames"]),
            None if d.get("max_fraction") is None else float(d["max_fraction"]),
            None if d.get("score_threshold") is None else float(d["score_threshold"]),
        )

    def save(self, path: str | Path) -> None:
        """Write as JSON (atomically)."""
        from fusionlabel.core.atomic import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load_file(cls, path: str | Path) -> ReviewQueue:
        """Read a file written by :meth:`save`; a malformed file raises :class:`CorruptFileError`."""
        p = Path(path)
        try:
            d = json.loads(p.read_text())
            if d.get("format") != REVIEW_FORMAT:
                raise ValueError(f"format is {d.get('format')!r}, expected {REVIEW_FORMAT!r}")
            return cls.from_dict(d)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptFileError(p, f"not a review queue: {exc}") from None


def build_review_queue(
    ambiguity: Mapping[int, FrameAmbiguity], num_frames: int, max_fraction: float = 0.1, min_score: float = 0.2
) -> ReviewQueue:
    """Frames with a reason and score >= ``min_score``, by decreasing score, at most
    ``max_fraction * num_frames``."""
    cand = [(fa.score, k) for k, fa in ambiguity.items() if fa.score >= min_score and any(fa.reasons)]
    cand.sort(key=lambda t: (-t[0], t[1]))
    cap = int(max_fraction * num_frames)
    items = []
    for score, k in cand[:cap]:
        fa = ambiguity[k]
        reasons = tuple(
            {"track_id": int(t), "reason": r, "severity": s}
            for t, rs in zip(fa.track_ids, fa.reasons)
            for r, s in rs
        )
        items.append(ReviewItem(int(k), float(score), reasons))
    return ReviewQueue(tuple(items), int(num_frames), float(max_fraction))


def review_queue_from_rows(
    rows: AmbiguityRows,
    num_frames: int,
    max_fraction: float = 0.1,
    min_score: float = 0.2,
    score_threshold: float | None = None,
) -> ReviewQueue:
    """The queue of :func:`build_review_queue` straight from per-row probabilities (the reasons
    are only assembled for the queued frames); frames where no box has a reason are never queued."""
    fr, sc = rows.frame_scores()
    # only frames where some box has a reason: the model's floor (no reason at all) is not a suspicion
    has_reason = np.isin(fr, rows.frame[(rows.severity > 0).any(axis=1)])
    ok = np.flatnonzero((sc >= min_score) & has_reason)
    order = ok[np.lexsort((fr[ok], -sc[ok]))][: int(max_fraction * num_frames)]
    items = []
    for i in order.tolist():
        sel = np.flatnonzero(rows.frame == fr[i])
        reasons = tuple(
            {"track_id": int(rows.track_id[r]), "reason": REASONS[c], "severity": round(float(rows.severity[r, c]), 4)}
            for r in sel
            for c in np.flatnonzero(rows.severity[r] > 0).tolist()
        )
        items.append(ReviewItem(int(fr[i]), float(sc[i]), reasons))
    return ReviewQueue(tuple(items), int(num_frames), float(max_fraction), score_threshold)
