"""Where is the tracker unsure? Per-frame, per-track confidence with the reasons.

Each reported box (a row of :class:`TrackHistory`) gets zero or more reasons, each with a
severity ``s`` in (0, 1]:

``near_tie``
    the Hungarian match won by a small affinity margin ``m`` over the best competing pair
    (same track or same detection): ``s = 1 - m / tie_margin`` for ``m < tie_margin``.
``close_tracks`` / ``crossing``
    another track in the same frame has its centre within ``close_factor`` times the sum of
    the two footprint radii (half diagonals): ``s = 1 - d / (close_factor (r_i + r_j))``;
    ``crossing`` when, in addition, the two close tracks approach each other
    (``(p_j - p_i) . (v_j - v_i) < 0``): the classic ID-swap situation.
``fragment``
    the track starts less than ``fragment_frames`` after another track ended, near where that
    one was heading: ``|p_birth - (p_death + v_death dt_gap)| < fragment_distance +
    fragment_speed dt_gap`` (possible fragmentation / ID switch); flagged on the birth frame.
``coasting``
    the track is matched again after coasting ``g >= coast_frames`` frames without a
    detection: ``s = min(1, g / (2 coast_frames))``; flagged on the re-acquisition frame.
``size_change``
    the matched detection's size differs from the track's previous size by a relative
    ``r > size_change`` (largest of l, w, h): ``s = min(1, r / (2 size_change))``.
``class_change``
    the matched detection's category differs from the track's: ``s = 1``.

Confidence of a box: ``c = prod_r (1 - w_r s_r)`` with the per-reason weights ``w_r``. The
frame's score is the probability that at least one of its boxes is wrong under independence:
``score = 1 - prod_boxes c``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from numpy.typing import NDArray

#: reason names, in the order their columns appear in :func:`reason_matrix`
REASONS = ("near_tie", "close_tracks", "crossing", "fragment", "coasting", "size_change", "class_change")


@dataclass(frozen=True)
class AmbiguityConfig:
    """Thresholds and weights of the ambiguity reasons (see the module docstring)."""

    tie_margin: float = 0.15
    close_factor: float = 1.0
    fragment_frames: int = 60
    fragment_distance: float = 4.0
    fragment_speed: float = 4.0
    coast_frames: int = 2
    size_change: float = 0.3
    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "near_tie": 0.6,
            "close_tracks": 0.3,
            "crossing": 0.8,
            "fragment": 0.9,
            "coasting": 0.7,
            "size_change": 0.3,
            "class_change": 0.5,
        }
    )


@dataclass(frozen=True)
class TrackHistory:
    """The reported boxes of a sequence as flat rows (R rows, tracking frame).

    frame : (R,) int64; track_id : (R,) int64
    box : (R, 7) float64 reported box ``[x, y, z, l, w, h, yaw]``
    matched : (R,) bool, False where the box was interpolated across a coasting gap
    margin : (R,) float64 association margin (``inf`` at births, NaN when unmatched)
    flipped : (R,) bool, detection heading flipped by pi
    det_box : (R, 7) float64 matched detection (NaN when unmatched)
    velocity : (R, 2) float64 m/s, filtered (vx, vy)
    category, det_category : (R,) int64 codes of the track's and the detection's category (-1 none)
    dt : s between frames
    """

    frame: NDArray[np.int64]
    track_id: NDArray[np.int64]
    box: NDArray[np.float64]
    matched: NDArray[np.bool_]
    margin: NDArray[np.float64]
    flipped: NDArray[np.bool_]
    det_box: NDArray[np.float64]
    velocity: NDArray[np.float64]
    category: NDArray[np.int64]
    det_category: NDArray[np.int64]
    dt: float = 0.1


@dataclass(frozen=True)
class FrameAmbiguity:
    """Per-track confidence and reasons in one frame.

    track_ids : (K,) int64
    confidence : (K,) float64 in [0, 1] (1 = nothing suspicious)
    reasons : K tuples of ``(reason, severity)``
    score : float in [0, 1], ``1 - prod(confidence)``: how likely the frame holds an ID error
    """

    track_ids: NDArray[np.int64]
    confidence: NDArray[np.float64]
    reasons: tuple[tuple[tuple[str, float], ...], ...]
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "tracks": [
                {"track_id": int(t), "confidence": float(c), "reasons": [{"reason": r, "severity": s} for r, s in rs]}
                for t, c, rs in zip(self.track_ids, self.confidence, self.reasons)
            ],
        }


def reason_matrix(h: TrackHistory, cfg: AmbiguityConfig) -> NDArray[np.float64]:
    """(R, len(REASONS)) severities in [0, 1] (0 = reason absent) for every row of ``h``."""
    n = len(h.frame)
    sev = np.zeros((n, len(REASONS)))
    if n == 0:
        return sev
    col = {r: i for i, r in enumerate(REASONS)}
    # near tie
    m = np.where(h.matched & np.isfinite(h.margin), h.margin, np.inf)
    sev[:, col["near_tie"]] = np.clip(1.0 - m / cfg.tie_margin, 0.0, 1.0)
    # close / crossing: compare rows of the same frame, pairs found by offsets in frame order
    order = np.argsort(h.frame, kind="stable")
    fr = h.frame[order]
    p = h.box[order, :2]
    v = h.velocity[order]
    rad = 0.5 * np.hypot(h.box[order, 3], h.box[order, 4])
    close = np.zeros(n)
    cross = np.zeros(n)
    k = 1
    while k < n:
        same = fr[k:] == fr[:-k]
        if not same.any():
            break
        i = np.flatnonzero(same)
        j = i + k
        dp = p[j] - p[i]
        d = np.hypot(dp[:, 0], dp[:, 1])
        s = np.clip(1.0 - d / (cfg.close_factor * (rad[i] + rad[j])), 0.0, 1.0)
        dv = np.nan_to_num(v[j] - v[i])
        app = np.where(np.sum(dp * dv, axis=1) < 0, s, 0.0)
        np.maximum.at(close, i, s)
        np.maximum.at(close, j, s)
        np.maximum.at(cross, i, app)
        np.maximum.at(cross, j, app)
        k += 1
    sev[order, col["close_tracks"]] = np.where(cross > 0, 0.0, close)
    sev[order, col["crossing"]] = cross
    # per-track first / last rows (rows of h are grouped by track in frame order)
    tid = h.track_id
    o2 = np.lexsort((h.frame, tid))
    t_sorted = tid[o2]
    starts = o2[np.r_[0, np.flatnonzero(np.diff(t_sorted)) + 1]]
    ends = o2[np.r_[np.flatnonzero(np.diff(t_sorted)), n - 1]]
    # fragment: birth near the extrapolated end of a track that ended shortly before
    fb, fd = h.frame[starts], h.frame[ends]
    gap = fb[:, None] - fd[None, :]  # (births, deaths) frames
    ok = (gap > 0) & (gap <= cfg.fragment_frames)
    if ok.any():
        gs = gap * h.dt
        pred = h.box[ends, None, :2].transpose(1, 0, 2) + np.nan_to_num(h.velocity[ends])[None, :, :] * gs[..., None]
        dist = np.hypot(*(h.box[starts, None, :2] - pred).transpose(2, 0, 1))
        lim = np.maximum(cfg.fragment_distance + cfg.fragment_speed * gs, 1e-9)
        s = np.where(ok, np.clip(1.0 - dist / lim, 0.0, 1.0), 0.0)
        # only the closest match counts, softened by how long the gap was
        s = s * np.clip(1.0 - (gap - 1) / (2.0 * cfg.fragment_frames), 0.3, 1.0)
        smax = s.max(axis=1)
        sev[starts, col["fragment"]] = np.where(smax > 0, 0.5 + 0.5 * smax, 0.0)
    # coasting: matched row after g unmatched rows of the same track
    f_sorted = h.frame[o2]
    m_sorted = h.matched[o2]
    mi = np.flatnonzero(m_sorted)
    if len(mi) > 1:
        same_t = t_sorted[mi[1:]] == t_sorted[mi[:-1]]
        g = (f_sorted[mi[1:]] - f_sorted[mi[:-1]] - 1) * same_t
        s = np.where(g >= cfg.coast_frames, np.clip(g / (2.0 * cfg.coast_frames), 0.0, 1.0), 0.0)
        sev[o2[mi[1:]], col["coasting"]] = s
        # size change against the previous matched detection of the same track
        db = h.det_box[o2]
        prev, cur = db[mi[:-1], 3:6], db[mi[1:], 3:6]
        rel = np.max(np.abs(cur - prev) / np.maximum(prev, 1e-3), axis=1) * same_t
        sev[o2[mi[1:]], col["size_change"]] = np.where(
            rel > cfg.size_change, np.clip(rel / (2.0 * cfg.size_change), 0.0, 1.0), 0.0
        )
    # class change
    sev[:, col["class_change"]] = ((h.det_category >= 0) & (h.det_category != h.category)).astype(float)
    return sev


def score_ambiguity(h: TrackHistory, cfg: AmbiguityConfig) -> dict[int, FrameAmbiguity]:
    """Per-frame :class:`FrameAmbiguity` for every frame with at least one row in ``h``."""
    sev = reason_matrix(h, cfg)
    w = np.array([cfg.weights.get(r, 0.0) for r in REASONS])
    conf = np.prod(1.0 - sev * w[None, :], axis=1) if len(sev) else np.zeros(0)
    out: dict[int, FrameAmbiguity] = {}
    if not len(h.frame):
        return out
    order = np.argsort(h.frame, kind="stable")
    bounds = np.flatnonzero(np.diff(h.frame[order])) + 1
    for grp in np.split(order, bounds):
        c = conf[grp]
        reasons = []
        for r in grp:
            nz = np.flatnonzero(sev[r] > 0)
            reasons.append(tuple((REASONS[i], round(float(sev[r, i]), 4)) for i in nz))
        out[int(h.frame[grp[0]])] = FrameAmbiguity(
            h.track_id[grp].astype(np.int64), c, tuple(reasons), float(1.0 - np.prod(c))
        )
    return out
