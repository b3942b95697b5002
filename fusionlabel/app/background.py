"""The window's background jobs: pre-labelling and adapting in a worker process, with progress
and cancel; the result replaces the labels as proposals with their review queue (one undo step).

A mixin of :class:`~fusionlabel.app.main_window.MainWindow`, which provides the attributes
listed on :class:`BackgroundJobs` and the ``prelabel_done`` signal (a Qt signal lives on the
QObject class)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from PySide6 import QtWidgets

from fusionlabel.app.prelabel_worker import PrelabelJob
from fusionlabel.core.edits import mark_proposed

if TYPE_CHECKING:
    from PySide6 import QtCore

    from fusionlabel.app.document import LabelDocument
    from fusionlabel.core.recording import Recording


class BackgroundJobs:
    """Mixin: requires ``doc``, ``rec``, ``job``, ``progress``, ``cancel_btn``, ``interactive``,
    ``message()`` and the ``prelabel_done`` signal."""

    doc: LabelDocument
    rec: Recording
    job: PrelabelJob | None
    progress: QtWidgets.QProgressBar
    cancel_btn: QtWidgets.QPushButton
    interactive: bool
    prelabel_running: bool
    last_result: Any
    last_error: str
    prelabel_done: QtCore.SignalInstance

    def message(self, text: str, ms: int = 8000) -> None: ...

    @property
    def _widget(self) -> QtWidgets.QWidget:
        """This window as the parent of its dialogs and jobs."""
        return cast(QtWidgets.QWidget, self)

    def _read_only(self, what: str) -> bool:
        """True (and says so) when another window edits this window's label file."""
        if self.doc.read_only is None:
            return False
        self.last_error = f"{what}: not started, {self.doc.read_only}"
        self.message(self.last_error, 20000)
        return True

    def prelabel(self, detector: Any = None, options: dict[str, Any] | None = None) -> bool:
        """Start pre-labelling in a worker process (:mod:`fusionlabel.app.prelabel_worker`): the
        window stays responsive; False when one is running, none was chosen or the labels are
        read-only here."""
        if self._read_only("pre-label"):
            return False
        if self.prelabel_running:
            self.message("pre-labelling is already running")
            return False
        if self.job is not None:  # the last run has reported; let its process wind down
            self.job.wait(5000)
        if detector is None:
            detector = self._choose_detector() if self.interactive else "geometric"
            if detector is None:
                return False
        self.job = PrelabelJob(self.rec, detector, options, self._widget)
        self.job.progress.connect(self._prelabel_progress)
        self.job.finished.connect(self._prelabel_finished)
        self.job.failed.connect(self._prelabel_failed)
        self.job.cancelled.connect(self._prelabel_cancelled)
        self.progress.setRange(0, len(self.rec) + 1)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_btn.show()
        self.prelabel_running = True
        name = detector if isinstance(detector, str) else type(detector).__name__
        self.progress.setFormat(f"pre-labelling ({name}) %p%")
        self.progress.setToolTip(f"pre-labelling with {name} in a worker process")
        self.job.start()
        return True

    def adapt(self, options: dict[str, Any] | None = None) -> bool:
        """Fine-tune the learned detector on the frames labelled here and pre-label the rest again,
        in a worker process (:mod:`fusionlabel.app.adapt_worker`); the result arrives as proposals
        with their review queue (one undo step). False when a run is going or nothing is labelled."""
        if self._read_only("adapt"):
            return False
        from fusionlabel.app.adapt_worker import AdaptJob
        from fusionlabel.core.labels import LabelSet
        from fusionlabel.pipeline.adapt import labelled_frames

        if self.prelabel_running:
            self.message("pre-labelling or adapting is already running")
            return False
        frames = labelled_frames(self.doc.labels, self.doc.resolutions)
        seed = LabelSet({k: self.doc.labels.get(k) for k in frames})
        if seed.num_boxes == 0:
            self.last_error = "nothing to learn from: accept, correct or draw the boxes of a few frames first"
            self.message(self.last_error)
            return False
        if self.job is not None:
            self.job.wait(5000)
        self.job = AdaptJob(self.rec, seed, options, self._widget)
        self.job.progress.connect(self._prelabel_progress)
        self.job.finished.connect(self._prelabel_finished)
        self.job.failed.connect(self._prelabel_failed)
        self.job.cancelled.connect(self._prelabel_cancelled)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_btn.show()
        self.prelabel_running = True
        self.progress.setFormat(f"adapting to {len(frames)} labelled frame(s) %p%")
        self.progress.setToolTip("fine-tuning the learned detector, then pre-labelling again, in a worker process")
        self.job.start()
        return True

    def _choose_detector(self) -> str | None:
        from fusionlabel.detect.registry import discover

        names = sorted({e.name for e in discover()}) or ["geometric"]
        name, ok = QtWidgets.QInputDialog.getItem(
            self._widget,
            "Pre-label",
            "detector:",
            names,
            names.index("geometric") if "geometric" in names else 0,
            False,
        )
        return name if ok else None

    def cancel_prelabel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.message("cancelling...")

    def _prelabel_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _prelabel_end(self) -> None:
        self.prelabel_running = False
        self.progress.hide()
        self.cancel_btn.hide()

    def _prelabel_finished(self, res: Any) -> None:
        self._prelabel_end()
        self.last_result = res
        rep = res.report  # the report as plain data (PrelabelReport.to_dict)
        verb = "adapt" if "adaptation" in rep else "pre-label"
        self.doc.replace_labels(mark_proposed(res.labels), f"{verb} ({rep['detector']})", review=res.review)
        failed = list(rep.get("failed_frames") or [])
        text = (
            f"{'adapted and pre-labelled' if verb == 'adapt' else 'pre-labelled'}: {rep['tracks']} tracks, {rep['boxes']} boxes, {len(res.review.items)} flagged frames "
            f"({float(rep.get('fps', 0.0)):.1f} frames/s)"
        )
        if failed:
            self.last_error = f"the detector failed on {len(failed)} frames: {failed[0]}"
            text += f"; {self.last_error}"
            if self.interactive:
                box = QtWidgets.QMessageBox(
                    QtWidgets.QMessageBox.Icon.Warning, "Detector errors", self.last_error, parent=self._widget
                )
                box.setDetailedText("\n".join(failed))
                box.open()
        self.message(text, 30000)
        self.prelabel_done.emit("ok")

    def _prelabel_failed(self, msg: str) -> None:
        self._prelabel_end()
        self.last_error = msg
        self.message(f"pre-labelling failed: {msg}", 30000)
        if self.interactive:
            QtWidgets.QMessageBox(
                QtWidgets.QMessageBox.Icon.Critical, "Pre-labelling failed", msg, parent=self._widget
            ).open()
        self.prelabel_done.emit("failed")

    def _prelabel_cancelled(self, msg: str) -> None:
        self._prelabel_end()
        self.message(msg, 15000)
        self.prelabel_done.emit("cancelled")
