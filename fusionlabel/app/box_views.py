"""Top, side and front views of the selected cuboid, for precise editing (QPainter, no OpenGL).

Each view is an orthographic projection in the selected box's own frame (x along its heading,
y to its left, z up), centred on the box:

=========  ====================  =================  ==========================================
view       screen right          screen up          drag
=========  ====================  =================  ==========================================
top        -y (box's right)      +x (heading)       inside: move x/y; corner: resize l/w
                                                    (opposite corner fixed); round handle in
                                                    front: rotate; empty space: draw a new box
side       +x (heading)          +z                 inside: move x/z; an edge: length/height
front      -y (seen from behind) +z                 inside: move y/z; an edge: width/height
=========  ====================  =================  ==========================================

With no box selected the top view is a bird's-eye view around the last position (ego axes),
where a drag draws a new box and Shift+click fits one to the points under the cursor. A drag
is previewed live and committed on release as **one** edit (one undo step) through
:attr:`BoxView.box_edited` / :attr:`BoxView.box_drawn`. Mouse wheel zooms.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PySide6 import QtCore, QtGui, QtWidgets

from fusionlabel.app.frame_view import colormap, track_color
from fusionlabel.core.boxes import Boxes
from fusionlabel.core.labels import FrameLabels

Kind = Literal["top", "side", "front"]
# (horizontal axis, sign), (vertical axis, sign) in the box frame; axis 0=x 1=y 2=z
_AXES: dict[str, tuple[tuple[int, float], tuple[int, float]]] = {
    "top": ((1, -1.0), (0, 1.0)),
    "side": ((0, 1.0), (2, 1.0)),
    "front": ((1, -1.0), (2, 1.0)),
}
_HANDLE_PX = 7.0


def _rot(phi: float) -> NDArray[np.float64]:
    c, s = np.cos(phi), np.sin(phi)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])  # R_ego_box


class BoxView(QtWidgets.QWidget):
    """One orthographic view (``kind`` = top / side / front) of the selected cuboid."""

    box_edited = QtCore.Signal(int, object)  # track id, Boxes (one, ego frame)
    box_drawn = QtCore.Signal(object)  # Boxes (one, ego frame): a new box
    clicked = QtCore.Signal(float, float, object)  # ego x, y, Qt modifiers (top view click)

    def __init__(self, kind: Kind, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setMinimumSize(150, 120)
        self.setMouseTracking(True)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        self.points = np.zeros((0, 3), np.float32)
        self.labels = FrameLabels.empty()
        self.selected: int | None = None
        self.origin = np.zeros(3)  # ego point at the view centre
        self.phi = 0.0  # view rotation (the selected box's yaw)
        self.scale = 40.0 if kind != "top" else 12.0  # pixels per metre
        self.auto_scale = True
        self._drag: dict | None = None
        self.preview: Boxes | None = None
        self._cache_key: tuple | None = None
        self._cache_img: QtGui.QImage | None = None
        self._cache_buf: NDArray[np.uint8] | None = None

    # -- content --------------------------------------------------------------------------------
    def set_content(self, points: NDArray[np.float32], labels: FrameLabels, selected: int | None) -> None:
        idle = self.kind != "top" and self.selected_box() is None and self.preview is None
        self.points, self.labels, self.selected = points, labels, selected
        box = self.selected_box()
        if idle and box is None:  # still "select a box": nothing to repaint
            return
        if box is not None:
            self.origin = box.center[0].astype(np.float64)
            self.phi = float(box.yaw[0])
            if self.auto_scale:
                ext = max(float(box.size[0, 0]), float(box.size[0, 1]), float(box.size[0, 2]))
                self.scale = max(4.0, min(200.0, 0.55 * min(self.width(), self.height()) / max(ext * 1.3, 0.5)))
                if self.kind == "top":
                    self.scale *= 0.6
        else:
            self.phi = 0.0
        self.preview = None
        self.update()

    def selected_box(self) -> Boxes | None:
        if self.selected is None:
            return None
        hit = np.flatnonzero(self.labels.track_ids == self.selected)
        return self.labels.boxes[int(hit[0]) : int(hit[0]) + 1] if len(hit) else None

    # -- coordinates ----------------------------------------------------------------------------
    def _local(self, p_ego: NDArray[np.floating]) -> NDArray[np.float64]:
        """(N, 3) ego -> (N, 3) view-local (box frame at ``origin``, rotated by ``phi``)."""
        return (np.asarray(p_ego, np.float64) - self.origin) @ _rot(self.phi)  # R^T (p - o)

    def _screen(self, local: NDArray[np.float64]) -> NDArray[np.float64]:
        (ha, hs), (va, vs) = _AXES[self.kind]
        sx = self.width() / 2 + hs * local[:, ha] * self.scale
        sy = self.height() / 2 - vs * local[:, va] * self.scale
        return np.stack([sx, sy], axis=1)

    def _delta_local(self, dx_px: float, dy_px: float) -> NDArray[np.float64]:
        """Screen displacement -> displacement in the view-local frame (metres)."""
        (ha, hs), (va, vs) = _AXES[self.kind]
        d = np.zeros(3)
        d[ha] += hs * dx_px / self.scale
        d[va] += -vs * dy_px / self.scale
        return d

    def screen_to_ego_xy(self, sx: float, sy: float) -> tuple[float, float]:
        """Ego ``(x, y)`` under a screen position of the top view (z of the view centre)."""
        d = self._delta_local(sx - self.width() / 2, sy - self.height() / 2)
        p = self.origin + _rot(self.phi) @ d
        return float(p[0]), float(p[1])

    def _box_outline(self, box: Boxes) -> NDArray[np.float64]:
        """(4, 2) screen corners of the box's rectangle in this view."""
        (ha, _), (va, _) = _AXES[self.kind]
        c = self._local(box.center)[0]
        half = box.size[0] / 2
        rel = _rot(float(box.yaw[0]) - self.phi)  # box axes in view-local axes
        pts = []
        for a, b in ((1, 1), (1, -1), (-1, -1), (-1, 1)):
            q = np.zeros(3)
            q[ha] = a
            q[va] = b
            if self.kind == "top":
                local = c + rel @ (np.array([q[0], q[1], 0.0]) * half)
            else:  # side/front: the box's extent along the view axes (exact for the selected box)
                local = c + q * half[[0, 1, 2]]
            pts.append(local)
        return self._screen(np.array(pts))

    # -- painting -------------------------------------------------------------------------------
    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor("#14181c"))
        p.setPen(QtGui.QColor(120, 120, 120))
        title = {"top": "top", "side": "side", "front": "front (from behind)"}[self.kind]
        p.drawText(6, 14, f"{title}  {100 / self.scale:.1f} m / 100 px")
        box = self.preview if self.preview is not None else self.selected_box()
        if self.kind != "top" and box is None:
            p.drawText(self.rect(), QtCore.Qt.AlignmentFlag.AlignCenter, "select a box")
            p.end()
            return
        self._paint_points(p, box)
        for i, tid in enumerate(self.labels.track_ids):
            if int(tid) == self.selected or (self.kind != "top"):
                continue
            col = track_color(int(tid))
            self._paint_box(p, self.labels.boxes[i : i + 1], QtGui.QColor.fromRgbF(*col[:3]), 1.5)
        if box is not None:
            self._paint_box(p, box, QtGui.QColor(255, 255, 255), 2.0, handles=True)
        if self._drag is not None and self._drag["mode"] == "draw":
            p.setPen(QtGui.QPen(QtGui.QColor(255, 255, 0), 1, QtCore.Qt.PenStyle.DashLine))
            p.drawRect(QtCore.QRectF(self._drag["start"], self._drag["now"]).normalized())
        p.end()

    def _paint_points(self, p: QtGui.QPainter, box: Boxes | None) -> None:
        """The points as 2x2 dots coloured by height, cached until the view or the frame changes.

        Only points within the view's reach (half its diagonal, in metres, around the centre)
        are rotated into it, in float32: a whole 120k-point scan costs a few milliseconds."""
        if not len(self.points):
            return
        h, w = self.height(), self.width()
        bkey = None if box is None else tuple(box.to_array()[0].round(4))
        key = (
            id(self.points),
            len(self.points),
            tuple(self.origin.round(4)),
            round(self.phi, 5),
            self.scale,
            w,
            h,
            bkey,
        )
        if self._cache_key != key:
            self._cache_img = self._render_points(box, w, h)
            self._cache_key = key
        if self._cache_img is not None:
            p.drawImage(0, 0, self._cache_img)

    def _render_points(self, box: Boxes | None, w: int, h: int) -> QtGui.QImage | None:
        reach = 0.5 * float(np.hypot(w, h)) / self.scale + 0.5
        o = self.origin.astype(np.float32)
        rel = self.points - o
        near = (np.abs(rel[:, 0]) < reach) & (np.abs(rel[:, 1]) < reach)
        rel = rel[near]
        cap = max(w * h // 2, 5000)  # more points than half the pixels look the same: thin them
        if len(rel) > cap:
            rel = rel[:: int(np.ceil(len(rel) / cap))]
        c, s_ = np.float32(np.cos(self.phi)), np.float32(np.sin(self.phi))
        local = np.stack(
            [c * rel[:, 0] + s_ * rel[:, 1], -s_ * rel[:, 0] + c * rel[:, 1], rel[:, 2]], axis=1
        )  # R^T (p - o)
        if self.kind != "top" and box is not None:
            # only points in the box's slab across the view direction (its width for side...)
            depth_axis = 1 if self.kind == "side" else 0
            half = float(box.size[0, depth_axis]) / 2 + 0.3
            local = local[np.abs(local[:, depth_axis]) < half]
        (ha, hs), (va, vs) = _AXES[self.kind]
        u = (w / 2 + hs * local[:, ha] * self.scale).astype(np.int32)
        v = (h / 2 - vs * local[:, va] * self.scale).astype(np.int32)
        ok = (u >= 0) & (u < w - 1) & (v >= 0) & (v < h - 1)
        u, v, z = u[ok], v[ok], local[ok, 2] + o[2]
        img = np.zeros((h, w, 4), np.uint8)
        rgb = (colormap(z, -2.5, 2.5)[:, :3] * 255).astype(np.uint8)
        col = np.concatenate([rgb[:, ::-1], np.full((len(z), 1), 255, np.uint8)], axis=1)  # B G R A
        for du, dv in ((0, 0), (1, 0), (0, 1), (1, 1)):  # 2x2 pixel dots
            img[v + dv, u + du] = col
        self._cache_buf = img  # the QImage shares this memory
        return QtGui.QImage(img.data, w, h, 4 * w, QtGui.QImage.Format.Format_ARGB32_Premultiplied)

    def _paint_box(
        self, p: QtGui.QPainter, box: Boxes, color: QtGui.QColor, width: float, handles: bool = False
    ) -> None:
        corners = self._box_outline(box)
        p.setPen(QtGui.QPen(color, width))
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        p.drawPolygon(QtGui.QPolygonF([QtCore.QPointF(float(x), float(y)) for x, y in corners]))
        if not handles:
            return
        p.setBrush(color)
        for x, y in corners:
            p.drawRect(QtCore.QRectF(x - 3, y - 3, 6, 6))
        if self.kind == "top":
            hx, hy = self._rotate_handle(box)
            mid = corners[:2].mean(axis=0)
            p.drawLine(QtCore.QPointF(*mid), QtCore.QPointF(hx, hy))
            p.drawEllipse(QtCore.QPointF(hx, hy), 5, 5)

    def _rotate_handle(self, box: Boxes) -> tuple[float, float]:
        c, yaw, length = box.center[0], float(box.yaw[0]), float(box.size[0, 0])
        tip = c + np.array([np.cos(yaw), np.sin(yaw), 0.0]) * (length / 2 + 25 / self.scale)
        s = self._screen(self._local(tip[None]))[0]
        return float(s[0]), float(s[1])

    # -- interaction ----------------------------------------------------------------------------
    def _hit(self, pos: QtCore.QPointF) -> dict | None:
        """What a press at ``pos`` grabs: rotate / resize (axis signs) / move / None."""
        box = self.selected_box()
        if box is None:
            return None
        x, y = pos.x(), pos.y()
        if self.kind == "top":
            hx, hy = self._rotate_handle(box)
            if np.hypot(x - hx, y - hy) <= _HANDLE_PX + 2:
                return {"mode": "rotate"}
        # position in box-local coords (metres) of the press
        (ha, _hs), (va, _vs) = _AXES[self.kind]
        c = self._local(box.center)[0]
        rel = _rot(float(box.yaw[0]) - self.phi)
        d = self._delta_local(x - self.width() / 2, y - self.height() / 2) - c
        q = rel.T @ d if self.kind == "top" else d  # in the box's axes
        half = box.size[0] / 2
        tol = _HANDLE_PX / self.scale
        sign = np.zeros(3)
        for ax in (ha, va):
            if abs(q[ax] - half[ax]) <= tol:
                sign[ax] = 1.0
            elif abs(q[ax] + half[ax]) <= tol:
                sign[ax] = -1.0
        other = [ha, va]
        inside = all(abs(q[a]) <= half[a] + tol for a in other)
        if inside and np.any(sign):
            if self.kind == "top" and np.count_nonzero(sign) < 2:
                return {"mode": "move"}  # top view resizes at corners only
            return {"mode": "resize", "sign": sign}
        if inside:
            return {"mode": "move"}
        return None

    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        pos = ev.position()
        hit = self._hit(pos)
        box = self.selected_box()
        if hit is not None and box is not None:
            hit.update(start=pos, now=pos, box=box, track=self.selected)
            self._drag = hit
        elif self.kind == "top":
            self._drag = {"mode": "draw", "start": pos, "now": pos}

    def mouseMoveEvent(self, ev: QtGui.QMouseEvent) -> None:
        if self._drag is None:
            return
        self._drag["now"] = ev.position()
        if self._drag["mode"] != "draw":
            self.preview = self._dragged_box()
        self.update()

    def mouseReleaseEvent(self, ev: QtGui.QMouseEvent) -> None:
        d, self._drag = self._drag, None
        if d is None:
            return
        d["now"] = ev.position()
        moved = np.hypot(d["now"].x() - d["start"].x(), d["now"].y() - d["start"].y())
        if d["mode"] == "draw":
            if moved < 5:
                x, y = self.screen_to_ego_xy(d["start"].x(), d["start"].y())
                self.clicked.emit(x, y, ev.modifiers())
            else:
                self.box_drawn.emit(self._drawn_box(d))
        elif moved >= 2:
            self._drag = d
            box = self._dragged_box()
            self._drag = None
            self.preview = None
            self.box_edited.emit(int(d["track"]), box)
        self.preview = None
        self.update()

    def _dragged_box(self) -> Boxes:
        d = self._drag
        assert d is not None
        a = d["box"].to_array()[0].copy()
        delta = self._delta_local(d["now"].x() - d["start"].x(), d["now"].y() - d["start"].y())  # view-local
        R = _rot(self.phi)
        if d["mode"] == "move":
            a[:3] += R @ delta
        elif d["mode"] == "rotate":
            p = self._local(a[None, :3])[0]
            v = self._delta_local(d["now"].x() - self.width() / 2, d["now"].y() - self.height() / 2) - p
            a[6] = float(np.arctan2(v[1], v[0])) + self.phi
            a[6] = float(np.arctan2(np.sin(a[6]), np.cos(a[6])))
        else:  # resize: the face (edge / corner) under the cursor follows it, the opposite stays
            rel = _rot(float(a[6]) - self.phi) if self.kind == "top" else np.eye(3)
            q = rel.T @ delta  # drag in the box's axes
            sign = d["sign"]
            grow = sign * q
            new = np.maximum(a[3:6] + grow, 0.05)
            shift_box = sign * (new - a[3:6]) / 2
            a[:3] += R @ (rel @ shift_box)
            a[3:6] = new
        return Boxes.from_array(a[None])

    def _drawn_box(self, d: dict) -> Boxes:
        (x0, y0), (x1, y1) = (d["start"].x(), d["start"].y()), (d["now"].x(), d["now"].y())
        p0 = np.array(self.screen_to_ego_xy(x0, y0))
        p1 = np.array(self.screen_to_ego_xy(x1, y1))
        c = (p0 + p1) / 2
        loc = _rot(self.phi).T @ np.array([*(p1 - p0), 0.0])
        ex, ey = abs(loc[0]), abs(loc[1])
        yaw = self.phi if ex >= ey else self.phi + np.pi / 2
        length, width = max(ex, ey), min(ex, ey)
        ground, height = self._ground_and_height(c)
        return Boxes.from_array(
            [
                [
                    c[0],
                    c[1],
                    ground + height / 2,
                    max(length, 0.2),
                    max(width, 0.2),
                    height,
                    float(np.arctan2(np.sin(yaw), np.cos(yaw))),
                ]
            ]
        )

    def _ground_and_height(self, c: NDArray[np.float64]) -> tuple[float, float]:
        if not len(self.points):
            return 0.0, 1.6
        d = np.hypot(self.points[:, 0] - c[0], self.points[:, 1] - c[1])
        near = self.points[d < 5.0]
        if len(near) < 5:
            return float(self.origin[2]) - 0.8, 1.6
        ground = float(np.percentile(near[:, 2], 5))
        top = float(np.percentile(near[:, 2], 98))
        return ground, float(np.clip(top - ground, 0.5, 4.0))

    def wheelEvent(self, ev: QtGui.QWheelEvent) -> None:
        self.auto_scale = False
        self.scale = float(np.clip(self.scale * (1.15 if ev.angleDelta().y() > 0 else 1 / 1.15), 2.0, 400.0))
        self.update()

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        if self.auto_scale:
            self.set_content(self.points, self.labels, self.selected)
        super().resizeEvent(ev)


class BoxViews(QtWidgets.QWidget):
    """The three views side by side; signals forwarded from each."""

    box_edited = QtCore.Signal(int, object)
    box_drawn = QtCore.Signal(object)
    clicked = QtCore.Signal(float, float, object)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.top, self.side, self.front = BoxView("top"), BoxView("side"), BoxView("front")
        for v in (self.top, self.side, self.front):
            lay.addWidget(v, 1)
            v.box_edited.connect(self.box_edited)
        self.top.box_drawn.connect(self.box_drawn)
        self.top.clicked.connect(self.clicked)

    def set_content(self, points: NDArray[np.float32], labels: FrameLabels, selected: int | None) -> None:
        for v in (self.top, self.side, self.front):
            v.set_content(points, labels, selected)
