"""The gold manifest: which frames of an annotator's queue are hidden reference (gold) frames.

``fusionlabel gold`` mixes frames labelled in a reference file into an annotator's review queue
without marking them there; this file, kept **away from the annotator** (the lead's side), says
which they are so that ``fusionlabel gold --score`` can score the annotator's work on them.

Schema (``"format": "fusionlabel.gold"``, version 1)::

    {
      "format": "fusionlabel.gold", "version": 1,
      "labels": "/data/out/drive_7/labels.json",      the annotator's label file
      "reference": "/data/gold/drive_7.json",          the reference (native label file)
      "reference_sha256": "ab12...",                   its hash when the frames were mixed in
      "frames": [12, 40, 77],                          the gold frames (0-based)
      "created": "2026-12-07T10:00:00+00:00",          when, and by whom
      "user": "lead",
      "seed": 0
    }

Read and written through :mod:`fusionlabel.io.versioned` (refused when corrupt or newer).

Example
-------
>>> import tempfile
>>> from pathlib import Path
>>> p = Path(tempfile.mkdtemp()) / "gold.json"
>>> write_gold(p, GoldManifest("labels.json", "ref.json", "ab", (3, 9), "2026-12-07T10:00:00+00:00", "lead"))
>>> read_gold(p).frames
(3, 9)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionlabel.core.errors import CorruptFileError
from fusionlabel.io.versioned import VersionedFormat, read_versioned, write_versioned

FORMAT = VersionedFormat("fusionlabel.gold", 1, what="gold manifest")


@dataclass(frozen=True)
class GoldManifest:
    """Gold frames mixed into a label file's queue (see the module docstring)."""

    labels: str
    reference: str
    reference_sha256: str
    frames: tuple[int, ...]
    created: str
    user: str
    seed: int | None = None


def write_gold(path: str | Path, m: GoldManifest) -> None:
    """Write a gold manifest atomically."""
    write_versioned(
        path,
        FORMAT,
        {
            "labels": m.labels,
            "reference": m.reference,
            "reference_sha256": m.reference_sha256,
            "frames": [int(f) for f in m.frames],
            "created": m.created,
            "user": m.user,
            "seed": m.seed,
        },
    )


def read_gold(path: str | Path) -> GoldManifest:
    """Read a gold manifest; :class:`CorruptFileError` naming it on any defect."""
    p = Path(path)
    d: dict[str, Any] = read_versioned(p, FORMAT)
    try:
        frames = tuple(int(f) for f in d["frames"])
        if len(set(frames)) != len(frames) or any(f < 0 for f in frames):
            raise ValueError("frames repeat or are negative")
        seed = d.get("seed")
        return GoldManifest(
            str(d["labels"]),
            str(d["reference"]),
            str(d.get("reference_sha256", "")),
            frames,
            str(d.get("created", "")),
            str(d.get("user", "")),
            None if seed is None else int(seed),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(p, f"bad gold manifest: {type(exc).__name__}: {exc}") from None
