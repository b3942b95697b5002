"""HOTA: Higher Order Tracking Accuracy (Luiten et al., IJCV 2020), on any similarity.

The algorithm is TrackEval's (``trackeval/metrics/hota.py``), re-implemented on our frames with
the similarity the caller gives (here: 3D IoU of upright boxes in [0, 1]).

Definitions, per localisation threshold ``alpha`` in {0.05, 0.10, ..., 0.95}
-----------------------------------------------------------------------------
1. Global alignment: over the whole sequence, for each ground-truth id ``g`` and result id
   ``t``, ``A(g, t) = M(g, t) / (n_g + n_t - M(g, t))`` where ``n_g``, ``n_t`` count their
   boxes and ``M(g, t)`` sums, over frames, the *soft* match
   ``s_gt / (sum_t' s_gt' + sum_g' s_g't - s_gt)``.
2. Per frame, Hungarian assignment maximising ``A(g, t) * s_gt``; a pair is a match at ``alpha``
   when ``s_gt >= alpha``. ``TP``, ``FN = G - TP``, ``FP = T - TP`` per alpha.
3. ``DetA = TP / (TP + FN + FP)``; ``AssA = (1/TP) sum_matches c(g, t) / (n_g + n_t - c(g, t))``
   with ``c(g, t)`` the number of frames ``(g, t)`` matched at this alpha;
   ``HOTA_alpha = sqrt(DetA * AssA)``; also ``LocA`` (mean similarity of matches), DetRe, DetPr,
   AssRe, AssPr.
4. ``HOTA = mean_alpha HOTA_alpha`` (likewise each sub-metric).

Sequences combine as in TrackEval: TP, FN, FP add up; AssA, AssRe, AssPr and LocA are averaged
weighted by TP; DetA and HOTA are recomputed from those.

Example
-------
>>> import numpy as np
>>> fr = [(np.array([1]), np.array([7]), np.array([[1.0]]))] * 3
>>> round(hota_sequence(fr).hota, 6)
1.0
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

#: the localisation thresholds alpha
ALPHAS = np.arange(0.05, 0.99, 0.05)
_EPS = np.finfo(float).eps

#: one frame: (G,) ground-truth ids, (T,) result ids, (G, T) similarity in [0, 1]
HotaFrame = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]


@dataclass(frozen=True)
class HotaResult:
    """Per-alpha arrays (len(ALPHAS),) and their means (fractions in [0, 1])."""

    tp: NDArray[np.float64]
    fn: NDArray[np.float64]
    fp: NDArray[np.float64]
    ass_a: NDArray[np.float64]
    ass_re: NDArray[np.float64]
    ass_pr: NDArray[np.float64]
    loc_a: NDArray[np.float64]

    @property
    def det_a(self) -> NDArray[np.float64]:
        return self.tp / np.maximum(1.0, self.tp + self.fn + self.fp)

    @property
    def det_re(self) -> NDArray[np.float64]:
        return self.tp / np.maximum(1.0, self.tp + self.fn)

    @property
    def det_pr(self) -> NDArray[np.float64]:
        return self.tp / np.maximum(1.0, self.tp + self.fp)

    @property
    def hota_alpha(self) -> NDArray[np.float64]:
        return np.sqrt(self.det_a * self.ass_a)

    @property
    def hota(self) -> float:
        return float(np.mean(self.hota_alpha))

    def summary(self) -> dict[str, float]:
        """Alpha-averaged HOTA, DetA, AssA, DetRe, DetPr, AssRe, AssPr, LocA in [0, 1]."""
        return {
            "HOTA": self.hota,
            "DetA": float(np.mean(self.det_a)),
            "AssA": float(np.mean(self.ass_a)),
            "DetRe": float(np.mean(self.det_re)),
            "DetPr": float(np.mean(self.det_pr)),
            "AssRe": float(np.mean(self.ass_re)),
            "AssPr": float(np.mean(self.ass_pr)),
            "LocA": float(np.mean(self.loc_a)),
        }


def _dense(frames: Sequence[HotaFrame]) -> tuple[list[NDArray[np.int64]], list[NDArray[np.int64]], int, int]:
    gts = [np.asarray(g, dtype=np.int64) for g, _, _ in frames]
    trs = [np.asarray(t, dtype=np.int64) for _, t, _ in frames]
    ug = np.unique(np.concatenate(gts)) if gts else np.zeros(0, np.int64)
    ut = np.unique(np.concatenate(trs)) if trs else np.zeros(0, np.int64)
    return ([np.searchsorted(ug, g) for g in gts], [np.searchsorted(ut, t) for t in trs], len(ug), len(ut))


def hota_sequence(frames: Sequence[HotaFrame]) -> HotaResult:
    """HOTA of one sequence (see the module docstring); ids are per-sequence."""
    frames = list(frames)
    na = len(ALPHAS)
    gi, ti, ng, nt = _dense(frames)
    tp, fn, fp, loc = np.zeros(na), np.zeros(na), np.zeros(na), np.zeros(na)
    if ng == 0 or nt == 0:
        fn[:] = sum(len(g) for g in gi)
        fp[:] = sum(len(t) for t in ti)
        z = np.zeros(na)
        return HotaResult(tp, fn, fp, z, z.copy(), z.copy(), z.copy())
    potential = np.zeros((ng, nt))
    gt_count = np.zeros((ng, 1))
    tr_count = np.zeros((1, nt))
    for (_, _, s), g, t in zip(frames, gi, ti):
        s = np.asarray(s, dtype=np.float64).reshape(len(g), len(t))
        denom = s.sum(0)[None, :] + s.sum(1)[:, None] - s
        soft = np.zeros_like(s)
        m = denom > _EPS
        soft[m] = s[m] / denom[m]
        potential[g[:, None], t[None, :]] += soft
        gt_count[g, 0] += 1
        tr_count[0, t] += 1
    align = potential / np.maximum(gt_count + tr_count - potential, _EPS)
    matches = np.zeros((na, ng, nt))
    for (_, _, s), g, t in zip(frames, gi, ti):
        if len(g) == 0 or len(t) == 0:
            fn += len(g)
            fp += len(t)
            continue
        s = np.asarray(s, dtype=np.float64).reshape(len(g), len(t))
        score = align[g[:, None], t[None, :]] * s
        r, c = linear_sum_assignment(-score)
        sim = s[r, c]
        for a, alpha in enumerate(ALPHAS):
            ok = sim >= alpha - _EPS
            k = int(ok.sum())
            tp[a] += k
            fn[a] += len(g) - k
            fp[a] += len(t) - k
            if k:
                loc[a] += float(sim[ok].sum())
                matches[a, g[r[ok]], t[c[ok]]] += 1
    ass_a, ass_re, ass_pr = np.zeros(na), np.zeros(na), np.zeros(na)
    for a in range(na):
        mc = matches[a]
        ass_a[a] = np.sum(mc * (mc / np.maximum(1.0, gt_count + tr_count - mc))) / max(1.0, tp[a])
        ass_re[a] = np.sum(mc * (mc / np.maximum(1.0, gt_count))) / max(1.0, tp[a])
        ass_pr[a] = np.sum(mc * (mc / np.maximum(1.0, tr_count))) / max(1.0, tp[a])
    loc_a = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    return HotaResult(tp, fn, fp, ass_a, ass_re, ass_pr, loc_a)


def combine_hota(results: Iterable[HotaResult]) -> HotaResult:
    """Combine sequences: sum TP/FN/FP, TP-weighted mean of AssA, AssRe, AssPr and LocA."""
    rs = list(results)
    na = len(ALPHAS)
    if not rs:
        z = np.zeros(na)
        return HotaResult(z, z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), z.copy())
    tp = sum((r.tp for r in rs), np.zeros(na))
    fn = sum((r.fn for r in rs), np.zeros(na))
    fp = sum((r.fp for r in rs), np.zeros(na))

    def wmean(attr: str) -> NDArray[np.float64]:
        num = sum((getattr(r, attr) * r.tp for r in rs), np.zeros(na))
        return num / np.maximum(1.0, tp)

    loc = sum((r.loc_a * r.tp for r in rs), np.zeros(na))
    loc_a = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    return HotaResult(tp, fn, fp, wmean("ass_a"), wmean("ass_re"), wmean("ass_pr"), loc_a)
