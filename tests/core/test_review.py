"""The review model: digests tell untouched, accepted and edited frames apart; open until resolved."""

from __future__ import annotations

import numpy as np

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.edits import accept, delete_box, mark_proposed, set_box
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.review import Review, ReviewItem, ReviewQueue, frame_digest, frame_state, frame_status, resolve


def _labels() -> LabelSet:
    b = Boxes.from_array([[5, 0, 0.8, 4, 1.8, 1.6, 0.1], [12, 3, 0.9, 4.2, 1.9, 1.5, -0.2]])
    fl = FrameLabels([3, 4], ["Car", "Car"], b)
    return mark_proposed(LabelSet({0: fl, 1: fl, 2: fl}))


def _review(labels: LabelSet) -> Review:
    q = ReviewQueue(
        (ReviewItem(1, 0.6, ({"track_id": 3, "reason": "crossing", "severity": 0.8},)), ReviewItem(2, 0.3, ())), 3, 0.7
    )
    return Review(q.with_digests(labels))


def test_digest_ignores_order_and_states_but_not_geometry() -> None:
    labels = _labels()
    fl = labels.get(0)
    swapped = FrameLabels(fl.track_ids[::-1], fl.categories[::-1], fl.boxes[np.array([1, 0])])
    assert frame_digest(fl) == frame_digest(swapped)
    accepted = accept(labels, 0).get(0)
    assert frame_digest(accepted) == frame_digest(fl)
    moved = Boxes.from_array(fl.boxes.to_array() + [[0.01, 0, 0, 0, 0, 0, 0], [0] * 7])
    assert frame_digest(FrameLabels(fl.track_ids, fl.categories, moved)) != frame_digest(fl)
    assert frame_digest(FrameLabels([3, 9], fl.categories, fl.boxes)) != frame_digest(fl)  # an id change
    assert frame_digest(FrameLabels.empty()) != frame_digest(fl)


def test_states_follow_the_annotators_work() -> None:
    labels = _labels()
    review = _review(labels)
    assert [(s.frame, s.state, s.open) for s in frame_status(review, labels)] == [
        (1, "proposed", True),
        (2, "proposed", True),
    ]
    assert review.open_frames() == [1, 2] and review.flagged() == [1, 2]
    # resolving without a change: accepted, closed
    done = resolve(review, 1, "ann", "2026-12-07T10:00:00+00:00")
    st = {s.frame: s for s in frame_status(done, labels)}
    assert st[1].state == "accepted" and not st[1].open and st[1].resolution.user == "ann"
    assert done.open_frames() == [2]
    # accepting every box of a frame (without resolving): accepted but still open
    acc = accept(labels, 2)
    assert {s.frame: s.state for s in frame_status(review, acc)}[2] == "accepted"
    # deleting a box is an edit, even though no remaining box says "edited"
    deleted = delete_box(labels, 2, 4)
    assert {s.frame: s.state for s in frame_status(review, deleted)}[2] == "edited"
    # moving a box is an edit
    moved = set_box(labels, 1, 3, Boxes.from_array([[6, 0, 0.8, 4, 1.8, 1.6, 0.1]]))
    assert {s.frame: s.state for s in frame_status(done, moved)}[1] == "edited"


def test_queues_without_digests_use_the_box_states() -> None:
    labels = _labels()
    item = ReviewItem(1, 0.5, ())
    assert frame_state(item, labels.get(1), False) == "proposed"
    edited = set_box(labels, 1, 3, Boxes.from_array([[6, 0, 0.8, 4, 1.8, 1.6, 0.1]]))
    assert frame_state(item, edited.get(1), False) == "edited"
    assert frame_state(item, labels.get(1), True) == "accepted"


def test_remap_tracks_renames_reasons() -> None:
    q = ReviewQueue((ReviewItem(1, 0.6, ({"track_id": 3, "reason": "crossing", "severity": 0.8}, {"reason": "x"})),), 3)
    r = q.remap_tracks({3: 10})
    assert r.items[0].reasons[0]["track_id"] == 10 and r.items[0].reasons[1] == {"reason": "x"}
    assert q.items[0].reasons[0]["track_id"] == 3  # the input is not changed
