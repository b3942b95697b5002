"""The annotator's workstation in the real window (pytest-qt, Xvfb): camera docks, zoom and pan,
2D-to-3D boxes and face drags in an image, fits that respect the class, one size per track,
playback, the keyboard, status messages, ID dialogs, the File menu, the label schema and bad
input shown as messages. No timing is asserted here (benchmarks/bench_app.py measures)."""

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


def _car(win, frame: int = 0):
    fl = win.doc.labels.get(frame)
    i = int(np.flatnonzero(fl.track_ids == 5)[0])
    return fl.boxes[i : i + 1]


def _screen(panel, img_xy) -> tuple[int, int]:
    x, y = panel.to_screen(np.asarray(img_xy, dtype=np.float64)[None])[0]
    return round(x), round(y)


def _drag(qtbot, widget, a, b, button=None, steps: int = 4) -> None:
    from PySide6 import QtCore

    button = button or QtCore.Qt.MouseButton.LeftButton
    pa, pb = QtCore.QPoint(*a), QtCore.QPoint(*b)
    qtbot.mousePress(widget, button, pos=pa)
    for k in range(1, steps + 1):
        qtbot.mouseMove(widget, pa + (pb - pa) * k / steps)
    qtbot.mouseRelease(widget, button, pos=pb)


# -- 1. cameras ------------------------------------------------------------------------------------
def test_every_camera_is_a_detachable_dock_that_can_fill_the_screen(qtbot, window) -> None:
    from PySide6 import QtWidgets

    dock = window.camera_docks["cam_front"]
    F = QtWidgets.QDockWidget.DockWidgetFeature
    assert dock.features() & F.DockWidgetFloatable and dock.features() & F.DockWidgetMovable
    assert window.dockWidgetArea(dock) == window.dockWidgetArea(next(iter(window.camera_docks.values())))
    panel = window.panels["cam_front"]
    assert panel.image is not None and panel.points is not None and len(panel.points.uv) > 100
    window.toggle_fill_screen("cam_front")
    assert dock.isFloating()
    screen = window.screen().availableGeometry()
    qtbot.waitUntil(lambda: dock.width() >= 0.9 * screen.width(), timeout=3000)
    # the keyboard works from the floating camera too (the shortcuts are on its window)
    assert window.actions_by_name["next_frame"] in dock.actions()
    window.toggle_fill_screen("cam_front")
    assert not dock.isFloating()


