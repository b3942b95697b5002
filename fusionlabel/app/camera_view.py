"""Camera panels: every camera in its own dock, with zoom, pan, depth-coloured points and editing.

A :class:`CameraPanel` paints one camera image scaled to its widget (QPainter, no OpenGL) with
the LiDAR points projected into it (coloured by depth, 0..60 m, at the size the user picks) and
every cuboid as vector lines with its ``"ID class"`` label, so both stay sharp at any zoom. A
camera with nothing to show says why (no image at this time, an image that does not decode, no
calibration) instead of showing a grey box.

=====================  ========================================================================
mouse                  effect
=====================  ========================================================================
wheel                  zoom about the cursor (double-click: fit the image again)
right / middle drag    pan
left drag (empty)      draw a 2D box: :attr:`CameraPanel.box_drawn` -> the window fits a cuboid
                       to the points in that frustum with the class prior
                       (:func:`fusionlabel.detect.image_fit.fit_box_in_image`)
left drag on a handle  move that face of the selected cuboid (the squares at its face centres):
                       previewed live, committed on release as one edit (:attr:`box_edited`)
left click             select the cuboid under the cursor (:attr:`box_clicked`)
=====================  ========================================================================

View coordinates: ``screen = (image - centre) * scale + widget_centre`` with ``scale = fit *
zoom``; the decoded image may be a scaled copy of the calibrated one (``sx = image width /
camera.width``): 2D boxes leave the panel in *calibrated* pixels.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PySide6 import QtCore, QtGui, QtWidgets

from fusionlabel.app.frame_view import CameraBoxes, CameraPoints
from fusionlabel.core.box_faces import FACES, face_drag_distance, face_screen_points, move_face
from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera
from fusionlabel.core.projection import project_boxes

_HANDLE = 5.0  # half size of a face handle, pixels
_MIN_PX_PER_M = 6.0  # faces whose picture moves less per metre are not draggable in this view


def _qimage_rgb(img: NDArray[np.uint8]) -> QtGui.QImage:
    h, w, _ = img.shape
    a = np.ascontiguousarray(img)
    return QtGui.QImage(a.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()


class CameraPanel(QtWidgets.QWidget):
    """One camera image with points, cuboids, zoom, pan, 2D box drawing and face dragging."""

    box_drawn = QtCore.Signal(str, object)  # camera name, (4,) x1 y1 x2 y2 in calibrated pixels
    box_edited = QtCore.Signal(int, object)  # track id, Boxes (one, ego frame)
    box_clicked = QtCore.Signal(object)  # track id or None

    def __init__(self, name: str, camera: Camera | None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.camera = camera
        self.setMinimumSize(160, 90)
        self.setMouseTracking(True)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)
        self.image: NDArray[np.uint8] | None = None
        self._pix: QtGui.QPixmap | None = None
        self.points: CameraPoints | None = None
        self.boxes: CameraBoxes | None = None
        self.note = ""
        self.selected: int | None = None
        self.selected_box: Boxes | None = None
        self.preview: Boxes | None = None
        self.point_size = 2
        self.show_points = True
        self.zoom = 1.0
        self.center = np.zeros(2)  # image point at the widget centre (image pixels)
        self._drag: dict | None = None
        self._overlay: QtGui.QImage | None = None
        self._overlay_key: tuple | None = None
        self._overlay_buf: NDArray[np.uint8] | None = None

    # -- content --------------------------------------------------------------------------------
    def set_content(
        self,
        image: NDArray[np.uint8] | None,
        points: CameraPoints | None,
        boxes: CameraBoxes | None,
        note: str = "",
        selected: int | None = None,
        selected_box: Boxes | None = None,
    ) -> None:
        """Show one frame (``image`` None: only ``note``, e.g. "no image at this time")."""
        if image is not self.image:
            first = self.image is None or image is None or self.image.shape != image.shape
            self.image = image
            self._pix = QtGui.QPixmap.fromImage(_qimage_rgb(image)) if image is not None else None
            if first and image is not None:
                self.center = np.array([image.shape[1] / 2, image.shape[0] / 2])
        self.points, self.boxes, self.note = points, boxes, note
        self.selected, self.selected_box = selected, selected_box
        self.preview = None
        self._overlay_key = None
        self.update()

    @property
    def image_scale(self) -> NDArray[np.float64]:
        """(2,) decoded-image pixels per calibrated pixel (sx, sy)."""
        if self.image is None or self.camera is None:
            return np.ones(2)
        return np.array([self.image.shape[1] / self.camera.width, self.image.shape[0] / self.camera.height])

    # -- view transform -------------------------------------------------------------------------
    def fit_scale(self) -> float:
        if self.image is None:
            return 1.0
        h, w = self.image.shape[:2]
        return min(self.width() / max(w, 1), self.height() / max(h, 1))

    @property
    def scale(self) -> float:
        """Screen pixels per image pixel."""
        return self.fit_scale() * self.zoom

    def to_screen(self, img_xy: NDArray[np.floating]) -> NDArray[np.float64]:
        """(N, 2) image pixels -> (N, 2) widget pixels."""
        c = np.array([self.width() / 2, self.height() / 2])
        return (np.asarray(img_xy, np.float64) - self.center) * self.scale + c

    def to_image(self, sx: float, sy: float) -> NDArray[np.float64]:
        """Widget pixel -> image pixel."""
        c = np.array([self.width() / 2, self.height() / 2])
        return (np.array([sx, sy], np.float64) - c) / self.scale + self.center

    def reset_view(self) -> None:
        """Fit the whole image (zoom 1, centred)."""
        self.zoom = 1.0
        if self.image is not None:
            self.center = np.array([self.image.shape[1] / 2, self.image.shape[0] / 2])
        self._overlay_key = None
        self.update()

    def zoom_by(self, factor: float, about: tuple[float, float] | None = None) -> None:
        """Zoom by ``factor`` keeping the image point under ``about`` (widget pixels) in place."""
        about = about if about is not None else (self.width() / 2, self.height() / 2)
        before = self.to_image(*about)
        self.zoom = float(np.clip(self.zoom * factor, 1.0, 40.0))
        after = self.to_image(*about)
        self.center = self.center + (before - after)
        self._overlay_key = None
        self.update()

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the picture by ``(dx, dy)`` widget pixels."""
        self.center = self.center - np.array([dx, dy]) / self.scale
        self._overlay_key = None
        self.update()

    # -- painting -------------------------------------------------------------------------------
    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor("#101418"))
        if self._pix is None or self.image is None:
            p.setPen(QtGui.QColor(200, 200, 200))
            p.drawText(
                self.rect().adjusted(8, 8, -8, -8),
                int(QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextWordWrap),
                self.note or f"{self.name}: no image",
            )
            p.end()
            return
        h, w = self.image.shape[:2]
        tl = self.to_screen(np.array([[0.0, 0.0], [w, h]]))
        p.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, self.scale < 1.0)
        target = QtCore.QRectF(tl[0, 0], tl[0, 1], tl[1, 0] - tl[0, 0], tl[1, 1] - tl[0, 1])
        p.drawPixmap(target, self._pix, QtCore.QRectF(0, 0, w, h))
        p.setClipRect(target)  # points, boxes and labels stay on the picture
        if self.show_points and self.points is not None and len(self.points.uv):
            p.drawImage(0, 0, self._points_overlay())
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        self._paint_boxes(p)
        p.setClipping(False)
        if self._drag is not None and self._drag["mode"] == "draw":
            p.setPen(QtGui.QPen(QtGui.QColor(255, 255, 0), 1.5, QtCore.Qt.PenStyle.DashLine))
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.drawRect(QtCore.QRectF(self._drag["start"], self._drag["now"]).normalized())
        p.setPen(QtGui.QColor(230, 230, 230))
        p.drawText(6, 14, f"{self.name}  {self.zoom:.1f}x")
        if self.note:
            p.fillRect(QtCore.QRectF(0, self.height() - 20, self.width(), 20), QtGui.QColor(90, 40, 20, 200))
            p.drawText(
                QtCore.QRectF(6, self.height() - 20, self.width() - 12, 20),
                int(QtCore.Qt.AlignmentFlag.AlignVCenter),
                self.note,
            )
        p.end()

    def _points_overlay(self) -> QtGui.QImage:
        """The points as an RGBA image of the widget's size (cached until the view changes)."""
        assert self.points is not None
        W, H = max(self.width(), 1), max(self.height(), 1)
        key = (id(self.points), W, H, self.scale, float(self.center[0]), float(self.center[1]), self.point_size)
        if self._overlay is not None and self._overlay_key == key:
            return self._overlay
        buf = np.zeros((H, W, 4), np.uint8)
        scr = self.to_screen(self.points.uv)
        u = np.floor(scr[:, 0]).astype(np.int32)
        v = np.floor(scr[:, 1]).astype(np.int32)
        col = np.concatenate([self.points.colors[:, ::-1], np.full((len(u), 1), 255, np.uint8)], axis=1)  # B G R A
        s = max(int(self.point_size), 1)
        lo = -(s // 2)
        for du in range(lo, lo + s):
            for dv in range(lo, lo + s):
                uu, vv = u + du, v + dv
                ok = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
                buf[vv[ok], uu[ok]] = col[ok]
        self._overlay_buf = buf  # the QImage below shares this memory
        # premultiplied ARGB32 (B G R A in memory; opaque or empty pixels): the raster engine's own format
        self._overlay = QtGui.QImage(buf.data, W, H, 4 * W, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        self._overlay_key = key
        return self._overlay

    def _paint_boxes(self, p: QtGui.QPainter) -> None:
        b = self.boxes
        font = p.font()
        font.setPointSizeF(max(font.pointSizeF() - 1, 7))
        p.setFont(font)
        if b is not None:
            for m in range(len(b.track_ids)):
                tid = int(b.track_ids[m])
                if self.preview is not None and tid == self.selected:
                    continue
                sel = tid == self.selected
                c = QtGui.QColor(*(int(x) for x in b.colors[m]))
                p.setPen(QtGui.QPen(c, 2.5 if sel else 1.5))
                lines = []
                for e in np.flatnonzero(b.edge_visible[m]):
                    seg = self.to_screen(b.segments[m, e])
                    if np.all(np.isfinite(seg)) and np.all(np.abs(seg) < 1e5):
                        lines.append(QtCore.QLineF(seg[0, 0], seg[0, 1], seg[1, 0], seg[1, 1]))
                p.drawLines(lines)
                if np.all(np.isfinite(b.bbox[m])):
                    x, y = self.to_screen(b.bbox[m, :2][None])[0]
                    text = b.texts[m]
                    fm = QtGui.QFontMetrics(p.font())
                    r = QtCore.QRectF(x, y - fm.height() - 1, fm.horizontalAdvance(text) + 6, fm.height() + 1)
                    p.fillRect(r, QtGui.QColor(0, 0, 0, 160))
                    p.setPen(c)
                    p.drawText(r.adjusted(3, 0, 0, 0), int(QtCore.Qt.AlignmentFlag.AlignVCenter), text)
        box = self.preview if self.preview is not None else self.selected_box
        if box is None or self.camera is None:
            return
        if self.preview is not None:  # the dragged cuboid, projected live
            bp = project_boxes(box, self.camera, self.camera.T_ego_cam.inverse(), samples=2)
            segs = bp.segments[0] * self.image_scale
            p.setPen(QtGui.QPen(QtGui.QColor(255, 255, 0), 2.0))
            p.drawLines(
                [
                    QtCore.QLineF(*self.to_screen(segs[e])[0], *self.to_screen(segs[e])[1])
                    for e in np.flatnonzero(bp.edge_visible[0])
                ]
            )
        p.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0), 1.0))
        p.setBrush(QtGui.QColor(255, 255, 255))
        for _face, (x, y) in self._handles(box):
            p.drawRect(QtCore.QRectF(x - _HANDLE, y - _HANDLE, 2 * _HANDLE, 2 * _HANDLE))

    def _handles(self, box: Boxes) -> list[tuple[tuple[int, int], tuple[float, float]]]:
        """(face, widget position) of each draggable face of ``box`` in this view."""
        if self.camera is None or self.image is None:
            return []
        T = self.camera.T_ego_cam.inverse()
        uv, front = face_screen_points(box, self.camera, T)
        out = []
        s = self.image_scale
        for k, face in enumerate(FACES):
            if not front[k]:
                continue
            # pixels the face centre moves per metre along its normal (calibrated pixels)
            step = abs(face_drag_distance(box, face, self.camera, T, (1.0, 0.0))) + abs(
                face_drag_distance(box, face, self.camera, T, (0.0, 1.0))
            )
            if step == 0.0 or 1.0 / step < _MIN_PX_PER_M:
                continue
            x, y = self.to_screen((uv[k] * s)[None])[0]
            if 0 <= x <= self.width() and 0 <= y <= self.height():
                out.append((face, (float(x), float(y))))
        return out

    # -- interaction ----------------------------------------------------------------------------
    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:
        pos = ev.position()
        if ev.button() in (QtCore.Qt.MouseButton.RightButton, QtCore.Qt.MouseButton.MiddleButton):
            self._drag = {"mode": "pan", "last": pos}
            return
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or self.image is None:
            return
        if self.selected_box is not None and self.selected is not None:
            for face, (x, y) in self._handles(self.selected_box):
                if abs(pos.x() - x) <= _HANDLE + 3 and abs(pos.y() - y) <= _HANDLE + 3:
                    self._drag = {
                        "mode": "face",
                        "face": face,
                        "start": pos,
                        "box": self.selected_box,
                        "track": self.selected,
                    }
                    return
        self._drag = {"mode": "draw", "start": pos, "now": pos}

    def mouseMoveEvent(self, ev: QtGui.QMouseEvent) -> None:
        d = self._drag
        if d is None:
            return
        pos = ev.position()
        if d["mode"] == "pan":
            self.pan_by(pos.x() - d["last"].x(), pos.y() - d["last"].y())
            d["last"] = pos
        elif d["mode"] == "face":
            self.preview = self._face_box(d, pos)
            self.update()
        else:
            d["now"] = pos
            self.update()

    def _face_box(self, d: dict, pos: QtCore.QPointF) -> Boxes:
        assert self.camera is not None
        duv_img = np.array([pos.x() - d["start"].x(), pos.y() - d["start"].y()]) / self.scale
        duv = duv_img / self.image_scale  # calibrated pixels
        t = face_drag_distance(d["box"], d["face"], self.camera, self.camera.T_ego_cam.inverse(), duv)
        return move_face(d["box"], d["face"], t)

    def mouseReleaseEvent(self, ev: QtGui.QMouseEvent) -> None:
        d, self._drag = self._drag, None
        if d is None:
            return
        pos = ev.position()
        if d["mode"] == "face":
            box = self._face_box(d, pos)
            moved = np.hypot(pos.x() - d["start"].x(), pos.y() - d["start"].y())
            self.preview = None
            if moved >= 2:
                self.box_edited.emit(int(d["track"]), box)
            self.update()
        elif d["mode"] == "draw":
            a = self.to_image(d["start"].x(), d["start"].y())
            b = self.to_image(pos.x(), pos.y())
            if np.all(np.abs(b - a) * self.scale >= 4):
                s = self.image_scale
                bb = np.r_[np.minimum(a, b) / s, np.maximum(a, b) / s]
                self.box_drawn.emit(self.name, bb)
            else:
                self.box_clicked.emit(self.box_at(pos.x(), pos.y()))
            self.update()

    def box_at(self, sx: float, sy: float) -> int | None:
        """The track whose projected 2D box contains the widget point (the smallest), or None."""
        if self.boxes is None:
            return None
        x, y = self.to_image(sx, sy)
        best, area = None, np.inf
        for m, bb in enumerate(self.boxes.bbox):
            if np.all(np.isfinite(bb)) and bb[0] <= x <= bb[2] and bb[1] <= y <= bb[3]:
                a = (bb[2] - bb[0]) * (bb[3] - bb[1])
                if a < area:
                    best, area = int(self.boxes.track_ids[m]), a
        return best

    def wheelEvent(self, ev: QtGui.QWheelEvent) -> None:
        pos = ev.position()
        self.zoom_by(1.25 if ev.angleDelta().y() > 0 else 1 / 1.25, (pos.x(), pos.y()))

    def mouseDoubleClickEvent(self, ev: QtGui.QMouseEvent) -> None:
        self.reset_view()

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        self._overlay_key = None
        super().resizeEvent(ev)


