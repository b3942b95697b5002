"""Helpers shared by the benchmark scripts: timing with repeats, locating ../shared."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("FUSIONLABEL_SHARED", REPO.parent / "shared"))


def timeit(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> tuple[float, float]:
    """Median and minimum wall time of ``fn`` in seconds over ``repeat`` runs (after warm-up)."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts)