def test_camera_zoom_pan_and_point_size(qtbot, window) -> None:
    from PySide6 import QtCore, QtGui, QtWidgets

    panel = window.panels["cam_front"]
    qtbot.waitUntil(lambda: panel.width() > 100)
    cursor = (panel.width() * 0.25, panel.height() * 0.5)
    under = panel.to_image(*cursor)
    ev = QtGui.QWheelEvent(
        QtCore.QPointF(*cursor),
        QtCore.QPointF(panel.mapToGlobal(QtCore.QPoint(int(cursor[0]), int(cursor[1])))),
        QtCore.QPoint(0, 0),
        QtCore.QPoint(0, 120),
        QtCore.Qt.MouseButton.NoButton,
        QtCore.Qt.KeyboardModifier.NoModifier,
        QtCore.Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QtWidgets.QApplication.sendEvent(panel, ev)
    assert panel.zoom == pytest.approx(1.25)
    np.testing.assert_allclose(panel.to_image(*cursor), under, atol=1e-6)  # the point under the cursor stays
    c0 = panel.center.copy()
    _drag(qtbot, panel, (100, 60), (140, 80), QtCore.Qt.MouseButton.RightButton)
    np.testing.assert_allclose(panel.center, c0 - np.array([40, 20]) / panel.scale, atol=1e-6)
    panel.reset_view()
    assert panel.zoom == 1.0
    # point size: the spin box of any camera sets every camera; ] and [ change both views
    window.cameras["cam_front"].size_spin.setValue(5)
    assert panel.point_size == 5
    window.smaller_points()
    assert panel.point_size == 4 and window.cloud.point_size == 1.0
    panel.grab()  # paints with the overlay (points, boxes, labels)


def test_camera_without_images_says_so(qtbot, make_window, real_data, tmp_path) -> None:
    """Argoverse 2 ships no images here: its nine cameras say so (and start closed), nothing grey."""
    from fusionlabel.io.open import open_recording

    rec = open_recording(real_data / "argoverse2" / "sensor" / "val" / "7fab2350-7eaf-3b7e-a39d-6937a4c1bede")
    win = make_window(rec, label_path=tmp_path / "l.json")
    assert len(win.panels) == 9
    assert all(d.isHidden() for d in win.camera_docks.values())
    assert all("no images" in p.note for p in win.panels.values())
    assert "no camera images" in win.statusBar().currentMessage()
    win.camera_docks["ring_front_center"].show()
    img = win.panels["ring_front_center"].grab().toImage()
    assert img.width() > 0


# -- 2. editing in the image -----------------------------------------------------------------------
def test_a_2d_box_drawn_in_the_image_becomes_a_cuboid_whose_projection_matches_it(qtbot, window) -> None:
    from fusionlabel.core.boxes import iou_3d
    from fusionlabel.core.projection import bbox_iou, project_boxes

    truth = _car(window)
    window.doc.edit("clear", lambda ls: __import__("fusionlabel.core.edits", fromlist=["x"]).delete_box(ls, 0, 5))
    window.doc.select(None)
    panel = window.panels["cam_front"]
    qtbot.waitUntil(lambda: panel.width() > 100)
    cam = window.rec.rig.cameras["cam_front"]
    drawn = project_boxes(truth, cam, cam.T_ego_cam.inverse()).bbox[0]  # the car's outline, calibrated px
    s = panel.image_scale
    a, b = _screen(panel, drawn[:2] * s), _screen(panel, drawn[2:] * s)
    before = window.doc.undo_stack.count()
    _drag(qtbot, panel, a, b)
    fl = window.doc.labels.get(0)
    assert len(fl) == 1 and window.doc.undo_stack.count() == before + 1
    new = fl.boxes
    assert fl.categories[0] == window.new_class == "Car" and window.doc.selected == int(fl.track_ids[0])
    got = project_boxes(new, cam, cam.T_ego_cam.inverse()).bbox[0]
    drawn_px = np.r_[np.array(panel.to_image(*a)) / s, np.array(panel.to_image(*b)) / s]
    assert bbox_iou(got, drawn_px)[0] > 0.9  # its projection matches the drawn box
    assert iou_3d(new, truth)[0, 0] > 0.5  # and it is the car
    assert "LiDAR points" in window.statusBar().currentMessage()


def test_dragging_a_projected_face_moves_that_face(qtbot, window) -> None:
    from fusionlabel.core.box_faces import FACES

    window.doc.select(5)
    panel = window.panels["cam_front"]
    qtbot.waitUntil(lambda: panel.width() > 100 and panel.selected_box is not None)
    box = _car(window)
    handles = dict(panel._handles(box))
    face = (1, 1) if (1, 1) in handles else next(iter(handles))  # the car's left side faces the camera's left
    assert face in FACES
    x, y = handles[face]
    before = window.doc.undo_stack.count()
    _drag(qtbot, panel, (int(x), int(y)), (int(x) - 30, int(y)))
    after = _car(window)
    ax = face[0]
    assert after.size[0, ax] != pytest.approx(box.size[0, ax], abs=0.05)
    # the opposite face stays: centre moved by half the growth along the face normal
    grow = after.size[0, ax] - box.size[0, ax]
    from fusionlabel.core.box_faces import face_normal

    np.testing.assert_allclose(after.center[0] - box.center[0], face_normal(box, face) * grow / 2, atol=1e-6)
    assert window.doc.undo_stack.count() == before + 1


# -- 3. fits that respect the object ---------------------------------------------------------------
def test_fit_never_returns_less_than_the_class_minimum(qtbot, window, monkeypatch) -> None:
    from fusionlabel.core.size_priors import size_class

    rng = np.random.default_rng(1)
    pole = np.c_[rng.normal(20, 0.05, (25, 2)), rng.uniform(0.3, 1.3, 25)]  # a far car: a few points
    road = np.c_[rng.uniform(0, 40, 4000), rng.uniform(-15, 15, 4000), np.zeros(4000)]
    monkeypatch.setattr(window, "current_points", lambda: np.vstack([pole, road]).astype(np.float32))
    car = size_class("Car")
    tid = window.fit_at(20.0, 20.0)  # Shift+click on it
    fl = window.doc.labels.get(0)
    new = fl.boxes[int(np.flatnonzero(fl.track_ids == tid)[0])]
    assert np.all(new.size[0] >= np.array(car.minimum) - 1e-9)
    # F on the selected box: the same, keeping its heading
    window.doc.select(tid)
    yaw = float(new.yaw[0])
    window.fit_at_selection()
    again = window.doc.labels.get(0).boxes[int(np.flatnonzero(window.doc.labels.get(0).track_ids == tid)[0])]
    assert np.all(again.size[0] >= np.array(car.minimum) - 1e-9)
    assert abs(np.sin(float(again.yaw[0]) - yaw)) < 0.2


def test_new_boxes_get_the_class_prior(qtbot, window) -> None:
    from PySide6 import QtCore

    from fusionlabel.core.size_priors import size_class

    window.set_new_class("Pedestrian")
    top = window.box_views.top
    window.doc.select(None)
    w, h = top.width(), top.height()
    _drag(qtbot, top, (w // 2 - 3, h // 2 - 2), (w // 2 + 3, h // 2 + 2), QtCore.Qt.MouseButton.LeftButton)
    fl = window.doc.labels.get(0)
    new = fl.boxes[len(fl) - 1 : len(fl)]
    ped = size_class("Pedestrian")
    assert fl.categories[-1] == "Pedestrian"
    assert new.size[0, 2] == pytest.approx(ped.prior[2])  # the class's height, not 4 m
    assert new.size[0, 0] >= ped.minimum[0] - 1e-9 and new.size[0, 1] >= ped.minimum[1] - 1e-9


def test_one_size_for_the_track(qtbot, window) -> None:
    from fusionlabel.core import edits as E
    from fusionlabel.core.boxes import Boxes

    # frame 1 seen smaller (a partial view), frame 2 larger
    a1 = _car(window, 1).to_array()[0].copy()
    a1[3:6] = [3.0, 1.5, 1.4]
    a2 = _car(window, 2).to_array()[0].copy()
    a2[3:6] = [4.6, 1.9, 1.7]
    window.doc.edit("a", E.set_box, 1, 5, Boxes.from_array(a1[None]))
    window.doc.edit("b", E.set_box, 2, 5, Boxes.from_array(a2[None]))
    bottoms = [float(_car(window, k).bottom_z[0]) for k in range(3)]
    frames, _sizes, counts = window.track_point_counts(5)
    assert frames.tolist() == [0, 1, 2] and np.all(counts > 100)  # every view is well covered
    window.doc.select(5)
    window.one_size_for_track()
    for k in range(3):
        b = _car(window, k)
        np.testing.assert_allclose(b.size[0], [4.6, 1.9, 1.7])  # the largest well-covered view
        assert float(b.bottom_z[0]) == pytest.approx(bottoms[k])  # each stands where it stood
    window.undo()
    assert _car(window, 1).size[0, 0] == pytest.approx(3.0)


# -- 4. playback, keyboard, messages, dialogs, File menu --------------------------------------------
def test_playback_advances_frames_at_the_recordings_rate(qtbot, window) -> None:
    assert window.playback.rate_hz == pytest.approx(10.0)
    shown: list[int] = []
    window.frame_changed.connect(shown.append)
    window.toggle_play()
    assert window.playback.playing and window.play_btn.text() == "⏸"
    qtbot.waitUntil(lambda: not window.playback.playing, timeout=5000)  # stops at the last frame
    assert window.index == 2 and shown[-1] == 2
    window.play_slower()
    assert window.playback.speed == 0.5
    window.play_faster()
    window.play_faster()
    assert window.playback.speed == 2.0
    window.toggle_play()  # at the end: from the start again
    qtbot.waitUntil(lambda: not window.playback.playing, timeout=5000)
    assert 0 in shown[1:] or shown.count(2) >= 2


def test_esc_and_return_give_the_keyboard_back_to_the_3d_view(qtbot, window) -> None:
    from PySide6 import QtCore, QtWidgets

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    window.doc.select(5)
    spin = window.props.spins["l"]
    spin.setFocus()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is spin, timeout=3000)
    qtbot.keyClick(spin, QtCore.Qt.Key.Key_Escape)
    assert QtWidgets.QApplication.focusWidget() is window.cloud.widget
    # in the 3D view, Esc clears the selection
    qtbot.keyClick(window.cloud.widget, QtCore.Qt.Key.Key_Escape)
    assert window.doc.selected is None
    # Return commits a typed value and leaves the field
    window.doc.select(5)
    spin.setFocus()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is spin, timeout=3000)
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "5.5")
    qtbot.keyClick(spin, QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is window.cloud.widget, timeout=3000)
    assert _car(window).size[0, 0] == pytest.approx(5.5)
    # and the keys work again: I moves the box forward
    x0 = float(_car(window).center[0, 0])
    qtbot.keyClick(window.cloud.widget, QtCore.Qt.Key.Key_I)
    assert float(_car(window).center[0, 0]) > x0


