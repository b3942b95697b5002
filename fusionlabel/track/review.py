"""Building the review queue: the frames an annotator should look at, most suspicious first.

Built from the per-frame ambiguity (:mod:`fusionlabel.track.ambiguity`): a frame's score is the
model's probability that it holds an ID error; frames where at least one box has a reason and
whose score is at least ``min_score`` are ordered by decreasing score and the queue is cut at
the review budget, ``max_fraction`` of the sequence's frames (10 % by default). The tracker's
default ``min_score`` is 0: the budget is filled with the most suspicious frames (on the KITTI
development split a floor of 0.01 left about a quarter of the Car budget unused and one more ID
error uncovered; ``benchmarks/bench_tracking.py`` reports the coverage). Each entry names the tracks and reasons behind its score.
The queue's model (:class:`~fusionlabel.core.review.ReviewQueue`) lives in the core and its file
in :mod:`fusionlabel.io.review_file`; it records the budget and the pre-labels' operating point
``score_threshold`` (the tracks delivered to the annotator are those whose mean reported score
is at least this value; the results file may hold lower-scored tracks for score sweeps).

Example
-------
>>> from fusionlabel.track.ambiguity import FrameAmbiguity
>>> import numpy as np
>>> amb = {5: FrameAmbiguity(np.array([3]), np.array([0.3]), ((("crossing", 0.9),),), 0.7)}
>>> build_review_queue(amb, 20).frames
[5]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fusionlabel.core.review import ReviewItem, ReviewQueue
from fusionlabel.track.ambiguity import REASONS, AmbiguityRows, FrameAmbiguity


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
            {"track_id": int(t), "reason": r, "severity": s} for t, rs in zip(fa.track_ids, fa.reasons) for r, s in rs
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
