from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera, Lidar, Radar, Rig
from fusionlabel.core.frames import PointCloud, RadarDetections
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.transforms import Transform
from fusionlabel.io.native import NativeWriter

# Without a display Qt's xcb platform aborts the process: use the offscreen platform there, so
# widget-only tests still run; tests that need OpenGL request `needs_display` and skip.
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# camera looking along ego +x: x_cam -> -y_ego, y_cam -> -z_ego, z_cam -> +x_ego
R_EGO_CAM = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def _box_surface_points(box: Boxes, n: int, rng: np.random.Generator) -> np.ndarray:
    local = rng.uniform(-0.5, 0.5, (n, 3)) * box.size[0]
    c, s = np.cos(box.yaw[0]), np.sin(box.yaw[0])
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return local @ R.T + box.center[0]


@pytest.fixture
def tiny_recording(tmp_path: Path) -> Path:
    """A 3-frame native recording: one car (track 5) driving ahead, a LiDAR, a front camera, a radar."""
    rng = np.random.default_rng(0)
    cam = Camera(
        "cam_front",
        K=[[300, 0, 160], [0, 300, 120], [0, 0, 1]],
        width=320,
        height=240,
        T_ego_cam=Transform.from_rt(R_EGO_CAM, [1.5, 0.0, 1.5]),
    )
    rig = Rig(
        {"cam_front": cam},
        {"lidar": Lidar("lidar", Transform.from_rt(np.eye(3), [0, 0, 1.8]))},
        {"radar": Radar("radar", Transform.from_rt(np.eye(3), [3.5, 0, 0.5]))},
    )
    w = NativeWriter(tmp_path / "rec", rig, reference="lidar")
    frames = {}
    for i in range(3):
        t = 1_000_000_000 + i * 100_000_000
        box = Boxes.from_array([[12.0 + i, 0.5, 0.8, 4.2, 1.8, 1.6, 0.1]])
        ground = np.column_stack([rng.uniform(0, 40, 3000), rng.uniform(-15, 15, 3000), np.zeros(3000)])
        pts_ego = np.vstack([ground, _box_surface_points(box, 500, rng)])
        pts_lidar = pts_ego - np.array([0, 0, 1.8])
        w.add_lidar(
            "lidar", t, PointCloud(pts_lidar, {"intensity": rng.uniform(0, 1, len(pts_lidar)).astype(np.float32)})
        )
        img = np.full((240, 320, 3), 90, np.uint8)
        ok, enc = cv2.imencode(".png", img)
        assert ok
        w.add_image("cam_front", t + 3_000_000, enc.tobytes(), ".png")
        w.add_radar("radar", t + 10_000_000, RadarDetections.from_polar([8.5 + i], [0.05], [0.0], [1.0], [10.0]))
        frames[i] = FrameLabels(np.array([5]), ("Car",), box)
    w.finish(labels=LabelSet(frames))
    return tmp_path / "rec"


@pytest.fixture
def needs_display() -> None:
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        pytest.skip("needs a display for OpenGL: run under xvfb-run (`make test` does)")


@pytest.fixture
def make_window(needs_display, qtbot, tmp_path, monkeypatch):
    """Build MainWindows (non-interactive: no dialogs) that are closed after the test. The
    user's configuration (recent files) goes to a temporary folder."""
    import vispy

    monkeypatch.setenv("FUSIONLABEL_CONFIG_DIR", str(tmp_path / "config"))

    vispy.use("pyside6")
    from fusionlabel.app.main_window import MainWindow

    made = []

    def make(rec, **kw):
        kw.setdefault("interactive", False)
        win = MainWindow(rec, **kw)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        made.append(win)
        return win

    yield make
    for w in made:
        while w is not None:  # and the windows File > Open put in their place
            if w.job is not None and w.job.running():
                w.job.cancel()
                w.job.wait(10000)
            w.close()
            w = w.successor


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A private copy of the bundled sample recording (so saving never touches the repository)."""
    import shutil

    from fusionlabel.io.open import SAMPLE

    dst = tmp_path / "synth_seed0"
    shutil.copytree(SAMPLE, dst)
    return dst