def test_status_messages_time_out(qtbot, window) -> None:
    window.message("hello", 150)
    assert window.statusBar().currentMessage() == "hello"
    window.doc.select(5)  # redraws do not re-post anything
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "", timeout=3000)
    window.message("forever?", 0)  # 0 used to mean "until replaced": now the default timeout
    assert window.statusBar().currentMessage() == "forever?"


def test_frame_numbers_are_one_based_on_screen(qtbot, window) -> None:
    window.set_frame(1)
    window.doc.select(5)
    assert "frame 2/3" in window.frame_label.text()
    assert window.props.title.text() == "track 5, frame 2"
    assert window.review.reasons.text() == "frame 2 is not flagged"
    window.resolve_frame()
    assert window.statusBar().currentMessage() == "frame 2 is not flagged"


def test_id_dialogs_start_at_a_fresh_id(qtbot, window, monkeypatch) -> None:
    from PySide6 import QtWidgets

    from fusionlabel.core.boxes import Boxes
    from fusionlabel.core.edits import new_track_id

    asked: list[int] = []

    def get_int(_parent, _title, _label, value, *_a, **_k):
        asked.append(value)
        return value, True

    monkeypatch.setattr(QtWidgets.QInputDialog, "getInt", staticmethod(get_int))
    window.interactive = True
    try:
        window.add_box(Boxes.from_array([[20, 5, 0.8, 4, 1.8, 1.5, 0]]), "Car")  # track 6
        window.doc.select(5)
        fresh = new_track_id(window.doc.labels)
        window.reassign_id()
        assert asked[-1] == fresh == 7 and window.doc.selected == 7  # not 1, not an existing ID
        window.swap_ids()
        assert asked[-1] == 6  # a swap starts at the nearest other track
    finally:
        window.interactive = False


