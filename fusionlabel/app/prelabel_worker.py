"""Pre-labelling from the app: :func:`fusionlabel.pipeline.prelabel` in a worker **process**.

A thread would hold the GIL for most of each frame (numpy, scipy and the tracker's Python loops)
and stall the window for tenths of a second at a time; a process leaves the GUI's interpreter
alone. The job starts a ``multiprocessing`` *spawn* process (safe with Qt's threads: no fork)
that opens the same recording (sent pickled, or re-opened from its path when it does not
pickle), builds the detector (a registered name, or a picklable detector object), runs
``prelabel`` and sends back **plain data**: the labels as :func:`~fusionlabel.io.native_labels.labels_to_dict`,
the queue as :func:`~fusionlabel.io.review_file.review_to_dict`, the report as its ``to_dict``.
Progress ``(done, total)`` comes through a queue that a ``QTimer`` in the window polls every
50 ms; Cancel terminates the process. Every failure becomes a message, never a crash: a
detector that cannot be built (a broken plugin) or sent to the process, a recording that
cannot be opened there, a process that dies (``failed``); frames on which the detector fails
are listed in the result's report and the run goes on.
"""

from __future__ import annotations

import pickle
import queue as queue_mod
from dataclasses import dataclass
from typing import Any

from PySide6 import QtCore

from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.review import ReviewQueue


@dataclass(frozen=True)
class WorkerResult:
    """What the window receives: the labels, the review queue and the report of one run (the
    dict of :meth:`fusionlabel.pipeline.prelabel.PrelabelReport.to_dict`: ``detector``,
    ``tracks``, ``boxes``, ``fps``, ``failed_frames``...)."""

    labels: LabelSet
    review: ReviewQueue
    report: dict[str, Any]


def _child(rec_blob: bytes | None, rec_path: str, detector: Any, options: dict[str, Any], out: Any) -> None:
    """The worker process's entry point (module level: spawn imports it by name)."""
    import os

    try:  # a background job: the window gets the CPU first
        os.nice(10)
    except (AttributeError, OSError):
        pass
    try:
        from fusionlabel.core.errors import FusionLabelError
        from fusionlabel.core.review import Review
        from fusionlabel.io.native_labels import labels_to_dict
        from fusionlabel.io.review_file import review_to_dict
        from fusionlabel.pipeline import prelabel

        try:
            if rec_blob is not None:
                rec = pickle.loads(rec_blob)
            else:
                from fusionlabel.io.open import open_recording

                rec = open_recording(rec_path)
            det = detector
            if isinstance(det, str) and options:
                from fusionlabel.detect.registry import create_detector

                det = create_detector(det, options)
            res = prelabel(rec, det, progress=lambda d, t: out.put(("progress", int(d), int(t))))
            body = {
                "labels": labels_to_dict(res.labels),
                "review": review_to_dict(Review(res.review, {})),
                "report": res.report.to_dict(),
            }
            out.put(("done", body))
        except FusionLabelError as exc:  # PluginError and data errors: say which and why
            out.put(("failed", str(exc)))
    except Exception as exc:
        out.put(("failed", f"pre-labelling failed: {type(exc).__name__}: {exc}"))


def _result(body: dict[str, Any]) -> WorkerResult:
    """The worker's plain data back to labels and a queue (the report stays a dict: importing the
    pipeline here would load the tracker, numba and scipy.optimize in the GUI process)."""
    from fusionlabel.io.native_labels import labels_from_dict
    from fusionlabel.io.review_file import FORMAT, review_from_dict

    labels = labels_from_dict(body["labels"], "<pre-label worker>")
    review = review_from_dict(
        {"format": FORMAT.name, "version": FORMAT.version, **body["review"]}, "<pre-label worker>"
    )
    assert review.queue is not None
    return WorkerResult(labels, review.queue, dict(body["report"]))


def _recording_blob(rec: Recording) -> bytes | None:
    """The recording pickled, when it pickles and unpickles (else the child re-opens its path)."""
    try:
        blob = pickle.dumps(rec)
        pickle.loads(blob)
    except Exception:
        return None
    return blob


