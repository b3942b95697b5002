"""CLEAR MOT metrics and the sAMOTA / AMOTA recall sweep, as AB3DMOT's KITTI evaluation computes them.

This module is format-free: a sequence is a list of :class:`EvalFrame` (ground-truth ids,
result ids and scores, the (G, T) similarity between them, and which boxes the benchmark's
rules ignore). :mod:`fusionlabel.quality.kitti_eval` builds them from KITTI files with the
KITTI rules; :mod:`fusionlabel.quality.evaluation` builds them from native label sets.

Definitions (AB3DMOT ``scripts/KITTI/evaluate.py``, ``trackingEvaluation``; see
``docs/evaluation.md`` for the full list and every departure)
------------------------------------------------------------------------------------------
Per frame, with ``s`` the (G, T) similarity (3D IoU) and ``o`` the minimum overlap (0.25):

* matching: Hungarian assignment on ``c = 1 - s`` where pairs with ``c > 1 - o`` cost 1e9;
  assigned pairs with cost 1e9 are not matches. ``TP`` counts every match, including matches
  of ignored ground truth (AB3DMOT's ``tp``);
* ignored ground truth (truncated, occluded, neighbouring class) counts neither as FN nor in
  ``n_gt``; a result box matched to it is neither TP for MOTA nor FP;
* ``FN`` = unmatched, not-ignored ground truth;
* ``FP`` = result boxes - matches - ignored result boxes, where a result box is ignored when it
  is *ignorable* (neighbouring class, 2D height <= 25 px, > 50 % inside a DontCare box) and was
  never matched (AB3DMOT's ``valid`` flag: see :class:`ClearEvaluator` on why "never");
* ``n_gt`` = not-ignored ground truth;
* ``MOTA = 1 - (FN + FP + IDS) / n_gt``; ``MOTP = sum(IoU of matches) / TP``;
  ``sMOTA_r = clip(1 - (FN + FP + IDS - (1 - r) n_gt) / (r n_gt), 0, 1)``;
* ID switches and fragmentations are counted per ground-truth trajectory by
  :func:`trajectory_errors` (AB3DMOT's rules, quirks included);
* score threshold: every result track whose *mean* score over the sequence is below the
  threshold is removed entirely (and each box's score becomes its track's mean);
* the sweep (:func:`recall_thresholds`, :func:`kitti_sweep`): the mean scores of the TPs at no
  threshold, sorted, give up to 40 thresholds at recalls 1/40, 2/40, ...;
  ``sAMOTA = sum(sMOTA_r) / 40``, ``AMOTA = sum(MOTA) / 40``, ``AMOTP = sum(MOTP) / 40``, and
  the reported MOTA, MOTP, IDS, FRAG, FP, FN are those at the threshold with the best MOTA.

Example
-------
>>> import numpy as np
>>> f = EvalFrame.simple(0, gt_ids=[1], trk_ids=[5], similarity=[[0.9]])
>>> r = ClearEvaluator([EvalSequence("s", (f,), 1)]).run()
>>> (r.tp, r.fp, r.fn, round(r.mota, 3), round(r.motp, 3))
(1, 0, 0, 1.0, 0.9)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment

#: cost of a gated-out pair in the assignment (AB3DMOT's ``max_cost``)
MAX_COST = 1e9
#: AB3DMOT's ``num_sample_pts``: 41 recall points, the first (recall 0) dropped
NUM_SAMPLE_PTS = 41
#: the score threshold meaning "keep everything" (AB3DMOT's default argument)
NO_THRESHOLD = -10000.0


def _cat(xs: list[Any], dtype: Any) -> NDArray[Any]:
    """Concatenate 1-D arrays (empty list -> empty array) with a dtype."""
    return np.concatenate(xs).astype(dtype) if xs else np.zeros(0, dtype)


def _i64(a: ArrayLike) -> NDArray[np.int64]:
    return np.asarray(a, dtype=np.int64).reshape(-1)


@dataclass(frozen=True)
class EvalFrame:
    """Ground truth and results of one frame, ready for matching.

    Attributes
    ----------
    frame : frame index in the sequence
    gt_ids : (G,) int64 ground-truth track ids (unique in the frame)
    gt_ignored : (G,) bool, ground truth that is "don't care" whether matched or not
    trk_ids : (T,) int64 result track ids (unique in the frame)
    trk_scores : (T,) float64 result confidences (any unit; higher is surer)
    trk_ignorable : (T,) bool, result boxes ignored when they match no ground truth
    similarity : (G, T) float64 in [0, 1], the matching similarity (3D IoU)
    """

    frame: int
    gt_ids: NDArray[np.int64]
    gt_ignored: NDArray[np.bool_]
    trk_ids: NDArray[np.int64]
    trk_scores: NDArray[np.float64]
    trk_ignorable: NDArray[np.bool_]
    similarity: NDArray[np.float64]

    def __post_init__(self) -> None:
        g, t = _i64(self.gt_ids), _i64(self.trk_ids)
        gi = np.asarray(self.gt_ignored, dtype=bool).reshape(-1)
        ts = np.asarray(self.trk_scores, dtype=np.float64).reshape(-1)
        ti = np.asarray(self.trk_ignorable, dtype=bool).reshape(-1)
        s = np.asarray(self.similarity, dtype=np.float64).reshape(len(g), len(t))
        if len(gi) != len(g) or len(ts) != len(t) or len(ti) != len(t):
            raise ValueError("EvalFrame: lengths of ids, flags and scores differ")
        if len(np.unique(g)) != len(g) or len(np.unique(t)) != len(t):
            raise ValueError(f"EvalFrame {self.frame}: a track id appears twice in one frame")
        for name, v in (
            ("gt_ids", g),
            ("gt_ignored", gi),
            ("trk_ids", t),
            ("trk_scores", ts),
            ("trk_ignorable", ti),
            ("similarity", s),
        ):
            v.setflags(write=False)
            object.__setattr__(self, name, v)
        object.__setattr__(self, "frame", int(self.frame))

    @classmethod
    def simple(
        cls,
        frame: int,
        gt_ids: ArrayLike,
        trk_ids: ArrayLike,
        similarity: ArrayLike,
        trk_scores: ArrayLike | None = None,
    ) -> EvalFrame:
        """A frame without ignore rules (synthetic or native data)."""
        g, t = _i64(gt_ids), _i64(trk_ids)
        return cls(
            frame,
            g,
            np.zeros(len(g), bool),
            t,
            np.ones(len(t)) if trk_scores is None else np.asarray(trk_scores, dtype=np.float64),
            np.zeros(len(t), bool),
            np.asarray(similarity, dtype=np.float64).reshape(len(g), len(t)),
        )


@dataclass(frozen=True)
class EvalSequence:
    """One sequence: its frames in increasing frame order, and its length in frames."""

    name: str
    frames: tuple[EvalFrame, ...]
    n_frames: int

    def __post_init__(self) -> None:
        fr = tuple(sorted(self.frames, key=lambda f: f.frame))
        if len({f.frame for f in fr}) != len(fr):
            raise ValueError(f"sequence {self.name}: a frame appears twice")
        object.__setattr__(self, "frames", fr)


def match_frame(similarity: NDArray[np.float64], min_overlap: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Gated Hungarian matching of one frame.

    ``c = 1 - s``; pairs with ``c > 1 - min_overlap`` cost :data:`MAX_COST` and are dropped from
    the assignment's result (AB3DMOT: Munkres on the same matrix; both minimise the total cost,
    so they agree up to ties).

    Returns
    -------
    rows, cols : (K,) int64 indices of the matched ground truth and results
    """
    if similarity.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cost = 1.0 - similarity
    ok = cost <= 1.0 - min_overlap
    r, c = linear_sum_assignment(np.where(ok, cost, MAX_COST))
    keep = ok[r, c]
    return r[keep].astype(np.int64), c[keep].astype(np.int64)


