"""Open any supported recording: sniff the path, dispatch to the reader module.

Each reader module exposes ``sniff(path: Path) -> bool`` (cheap: looks at names and at most
a few header bytes) and an ``open_*(path) -> Recording`` function listed in ``READERS``.
The first module whose ``sniff`` accepts the path opens it; a path no reader accepts raises
:class:`UnsupportedFormatError` naming the path. There is no silent fallback.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from fusionlabel.core.errors import DataError, UnsupportedFormatError
from fusionlabel.core.recording import Recording

#: the small synthetic recording bundled in a source checkout (``sample_data/synth_seed0``): what
#: ``fusionlabel open`` shows without an argument and what the README's demo runs on
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"

#: (format name, module, opener function); order matters: most specific first
READERS: list[tuple[str, str, str]] = [
    ("native", "fusionlabel.io.native", "open_native"),
    ("kitti-raw", "fusionlabel.io.kitti", "open_kitti_raw"),
    ("kitti-tracking", "fusionlabel.io.kitti", "open_kitti_tracking"),
    ("kitti-object", "fusionlabel.io.kitti", "open_kitti_object"),
    ("nuscenes", "fusionlabel.io.nuscenes", "open_nuscenes"),
    ("argoverse2", "fusionlabel.io.argoverse", "open_argoverse2"),
    ("dgp", "fusionlabel.io.dgp", "open_dgp"),
    ("rosbag", "fusionlabel.io.rosbag", "open_bag"),
    ("continental-radar", "fusionlabel.io.radar", "open_continental"),
    ("folder", "fusionlabel.io.folder", "open_folder"),  # a folder of clouds / a SUSTechPOINTS scene: last
    ("pointcloud", "fusionlabel.io.pointcloud", "open_point_cloud_file"),
]


def sniff_format(path: Path) -> str | None:
    """Name of the first reader that accepts ``path``, or None."""
    for fmt, mod, _fn in READERS:
        m = importlib.import_module(mod)
        sniffer = getattr(m, f"sniff_{fmt.replace('-', '_')}", None) or m.sniff
        if sniffer(path):
            return fmt
    return None


def open_recording(path: str | Path, format: str | None = None) -> Recording:
    """Open ``path`` as a :class:`Recording`.

    Parameters
    ----------
    path : a recording folder or a single file (point cloud, bag, MCAP, radar dump)
    format : force a reader by name (see ``READERS``) instead of sniffing

    Raises
    ------
    DataError : naming the file and the reason (missing, unsupported, corrupt)
    """
    p = Path(path)
    if not p.exists():
        raise DataError(p, "no such file or folder")
    fmt = format or sniff_format(p)
    if fmt is None:
        raise UnsupportedFormatError(p, "not a recording FusionLabel can read (see `fusionlabel info --help`)")
    for name, mod, fn in READERS:
        if name == fmt:
            return getattr(importlib.import_module(mod), fn)(p)  # type: ignore[no-any-return]
    raise UnsupportedFormatError(p, f"unknown format {format!r}; known: {', '.join(r[0] for r in READERS)}")