def test_file_menu_open_recent_and_quit(qtbot, window, tiny_recording, sample_copy, tmp_path) -> None:
    from fusionlabel.app.recent import RecentFiles

    texts = [a.text() for a in window.file_menu.actions()]
    assert "open a recording folder" in texts and "Open recent" in texts and "quit (asks to save unsaved work)" in texts
    # a path that is not a recording: said, this window stays
    assert window.open_path(tmp_path / "nothing-here") is None
    assert "cannot open" in window.last_error and window.isVisible()
    new = window.open_path(sample_copy)
    try:
        assert new is not None and new.rec.path == sample_copy and not window.isVisible()
        assert RecentFiles().paths()[0] == sample_copy.resolve()
        new._fill_recent()
        assert str(sample_copy.resolve()) in [a.text() for a in new.recent_menu.actions()]
        new.quit_app()
        assert not new.isVisible()
    finally:
        new.close()


# -- 5. the label schema ------------------------------------------------------------------------------
SCHEMA = """\
version: 1
classes:
  Car: {color: "#ff0000", size: [4.4, 1.9, 1.6]}
  Pedestrian: {}
attributes:
  motion:
    type: enum
    values: [moving, parked]
    scope: frame
    export: {nuscenes: {moving: vehicle.moving, parked: vehicle.parked}}
  fleet_id:
    type: text
    scope: track
"""