@dataclass(frozen=True)
class TrajectoryErrors:
    """ID errors of one ground-truth trajectory (:func:`trajectory_errors`).

    id_switches, fragmentations : positions (indices into the trajectory) where each is counted
    tracked : AB3DMOT's count of tracked entries; evaluated : not-ignored entries
    all_ignored : every entry ignored (the trajectory is left out of MT/PT/ML)
    same_id_fragmentations : the fragmentation positions where the trajectory resumes under the
        result id it last had (an interruption -- typically a box that drifted below the IoU
        threshold and came back -- not a change of identity)
    """

    id_switches: tuple[int, ...]
    fragmentations: tuple[int, ...]
    tracked: int
    evaluated: int
    all_ignored: bool
    same_id_fragmentations: tuple[int, ...] = ()


def trajectory_errors(tids: Sequence[int], ignored: Sequence[bool]) -> TrajectoryErrors:
    """ID switches and fragmentations of one ground-truth trajectory, by AB3DMOT's rules.

    Parameters
    ----------
    tids : the matched result id at each of the trajectory's frames (in frame order), -1 where
        the ground truth was not matched
    ignored : whether the ground truth is ignored at that frame

    Rules (``g = tids``, ``last`` = the last result id seen on a not-ignored frame, reset to -1
    by an ignored frame), for each position ``f >= 1`` that is not ignored:

    * ID switch at ``f`` when ``last != g[f]``, ``last != -1``, ``g[f] != -1``, ``g[f-1] != -1``;
    * fragmentation at ``f < n-1`` when ``g[f-1] != g[f]``, ``last != -1``, ``g[f] != -1`` and
      ``g[f+1] != -1``; and at the last position when ``g[n-2] != g[n-1]``, ``g[n-1] != -1`` and
      it is not ignored (AB3DMOT's separate last-frame rule).

    So an interrupted track counts a fragmentation where it resumes (whatever id it resumes
    with) provided it is also tracked on the next frame; a switch is also a fragmentation.

    >>> e = trajectory_errors([1, 1, 2, 2], [False] * 4)
    >>> e.id_switches, e.fragmentations
    ((2,), (2,))
    >>> e = trajectory_errors([1, -1, 1, 1, 2, -1, 2], [False] * 7)
    >>> e.fragmentations, e.same_id_fragmentations, e.id_switches
    ((2, 6), (2, 6), (4,))
    """
    g = [int(x) for x in tids]
    ign = [bool(x) for x in ignored]
    n = len(g)
    if n == 0 or all(ign):
        return TrajectoryErrors((), (), 0, 0, True)
    evaluated = n - sum(ign)
    if all(x == -1 for x in g):
        return TrajectoryErrors((), (), 0, evaluated, False)
    ids: list[int] = []
    frag: list[int] = []
    same: list[int] = []
    last = g[0]
    tracked = 1 if g[0] >= 0 else 0
    for f in range(1, n):
        before = last  # ``last`` as it was before position f updates it (for the last-frame rule)
        if ign[f]:
            last = -1
            continue
        if last != g[f] and last != -1 and g[f] != -1 and g[f - 1] != -1:
            ids.append(f)
        if f < n - 1 and g[f - 1] != g[f] and last != -1 and g[f] != -1 and g[f + 1] != -1:
            frag.append(f)
            if g[f] == last:
                same.append(f)
        if g[f] != -1:
            tracked += 1
            last = g[f]
    f = n - 1
    if n > 1 and g[f - 1] != g[f] and last != -1 and g[f] != -1 and not ign[f]:
        frag.append(f)
        if g[f] == before:
            same.append(f)
    return TrajectoryErrors(tuple(ids), tuple(frag), tracked, evaluated, False, tuple(same))


