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
from fusionlabel.core.review import FRAME_STATES, LEVELS, Review, frame_level, frame_levels, frame_status
from fusionlabel.io.native_labels import resolve_label_path


def review_summary(path: str | Path) -> dict[str, Any]:
    """The review of a label file (or of a ``prelabel`` output folder) as JSON data.

    Keys: ``labels`` and ``review_file`` (paths), ``num_frames``, ``flagged``, ``open``,
    ``resolved``, ``states`` (count per state), ``review_load`` (fraction of frames flagged),
    ``done`` (every flagged frame resolved), ``provenance`` and ``flagged_frames``: one object per
    flagged frame in frame order with ``frame`` (0-based index, as in the label file), ``score``,
    ``state`` (``proposed`` / ``accepted`` / ``edited``), ``open``, ``resolution`` (``user``,
    ``time``, ``note``, or null), ``level`` (the review level reached: ``annotator``,
    ``reviewer``, ``qa`` or null) and ``reasons`` (``track_id``, ``reason``, ``severity``);
    ``levels`` counts the flagged frames per level (``none`` for those with the annotator) and
    ``signed_off`` lists every frame that has a level with its last sign-off (``frame``,
    ``level``, ``user``, ``time``).

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
        "levels": _level_counts(review, [st.frame for st in status]),
        "signed_off": _signed_off(review),
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
                "level": frame_level(review, st.frame),
                "reasons": [dict(r) for r in st.reasons],
            }
            for st in status
        ],
    }


def _level_counts(review: Review, frames: list[int]) -> dict[str, int]:
    counts = {"none": 0, **dict.fromkeys(LEVELS, 0)}
    for f in frames:
        counts[frame_level(review, f) or "none"] += 1
    return counts


def _signed_off(review: Review) -> list[dict[str, Any]]:
    out = []
    for f, level in frame_levels(review).items():
        if level is None:
            continue
        last = next((e for e in reversed(review.signoffs) if e.frame == f and e.action == "approve"), None)
        res = review.resolutions.get(f)
        who = (
            (last.user, last.time)
            if last is not None and last.level == level
            else (res.user, res.time)
            if res
            else ("", "")
        )
        out.append({"frame": f, "level": level, "user": who[0], "time": who[1]})
    return out


def sign_off_frames(
    path: str | Path,
    level: str,
    frames: list[int] | None = None,
    user: str | None = None,
    note: str = "",
    send_back: bool = False,
) -> list[int]:
    """Sign off frames of a label file's review at ``level`` (or, with ``send_back``, return
    them to the annotator), written to the review file under the label file's lock.

    ``frames`` default: every flagged frame at the level before ``level`` (for ``send_back``:
    every flagged frame at ``level``). ``user`` defaults to ``$FUSIONLABEL_USER`` or the login
    name. An open app session on the file will be told to reopen it when it saves (the review
    file changed under it). Returns the frames changed.

    Raises
    ------
    DataError : no label or review file; ReviewLevelError : a frame not at the right level
    """
    from fusionlabel.core import review as R
    from fusionlabel.core.atomic import locked
    from fusionlabel.io.native_labels import read_labels
    from fusionlabel.io.review_file import find_review, read_review, review_path, write_review
    from fusionlabel.io.session import current_user, now_utc

    if level not in LEVELS:
        raise R.ReviewLevelError(f"unknown review level {level!r}; use one of {', '.join(LEVELS)}")
    lp = resolve_label_path(path)
    who, when = user or current_user(), now_utc()
    with locked(lp):
        rp = find_review(lp)
        if rp is None:
            raise DataError(lp, f"no review file beside it ({review_path(lp).name}) to sign off in")
        review = read_review(rp)
        if frames is None:
            want = level if send_back else (None if level == LEVELS[0] else LEVELS[LEVELS.index(level) - 1])
            frames = [f for f in review.flagged() if frame_level(review, f) == want]
        frames = list(dict.fromkeys(frames))  # a frame named twice is signed once
        n = review.queue.num_frames if review.queue is not None else 0
        past = [f for f in frames if n and f >= n]
        if past:
            raise DataError(lp, f"frame {past[0] + 1} is past the recording's {n} frames: nothing signed")
        for f in frames:
            review = (
                R.send_back(review, f, who, when, note, level)
                if send_back
                else R.sign_off(review, f, level, who, when, note)
            )
        labels = read_labels(lp) if lp.suffix == ".json" else None
        write_review(review_path(lp) if rp.name != review_path(lp).name else rp, review, labels)
    return list(frames)


def review_summary_if_any(path: str | Path) -> dict[str, Any] | None:
    """:func:`review_summary` when ``path`` is a native label file with a review file beside it,
    else None (other label formats carry no review). A broken review file still raises."""
    from fusionlabel.io.review_file import find_review

    try:
        p = resolve_label_path(path)
    except DataError:  # no label file there: nothing to review
        return None
    if p.suffix != ".json" or not p.is_file() or find_review(p) is None:
        return None
    return review_summary(p)


def open_frames_line(summary: dict[str, Any]) -> str | None:
    """One line telling that flagged frames are still open, or None when the review is done."""
    if summary["open"] == 0:
        return None
    frames = [f["frame"] for f in summary["flagged_frames"] if f["open"]]
    shown = ", ".join(str(f + 1) for f in frames[:10]) + (" ..." if len(frames) > 10 else "")
    return (
        f"note: {summary['open']} of {summary['flagged']} flagged frame(s) are still open in "
        f"{summary['review_file']} (frames {shown}); `fusionlabel review {summary['labels']}` lists them"
    )
