"""The review file: one format, one reader, one writer for the review queue and its resolutions.

Where it lives: beside the label file it belongs to, named after it, ``<stem>.review.json``
(:func:`review_path`): ``labels.json`` -> ``labels.review.json`` (``fusionlabel prelabel`` and
the app), ``0001.txt`` -> ``0001.review.json`` (``fusionlabel track --format kitti``).

Schema (``"format": "fusionlabel.review"``, version 3)::

    {
      "format": "fusionlabel.review", "version": 3,
      "num_frames": 447,                 frames in the recording
      "max_fraction": 0.1,               the review budget used (fraction of frames), or null
      "score_threshold": 3.0,            the pre-labels' operating point, or null
      "provenance": {...},               who made the queue (detector, configuration); free-form
      "frames": [                        the flagged frames, most suspicious first
        {"frame": 12,                    0-based frame index, as in the label file
         "score": 0.83,                  probability that the frame holds an ID error
         "reasons": [{"track_id": 3, "reason": "crossing", "severity": 0.9}],
         "digest": "5f0c...",            the frame's boxes when queued (fusionlabel.core.review.frame_digest)
         "state": "proposed",            proposed | accepted | edited when written (readers recompute it)
         "resolution": null | {"user": "ann", "time": "2026-12-07T10:00:00+00:00", "note": ""},
         "level": "reviewer"}            annotator | reviewer | qa | null when written (readers recompute it)
      ],
      "signoffs": [                      the review-level log, in time order (fusionlabel.core.review.SignOff)
        {"frame": 12, "level": "reviewer", "action": "approve", "user": "rev",
         "time": "2026-12-07T11:00:00+00:00", "note": ""}
      ]
    }

Version 3 added ``signoffs`` (the annotator -> reviewer -> QA levels) and each frame's ``level``;
a version 2 file migrates by getting an empty log (its resolutions stand for the annotator's
level, as they do in version 3).

Older files migrate on read (version 2 -> 3 as above): ``fusionlabel.review_queue/1`` (what ``prelabel`` and ``track``
wrote as ``review.json`` / ``<seq>.review.json``) and ``fusionlabel.review_state`` version 1 (the
app's ``labels.review.json``: the queue plus resolutions). A file of a newer version, or that is
not a review file, is refused with a :class:`~fusionlabel.core.errors.CorruptFileError` naming it.

Example
-------
>>> import tempfile
>>> from pathlib import Path
>>> from fusionlabel.core.review import Review, ReviewItem, ReviewQueue
>>> p = Path(tempfile.mkdtemp()) / "labels.review.json"
>>> write_review(p, Review(ReviewQueue((ReviewItem(4, 0.5, ()),), 50)))
>>> read_review(p).queue.frames
[4]
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.review import Resolution, Review, ReviewItem, ReviewQueue, SignOff, frame_level, frame_state
from fusionlabel.io.versioned import VersionedFormat, dump_versioned, migrate_document, read_versioned, write_versioned

SUFFIX = ".review.json"
#: the name ``fusionlabel prelabel`` gave the review queue before version 2 (beside ``labels.json``)
LEGACY_PRELABEL_NAME = "review.json"


def _queue_v1_to_v2(d: dict[str, Any], path: Path) -> dict[str, Any]:
    """``fusionlabel.review_queue/1`` -> version 2 (no digests, no resolutions)."""
    return {
        "format": "fusionlabel.review",
        "version": 2,
        "num_frames": int(d["num_frames"]),
        "max_fraction": d.get("max_fraction"),
        "score_threshold": d.get("score_threshold"),
        "provenance": {},
        "frames": [
            {"frame": int(e["frame"]), "score": float(e["score"]), "reasons": list(e.get("reasons") or [])}
            for e in d["frames"]
        ],
    }


def _state_v1_to_v2(d: dict[str, Any], path: Path) -> dict[str, Any]:
    """``fusionlabel.review_state`` version 1 (the app's queue + resolutions) -> version 2."""
    v = d.get("version")
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError("no integer 'version'")
    if v > 1:
        raise ValueError(f"fusionlabel.review_state version {v} is newer than this FusionLabel reads (1)")
    q = d.get("queue")
    if q is None:
        out: dict[str, Any] = {
            "format": "fusionlabel.review",
            "version": 2,
            "num_frames": 0,
            "frames": [],
            "max_fraction": None,
            "score_threshold": None,
            "provenance": {},
        }
    else:
        out = _queue_v1_to_v2(q, path)
    res = {int(r["frame"]): r for r in d.get("resolutions") or []}
    for e in out["frames"]:
        r = res.get(e["frame"])
        if r is not None:
            e["resolution"] = {"user": str(r["user"]), "time": str(r["time"]), "note": str(r.get("note", ""))}
    out["queue_present"] = q is not None
    return out


def _v2_to_v3(d: dict[str, Any], path: Path) -> dict[str, Any]:
    """Version 2 -> 3: an empty sign-off log (resolutions stay the annotator's level)."""
    return {**d, "version": 3, "signoffs": []}


FORMAT = VersionedFormat(
    "fusionlabel.review",
    3,
    migrations={2: _v2_to_v3},
    legacy={"fusionlabel.review_queue/1": _queue_v1_to_v2, "fusionlabel.review_state": _state_v1_to_v2},
    what="review file",
)


def review_path(label_path: str | Path) -> Path:
    """The review file of a label (or tracking results) file: ``<stem>.review.json`` beside it."""
    p = Path(label_path)
    return p.with_name((p.stem if p.suffix in (".json", ".txt") else p.name) + SUFFIX)


def find_review(label_path: str | Path) -> Path | None:
    """The review file that goes with ``label_path``: :func:`review_path` when it exists, else
    the ``review.json`` an older ``fusionlabel prelabel`` wrote beside ``labels.json``; None when
    there is none."""
    p = review_path(label_path)
    if p.is_file():
        return p
    legacy = Path(label_path).with_name(LEGACY_PRELABEL_NAME)
    if Path(label_path).name == "labels.json" and legacy.is_file():
        return legacy
    return None


def _finite_or_none(v: Any, key: str) -> float | None:
    if v is None:
        return None
    x = float(v)
    if math.isnan(x):
        raise ValueError(f"{key} is NaN")
    return x


def review_from_dict(d: Any, path: str | Path = "<review>") -> Review:
    """Parse a review document of any known version (migrating it); errors name ``path``."""
    path = Path(path)
    d = migrate_document(d, FORMAT, path)
    try:
        items = []
        res: dict[int, Resolution] = {}
        seen: set[int] = set()
        for e in d["frames"]:
            f = int(e["frame"])
            if f < 0:
                raise ValueError(f"frame {f} is not a frame number (an integer from 0)")
            if f in seen:
                raise ValueError(f"frame {f} is listed twice")
            seen.add(f)
            score = float(e["score"])
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"frame {f}: score {score} outside [0, 1]")
            reasons = tuple(dict(r) for r in e.get("reasons") or ())
            digest = e.get("digest")
            items.append(ReviewItem(f, score, reasons, None if digest is None else str(digest)))
            r = e.get("resolution")
            if r is not None:
                res[f] = Resolution(f, str(r["user"]), str(r["time"]), str(r.get("note", "")))
        num_frames = int(d["num_frames"])
        if num_frames < 0:
            raise ValueError("num_frames < 0")
        queue = ReviewQueue(
            tuple(items),
            num_frames,
            _finite_or_none(d.get("max_fraction"), "max_fraction"),
            _finite_or_none(d.get("score_threshold"), "score_threshold"),
        )
        prov = d.get("provenance") or {}
        if not isinstance(prov, dict):
            raise ValueError("provenance is not an object")
        signoffs = tuple(
            SignOff(
                int(e["frame"]),
                str(e["level"]),
                str(e["user"]),
                str(e["time"]),
                str(e.get("note", "")),
                str(e.get("action", "approve")),
            )
            for e in d.get("signoffs") or ()
        )
        if any(so.frame < 0 for so in signoffs):
            raise ValueError("a sign-off names a negative frame")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptFileError(path, f"bad review file: {type(exc).__name__}: {exc}") from None
    if d.get("queue_present") is False:  # an app session that had resolutions but no queue
        return Review(None, res, prov, signoffs)
    return Review(queue, res, prov, signoffs)


