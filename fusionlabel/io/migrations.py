"""Versions of the native label file and the migrations between them.

The native label file (:mod:`fusionlabel.io.native_labels`) carries an integer ``version``.
Reading goes through :func:`migrate`: a file of an older version is lifted one step at a time
by the functions in :data:`MIGRATIONS` (``MIGRATIONS[v]`` turns a version ``v`` document into a
version ``v + 1`` document) until it reaches :data:`CURRENT`, then parsed by
:func:`fusionlabel.io.native_labels.labels_from_dict`. Files are never rewritten behind the
user's back: :func:`upgrade_file` does that on request (atomically).

Adding version 2 later: bump ``native_labels.VERSION`` to 2, write ``_v1_to_v2(d, path) -> d``,
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

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.labels import LabelSet
from fusionlabel.io.native_labels import FORMAT, VERSION, labels_from_dict

#: the version this FusionLabel writes
CURRENT = VERSION

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


def migrate(
    d: Any, path: str | Path = "<labels>", migrations: dict[int, Migration] | None = None, target: int = CURRENT
) -> dict[str, Any]:
    """Lift a native label document to version ``target``, one registered step at a time.

    Raises
    ------
    CorruptFileError : not a label document, a version newer than ``target``, or an older version
        with no migration path (naming the missing step)
    """
    path = Path(path)
    steps = MIGRATIONS if migrations is None else migrations
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise CorruptFileError(path, f'not a FusionLabel label file (missing "format": "{FORMAT}")')
    v = d.get("version")
    if not isinstance(v, int) or isinstance(v, bool):
        raise CorruptFileError(path, "label file has no integer 'version'")
    if v > target:
        raise CorruptFileError(
            path, f"label file version {v} was written by a newer FusionLabel (this one reads <= {target})"
        )
    while v < target:
        if v not in steps:
            raise CorruptFileError(path, f"label file version {v} cannot be read: no migration from version {v}")
        d = steps[v](d, path)
        nv = d.get("version")
        if nv != v + 1:  # a broken step must not loop or skip silently
            raise CorruptFileError(path, f"migration from version {v} produced version {nv!r}, expected {v + 1}")
        v = nv
    return d


def timestamps_from_dict(d: dict[str, Any]) -> dict[int, int]:
    """Frame index -> ``timestamp_ns`` of a current-version document (frames without one omitted)."""
    return {int(f["index"]): int(f["timestamp_ns"]) for f in d.get("frames") or [] if "timestamp_ns" in f}


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CorruptFileError(path, f"cannot read label file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CorruptFileError(path, "label file is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(path, f"invalid JSON at line {exc.lineno}: {exc.msg}") from None


def read_native_labels(path: str | Path) -> tuple[LabelSet, dict[int, int]]:
    """Read a native label file of any known version: (labels, frame -> timestamp ns).

    Raises
    ------
    CorruptFileError : naming the file (bad JSON, unknown or newer version, bad content)
    """
    path = Path(path)
    d = migrate(_load_json(path), path)
    labels = labels_from_dict(d, path)
    try:
        times = timestamps_from_dict(d)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(path, f"bad timestamp_ns: {exc}") from None
    return labels, times


def upgrade_file(path: str | Path, out: str | Path | None = None) -> int:
    """Rewrite a label file at the current version (in place unless ``out``); returns the old version."""
    path = Path(path)
    raw = _load_json(path)
    old = raw.get("version") if isinstance(raw, dict) else None
    d = migrate(raw, path)
    labels_from_dict(d, path)  # refuse to write something we could not read back
    atomic_write_text(Path(out) if out is not None else path, json.dumps(d, indent=1, allow_nan=False))
    return int(old) if isinstance(old, int) else CURRENT
