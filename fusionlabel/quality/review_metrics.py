"""How well a review queue points an annotator at the tracker's ID errors.

Definitions
-----------
* ``review_load`` = (frames in the review queues) / (frames of the sequences), summed over the
  sequences that have a queue; the frame count is the queue's own ``num_frames`` (the frames
  the tracker processed). A frame queued twice counts once.
* ID error events: the ID switches and fragmentations of the results against the ground
  truth, each located at the frame where :func:`fusionlabel.quality.clear_mot.trajectory_errors`
  counts it (the frame where the ground-truth object reappears under a different or resumed
  id), computed on *all* results (no score threshold: the pre-labels an annotator receives).
  An ID switch is also a fragmentation at the same frame; the pair is one event, so events
  are the distinct ``(sequence, ground-truth id, frame)``.
* ``error_coverage`` = (events whose frame is queued, within ``window`` frames) / events, over
  the sequences that have a queue; 1.0 when there is no event. ``window = 0`` (the default)
  asks for the exact frame.
* ``identity_coverage``: the same over the *identity* events only -- those where the object
  comes back under a different result id (an ID switch, or a fragmentation that resumes under
  a new id). The other events are fragmentations where the object resumes under the id it
  last had (a box that fell below the IoU threshold for a few frames and came back): counted
  by the KITTI rules and by ``error_coverage``, but what the annotator fixes there is the box,
  not the identity.

Example
-------
>>> from fusionlabel.quality.clear_mot import IdErrorEvent
>>> ev = [IdErrorEvent("0000", 3, 10, "IDS"), IdErrorEvent("0000", 3, 10, "FRAG"), IdErrorEvent("0000", 4, 20, "FRAG")]
>>> m = review_metrics(ev, {"0000": ({10, 11}, 100)})
>>> (m.review_load, m.error_events, m.covered_events, m.error_coverage)
(0.02, 2, 1, 0.5)
>>> ev.append(IdErrorEvent("0000", 5, 30, "FRAG", same_id=True))
>>> m = review_metrics(ev, {"0000": ({10, 11}, 100)})
>>> (m.error_events, m.identity_events, m.identity_covered, m.identity_coverage)
(3, 2, 1, 0.5)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fusionlabel.quality.clear_mot import IdErrorEvent

REVIEW_SUFFIX = ".review.json"


@dataclass(frozen=True)
class ReviewMetrics:
    """Review load and error coverage (fractions in [0, 1]) with their counts."""

    queued_frames: int
    total_frames: int
    error_events: int
    covered_events: int
    ids_events: int
    ids_covered: int
    sequences: int
    identity_events: int = 0
    identity_covered: int = 0

    @property
    def review_load(self) -> float:
        return self.queued_frames / self.total_frames if self.total_frames else 0.0

    @property
    def error_coverage(self) -> float:
        return self.covered_events / self.error_events if self.error_events else 1.0

    @property
    def identity_coverage(self) -> float:
        """Coverage of the events where the object comes back under a different result id."""
        return self.identity_covered / self.identity_events if self.identity_events else 1.0

    @property
    def ids_coverage(self) -> float:
        """Coverage of the events that include an ID switch."""
        return self.ids_covered / self.ids_events if self.ids_events else 1.0


def review_metrics(
    events: Iterable[IdErrorEvent], queues: Mapping[str, tuple[set[int], int]], window: int = 0
) -> ReviewMetrics:
    """Score review queues against ID error events.

    Parameters
    ----------
    events : ID error events (any sequences; those without a queue are left out)
    queues : sequence name -> (queued frame indices, number of frames of the sequence)
    window : an event at frame ``k`` is covered when a frame in ``[k - window, k + window]`` is queued
    """
    kinds: dict[tuple[str, int, int], set[str]] = {}
    for e in events:
        if e.sequence in queues:
            kinds.setdefault((e.sequence, e.gt_id, e.frame), set()).add(
                "SAME" if (e.kind == "FRAG" and e.same_id) else e.kind
            )
    covered = ids_n = ids_cov = ident_n = ident_cov = 0
    for (seq, _, frame), ks in kinds.items():
        q = queues[seq][0]
        hit = any((frame + d) in q for d in range(-window, window + 1))
        covered += hit
        if "IDS" in ks:
            ids_n += 1
            ids_cov += hit
        if ks != {"SAME"}:
            ident_n += 1
            ident_cov += hit
    queued = sum(len(set(q)) for q, _ in queues.values())
    total = sum(n for _, n in queues.values())
    return ReviewMetrics(queued, total, len(kinds), covered, ids_n, ids_cov, len(queues), ident_n, ident_cov)


def load_review_queues(results_dir: str | Path, names: Iterable[str]) -> dict[str, tuple[set[int], int]]:
    """The review queues ``<results_dir>/<name>.review.json`` that exist, as ``(frames, num_frames)``.

    The file format is :mod:`fusionlabel.io.review_file` (any version); a broken file raises
    :class:`~fusionlabel.core.errors.CorruptFileError` naming it.
    """
    from fusionlabel.io.review_file import read_queue

    out: dict[str, tuple[set[int], int]] = {}
    for name in names:
        p = Path(results_dir) / f"{name}{REVIEW_SUFFIX}"
        if p.is_file():
            q = read_queue(p)
            out[name] = (set(q.frames), q.num_frames)
    return out


def load_review_thresholds(results_dir: str | Path, names: Iterable[str]) -> dict[str, float]:
    """The pre-labels' operating points declared by the review files that exist
    (``score_threshold``; sequences whose file declares none are left out)."""
    from fusionlabel.io.review_file import read_queue

    out: dict[str, float] = {}
    for name in names:
        p = Path(results_dir) / f"{name}{REVIEW_SUFFIX}"
        if p.is_file():
            t = read_queue(p).score_threshold
            if t is not None:
                out[name] = t
    return out
