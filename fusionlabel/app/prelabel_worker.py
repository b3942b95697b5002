"""Pre-labelling from the app: :func:`fusionlabel.pipeline.prelabel` in a worker thread.

The worker lives in its own ``QThread``; it reports ``progress(done, total)`` through a queued
signal (the UI thread only repaints a progress bar) and polls a cancel flag between frames, so
the window stays responsive and Cancel stops the run within one frame. Every failure becomes a
message, never a crash: a detector that cannot be built (a broken plugin) emits ``failed`` with
the plugin's error; frames on which the detector fails are listed in the result's report and
the run goes on.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6 import QtCore

from fusionlabel.core.recording import Recording


class PrelabelWorker(QtCore.QObject):
    """Runs one pre-labelling; lives in a worker thread (see :func:`start_prelabel`)."""

    progress = QtCore.Signal(int, int)
    finished = QtCore.Signal(object)  # PrelabelResult
    failed = QtCore.Signal(str)
    cancelled = QtCore.Signal(str)

    def __init__(self, rec: Recording, detector: Any, options: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.rec, self.detector, self.options = rec, detector, dict(options or {})
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @QtCore.Slot()
    def run(self) -> None:
        from fusionlabel.core.errors import FusionLabelError
        from fusionlabel.pipeline import Cancelled, prelabel

        try:
            det = self.detector
            if isinstance(det, str) and self.options:
                from fusionlabel.detect.registry import create_detector

                det = create_detector(det, self.options)
            res = prelabel(self.rec, det, progress=lambda d, t: self.progress.emit(d, t), cancel=self._cancel.is_set)
        except Cancelled as exc:
            self.cancelled.emit(str(exc))
        except FusionLabelError as exc:  # PluginError and data errors: say which and why
            self.failed.emit(str(exc))
        except Exception as exc:
            self.failed.emit(f"pre-labelling failed: {type(exc).__name__}: {exc}")
        else:
            self.finished.emit(res)


class PrelabelJob(QtCore.QObject):
    """Owns the thread and the worker of one run; ``done`` fires after the thread has ended.

    The thread is ``worker_thread`` (not ``thread``: that name is ``QObject.thread()``)."""

    done = QtCore.Signal()

    def __init__(
        self, rec: Recording, detector: Any, options: dict[str, Any] | None = None, parent: QtCore.QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.worker_thread = QtCore.QThread(self)
        self.worker = PrelabelWorker(rec, detector, options)
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.started.connect(self.worker.run)
        for sig in (self.worker.finished, self.worker.failed, self.worker.cancelled):
            sig.connect(self.worker_thread.quit)
        self.worker_thread.finished.connect(self.done)

    def start(self) -> None:
        self.worker_thread.start()

    def cancel(self) -> None:
        self.worker.cancel()

    def running(self) -> bool:
        return self.worker_thread.isRunning()

    def wait(self, ms: int = 30000) -> bool:
        return self.worker_thread.wait(ms)
