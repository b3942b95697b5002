"""The recently opened recordings (File > Open recent), kept in a small JSON file.

The file is ``recent.json`` in the user's configuration folder
(``platformdirs.user_config_dir("fusionlabel")``, or ``$FUSIONLABEL_CONFIG_DIR`` when set: tests
and portable installs); it is read when the menu is built, never at import time, and written
atomically. A missing or unreadable file is an empty list (the list is a convenience, never
needed to open anything).

Example
-------
>>> import tempfile
>>> r = RecentFiles(Path(tempfile.mkdtemp()) / "recent.json")
>>> r.add("/data/a"); r.add("/data/b"); r.add("/data/a")
>>> [p.name for p in r.paths()]
['a', 'b']
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def config_dir() -> Path:
    """``$FUSIONLABEL_CONFIG_DIR`` or the platform's user configuration folder for fusionlabel."""
    env = os.environ.get("FUSIONLABEL_CONFIG_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("fusionlabel"))


class RecentFiles:
    """Most recent first, at most ``limit`` entries, no duplicates."""

    def __init__(self, path: Path | None = None, limit: int = 10) -> None:
        self.path = Path(path) if path is not None else config_dir() / "recent.json"
        self.limit = int(limit)

    def paths(self) -> list[Path]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(data, list):
            return []
        return [Path(p) for p in data if isinstance(p, str)][: self.limit]

    def add(self, path: str | Path) -> None:
        """Put ``path`` first (a write failure is ignored: the list is a convenience)."""
        from fusionlabel.core.atomic import atomic_write_text

        p = str(Path(path).resolve())
        items = [p] + [str(q) for q in self.paths() if str(q) != p]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(items[: self.limit], indent=1))
        except OSError:
            pass