class PrelabelJob(QtCore.QObject):
    """One pre-labelling run in a worker process (see the module docstring).

    Signals: ``progress(done, total)``, ``finished(WorkerResult)``, ``failed(message)``,
    ``cancelled(message)``; ``done`` after any of them.
    """

    progress = QtCore.Signal(int, int)
    finished = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    cancelled = QtCore.Signal(str)
    #: what ``cancelled`` says
    cancel_message = "pre-labelling cancelled"
    done = QtCore.Signal()

    def __init__(
        self, rec: Recording, detector: Any, options: dict[str, Any] | None = None, parent: QtCore.QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.rec, self.detector, self.options = rec, detector, dict(options or {})
        self._proc: Any = None
        self._queue: Any = None
        self._ended = False
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(50)
        self.timer.timeout.connect(self.poll)
        self.reaper = QtCore.QTimer(self)
        self.reaper.setInterval(200)
        self.reaper.timeout.connect(self._reap)

    def start(self) -> None:
        import multiprocessing as mp

        if not isinstance(self.detector, str):
            try:
                pickle.dumps(self.detector)
            except Exception as exc:
                self._end()
                self.failed.emit(
                    f"the detector {type(self.detector).__name__} cannot be sent to the worker process "
                    f"(define its class at module level or register it): {exc}"
                )
                return
        ctx = mp.get_context("spawn")
        self._queue = ctx.Queue()
        self._proc = ctx.Process(
            target=_child,
            args=(_recording_blob(self.rec), str(self.rec.path), self.detector, self.options, self._queue),
            name="fusionlabel-prelabel",
            daemon=False,  # the detector runner may start processes of its own
        )
        self._proc.start()
        self.timer.start()

    def poll(self) -> None:
        """Read what the worker sent (progress, result, failure); notice a worker that died."""
        if self._ended or self._queue is None:
            return
        while True:
            try:
                msg = self._queue.get_nowait()
            except (queue_mod.Empty, EOFError, OSError):
                break
            if self._handle(msg):
                return
        if self._proc is not None and not self._proc.is_alive():
            try:  # a last message may still be in the pipe
                msg = self._queue.get(timeout=0.5)
            except (queue_mod.Empty, EOFError, OSError):
                self._end()
                self.failed.emit(f"the pre-labelling process ended without a result (exit code {self._proc.exitcode})")
                return
            self._handle(msg)

    def _handle(self, msg: Any) -> bool:
        """Act on one message; True when the run has ended."""
        kind = msg[0]
        if kind == "progress":
            self.progress.emit(msg[1], msg[2])
            return False
        if kind == "done":
            try:
                res = _result(msg[1])
            except Exception as exc:
                self._end()
                self.failed.emit(f"pre-labelling returned unreadable results: {exc}")
                return True
            self._end()
            self.finished.emit(res)
            return True
        self._end()
        self.failed.emit(str(msg[1]))
        return True

    def _end(self) -> None:
        """The run is over for the window: stop polling. The process is not waited for here (it
        may still be shutting down its own workers); :attr:`reaper` collects it off the GUI's path."""
        self._ended = True
        self.timer.stop()
        if self._queue is not None:
            self._queue.close()
            self._queue.cancel_join_thread()
        if self._proc is not None:
            self.reaper.start()
        self.done.emit()

    def _reap(self) -> None:
        if self._proc is None or not self._proc.is_alive():
            if self._proc is not None:
                self._proc.join(0)
            self.reaper.stop()

    def cancel(self) -> None:
        """Stop the run now (terminates the worker); ``cancelled`` follows."""
        if self._ended:
            return
        if self._proc is not None and self._proc.is_alive():
            self._proc.terminate()
        self._end()
        self.cancelled.emit(self.cancel_message)

    def running(self) -> bool:
        """True until the window has the run's outcome and the worker process has ended."""
        return self._proc is not None and (not self._ended or self._proc.is_alive())

    def wait(self, ms: int = 30000) -> bool:
        """Block until the worker process has ended (True) or ``ms`` passed (False)."""
        if self._proc is None:
            return True
        self._proc.join(timeout=ms / 1000)
        return not self._proc.is_alive()
