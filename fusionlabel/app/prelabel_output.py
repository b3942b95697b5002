"""Where a ``fusionlabel prelabel`` output folder's recording and label file are (no Qt).

``OUT/<name>/report.json`` names the recording; ``labels.json`` (with ``labels.review.json``) is
the label file to edit. The ``open`` command and File > Open both use :func:`prelabel_output`.
"""

from __future__ import annotations

from pathlib import Path


def prelabel_output(path: Path) -> tuple[Path, Path] | None:
    """``(recording, labels.json)`` when ``path`` is a ``fusionlabel prelabel`` output folder, else None."""
    import json

    from fusionlabel.core.errors import DataError
    from fusionlabel.io.native_labels import OUTPUT_LABELS

    path = Path(path)
    rep_path = path / "report.json"
    if not (path.is_dir() and rep_path.is_file() and (path / OUTPUT_LABELS).is_file()):
        return None
    try:
        rep = json.loads(rep_path.read_text(encoding="utf-8"))
        rec = Path(rep["recording"])
    except (OSError, ValueError, KeyError, TypeError):
        raise DataError(rep_path, "not a readable prelabel report (no 'recording')") from None
    if not rec.exists():
        raise DataError(rep_path, f"the pre-labelled recording {rec} is not there any more")
    return rec, path / OUTPUT_LABELS
