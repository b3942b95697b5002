"""The 3D view (vispy on OpenGL): points, cuboids by track, radar with velocity arrows, ego, grid.

Points are drawn by :class:`PointsVisual`, a plain ``GL_POINTS`` visual (square points of one
size, one float per point that the vertex shader turns into the colour ramp, no marker shape in
the fragment shader): about twice as fast as
vispy's ``Markers`` under software GL. While the camera moves (a mouse drag or the wheel) the
view draws a **decimated** cloud, every ``k``-th point so that at most
:attr:`PointCloudView.interactive_points` remain (an index buffer over the uploaded points:
nothing is re-uploaded), and the full cloud once the camera has been still for
:attr:`PointCloudView.settle_ms`. The grid is line segments (vispy's ``GridLines`` shades every
pixel of the canvas: a third of a software-GL frame). Cuboid edges, radar arrows and the ego
outline are line segments. A click on the ground plane (z = 0) emits
:attr:`PointCloudView.ground_clicked` with the ego ``(x, y, modifiers)`` so the window can
select the cuboid there or fit a new one.
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

_VERT = """
uniform float u_size;
attribute vec3 a_position;
attribute float a_value;  // place on the colour ramp, 0..1
varying vec4 v_color;
void main() {
    gl_Position = $transform(vec4(a_position, 1.0));
    gl_PointSize = u_size;
    float x = a_value;  // the ramp of fusionlabel.app.frame_view.ramp
    v_color = vec4(clamp(1.5 - abs(4.0 * x - 3.0), 0.0, 1.0),
                   clamp(1.5 - abs(4.0 * x - 2.0), 0.0, 1.0),
                   clamp(1.5 - abs(4.0 * x - 1.0), 0.0, 1.0), 1.0);
}
"""
_FRAG = """
varying vec4 v_color;
void main() {
    gl_FragColor = v_color;
}
"""


def _points_visual_class() -> type:
    """:class:`PointsVisual` is built on first use (vispy is imported only by the window)."""
    from vispy import gloo
    from vispy.visuals import Visual

    class PointsVisual(Visual):
        """Plain GL points: (N, 3) float32 positions, (N,) float32 ramp values, one size in pixels.

        ``set_subset(step)`` draws every ``step``-th point (1: all) through a cached index buffer.
        """

        def __init__(self) -> None:
            Visual.__init__(self, vcode=_VERT, fcode=_FRAG)
            self._pos = gloo.VertexBuffer(np.zeros((1, 3), np.float32))
            self._val = gloo.VertexBuffer(np.zeros(1, np.float32))
            self.shared_program["a_position"] = self._pos
            self.shared_program["a_value"] = self._val
            self.shared_program["u_size"] = 2.0
            self._draw_mode = "points"
            self.set_gl_state("opaque", depth_test=True)
            self.n = 0
            self.step = 1
            self._index_cache: dict[tuple[int, int], object] = {}

        def set_data(self, pos: NDArray[np.float32], values: NDArray[np.float32]) -> None:
            self.n = len(pos)
            self._pos.set_data(np.ascontiguousarray(pos, np.float32))
            self._val.set_data(np.ascontiguousarray(values, np.float32))
            self.set_subset(self.step)
            self.update()

        def set_size(self, size: float) -> None:
            self.shared_program["u_size"] = float(size)
            self.update()

        def set_subset(self, step: int) -> None:
            self.step = max(int(step), 1)
            if self.step == 1 or self.n == 0:
                self._index_buffer = None
            else:
                key = (self.n, self.step)
                if key not in self._index_cache:
                    if len(self._index_cache) > 8:
                        self._index_cache.clear()
                    self._index_cache[key] = gloo.IndexBuffer(np.arange(0, self.n, self.step, dtype=np.uint32))
                self._index_buffer = self._index_cache[key]
            self.update()

        def _prepare_transforms(self, view) -> None:
            view.view_program.vert["transform"] = view.get_transform()

        def _prepare_draw(self, view) -> None:
            pass

        def _compute_bounds(self, axis, view) -> None:
            return None

    return PointsVisual


def _grid_segments(extent: float = 100.0, step: float = 10.0) -> NDArray[np.float32]:
    """(2K, 3) end points of a square grid on z = 0 (lines every ``step`` metres)."""
    t = np.arange(-extent, extent + step / 2, step, dtype=np.float32)
    a = np.stack([np.full_like(t, -extent), t, np.zeros_like(t)], axis=1)
    b = np.stack([np.full_like(t, extent), t, np.zeros_like(t)], axis=1)
    c = np.stack([t, np.full_like(t, -extent), np.zeros_like(t)], axis=1)
    d = np.stack([t, np.full_like(t, extent), np.zeros_like(t)], axis=1)
    return np.stack([np.concatenate([a, c]), np.concatenate([b, d])], axis=1).reshape(-1, 3)


class PointCloudView(QtCore.QObject):
    """vispy scene: points, cuboid wireframes, radar detections with velocity arrows, ego and grid.

    Parameters
    ----------
    interactive_points : at most this many points are drawn while the camera moves
    settle_ms : the full cloud comes back after the camera has been still this long
    """

    ground_clicked = QtCore.Signal(float, float, object)  # x, y (ego, metres), Qt keyboard modifiers

    def __init__(
        self, parent: QtCore.QObject | None = None, interactive_points: int = 60_000, settle_ms: int = 150
    ) -> None:
        super().__init__(parent)
        from vispy import scene

        self.canvas = scene.SceneCanvas(keys=None, bgcolor="#101418", show=False)
        self.view = self.canvas.central_widget.add_view()
        self.view.camera = scene.cameras.TurntableCamera(elevation=35, azimuth=-90, distance=60, fov=45)
        self.grid = scene.visuals.Line(
            _grid_segments(), parent=self.view.scene, connect="segments", color=(1, 1, 1, 0.15), width=1
        )
        self.points = scene.visuals.create_visual_node(_points_visual_class())(parent=self.view.scene)
        self.boxes = scene.visuals.Line(parent=self.view.scene, connect="segments", width=2)
        self.radar = scene.visuals.Markers(parent=self.view.scene)
        self.radar_arrows = scene.visuals.Line(parent=self.view.scene, connect="segments", width=2, color="magenta")
        self.ego = scene.visuals.Line(_EGO, parent=self.view.scene, color="white", width=2)
        self.point_size = 2.0
        self.interactive_points = int(interactive_points)
        self.num_points = 0
        #: True while the camera moves and the decimated cloud is drawn
        self.decimated = False
        self._press: tuple[float, float] | None = None
        self._settle = QtCore.QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(int(settle_ms))
        self._settle.timeout.connect(self.end_interaction)
        self.canvas.events.mouse_press.connect(self._on_press)
        self.canvas.events.mouse_release.connect(self._on_release)
        self.canvas.events.mouse_move.connect(self._on_move)
        self.canvas.events.mouse_wheel.connect(self._on_wheel)

    @property
    def widget(self) -> QtWidgets.QWidget:
        return self.canvas.native

    def show(self, fv: FrameView) -> None:
        """Hand one frame's arrays to the GPU visuals (no drawing happens until the next paint)."""
        if len(fv.points):
            self.points.set_data(fv.points, fv.point_values)
        else:  # one point far below the ground, never on screen
            self.points.set_data(np.array([[0.0, 0.0, -1e4]], np.float32), np.zeros(1, np.float32))
        self.num_points = len(fv.points)
        self.points.set_subset(self._step() if self.decimated else 1)
        self.points.set_size(self.point_size)
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

    def set_point_size(self, size: float) -> None:
        self.point_size = float(np.clip(size, 1.0, 10.0))
        self.points.set_size(self.point_size)
        self.canvas.update()

    def look_at(self, xyz: NDArray[np.floating] | None) -> None:
        """Centre the camera on ``xyz`` (ego frame) or on the ego vehicle."""
        self.view.camera.center = tuple(float(v) for v in (xyz if xyz is not None else (0.0, 0.0, 0.0)))

    # -- decimation while the camera moves -------------------------------------------------------
    def _step(self) -> int:
        return max(1, int(np.ceil(self.num_points / max(self.interactive_points, 1))))

    def begin_interaction(self) -> None:
        """The camera starts moving: draw the decimated cloud (until :meth:`end_interaction`)."""
        self._settle.stop()
        if not self.decimated:
            self.decimated = True
            self.points.set_subset(self._step())

    def end_interaction(self) -> None:
        """The camera is still: draw the full cloud."""
        self._settle.stop()
        if self.decimated:
            self.decimated = False
            self.points.set_subset(1)
            self.canvas.update()

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
        self.begin_interaction()

    def _on_move(self, ev) -> None:
        if ev.is_dragging:
            self.begin_interaction()

    def _on_wheel(self, ev) -> None:
        self.begin_interaction()
        self._settle.start()

    def _on_release(self, ev) -> None:
        self._settle.start()
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
