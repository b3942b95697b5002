"""Versions of the native label file and the migrations between them.

The native label file (:mod:`fusionlabel.io.native_labels`) carries an integer ``version``.
Reading goes through :func:`migrate` (the project's one versioned-file reader,
:func:`fusionlabel.io.versioned.migrate_document`): a file of an older version is lifted one step
at a time by the functions in :data:`MIGRATIONS` (``MIGRATIONS[v]`` turns a version ``v``
document into a version ``v + 1`` document) until it reaches :data:`CURRENT`, then parsed by
:func:`fusionlabel.io.native_labels.labels_from_dict`. Files are never rewritten behind the
user's back: :func:`fusionlabel.io.native_labels.upgrade_file` does that on request (atomically).
This module owns the format's name and versions; it imports nothing of the label reader.

Adding version 2 later: bump :data:`CURRENT` to 2, write ``_v1_to_v2(d, path) -> d``,
register it as ``MIGRATIONS[1]``, and add a test that reads a version 1 file. Each step is a
pure function of a JSON document, so steps compose and each one is tested on its own.

Version 0 (the legacy format, from before boxes moved to the gravity centre)::

    {"format": "fusionlabel.labels", "version": 0,
     "frames": {"<index>": {"stamp_ns": 1700000000000000000,             (optional)
                            "boxes": [{"id": 7, "class": "Car",
                                       "center_bottom": [x, y, z],      ego frame, bottom centre, m
                                       "size_wlh": [w, l, h],           metres
                                       "yaw_deg": 12.5,                 degrees, about +z
                                       "score": 1.0,                    (optional)
                                       "attrs": {}}]}}}                 (optional)

Version 1: see :mod:`fusionlabel.io.native_labels` (gravity centre, ``[x y z l w h yaw]`` in
radians, frames as a list with ``index`` and ``timestamp_ns``).

Example
-------
>>> v0 = {"format": "fusionlabel.labels", "version": 0,
...       "frames": {"3": {"boxes": [{"id": 7, "class": "Car", "center_bottom": [5, 0, 0],
...                                   "size_wlh": [1.8, 4, 1.6], "yaw_deg": 90}]}}}
>>> d = migrate(v0)
>>> d["version"], d["frames"][0]["objects"][0]["box"][2], round(d["frames"][0]["objects"][0]["box"][6], 6)
(1, 0.8, 1.570796)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fusionlabel.core.errors import CorruptFileError
from fusionlabel.io.versioned import VersionedFormat, migrate_document

#: the ``format`` tag of native label files
FORMAT = "fusionlabel.labels"
#: the version this FusionLabel writes
CURRENT = 1

Migration = Callable[[dict[str, Any], Path], dict[str, Any]]


def _v0_to_v1(d: dict[str, Any], path: Path) -> dict[str, Any]:
    """Version 0 -> 1: bottom centre -> gravity centre, ``w l h`` -> ``l w h``, degrees -> radians.

    ``z_gravity = z_bottom + h / 2``; ``yaw = yaw_deg * pi / 180``; frames become a list sorted by index.
    """
    frames_in = d.get("frames")
    if not isinstance(frames_in, dict):
        raise CorruptFileError(path, "version 0 label file: 'frames' must be an object keyed by frame index")
    frames: list[dict[str, Any]] = []
    try:
        for key in sorted(frames_in, key=int):
            fr = frames_in[key]
            objs = []
            for b in fr.get("boxes", []):
                x, y, z = (float(v) for v in b["center_bottom"])
                w, l, h = (float(v) for v in b["size_wlh"])
                objs.append(
                    {
                        "track_id": int(b["id"]),
                        "category": str(b["class"]),
                        "box": [x, y, z + h / 2.0, l, w, h, math.radians(float(b["yaw_deg"]))],
                        "score": float(b.get("score", 1.0)),
                        "attributes": dict(b.get("attrs") or {}),
                    }
                )
            entry: dict[str, Any] = {"index": int(key), "objects": objs}
            if "stamp_ns" in fr:
                entry["timestamp_ns"] = int(fr["stamp_ns"])
            frames.append(entry)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(path, f"version 0 label file: {type(exc).__name__}: {exc}") from None
    return {
        "format": FORMAT,
        "version": 1,
        "coordinate_frame": "ego",
        "box_convention": "x y z l w h yaw (gravity centre, metres, radians)",
        "frames": frames,
    }


#: ``MIGRATIONS[v]`` lifts a version ``v`` document to version ``v + 1``
MIGRATIONS: dict[int, Migration] = {0: _v0_to_v1}


def label_format(migrations: dict[int, Migration] | None = None, target: int = CURRENT) -> VersionedFormat:
    """The native label file as a :class:`~fusionlabel.io.versioned.VersionedFormat`."""
    return VersionedFormat(FORMAT, target, MIGRATIONS if migrations is None else migrations, what="label file")


def migrate(
    d: Any, path: str | Path = "<labels>", migrations: dict[int, Migration] | None = None, target: int = CURRENT
) -> dict[str, Any]:
    """Lift a native label document to version ``target``, one registered step at a time.

    Raises
    ------
    CorruptFileError : not a label document, a version newer than ``target``, or an older version
        with no migration path (naming the missing step)
    """
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise CorruptFileError(Path(path), f'not a FusionLabel label file (missing "format": "{FORMAT}")')
    return migrate_document(d, label_format(migrations, target), path)


def timestamps_from_dict(d: dict[str, Any]) -> dict[int, int]:
    """Frame index -> ``timestamp_ns`` of a current-version document (frames without one omitted)."""
    return {int(f["index"]): int(f["timestamp_ns"]) for f in d.get("frames") or [] if "timestamp_ns" in f}