def review_to_dict(review: Review, labels: LabelSet | None = None) -> dict[str, Any]:
    """The body of a version 3 review file (``format`` and ``version`` added by the writer).

    ``labels``, when given, are the current labels: each frame's ``state`` is written for
    readers that do not compute it. Resolutions of frames that are not queued are dropped.
    """
    q = review.queue
    if q is None:
        raise ValueError("a review without a queue has nothing to write")
    frames = []
    for it in q.items:
        e: dict[str, Any] = {
            "frame": int(it.frame),
            "score": round(float(it.score), 6),
            "reasons": [dict(r) for r in it.reasons],
        }
        if it.digest is not None:
            e["digest"] = it.digest
        r = review.resolutions.get(it.frame)
        if labels is not None:
            e["state"] = frame_state(it, labels.get(it.frame), r is not None)
        e["resolution"] = None if r is None else {"user": r.user, "time": r.time, "note": r.note}
        e["level"] = frame_level(review, it.frame)
        frames.append(e)
    return {
        "num_frames": int(q.num_frames),
        "max_fraction": q.max_fraction,
        "score_threshold": q.score_threshold,
        "provenance": dict(review.provenance),
        "frames": frames,
        "signoffs": [
            {"frame": e.frame, "level": e.level, "action": e.action, "user": e.user, "time": e.time, "note": e.note}
            for e in review.signoffs
        ],
    }


def read_review(path: str | Path) -> Review:
    """Read a review file of any known version; :class:`CorruptFileError` naming it on any defect."""
    path = Path(path)
    return review_from_dict(read_versioned(path, FORMAT), path)


def read_queue(path: str | Path) -> ReviewQueue:
    """The queue of a review file (one must be there)."""
    r = read_review(path)
    if r.queue is None:
        raise CorruptFileError(Path(path), "the review file holds no review queue")
    return r.queue


def write_review(path: str | Path, review: Review, labels: LabelSet | None = None) -> None:
    """Write a review file (current version), atomically; see :func:`review_to_dict`."""
    write_versioned(path, FORMAT, review_to_dict(review, labels))


def review_text(review: Review, labels: LabelSet | None = None) -> str:
    """The text :func:`write_review` writes."""
    return dump_versioned(FORMAT, review_to_dict(review, labels))


def check_writable(path: str | Path) -> None:
    """Refuse (:class:`CorruptFileError`) when ``path`` exists and is not a review file this
    FusionLabel can read: never overwrite what we do not understand."""
    p = Path(path)
    if p.exists():
        read_review(p)
