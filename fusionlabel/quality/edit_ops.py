"""Correction effort: edit operations on pre-labels against keyframe labelling from scratch.

Both counts work on the frames *after* the benchmark's ignore rules and matching
(:class:`fusionlabel.quality.clear_mot.AssignedFrame`): ignored ground truth and the result
boxes it absorbs cost nothing either way. Each result box is *matched* to one ground-truth id
(its CLEAR match, 3D IoU >= the threshold) or is *false*.

``keyframe_ops`` -- labelling from scratch
-----------------------------------------
The annotator places keyframe boxes and interpolates between them; identities are given by
construction. A ground-truth track is cut into *runs* of consecutive frames where it is present
(an absence splits it). A run of ``L`` frames needs keyframes at its first frame, every 10th
frame after it and its last frame::

    K(L) = 1 + ceil((L - 1) / 10)        (K(1) = 1, K(2) = 2, K(11) = 2, K(12) = 3)

``keyframe_ops = sum over tracks and runs of K(L)``.

``edit_ops`` -- correcting the pre-labels
----------------------------------------
A perfect annotator knows the truth and uses five operations, each costing 1:
*reassign* (give a track a new or existing id from a frame on), *merge* (two tracks into one id),
*split* (a track in two from a frame on), *delete* (a false track, or a false stretch of a track),
*add* (missed boxes, with the same keyframe + interpolation tool as above). The count is that of
this procedure:

1. ``deletes``: for each result track, its boxes in frame order are labelled with their matched
   ground-truth id or "false"; every maximal stretch of false boxes is deleted (1 each);
2. ``reassigns``: the remaining boxes form ``k`` maximal stretches of constant ground-truth id
   (stretches separated only by a deleted one, with the same id, are one); each stretch after
   the first is reassigned to its ground truth's identity (1 each: this is a split and a merge
   in one action);
3. ``merges``: for each ground-truth id, the number of result tracks whose *first* stretch
   carries it, minus one (fragmented tracks are merged; 1 each);
4. ``adds``: for each ground-truth track, the frames where it is not matched form runs of
   consecutive frames (within the runs of its presence); a run of ``L`` missed boxes costs

   * ``max(1, ceil((L + 1) / 10) - 1)`` when matched boxes of the track sit in the frames just
     before *and* just after it (keyframes inside a gap so no span exceeds 10 frames, at least
     one action),
   * ``ceil(L / 10)`` when a matched box sits on one side only,
   * ``K(L)`` when on neither (the object or this run of it was missed entirely).

``edit_ops = deletes + reassigns + merges + adds``. The procedure is optimal for isolated
errors (an ID switch costs 1, a fragment 1, a false track 1); interleaved errors may admit a
cheaper sequence, so ``edit_ops`` is an upper bound of the true minimum. Box geometry is not
counted (a matched box is accepted as it is).

Example
-------
>>> keyframe_count(1), keyframe_count(11), keyframe_count(12)
(1, 2, 3)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from fusionlabel.quality.clear_mot import AssignedFrame

KEYFRAME_INTERVAL = 10


def keyframe_count(length: int, interval: int = KEYFRAME_INTERVAL) -> int:
    """``K(L) = 1 + ceil((L - 1) / interval)`` keyframes for a run of ``L >= 1`` frames (0 for 0)."""
    if length <= 0:
        return 0
    return 1 + math.ceil((length - 1) / interval)


def gap_cost(length: int, left: bool, right: bool, interval: int = KEYFRAME_INTERVAL) -> int:
    """Operations to add a run of ``length`` missed boxes (see the module docstring)."""
    if length <= 0:
        return 0
    if left and right:
        return max(1, math.ceil((length + 1) / interval) - 1)
    if left or right:
        return math.ceil(length / interval)
    return keyframe_count(length, interval)


@dataclass(frozen=True)
class EditOps:
    """Operation counts (see the module docstring)."""

    deletes: int = 0
    reassigns: int = 0
    merges: int = 0
    adds: int = 0
    keyframe_ops: int = 0

    @property
    def edit_ops(self) -> int:
        return self.deletes + self.reassigns + self.merges + self.adds

    @property
    def ratio(self) -> float:
        """``keyframe_ops / edit_ops`` (inf when no edit is needed)."""
        return self.keyframe_ops / self.edit_ops if self.edit_ops else math.inf

    def __add__(self, other: EditOps) -> EditOps:
        return EditOps(
            self.deletes + other.deletes,
            self.reassigns + other.reassigns,
            self.merges + other.merges,
            self.adds + other.adds,
            self.keyframe_ops + other.keyframe_ops,
        )


def _runs(frames: Sequence[int]) -> list[tuple[int, int]]:
    """Index ranges ``[i, j)`` of consecutive frame numbers in a sorted list."""
    out = []
    start = 0
    for i in range(1, len(frames) + 1):
        if i == len(frames) or frames[i] != frames[i - 1] + 1:
            out.append((start, i))
            start = i
    return out


def edit_ops_sequence(frames: Iterable[AssignedFrame], interval: int = KEYFRAME_INTERVAL) -> EditOps:
    """Edit operations and keyframe operations of one sequence."""
    # per result track: (frame, gt id or None); per gt track: (frame, matched?)
    trk: dict[int, list[tuple[int, int | None]]] = {}
    gt: dict[int, list[tuple[int, bool]]] = {}
    for f in frames:
        m = {int(c): int(f.gt_ids[r]) for r, c in zip(f.match_gt.tolist(), f.match_trk.tolist())}
        for j, tid in enumerate(f.trk_ids.tolist()):
            trk.setdefault(int(tid), []).append((f.frame, m.get(j)))
        matched = np.zeros(len(f.gt_ids), bool)
        matched[f.match_gt] = True
        for i, gid in enumerate(f.gt_ids.tolist()):
            gt.setdefault(int(gid), []).append((f.frame, bool(matched[i])))

    deletes = reassigns = 0
    first_count: dict[int, int] = {}
    for boxes in trk.values():
        boxes.sort()
        labels = [g for _, g in boxes]
        stretches: list[int | None] = []
        for g in labels:
            if not stretches or stretches[-1] != g:
                stretches.append(g)
        deletes += sum(1 for s in stretches if s is None)
        kept: list[int] = []
        for s in stretches:
            if s is not None and (not kept or kept[-1] != s):
                kept.append(s)
        if kept:
            reassigns += len(kept) - 1
            first_count[kept[0]] = first_count.get(kept[0], 0) + 1
    merges = sum(n - 1 for n in first_count.values())

    adds = keyframes = 0
    for entries in gt.values():
        entries.sort()
        fr = [f for f, _ in entries]
        ok = [m for _, m in entries]
        for a, b in _runs(fr):
            keyframes += keyframe_count(b - a, interval)
            i = a
            while i < b:
                if ok[i]:
                    i += 1
                    continue
                j = i
                while j < b and not ok[j]:
                    j += 1
                adds += gap_cost(j - i, i > a and ok[i - 1], j < b and ok[j], interval)
                i = j
    return EditOps(deletes, reassigns, merges, adds, keyframes)


def edit_ops_total(sequences: Iterable[Iterable[AssignedFrame]], interval: int = KEYFRAME_INTERVAL) -> EditOps:
    """Sum of :func:`edit_ops_sequence` over sequences (ids are per sequence)."""
    total = EditOps()
    for s in sequences:
        total = total + edit_ops_sequence(s, interval)
    return total
