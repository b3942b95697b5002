"""The main window: 3D view, camera images, cuboid views, timeline, track list, properties, review.

Layout (every panel but the 3D view is a dock: move it, tabify it, float it, or fill the screen
with a camera; View > Panels shows a closed one again)::

    +---------------------------------------------+-----------------+
    | cameras: one dock each (a grid when many)    | tracks          |
    +---------------------------------------------+ properties      |
    | 3D view (vispy, the central widget)          |  (+ attributes) |
    +----------+--------+--------------------------+ review          |
    | top      | side   | front   (selected box)   |                 |
    +----------+--------+--------------------------+                 |
    | play, speed, frame slider, class for new boxes                 |
    | timeline (one lane per track, flagged frames)                  |
    +-----------------------------------------------------------------+

The window owns a :class:`~fusionlabel.app.document.LabelDocument` (labels, undo, autosave) and a
:class:`~fusionlabel.app.frame_cache.FrameCache` (loaded frames, prefetch). Showing a frame is
``cache.get`` (usually prefetched) -> :func:`~fusionlabel.app.frame_view.compose_view` -> hand
arrays to vispy and the camera panels. Use :func:`open_session` to build the document from the
label file, the autosave left by a crash, or the recording's own labels. The label schema
(classes, size priors, attributes) is a :class:`~fusionlabel.app.schema_panel.SchemaModel`;
frames are numbered from 1 on screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from fusionlabel.app.actions import EditActions
from fusionlabel.app.background import BackgroundJobs
from fusionlabel.app.box_views import BoxViews
from fusionlabel.app.camera_view import CameraPanel, CameraView
from fusionlabel.app.document import LabelDocument
from fusionlabel.app.frame_cache import FrameCache
from fusionlabel.app.frame_view import ColorBy, FrameData, camera_names, compose_view, load_frame_data
from fusionlabel.app.panels import PropertyPanel, ReviewPanel, TrackList
from fusionlabel.app.playback import SPEEDS, Playback
from fusionlabel.app.prelabel_worker import PrelabelJob
from fusionlabel.app.recent import RecentFiles
from fusionlabel.app.schema_panel import SchemaEditor, SchemaModel
from fusionlabel.app.shortcuts import SHORTCUTS, HelpOverlay
from fusionlabel.app.timeline import Timeline
from fusionlabel.core.boxes import Boxes, points_in_boxes
from fusionlabel.core.errors import CorruptFileError, DataError, EditingElsewhereError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.io import session as S


def open_session(
    rec: Recording, label_path: Path | None = None, restore: Callable[[S.AutosaveInfo], bool] | bool = True
) -> tuple[S.SessionState, Path | None, list[str], bool, S.EditClaim | None]:
    """Decide what the window starts with.

    Returns ``(state, label_path or None when saving must be refused, messages, restored, claim)``
    (``claim``: this window's :class:`~fusionlabel.io.session.EditClaim` on the label file, to
    release when it closes; None when saving is refused):

    * a label file another window has open for editing opens **read-only** here (its saved
      labels; that window's journal and unsaved work are left alone), saying who holds it;
    * a corrupt label or review file, or one from a newer version, is **refused**: the window
      opens the recording with its own labels (if any), saving disabled, and says why; the file
      is never touched;
    * an autosave beside the label file (a crash or kill left unsaved work) is restored when
      ``restore`` is True or ``restore(info)`` returns True; declined, it is deleted;
    * otherwise the label file, or the recording's own labels when there is no label file yet.
    """
    path = Path(label_path) if label_path is not None else S.label_path_for(rec)
    msgs: list[str] = []
    claim = take_claim(path, msgs)
    try:
        return _open_claimed(rec, path, restore, claim, msgs)
    except BaseException:  # the claim is not left behind by an error (the window would not exist)
        if claim is not None:
            claim.release()
        raise


def _open_claimed(
    rec: Recording,
    path: Path,
    restore: Callable[[S.AutosaveInfo], bool] | bool,
    claim: S.EditClaim | None,
    msgs: list[str],
) -> tuple[S.SessionState, Path | None, list[str], bool, S.EditClaim | None]:
    try:
        state = S.load(path, rec.timestamps_ns)
    except CorruptFileError as exc:
        if claim is not None:
            claim.release()
        msgs.append(
            f"refusing to use the label file: {exc}. It is left untouched and saving is disabled; "
            "move it away to label this recording."
        )
        return S.SessionState(_own_labels(rec, msgs)), None, msgs, False, None
    if claim is None:  # read-only: the other window's journal is its own
        return (state if path.exists() else S.SessionState(_own_labels(rec, msgs))), None, msgs, False, None
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
            return info.state, path, msgs, True, claim
        S.discard_autosave(path)
        msgs.append("discarded the autosave of a previous session")
    return state, path, msgs, False, claim


def take_claim(path: Path, msgs: list[str]) -> S.EditClaim | None:
    """This window's claim on the label file ``path``, or None (and why, in ``msgs``, starting
    with "read-only") when another window edits it."""
    try:
        return S.EditClaim.take(path)
    except EditingElsewhereError as exc:
        msgs.append(
            f"read-only: {exc}. Editing and saving are disabled here, and that window's unsaved work is "
            "left alone; close it, then open the labels again to edit them here."
        )
        return None


def _own_labels(rec: Recording, msgs: list[str]) -> LabelSet:
    try:
        return rec.labels or LabelSet()
    except DataError as exc:
        msgs.append(f"recording labels unreadable: {exc}")
        return LabelSet()


class MainWindow(EditActions, BackgroundJobs, QtWidgets.QMainWindow):
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
    schema : the label schema file (default: ``label_schema.yaml`` beside the label file or in
        the recording's folder, else the built-in schema)
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
        schema: Path | None = None,
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
        #: this window's claim on its label file (one editing window per file), released on close
        self.claim: S.EditClaim | None = None
        if labels is not None:
            msgs: list[str] = []
            state, path, restored = S.SessionState(labels), label_path, False
            if path is not None:
                self.claim = take_claim(path, msgs)
                path = path if self.claim is not None else None
        else:
            state, path, msgs, restored, self.claim = open_session(
                recording, label_path, self._ask_restore if interactive else True
            )
        try:
            self.doc = LabelDocument(state, len(recording), path, autosave_every, self)
            self.doc.restored = restored
            #: another window edits the label file: this one shows it and refuses edits
            self.doc.read_only = next((m for m in msgs if m.startswith("read-only")), None)
            self.cache = FrameCache(recording, cache_size)
            self._data: FrameData | None = None
            self.schema_model = SchemaModel(parent=self)
            self._load_schema(schema, path, msgs)
            names = self.schema_model.schema.class_names
            self.new_class = "Car" if "Car" in names else names[0]
            #: the window opened by File > Open in this one's place (kept alive here)
            self.successor: MainWindow | None = None
            self.playback = Playback(self.doc, recording.timestamps_ns, self)
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
            if self.camera_docks and not any(n in recording.streams for n in self.camera_docks):
                msgs.append("this recording has no camera images: the camera panels are closed (View > Panels)")
            if len(recording):
                self._show(self.doc.frame)
            else:
                self.message("this recording has no frames")
            for m in msgs:
                self.message(m, 30000)
            refused = [m for m in msgs if m.startswith(("refusing", "read-only"))]
            if refused:
                self.last_error = refused[0]
                title = "Label file refused" if refused[0].startswith("refusing") else "Opened read-only"
                if interactive:
                    QtCore.QTimer.singleShot(0, lambda: QtWidgets.QMessageBox.warning(self, title, refused[0]))
            self._title()
        except BaseException:  # a window that could not be built leaves no claim behind
            if self.claim is not None:
                self.claim.release()
                self.claim = None
            raise

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        from fusionlabel.app.view3d import PointCloudView

        Area = QtCore.Qt.DockWidgetArea
        F = QtWidgets.QDockWidget.DockWidgetFeature
        self.setDockNestingEnabled(True)
        self.setCorner(QtCore.Qt.Corner.TopRightCorner, Area.RightDockWidgetArea)
        self.setCorner(QtCore.Qt.Corner.BottomRightCorner, Area.RightDockWidgetArea)
        self.cloud = PointCloudView(self)
        self.cloud.ground_clicked.connect(self._ground_click)
        self.cloud.widget.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.cloud.widget.setMinimumSize(200, 150)
        self.setCentralWidget(self.cloud.widget)
        self.docks: dict[str, QtWidgets.QDockWidget] = {}

        def dock(title: str, widget: QtWidgets.QWidget, closable: bool = True) -> QtWidgets.QDockWidget:
            d = QtWidgets.QDockWidget(title, self)
            d.setObjectName(f"dock:{title}")
            d.setWidget(widget)
            d.setFeatures(F.DockWidgetMovable | F.DockWidgetFloatable | (F.DockWidgetClosable if closable else F(0)))
            self.docks[title] = d
            return d

        # cameras: one dock each; a grid of two rows when there are more than three
        self.cameras: dict[str, CameraView] = {}
        self.panels: dict[str, CameraPanel] = {}
        self.camera_docks: dict[str, QtWidgets.QDockWidget] = {}
        names = camera_names(self.rec)
        any_stream = any(n in self.rec.streams for n in names)
        cols = len(names) if len(names) <= 3 else int(np.ceil(len(names) / 2))
        order: list[QtWidgets.QDockWidget] = []
        for i, name in enumerate(names):
            view = CameraView(name, self.rec.rig.cameras.get(name))
            view.panel.box_drawn.connect(self.fit_in_image)
            view.panel.box_edited.connect(self.set_selected_box)
            view.panel.box_clicked.connect(self.doc.select)
            view.point_size_changed.connect(self.set_camera_point_size)
            view.fill_screen.connect(lambda n=name: self.toggle_fill_screen(n))
            d = dock(name, view)
            if i == 0:
                self.addDockWidget(Area.TopDockWidgetArea, d)
            elif not any_stream:  # a rig without images: one tab group that says so
                self.tabifyDockWidget(order[0], d)
            elif i < cols:
                self.splitDockWidget(order[i - 1], d, QtCore.Qt.Orientation.Horizontal)
            else:
                self.splitDockWidget(order[i - cols], d, QtCore.Qt.Orientation.Vertical)
            order.append(d)
            self.cameras[name] = view
            self.panels[name] = view.panel
            self.camera_docks[name] = d
        if order and not any_stream:  # nothing to show: closed (View > Panels opens them)
            for d in order:
                d.hide()
        elif order:
            order[0].raise_()
        self._camera_rows = 1 if len(names) <= 3 else 2

        self.box_views = BoxViews()
        self.box_views.box_edited.connect(self.set_selected_box)
        self.box_views.box_drawn.connect(self._box_drawn_top)
        self.box_views.clicked.connect(self._ground_click)
        bv = dock("Box views", self.box_views)
        self.addDockWidget(Area.BottomDockWidgetArea, bv)

        self.timeline = Timeline(self.doc)
        tl_scroll = QtWidgets.QScrollArea()
        tl_scroll.setWidget(self.timeline)
        tl_scroll.setWidgetResizable(True)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, max(len(self.rec) - 1, 0))
        self.slider.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.slider.valueChanged.connect(self.set_frame)
        self.frame_label = QtWidgets.QLabel()
        self.play_btn = QtWidgets.QToolButton()
        self.play_btn.setText("▶")
        self.play_btn.setToolTip("play / pause (Space)")
        self.play_btn.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.play_btn.clicked.connect(self.toggle_play)
        self.speed = QtWidgets.QComboBox()
        for sp in SPEEDS:
            self.speed.addItem(f"{sp:g}x", sp)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip("playback speed ({ slower, } faster)")
        self.speed.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.speed.currentIndexChanged.connect(lambda _i: self.playback.set_speed(float(self.speed.currentData())))
        self.playback.playing_changed.connect(lambda on: self.play_btn.setText("⏸" if on else "▶"))
        self.class_box = QtWidgets.QComboBox()
        self.class_box.setToolTip("the class of new boxes (drawn, fitted, from a camera)")
        self.class_box.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.class_box.activated.connect(lambda _i: self.set_new_class(self.class_box.currentText()))
        bottom = QtWidgets.QWidget()
        bl = QtWidgets.QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.play_btn)
        row.addWidget(self.speed)
        row.addWidget(self.slider, 1)
        row.addWidget(self.frame_label)
        row.addWidget(QtWidgets.QLabel("new boxes:"))
        row.addWidget(self.class_box)
        bl.addLayout(row)
        bl.addWidget(tl_scroll, 1)
        tl = dock("Timeline", bottom, closable=False)
        self.addDockWidget(Area.BottomDockWidgetArea, tl)
        self.splitDockWidget(bv, tl, QtCore.Qt.Orientation.Vertical)

        self.tracks = TrackList(self.doc)
        self.props = PropertyPanel(self.doc, self.schema_model)
        self.props.message.connect(self.message)
        self.props.done_editing.connect(self.focus_3d)
        self.props.edit_schema_btn.clicked.connect(self.edit_schema)
        self.review = ReviewPanel(self.doc)
        self.review.next_btn.clicked.connect(lambda: self.next_flagged())
        self.review.resolve_btn.clicked.connect(self.resolve_frame)
        props_scroll = QtWidgets.QScrollArea()
        props_scroll.setWidget(self.props)
        props_scroll.setWidgetResizable(True)
        for title, w in (("Tracks", self.tracks), ("Properties", props_scroll), ("Review", self.review)):
            self.addDockWidget(Area.RightDockWidgetArea, dock(title, w))
        self.schema_model.changed.connect(self._schema_changed)
        self._schema_changed()

        self.progress = QtWidgets.QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("pre-labelling %p%")
        self.cancel_btn = QtWidgets.QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel_prelabel)
        for sw in (self.progress, self.cancel_btn):
            self.statusBar().addPermanentWidget(sw)
            sw.hide()
        # room for them from the start: showing them must not resize (and so repaint) every panel
        self.statusBar().setMinimumHeight(
            max(self.cancel_btn.sizeHint().height(), self.progress.sizeHint().height()) + 2
        )
        self.help = HelpOverlay(self)

    def showEvent(self, ev: QtGui.QShowEvent) -> None:
        super().showEvent(ev)
        if not getattr(self, "_sized", False):
            self._sized = True
            self._layout_sizes()

    def _layout_sizes(self) -> None:
        """Give the cameras, the 3D view, the box views and the timeline their first sizes."""
        V = QtCore.Qt.Orientation.Vertical
        H = QtCore.Qt.Orientation.Horizontal
        h = self.height()
        shown = [d for d in self.camera_docks.values() if not d.isHidden()]
        if shown:
            share = 0.3 if self._camera_rows == 1 else 0.44
            self.resizeDocks(shown, [int(h * share / self._camera_rows)] * len(shown), V)
        self.resizeDocks([self.docks["Box views"], self.docks["Timeline"]], [int(h * 0.17), int(h * 0.1)], V)
        self.resizeDocks([self.docks["Tracks"]], [360], H)

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
            if sc.action == "open_recording_file_dialog":
                self.recent_menu = menu.addMenu("Open recent")
                self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.file_menu = menus["File"]
        panels = menus["View"].addMenu("Panels")
        for d in self.docks.values():
            panels.addAction(d.toggleViewAction())
        # a floating dock is a window of its own: give it the shortcuts too (Right, Space, ...)
        for d in self.docks.values():
            d.addActions(list(self.actions_by_name.values()))

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
            self.message(f"frame {index + 1}: {exc}")
            self.frame_label.setText(f"frame {index + 1}/{len(self.rec)} (broken)")
            for panel in self.panels.values():
                panel.set_content(None, None, None, f"frame {index + 1} could not be loaded: {exc}")
            return
        self._redraw()
        if self._data.problems:  # once per frame shown, not on every redraw
            self.message(f"frame {index + 1}: " + "; ".join(self._data.problems))
        self.cache.prefetch_around(index, ahead=6 if self.playback.playing else 3, behind=1)
        self.last_switch_ms = (time.perf_counter() - t0) * 1000
        self.frame_shown.emit(index)

    def _redraw(self) -> None:
        data = self._data
        if data is None or data.index != self.doc.frame:
            return
        fl = self.doc.labels.get(self.doc.frame)
        fv = compose_view(data, fl, self.color_by, dict(self.rec.rig.cameras), self.doc.selected)
        self.cloud.show(fv)
        sel_box = self._sel_box()
        for name, panel in self.panels.items():
            panel.set_content(
                data.camera_base.get(name),
                data.camera_points.get(name),
                fv.camera_boxes.get(name),
                data.camera_notes.get(name, ""),
                self.doc.selected,
                sel_box,
            )
        self.box_views.set_content(data.points, fl, self.doc.selected)
        it = self.doc.item(self.doc.frame)
        flag = "  FLAGGED" + (" (resolved)" if self.doc.frame in self.doc.resolutions else "") if it else ""
        self.frame_label.setText(
            f"frame {self.doc.frame + 1}/{len(self.rec)}  t={data.timestamp_ns / 1e9:.3f} s  "
            f"points {len(data.points)}  boxes {len(fl)}{flag}"
        )

    def current_points(self) -> np.ndarray:
        return self._data.points if self._data is not None else np.zeros((0, 3), np.float32)

    def message(self, text: str, ms: int = 8000) -> None:
        """Show ``text`` in the status bar for ``ms`` milliseconds; every message times out (at
        most 20 s; 0 or less means the default 8 s). Lasting state (pre-labelling) is shown by
        the progress bar instead."""
        ms = 8000 if ms <= 0 else min(int(ms), 20000)
        self.statusBar().showMessage(text, ms)

    def sensor_xy(self) -> tuple[float, float]:
        """The first LiDAR's ego position (x, y): hidden faces of a fitted box are away from it."""
        for name in self.rec.rig.lidars:
            t = self.rec.rig.T_ego_sensor(name).translation
            return float(t[0]), float(t[1])
        return (0.0, 0.0)

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

    def focus_3d(self) -> None:
        """Give the keyboard back to the 3D view (the shortcuts work from anywhere but a text field)."""
        self.activateWindow()
        self.cloud.widget.setFocus(QtCore.Qt.FocusReason.ShortcutFocusReason)

    def escape(self) -> None:
        """Esc: from a panel's field, back to the 3D view; in the 3D view, clear the selection."""
        if self.help.isVisible():
            self.help.hide()
            return
        fw = QtWidgets.QApplication.focusWidget()
        if fw is not None and fw is not self.cloud.widget:
            self.focus_3d()
        else:
            self.deselect()

    def larger_points(self) -> None:
        self.cloud.set_point_size(self.cloud.point_size + 1)
        self.set_camera_point_size(self.camera_point_size() + 1)

    def smaller_points(self) -> None:
        self.cloud.set_point_size(self.cloud.point_size - 1)
        self.set_camera_point_size(self.camera_point_size() - 1)

    def camera_point_size(self) -> int:
        return next(iter(self.panels.values())).point_size if self.panels else 2

    def set_camera_point_size(self, size: int) -> None:
        """Point size in every camera image (screen pixels, 1..9)."""
        size = int(np.clip(size, 1, 9))
        for view in self.cameras.values():
            view.set_point_size(size)

    def toggle_fill_screen(self, camera: str) -> None:
        """Float the camera's dock over the whole screen; again: dock it back."""
        d = self.camera_docks[camera]
        if d.isFloating():
            d.setFloating(False)
            return
        d.setFloating(True)
        screen = self.screen() or QtGui.QGuiApplication.primaryScreen()
        d.setGeometry(screen.availableGeometry())
        d.show()
        d.raise_()
        d.activateWindow()

    # -- playback -------------------------------------------------------------------------------
    def toggle_play(self) -> None:
        """Space: play from the current frame at the recording's rate times the speed; pause."""
        if len(self.rec) < 2:
            self.message("nothing to play: the recording has one frame")
            return
        self.playback.toggle()
        if self.playback.playing:
            self.message(f"playing at {self.playback.speed:g}x ({self.playback.rate_hz:.1f} frames/s recorded)", 3000)

    def _set_speed_index(self, i: int) -> None:
        i = int(np.clip(i, 0, len(SPEEDS) - 1))
        self.speed.setCurrentIndex(i)
        self.message(f"playback speed {SPEEDS[i]:g}x", 3000)

    def play_faster(self) -> None:
        self._set_speed_index(self.speed.currentIndex() + 1)

    def play_slower(self) -> None:
        self._set_speed_index(self.speed.currentIndex() - 1)

    # -- boxes from the views -------------------------------------------------------------------
    def set_new_class(self, name: str) -> None:
        """The class new boxes get (and whose size prior they start from)."""
        if name in self.schema_model.schema.class_names:
            self.new_class = name
            self.class_box.setCurrentText(name)

    def _box_drawn_top(self, box: Boxes) -> None:
        """A rectangle drawn in the top view: its footprint and heading, the class's prior height,
        and no side shorter than the class minimum."""
        sc = self.schema_model.schema.size_class(self.new_class)
        a = box.to_array()[0]
        ground = float(a[2] - a[5] / 2)
        a[3] = max(a[3], sc.minimum[0])
        a[4] = max(a[4], sc.minimum[1])
        a[5] = sc.prior[2]
        a[2] = ground + a[5] / 2
        self.add_box(Boxes.from_array(a[None]), self.new_class, "draw box")

    def fit_in_image(self, camera: str, bbox: Any) -> int | None:
        """A 2D box drawn in ``camera`` (calibrated pixels): a cuboid of the class for new boxes
        from the points in its frustum and the class prior
        (:func:`fusionlabel.detect.image_fit.fit_box_in_image`), added as a new track."""
        from fusionlabel.detect.image_fit import fit_box_in_image

        cam = self.rec.rig.cameras.get(camera)
        if cam is None:
            self.message(f"{camera} has no calibration: a box drawn there cannot become a cuboid")
            return None
        sc = self.schema_model.schema.size_class(self.new_class)
        try:
            fit = fit_box_in_image(self.current_points(), cam, bbox, sc)
        except ValueError as exc:
            self.message(f"box from {camera}: {exc}")
            return None
        tid = self.add_box(fit.box, self.new_class, f"box from {camera}")
        if tid is not None:
            how = (
                f"from {fit.points} LiDAR points and the {self.new_class} prior"
                if fit.points
                else f"from the {self.new_class} prior alone (no LiDAR points in that box)"
            )
            self.message(
                f"track {tid}: a {self.new_class} {how}; its picture is within {fit.residual_px:.1f} px of the drawn box"
            )
        return tid

    def track_point_counts(self, track_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(frames, (K, 3) sizes, LiDAR points inside each box) of a track; at most 60 evenly
        spread frames are loaded to count (the others count 0)."""
        frames, boxes, _ = self.doc.labels.track(track_id)
        counts = np.zeros(len(frames))
        pick = set(np.unique(np.linspace(0, len(frames) - 1, min(len(frames), 60)).round().astype(int)).tolist())
        cached = set(self.cache.cached())
        for j, k in enumerate(frames):
            if j not in pick and int(k) not in cached:
                continue
            try:
                pts = (
                    self.cache.get(int(k)).points
                    if int(k) in cached
                    else load_frame_data(self.rec, int(k), False).points
                )
            except DataError:
                continue
            counts[j] = float(points_in_boxes(pts, boxes[j : j + 1])[:, 0].sum())
        return frames, boxes.size.copy(), counts

    # -- label schema -----------------------------------------------------------------------------
    def _load_schema(self, explicit: Path | None, label_path: Path | None, msgs: list[str]) -> None:
        from fusionlabel.io.label_schema import SCHEMA_FILE, find_schema

        rec_dir = self.rec.path if self.rec.path.is_dir() else self.rec.path.parent
        path = (
            Path(explicit)
            if explicit is not None
            else find_schema([label_path.parent if label_path else None, rec_dir])
        )
        self.schema_model.save_path = path or (
            Path(label_path).parent / SCHEMA_FILE if label_path is not None else None
        )
        if path is not None and not self.schema_model.load(path):
            self.last_error = f"label schema not used (the built-in one is): {self.schema_model.error}"
            msgs.append(self.last_error)
        elif self.schema_model.path is not None:
            issues = self.schema_issues()
            if issues:
                msgs.append(self._issues_text(issues, "labels break the label schema"))

    def schema_issues(self) -> list[Any]:
        """Labels that break the project's schema file (none with the built-in schema)."""
        from fusionlabel.core.schema import validate_labels

        if self.schema_model.path is None:
            return []
        return validate_labels(self.schema_model.schema, self.doc.labels)

    @staticmethod
    def _issues_text(issues: list[Any], what: str) -> str:
        more = f" (+{len(issues) - 3} more)" if len(issues) > 3 else ""
        return f"{len(issues)} {what}: " + "; ".join(i.text() for i in issues[:3]) + more

    def _schema_changed(self) -> None:
        names = self.schema_model.schema.class_names
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItems(list(names))
        if self.new_class not in names:
            self.new_class = names[0]
        self.class_box.setCurrentText(self.new_class)
        self.class_box.blockSignals(False)

    def edit_schema(self) -> SchemaEditor:
        """Open the schema editor (non-blocking); it saves only a valid file."""
        dlg = SchemaEditor(self.schema_model, self)
        dlg.show()
        return dlg

    # -- opening and quitting ---------------------------------------------------------------------
    def open_recording_dialog(self) -> None:
        if not self.interactive:
            return
        start = str(self.rec.path.parent)
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a recording folder", start)
        if path:
            self.open_path(Path(path))

    def open_recording_file_dialog(self) -> None:
        if not self.interactive:
            return
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open a recording file", str(self.rec.path.parent), "Recordings (*.bag *.mcap *.db3);;All files (*)"
        )
        if path:
            self.open_path(Path(path))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        paths = RecentFiles().paths()
        if not paths:
            a = self.recent_menu.addAction("(none yet)")
            a.setEnabled(False)
        for p in paths:
            a = self.recent_menu.addAction(str(p))
            a.triggered.connect(lambda _c=False, p=p: self.open_path(p))

    def open_path(self, path: Path) -> MainWindow | None:
        """Open the recording at ``path`` in a new window that replaces this one (this one closes
        first, asking to save unsaved work); a recording that cannot be opened is reported and
        this window stays. Returns the new window."""
        from fusionlabel.app.prelabel_output import prelabel_output
        from fusionlabel.io.open import open_recording

        path = Path(path)
        try:
            label_path = None
            pre = prelabel_output(path)
            if pre is not None:
                path, label_path = pre
            rec = open_recording(path)
        except (DataError, OSError) as exc:
            self.last_error = f"cannot open {path}: {exc}"
            self.message(self.last_error, 20000)
            if self.interactive:
                QtWidgets.QMessageBox.warning(self, "Cannot open", self.last_error)
            return None
        if not self.close():  # the user kept this window (unsaved work, Cancel)
            return None
        win = MainWindow(rec, label_path=label_path, interactive=self.interactive)
        win.resize(self.size())
        self.successor = win
        RecentFiles().add(path)
        win.show()
        return win

    def quit_app(self) -> None:
        """Close every FusionLabel window (each asks to save unsaved work); the app ends after the last."""
        for w in QtWidgets.QApplication.topLevelWidgets():
            if isinstance(w, MainWindow) and w.isVisible():
                w.close()

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
        issues = self.schema_issues()
        if issues:  # saved all the same (the work is safe); the schema's complaints are shown
            self.last_error = f"saved {p}, but " + self._issues_text(issues, "labels break the label schema")
            self.message(self.last_error, 20000)
            if self.interactive:
                box = QtWidgets.QMessageBox(
                    QtWidgets.QMessageBox.Icon.Warning, "Labels outside the schema", self.last_error, parent=self
                )
                box.setDetailedText("\n".join(i.text() for i in issues))
                box.open()
        else:
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
            ("FusionLabel did not close normally. " if info.crashed else "The last session closed without saving. ")
            + f"Its unsaved work ({info.num_boxes} boxes) was kept by {info.user} (since {info.saved_at}).\n\n"
            "Restore it? (No discards it.)",
        )
        return r == QtWidgets.QMessageBox.StandardButton.Yes

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        self.playback.stop()
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
        self.doc.close_journal()  # a normal exit: no crash notice next time
        if self.claim is not None:
            self.claim.release()
            self.claim = None
        self.autosave_timer.stop()
        self.cache.close()
        super().closeEvent(ev)
