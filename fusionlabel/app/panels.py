"""Side panels: track list, property panel (numeric entry, class, attributes), review panel.

All read the :class:`~fusionlabel.app.document.LabelDocument` and write through its
``edit``/``select``/``set_frame``; none holds label state of its own. Angles are shown and
typed in degrees; the document and everything below it use radians. Frames are shown 1-based
(the first frame is frame 1), as everywhere on screen. The camera images are in
:mod:`fusionlabel.app.camera_view`.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from fusionlabel.app.document import LabelDocument
from fusionlabel.app.schema_panel import AttributeEditor, SchemaModel
from fusionlabel.core import edits as E
from fusionlabel.core.boxes import Boxes


class TrackList(QtWidgets.QTableWidget):
    """One row per track: ID, class, number of frames, state (proposed / accepted / edited)."""

    COLUMNS = ("ID", "Class", "Frames", "State")

    def __init__(self, doc: LabelDocument, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        self.doc = doc
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setStretchLastSection(True)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        self.rows: list[dict] = []
        doc.labels_changed.connect(self.rebuild)
        doc.selection_changed.connect(self._show_selection)
        self.itemSelectionChanged.connect(self._picked)
        self.cellDoubleClicked.connect(self._jump)
        self.rebuild()

    def rebuild(self) -> None:
        self.blockSignals(True)
        self.rows = E.track_summary(self.doc.labels)
        self.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            for c, v in enumerate((row["id"], row["category"], row["frames"], row["state"])):
                it = QtWidgets.QTableWidgetItem(str(v))
                if c in (0, 2):
                    it.setData(QtCore.Qt.ItemDataRole.DisplayRole, int(v))
                self.setItem(r, c, it)
        self.blockSignals(False)
        self._show_selection(self.doc.selected)

    def _show_selection(self, tid: object) -> None:
        self.blockSignals(True)
        self.clearSelection()
        for r, row in enumerate(self.rows):
            if row["id"] == tid:
                self.selectRow(r)
                item = self.item(r, 0)
                if item is not None:
                    self.scrollToItem(item)
                break
        self.blockSignals(False)

    def _picked(self) -> None:
        rows = self.selectionModel().selectedRows()
        if rows:
            self.doc.select(self.rows[rows[0].row()]["id"])

    def _jump(self, r: int, _c: int) -> None:
        row = self.rows[r]
        if row["id"] not in self.doc.labels.get(self.doc.frame).track_ids:
            self.doc.set_frame(row["first"])
        self.doc.select(row["id"])


class PropertyPanel(QtWidgets.QWidget):
    """Numeric entry for the selected box in the current frame: class (from the label schema),
    x y z, l w h (m), yaw (deg), then the schema's attributes for its class
    (:class:`~fusionlabel.app.schema_panel.AttributeEditor`).

    Return or Esc in any field emits ``done_editing`` (the window gives the keyboard back to the
    3D view); a refused value emits ``message``.
    """

    FIELDS = ("x", "y", "z", "l", "w", "h", "yaw")
    message = QtCore.Signal(str)
    done_editing = QtCore.Signal()

    def __init__(
        self, doc: LabelDocument, schema: SchemaModel | None = None, parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.doc = doc
        self.schema = schema if schema is not None else SchemaModel(parent=self)
        form = QtWidgets.QFormLayout(self)
        self.title = QtWidgets.QLabel("no box selected")
        form.addRow(self.title)
        self.category = QtWidgets.QComboBox()
        self.category.setEditable(True)
        self.category.setInsertPolicy(QtWidgets.QComboBox.InsertPolicy.NoInsert)
        self._fill_classes()
        self.category.activated.connect(self._category)
        line = self.category.lineEdit()
        assert line is not None  # the combo box is editable
        line.editingFinished.connect(self._category)
        line.installEventFilter(self)
        form.addRow("class", self.category)
        self.spins: dict[str, QtWidgets.QDoubleSpinBox] = {}
        for f in self.FIELDS:
            s = QtWidgets.QDoubleSpinBox()
            s.setKeyboardTracking(False)
            if f == "yaw":
                s.setRange(-180.0, 180.0)
                s.setDecimals(1)
                s.setSingleStep(1.0)
                s.setWrapping(True)
                s.setSuffix(" °")
            else:
                s.setRange(-1000.0, 1000.0) if f in "xyz" else s.setRange(0.05, 100.0)
                s.setDecimals(3)
                s.setSingleStep(0.05)
                s.setSuffix(" m")
            s.valueChanged.connect(self._commit)
            s.installEventFilter(self)
            form.addRow(f, s)
            self.spins[f] = s
        self.state = QtWidgets.QLabel("")
        form.addRow("state", self.state)
        self.attributes = AttributeEditor(doc, self.schema)
        self.attributes.message.connect(self.message)
        self.attributes.done_editing.connect(self.done_editing)
        form.addRow(self.attributes)
        self.schema_note = QtWidgets.QLabel("")
        self.schema_note.setWordWrap(True)
        self.schema_note.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.edit_schema_btn = QtWidgets.QPushButton("Edit schema…")
        self.edit_schema_btn.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        form.addRow(self.schema_note)
        form.addRow(self.edit_schema_btn)
        for sig in (doc.labels_changed, doc.frame_changed, doc.selection_changed):
            sig.connect(self.refresh)
        self.schema.changed.connect(self._schema_changed)
        self._schema_changed()
        self.refresh()

    def _fill_classes(self) -> None:
        self.category.blockSignals(True)
        self.category.clear()
        self.category.addItems(list(self.schema.schema.class_names))
        self.category.blockSignals(False)

    def _schema_changed(self) -> None:
        self._fill_classes()
        m = self.schema
        if m.error:
            self.schema_note.setText(f"label schema not used: {m.error}")
            self.schema_note.setStyleSheet("color: #ff6060;")
        else:
            self.schema_note.setText(f"schema: {m.path.name if m.path is not None else 'built-in'}")
            self.schema_note.setStyleSheet("color: #909090;")
        self.refresh()

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        """Return / Enter commit and Esc leaves: both hand the keyboard back (``done_editing``)."""
        if ev.type() == QtCore.QEvent.Type.KeyPress and isinstance(ev, QtGui.QKeyEvent):
            if ev.key() in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter):
                QtCore.QTimer.singleShot(0, self.done_editing.emit)  # after the field has committed
            elif ev.key() == QtCore.Qt.Key.Key_Escape:
                self.refresh()  # drop what was typed
                self.done_editing.emit()
                return True
        return super().eventFilter(obj, ev)

    def _row(self) -> int:
        if self.doc.selected is None:
            return -1
        hit = np.flatnonzero(self.doc.labels.get(self.doc.frame).track_ids == self.doc.selected)
        return int(hit[0]) if len(hit) else -1

    def refresh(self, *_args: object) -> None:
        i = self._row()
        fl = self.doc.labels.get(self.doc.frame)
        for s in self.spins.values():
            s.setEnabled(i >= 0)
        self.category.setEnabled(i >= 0)
        if i < 0:
            self.title.setText(
                "no box selected" if self.doc.selected is None else f"track {self.doc.selected}: no box in this frame"
            )
            self.state.setText("")
            return
        a = fl.boxes.to_array()[i]
        vals = dict(zip(self.FIELDS, [*a[:6], float(np.degrees(a[6]))]))
        for f, s in self.spins.items():
            s.blockSignals(True)
            s.setValue(float(vals[f]))
            s.blockSignals(False)
        self.category.blockSignals(True)
        self.category.setCurrentText(fl.categories[i])
        self.category.blockSignals(False)
        self.title.setText(f"track {self.doc.selected}, frame {self.doc.frame + 1}")
        self.state.setText(E.box_state(fl.attributes[i]))

    def values(self) -> np.ndarray:
        """(7,) x y z l w h yaw with yaw in radians, from the spin boxes."""
        v = np.array([self.spins[f].value() for f in self.FIELDS], dtype=np.float64)
        v[6] = np.radians(v[6])
        return v

    def _commit(self, *_args: object) -> None:
        if self._row() < 0 or self.doc.selected is None:
            return
        self.doc.edit("set box", E.set_box, self.doc.frame, self.doc.selected, Boxes.from_array(self.values()[None]))

    def _category(self, *_args: object) -> None:
        c = self.category.currentText().strip()
        i = self._row()
        if i < 0 or not c or self.doc.selected is None or self.doc.labels.get(self.doc.frame).categories[i] == c:
            return
        names = self.schema.schema.class_names
        if c not in names:
            match = [n for n in names if n.lower() == c.lower()]
            if not match:
                self.message.emit(f"class {c!r} is not in the label schema ({', '.join(names)})")
                self.refresh()
                return
            c = match[0]
        self.doc.edit(f"class -> {c}", E.set_category, self.doc.selected, c)


class ReviewPanel(QtWidgets.QWidget):
    """Why the current frame is flagged, who resolved it, and the queue's progress."""

    def __init__(self, doc: LabelDocument, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        lay = QtWidgets.QVBoxLayout(self)
        self.summary = QtWidgets.QLabel()
        self.reasons = QtWidgets.QLabel()
        self.reasons.setWordWrap(True)
        self.reasons.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.next_btn = QtWidgets.QPushButton("Next flagged (N)")
        self.resolve_btn = QtWidgets.QPushButton("Resolve (R)")
        lay.addWidget(self.summary)
        lay.addWidget(self.reasons, 1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.next_btn)
        row.addWidget(self.resolve_btn)
        lay.addLayout(row)
        for sig in (doc.frame_changed, doc.review_changed, doc.labels_changed):
            sig.connect(self.refresh)
        self.refresh()

    def refresh(self, *_args: object) -> None:
        fl = self.doc.flagged()
        done = sum(1 for f in fl if f in self.doc.resolutions)
        if fl:
            states = [self.doc.frame_state(f) for f in fl]
            counts = ", ".join(f"{states.count(s)} {s}" for s in ("proposed", "accepted", "edited") if states.count(s))
            self.summary.setText(f"review queue: {done}/{len(fl)} resolved ({counts})")
        else:
            self.summary.setText(
                "review queue: nothing flagged"
                if self.doc.review is not None
                else "review queue: none yet (pre-label with Ctrl+P)"
            )
        level, who, when = self.doc.frame_level(self.doc.frame)
        level_line = f"review level: {level} ({who}, {when})" if level else "review level: with the annotator"
        it = self.doc.item(self.doc.frame)
        if it is None:
            self.reasons.setText(f"frame {self.doc.frame + 1} is not flagged" + (f"\n{level_line}" if level else ""))
            return
        lines = [f"frame {it.frame + 1} flagged, score {it.score:.2f}:"]
        for r in it.reasons:
            lines.append(
                f"  track {r.get('track_id', '?')}: {r.get('reason', '?')} ({float(r.get('severity', 0)):.2f})"
            )
        res = self.doc.resolutions.get(it.frame)
        lines.append(f"state: {self.doc.frame_state(it.frame)}")
        lines.append(f"resolved by {res.user} at {res.time}" if res else "open")
        lines.append(level_line)
        self.reasons.setText("\n".join(lines))
