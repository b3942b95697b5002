"""Time synchronisation of sensor streams and ego-pose interpolation.

Every stream keeps its own timestamps. Frames are defined by a *reference* sensor (usually the
LiDAR); every other stream is matched to each reference time by nearest timestamp within a
tolerance. Nothing is silently dropped: unmatched reference frames and unused samples are
counted in the :class:`StreamSync` report.

Example
-------
>>> import numpy as np
>>> s = match_nearest(np.array([0, 100, 200]), np.array([5, 190, 400]), tolerance_ns=20)
>>> s.index.tolist(), s.unused.tolist()
([0, -1, 1], [2])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.transforms import Transform, interpolate


@dataclass(frozen=True)
class StreamSync:
    """How one stream matched the reference timestamps.

    index : (M,) int64, for each reference frame the matched sample index, -1 when none
    offset_ns : (M,) int64, sample time - reference time (0 where unmatched)
    unused : (K',) int64, indices of samples matched to no reference frame
    """

    index: NDArray[np.int64]
    offset_ns: NDArray[np.int64]
    unused: NDArray[np.int64]

    @property
    def matched(self) -> int:
        return int(np.count_nonzero(self.index >= 0))

    @property
    def unmatched_frames(self) -> NDArray[np.int64]:
        return np.flatnonzero(self.index < 0)

    @property
    def max_abs_offset_ns(self) -> int:
        m = self.index >= 0
        return int(np.max(np.abs(self.offset_ns[m]))) if m.any() else 0

    @property
    def mean_abs_offset_ns(self) -> float:
        m = self.index >= 0
        return float(np.mean(np.abs(self.offset_ns[m]))) if m.any() else 0.0


def match_nearest(reference_ns: ArrayLike, stream_ns: ArrayLike, tolerance_ns: int) -> StreamSync:
    """Match each reference time to the nearest stream sample within ``tolerance_ns``.

    Both inputs are int64 nanoseconds; the stream need not be sorted. A sample may serve at
    most one reference frame (the closest one), so a slow stream shows up as unmatched frames
    instead of repeated samples.
    """
    ref = np.asarray(reference_ns, dtype=np.int64).reshape(-1)
    ts = np.asarray(stream_ns, dtype=np.int64).reshape(-1)
    m = len(ref)
    index = np.full(m, -1, dtype=np.int64)
    offset = np.zeros(m, dtype=np.int64)
    if len(ts) == 0 or m == 0:
        return StreamSync(index, offset, np.arange(len(ts), dtype=np.int64))
    order = np.argsort(ts, kind="stable")
    sts = ts[order]
    pos = np.searchsorted(sts, ref)
    lo = np.clip(pos - 1, 0, len(sts) - 1)
    hi = np.clip(pos, 0, len(sts) - 1)
    pick = np.where(np.abs(sts[lo] - ref) <= np.abs(sts[hi] - ref), lo, hi)
    d = sts[pick] - ref
    ok = np.abs(d) <= tolerance_ns
    cand = np.flatnonzero(ok)
    # one sample -> at most one frame: keep the closest claimant
    best: dict[int, int] = {}
    for f in cand:
        s = int(pick[f])
        if s not in best or abs(d[f]) < abs(d[best[s]]):
            best[s] = int(f)
    for s, fi in best.items():
        index[fi] = order[s]
        offset[fi] = d[fi]
    used = np.zeros(len(ts), dtype=bool)
    used[index[index >= 0]] = True
    return StreamSync(index, offset, np.flatnonzero(~used).astype(np.int64))


@dataclass(frozen=True)
class PoseTrack:
    """Ego poses ``T_world_ego`` sampled at increasing times; interpolated in between.

    timestamps_ns : (P,) int64, strictly increasing
    poses : P transforms
    """

    timestamps_ns: NDArray[np.int64]
    poses: tuple[Transform, ...]

    def __post_init__(self) -> None:
        t = np.asarray(self.timestamps_ns, dtype=np.int64).reshape(-1)
        if len(t) != len(self.poses) or len(t) == 0:
            raise ValueError("pose track needs as many poses as timestamps, at least one")
        order = np.argsort(t, kind="stable")
        t = t[order]
        if np.any(np.diff(t) <= 0):
            raise ValueError("pose timestamps must be distinct")
        object.__setattr__(self, "timestamps_ns", t)
        object.__setattr__(self, "poses", tuple(self.poses[i] for i in order))

    def __len__(self) -> int:
        return len(self.poses)

    def at(self, t_ns: int, max_extrapolation_ns: int = 0) -> Transform:
        """``T_world_ego`` at ``t_ns``: slerp/lerp between the neighbouring poses.

        Outside the sampled span it returns the end pose if within ``max_extrapolation_ns``,
        else raises ``ValueError`` (a pose far from any measurement is not a pose).
        """
        t = self.timestamps_ns
        if t_ns <= t[0] or t_ns >= t[-1]:
            end = 0 if t_ns <= t[0] else len(t) - 1
            if abs(int(t_ns) - int(t[end])) > max_extrapolation_ns:
                raise ValueError(f"time {t_ns} ns is outside the ego-pose span [{t[0]}, {t[-1]}]")
            return self.poses[end]
        i = int(np.searchsorted(t, t_ns)) - 1
        alpha = (t_ns - t[i]) / float(t[i + 1] - t[i])
        return interpolate(self.poses[i], self.poses[i + 1], alpha)
