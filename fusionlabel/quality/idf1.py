"""IDF1: identity F1 (Ristani et al., ECCV 2016 workshops), on any similarity.

Definitions (as TrackEval's ``trackeval/metrics/identity.py``)
-------------------------------------------------------------
Each ground-truth trajectory ``g`` may be bound to at most one result trajectory ``t`` for the
whole sequence (a bipartite matching of trajectories; unbound trajectories are matched to a
dummy). A box of ``g`` at frame ``k`` is an *identity true positive* when ``g`` is bound to ``t``
and ``t``'s box at ``k`` has similarity ``>= threshold`` with it (here 3D IoU >= the same
threshold as the CLEAR matching, 0.25 by default; TrackEval's 2D default is 0.5). The binding
maximises the number of IDTP (equivalently minimises ``IDFN + IDFP``):

* ``IDFN = sum_g n_g - IDTP``, ``IDFP = sum_t n_t - IDTP``;
* ``IDP = IDTP / (IDTP + IDFP)``, ``IDR = IDTP / (IDTP + IDFN)``;
* ``IDF1 = IDTP / (IDTP + 0.5 IDFP + 0.5 IDFN)``.

Sequences combine by summing IDTP, IDFN and IDFP.

Example
-------
>>> import numpy as np
>>> # gt 1 over 4 frames: result 5 on the first 3, result 6 on the last
>>> fr = [(np.array([1]), np.array([5]), np.ones((1, 1)))] * 3 + [(np.array([1]), np.array([6]), np.ones((1, 1)))]
>>> r = idf1_sequence(fr, 0.5)
>>> (r.idtp, r.idfn, r.idfp, round(r.idf1, 4))
(3, 1, 1, 0.75)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

IdFrame = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]


@dataclass(frozen=True)
class IdResult:
    """Identity counts; the ratios are properties in [0, 1]."""

    idtp: int
    idfn: int
    idfp: int

    @property
    def idf1(self) -> float:
        return self.idtp / max(1.0, self.idtp + 0.5 * self.idfp + 0.5 * self.idfn)

    @property
    def idp(self) -> float:
        return self.idtp / max(1.0, self.idtp + self.idfp)

    @property
    def idr(self) -> float:
        return self.idtp / max(1.0, self.idtp + self.idfn)


def idf1_sequence(frames: Sequence[IdFrame], threshold: float) -> IdResult:
    """IDTP / IDFN / IDFP of one sequence (ids are per-sequence)."""
    gts = [np.asarray(g, dtype=np.int64) for g, _, _ in frames]
    trs = [np.asarray(t, dtype=np.int64) for _, t, _ in frames]
    ug = np.unique(np.concatenate(gts)) if gts else np.zeros(0, np.int64)
    ut = np.unique(np.concatenate(trs)) if trs else np.zeros(0, np.int64)
    ng, nt = len(ug), len(ut)
    n_gt_boxes = sum(len(g) for g in gts)
    n_tr_boxes = sum(len(t) for t in trs)
    if ng == 0 or nt == 0:
        return IdResult(0, n_gt_boxes, n_tr_boxes)
    co = np.zeros((ng, nt))
    gt_count = np.zeros(ng)
    tr_count = np.zeros(nt)
    for (_, _, s), g, t in zip(frames, gts, trs):
        gi, ti = np.searchsorted(ug, g), np.searchsorted(ut, t)
        s = np.asarray(s, dtype=np.float64).reshape(len(g), len(t))
        r, c = np.nonzero(s >= threshold - np.finfo(float).eps)
        np.add.at(co, (gi[r], ti[c]), 1)
        np.add.at(gt_count, gi, 1)
        np.add.at(tr_count, ti, 1)
    # (ng + nt) square problem: rows = gt ids then dummies, cols = result ids then dummies
    n = ng + nt
    fn_mat = np.zeros((n, n))
    fp_mat = np.zeros((n, n))
    fp_mat[ng:, :nt] = 1e10
    fn_mat[:ng, nt:] = 1e10
    fn_mat[:ng, :nt] = gt_count[:, None]
    fn_mat[np.arange(ng), nt + np.arange(ng)] = gt_count
    fp_mat[:ng, :nt] = tr_count[None, :]
    fp_mat[ng + np.arange(nt), np.arange(nt)] = tr_count
    fn_mat[:ng, :nt] -= co
    fp_mat[:ng, :nt] -= co
    r, c = linear_sum_assignment(fn_mat + fp_mat)
    idfn = int(np.rint(fn_mat[r, c].sum()))
    idfp = int(np.rint(fp_mat[r, c].sum()))
    idtp = int(np.rint(gt_count.sum())) - idfn
    return IdResult(idtp, idfn, idfp)


def combine_idf1(results: Iterable[IdResult]) -> IdResult:
    rs = list(results)
    return IdResult(sum(r.idtp for r in rs), sum(r.idfn for r in rs), sum(r.idfp for r in rs))