def test_schema_loads_sets_attributes_and_is_validated_on_save(qtbot, make_window, tiny_recording, tmp_path) -> None:
    from fusionlabel.core import edits as E
    from fusionlabel.io.native import open_native

    (tmp_path / "label_schema.yaml").write_text(SCHEMA)
    win = make_window(open_native(tiny_recording), label_path=tmp_path / "labels.json")
    assert win.schema_model.path == tmp_path / "label_schema.yaml"
    assert [win.class_box.itemText(i) for i in range(win.class_box.count())] == ["Car", "Pedestrian"]
    win.doc.select(5)
    ed = win.props.attributes
    assert set(ed.fields) == {"motion", "fleet_id"}
    motion = ed.fields["motion"]
    motion.setCurrentIndex(motion.findText("parked"))
    motion.activated.emit(motion.currentIndex())
    assert win.doc.labels.get(0).attributes[0]["motion"] == "parked"
    assert "motion" not in win.doc.labels.get(1).attributes[0]  # per frame
    fleet = ed.fields["fleet_id"]
    fleet.setText("K-17")
    fleet.editingFinished.emit()
    assert all(win.doc.labels.get(k).attributes[0]["fleet_id"] == "K-17" for k in range(3))  # per track
    # a class outside the schema is refused with a message
    win.props.category.setCurrentText("Bicycle")
    win.props._category()
    assert "not in the label schema" in win.statusBar().currentMessage()
    assert win.doc.labels.get(0).categories[0] == "Car"
    # a value outside its list (from a script, an import...) is shown on save; the save happens
    win.doc.edit("bad", E.set_attribute, 1, 5, "motion", "flying")
    assert win.save()
    assert "'flying' is not one of ['moving', 'parked']" in win.statusBar().currentMessage()
    assert "frame 2, track 5" in win.last_error
    win.set_frame(1)
    assert "flying" in ed.fields["motion"].itemText(0)  # and in the panel


def test_schema_editor_checks_and_saves(qtbot, window, tmp_path) -> None:
    dlg = window.edit_schema()
    qtbot.addWidget(dlg)
    assert "classes:" in dlg.text.toPlainText()  # starts from the built-in schema
    dlg.text.setPlainText("classes:\n  Car: {colour: red}\n")
    assert not dlg.save()
    assert "line 2" in dlg.status.text() and "did you mean 'color'" in dlg.status.text()
    assert not (tmp_path / "label_schema.yaml").exists()
    dlg.text.setPlainText(SCHEMA)
    assert dlg.save()
    assert (tmp_path / "label_schema.yaml").read_text() == SCHEMA
    assert window.schema_model.schema.class_names == ("Car", "Pedestrian")
    assert window.schema_model.schema.size_class("Car").prior == (4.4, 1.9, 1.6)
    dlg.close()


# -- bad input --------------------------------------------------------------------------------------
def test_bad_input_is_shown_and_nothing_else_stops(qtbot, make_window, tiny_recording, tmp_path) -> None:
    from fusionlabel.io.native import open_native

    # a schema with a typo: said with its file and line; the built-in schema is used
    (tmp_path / "label_schema.yaml").write_text(
        "classes:\n  Car: {}\nattributes:\n  motion: {type: enum, valuse: [a]}\n"
    )
    # an image that does not decode
    png = sorted(Path(tiny_recording).rglob("*.png"))[1]
    png.write_bytes(b"\x89PNG broken")
    win = make_window(open_native(tiny_recording), label_path=tmp_path / "labels.json")
    assert "label_schema.yaml: line 4" in win.last_error and "did you mean 'values'" in win.last_error
    assert win.schema_model.path is None and "label schema not used" in win.props.schema_note.text()
    win.set_frame(1)
    panel = win.panels["cam_front"]
    assert panel.image is None and "does not decode" in panel.note
    assert "frame 2" in win.statusBar().currentMessage() and png.name in win.statusBar().currentMessage()
    assert len(win.current_points()) > 3000  # the LiDAR and the boxes are still there
    win.set_frame(2)
    assert panel.image is not None and panel.note == ""


def test_a_2d_box_in_a_camera_without_calibration_is_refused_with_a_message(qtbot, window) -> None:
    n = window.doc.labels.num_boxes
    assert window.fit_in_image("no_such_camera", np.array([10, 10, 50, 50])) is None
    assert "no calibration" in window.statusBar().currentMessage() and window.doc.labels.num_boxes == n
    assert window.fit_in_image("cam_front", np.array([10, 10, 10.5, 50])) is None  # an empty box
    assert "empty" in window.statusBar().currentMessage()
