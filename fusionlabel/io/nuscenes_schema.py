"""The nuScenes schema as FusionLabel reads and writes it: the tables, their units, and loading them.

Shared by the recording reader (:mod:`fusionlabel.io.nuscenes`), the export
(:mod:`fusionlabel.io.nuscenes_export`) and the import of exported tables
(:mod:`fusionlabel.io.nuscenes_import`).

* A version folder (``v1.0-mini`` ...) holds one JSON file per table, ``<table>.json``: a list of
  objects, each with a string ``token`` (:func:`_load_table`). The recording reader needs
  :data:`REQUIRED_TABLES`; :data:`OPTIONAL_TABLES` may be absent; the export writes all
  :data:`TABLES`.
* Timestamps are microseconds in the tables (integers; Lyft's are floats), nanoseconds here
  (:func:`us_to_ns`).
* Poses (``ego_pose``, ``calibrated_sensor``, ``sample_annotation``): ``rotation`` a unit
  w, x, y, z quaternion, ``translation`` in metres (:func:`_pose`).
* A broken reference (a token that is not in the table it points to) raises
  :class:`CorruptFileError` naming the table file that holds the dangling token
  (:meth:`_Tables.ref`).

Example
-------
>>> us_to_ns(1_532_402_927_647_951), us_to_ns(0.25)
(1532402927647951000, 250)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.transforms import Transform

#: the tables :func:`~fusionlabel.io.nuscenes.open_nuscenes` needs, and those it reads where present
REQUIRED_TABLES = (
    "sample",
    "sample_data",
    "ego_pose",
    "calibrated_sensor",
    "sensor",
    "scene",
    "sample_annotation",
    "instance",
    "category",
)
OPTIONAL_TABLES = ("attribute", "visibility", "log", "map")
#: the 13 tables of the nuScenes schema, all written
TABLES = (
    "attribute",
    "calibrated_sensor",
    "category",
    "ego_pose",
    "instance",
    "log",
    "map",
    "sample",
    "sample_annotation",
    "sample_data",
    "scene",
    "sensor",
    "visibility",
)
#: the channel of the reference LiDAR (the devkit's evaluation looks it up by this name)
REFERENCE_CHANNEL = "LIDAR_TOP"


def us_to_ns(t_us: float) -> int:
    """Table timestamp (microseconds, int or float) -> int nanoseconds, without float rounding of the integer part."""
    if isinstance(t_us, bool) or not isinstance(t_us, (int, float)) or not math.isfinite(t_us):
        raise ValueError(f"timestamp {t_us!r} is not a finite number")
    if isinstance(t_us, int):
        ns = t_us * 1000
    else:
        whole = math.floor(t_us)
        ns = whole * 1000 + round((t_us - whole) * 1000.0)
    if not -(2**63) <= ns < 2**63:
        raise ValueError(f"timestamp {t_us!r} is out of range (beyond 64-bit nanoseconds)")
    return ns


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


# -- table loading ----------------------------------------------------------------------------


def _load_table(version_dir: Path, name: str, required: bool = True) -> list[dict[str, Any]]:
    p = version_dir / f"{name}.json"
    if not p.is_file():
        if required:
            raise DataError(p, f"required nuScenes table '{name}.json' is missing")
        return []
    try:
        rows = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(p, f"cannot read table: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptFileError(p, f"table is not valid JSON: {exc}") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("token"), str) for r in rows):
        raise CorruptFileError(p, "a nuScenes table must be a JSON list of objects, each with a string 'token'")
    return rows


@dataclass
class _Tables:
    dir: Path
    rows: dict[str, dict[str, dict[str, Any]]]  # table -> token -> row

    def path(self, table: str) -> Path:
        return self.dir / f"{table}.json"

    def ref(self, table: str, row: Mapping[str, Any], key: str, target: str) -> dict[str, Any]:
        """Follow ``row[key]`` into ``target``; a dangling token raises naming ``table``'s file."""
        tok = row.get(key)
        hit = self.rows[target].get(tok) if isinstance(tok, str) else None
        if hit is None:
            raise CorruptFileError(
                self.path(table),
                f"row {row.get('token', '?')!s}: {key} {tok!r} is not a token of {target}.json (broken reference)",
            )
        return hit


def _load_tables(version_dir: Path) -> _Tables:
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    for name in REQUIRED_TABLES:
        rows[name] = {r["token"]: r for r in _load_table(version_dir, name)}
    for name in OPTIONAL_TABLES:
        rows[name] = {r["token"]: r for r in _load_table(version_dir, name, required=False)}
    return _Tables(version_dir, rows)


def _number(table: Path, row: Mapping[str, Any], key: str, shape: tuple[int, ...]) -> NDArray[np.float64]:
    try:
        a = np.asarray(row[key], dtype=np.float64)
        if a.shape != shape or not np.all(np.isfinite(a)):
            raise ValueError(f"expected shape {shape}")
    except (KeyError, ValueError, TypeError) as exc:
        raise CorruptFileError(table, f"row {row.get('token', '?')!s}: bad '{key}' ({exc})") from None
    return a


def _pose(table: Path, row: Mapping[str, Any]) -> Transform:
    q = _number(table, row, "rotation", (4,))
    t = _number(table, row, "translation", (3,))
    if abs(float(np.linalg.norm(q)) - 1.0) > 1e-3:
        raise CorruptFileError(
            table, f"row {row.get('token', '?')!s}: rotation quaternion is not unit (|q| = {np.linalg.norm(q):.4f})"
        )
    return Transform.from_quaternion(q, t)
