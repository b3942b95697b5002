"""Where the review of a label file stands: flagged frames, why, their states, how many are open.

What ``fusionlabel review`` prints, for a data engineer deciding which recordings are done and
for scripts (:func:`review_summary` returns plain JSON data).

Example
-------
>>> import tempfile
>>> from pathlib import Path
>>> from fusionlabel.io.open import SAMPLE
>>> from fusionlabel.pipeline.batch import prelabel_one
>>> out = Path(tempfile.mkdtemp())
>>> rep = prelabel_one(str(SAMPLE), str(out / "s"), "geometric")   # doctest: +SKIP
>>> review_summary(out / "s" / "labels.json")["open"] > 0           # doctest: +SKIP
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fusionlabel.core.errors import DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.review import FRAME_STATES, Review, frame_status


def resolve_label_path(path: str | Path) -> Path:
    """A label file given as itself or as the folder holding ``labels.json`` (a ``prelabel`` output)."""
    p = Path(path)
    if p.is_dir():
        p = p / "labels.json"
    if not p.exists():
        raise DataError(p, "no such label file")
    return p


def review_summary(path: str | Path) -> dict[str, Any]:
    """The review of a label file (or of a ``prelabel`` output folder) as JSON data.

    Keys: ``labels`` and ``review_file`` (paths), ``num_frames``, ``flagged``, ``open``,
    ``resolved``, ``states`` (count per state), ``review_load`` (fraction of frames flagged),
    ``done`` (every flagged frame resolved), ``provenance`` and ``flagged_frames``: one object per
    flagged frame in frame order with ``frame`` (0-based index, as in the label file), ``score``,
    ``state`` (``proposed`` / ``accepted`` / ``edited``), ``open``, ``resolution`` (``user``,
    ``time``, ``note``, or null) and ``reasons`` (``track_id``, ``reason``, ``severity``).

    Raises
    ------
    DataError : the label file is missing or unreadable, or has no review file beside it
    """
    from fusionlabel.io.native_labels import read_labels
    from fusionlabel.io.review_file import find_review, read_review, review_path

    lp = resolve_label_path(path)
    rp = find_review(lp)
    if rp is None:
        raise DataError(
            lp,
            f"no review file beside it ({review_path(lp).name}): pre-label it first "
            "(fusionlabel prelabel) or open it in the app",
        )
    review: Review = read_review(rp)
    labels = read_labels(lp) if lp.suffix == ".json" else LabelSet()
    status = frame_status(review, labels)
    states = dict.fromkeys(FRAME_STATES, 0)
    for st in status:
        states[st.state] += 1
    n_open = sum(st.open for st in status)
    q = review.queue
    return {
        "labels": str(lp),
        "review_file": str(rp),
        "num_frames": q.num_frames if q is not None else 0,
        "flagged": len(status),
        "open": n_open,
        "resolved": len(status) - n_open,
        "states": states,
        "review_load": round(q.load, 6) if q is not None else 0.0,
        "done": n_open == 0,
        "provenance": dict(review.provenance),
        "flagged_frames": [
            {
                "frame": st.frame,
                "score": round(st.score, 6),
                "state": st.state,
                "open": st.open,
                "resolution": None
                if st.resolution is None
                else {"user": st.resolution.user, "time": st.resolution.time, "note": st.resolution.note},
                "reasons": [dict(r) for r in st.reasons],
            }
            for st in status
        ],
    }


def review_summary_if_any(path: str | Path) -> dict[str, Any] | None:
    """:func:`review_summary` when ``path`` is a native label file with a review file beside it,
    else None (other label formats carry no review). A broken review file still raises."""
    from fusionlabel.io.review_file import find_review

    p = Path(path)
    if p.is_dir():
        p = p / "labels.json"
    if p.suffix != ".json" or not p.is_file() or find_review(p) is None:
        return None
    return review_summary(p)


def open_frames_line(summary: dict[str, Any]) -> str | None:
    """One line telling that flagged frames are still open, or None when the review is done."""
    if summary["open"] == 0:
        return None
    frames = [f["frame"] for f in summary["flagged_frames"] if f["open"]]
    shown = ", ".join(map(str, frames[:10])) + (" ..." if len(frames) > 10 else "")
    return (
        f"note: {summary['open']} of {summary['flagged']} flagged frame(s) are still open in "
        f"{summary['review_file']} (frames {shown}); `fusionlabel review {summary['labels']}` lists them"
    )
