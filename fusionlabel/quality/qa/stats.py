"""Robust per-class statistics of a check's values, and the values themselves.

A check turns labels into one number ``x`` per box (or per transition); :class:`Samples` collects
them with their class, track, frames and a reason. :func:`robust_z` scores each value against the
values of the same class (one-sided: large ``x`` is unlikely)::

    z = (x - median_c(x)) / s_c,   s_c = max(1.4826 MAD_c(x), (Q_c(q) - median_c(x)) / Phi^-1(q), floor)

Example
-------
>>> import numpy as np
>>> z, st = robust_z(np.r_[np.zeros(40), 1.0], ["Car"] * 41, floor=0.1, min_samples=30)
>>> float(z[-1]), st["Car"]
(10.0, (0.0, 0.1))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

_MAD_TO_SIGMA = 1.4826


@dataclass
class Samples:
    """One check's values as they are collected (a mutable accumulator, filled by :meth:`add`).

    x : the values (the check's unit); cls : each value's class; tid : its track;
    frames : the frames it is measured on; why : one line for a human each;
    other : the other track(s) involved (``overlap``)
    """

    x: list[float] = field(default_factory=list)
    cls: list[str] = field(default_factory=list)
    tid: list[int] = field(default_factory=list)
    frames: list[tuple[int, ...]] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    other: list[tuple[int, ...]] = field(default_factory=list)

    def add(self, x: float, cls: str, tid: int, frames: tuple[int, ...], why: str, other: tuple[int, ...] = ()) -> None:
        """Append one value with its class, track, frames, reason and other tracks."""
        self.x.append(float(x))
        self.cls.append(cls)
        self.tid.append(tid)
        self.frames.append(frames)
        self.why.append(why)
        self.other.append(other)


def robust_z(
    x: NDArray[np.float64], cls: Sequence[str], floor: float, min_samples: int, quantile: float = 0.9
) -> tuple[NDArray[np.float64], dict[str, tuple[float, float]]]:
    """One-sided robust z of each value against its class: ``(x - med_c) / s_c`` with
    ``s_c = max(1.4826 MAD_c, (Q_c(quantile) - med_c) / Phi^-1(quantile), floor)``.

    Classes with fewer than ``min_samples`` values use the statistics of all values.
    Returns the z values and ``{class: (median, scale)}`` (``"*"`` for the pooled statistics).
    """
    x = np.asarray(x, dtype=np.float64)
    cl = np.asarray(cls, dtype=object)
    z = np.zeros(len(x))
    stats: dict[str, tuple[float, float]] = {}
    if len(x) == 0:
        return z, stats

    def ms(v: NDArray[np.float64]) -> tuple[float, float]:
        med = float(np.median(v))
        mad = _MAD_TO_SIGMA * float(np.median(np.abs(v - med)))
        # labels interpolated between key frames make most values identical (MAD = 0): a high
        # quantile then still measures the spread (and tolerates 1 - quantile outliers)
        qs = (float(np.quantile(v, quantile)) - med) / float(ndtri(quantile))
        return med, max(mad, qs, floor)

    stats["*"] = ms(x)
    for c in np.unique(cl):
        m = cl == c
        med, sc = ms(x[m]) if m.sum() >= min_samples else stats["*"]
        if m.sum() >= min_samples:
            stats[str(c)] = (med, sc)
        z[m] = (x[m] - med) / sc
    return z, stats
