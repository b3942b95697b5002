"""The label schema in the window: the model, the attribute editor, the schema file editor.

* :class:`SchemaModel` holds the project's :class:`~fusionlabel.core.schema.LabelSchema` and the
  file it comes from (``label_schema.yaml`` beside the label file or in the recording's folder,
  :func:`fusionlabel.io.label_schema.find_schema`; the built-in one otherwise) and emits
  ``changed`` when it is replaced. A file with a mistake is not used: the window says why
  (file, line) and keeps the built-in schema.
* :class:`AttributeEditor` (in the Properties panel) shows one field per attribute the selected
  box's class has: a list for an enum or a yes/no, a text field for numbers and text. A value is
  checked against the schema before it is written; a ``track`` attribute is written on every box
  of the track (:func:`fusionlabel.core.edits.set_track_attribute`), a ``frame`` attribute on this
  box (:func:`~fusionlabel.core.edits.set_attribute`); each is one undo step.
* :class:`SchemaEditor` edits the YAML file itself: *Check* shows the first mistake with its
  line, *Save* writes it (atomically, only when valid) and the window switches to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from fusionlabel.app.document import LabelDocument
from fusionlabel.core import edits as E
from fusionlabel.core.errors import DataError
from fusionlabel.core.schema import AttributeSpec, LabelSchema
from fusionlabel.io.label_schema import (
    DEFAULT_SCHEMA_YAML,
    SCHEMA_FILE,
    default_schema,
    parse_schema_text,
    read_schema,
    write_schema_text,
)

UNSET = "—"


class SchemaModel(QtCore.QObject):
    """The project's label schema and its file (see the module docstring).

    Parameters
    ----------
    path : the schema file in use, or None for the built-in schema
    save_path : where *Edit schema* saves (default: ``path``)
    """

    changed = QtCore.Signal()

    def __init__(
        self, path: Path | None = None, save_path: Path | None = None, parent: QtCore.QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.schema: LabelSchema = default_schema()
        self.path: Path | None = None
        self.save_path = save_path
        #: why the file at ``path`` was not used ("" when it was)
        self.error = ""
        if path is not None:
            self.load(path)

    def load(self, path: Path) -> bool:
        """Use the schema file at ``path``; False (and :attr:`error` set, built-in schema kept) when
        it cannot be read or has a mistake."""
        try:
            schema = read_schema(path)
        except DataError as exc:
            self.error = str(exc)
            return False
        self.set(schema, Path(path))
        return True

    def set(self, schema: LabelSchema, path: Path | None) -> None:
        self.schema, self.path, self.error = schema, path, ""
        if path is not None:
            self.save_path = path
        self.changed.emit()

    def text(self) -> str:
        """The YAML the editor starts from: the file's, else the built-in schema."""
        if self.path is not None:
            try:
                return self.path.read_text(encoding="utf-8")
            except OSError:
                pass
        return DEFAULT_SCHEMA_YAML


