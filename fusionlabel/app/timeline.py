"""The timeline: one lane per track over the recording's frames, keyframes, flagged frames.

* top strip: the review queue's flagged frames (red: open, green: resolved, blue: signed off by a
  reviewer, violet: by QA) and the cursor;
* one lane per track (ordered by first frame), a bar in the track's colour where it has boxes,
  dimmed where its boxes are still proposals, a white tick on each keyframe; the selected
  track's lane is highlighted.

Click the strip to jump to a frame; click a lane to jump there and select that track.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from fusionlabel.app.document import LabelDocument
from fusionlabel.app.frame_view import track_color
from fusionlabel.core.edits import box_state

STRIP = 16
LANE = 9


#: the flag strip's colour of a flagged frame a reviewer (blue) or QA (violet) signed off; open
#: frames are red, resolved (the annotator's level) green
LEVEL_COLORS = {"reviewer": QtGui.QColor(70, 150, 235), "qa": QtGui.QColor(170, 110, 230)}


class Timeline(QtWidgets.QWidget):
    """Paints the document's tracks; rebuilds its lane index when the labels change."""

    def __init__(self, doc: LabelDocument, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.lanes: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # id, frames, proposed, keyframe
        self.setMouseTracking(True)
        doc.labels_changed.connect(self.rebuild)
        doc.frame_changed.connect(lambda _i: self.update())
        doc.selection_changed.connect(lambda _t: self.update())
        doc.review_changed.connect(self.update)
        self.rebuild()

    def rebuild(self) -> None:
        per: dict[int, list[tuple[int, bool, bool]]] = {}
        for k, fl in self.doc.labels.frames.items():
            for tid, a in zip(fl.track_ids, fl.attributes):
                st = box_state(a)
                kf = bool((a or {}).get("keyframe", st != "proposed" and not (a or {}).get("interpolated", False)))
                per.setdefault(int(tid), []).append((k, st == "proposed", kf))
        lanes = []
        for tid, rows in per.items():
            arr = np.array(rows, dtype=np.int64)
            lanes.append((tid, arr[:, 0], arr[:, 1].astype(bool), arr[:, 2].astype(bool)))
        lanes.sort(key=lambda r: (int(r[1][0]), r[0]))
        self.lanes = lanes
        self.setMinimumHeight(STRIP + LANE * max(len(lanes), 1) + 4)
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(800, STRIP + LANE * max(len(self.lanes), 1) + 4)

    def _x(self, frame: float) -> float:
        n = max(self.doc.num_frames, 1)
        return 4 + (self.width() - 8) * (frame / n)

    def frame_at(self, x: float) -> int:
        n = max(self.doc.num_frames, 1)
        return int(np.clip((x - 4) / max(self.width() - 8, 1) * n, 0, n - 1))

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor("#1b1f24"))
        fw = max((self.width() - 8) / max(self.doc.num_frames, 1), 1.0)
        for f in self.doc.flagged():
            ok = f in self.doc.resolutions
            level = self.doc.frame_level(f)[0] if self.doc.signoffs else None
            p.fillRect(
                QtCore.QRectF(self._x(f), 2, max(fw, 2), STRIP - 4),
                LEVEL_COLORS[level]
                if level in LEVEL_COLORS
                else QtGui.QColor(80, 200, 120)
                if ok
                else QtGui.QColor(235, 70, 70),
            )
        for row, (tid, frames, proposed, kf) in enumerate(self.lanes):
            y = STRIP + row * LANE
            if tid == self.doc.selected:
                p.fillRect(QtCore.QRectF(0, y, self.width(), LANE), QtGui.QColor(70, 70, 90))
            c = track_color(tid)
            col = QtGui.QColor.fromRgbF(float(c[0]), float(c[1]), float(c[2]))
            dim = QtGui.QColor.fromRgbF(float(c[0]) * 0.5, float(c[1]) * 0.5, float(c[2]) * 0.5)
            # runs of consecutive frames with the same proposed-ness -> one rectangle each
            brk = np.flatnonzero((np.diff(frames) != 1) | (np.diff(proposed.astype(int)) != 0)) + 1
            for s, e in zip(np.r_[0, brk], np.r_[brk, len(frames)]):
                x0, x1 = self._x(frames[s]), self._x(frames[e - 1] + 1)
                p.fillRect(QtCore.QRectF(x0, y + 1, max(x1 - x0, 1.0), LANE - 2), dim if proposed[s] else col)
            p.setPen(QtGui.QColor(255, 255, 255))
            for f in frames[kf][:: max(1, int(np.ceil(kf.sum() / max(self.width(), 1))))]:
                x = self._x(f + 0.5)
                p.drawLine(QtCore.QPointF(x, y + 1), QtCore.QPointF(x, y + LANE - 1))
        x = self._x(self.doc.frame + 0.5)
        p.setPen(QtGui.QPen(QtGui.QColor(255, 230, 0), 2))
        p.drawLine(QtCore.QPointF(x, 0), QtCore.QPointF(x, self.height()))
        p.end()

    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:
        pos = ev.position()
        self.doc.set_frame(self.frame_at(pos.x()))
        row = int((pos.y() - STRIP) // LANE)
        if pos.y() >= STRIP and 0 <= row < len(self.lanes):
            self.doc.select(self.lanes[row][0])

    def mouseMoveEvent(self, ev: QtGui.QMouseEvent) -> None:
        pos = ev.position()
        f = self.frame_at(pos.x())
        row = int((pos.y() - STRIP) // LANE)
        tip = f"frame {f + 1}"  # counted from 1, as the frame label and the CLI tables
        if pos.y() >= STRIP and 0 <= row < len(self.lanes):
            tip += f", track {self.lanes[row][0]}"
        it = self.doc.item(f)
        if it is not None:
            tip += f", flagged ({it.score:.2f})"
        self.setToolTip(tip)
        if ev.buttons() & QtCore.Qt.MouseButton.LeftButton:
            self.doc.set_frame(f)
