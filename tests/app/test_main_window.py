"""The main window on a real GL context (Xvfb in CI): open, step frames, take a screenshot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytestmark = pytest.mark.gui


@pytest.fixture
def window(needs_display, qtbot, tiny_recording):  # noqa: ANN001
    import vispy

    vispy.use("pyside6")
    from fusionlabel.app.main_window import MainWindow
    from fusionlabel.io.native import open_native

    win = MainWindow(open_native(tiny_recording))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def test_window_steps_through_frames(qtbot, window) -> None:  # noqa: ANN001
    assert window.slider.maximum() == 2
    assert "frame 1/3" in window.frame_label.text() and "boxes 1" in window.frame_label.text()
    with qtbot.waitSignal(window.frame_changed, timeout=2000) as sig:
        window.step(1)
    assert sig.args == [1] and window.index == 1
    window.step(5)
    assert window.index == 2
    assert window.panels["cam_front"].pixmap() is not None


def test_screenshot_shows_the_scene(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    qtbot.wait(200)
    out = tmp_path / "shot.png"
    assert window.grab().save(str(out))
    import cv2

    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 100
    # the GL view rendered something besides its background colour
    left = img[:, : img.shape[1] // 2]
    assert len(np.unique(left.reshape(-1, 3), axis=0)) > 20
