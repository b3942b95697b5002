"""Playback: step through the recording at its own rate (times a speed factor) with Space.

:class:`Playback` follows the recording's clock, not a fixed frame period: on each tick of a
short timer it shows the last frame whose timestamp is at or before
``t_start + (now - wall_start) * speed``. A frame that takes longer to show than the recording's
frame period makes it skip frames instead of falling behind; at the last frame it stops.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import ArrayLike
from PySide6 import QtCore

from fusionlabel.app.document import LabelDocument

#: the speed factors the window offers
SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


class Playback(QtCore.QObject):
    """Plays ``doc`` through frame times ``timestamps_ns`` ((N,) int64, nanoseconds).

    Signals: ``playing_changed(bool)``.
    """

    playing_changed = QtCore.Signal(bool)

    def __init__(self, doc: LabelDocument, timestamps_ns: ArrayLike, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.t = np.asarray(timestamps_ns, dtype=np.int64).reshape(-1)
        self.speed = 1.0
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self._anchor = (0.0, 0)  # (wall clock s, recording ns)

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    @property
    def rate_hz(self) -> float:
        """The recording's median frame rate (frames per second of recording time)."""
        if len(self.t) < 2:
            return 0.0
        dt = float(np.median(np.diff(self.t)))
        return 1e9 / dt if dt > 0 else 0.0

    def set_speed(self, speed: float) -> None:
        self.speed = float(speed)
        if self.playing:
            self._reanchor()

    def _reanchor(self) -> None:
        self._anchor = (time.monotonic(), int(self.t[self.doc.frame]))

    def play(self) -> None:
        if len(self.t) < 2 or self.playing:
            return
        if self.doc.frame >= len(self.t) - 1:
            self.doc.set_frame(0)  # at the end: play from the start
        self._reanchor()
        self.timer.start()
        self.playing_changed.emit(True)

    def stop(self) -> None:
        if self.playing:
            self.timer.stop()
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        self.stop() if self.playing else self.play()

    def _tick(self) -> None:
        wall0, rec0 = self._anchor
        target = rec0 + (time.monotonic() - wall0) * self.speed * 1e9
        k = int(np.searchsorted(self.t, target, side="right")) - 1
        if k > self.doc.frame:
            self.doc.set_frame(min(k, len(self.t) - 1))
        if self.doc.frame >= len(self.t) - 1:
            self.stop()
