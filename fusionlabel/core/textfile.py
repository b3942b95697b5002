"""Read a user's text file with one typed error for every way it can fail.

Readers of JSON/YAML files share these so that an unreadable, non-UTF-8 or malformed file always
becomes ``<error class>(path, reason)`` naming the file, never an untyped exception.

Example
-------
>>> from pathlib import Path
>>> read_json(Path("/nonexistent.json"), "label file")
Traceback (most recent call last):
...
fusionlabel.core.errors.CorruptFileError: /nonexistent.json: cannot read label file: No such file or directory
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fusionlabel.core.errors import CorruptFileError, DataError


def read_text(path: Path, what: str, error: type[DataError] = CorruptFileError) -> str:
    """The file's UTF-8 text; ``error(path, reason)`` when it cannot be read or decoded.

    ``what`` names the kind of file in the reason (``"label file"``, ``"calibration"``...).
    """
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(path, f"cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise error(path, f"{what} is not UTF-8 text") from None


def read_json(path: Path, what: str, error: type[DataError] = CorruptFileError) -> Any:
    """Parsed JSON of the file; ``error(path, reason)`` naming the line and column of a syntax error."""
    text = read_text(path, what, error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
