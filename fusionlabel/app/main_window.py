"""The main window: a vispy 3D view of the point cloud beside the camera images.

A thin layer over :mod:`fusionlabel.app.frame_view`: the window asks for a :class:`FrameView`
and hands its arrays to vispy visuals and image widgets. Keys: Right/Left or D/A step frames,
Home/End jump, 1/2/3 colour by height/intensity/distance.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from fusionlabel.app.frame_view import ColorBy, FrameView, build_frame_view
from fusionlabel.core.errors import DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording


def _qimage(img: np.ndarray) -> QtGui.QImage:
    h, w, _ = img.shape
    return QtGui.QImage(np.ascontiguousarray(img).data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()


class ImagePanel(QtWidgets.QLabel):
    """Shows one camera image, scaled to fit, keeping its aspect ratio."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.setMinimumSize(160, 90)
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Ignored)
        self._pix: QtGui.QPixmap | None = None

    def set_image(self, img: np.ndarray) -> None:
        self._pix = QtGui.QPixmap.fromImage(_qimage(img))
        self._rescale()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802
        self._rescale()
        super().resizeEvent(event)

    def _rescale(self) -> None:
        if self._pix is not None:
            self.setPixmap(self._pix.scaled(self.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                                            QtCore.Qt.TransformationMode.SmoothTransformation))


class PointCloudView:
    """vispy scene: points, cuboid wireframes, radar detections with velocity arrows, ego and grid."""

    def __init__(self) -> None:
        from vispy import scene

        self.canvas = scene.SceneCanvas(keys=None, bgcolor="#101418", show=False)
        self.view = self.canvas.central_widget.add_view()
        self.view.camera = scene.cameras.TurntableCamera(elevation=35, azimuth=-90, distance=60, fov=45)
        self.grid = scene.visuals.GridLines(parent=self.view.scene, color=(1, 1, 1, 0.15), scale=(10, 10))
        self.points = scene.visuals.Markers(parent=self.view.scene)
        self.points.antialias = 0
        self.boxes = scene.visuals.Line(parent=self.view.scene, connect="segments", width=2)
        self.radar = scene.visuals.Markers(parent=self.view.scene)
        self.radar_arrows = scene.visuals.Line(parent=self.view.scene, connect="segments", width=2, color="magenta")
        ego = np.array([[2.4, 0.95, 0], [2.4, -0.95, 0], [-2.4, -0.95, 0], [-2.4, 0.95, 0], [2.4, 0.95, 0], [3.2, 0, 0], [2.4, -0.95, 0]])
        self.ego = scene.visuals.Line(ego, parent=self.view.scene, color="white", width=2)

    @property
    def widget(self) -> QtWidgets.QWidget:
        return self.canvas.native

    def show(self, fv: FrameView) -> None:
        if len(fv.points):
            self.points.set_data(fv.points, face_color=fv.point_colors, edge_width=0, size=2)
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


class MainWindow(QtWidgets.QMainWindow):
    """Browse a recording: 3D view left, camera images right, frame slider below."""

    frame_changed = QtCore.Signal(int)

    def __init__(self, recording: Recording, labels: LabelSet | None = None) -> None:
        super().__init__()
        self.rec = recording
        self.labels = labels if labels is not None else _safe_labels(recording)
        self.color_by: ColorBy = "height"
        self.index = -1
        self.setWindowTitle(f"FusionLabel — {recording.path.name} ({recording.format})")
        self.resize(1600, 900)

        self.cloud = PointCloudView()
        self.cameras = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(self.cameras)
        grid.setContentsMargins(0, 0, 0, 0)
        self.panels: dict[str, ImagePanel] = {}
        cam_names = list(recording.rig.cameras) or [n for n, s in recording.streams.items() if s.kind == "camera"]
        for i, name in enumerate(cam_names):
            panel = ImagePanel(name)
            box = QtWidgets.QGroupBox(name)
            QtWidgets.QVBoxLayout(box).addWidget(panel)
            grid.addWidget(box, i // 2 if len(cam_names) > 2 else i, i % 2 if len(cam_names) > 2 else 0)
            self.panels[name] = panel
        split = QtWidgets.QSplitter()
        split.addWidget(self.cloud.widget)
        split.addWidget(self.cameras)
        split.setSizes([1000, 600] if cam_names else [1600, 0])

        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, max(len(recording) - 1, 0))
        self.slider.valueChanged.connect(self.set_frame)
        self.frame_label = QtWidgets.QLabel()
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.frame_label)
        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        lay.addWidget(split, 1)
        lay.addLayout(bottom)
        self.setCentralWidget(central)

        for key, fn in (
            ("Right", lambda: self.step(1)), ("D", lambda: self.step(1)),
            ("Left", lambda: self.step(-1)), ("A", lambda: self.step(-1)),
            ("Home", lambda: self.set_frame(0)), ("End", lambda: self.set_frame(len(self.rec) - 1)),
            ("1", lambda: self.set_color_by("height")), ("2", lambda: self.set_color_by("intensity")),
            ("3", lambda: self.set_color_by("distance")),
        ):
            QtGui.QShortcut(QtGui.QKeySequence(key), self, activated=fn)
        if len(recording):
            self.set_frame(0)
        else:
            self.statusBar().showMessage("this recording has no frames")

    def step(self, delta: int) -> None:
        self.set_frame(min(max(self.index + delta, 0), len(self.rec) - 1))

    def set_color_by(self, mode: ColorBy) -> None:
        self.color_by = mode
        i, self.index = self.index, -1
        self.set_frame(i)

    def set_frame(self, index: int) -> None:
        if index == self.index or not len(self.rec):
            return
        self.index = index
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        labels = self.labels.get(index) if self.labels is not None else None
        try:
            fv = build_frame_view(self.rec, index, labels, self.color_by)
        except DataError as exc:
            self.statusBar().showMessage(f"frame {index}: {exc}")
            self.frame_label.setText(f"frame {index + 1}/{len(self.rec)} (broken)")
            return
        self.cloud.show(fv)
        for name, img in fv.camera_images.items():
            if name in self.panels:
                self.panels[name].set_image(img)
        n_boxes = len(labels) if labels is not None else 0
        self.frame_label.setText(
            f"frame {index + 1}/{len(self.rec)}  t={fv.timestamp_ns / 1e9:.3f} s  points {len(fv.points)}  boxes {n_boxes}"
        )
        self.statusBar().showMessage("; ".join(fv.problems) if fv.problems else "")
        self.frame_changed.emit(index)


def _safe_labels(rec: Recording) -> LabelSet | None:
    try:
        return rec.labels()
    except DataError:
        return None
