"""The native label file: versioned JSON, written atomically.

Schema (version 1)::

    {
      "format": "fusionlabel.labels",
      "version": 1,
      "coordinate_frame": "ego",                 # boxes are in each frame's ego frame
      "box_convention": "x y z l w h yaw (gravity centre, metres, radians)",
      "frames": [
        {"index": 0, "timestamp_ns": 1700000000000000000,
         "objects": [{"track_id": 7, "category": "Car",
                      "box": [x, y, z, l, w, h, yaw], "score": 1.0, "attributes": {}}]}
      ]
    }

A file written by a newer FusionLabel (higher ``version``) is refused, never overwritten.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.atomic import atomic_write_text, writable_target
from fusionlabel.core.boxes import Boxes
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.io.migrations import CURRENT, FORMAT, migrate, timestamps_from_dict

#: the version this FusionLabel writes (:data:`fusionlabel.io.migrations.CURRENT`)
VERSION = CURRENT


def labels_to_dict(labels: LabelSet, timestamps_ns: dict[int, int] | None = None) -> dict[str, Any]:
    frames = []
    for k, f in labels.frames.items():
        objs = [
            {"track_id": t, "category": c, "box": box, "score": s, "attributes": dict(a)}
            for t, c, box, s, a in zip(
                f.track_ids.tolist(), f.categories, f.boxes.to_array().tolist(), f.scores.tolist(), f.attributes
            )
        ]
        entry: dict[str, Any] = {"index": int(k), "objects": objs}
        if timestamps_ns and k in timestamps_ns:
            entry["timestamp_ns"] = int(timestamps_ns[k])
        frames.append(entry)
    return {
        "format": FORMAT,
        "version": VERSION,
        "coordinate_frame": "ego",
        "box_convention": "x y z l w h yaw (gravity centre, metres, radians)",
        "frames": frames,
    }


def labels_from_dict(d: Any, path: str | Path = "<labels>") -> LabelSet:
    """Parse a label document of any version this FusionLabel can migrate (see ``io/migrations.py``)."""
    path = Path(path)
    d = migrate(d, path)
    out: dict[int, FrameLabels] = {}
    if "frames" in d and not isinstance(d["frames"], list):
        raise CorruptFileError(path, "'frames' must be a list")
    for fi, fr in enumerate(d.get("frames") or []):
        try:
            objs = fr["objects"]
            if not isinstance(objs, list):
                raise ValueError("'objects' must be a list")
            index = fr["index"]
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 100_000_000:
                raise ValueError(f"frame index {index!r} is not a frame number (an integer from 0)")
            boxes = [o["box"] for o in objs]
            bad = next((b for b in boxes if not isinstance(b, list) or len(b) != 7), None)
            if bad is not None:
                raise ValueError(f"box {bad!r} is not 7 numbers (x y z l w h yaw)")
            arr = np.array(boxes, dtype=np.float64).reshape(-1, 7)
            if not np.all(np.isfinite(arr)):
                raise ValueError("non-finite box value")
            names = [o["category"] for o in objs]
            if any(not isinstance(c, str) or not c for c in names):
                raise ValueError(
                    f"category {next(c for c in names if not isinstance(c, str) or not c)!r} is not a name"
                )
            if index in out:
                raise ValueError(f"frame index {index} appears twice")
            out[index] = FrameLabels(
                np.array([int(o["track_id"]) for o in objs], dtype=np.int64),
                tuple(names),
                Boxes.from_array(arr),
                np.array([float(o.get("score", 1.0)) for o in objs]),
                tuple(dict(o.get("attributes") or {}) for o in objs),
            )
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
            raise CorruptFileError(path, f"frames[{fi}]: {type(exc).__name__}: {exc}") from None
    return LabelSet(out)


#: the label file in an output folder of ``fusionlabel prelabel`` and ``adapt`` (``OUT/<name>/``)
OUTPUT_LABELS = "labels.json"


def resolve_label_path(path: str | Path) -> Path:
    """A native label file given as itself or as the folder holding ``labels.json`` (what
    ``fusionlabel prelabel`` and ``adapt`` write: ``OUT/<name>/``), so every command takes either.

    Raises
    ------
    DataError : naming the path: no such file, or a folder without ``labels.json``
    """
    p = Path(path)
    if p.is_dir():
        if not (p / OUTPUT_LABELS).is_file():
            raise DataError(p, f"a folder without {OUTPUT_LABELS}: name the label file, or a prelabel output folder")
        p = p / OUTPUT_LABELS
    if not p.exists():
        raise DataError(p, "no such label file")
    return p


def read_labels(path: str | Path) -> LabelSet:
    """Read a native label file; :class:`CorruptFileError` naming the file on any defect."""
    path = Path(path)
    return labels_from_dict(_read_document(path), path)


def _read_document(path: Path) -> Any:
    from fusionlabel.core.textfile import read_json

    return read_json(path, "label file")


def read_native_labels(path: str | Path) -> tuple[LabelSet, dict[int, int]]:
    """Read a native label file of any known version: (labels, frame -> timestamp ns).

    Raises
    ------
    CorruptFileError : naming the file (bad JSON, unknown or newer version, bad content)
    """
    path = Path(path)
    d = migrate(_read_document(path), path)
    labels = labels_from_dict(d, path)
    try:
        times = timestamps_from_dict(d)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(path, f"bad timestamp_ns: {exc}") from None
    return labels, times


def align_to_timestamps(labels: LabelSet, times: dict[int, int], timestamps_ns: NDArray[np.int64]) -> LabelSet:
    """``labels`` re-keyed to the frames of a recording whose (unique) timestamps they store.

    A label file keys frames by index and stores each frame's ``timestamp_ns``. When the
    recording's frame order is not the one the file was written against (a reader now sorts
    frames that were out of time order), each labelled frame moves to the frame with its
    timestamp. Only when every labelled frame has a stored timestamp found in the recording;
    otherwise (labels of another recording, no timestamps) ``labels`` come back as they are.

    >>> fl = FrameLabels.empty()
    >>> sorted(align_to_timestamps(LabelSet({0: fl, 1: fl}), {0: 200, 1: 100}, np.array([100, 200])).frames)
    [0, 1]
    """
    t = np.asarray(timestamps_ns, dtype=np.int64)
    index = {int(v): i for i, v in enumerate(t.tolist())}
    if len(index) != len(t) or not labels.frames:
        return labels
    moved = {}
    for k, fl in labels.frames.items():
        j = index.get(times.get(k, -1)) if k in times else None
        if j is None or j in moved:
            return labels
        moved[j] = fl
    if list(moved) == list(labels.frames):
        return labels
    return LabelSet(moved)


def upgrade_file(path: str | Path, out: str | Path | None = None) -> int:
    """Rewrite a label file at the current version (in place unless ``out``); returns the old version."""
    path = Path(path)
    raw = _read_document(path)
    old = raw.get("version") if isinstance(raw, dict) else None
    d = migrate(raw, path)
    labels_from_dict(d, path)  # refuse to write something we could not read back
    atomic_write_text(Path(out) if out is not None else path, json.dumps(d, indent=1, allow_nan=False))
    return int(old) if isinstance(old, int) else CURRENT


def write_labels(labels: LabelSet, path: str | Path, timestamps_ns: dict[int, int] | None = None) -> None:
    """Write atomically (temp file, fsync, rename).

    An existing file that is not a label file this version can read (corrupt, or written by a
    newer FusionLabel) is refused with :class:`CorruptFileError`, never overwritten: move it
    away first. No user data is lost by a save.
    """
    path = writable_target(Path(path))  # a device or pipe is refused before it is read
    if path.exists():
        read_labels(path)  # raises on a corrupt or newer file
    atomic_write_text(path, labels_text(labels, path, timestamps_ns))


def labels_text(labels: LabelSet, path: str | Path, timestamps_ns: dict[int, int] | None = None) -> str:
    """The text :func:`write_labels` writes to ``path`` (named by the error on a NaN or infinity)."""
    d = labels_to_dict(labels, timestamps_ns)
    try:
        return json.dumps(d, indent=1, allow_nan=False)
    except ValueError:
        raise CorruptFileError(Path(path), f"not written: {_first_non_finite(d)} is not a finite number") from None


def _first_non_finite(d: dict[str, Any]) -> str:
    """Where the first NaN or infinity of a label document is (frame, track, field)."""
    import math

    def bad(v: Any) -> bool:
        if isinstance(v, float):
            return not math.isfinite(v)
        if isinstance(v, dict):
            return any(bad(x) for x in v.values())
        if isinstance(v, (list, tuple)):
            return any(bad(x) for x in v)
        return False

    for fr in d.get("frames", []):
        for o in fr["objects"]:
            for key in ("box", "score"):
                if bad(o[key]):
                    return f"frame {fr['index']}, track {o['track_id']}: {key}"
            for name, v in o["attributes"].items():
                if bad(v):
                    return f"frame {fr['index']}, track {o['track_id']}: attribute {name!r}"
    return "a value"


def check_within(labels: LabelSet, num_frames: int, path: str | Path) -> None:
    """Raise :class:`DataError` naming ``path`` when ``labels`` hold a frame past a recording of
    ``num_frames`` frames (labels of another recording, or of a longer cut of it)."""
    late = [k for k in sorted(labels.frames) if k >= num_frames]
    if late:
        raise DataError(
            Path(path),
            f"frame {late[0]} is past the recording's last frame ({num_frames - 1}): labels of another recording?",
        )
