"""A small LRU cache of loaded frames with background prefetch (no Qt).

Recordings load lazily (:class:`~fusionlabel.core.recording.Recording` reads a frame only when
asked), so memory is bounded by what this cache holds: at most ``capacity`` frames of
:class:`~fusionlabel.app.frame_view.FrameData` (a KITTI frame with one camera is ~3.5 MB), plus
the frames being prefetched. After the window shows frame ``i`` it calls :meth:`prefetch_around`
for ``i+1``, ``i-1``, then ``i+2 .. i+ahead`` (nearest first); one worker thread loads them off the
GUI thread, so stepping forward *or back* usually finds the frame ready.

Example
-------
>>> from fusionlabel.io.open import open_recording
>>> from fusionlabel.io.open import SAMPLE
>>> cache = FrameCache(open_recording(SAMPLE), capacity=4)
>>> cache.get(0).index
0
>>> cache.prefetch(1, ahead=2); cache.wait_idle(); sorted(cache.cached())
[0, 1, 2]
>>> cache.close()
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from fusionlabel.app.frame_view import FrameData, load_frame_data
from fusionlabel.core.recording import Recording


class FrameCache:
    """LRU cache of :class:`FrameData`, thread-safe, with one prefetch thread.

    Parameters
    ----------
    rec : the recording
    capacity : frames kept (least recently used evicted first)
    cameras : decode camera images and draw the LiDAR points into them
    """

    def __init__(self, rec: Recording, capacity: int = 8, cameras: bool = True) -> None:
        self.rec = rec
        self.capacity = max(1, int(capacity))
        self.cameras = cameras
        self._lock = threading.RLock()  # cancel() runs done-callbacks that take it again
        self._data: OrderedDict[int, FrameData] = OrderedDict()
        self._pending: dict[int, Future[FrameData]] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fusionlabel-prefetch")
        self.hits = 0
        self.misses = 0

    def _load(self, index: int) -> FrameData:
        return load_frame_data(self.rec, index, self.cameras)

    def _store(self, index: int, data: FrameData) -> None:
        with self._lock:
            self._data[index] = data
            self._data.move_to_end(index)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)

    def get(self, index: int) -> FrameData:
        """The frame's data: from the cache, from a running prefetch, or loaded now.

        Raises what :func:`load_frame_data` raises (a DataError naming the file).
        """
        with self._lock:
            d = self._data.get(index)
            if d is not None:
                self._data.move_to_end(index)
                self.hits += 1
                return d
            fut = self._pending.get(index)
        if fut is not None:
            try:
                d = fut.result()
            except Exception:
                d = None
            if d is not None:
                self.hits += 1
                self._store(index, d)
                return d
        self.misses += 1
        d = self._load(index)
        self._store(index, d)
        return d

    def prefetch(self, start: int, ahead: int = 3) -> None:
        """Load frames ``start .. start+ahead-1`` in the background (those not cached or queued)."""
        self.prefetch_frames(range(start, start + ahead))

    def prefetch_around(self, index: int, ahead: int = 3, behind: int = 1) -> None:
        """Load the neighbours of ``index`` in the background, nearest first: ``index+1``,
        ``index-1``, ``index+2``, ... up to ``ahead`` frames forward and ``behind`` back."""
        order: list[int] = []
        for d in range(1, max(ahead, behind) + 1):
            if d <= ahead:
                order.append(index + d)
            if d <= behind:
                order.append(index - d)
        self.prefetch_frames(order)

    def prefetch_frames(self, frames: Iterable[int]) -> None:
        """Load ``frames`` in the background in the given order (those not cached or queued);
        queued requests for other frames are dropped (the user has moved away from them)."""
        n = len(self.rec)
        want = [i for i in dict.fromkeys(int(f) for f in frames) if 0 <= i < n]
        with self._lock:  # drop queued requests the user has moved away from (bounded queue)
            for i, f in list(self._pending.items()):
                if i not in want and f.cancel():
                    self._pending.pop(i, None)
        for i in want:
            with self._lock:
                if i in self._data or i in self._pending:
                    continue
                fut = self._pool.submit(self._load, i)
                self._pending[i] = fut
            fut.add_done_callback(functools.partial(self._done, i))

    def _done(self, index: int, fut: Future[FrameData]) -> None:
        with self._lock:
            self._pending.pop(index, None)
        if not fut.cancelled() and fut.exception() is None:
            self._store(index, fut.result())

    def cached(self) -> list[int]:
        with self._lock:
            return list(self._data)

    def invalidate(self) -> None:
        """Forget everything (e.g. after the calibration changed)."""
        with self._lock:
            self._data.clear()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until queued prefetches have finished (tests, benchmarks)."""
        with self._lock:
            futs = list(self._pending.values())
        for f in futs:
            try:
                f.result(timeout=timeout)
            except Exception:
                pass

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(d.nbytes for d in self._data.values())

    def close(self) -> None:
        """Cancel queued prefetches and stop the worker (waits for the frame being loaded)."""
        with self._lock:
            pending = list(self._pending.values())  # cancel() runs _done, which pops from _pending
            self._pending.clear()
        for f in pending:
            f.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
