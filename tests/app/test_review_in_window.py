"""The review queue written by `fusionlabel prelabel` reaches the annotator in the real window:
proposed boxes, the first flagged frame shown, the flagged frames on the timeline, N and R work,
and the save is what `fusionlabel review` and `fusionlabel eval` read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
pytestmark = pytest.mark.gui

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"
OPEN_RED = (235, 70, 70)
RESOLVED_GREEN = (80, 200, 120)


@pytest.fixture(scope="module")
def prelabelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fusionlabel.pipeline.batch import prelabel_one

    out = tmp_path_factory.mktemp("pre") / "synth_seed0"
    assert prelabel_one(str(SAMPLE), str(out), "geometric")["status"] == "ok"
    return out


def _strip_colour(win, frame: int) -> tuple[int, int, int]:
    from fusionlabel.app.timeline import STRIP

    tl = win.timeline
    img = tl.grab().toImage()
    x = int(tl._x(frame) + 1)
    c = img.pixelColor(x, STRIP // 2)
    return c.red(), c.green(), c.blue()


def test_prelabel_output_opens_with_its_queue_on_the_timeline(qtbot, make_window, prelabelled, tmp_path) -> None:
    import shutil

    from fusionlabel.app.command import prelabel_output
    from fusionlabel.io.open import open_recording
    from fusionlabel.pipeline.review_status import review_summary

    out = tmp_path / "synth_seed0"
    shutil.copytree(prelabelled, out)
    queue = json.loads((out / "labels.review.json").read_text())
    flagged = sorted(e["frame"] for e in queue["frames"])
    assert flagged
    rec_path, label_path = prelabel_output(out)  # what `fusionlabel open OUT/<name>` opens
    assert Path(rec_path).resolve() == SAMPLE.resolve() and label_path == out / "labels.json"
    win = make_window(open_recording(rec_path), label_path=label_path)
    # the queue is there, the first open flagged frame is on screen, every box is a proposal
    assert win.doc.flagged() == flagged and win.index == flagged[0]
    assert {r["state"] for r in win.tracks.rows} == {"proposed"}
    assert "FLAGGED" in win.frame_label.text()
    assert "review queue: 0/" in win.review.summary.text() and "proposed" in win.review.summary.text()
    qtbot.waitUntil(lambda: win.timeline.isVisible())
    for f in flagged:
        assert _strip_colour(win, f) == OPEN_RED, f
    free = next(f for f in range(20) if f not in flagged and f + 1 not in flagged and f - 1 not in flagged)
    assert _strip_colour(win, free) != OPEN_RED
    # hovering a flagged frame names it as the frame label does (from 1) and says it is flagged
    from PySide6 import QtCore, QtGui, QtWidgets

    from fusionlabel.app.timeline import STRIP

    tl = win.timeline
    at = QtCore.QPointF(tl._x(flagged[0]) + 1, STRIP // 2)
    none = QtCore.Qt.MouseButton.NoButton
    move = QtGui.QMouseEvent(
        QtCore.QEvent.Type.MouseMove, at, tl.mapToGlobal(at), none, none, QtCore.Qt.KeyboardModifier.NoModifier
    )
    QtWidgets.QApplication.sendEvent(tl, move)
    assert tl.toolTip().startswith(f"frame {flagged[0] + 1},") and f"frame {flagged[0] + 1}/" in win.frame_label.text()
    # N: the next flagged frame; R: resolved (green on the timeline)
    if len(flagged) > 1:
        assert win.next_flagged() == flagged[1] and win.index == flagged[1]
        win.set_frame(flagged[0])
    win.resolve_frame()
    assert _strip_colour(win, flagged[0]) == RESOLVED_GREEN
    assert win.save()
    s = review_summary(label_path)
    assert s["resolved"] == 1 and s["open"] == len(flagged) - 1
    assert {f["frame"]: f["state"] for f in s["flagged_frames"]}[flagged[0]] == "accepted"


def test_frame_cache_closes_with_prefetches_queued(tmp_path) -> None:
    """Closing right after opening used to raise 'dictionary changed size during iteration'."""
    from fusionlabel.app.frame_cache import FrameCache
    from fusionlabel.io.open import open_recording

    for _ in range(5):
        cache = FrameCache(open_recording(SAMPLE), capacity=4)
        cache.prefetch(0, ahead=8)  # one loading, several queued: cancel() runs their callbacks
        cache.close()
        assert not cache._pending