class AttributeEditor(QtWidgets.QWidget):
    """One field per schema attribute of the selected box's class (see the module docstring)."""

    message = QtCore.Signal(str)
    done_editing = QtCore.Signal()

    def __init__(self, doc: LabelDocument, schema: SchemaModel, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc, self.model = doc, schema
        self.form = QtWidgets.QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.fields: dict[str, QtWidgets.QWidget] = {}
        self._key: tuple | None = None
        for sig in (doc.labels_changed, doc.frame_changed, doc.selection_changed):
            sig.connect(self.refresh)
        schema.changed.connect(self.rebuild)
        self.refresh()

    def _box(self) -> tuple[int, str, dict[str, Any]] | None:
        if self.doc.selected is None:
            return None
        fl = self.doc.labels.get(self.doc.frame)
        hit = np.flatnonzero(fl.track_ids == self.doc.selected)
        if not len(hit):
            return None
        i = int(hit[0])
        return i, fl.categories[i], dict(fl.attributes[i])

    def rebuild(self) -> None:
        self._key = None
        self.refresh()

    def refresh(self, *_args: object) -> None:
        box = self._box()
        specs = self.model.schema.attributes_for(box[1]) if box is not None else ()
        key = (box[1] if box else None, tuple(s.name for s in specs), id(self.model.schema))
        if key != self._key:
            self._key = key
            while self.form.rowCount():
                self.form.removeRow(0)
            self.fields = {}
            for spec in specs:
                w = self._field(spec)
                label = spec.name + (" (track)" if spec.scope == "track" else "")
                self.form.addRow(label, w)
                w.setToolTip(spec.description or f"{spec.type} attribute, one value per {spec.scope}")
                self.fields[spec.name] = w
        if box is None:
            return
        attrs = box[2]
        for spec in specs:
            self._show(spec, self.fields[spec.name], attrs.get(spec.name))

    def _field(self, spec: AttributeSpec) -> QtWidgets.QWidget:
        if spec.type in ("enum", "bool"):
            cb = QtWidgets.QComboBox()
            cb.addItem(UNSET)
            for v in spec.values if spec.type == "enum" else (True, False):
                cb.addItem(str(v).lower() if isinstance(v, bool) else str(v), v)
            cb.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
            cb.activated.connect(
                lambda _i, s=spec, w=cb: self._commit(s, None if w.currentIndex() == 0 else w.currentData())
            )
            cb.installEventFilter(self)
            return cb
        le = QtWidgets.QLineEdit()
        le.setPlaceholderText(UNSET)
        if spec.range is not None:
            le.setPlaceholderText(f"{spec.range[0]:g} .. {spec.range[1]:g}")
        le.editingFinished.connect(lambda s=spec, w=le: self._typed(s, w))
        le.installEventFilter(self)
        return le

    def _show(self, spec: AttributeSpec, w: QtWidgets.QWidget, value: Any) -> None:
        w.blockSignals(True)
        if isinstance(w, QtWidgets.QComboBox):
            idx = 0
            for k in range(1, w.count()):
                if value is not None and str(w.itemData(k)) == str(value):
                    idx = k
            if value is not None and idx == 0:  # a value outside the schema: show it, flagged
                w.setItemText(0, f"{value} (not in the schema)")
            else:
                w.setItemText(0, UNSET)
            w.setCurrentIndex(idx)
        elif isinstance(w, QtWidgets.QLineEdit):
            w.setText("" if value is None else str(value))
            reason = spec.check(value) if value is not None else None
            w.setStyleSheet("color: #ff6060;" if reason else "")
        w.blockSignals(False)

    def _typed(self, spec: AttributeSpec, w: QtWidgets.QLineEdit) -> None:
        text = w.text().strip()
        box = self._box()
        if box is None:
            return
        if not text:
            if box[2].get(spec.name) is not None:
                self._commit(spec, None)
            return
        try:
            value = spec.coerce(text)
        except ValueError as exc:
            self.message.emit(str(exc))
            self._show(spec, w, box[2].get(spec.name))
            return
        if box[2].get(spec.name) != value:
            self._commit(spec, value)

    def _commit(self, spec: AttributeSpec, value: Any) -> None:
        tid = self.doc.selected
        if tid is None or self._box() is None:
            return
        if value is not None:
            reason = spec.check(value)
            if reason is not None:
                self.message.emit(f"attribute {spec.name!r}: {reason}")
                return
        shown = UNSET if value is None else value
        if spec.scope == "track":
            self.doc.edit(f"{spec.name} = {shown} (track {tid})", E.set_track_attribute, tid, spec.name, value)
        else:
            self.doc.edit(f"{spec.name} = {shown}", E.set_attribute, self.doc.frame, tid, spec.name, value)

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        if ev.type() == QtCore.QEvent.Type.KeyPress and isinstance(ev, QtGui.QKeyEvent):
            if ev.key() in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter, QtCore.Qt.Key.Key_Escape):
                if isinstance(obj, QtWidgets.QLineEdit) and ev.key() != QtCore.Qt.Key.Key_Escape:
                    obj.editingFinished.emit()
                self.done_editing.emit()
                return True
        return super().eventFilter(obj, ev)


class SchemaEditor(QtWidgets.QDialog):
    """Edit the schema file: *Check* (first mistake with its line), *Save* (only when valid)."""

    def __init__(self, model: SchemaModel, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        target = model.save_path or model.path
        self.setWindowTitle(f"Label schema — {target if target is not None else 'built-in'}")
        self.resize(720, 640)
        lay = QtWidgets.QVBoxLayout(self)
        self.where = QtWidgets.QLabel(
            f"saved to {target}" if target is not None else "no label file: the schema cannot be saved here"
        )
        self.text = QtWidgets.QPlainTextEdit()
        self.text.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        self.text.setPlainText(model.text())
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        row = QtWidgets.QHBoxLayout()
        self.check_btn = QtWidgets.QPushButton("Check")
        self.save_btn = QtWidgets.QPushButton("Save")
        self.save_btn.setEnabled(target is not None)
        close = QtWidgets.QPushButton("Close")
        self.check_btn.clicked.connect(self.check)
        self.save_btn.clicked.connect(self.save)
        close.clicked.connect(self.reject)
        row.addWidget(self.check_btn)
        row.addWidget(self.save_btn)
        row.addStretch(1)
        row.addWidget(close)
        lay.addWidget(self.where)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.status)
        lay.addLayout(row)

    def check(self) -> LabelSchema | None:
        """The schema in the editor, or None with the mistake shown (and the cursor on its line)."""
        target = self.model.save_path or Path(SCHEMA_FILE)
        try:
            schema = parse_schema_text(self.text.toPlainText(), target)
        except DataError as exc:
            self.status.setText(str(exc))
            self.status.setStyleSheet("color: #ff6060;")
            line = getattr(exc, "line", None)
            if line:
                block = self.text.document().findBlockByLineNumber(int(line) - 1)
                cur = self.text.textCursor()
                cur.setPosition(block.position())
                self.text.setTextCursor(cur)
            return None
        self.status.setText(f"valid: {len(schema.classes)} classes, {len(schema.attributes)} attributes")
        self.status.setStyleSheet("color: #60d060;")
        return schema

    def save(self) -> bool:
        """Write the file (when valid) and make the window use it."""
        target = self.model.save_path
        if target is None or self.check() is None:
            return False
        try:
            schema = write_schema_text(target, self.text.toPlainText())
        except (DataError, OSError) as exc:
            self.status.setText(f"not saved: {exc}")
            self.status.setStyleSheet("color: #ff6060;")
            return False
        self.model.set(schema, target)
        self.status.setText(f"saved {target}")
        return True