@dataclass(frozen=True)
class IdErrorEvent:
    """One ID switch or fragmentation: which sequence, ground-truth track and frame."""

    sequence: str
    gt_id: int
    frame: int
    kind: str  # "IDS" or "FRAG"
    same_id: bool = False  # a FRAG where the object resumes under the result id it last had


@dataclass(frozen=True)
class AssignedFrame:
    """A frame after the ignore rules, with its matching (for HOTA, IDF1 and edit operations).

    Ignored ground truth, result boxes matched to it and ignored result boxes are removed
    (TrackEval's KITTI preprocessing, done with this module's matching).

    gt_ids (G,), trk_ids (T,), trk_scores (T,), similarity (G, T), match_gt / match_trk (K,)
    indices of the matched pairs.
    """

    frame: int
    gt_ids: NDArray[np.int64]
    trk_ids: NDArray[np.int64]
    trk_scores: NDArray[np.float64]
    similarity: NDArray[np.float64]
    match_gt: NDArray[np.int64]
    match_trk: NDArray[np.int64]


@dataclass(frozen=True)
class ClearResult:
    """CLEAR MOT figures of one evaluation run (fractions in [0, 1], counts as ints).

    ``tp`` counts every match including those of ignored ground truth (as AB3DMOT's ``tp``);
    ``mota`` is NaN when no ground truth is evaluated (AB3DMOT: -inf).
    """

    threshold: float
    recall_threshold: float
    tp: int
    itp: int
    fp: int
    fn: int
    ifn: int
    ids: int
    frag: int
    n_gt: int
    n_tr: int
    total_iou: float
    mota: float
    motp: float
    moda: float
    smota: float
    recall: float
    precision: float
    f1: float
    mt: float
    pt: float
    ml: float
    tp_scores: NDArray[np.float64] = field(repr=False)
    events: tuple[IdErrorEvent, ...] = field(default=(), repr=False)
    assigned: dict[str, tuple[AssignedFrame, ...]] = field(default_factory=dict, repr=False)