class CameraView(QtWidgets.QWidget):
    """A :class:`CameraPanel` under a one-line bar: points on/off, point size, fit, fill the screen."""

    point_size_changed = QtCore.Signal(int)
    fill_screen = QtCore.Signal()

    def __init__(self, name: str, camera: Camera | None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.panel = CameraPanel(name, camera)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        self.points_box = QtWidgets.QCheckBox("points")
        self.points_box.setChecked(True)
        self.points_box.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.points_box.toggled.connect(self._toggle_points)
        self.size_spin = QtWidgets.QSpinBox()
        self.size_spin.setRange(1, 9)
        self.size_spin.setValue(self.panel.point_size)
        self.size_spin.setPrefix("size ")
        self.size_spin.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        self.size_spin.valueChanged.connect(self.point_size_changed)
        fit = QtWidgets.QToolButton()
        fit.setText("fit")
        fit.setToolTip("fit the whole image (double-click the image)")
        fit.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        fit.clicked.connect(self.panel.reset_view)
        self.fill_btn = QtWidgets.QToolButton()
        self.fill_btn.setText("fill")
        self.fill_btn.setToolTip("fill the screen with this camera (again: dock it back)")
        self.fill_btn.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.fill_btn.clicked.connect(self.fill_screen)
        for w in (self.points_box, self.size_spin):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(fit)
        bar.addWidget(self.fill_btn)
        lay.addLayout(bar)
        lay.addWidget(self.panel, 1)

    def set_point_size(self, size: int) -> None:
        self.size_spin.blockSignals(True)
        self.size_spin.setValue(int(size))
        self.size_spin.blockSignals(False)
        self.panel.point_size = int(size)
        self.panel._overlay_key = None
        self.panel.update()

    def _toggle_points(self, on: bool) -> None:
        self.panel.show_points = on
        self.panel.update()
