"""An editing session on disk: the label file, its review state, autosave and crash recovery.

Files, for a label file ``L`` (e.g. ``<recording>/labels.json``):

``L``
    the labels, native label format (:mod:`fusionlabel.io.native_labels`), written only by an
    explicit save, atomically (temp file, fsync, rename). A file this version cannot read
    (corrupt, or written by a newer FusionLabel) is refused at open and never overwritten.
``L.stem + ".review.json"`` beside it
    the review queue of the last pre-labelling run and who resolved which flagged frame when
    (``fusionlabel.review_state`` version 1).
``"." + L.name + ".autosave"`` beside it
    the whole session (labels, review state, current frame), written atomically every few edits.
    It exists only while there is unsaved work: a save or an explicit "discard" removes it. Found
    at the next open, it means the app crashed or was killed; the app offers to restore it.

Example
-------
>>> import tempfile, pathlib
>>> from fusionlabel.core.labels import LabelSet
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> st = SessionState(LabelSet(), frame=3)
>>> _ = write_autosave(st, d / "labels.json")
>>> read_autosave(d / "labels.json").state.frame
3
>>> save(st, d / "labels.json"); read_autosave(d / "labels.json") is None
True
"""

from __future__ import annotations

import datetime as _dt
import getpass
import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.io.native_labels import labels_from_dict, labels_to_dict, read_labels, write_labels
from fusionlabel.track.review import ReviewQueue

SESSION_FORMAT = "fusionlabel.session"
REVIEW_STATE_FORMAT = "fusionlabel.review_state"
VERSION = 1


@dataclass(frozen=True)
class Resolution:
    """A flagged frame marked resolved: by whom (user name), when (ISO 8601 UTC), optional note."""

    frame: int
    user: str
    time: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"frame": self.frame, "user": self.user, "time": self.time, "note": self.note}


@dataclass(frozen=True)
class SessionState:
    """Everything an editing session would lose in a crash.

    labels : the current labels (ego frame); review : the review queue or None;
    resolutions : frame -> :class:`Resolution`; frame : the frame on screen
    """

    labels: LabelSet
    review: ReviewQueue | None = None
    resolutions: Mapping[int, Resolution] = field(default_factory=dict)
    frame: int = 0


