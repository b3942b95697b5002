"""DGP's protobuf messages in their JSON form: fields, poses and timestamps, read strictly.

The DGP files (scene, calibration, ontology, annotations; :mod:`fusionlabel.io.dgp`) are
protobuf messages written with protobuf's JSON mapping: scalars equal to their default (0) may be
absent (a box turned by 180 degrees may read ``{"qz": 1.0}``), numbers may be strings; ``NaN`` in
any form is refused. Every reader here raises a typed error naming the file and the JSON path.

* ``Pose`` (geometry.proto): ``translation {x, y, z}`` + ``rotation {qw, qx, qy, qz}``, the
  transform from a frame into its parent (:func:`_pose`; the quaternion must be unit).
* ``Timestamp``: RFC 3339, read to the nanosecond in exact integer arithmetic
  (:func:`parse_timestamp_ns`).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.transforms import Transform

#: dgp.proto.AnnotationType ids (annotations.proto)
BOUNDING_BOX_2D = 0
BOUNDING_BOX_3D = 1

_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$")
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()


def parse_timestamp_ns(text: Any) -> int:
    """RFC 3339 ``Timestamp`` string -> integer nanoseconds since the Unix epoch (UTC).

    Exact integer arithmetic (Python ``int``: no int64 limit, no float rounding). Accepts 0-9
    fraction digits and ``Z`` or a ``+hh:mm`` offset, as protobuf's JSON parser does.

    Raises
    ------
    ValueError : not such a string

    Example
    -------
    >>> parse_timestamp_ns("1970-01-01T00:00:01.5Z")
    1500000000
    """
    m = _TIMESTAMP.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"timestamp {text!r} is not an RFC 3339 string like 2019-05-01T12:00:00.123456Z")
    y, mo, d, hh, mm, ss = (int(m.group(i)) for i in range(1, 7))
    frac, tz = m.group(7) or "", m.group(8)
    try:
        days = _dt.date(y, mo, d).toordinal() - _EPOCH_ORDINAL
    except ValueError as exc:
        raise ValueError(f"timestamp {text!r}: {exc}") from None
    if hh > 23 or mm > 59 or ss > 60:
        raise ValueError(f"timestamp {text!r}: time of day out of range")
    offset_s = 0
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        offset_s = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    seconds = days * 86400 + hh * 3600 + mm * 60 + ss - offset_s
    return seconds * 1_000_000_000 + int(frac.ljust(9, "0"))


def _read_json(path: Path, what: str) -> Any:
    """Parse a JSON file; typed errors naming it."""
    if not path.is_file():
        raise DataError(path, f"{what} is missing")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(path, f"cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CorruptFileError(path, f"{what} is not UTF-8 text: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(path, f"{what} is not valid JSON: {exc}") from None


def _mapping(v: Any, where: str, path: Path, required: bool = True) -> Mapping[str, Any]:
    """A JSON object field; an absent optional message is ``{}`` (protobuf default)."""
    if v is None and not required:
        return {}
    if not isinstance(v, Mapping):
        raise CorruptFileError(
            path, f"{where}: expected an object, got {type(v).__name__ if v is not None else 'nothing'}"
        )
    return v


def _float(d: Mapping[str, Any], key: str, where: str, path: Path) -> float:
    """A double field (protobuf JSON: number or numeric string; absent = 0.0); finite."""
    v = d.get(key, 0.0)
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise CorruptFileError(path, f"{where}.{key}: {v!r} is not a number")
    try:
        x = float(v)
    except ValueError:
        raise CorruptFileError(path, f"{where}.{key}: {v!r} is not a number") from None
    if not math.isfinite(x):
        raise CorruptFileError(path, f"{where}.{key} is {v!r} (NaN or infinity)")
    return x


def _int(d: Mapping[str, Any], key: str, where: str, path: Path) -> int:
    """An integer field (number or digit string; absent = 0) that fits 64 bits."""
    v = d.get(key, 0)
    out: int | None = None
    if isinstance(v, bool):
        out = None
    elif isinstance(v, int):
        out = v
    elif isinstance(v, float) and v.is_integer():
        out = int(v)
    elif isinstance(v, str) and re.fullmatch(r"-?\d+", v.strip()):
        out = int(v)
    if out is None:
        raise CorruptFileError(path, f"{where}.{key}: {v!r} is not an integer")
    if not -(2**63) <= out < 2**63:
        raise CorruptFileError(path, f"{where}.{key}: {out} does not fit 64 bits")
    return out


def _pose_parts(
    v: Any, where: str, path: Path, required: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(q, t)`` of a ``Pose`` message: (4,) ``(qw, qx, qy, qz)`` and (3,) translation; absent scalars are 0."""
    d = _mapping(v, where, path, required)
    rot = _mapping(d.get("rotation"), f"{where}.rotation", path, required=False)
    tr = _mapping(d.get("translation"), f"{where}.translation", path, required=False)
    q = np.array([_float(rot, k, f"{where}.rotation", path) for k in ("qw", "qx", "qy", "qz")])
    return q, np.array([_float(tr, k, f"{where}.translation", path) for k in ("x", "y", "z")])


def _check_unit(q: NDArray[np.float64], where: str, path: Path) -> None:
    norm = float(np.linalg.norm(q))
    if abs(norm - 1.0) > 1e-3:
        raise CorruptFileError(path, f"{where}.rotation is not a unit quaternion (|q| = {norm:.4f})")


def _pose(v: Any, where: str, path: Path, allow_empty: bool = False) -> Transform | None:
    """A ``Pose`` message -> Transform; ``None`` for an empty pose when ``allow_empty``.

    The quaternion must be unit (|q| within 1e-3 of 1). An all-zero rotation is the protobuf
    default of an absent pose: ``None`` where that is allowed (datum poses), an error elsewhere.
    """
    q, t = _pose_parts(v, where, path, required=not allow_empty)
    if allow_empty and not np.any(q):
        return None
    _check_unit(q, where, path)
    return Transform.from_quaternion(q, t)
