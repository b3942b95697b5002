"""Labels: cuboid tracks with persistent IDs.

A :class:`LabelSet` maps frame index -> :class:`FrameLabels`, the boxes present in that frame,
each with a ``track_id`` that stays the same for the same physical object over the recording.
Boxes are in the **ego frame** of their frame (see ``docs/conventions.md``).

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> fl = FrameLabels(np.array([7]), ("Car",), Boxes.from_array([[5, 0, 0.8, 4, 1.8, 1.6, 0]]))
>>> ls = LabelSet({0: fl, 1: fl})
>>> ls.track_ids().tolist(), ls.track(7)[0].tolist()
([7], [0, 1])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import Boxes

#: canonical category names; readers map dataset names onto these (unknown names pass through)
CATEGORIES = ("Car", "Van", "Truck", "Bus", "Pedestrian", "Cyclist", "Motorcycle", "Tram", "Misc")


@dataclass(frozen=True, init=False)
class FrameLabels:
    """The labelled boxes of one frame.

    track_ids : (N,) int64, persistent track identities (unique within the frame)
    categories : N category names
    boxes : N boxes, ego frame
    scores : (N,) float64 confidence in [0, 1] or detector units; 1.0 for human labels
    attributes : N dicts of free-form attributes (occlusion, truncation, source...)

    The constructor takes any array-like ``track_ids``/``scores`` and fills ``scores`` (all 1.0)
    and ``attributes`` (empty dicts) when they are omitted, so both are always set afterwards.
    """

    track_ids: NDArray[np.int64]
    categories: tuple[str, ...]
    boxes: Boxes
    scores: NDArray[np.float64]
    attributes: tuple[Mapping[str, Any], ...]

    def __init__(
        self,
        track_ids: ArrayLike,
        categories: Iterable[str],
        boxes: Boxes,
        scores: ArrayLike | None = None,
        attributes: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        n = len(ids)
        sc = np.ones(n) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
        attrs = tuple({} for _ in range(n)) if attributes is None else tuple(attributes)
        cats = tuple(str(c) for c in categories)
        if not (len(cats) == len(boxes) == len(sc) == len(attrs) == n):
            raise ValueError("track_ids, categories, boxes, scores and attributes lengths differ")
        if len(np.unique(ids)) != n:
            raise ValueError("a track ID appears twice in one frame")
        ids.setflags(write=False)
        sc.setflags(write=False)
        object.__setattr__(self, "track_ids", ids)
        object.__setattr__(self, "categories", cats)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", sc)
        object.__setattr__(self, "attributes", attrs)

    @classmethod
    def empty(cls) -> FrameLabels:
        return cls(np.zeros(0, np.int64), (), Boxes.empty())

    def __len__(self) -> int:
        return len(self.track_ids)

    def select(self, mask: NDArray[np.bool_]) -> FrameLabels:
        idx = np.flatnonzero(mask)
        return FrameLabels(
            self.track_ids[idx],
            tuple(self.categories[i] for i in idx),
            self.boxes[idx],
            self.scores[idx],
            tuple(self.attributes[i] for i in idx),
        )


@dataclass(frozen=True)
class LabelSet:
    """Tracks over a recording: frame index -> :class:`FrameLabels` (frames without labels absent)."""

    frames: Mapping[int, FrameLabels] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", dict(sorted((int(k), v) for k, v in self.frames.items())))

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[int]:
        return iter(self.frames)

    def get(self, frame: int) -> FrameLabels:
        return self.frames.get(frame) or FrameLabels.empty()

    def num_boxes(self) -> int:
        return sum(len(f) for f in self.frames.values())

    def track_ids(self) -> NDArray[np.int64]:
        ids = [f.track_ids for f in self.frames.values()]
        return np.unique(np.concatenate(ids)) if ids else np.zeros(0, np.int64)

    def track(self, track_id: int) -> tuple[NDArray[np.int64], Boxes, tuple[str, ...]]:
        """Frames, boxes and categories of one track, in frame order."""
        frames, boxes, cats = [], [], []
        for k, f in self.frames.items():
            hit = np.flatnonzero(f.track_ids == track_id)
            if len(hit):
                frames.append(k)
                boxes.append(f.boxes[hit[0]])
                cats.append(f.categories[hit[0]])
        if not frames:
            return np.zeros(0, np.int64), Boxes.empty(), ()
        out = boxes[0]
        for b in boxes[1:]:
            out = out.concat(b)
        return np.asarray(frames, dtype=np.int64), out, tuple(cats)

    def category_counts(self) -> dict[str, int]:
        """Number of distinct tracks per category (a track counts under its first category)."""
        seen: dict[int, str] = {}
        for f in self.frames.values():
            for tid, c in zip(f.track_ids, f.categories):
                seen.setdefault(int(tid), c)
        counts: dict[str, int] = {}
        for c in seen.values():
            counts[c] = counts.get(c, 0) + 1
        return counts
