"""What the labelling-tool importers share: the context, field readers that name the file, frame
and field of the first problem, the tools' Euler conventions, track-id assignment.

Every importer reads and validates its **whole** input before it returns; the first problem
raises :class:`~fusionlabel.core.errors.CorruptFileError` ``(file, "frame 12, object 3:
'psr.scale.x' must be a positive number, got -1.0")``.

Rotations
---------
The browser tools (SUSTechPOINTS, CVAT 3D, Supervisely, Xtreme1) draw cuboids with three.js,
whose Euler angles ``(x, y, z)`` (order ``XYZ``) mean ``R = Rx(x) Ry(y) Rz(z)``. labelCloud rotates
``x`` first, then ``y``, then ``z`` about fixed axes: ``R = Rz(z) Ry(y) Rx(x)``. FusionLabel's boxes
are upright; the yaw is the heading of the rotated box x axis, ``atan2(R[1, 0], R[0, 0])``, and a
tilted box keeps its two other angles as the attributes ``rotation_x`` and ``rotation_y`` (radians,
the tool's own angles) so that it is written back as it came.

>>> round(heading_xyz(0.0, 0.0, 0.5), 12), round(z_for_heading_xyz(0.1, 0.2, heading_xyz(0.1, 0.2, 0.5)), 12)
(0.5, 0.5)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.boxes import Boxes
from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.textfile import read_json
from fusionlabel.core.transforms import Transform

#: attributes that carry a tilted tool box's other Euler angles (radians, the tool's convention)
TILT_ATTRIBUTES = ("rotation_x", "rotation_y")


@dataclass(frozen=True)
class ToolContext:
    """What a tool's importer needs beyond its files.

    T_ego_sensor : the frame the tool's boxes are in (its point clouds' LiDAR) -> ego frame
    frame_names : frame index -> frame name (the point-cloud file's stem) of the recording; the
        tools name frames by file, so this aligns them with the recording (empty: the files' own order)
    timestamps_ns : frame index -> time, nanoseconds
    name : a name for the labels (Supervisely episode, Segments dataset)
    """

    T_ego_sensor: Transform = field(default_factory=Transform.identity)
    frame_names: Mapping[int, str] = field(default_factory=dict)
    timestamps_ns: Mapping[int, int] = field(default_factory=dict)
    name: str = "labels"

    def name_of(self, k: int) -> str:
        """The name of frame ``k`` (``%06d`` when the recording gives none)."""
        return self.frame_names.get(k) or f"{k:06d}"

    def indices(self, names: Iterable[str], path: Path) -> dict[str, int]:
        """Frame name -> index: the recording's frame of that name, else the names' natural order.

        Raises :class:`CorruptFileError` for a name the recording does not have.
        """
        names = list(dict.fromkeys(names))
        if not self.frame_names:
            return {n: i for i, n in enumerate(sorted(names, key=natural_key))}
        by_name = {v: k for k, v in self.frame_names.items()}
        out = {}
        for n in names:
            if n not in by_name:
                raise CorruptFileError(path, f"frame {n!r}: the recording has no frame of that name")
            out[n] = by_name[n]
        return out


def natural_key(s: str) -> tuple[Any, ...]:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s))


# -- reading fields ---------------------------------------------------------------------------
def fail(path: Path, where: str, message: str) -> CorruptFileError:
    """The error for the first problem: ``<file>: <where>: <message>``."""
    return CorruptFileError(path, f"{where}: {message}" if where else message)


def load_json(path: Path, what: str) -> Any:
    return read_json(path, what)


def field_of(obj: Any, dotted: str, path: Path, where: str) -> Any:
    """``obj["a"]["b"]`` for ``dotted = "a.b"``; the error names the field when one is missing."""
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            raise fail(path, where, f"missing field {dotted!r}")
        cur = cur[part]
    return cur


def _checked(v: Any, name: str, path: Path, where: str, positive: bool) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise fail(path, where, f"{name!r} must be a finite number, got {v!r}")
    if positive and float(v) <= 0:
        raise fail(path, where, f"{name!r} must be a positive number, got {v!r}")
    return float(v)


def number(obj: Any, dotted: str, path: Path, where: str, positive: bool = False) -> float:
    """A finite number at ``dotted`` (``positive``: > 0)."""
    return _checked(field_of(obj, dotted, path, where), dotted, path, where, positive)


def vector(
    obj: Any, dotted: str, path: Path, where: str, keys: Sequence[str] = ("x", "y", "z"), positive: bool = False
) -> list[float]:
    """A vector given as ``{"x": .., "y": .., "z": ..}`` (``keys``) or a list of ``len(keys)`` numbers;
    errors name the element (``'psr.scale.y'``, ``'position[2]'``)."""
    v = field_of(obj, dotted, path, where)
    if isinstance(v, list):
        if len(v) != len(keys):
            raise fail(path, where, f"{dotted!r} must have {len(keys)} numbers, got {len(v)}")
        return [_checked(e, f"{dotted}[{i}]", path, where, positive) for i, e in enumerate(v)]
    if not isinstance(v, Mapping):
        raise fail(path, where, f"{dotted!r} must be a mapping of {', '.join(keys)} or a list, got {v!r}")
    out = []
    for k in keys:
        if k not in v:
            raise fail(path, where, f"missing field '{dotted}.{k}'")
        out.append(_checked(v[k], f"{dotted}.{k}", path, where, positive))
    return out


def text(obj: Any, dotted: str, path: Path, where: str, allow_empty: bool = False) -> str:
    v = field_of(obj, dotted, path, where)
    if not isinstance(v, str) or (not v and not allow_empty):
        raise fail(path, where, f"{dotted!r} must be a {'' if allow_empty else 'non-empty '}string, got {v!r}")
    return v


def items(obj: Any, dotted: str, path: Path, where: str, kind: type = list) -> Any:
    v = field_of(obj, dotted, path, where)
    if not isinstance(v, kind):
        raise fail(path, where, f"{dotted!r} must be a {'list' if kind is list else 'mapping'}, got {type(v).__name__}")
    return v


def json_value(v: Any) -> Any:
    """``v`` if it is plain JSON (str, number, bool, None, lists and dicts of them), else its text."""
    try:
        json.dumps(v, allow_nan=False)
        return v
    except (TypeError, ValueError):
        return str(v)


# -- rotations --------------------------------------------------------------------------------
def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def heading_xyz(x: float, y: float, z: float) -> float:
    """Heading of the box x axis of three.js Euler ``XYZ`` angles: ``R = Rx(x) Ry(y) Rz(z)``,
    ``atan2(R[1, 0], R[0, 0])`` (``z`` itself when ``x = y = 0``)."""
    if x == 0.0 and y == 0.0:
        return z
    R = _rx(x) @ _ry(y) @ _rz(z)
    return math.atan2(R[1, 0], R[0, 0])


def z_for_heading_xyz(x: float, y: float, heading: float) -> float:
    """The three.js ``z`` angle that gives the box x axis the azimuth ``heading`` under ``Rx(x) Ry(y)``.

    With ``d = Rx(x) Ry(y) (cos z, sin z, 0)``: ``tan(heading) = d_y / d_x`` solved for ``z``:
    ``z = atan2(cos y sin h - sin x sin y cos h, cos x cos h)`` (``|x|, |y| < pi/2``).
    """
    if x == 0.0 and y == 0.0:
        return heading
    return math.atan2(
        math.cos(y) * math.sin(heading) - math.sin(x) * math.sin(y) * math.cos(heading),
        math.cos(x) * math.cos(heading),
    )


def tilt_attributes(x: float, y: float) -> dict[str, float]:
    """``{"rotation_x": x, "rotation_y": y}`` for a tilted box, ``{}`` for an upright one."""
    return {"rotation_x": x, "rotation_y": y} if (x != 0.0 or y != 0.0) else {}


def tilt_of(attributes: Mapping[str, Any]) -> tuple[float, float]:
    """The ``(rotation_x, rotation_y)`` a box was imported with (0 where absent or not a number)."""

    def num(key: str) -> float:
        v = attributes.get(key, 0.0)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else 0.0

    return num("rotation_x"), num("rotation_y")


# -- boxes and identities ---------------------------------------------------------------------
@dataclass
class ToolBox:
    """One box as a tool file gives it, in the tool's (sensor) frame.

    frame : frame index;  key : the tool's identity of the object (None: the box has none)
    box : ``[x, y, z, l, w, h, yaw]`` gravity centre, metres, radians;  where : for error messages
    """

    frame: int
    key: str | None
    category: str
    box: list[float]
    attributes: dict[str, Any] = field(default_factory=dict)
    score: float = 1.0
    where: str = ""


def assign_track_ids(keys: Sequence[str | None]) -> list[int]:
    """Track ids for the boxes' identities: a key that is a non-negative integer keeps its value,
    other keys get ``max + 1, max + 2, ...`` by first appearance, boxes without a key one new id each.

    Examples
    --------
    >>> assign_track_ids(["4", "a", None, "4", "a", "0"])
    [4, 5, 6, 4, 5, 0]
    """
    numeric = {k: int(k) for k in keys if k is not None and k.isdigit()}
    nxt = max(numeric.values(), default=0) + 1
    named: dict[str, int] = {}
    out = []
    for k in keys:
        if k is not None and k in numeric:
            out.append(numeric[k])
            continue
        if k is None or k not in named:
            tid, nxt = nxt, nxt + 1
            if k is None:
                out.append(tid)
                continue
            named[k] = tid
        out.append(named[k])
    return out


def build_labelset(boxes: Sequence[ToolBox], T_ego_sensor: Transform, path: Path) -> LabelSet:
    """The boxes as a :class:`LabelSet` in the ego frame (``T_ego_sensor``), track ids from their keys.

    A key that is not a number is kept as the attribute ``source_id``. Raises
    :class:`CorruptFileError` naming the frame when one object appears twice in a frame.
    """
    ids = assign_track_ids([b.key for b in boxes])
    per_frame: dict[int, list[int]] = {}
    for i, b in enumerate(boxes):
        per_frame.setdefault(b.frame, []).append(i)
    frames: dict[int, FrameLabels] = {}
    for k, idx in sorted(per_frame.items()):
        seen: dict[int, int] = {}
        for i in idx:
            if ids[i] in seen:
                raise fail(path, boxes[i].where, f"object {boxes[i].key!r} appears twice in frame {k}")
            seen[ids[i]] = i
        arr = np.array([boxes[i].box for i in idx], dtype=np.float64).reshape(-1, 7)
        try:
            local = Boxes.from_array(arr)
        except ValueError as exc:
            raise fail(path, boxes[idx[0]].where, str(exc)) from None
        attrs = []
        for i in idx:
            a = dict(boxes[i].attributes)
            key = boxes[i].key
            if key is not None and not key.isdigit():
                a.setdefault("source_id", key)
            attrs.append(a)
        frames[k] = FrameLabels(
            np.array([ids[i] for i in idx], dtype=np.int64),
            tuple(boxes[i].category for i in idx),
            local.transformed(T_ego_sensor),
            np.array([boxes[i].score for i in idx]),
            attrs,
        )
    return LabelSet(frames)


@dataclass(frozen=True)
class SensorBox:
    """One box for a writer, in the tool's (sensor) frame: ``box = [x, y, z, l, w, h, yaw]``."""

    track_id: int
    category: str
    box: tuple[float, ...]
    score: float
    attributes: Mapping[str, Any]


def boxes_in_sensor(labels: LabelSet, T_ego_sensor: Transform) -> dict[int, list[SensorBox]]:
    """Frame -> the frame's boxes moved from the ego frame into the tool's frame."""
    T = T_ego_sensor.inverse()
    out: dict[int, list[SensorBox]] = {}
    for k, fl in labels.frames.items():
        arr = fl.boxes.transformed(T).to_array()
        out[k] = [
            SensorBox(
                int(fl.track_ids[i]),
                fl.categories[i],
                tuple(float(v) for v in arr[i]),
                float(fl.scores[i]),
                fl.attributes[i],
            )
            for i in range(len(fl))
        ]
    return out


def extra_attributes(attributes: Mapping[str, Any], drop: Iterable[str] = ()) -> dict[str, Any]:
    """The box's attributes a tool file can carry as its own: all but the tilt, ``source_id`` and ``drop``."""
    skip = {*TILT_ATTRIBUTES, "source_id", *drop}
    return {k: json_value(v) for k, v in attributes.items() if k not in skip}


# -- files ------------------------------------------------------------------------------------
def json_head(path: Path, n: int = 4096) -> bytes:
    """The first ``n`` bytes of a file (``b""`` when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def write_json(path: Path, doc: Any) -> None:
    """Write ``doc`` as indented JSON, atomically; NaN refused."""
    atomic_write_text(Path(path), json.dumps(doc, indent=1, allow_nan=False) + "\n")


def json_files(folder: Path) -> list[Path]:
    """The ``*.json`` files directly in ``folder``, in natural order of their names."""
    return sorted((p for p in folder.glob("*.json") if p.is_file()), key=lambda p: natural_key(p.name))


def matrix_xyz(x: float, y: float, z: float) -> np.ndarray:
    """``R = Rx(x) Ry(y) Rz(z)``: the rotation of three.js Euler angles (order ``XYZ``)."""
    return _rx(x) @ _ry(y) @ _rz(z)


def euler_xyz(R: np.ndarray) -> tuple[float, float, float]:
    """three.js Euler ``XYZ`` angles of a rotation matrix (the inverse of :func:`matrix_xyz`).

    Examples
    --------
    >>> [round(a, 9) for a in euler_xyz(matrix_xyz(0.1, -0.2, 0.3))]
    [0.1, -0.2, 0.3]
    """
    y = math.asin(max(-1.0, min(1.0, float(R[0, 2]))))
    return math.atan2(-R[1, 2], R[2, 2]), y, math.atan2(-R[0, 1], R[0, 0])
