"""The 3D view (vispy on OpenGL): points, cuboids by track, radar with velocity arrows, ego, grid.

Points are drawn as plain GL points (vispy ``Markers`` with ``scaling=False`` and no edges, the
cheapest marker path); cuboid edges, radar arrows and the ego outline as line segments. A
click on the ground plane (z = 0) emits :attr:`PointCloudView.ground_clicked` with the ego
``(x, y, modifiers)`` so the window can select the cuboid there or fit a new one.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PySide6 import QtCore, QtWidgets

from fusionlabel.app.frame_view import FrameView

_EGO = np.array(
    [[2.4, 0.95, 0], [2.4, -0.95, 0], [-2.4, -0.95, 0], [-2.4, 0.95, 0], [2.4, 0.95, 0], [3.2, 0, 0], [2.4, -0.95, 0]],
    np.float32,
)


class PointCloudView(QtCore.QObject):
    """vispy scene: points, cuboid wireframes, radar detections with velocity arrows, ego and grid."""

    ground_clicked = QtCore.Signal(float, float, object)  # x, y (ego, metres), Qt keyboard modifiers

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        from vispy import scene

        self.canvas = scene.SceneCanvas(keys=None, bgcolor="#101418", show=False)
        self.view = self.canvas.central_widget.add_view()
        self.view.camera = scene.cameras.TurntableCamera(elevation=35, azimuth=-90, distance=60, fov=45)
        self.grid = scene.visuals.GridLines(parent=self.view.scene, color=(1, 1, 1, 0.15), scale=(10, 10))
        self.points = scene.visuals.Markers(parent=self.view.scene, scaling=False)
        self.points.antialias = 0
        self.boxes = scene.visuals.Line(parent=self.view.scene, connect="segments", width=2)
        self.radar = scene.visuals.Markers(parent=self.view.scene)
        self.radar_arrows = scene.visuals.Line(parent=self.view.scene, connect="segments", width=2, color="magenta")
        self.ego = scene.visuals.Line(_EGO, parent=self.view.scene, color="white", width=2)
        self.point_size = 2.0
        self._press: tuple[float, float] | None = None
        self.canvas.events.mouse_press.connect(self._on_press)
        self.canvas.events.mouse_release.connect(self._on_release)

    @property
    def widget(self) -> QtWidgets.QWidget:
        return self.canvas.native

    def show(self, fv: FrameView) -> None:
        """Hand one frame's arrays to the GPU visuals (no drawing happens until the next paint)."""
        if len(fv.points):
            self.points.set_data(fv.points, face_color=fv.point_colors, edge_width=0, size=self.point_size)
        else:
            self.points.set_data(np.zeros((1, 3), np.float32), face_color=(0, 0, 0, 0), size=0)
        if len(fv.box_segments):
            self.boxes.set_data(pos=fv.box_segments.reshape(-1, 3), color=np.repeat(fv.box_colors, 2, axis=0))
            self.boxes.visible = True
        else:
            self.boxes.visible = False
        if len(fv.radar_points):
            self.radar.set_data(fv.radar_points, face_color=(1, 0, 1, 1), edge_width=0, size=7)
            self.radar.visible = True
            segs = np.stack([fv.radar_points, fv.radar_velocity_tips], axis=1).reshape(-1, 3)
            self.radar_arrows.set_data(pos=segs)
            self.radar_arrows.visible = True
        else:
            self.radar.visible = self.radar_arrows.visible = False
        self.canvas.update()

    def look_at(self, xyz: NDArray[np.floating] | None) -> None:
        """Centre the camera on ``xyz`` (ego frame) or on the ego vehicle."""
        self.view.camera.center = tuple(float(v) for v in (xyz if xyz is not None else (0.0, 0.0, 0.0)))

    # -- picking --------------------------------------------------------------------------------
    def ground_point(self, px: float, py: float) -> tuple[float, float] | None:
        """The ego ``(x, y)`` where the ray through canvas pixel ``(px, py)`` meets z = 0."""
        tr = self.view.scene.transform
        p0 = np.asarray(tr.imap([px, py, 0, 1]), dtype=np.float64)
        p1 = np.asarray(tr.imap([px, py, 1, 1]), dtype=np.float64)
        if abs(p0[3]) < 1e-12 or abs(p1[3]) < 1e-12:
            return None
        a, b = p0[:3] / p0[3], p1[:3] / p1[3]
        d = b - a
        if abs(d[2]) < 1e-9:
            return None
        t = -a[2] / d[2]  # a + t d has z = 0
        if t < 0 and abs(t) > 1e6:
            return None
        g = a + t * d
        return float(g[0]), float(g[1])

    def _on_press(self, ev) -> None:
        self._press = tuple(ev.pos[:2]) if ev.button == 1 else None

    def _on_release(self, ev) -> None:
        if self._press is None or ev.button != 1:
            return
        moved = np.hypot(ev.pos[0] - self._press[0], ev.pos[1] - self._press[1])
        self._press = None
        if moved > 4:  # a drag turned the camera: not a click
            return
        g = self.ground_point(*ev.pos[:2])
        if g is not None:
            mods = QtWidgets.QApplication.keyboardModifiers()
            self.ground_clicked.emit(g[0], g[1], mods)
