"""The functions the top-level package exposes: read and write labels in any format.

``fusionlabel.load_labels`` / ``fusionlabel.save_labels`` (:mod:`fusionlabel` re-exports them
lazily) wrap the format registry of :mod:`fusionlabel.io.label_formats`: a native label file by
default, any other format by name (``fmt="openlabel"``, ``"kitti"``, ``"sustechpoints"``...) or
sniffed (``fmt="auto"``). A recording (a path or an opened :class:`Recording`) supplies what a
format needs beyond the boxes: frame times, ego poses, the rig, frame names.

Example
-------
>>> import tempfile
>>> from pathlib import Path
>>> from fusionlabel.io.open import SAMPLE, open_recording
>>> labels = load_labels(SAMPLE / "labels.json")
>>> out = Path(tempfile.mkdtemp()) / "scene"
>>> save_labels(labels, out, fmt="sustechpoints", recording=open_recording(SAMPLE))
>>> again = load_labels(out, fmt="auto")
>>> again.num_boxes == labels.num_boxes, bool((again.track_ids == labels.track_ids).all())
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from fusionlabel.core.errors import DataError, UnsupportedFormatError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.io.label_formats import LabelContext, get_format, sniff_label_format


def _context(recording: str | Path | Recording | None) -> LabelContext:
    if recording is None:
        return LabelContext()
    if not isinstance(recording, Recording):
        from fusionlabel.io.open import open_recording

        recording = open_recording(recording)
    return LabelContext.from_recording(recording)


def load_labels(path: str | Path, fmt: str | None = None, recording: str | Path | Recording | None = None) -> LabelSet:
    """Labels from ``path``, in each frame's ego frame.

    Parameters
    ----------
    path : a native label file, or a file or folder of another format
    fmt : a format name (``fusionlabel.io.label_formats.FORMATS``); None or ``"auto"`` sniffs it
    recording : the recording the labels belong to (path or :class:`Recording`): its rig moves
        LiDAR-frame boxes to the ego frame, its frame names and times align the frames

    Raises
    ------
    DataError : the path is missing, the format unknown or the file broken (names file, frame, field)
    """
    p = Path(path)
    if not p.exists():
        raise DataError(p, "no such file or folder")
    name = sniff_label_format(p) if fmt in (None, "auto") else str(fmt)
    try:
        strategy = get_format(name)
    except ValueError as exc:
        raise UnsupportedFormatError(p, str(exc)) from None
    return strategy.read(p, _context(recording)).labels


def save_labels(
    labels: LabelSet,
    path: str | Path,
    fmt: str = "native",
    recording: str | Path | Recording | None = None,
    timestamps_ns: Mapping[int, int] | None = None,
) -> None:
    """Write ``labels`` at ``path`` in format ``fmt`` (default: a native label file).

    ``recording`` gives the rig, frame names, times and poses a format needs; ``timestamps_ns``
    (frame -> ns) overrides its times. Nothing is written unless all of it can be.
    """
    try:
        strategy = get_format(fmt)
    except ValueError as exc:
        raise UnsupportedFormatError(Path(path), str(exc)) from None
    ctx = _context(recording)
    if timestamps_ns is not None:
        ctx = replace(ctx, timestamps_ns=dict(timestamps_ns))
    strategy.write(Path(path), labels, ctx)