def current_user() -> str:
    """The annotator's name: ``$FUSIONLABEL_USER``, else the login name (``getpass.getuser``)."""
    name = os.environ.get("FUSIONLABEL_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def resolve(state: SessionState, frame: int, note: str = "", user: str | None = None) -> SessionState:
    """``state`` with ``frame`` marked resolved by ``user`` (default :func:`current_user`) now."""
    res = dict(state.resolutions)
    res[int(frame)] = Resolution(int(frame), user or current_user(), now_utc(), note)
    return replace(state, resolutions=res)


def label_path_for(rec: Recording) -> Path:
    """The label file a session edits for ``rec``.

    A native recording's own ``labels.json`` (the one its manifest names, else
    ``<recording>/labels.json``). Other formats are read-only datasets: their labels go to the
    user data directory (``platformdirs.user_data_dir("fusionlabel")/labels``), one file per
    recording path.
    """
    own = rec.editable_labels_path  # never a dataset's own label file (KITTI label_02 ...)
    if own is not None:
        return Path(own)
    if rec.format == "native":
        return Path(rec.path) / "labels.json"
    import platformdirs

    key = hashlib.sha1(str(Path(rec.path).resolve()).encode()).hexdigest()[:10]
    return Path(platformdirs.user_data_dir("fusionlabel")) / "labels" / f"{Path(rec.path).name}-{key}.json"


def autosave_path(label_path: Path) -> Path:
    label_path = Path(label_path)
    return label_path.with_name(f".{label_path.name}.autosave")


def review_path(label_path: Path) -> Path:
    label_path = Path(label_path)
    return label_path.with_name(f"{label_path.stem}.review.json")


def _review_to_dict(state: SessionState) -> dict[str, Any]:
    return {
        "queue": state.review.to_dict() if state.review is not None else None,
        "resolutions": [r.to_dict() for _, r in sorted(state.resolutions.items())],
    }


def _review_from_dict(d: Any, path: Path) -> tuple[ReviewQueue | None, dict[int, Resolution]]:
    try:
        q = ReviewQueue.from_dict(d["queue"]) if d.get("queue") is not None else None
        res = {int(r["frame"]): Resolution(int(r["frame"]), str(r["user"]), str(r["time"]), str(r.get("note", "")))
               for r in d.get("resolutions") or []}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptFileError(path, f"bad review state: {type(exc).__name__}: {exc}") from None
    return q, res


def _read_json(path: Path, fmt: str) -> dict[str, Any]:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CorruptFileError(path, f"cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFileError(path, f"not valid JSON ({type(exc).__name__})") from None
    if not isinstance(d, dict) or d.get("format") != fmt:
        raise CorruptFileError(path, f"not a {fmt} file")
    v = d.get("version")
    if not isinstance(v, int):
        raise CorruptFileError(path, "no integer 'version'")
    if v > VERSION:
        raise CorruptFileError(path, f"version {v} was written by a newer FusionLabel (this one reads <= {VERSION})")
    return d


def load(label_path: Path) -> SessionState:
    """The saved session: labels (empty when the file does not exist yet) and review state.

    Raises :class:`CorruptFileError` naming the file when the label or review file is corrupt
    or from a newer version: the caller must not go on to overwrite it.
    """
    label_path = Path(label_path)
    labels = read_labels(label_path) if label_path.exists() else LabelSet()
    rp = review_path(label_path)
    review: ReviewQueue | None = None
    res: dict[int, Resolution] = {}
    if rp.exists():
        review, res = _review_from_dict(_read_json(rp, REVIEW_STATE_FORMAT), rp)
    return SessionState(labels, review, res)


def save(state: SessionState, label_path: Path, timestamps_ns: Mapping[int, int] | None = None) -> None:
    """Write labels and review state atomically, then drop the autosave (no unsaved work left).

    Refuses (:class:`CorruptFileError`) to replace a label or review file it cannot read.
    """
    label_path = Path(label_path)
    rp = review_path(label_path)
    if rp.exists():
        _read_json(rp, REVIEW_STATE_FORMAT)  # refuse before writing anything
    write_labels(state.labels, label_path, dict(timestamps_ns) if timestamps_ns else None)
    if state.review is not None or state.resolutions or rp.exists():
        atomic_write_text(rp, json.dumps({"format": REVIEW_STATE_FORMAT, "version": VERSION, **_review_to_dict(state)}, indent=1))
    discard_autosave(label_path)


def write_autosave(state: SessionState, label_path: Path) -> Path:
    """Write the whole session beside the label file, atomically; returns the autosave path."""
    p = autosave_path(label_path)
    d = {
        "format": SESSION_FORMAT,
        "version": VERSION,
        "saved_at": now_utc(),
        "user": current_user(),
        "label_file": str(Path(label_path).name),
        "frame": int(state.frame),
        "labels": labels_to_dict(state.labels),
        **_review_to_dict(state),
    }
    atomic_write_text(p, json.dumps(d, allow_nan=False))
    return p


@dataclass(frozen=True)
class AutosaveInfo:
    """What the recovery prompt shows: where, when saved, by whom, how many boxes."""

    path: Path
    saved_at: str
    user: str
    num_boxes: int
    state: SessionState


def read_autosave(label_path: Path) -> AutosaveInfo | None:
    """The autosave left by a crashed or killed session, or None when there is none.

    A corrupt or newer autosave raises :class:`CorruptFileError` (and is left where it is).
    """
    p = autosave_path(label_path)
    if not p.exists():
        return None
    d = _read_json(p, SESSION_FORMAT)
    labels = labels_from_dict(d.get("labels"), p)
    review, res = _review_from_dict(d, p)
    try:
        frame = int(d.get("frame", 0))
    except (TypeError, ValueError):
        raise CorruptFileError(p, "bad 'frame'") from None
    st = SessionState(labels, review, res, frame)
    return AutosaveInfo(p, str(d.get("saved_at", "?")), str(d.get("user", "?")), labels.num_boxes(), st)


def discard_autosave(label_path: Path) -> None:
    try:
        autosave_path(label_path).unlink()
    except FileNotFoundError:
        pass


class Autosaver:
    """Counts edits and writes the autosave every ``every`` edits (no timers, no threads).

    The app calls :meth:`edited` after each edit (and may call :meth:`flush` on a timer);
    :meth:`saved` resets the count after an explicit save.
    """

    def __init__(self, label_path: Path, every: int = 5) -> None:
        self.label_path = Path(label_path)
        self.every = max(1, int(every))
        self.pending = 0
        self.writes = 0

    def edited(self, state: SessionState) -> bool:
        """Note one edit; write the autosave when due. Returns True when it wrote."""
        self.pending += 1
        if self.pending >= self.every:
            self.flush(state)
            return True
        return False

    def flush(self, state: SessionState) -> None:
        """Write now if there are unwritten edits."""
        if self.pending:
            write_autosave(state, self.label_path)
            self.pending = 0
            self.writes += 1

    def saved(self) -> None:
        self.pending = 0
