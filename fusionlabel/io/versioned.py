"""Versioned JSON files: one reader and one writer for every file FusionLabel writes with a
``format`` tag and an integer ``version``.

A :class:`VersionedFormat` names the ``format`` tag, the version this FusionLabel writes, the
migrations that lift each older version one step (``migrations[v]`` turns a version ``v``
document into version ``v + 1``) and, for files from before the tag settled, functions that
turn a legacy tag's document into a current-tag document of some version. Reading:

1. the file is read and parsed (:func:`fusionlabel.core.textfile.read_json`: unreadable,
   non-UTF-8 and malformed JSON become a :class:`~fusionlabel.core.errors.CorruptFileError`
   naming the file and line);
2. a legacy tag is converted, an unknown tag refused;
3. a version newer than this FusionLabel's is refused ("written by a newer FusionLabel"), never
   guessed at, so the caller never goes on to overwrite it;
4. migrations run one step at a time until the current version.

Writing is atomic (:func:`fusionlabel.core.atomic.atomic_write_text`), ``NaN`` refused.

Example
-------
>>> import tempfile
>>> from pathlib import Path
>>> fmt = VersionedFormat("demo", 2, {1: lambda d, p: {**d, "version": 2, "b": d["a"]}})
>>> p = Path(tempfile.mkdtemp()) / "f.json"
>>> write_versioned(p, fmt, {"a": 1})
>>> read_versioned(p, fmt)["version"]
2
>>> _ = p.write_text('{"format": "demo", "version": 1, "a": 5}')
>>> read_versioned(p, fmt)["b"]
5
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.textfile import read_json

#: ``(document, path) -> document`` of the next version (or of the current tag, for legacy tags)
Step = Callable[[dict[str, Any], Path], dict[str, Any]]


@dataclass(frozen=True)
class VersionedFormat:
    """A versioned JSON file format.

    name : the ``format`` tag
    version : the version this FusionLabel writes (and the newest it reads)
    migrations : ``migrations[v]`` lifts a version ``v`` document to ``v + 1``
    legacy : older ``format`` tags -> a step turning such a document into this tag's document
    what : how errors call the file (``"review file"``)
    """

    name: str
    version: int
    migrations: Mapping[int, Step] = field(default_factory=dict)
    legacy: Mapping[str, Step] = field(default_factory=dict)
    what: str = ""

    @property
    def kind(self) -> str:
        return self.what or f"{self.name} file"


def migrate_document(d: Any, fmt: VersionedFormat, path: str | Path = "<document>") -> dict[str, Any]:
    """Lift a parsed document of any known tag and version to ``fmt.version`` (see the module docstring)."""
    path = Path(path)
    if not isinstance(d, dict):
        raise CorruptFileError(path, f"not a {fmt.kind}: a JSON object was expected")
    tag = d.get("format")
    if isinstance(tag, str) and tag in fmt.legacy:
        try:
            d = fmt.legacy[tag](d, path)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptFileError(path, f"{fmt.kind} ({tag}): {type(exc).__name__}: {exc}") from None
        tag = d.get("format")
    if tag != fmt.name:
        raise CorruptFileError(path, f'not a {fmt.kind} (format is {tag!r}, expected "{fmt.name}")')
    v = d.get("version")
    if not isinstance(v, int) or isinstance(v, bool):
        raise CorruptFileError(path, f"{fmt.kind} has no integer 'version'")
    if v > fmt.version:
        raise CorruptFileError(
            path, f"{fmt.kind} version {v} was written by a newer FusionLabel (this one reads <= {fmt.version})"
        )
    while v < fmt.version:
        step = fmt.migrations.get(v)
        if step is None:
            raise CorruptFileError(path, f"{fmt.kind} version {v} cannot be read: no migration from version {v}")
        try:
            d = step(d, path)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptFileError(path, f"{fmt.kind} version {v}: {type(exc).__name__}: {exc}") from None
        nv = d.get("version")
        if nv != v + 1:  # a broken step must not loop or skip silently
            raise CorruptFileError(path, f"migration from version {v} produced version {nv!r}, expected {v + 1}")
        v = nv
    return d


def read_versioned(path: str | Path, fmt: VersionedFormat) -> dict[str, Any]:
    """The file's document at the current version; :class:`CorruptFileError` naming the file."""
    path = Path(path)
    return migrate_document(read_json(path, fmt.kind), fmt, path)


def dump_versioned(fmt: VersionedFormat, body: Mapping[str, Any], indent: int | None = 1) -> str:
    """``{"format": ..., "version": ..., **body}`` as JSON text (``NaN`` refused)."""
    d = {
        "format": fmt.name,
        "version": fmt.version,
        **{k: v for k, v in body.items() if k not in ("format", "version")},
    }
    return json.dumps(d, indent=indent, allow_nan=False)


def write_versioned(path: str | Path, fmt: VersionedFormat, body: Mapping[str, Any], indent: int | None = 1) -> None:
    """Write ``body`` with the format tag and current version, atomically."""
    atomic_write_text(Path(path), dump_versioned(fmt, body, indent))
