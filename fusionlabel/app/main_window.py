"""The main window: 3D view, camera images, cuboid views, timeline, track list, properties, review.

Layout::

    +----------------------------+--------------+-----------------+
    | 3D view (vispy)            | cameras      | tracks          |
    |                            |              | properties      |
    +----------+--------+--------+--------------+ review          |
    | top      | side   | front  (selected box)  |                 |
    +----------+--------+-----------------------+                 |
    | timeline (one lane per track, flagged frames)               |
    +--------------------------------------------------------------+

The window owns a :class:`~fusionlabel.app.document.LabelDocument` (labels, undo, autosave) and a
:class:`~fusionlabel.app.frame_cache.FrameCache` (loaded frames, prefetch). Showing a frame is
``cache.get`` (usually prefetched) -> :func:`~fusionlabel.app.frame_view.compose_view` -> hand
arrays to vispy and the image panels. Use :func:`open_session` to build the document from the
label file, the autosave left by a crash, or the recording's own labels.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from fusionlabel.app.actions import EditActions
from fusionlabel.app.box_views import BoxViews
from fusionlabel.app.document import LabelDocument
from fusionlabel.app.frame_cache import FrameCache
from fusionlabel.app.frame_view import ColorBy, FrameData, compose_view
from fusionlabel.app.panels import ImagePanel, PropertyPanel, ReviewPanel, TrackList
from fusionlabel.app.prelabel_worker import PrelabelJob
from fusionlabel.app.shortcuts import SHORTCUTS, HelpOverlay
from fusionlabel.app.timeline import Timeline
from fusionlabel.core.edits import mark_proposed
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.io import session as S


def open_session(
    rec: Recording, label_path: Path | None = None, restore: Callable[[S.AutosaveInfo], bool] | bool = True
) -> tuple[S.SessionState, Path | None, list[str], bool]:
    """Decide what the window starts with.

    Returns ``(state, label_path or None when saving must be refused, messages, restored)``:

    * a corrupt label or review file, or one from a newer version, is **refused**: the window
      opens the recording with its own labels (if any), saving disabled, and says why; the file
      is never touched;
    * an autosave beside the label file (a crash or kill left unsaved work) is restored when
      ``restore`` is True or ``restore(info)`` returns True; declined, it is deleted;
    * otherwise the label file, or the recording's own labels when there is no label file yet.
    """
    path = Path(label_path) if label_path is not None else S.label_path_for(rec)
    msgs: list[str] = []
    try:
        state = S.load(path)
    except CorruptFileError as exc:
        msgs.append(
            f"refusing to use the label file: {exc}. It is left untouched and saving is disabled; "
            "move it away to label this recording."
        )
        return S.SessionState(_own_labels(rec, msgs)), None, msgs, False
    if not path.exists():
        state = S.SessionState(_own_labels(rec, msgs))
    try:
        info = S.read_autosave(path)
    except CorruptFileError as exc:
        msgs.append(f"ignoring an unreadable autosave (left in place): {exc}")
        info = None
    if info is not None:
        ok = restore(info) if callable(restore) else bool(restore)
        if ok:
            msgs.append(f"restored unsaved work autosaved at {info.saved_at} ({info.num_boxes} boxes); save to keep it")
            return info.state, path, msgs, True
        S.discard_autosave(path)
        msgs.append("discarded the autosave of a previous session")
    return state, path, msgs, False


def _own_labels(rec: Recording, msgs: list[str]) -> LabelSet:
    try:
        return rec.labels() or LabelSet()
    except DataError as exc:
        msgs.append(f"recording labels unreadable: {exc}")
        return LabelSet()


class MainWindow(EditActions, QtWidgets.QMainWindow):
    """The labelling window (see the module docstring).

    Parameters
    ----------
    recording : the opened recording
    labels : start from these labels (ignores label files); default: :func:`open_session`
    label_path : the label file to edit (default :func:`fusionlabel.io.session.label_path_for`)
    interactive : ask questions in dialogs (restore an autosave, ids, save on close); tests and
        scripted runs pass False: an autosave is restored, closing keeps unsaved work in it
    autosave_every : edits between autosaves
    cache_size : frames kept in memory
    """

    frame_changed = QtCore.Signal(int)
    frame_shown = QtCore.Signal(int)
    prelabel_done = QtCore.Signal(str)  # "ok", "failed", "cancelled"

    def __init__(
        self,
        recording: Recording,
        labels: LabelSet | None = None,
        label_path: Path | None = None,
        interactive: bool = True,
        autosave_every: int = 5,
        cache_size: int = 8,
    ) -> None:
        super().__init__()
        self.rec = recording
        self.interactive = interactive
        self.color_by: ColorBy = "height"
        self.last_switch_ms = 0.0
        self.last_error = ""
        self.job: PrelabelJob | None = None
        self.prelabel_running = False
        self.last_result: Any = None
        if labels is not None:
            msgs: list[str] = []
            state, path, restored = S.SessionState(labels), label_path, False
        else:
            state, path, msgs, restored = open_session(
                recording, label_path, self._ask_restore if interactive else True
            )
        self.doc = LabelDocument(state, len(recording), path, autosave_every, self)
        self.doc.restored = restored
        self.cache = FrameCache(recording, cache_size)
        self._data: FrameData | None = None
        self.setWindowTitle(f"FusionLabel — {recording.path.name} ({recording.format})")
        self.resize(1600, 1000)
        self._build()
        self._actions()
        self.doc.frame_changed.connect(self._on_frame)
        self.doc.labels_changed.connect(self._redraw)
        self.doc.selection_changed.connect(lambda _t: self._redraw())
        self.doc.message.connect(self.message)
        self.doc.undo_stack.cleanChanged.connect(self._title)
        self.autosave_timer = QtCore.QTimer(self)
        self.autosave_timer.setInterval(30_000)
        self.autosave_timer.timeout.connect(self._timed_autosave)
        self.autosave_timer.start()
        if not restored and state.frame == 0 and self.doc.review is not None:
            first = self.doc.next_flagged()  # a pre-labelled recording opens on its first open flagged frame
            if first is not None:
                self.doc.frame = first
        if len(recording):
            self._show(self.doc.frame)
        else:
            self.message("this recording has no frames")
        for m in msgs:
            self.message(m, 30000)
        if any(m.startswith("refusing") for m in msgs):
            self.last_error = msgs[0]
            if interactive:
                QtCore.QTimer.singleShot(0, lambda: QtWidgets.QMessageBox.warning(self, "Label file refused", msgs[0]))
        self._title()

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        from fusionlabel.app.view3d import PointCloudView

        self.cloud = PointCloudView(self)
        self.cloud.ground_clicked.connect(self._ground_click)
        cams = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(cams)
        grid.setContentsMargins(0, 0, 0, 0)
        self.panels: dict[str, ImagePanel] = {}
        streams = [n for n, s in self.rec.streams.items() if s.kind == "camera"]
        names = [n for n in self.rec.rig.cameras if n in streams] or streams or list(self.rec.rig.cameras)
        for i, name in enumerate(names):
            panel = ImagePanel(name)
            box = QtWidgets.QGroupBox(name)
            QtWidgets.QVBoxLayout(box).addWidget(panel)
            grid.addWidget(box, i // 2 if len(names) > 2 else i, i % 2 if len(names) > 2 else 0)
            self.panels[name] = panel
        upper = QtWidgets.QSplitter()
        upper.addWidget(self.cloud.widget)
        upper.addWidget(cams)
        upper.setSizes([800, 500] if names else [1300, 0])

        self.box_views = BoxViews()
        self.box_views.box_edited.connect(self.set_selected_box)
        self.box_views.box_drawn.connect(lambda b: self.add_box(b, "Car"))
        self.box_views.clicked.connect(self._ground_click)
        self.timeline = Timeline(self.doc)
        tl_scroll = QtWidgets.QScrollArea()
        tl_scroll.setWidget(self.timeline)
        tl_scroll.setWidgetResizable(True)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, max(len(self.rec) - 1, 0))
        self.slider.valueChanged.connect(self.set_frame)
        self.frame_label = QtWidgets.QLabel()
        bottom = QtWidgets.QWidget()
        bl = QtWidgets.QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.frame_label)
        bl.addLayout(row)
        bl.addWidget(tl_scroll, 1)

        main = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        main.addWidget(upper)
        main.addWidget(self.box_views)
        main.addWidget(bottom)
        main.setSizes([560, 220, 160])
        self.setCentralWidget(main)

        self.tracks = TrackList(self.doc)
        self.props = PropertyPanel(self.doc)
        self.review = ReviewPanel(self.doc)
        self.review.next_btn.clicked.connect(lambda: self.next_flagged())
        self.review.resolve_btn.clicked.connect(self.resolve_frame)
        for title, w in (("Tracks", self.tracks), ("Properties", self.props), ("Review", self.review)):
            dock = QtWidgets.QDockWidget(title, self)
            dock.setWidget(w)
            dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable)
            self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, dock)

        self.progress = QtWidgets.QProgressBar()
        self.progress.setMaximumWidth(220)
        self.cancel_btn = QtWidgets.QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel_prelabel)
        for sw in (self.progress, self.cancel_btn):
            self.statusBar().addPermanentWidget(sw)
            sw.hide()
        self.help = HelpOverlay(self)

    def _actions(self) -> None:
        menus: dict[str, QtWidgets.QMenu] = {}
        self.actions_by_name: dict[str, QtGui.QAction] = {}
        for sc in SHORTCUTS:
            menu = menus.get(sc.group) or menus.setdefault(sc.group, self.menuBar().addMenu(sc.group))
            act = QtGui.QAction(sc.text, self)
            act.setShortcuts([QtGui.QKeySequence(k) for k in sc.keys])
            act.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            fn = getattr(self, sc.action)
            act.triggered.connect(lambda _c=False, fn=fn: fn())
            menu.addAction(act)
            self.actions_by_name[sc.action] = act

    # -- frames -----------------------------------------------------------------------------------
    def set_frame(self, index: int) -> None:
        self.doc.set_frame(index)

    def step(self, delta: int) -> None:
        self.set_frame(self.doc.frame + delta)

    @property
    def index(self) -> int:
        return self.doc.frame

    def _on_frame(self, index: int) -> None:
        self._show(index)
        self.frame_changed.emit(index)

    def _show(self, index: int) -> None:
        t0 = time.perf_counter()
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        try:
            self._data = self.cache.get(index)
        except DataError as exc:
            self._data = None
            self.message(f"frame {index}: {exc}")
            self.frame_label.setText(f"frame {index + 1}/{len(self.rec)} (broken)")
            return
        self._redraw()
        self.cache.prefetch(index + 1, ahead=3)
        self.last_switch_ms = (time.perf_counter() - t0) * 1000
        self.frame_shown.emit(index)

    def _redraw(self) -> None:
        data = self._data
        if data is None or data.index != self.doc.frame:
            return
        fl = self.doc.labels.get(self.doc.frame)
        fv = compose_view(data, fl, self.color_by, dict(self.rec.rig.cameras), self.doc.selected)
        self.cloud.show(fv)
        for name, img in fv.camera_images.items():
            if name in self.panels:
                self.panels[name].set_image(img)
        self.box_views.set_content(data.points, fl, self.doc.selected)
        it = self.doc.item(self.doc.frame)
        flag = "  FLAGGED" + (" (resolved)" if self.doc.frame in self.doc.resolutions else "") if it else ""
        self.frame_label.setText(
            f"frame {self.doc.frame + 1}/{len(self.rec)}  t={data.timestamp_ns / 1e9:.3f} s  "
            f"points {len(data.points)}  boxes {len(fl)}{flag}"
        )
        if data.problems:
            self.message("; ".join(data.problems))

    def current_points(self) -> np.ndarray:
        return self._data.points if self._data is not None else np.zeros((0, 3), np.float32)

    def message(self, text: str, ms: int = 8000) -> None:
        self.statusBar().showMessage(text, ms)

    def _title(self, *_args: object) -> None:
        try:
            self.doc.undo_stack.isClean()
        except RuntimeError:  # shutting down: the stack is gone
            return
        star = " *" if self.doc.dirty else ""
        where = self.doc.label_path.name if self.doc.label_path else "read-only"
        self.setWindowTitle(f"FusionLabel — {self.rec.path.name} ({self.rec.format}) — {where}{star}")

    def _ground_click(self, x: float, y: float, mods: object) -> None:
        shift = bool(QtCore.Qt.KeyboardModifier.ShiftModifier & mods) if mods is not None else False  # type: ignore[operator]
        if shift:
            self.fit_at(x, y)
        else:
            self.select_at(x, y)

    # -- view actions -----------------------------------------------------------------------------
    def set_color_by(self, mode: ColorBy) -> None:
        self.color_by = mode
        self._redraw()

    def color_height(self) -> None:
        self.set_color_by("height")

    def color_intensity(self) -> None:
        self.set_color_by("intensity")

    def color_distance(self) -> None:
        self.set_color_by("distance")

    def center_view(self) -> None:
        box = self._sel_box()
        self.cloud.look_at(box.center[0] if box is not None else None)

    def toggle_help(self) -> None:
        self.help.toggle()

    # -- files ----------------------------------------------------------------------------------
    def save(self) -> bool:
        try:
            ts = {i: int(t) for i, t in enumerate(self.rec.timestamps_ns)}
            p = self.doc.save(ts)
        except (DataError, OSError) as exc:
            try:  # keep the work on disk: the autosave survives a refused save
                self.doc.flush_autosave()
            except OSError:
                pass
            self.last_error = f"not saved: {exc}"
            self.message(self.last_error, 30000)
            if self.interactive:
                QtWidgets.QMessageBox.warning(self, "Not saved", self.last_error)
            return False
        self.message(f"saved {p}")
        self._title()
        return True

    def _timed_autosave(self) -> None:
        try:
            self.doc.flush_autosave()
        except OSError as exc:
            self.message(f"autosave failed: {exc}")

    def _ask_restore(self, info: S.AutosaveInfo) -> bool:
        r = QtWidgets.QMessageBox.question(
            None,
            "Restore unsaved work?",
            f"FusionLabel did not close normally. Unsaved work was autosaved at {info.saved_at} by {info.user} "
            f"({info.num_boxes} boxes).\n\nRestore it? (No discards it.)",
        )
        return r == QtWidgets.QMessageBox.StandardButton.Yes

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        if self.job is not None and self.job.running():
            self.job.cancel()
            self.job.wait(10000)
        if self.doc.dirty and self.doc.label_path is not None:
            if self.interactive:
                r = QtWidgets.QMessageBox.question(
                    self,
                    "Unsaved changes",
                    "Save the labels before closing?",
                    QtWidgets.QMessageBox.StandardButton.Save
                    | QtWidgets.QMessageBox.StandardButton.Discard
                    | QtWidgets.QMessageBox.StandardButton.Cancel,
                )
                if r == QtWidgets.QMessageBox.StandardButton.Cancel or (
                    r == QtWidgets.QMessageBox.StandardButton.Save and not self.save()
                ):
                    ev.ignore()
                    return
                if r == QtWidgets.QMessageBox.StandardButton.Discard:
                    S.discard_autosave(self.doc.label_path)
            else:
                self._timed_autosave()  # unsaved work stays in the autosave
        self.autosave_timer.stop()
        self.cache.close()
        super().closeEvent(ev)

    # -- pre-labelling ------------------------------------------------------------------------------
    def prelabel(self, detector: Any = None, options: dict[str, Any] | None = None) -> bool:
        """Start pre-labelling in a worker thread; False when one is running or none was chosen."""
        if self.prelabel_running:
            self.message("pre-labelling is already running")
            return False
        if self.job is not None:  # the last run has reported; let its thread wind down
            self.job.wait(5000)
        if detector is None:
            detector = self._choose_detector() if self.interactive else "geometric"
            if detector is None:
                return False
        self.job = PrelabelJob(self.rec, detector, options, self)
        w = self.job.worker
        w.progress.connect(self._prelabel_progress)
        w.finished.connect(self._prelabel_finished)
        w.failed.connect(self._prelabel_failed)
        w.cancelled.connect(self._prelabel_cancelled)
        self.progress.setRange(0, len(self.rec) + 1)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_btn.show()
        self.prelabel_running = True
        self.message(f"pre-labelling with {detector if isinstance(detector, str) else type(detector).__name__}...", 0)
        self.job.start()
        return True

    def _choose_detector(self) -> str | None:
        from fusionlabel.detect.registry import discover

        names = sorted({e.name for e in discover()}) or ["geometric"]
        name, ok = QtWidgets.QInputDialog.getItem(
            self, "Pre-label", "detector:", names, names.index("geometric") if "geometric" in names else 0, False
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
        self.doc.replace_labels(mark_proposed(res.labels), f"pre-label ({res.report.detector})", review=res.review)
        rep = res.report
        text = (
            f"pre-labelled: {rep.tracks} tracks, {rep.boxes} boxes, {len(res.review.items)} flagged frames "
            f"({rep.fps:.1f} frames/s)"
        )
        if rep.failed_frames:
            self.last_error = f"the detector failed on {len(rep.failed_frames)} frames: {rep.failed_frames[0]}"
            text += f"; {self.last_error}"
            if self.interactive:
                box = QtWidgets.QMessageBox(
                    QtWidgets.QMessageBox.Icon.Warning, "Detector errors", self.last_error, parent=self
                )
                box.setDetailedText("\n".join(rep.failed_frames))
                box.open()
        self.message(text, 30000)
        self.prelabel_done.emit("ok")

    def _prelabel_failed(self, msg: str) -> None:
        self._prelabel_end()
        self.last_error = msg
        self.message(f"pre-labelling failed: {msg}", 30000)
        if self.interactive:
            QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Critical, "Pre-labelling failed", msg, parent=self).open()
        self.prelabel_done.emit("failed")

    def _prelabel_cancelled(self, msg: str) -> None:
        self._prelabel_end()
        self.message(msg, 15000)
        self.prelabel_done.emit("cancelled")
