"""The app: Adapt (Ctrl+Shift+A) fine-tunes on the frames labelled here in a worker process, with
progress and cancel, and the re-labelled frames arrive as proposals with their own review queue;
the Review panel and the timeline show each frame's review level, and a save keeps the log."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
pytest.importorskip("torch")
pytestmark = pytest.mark.gui

FAST = {"epochs": 1, "samples_per_epoch": 2, "batch_size": 2, "device": "cpu", "threads": 1}


@pytest.fixture
def shifted(tmp_path):
    """A 3-frame synthetic recording with a domain shift, and a label file whose frame 0 an
    annotator labelled (its ground truth, accepted)."""
    from fusionlabel.core.labels import FrameLabels, LabelSet
    from fusionlabel.io.native_labels import write_labels
    from fusionlabel.synth import generate

    rec = generate(tmp_path / "rec", frames=3, seed=41, cameras=(), radar_rate_hz=0, lidar="vlp16", ego_height=1.84)
    from fusionlabel.io.open import open_recording

    gt = open_recording(rec).labels.get(0)
    keep = np.array([c in ("Car", "Pedestrian", "Cyclist") for c in gt.categories], dtype=bool)
    fl = gt.select(keep)
    seed = FrameLabels(
        fl.track_ids, fl.categories, fl.boxes, fl.scores, tuple({"state": "accepted"} for _ in fl.categories)
    )
    lp = tmp_path / "labels.json"
    write_labels(LabelSet({0: seed}), lp)
    return rec, lp, seed


def test_adapt_in_the_app_brings_proposals_with_their_queue(qtbot, make_window, shifted) -> None:
    from fusionlabel.io.open import open_recording

    rec, lp, seed = shifted
    win = make_window(open_recording(rec), label_path=lp)
    before = win.doc.labels
    with qtbot.waitSignal(win.prelabel_done, timeout=240000) as sig:
        assert win.adapt(FAST)
        assert win.progress.isVisible() and win.cancel_btn.isVisible()
    assert sig.args == ["ok"], win.last_error
    labels = win.doc.labels
    got = labels.get(0)
    assert got.track_ids.tolist() == seed.track_ids.tolist()
    assert np.array_equal(got.boxes.to_array(), seed.boxes.to_array()) and got.attributes == seed.attributes
    others = [a for k, fl in labels.frames.items() if k != 0 for a in fl.attributes]
    assert all(a.get("state") == "proposed" for a in others)
    assert win.doc.review is not None and 0 not in win.doc.review.frames
    assert "adaptation" in win.last_result.report
    win.doc.undo_stack.undo()  # one undo step
    assert win.doc.labels is before


def test_adapt_can_be_cancelled_and_needs_labelled_frames(qtbot, make_window, shifted, tmp_path) -> None:
    from fusionlabel.io.open import open_recording

    rec, lp, _ = shifted
    win = make_window(open_recording(rec), label_path=lp)
    before = win.doc.labels
    with qtbot.waitSignal(win.prelabel_done, timeout=30000) as sig:
        assert win.adapt(FAST)
        qtbot.wait(100)
        win.cancel_prelabel()
    assert sig.args == ["cancelled"] and win.doc.labels is before and not win.progress.isVisible()
    win.job.wait(10000)
    from fusionlabel.core.edits import mark_proposed
    from fusionlabel.core.labels import FrameLabels, LabelSet
    from fusionlabel.io.native_labels import read_labels, write_labels

    fl = read_labels(lp).get(0)
    untouched = LabelSet({0: FrameLabels(fl.track_ids, fl.categories, fl.boxes, fl.scores)})
    write_labels(mark_proposed(untouched), tmp_path / "proposed.json")
    fresh = make_window(open_recording(rec), label_path=tmp_path / "proposed.json")
    assert not fresh.adapt(FAST) and "nothing to learn from" in fresh.last_error


def test_the_review_panel_and_timeline_show_the_level_and_a_save_keeps_it(qtbot, make_window, tiny_recording, tmp_path):
    from fusionlabel.core.review import Review, ReviewItem, ReviewQueue, sign_off
    from fusionlabel.io.native import open_native
    from fusionlabel.io.native_labels import read_labels, write_labels
    from fusionlabel.io.review_file import read_review, write_review

    rec = open_native(tiny_recording)
    lp = tmp_path / "labels.json"
    labels = rec.labels
    write_labels(labels, lp)
    q = ReviewQueue((ReviewItem(1, 0.7, ({"track_id": 5, "reason": "crossing", "severity": 0.5},)),), len(rec))
    review = sign_off(
        sign_off(Review(q.with_digests(labels)), 1, "annotator", "ann", "2026-12-07T10:00:00+00:00"),
        1,
        "reviewer",
        "rita",
        "2026-12-07T11:00:00+00:00",
    )
    write_review(lp.with_name("labels.review.json"), review, labels)
    win = make_window(rec, label_path=lp)
    win.set_frame(1)
    assert "review level: reviewer (rita, 2026-12-07T11:00:00+00:00)" in win.review.reasons.text()
    assert win.doc.frame_level(1)[0] == "reviewer"
    win.timeline.repaint()  # paints the reviewer colour without error
    win.set_frame(0)
    assert win.review.reasons.text() == "frame 1 is not flagged"
    win.doc.select(5)
    win.move_left()
    win.doc.save()
    back = read_review(lp.with_name("labels.review.json"))
    assert back.signoffs == review.signoffs and len(read_labels(lp)) == len(labels)