class ClearEvaluator:
    """Runs AB3DMOT's ``compute3rdPartyMetrics`` on a set of sequences.

    AB3DMOT keeps one ``valid`` flag per result box that is set when the box is matched and never
    reset between the runs of the threshold sweep, so a box matched in any earlier run is never
    ignored afterwards (it counts as FP if it stays unmatched). This evaluator reproduces that:
    call :meth:`run` in AB3DMOT's order (no threshold first, then the sweep, then the best
    threshold) to get its figures; :func:`kitti_sweep` does so.

    Speed: the frames are matched once with every result box; a run at a score threshold
    re-matches only the frames where a removed box was matched (removing unmatched columns
    leaves an optimal assignment optimal). Counting is vectorised over all boxes.

    Parameters
    ----------
    sequences : the sequences to evaluate
    min_overlap : minimum similarity of a match (AB3DMOT ``min_overlap``, 3D IoU 0.25)
    exact_means : track mean scores summed exactly (``math.fsum``) and kept from run to run,
        instead of AB3DMOT's sequential float sum recomputed each run (whose one-ulp drift can
        drop a track whose mean equals a sweep threshold: :func:`_repeated_means`)
    """

    def __init__(self, sequences: Sequence[EvalSequence], min_overlap: float = 0.25, exact_means: bool = False) -> None:
        self.sequences = tuple(sequences)
        self.min_overlap = float(min_overlap)
        frames = [(si, fi, f) for si, s in enumerate(self.sequences) for fi, f in enumerate(s.frames)]
        self._frames = frames
        ng = np.array([len(f.gt_ids) for _, _, f in frames], dtype=np.int64)
        nt = np.array([len(f.trk_ids) for _, _, f in frames], dtype=np.int64)
        self._g0 = np.concatenate([[0], np.cumsum(ng)])
        self._t0 = np.concatenate([[0], np.cumsum(nt)])
        cat = _cat
        self._gt_ign = cat([f.gt_ignored for _, _, f in frames], bool)
        self._trk_ign = cat([f.trk_ignorable for _, _, f in frames], bool)
        self._trk_id = cat([f.trk_ids for _, _, f in frames], np.int64)
        self._trk_frame = np.repeat(np.arange(len(frames)), nt)
        self._valid = np.zeros(len(self._trk_id), bool)
        # mean score of each box's track over its sequence, as AB3DMOT computes it run after run
        trk_seq = np.repeat(np.array([si for si, _, _ in frames], dtype=np.int64), nt)
        scores = cat([f.trk_scores for _, _, f in frames], np.float64)
        self._track_of = np.zeros(len(scores), np.int64)
        self._track_means: list[NDArray[np.float64]] = []
        if len(scores):
            key = np.stack([trk_seq, self._trk_id], axis=1)
            _, inv = np.unique(key, axis=0, return_inverse=True)
            self._track_of = inv.reshape(-1)
            order = np.argsort(self._track_of, kind="stable")
            cuts = np.flatnonzero(np.diff(self._track_of[order])) + 1
            parts = np.split(order, cuts)
            self._track_means = (
                [np.array([math.fsum(scores[part].tolist()) / len(part)]) for part in parts]
                if exact_means
                else [_repeated_means(scores[part]) for part in parts]
            )
        self._runs = 0
        # ground-truth trajectories: global gt indices in frame order, per (sequence, id)
        self._traj: list[tuple[int, int, NDArray[np.int64]]] = []
        gt_seq = np.repeat(np.array([si for si, _, _ in frames], dtype=np.int64), ng)
        gt_id = cat([f.gt_ids for _, _, f in frames], np.int64)
        self._gt_frame_no = np.repeat(np.array([f.frame for _, _, f in frames], dtype=np.int64), ng)
        if len(gt_id):
            order = np.lexsort((np.arange(len(gt_id)), gt_id, gt_seq))
            ks = np.stack([gt_seq[order], gt_id[order]], axis=1)
            cuts = np.flatnonzero(np.any(np.diff(ks, axis=0) != 0, axis=1)) + 1
            for part in np.split(order, cuts):
                self._traj.append((int(gt_seq[part[0]]), int(gt_id[part[0]]), part))
        self._s0 = np.concatenate([[0], np.cumsum(ng * nt)]).astype(np.int64)
        self._sim_flat = cat([f.similarity.reshape(-1) for _, _, f in frames], np.float64)
        # base matching (all boxes kept)
        pg, pt = [], []
        for k, (_, _, f) in enumerate(frames):
            r, c = match_frame(f.similarity, self.min_overlap)
            pg.append(r + self._g0[k])
            pt.append(c + self._t0[k])
        self._base_g = cat(pg, np.int64)
        self._base_t = cat(pt, np.int64)
        self._cache: dict[tuple[int, bytes], tuple[NDArray[np.int64], NDArray[np.int64]]] = {}

    def _mean_scores(self, run: int) -> NDArray[np.float64]:
        """(T_all,) each box's track mean score as AB3DMOT sees it in its ``run``-th evaluation."""
        if not self._track_means:
            return np.zeros(0)
        per_track = np.array([m[min(run, len(m) - 1)] for m in self._track_means])
        return per_track[self._track_of]

    def _pairs(self, kept: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Global (gt, result) index pairs matched when only ``kept`` result boxes exist."""
        lost = ~kept[self._base_t]
        if not lost.any():
            return self._base_g, self._base_t
        redo = np.unique(self._trk_frame[self._base_t[lost]])
        stay = ~np.isin(self._trk_frame[self._base_t], redo)
        pg, pt = [self._base_g[stay]], [self._base_t[stay]]
        for k in redo.tolist():
            t0, t1 = self._t0[k], self._t0[k + 1]
            km = kept[t0:t1]
            key = (k, np.packbits(km).tobytes() + bytes([len(km) % 8]))
            hit = self._cache.get(key)
            if hit is None:
                f = self._frames[k][2]
                idx = np.flatnonzero(km)
                r, c = match_frame(f.similarity[:, idx], self.min_overlap)
                hit = (r + self._g0[k], idx[c] + t0)
                self._cache[key] = hit
            pg.append(hit[0])
            pt.append(hit[1])
        return np.concatenate(pg), np.concatenate(pt)

    def _sim(self, pg: NDArray[np.int64], pt: NDArray[np.int64]) -> NDArray[np.float64]:
        """Similarity of global (gt, result) pairs, read from the flattened per-frame matrices."""
        k = self._trk_frame[pt]
        nt = self._t0[k + 1] - self._t0[k]
        return self._sim_flat[self._s0[k] + (pg - self._g0[k]) * nt + (pt - self._t0[k])]

    def run(self, threshold: float = NO_THRESHOLD, recall_threshold: float = 1.0, details: bool = False) -> ClearResult:
        """One evaluation at a score threshold (tracks with mean score < threshold removed).

        ``details=True`` also returns the ID error events and the :class:`AssignedFrame` lists.
        """
        mean = self._mean_scores(self._runs)
        self._runs += 1
        kept = mean >= threshold
        pg, pt = self._pairs(kept)
        self._valid[pt] = True
        sim = self._sim(pg, pt)
        g_ign = self._gt_ign
        matched = np.zeros(len(g_ign), bool)
        matched[pg] = True
        tp = len(pg)
        itp = int(np.count_nonzero(g_ign[pg]))
        fn = int(np.count_nonzero(~g_ign & ~matched))
        ifn = int(np.count_nonzero(g_ign & ~matched))
        n_gt = int(np.count_nonzero(~g_ign))
        n_tr = int(np.count_nonzero(kept))
        fp = n_tr - tp - int(np.count_nonzero(kept & self._trk_ign & ~self._valid))
        total_iou = float(sim.sum())
        tid = np.full(len(g_ign), -1, np.int64)
        tid[pg] = self._trk_id[pt]
        ids = frag = mt = pt_n = ml = n_ign_traj = 0
        events: list[IdErrorEvent] = []
        for si, gid, idx in self._traj:
            g = tid[idx].tolist()
            e = trajectory_errors(g, g_ign[idx].tolist())
            if e.all_ignored:
                n_ign_traj += 1
                continue
            ids += len(e.id_switches)
            frag += len(e.fragmentations)
            if details:
                name = self.sequences[si].name
                fno = self._gt_frame_no[idx]
                events += [IdErrorEvent(name, gid, int(fno[p]), "IDS") for p in e.id_switches]
                events += [
                    IdErrorEvent(name, gid, int(fno[p]), "FRAG", p in e.same_id_fragmentations)
                    for p in e.fragmentations
                ]
            if all(x == -1 for x in g):
                ml += 1
                continue
            ratio = e.tracked / float(e.evaluated)
            if ratio > 0.8:
                mt += 1
            elif ratio < 0.2:
                ml += 1
            else:
                pt_n += 1
        denom = len(self._traj) - n_ign_traj
        mtf, ptf, mlf = (mt / denom, pt_n / denom, ml / denom) if denom else (0.0, 0.0, 0.0)
        recall = tp / float(tp + fn) if (fp + tp) and (tp + fn) else 0.0
        precision = tp / float(fp + tp) if (fp + tp) and (tp + fn) else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if n_gt == 0:
            mota = moda = smota = math.nan
        else:
            mota = 1.0 - (fn + fp + ids) / float(n_gt)
            moda = 1.0 - (fn + fp) / float(n_gt)
            r = recall_threshold
            smota = min(1.0, max(0.0, 1.0 - (fn + fp + ids - (1.0 - r) * n_gt) / float(r * n_gt)))
        motp = total_iou / tp if tp else 0.0
        assigned: dict[str, tuple[AssignedFrame, ...]] = {}
        if details:
            assigned = self._assigned_frames(kept, pg, pt)
        return ClearResult(
            threshold=float(threshold),
            recall_threshold=float(recall_threshold),
            tp=tp,
            itp=itp,
            fp=fp,
            fn=fn,
            ifn=ifn,
            ids=ids,
            frag=frag,
            n_gt=n_gt,
            n_tr=n_tr,
            total_iou=total_iou,
            mota=mota,
            motp=motp,
            moda=moda,
            smota=smota,
            recall=recall,
            precision=precision,
            f1=f1,
            mt=mtf,
            pt=ptf,
            ml=mlf,
            tp_scores=mean[pt],
            events=tuple(events),
            assigned=assigned,
        )

    def _assigned_frames(
        self, kept: NDArray[np.bool_], pg: NDArray[np.int64], pt: NDArray[np.int64]
    ) -> dict[str, tuple[AssignedFrame, ...]]:
        """Apply the ignore rules: drop ignored GT, results matched to it, ignored results."""
        keep_trk = kept & ~(self._trk_ign & ~self._valid)
        keep_trk[pt[self._gt_ign[pg]]] = False
        keep_gt = ~self._gt_ign
        out: dict[str, list[AssignedFrame]] = {s.name: [] for s in self.sequences}
        fr = self._trk_frame[pt]
        order = np.argsort(fr, kind="stable")
        bounds = np.searchsorted(fr[order], np.arange(len(self._frames) + 1))
        for k, (si, _, f) in enumerate(self._frames):
            g0, t0 = self._g0[k], self._t0[k]
            kg = keep_gt[g0 : self._g0[k + 1]]
            kt = keep_trk[t0 : self._t0[k + 1]]
            sel = order[bounds[k] : bounds[k + 1]]
            rows, cols = pg[sel] - g0, pt[sel] - t0
            gi = np.full(len(kg), -1, np.int64)
            gi[kg] = np.arange(int(kg.sum()))
            ti = np.full(len(kt), -1, np.int64)
            ti[kt] = np.arange(int(kt.sum()))
            ok = kg[rows] & kt[cols]
            out[self.sequences[si].name].append(
                AssignedFrame(
                    frame=f.frame,
                    gt_ids=f.gt_ids[kg],
                    trk_ids=f.trk_ids[kt],
                    trk_scores=f.trk_scores[kt],
                    similarity=f.similarity[np.ix_(kg, kt)],
                    match_gt=gi[rows[ok]],
                    match_trk=ti[cols[ok]],
                )
            )
        return {k: tuple(v) for k, v in out.items()}


def _repeated_means(scores: NDArray[np.float64], max_iter: int = 20) -> NDArray[np.float64]:
    """AB3DMOT's track mean score at each evaluation run, floating-point rounding included.

    AB3DMOT replaces every box's score by its track mean ``sum(scores) / n`` (a sequential
    float sum, as Python <= 3.11's ``sum``) and recomputes that mean from the replaced scores at
    the next run, so the mean can drift by an ulp from run to run; a track whose mean equals a
    sweep threshold may then fall just below it. Entry ``k`` is the mean used by run ``k``
    (``np.cumsum`` sums sequentially); the array stops once the value is stable.
    """
    n = len(scores)
    out = [float(np.cumsum(scores)[-1]) / float(n)]
    for _ in range(max_iter):
        nxt = float(np.cumsum(np.full(n, out[-1]))[-1]) / float(n)
        if nxt == out[-1]:
            break
        out.append(nxt)
    return np.array(out)


def recall_thresholds(
    scores: ArrayLike, num_gt: int, num_sample_pts: int = NUM_SAMPLE_PTS
) -> tuple[list[float], list[float]]:
    """The score thresholds of the sAMOTA/AMOTA sweep (AB3DMOT ``getThresholds``).

    Parameters
    ----------
    scores : the (mean track) scores of the true positives with no threshold
    num_gt : ``TP + FN`` with no threshold

    The scores sorted in decreasing order give recalls ``(i + 1) / num_gt``; walking down them,
    the score whose recall is closest to the next target ``0, 1/40, 2/40, ...`` is kept (the
    last score is always kept). The first (recall 0) entry is dropped, so at most 40 pairs
    ``(threshold, recall)`` remain; recall levels the results never reach are simply absent
    (they count as 0 in the averages).

    >>> recall_thresholds([0.9, 0.8, 0.7, 0.6], 4, num_sample_pts=5)
    ([0.8, 0.7, 0.6], [0.25, 0.5, 0.75])
    """
    s = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    current = 0.0
    thresholds: list[float] = []
    recalls: list[float] = []
    n = len(s)
    for i, score in enumerate(s.tolist()):
        l_recall = (i + 1) / float(num_gt)
        r_recall = (i + 2) / float(num_gt) if i < n - 1 else l_recall
        if (r_recall - current) < (current - l_recall) and i < n - 1:
            continue
        thresholds.append(score)
        recalls.append(current)
        current += 1.0 / (num_sample_pts - 1.0)
    return thresholds[1:], recalls[1:]


@dataclass(frozen=True)
class SweepResult:
    """sAMOTA / AMOTA / AMOTP and the CLEAR figures at the best-MOTA threshold.

    base : the run with no threshold (all results), with ID error events and assigned frames
    best : the run at ``best_threshold`` (AB3DMOT's "best results with single threshold")
    curve : (threshold, recall, sMOTA, MOTA, MOTP) of each sweep point
    """

    samota: float
    amota: float
    amotp: float
    best_threshold: float
    base: ClearResult
    best: ClearResult
    curve: tuple[tuple[float, float, float, float, float], ...]


def kitti_sweep(evaluator: ClearEvaluator, num_sample_pts: int = NUM_SAMPLE_PTS) -> SweepResult:
    """AB3DMOT's ``evaluate``: the no-threshold run, the recall sweep, then the best-MOTA run.

    ``sAMOTA = sum_r sMOTA_r / (num_sample_pts - 1)`` (likewise AMOTA from MOTA and AMOTP from
    MOTP) over the thresholds of :func:`recall_thresholds`. The best threshold is the first
    with the highest MOTA above 0 (else no threshold).
    """
    base = evaluator.run(NO_THRESHOLD, 1.0, details=True)
    thresholds, recalls = recall_thresholds(base.tp_scores, base.tp + base.fn, num_sample_pts)
    s_sum = m_sum = p_sum = 0.0
    best_mota, best_thr = 0.0, NO_THRESHOLD
    curve = []
    for thr, rec in zip(thresholds, recalls):
        r = evaluator.run(thr, rec)
        s_sum += _nan0(r.smota)
        m_sum += _nan0(r.mota)
        p_sum += r.motp
        curve.append((thr, rec, r.smota, r.mota, r.motp))
        if r.mota > best_mota:
            best_mota, best_thr = r.mota, thr
    best = evaluator.run(best_thr, 1.0)
    k = float(num_sample_pts - 1)
    return SweepResult(s_sum / k, m_sum / k, p_sum / k, best_thr, base, best, tuple(curve))


def _nan0(x: float) -> float:
    return 0.0 if math.isnan(x) else x
