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

Review levels: a frame goes **annotator -> reviewer -> QA**. Each step is a :class:`SignOff` (who,
when, an optional note) in :attr:`Review.signoffs`, a log in time order; :func:`frame_level`
reads it: the last level that approved the frame (``"annotator"``, ``"reviewer"``, ``"qa"``), or
None while it is with the annotator. :func:`sign_off` appends an approval and refuses one out of
order (a reviewer before the annotator...); :func:`send_back` returns a frame to the annotator
(its level drops to None and it is open again). Resolving a flagged frame is the annotator's
approval: a resolution newer than the frame's last log entry counts as level ``"annotator"``.

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
>>> frame_level(done, 12)
'annotator'
>>> checked = sign_off(done, 12, "reviewer", user="rev", time="2026-12-07T13:00:00+00:00")
>>> frame_level(checked, 12), frame_level(send_back(checked, 12, "lead", "2026-12-07T14:00:00+00:00"), 12)
('reviewer', None)
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
#: the review levels a frame passes, in order
LEVELS = ("annotator", "reviewer", "qa")
#: what a sign-off does: approve the frame at its level, or send it back to the annotator
SIGNOFF_ACTIONS = ("approve", "return")


class ReviewLevelError(ValueError):
    """A sign-off out of order (a reviewer approving a frame the annotator has not, ...)."""


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
class SignOff:
    """One step of a frame's review: ``level`` (:data:`LEVELS`) ``action`` (``"approve"`` or
    ``"return"`` to the annotator) by ``user`` at ``time`` (ISO 8601 UTC), with a note."""

    frame: int
    level: str
    user: str
    time: str
    note: str = ""
    action: str = "approve"

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"unknown review level {self.level!r}; use one of {', '.join(LEVELS)}")
        if self.action not in SIGNOFF_ACTIONS:
            raise ValueError(f"unknown sign-off action {self.action!r}; use one of {', '.join(SIGNOFF_ACTIONS)}")


@dataclass(frozen=True)
class Review:
    """A recording's review: the queue (None before any pre-labelling), the resolutions, where
    the queue came from (``provenance``: detector, configuration...; free-form, JSON) and the
    log of review-level sign-offs (``signoffs``, in time order; see :func:`frame_level`)."""

    queue: ReviewQueue | None = None
    resolutions: Mapping[int, Resolution] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)
    signoffs: tuple[SignOff, ...] = ()

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


def frame_level(review: Review, frame: int) -> str | None:
    """The review level ``frame`` has reached (:data:`LEVELS`), or None while it is with the
    annotator: the last approval of its sign-off log, reset by a return; a resolution newer
    than the log's last entry for the frame counts as the annotator's approval."""
    level: str | None = None
    last = ""
    for e in review.signoffs:
        if e.frame != frame:
            continue
        level = e.level if e.action == "approve" else None
        last = e.time
    res = review.resolutions.get(frame)
    if level is None and res is not None and res.time >= last:
        level = LEVELS[0]
    return level


def frame_levels(review: Review) -> dict[int, str | None]:
    """The level of every frame that is flagged, resolved or signed off, by frame."""
    frames = set(review.flagged()) | set(review.resolutions) | {e.frame for e in review.signoffs}
    return {f: frame_level(review, f) for f in sorted(frames)}


def sign_off(review: Review, frame: int, level: str, user: str, time: str, note: str = "") -> Review:
    """``review`` with ``frame`` approved at ``level`` by ``user`` at ``time``.

    The levels go in order: the annotator approves a frame with no level (this also resolves it),
    the reviewer one at ``"annotator"``, QA one at ``"reviewer"``.

    Raises
    ------
    ReviewLevelError : ``level`` is not the next level of the frame
    """
    if level not in LEVELS:
        raise ReviewLevelError(f"unknown review level {level!r}; use one of {', '.join(LEVELS)}")
    current = frame_level(review, frame)
    want = None if level == LEVELS[0] else LEVELS[LEVELS.index(level) - 1]
    if current != want:
        raise ReviewLevelError(
            f"frame {frame + 1} is at level {current or 'none (with the annotator)'}: "
            f"the {level} signs off frames at level {want or 'none'}"
        )
    entry = SignOff(int(frame), level, user, time, note)
    out = replace(review, signoffs=(*review.signoffs, entry))
    if level == LEVELS[0] and frame not in review.resolutions:
        out = resolve(out, frame, user, time, note)
    return out


def send_back(review: Review, frame: int, user: str, time: str, note: str = "", level: str | None = None) -> Review:
    """``review`` with ``frame`` returned to the annotator by ``user`` (the reviewer or QA,
    ``level``: default the level after the frame's current one): its level drops to None and its
    resolution is removed, so the frame is open again."""
    current = frame_level(review, frame)
    if current is None:
        raise ReviewLevelError(f"frame {frame + 1} is already with the annotator")
    who = level or (LEVELS[min(LEVELS.index(current) + 1, len(LEVELS) - 1)])
    entry = SignOff(int(frame), who, user, time, note, "return")
    res = {k: v for k, v in review.resolutions.items() if k != frame}
    return replace(review, signoffs=(*review.signoffs, entry), resolutions=res)
