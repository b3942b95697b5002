"""The main window on a real GL context (Xvfb in CI): open, step frames, select, edit, screenshot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
pytestmark = pytest.mark.gui


@pytest.fixture
def window(make_window, tiny_recording, tmp_path):
    from fusionlabel.io.native import open_native

    return make_window(open_native(tiny_recording), label_path=tmp_path / "labels.json")


def test_window_steps_through_frames(qtbot, window) -> None:
    assert window.slider.maximum() == 2
    assert "frame 1/3" in window.frame_label.text() and "boxes 1" in window.frame_label.text()
    with qtbot.waitSignal(window.frame_changed, timeout=2000) as sig:
        window.step(1)
    assert sig.args == [1] and window.index == 1
    window.step(5)
    assert window.index == 2
    assert window.panels["cam_front"].image is not None and window.panels["cam_front"].boxes is not None
    assert window.tracks.rowCount() == 1 and window.tracks.item(0, 0).text() == "5"
    # the timeline has one lane for the one track
    assert len(window.timeline.lanes) == 1 and window.timeline.lanes[0][1].tolist() == [0, 1, 2]


def test_keyboard_edit_numeric_entry_and_undo(qtbot, window) -> None:
    from PySide6 import QtCore

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    window.doc.select(5)
    x0 = window.doc.labels.get(0).boxes.center[0].copy()
    yaw0 = float(window.doc.labels.get(0).boxes.yaw[0])
    qtbot.keyClick(window, QtCore.Qt.Key.Key_I)  # 0.1 m forward along the box heading (yaw 0.1)
    c = window.doc.labels.get(0).boxes.center[0]
    np.testing.assert_allclose(c[:2] - x0[:2], [0.1 * np.cos(yaw0), 0.1 * np.sin(yaw0)], atol=1e-9)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_U, QtCore.Qt.KeyboardModifier.ShiftModifier)  # +5 degrees
    assert float(window.doc.labels.get(0).boxes.yaw[0]) == pytest.approx(yaw0 + np.radians(5))
    # the property panel shows degrees; typing 30 degrees stores radians
    assert window.props.spins["yaw"].value() == pytest.approx(np.degrees(yaw0) + 5, abs=0.06)
    window.props.spins["yaw"].setValue(30.0)
    assert float(window.doc.labels.get(0).boxes.yaw[0]) == pytest.approx(np.radians(30.0))
    window.props.spins["l"].setValue(5.0)
    assert window.doc.labels.get(0).boxes.size[0, 0] == pytest.approx(5.0)
    assert window.doc.labels.get(0).attributes[0]["state"] == "edited"
    assert window.tracks.item(0, 3).text() == "edited"
    for _ in range(4):
        window.undo()
    np.testing.assert_allclose(window.doc.labels.get(0).boxes.to_array()[0, :6], [*x0, 4.2, 1.8, 1.6], atol=1e-9)
    assert not window.doc.dirty
    window.redo()
    assert window.doc.dirty and window.doc.labels.get(0).boxes.center[0, 0] != x0[0]


def test_draw_a_box_in_the_top_view_and_drag_it(qtbot, window) -> None:
    from PySide6 import QtCore

    top = window.box_views.top
    window.doc.select(None)
    n0 = len(window.doc.labels.get(0))
    w, h = top.width(), top.height()
    scale = top.scale
    a, b = QtCore.QPoint(w // 2 - 40, h // 2 - 20), QtCore.QPoint(w // 2 + 40, h // 2 + 20)
    qtbot.mousePress(top, QtCore.Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(top, b)
    qtbot.mouseRelease(top, QtCore.Qt.MouseButton.LeftButton, pos=b)
    fl = window.doc.labels.get(0)
    assert len(fl) == n0 + 1 and window.doc.selected == int(fl.track_ids[-1])
    new = fl.boxes[len(fl) - 1 : len(fl)]
    # 80 px across x 40 px down; the top view's screen vertical is ego x, horizontal is -y: the long
    # side lies along y, so the box has yaw pi/2
    assert new.size[0, 0] == pytest.approx(80 / scale, rel=0.02)
    assert new.size[0, 1] == pytest.approx(40 / scale, rel=0.02)
    assert abs(float(new.yaw[0])) == pytest.approx(np.pi / 2) and new.center[0, 0] == pytest.approx(
        top.origin[0], abs=0.5
    )
    # drag the selected box's centre 30 px up: it moves forward (+x along its heading) in one undo step
    top.set_content(window.current_points(), fl, window.doc.selected)
    before = window.doc.undo_stack.count()
    c0 = window.doc.labels.get(0).boxes.center[-1].copy()
    ctr = QtCore.QPoint(top.width() // 2, top.height() // 2)
    qtbot.mousePress(top, QtCore.Qt.MouseButton.LeftButton, pos=ctr)
    for dy in (10, 20, 30):
        qtbot.mouseMove(top, ctr - QtCore.QPoint(0, dy))
    qtbot.mouseRelease(top, QtCore.Qt.MouseButton.LeftButton, pos=ctr - QtCore.QPoint(0, 30))
    c1 = window.doc.labels.get(0).boxes.center[-1]
    yaw = float(window.doc.labels.get(0).boxes.yaw[-1])
    d = c1[:2] - c0[:2]
    assert np.linalg.norm(d) == pytest.approx(30 / top.scale, rel=0.05)
    assert d @ np.array([np.cos(yaw), np.sin(yaw)]) > 0
    assert window.doc.undo_stack.count() == before + 1


def test_click_fit_adds_a_box_around_the_car(qtbot, window) -> None:
    truth = window.doc.labels.get(0).boxes
    window.doc.edit("clear", lambda ls: __import__("fusionlabel.core.edits", fromlist=["x"]).delete_box(ls, 0, 5))
    tid = window.fit_at(float(truth.center[0, 0]), float(truth.center[0, 1]))
    fl = window.doc.labels.get(0)
    assert tid is not None and len(fl) == 1 and fl.categories[0] == "Car"
    from fusionlabel.core.boxes import iou_3d

    assert iou_3d(fl.boxes, truth)[0, 0] > 0.5


def test_help_overlay_lists_every_shortcut_once(qtbot, window) -> None:
    from fusionlabel.app.shortcuts import SHORTCUTS, help_text

    keys = [k for s in SHORTCUTS for k in s.keys]
    assert len(keys) == len(set(keys)), "a key is bound twice"
    for s in SHORTCUTS:
        assert callable(getattr(window, s.action)), s.action
        assert s.text in help_text()
    window.toggle_help()
    assert window.help.isVisible()
    window.toggle_help()
    assert not window.help.isVisible()


def test_screenshot_shows_the_scene(qtbot, window, tmp_path: Path) -> None:
    from fusionlabel.app.command import screenshot_window

    out = tmp_path / "shot.png"
    screenshot_window(window, out, settle_ms=200)
    import cv2

    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 100
    # the GL view rendered something besides its background colour
    left = img[40 : img.shape[0] // 2, : img.shape[1] // 3]
    assert len(np.unique(left.reshape(-1, 3), axis=0)) > 20
