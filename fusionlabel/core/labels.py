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
>>> ls.track_ids.tolist(), ls.track(7)[0].tolist()
([7], [0, 1])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import Boxes

#: the columns of :meth:`LabelSet.to_dataframe`
DATAFRAME_COLUMNS = ("frame", "track_id", "category", "x", "y", "z", "l", "w", "h", "yaw", "score", "attributes")

#: canonical category names; readers map dataset names onto these (unknown names pass through)
CATEGORIES = ("Car", "Van", "Truck", "Bus", "Pedestrian", "Cyclist", "Motorcycle", "Tram", "Misc")
#: the road vehicles among them (four wheels or more, not on rails): "car-like" in AP and size priors
VEHICLES = ("Car", "Van", "Truck", "Bus")


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

    @property
    def num_boxes(self) -> int:
        return sum(len(f) for f in self.frames.values())

    @property
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

    def to_dataframe(self) -> Any:
        """The boxes as a ``pandas.DataFrame``, one row per box, in frame then track order.

        Columns: ``frame`` (int), ``track_id`` (int), ``category``, ``x y z`` (gravity centre,
        ego frame, metres), ``l w h`` (metres), ``yaw`` (radians), ``score``, ``attributes`` (the
        box's attribute dict). pandas is optional: install it with ``pip install 'fusionlabel[pandas]'``.

        >>> import numpy as np
        >>> from fusionlabel.core.boxes import Boxes
        >>> fl = FrameLabels([7, 3], ("Car", "Pedestrian"), Boxes.from_array([[5, 0, 0.8, 4, 1.8, 1.6, 0], [9, 2, 0.9, 0.6, 0.6, 1.8, 1.0]]))
        >>> df = LabelSet({0: fl}).to_dataframe()
        >>> df[["frame", "track_id", "category", "x", "l"]].values.tolist()
        [[0, 3, 'Pedestrian', 9.0, 0.6], [0, 7, 'Car', 5.0, 4.0]]
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "LabelSet.to_dataframe needs pandas, an optional extra: pip install 'fusionlabel[pandas]'"
            ) from None
        rows: dict[str, list[Any]] = {c: [] for c in DATAFRAME_COLUMNS}
        for k, f in self.frames.items():
            arr = f.boxes.to_array()
            for i in np.argsort(f.track_ids, kind="stable"):
                rows["frame"].append(int(k))
                rows["track_id"].append(int(f.track_ids[i]))
                rows["category"].append(f.categories[i])
                for j, c in enumerate(("x", "y", "z", "l", "w", "h", "yaw")):
                    rows[c].append(float(arr[i, j]))
                rows["score"].append(float(f.scores[i]))
                rows["attributes"].append(dict(f.attributes[i]))
        df = pd.DataFrame(rows, columns=list(DATAFRAME_COLUMNS))
        return df.astype({"frame": "int64", "track_id": "int64"})

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
