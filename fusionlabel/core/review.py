"""The review model: the frames an annotator should check, why, and what became of each.

One owner for the review queue everywhere (``prelabel``, ``track``, the app, ``eval``, ``review``,
``qa`` and the exports). The tracker builds a :class:`ReviewQueue`
(:func:`fusionlabel.track.review.review_queue_from_rows`); the annotator resolves frames
(:class:`Resolution`); :func:`frame_status` tells, for every flagged frame, its state:

``"proposed"``
    nobody has touched the frame: its boxes are the pre-labels as queued;
``"accepted"``
    the frame was resolved (or all its boxes accepted) without changing a box;
``"edited"``
    a box of the frame was changed, added or removed since the queue was built.

The state is derived, not stored: each :class:`ReviewItem` carries a digest of the frame's
boxes when it was queued (:func:`frame_digest`), so any reader holding the labels tells an
edited frame from an untouched one, deletions included. A frame is *open* until it is resolved.
The file format (one reader and writer) is :mod:`fusionlabel.io.review_file`.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> from fusionlabel.core.labels import FrameLabels, LabelSet
>>> fl = FrameLabels([3], ["Car"], Boxes.from_array([[5, 0, 0.8, 4, 1.8, 1.6, 0]]))
>>> labels = LabelSet({12: fl})
>>> item = ReviewItem(12, 0.8, ({"track_id": 3, "reason": "crossing", "severity": 0.9},), frame_digest(fl))
>>> review = Review(ReviewQueue((item,), 100))
>>> [s.state for s in frame_status(review, labels)], review.open_frames()
(['proposed'], [12])
>>> done = resolve(review, 12, user="ann", time="2026-12-07T12:00:00+00:00")
>>> [(s.state, s.open) for s in frame_status(done, labels)]
[('accepted', False)]
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fusionlabel.core.labels import FrameLabels, LabelSet

#: the states of a flagged frame, see the module docstring
FRAME_STATES = ("proposed", "accepted", "edited")


@dataclass(frozen=True)
class ReviewItem:
    """One queued frame.

    frame : frame index (0-based, as everywhere inside FusionLabel)
    score : probability in [0, 1] that the frame holds an ID error (the queue's order)
    reasons : dicts with ``track_id``, ``reason`` and ``severity`` (why it was queued)
    digest : :func:`frame_digest` of the frame's boxes when it was queued, or None (queues
        written before digests existed: the state then comes from the boxes' own states)
    """

    frame: int
    score: float
    reasons: tuple[Mapping[str, Any], ...]
    digest: str | None = None


@dataclass(frozen=True)
class ReviewQueue:
    """Queued frames, most suspicious first, out of ``num_frames`` frames.

    max_fraction : the review budget used (fraction of the frames), when known
    score_threshold : the pre-labels' operating point (tracks whose confidence is below it were
        not delivered to the annotator), when one was used
    """

    items: tuple[ReviewItem, ...]
    num_frames: int
    max_fraction: float | None = None
    score_threshold: float | None = None

    @property
    def frames(self) -> list[int]:
        """Queued frame indices, in queue order (most suspicious first)."""
        return [it.frame for it in self.items]

    @property
    def load(self) -> float:
        """Fraction of the frames queued."""
        return len(self.items) / self.num_frames if self.num_frames else 0.0

    def item(self, frame: int) -> ReviewItem | None:
        """The queue entry of ``frame``, or None when it is not flagged."""
        for it in self.items:
            if it.frame == frame:
                return it
        return None

    def with_digests(self, labels: LabelSet) -> ReviewQueue:
        """The same queue with each item's digest taken from ``labels`` (the pre-labels it was built for)."""
        items = tuple(replace(it, digest=frame_digest(labels.get(it.frame))) for it in self.items)
        return replace(self, items=items)

    def remap_tracks(self, remap: Mapping[int, int]) -> ReviewQueue:
        """The same queue with each reason's ``track_id`` renamed through ``remap`` (others kept)."""
        items = []
        for it in self.items:
            reasons = tuple(
                {**r, "track_id": remap.get(int(r["track_id"]), int(r["track_id"]))} if "track_id" in r else dict(r)
                for r in it.reasons
            )
            items.append(replace(it, reasons=reasons))
        return replace(self, items=tuple(items))


@dataclass(frozen=True)
class Resolution:
    """A flagged frame marked resolved: by whom (user name), when (ISO 8601 UTC), optional note."""

    frame: int
    user: str
    time: str
    note: str = ""


@dataclass(frozen=True)
class Review:
    """A recording's review: the queue (None before any pre-labelling), the resolutions, and
    where the queue came from (``provenance``: detector, configuration...; free-form, JSON)."""

    queue: ReviewQueue | None = None
    resolutions: Mapping[int, Resolution] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def flagged(self) -> list[int]:
        """Flagged frames in frame order."""
        return sorted(self.queue.frames) if self.queue is not None else []

    def open_frames(self) -> list[int]:
        """Flagged frames not yet resolved, in frame order."""
        return [f for f in self.flagged() if f not in self.resolutions]


@dataclass(frozen=True)
class FrameStatus:
    """What :func:`frame_status` reports for one flagged frame."""

    frame: int
    score: float
    reasons: tuple[Mapping[str, Any], ...]
    state: str
    resolution: Resolution | None

    @property
    def open(self) -> bool:
        return self.resolution is None


def frame_digest(fl: FrameLabels) -> str:
    """A short hash of a frame's boxes: track ids, categories and boxes (mm, mrad), order-free.

    Box states and other attributes are left out, so accepting a box keeps the digest and any
    change of an id, a class or a box (by more than half a millimetre or milliradian) or any
    added or removed box changes it.
    """
    if len(fl) == 0:
        return hashlib.sha1(b"").hexdigest()[:16]
    arr = np.round(fl.boxes.to_array() * 1000.0).astype(np.int64)
    rows = sorted((int(t), c, tuple(a.tolist())) for t, c, a in zip(fl.track_ids.tolist(), fl.categories, arr))
    return hashlib.sha1(repr(rows).encode()).hexdigest()[:16]


def frame_state(item: ReviewItem, fl: FrameLabels, resolved: bool) -> str:
    """The state of one flagged frame (see the module docstring) from its current boxes ``fl``."""
    states = [(a or {}).get("state") for a in fl.attributes]
    if item.digest is not None:
        changed = frame_digest(fl) != item.digest
    else:  # no digest: trust the boxes' own states
        changed = "edited" in states
    if changed:
        return "edited"
    if resolved or (states and all(s == "accepted" for s in states)):
        return "accepted"
    return "proposed"


def frame_status(review: Review, labels: LabelSet) -> list[FrameStatus]:
    """Every flagged frame, in frame order, with its state and resolution given ``labels``."""
    if review.queue is None:
        return []
    out = []
    for it in sorted(review.queue.items, key=lambda i: i.frame):
        res = review.resolutions.get(it.frame)
        out.append(
            FrameStatus(it.frame, it.score, it.reasons, frame_state(it, labels.get(it.frame), res is not None), res)
        )
    return out


def resolve(review: Review, frame: int, user: str, time: str, note: str = "") -> Review:
    """``review`` with ``frame`` marked resolved by ``user`` at ``time``."""
    res = dict(review.resolutions)
    res[int(frame)] = Resolution(int(frame), user, time, note)
    return replace(review, resolutions=res)
