"""An editing session on disk: the label file, its review file, autosave, crash recovery and
the check that nobody else wrote the files meanwhile.

Files, for a label file ``L`` (e.g. ``<recording>/labels.json`` or ``OUT/<name>/labels.json``
written by ``fusionlabel prelabel``):

``L``
    the labels, native label format (:mod:`fusionlabel.io.native_labels`), written only by an
    explicit save, atomically (temp file, fsync, rename; the file keeps its mode). A file this
    version cannot read (corrupt, or written by a newer FusionLabel) is refused at open and
    never overwritten.
``L.stem + ".review.json"`` beside it (:func:`fusionlabel.io.review_file.review_path`)
    the review queue and who resolved which flagged frame when: the one review file format
    (:mod:`fusionlabel.io.review_file`), written by ``prelabel``, ``track`` and here. An older
    ``prelabel``'s ``review.json`` beside ``labels.json`` is read when there is no other.
``"." + L.name + ".autosave"`` beside it
    the whole session (labels, review state, current frame), written atomically every few edits.
    It exists only while there is unsaved work: a save or an explicit "discard" removes it. Found
    at the next open, it means the app crashed or was killed; the app offers to restore it.
``"." + L.name + ".lock"`` beside it
    an empty lock file: writers of ``L`` (sessions, ``prelabel``) take it while they check and write.

Two writers: :func:`load` records the version of ``L`` and its review file on disk
(:func:`disk_version`, a content hash) in :attr:`SessionState.base`; :func:`save` writes only
while they are unchanged, under the lock, and raises :class:`ConcurrentEditError` otherwise (the
other writer's work is on disk, this session's stays in memory and in its autosave). Temp files
that killed writers left beside these files are removed at :func:`load`.

Example
-------
>>> import tempfile, pathlib
>>> from fusionlabel.core.labels import LabelSet
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> st = SessionState(LabelSet(), frame=3)
>>> _ = write_autosave(st, d / "labels.json")
>>> read_autosave(d / "labels.json").state.frame
3
>>> _ = save(st, d / "labels.json"); read_autosave(d / "labels.json") is None
True
"""

from __future__ import annotations

import datetime as _dt
import getpass
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fusionlabel.core.atomic import clean_stale_tmp, locked
from fusionlabel.core.errors import ConcurrentEditError, CorruptFileError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.review import Resolution, Review, ReviewQueue
from fusionlabel.io import review_file
from fusionlabel.io.native_labels import labels_from_dict, labels_to_dict, read_labels, write_labels
from fusionlabel.io.versioned import VersionedFormat, dump_versioned, read_versioned

#: the autosave file (version 1: labels + the app's review state; version 2 adds ``base`` and a
#: review in the :mod:`fusionlabel.io.review_file` layout)
AUTOSAVE = VersionedFormat(
    "fusionlabel.session", 2, migrations={1: lambda d, p: {**d, "version": 2, "base_unknown": True}}, what="autosave"
)


@dataclass(frozen=True)
class SessionState:
    """Everything an editing session would lose in a crash.

    labels : the current labels (ego frame)
    review : the review queue or None
    resolutions : frame -> :class:`~fusionlabel.core.review.Resolution`
    frame : the frame on screen
    base : :func:`disk_version` of the label and review files this state started from (None:
        there were none); :func:`save` refuses to write over files that changed since
    provenance : where the review queue came from (kept through saves)
    """

    labels: LabelSet
    review: ReviewQueue | None = None
    resolutions: Mapping[int, Resolution] = field(default_factory=dict)
    frame: int = 0
    base: str | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def to_review(self) -> Review:
        """The review model of this state (queue, resolutions, provenance)."""
        return Review(self.review, dict(self.resolutions), dict(self.provenance))


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
    """Where this session writes its review file (:func:`fusionlabel.io.review_file.review_path`)."""
    return review_file.review_path(label_path)


def _file_hash(path: Path | None) -> str:
    if path is None:
        return "-"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:20]
    except FileNotFoundError:
        return "-"


def disk_version(label_path: Path) -> str | None:
    """A hash of what is on disk now: the label file and its review file (None: neither exists).

    Two reads that return the same value saw the same bytes; any write by anyone changes it.
    """
    label_path = Path(label_path)
    lh = _file_hash(label_path)
    rh = _file_hash(review_file.find_review(label_path))
    return None if lh == rh == "-" else f"{lh}:{rh}"


def clean_stale(label_path: Path) -> list[Path]:
    """Remove temp files that killed writers left beside the label, review and autosave files."""
    label_path = Path(label_path)
    out: list[Path] = []
    for p in (label_path, review_path(label_path), autosave_path(label_path)):
        out += clean_stale_tmp(p)
    return out


def load(label_path: Path) -> SessionState:
    """The saved session: labels (empty when the file does not exist yet) and review state.

    Raises :class:`CorruptFileError` naming the file when the label or review file is corrupt
    or from a newer version: the caller must not go on to overwrite it.
    """
    label_path = Path(label_path)
    clean_stale(label_path)
    base = disk_version(label_path)
    labels = read_labels(label_path) if label_path.exists() else LabelSet()
    rp = review_file.find_review(label_path)
    review = review_file.read_review(rp) if rp is not None else Review()
    return SessionState(labels, review.queue, dict(review.resolutions), 0, base, dict(review.provenance))


def save(
    state: SessionState, label_path: Path, timestamps_ns: Mapping[int, int] | None = None, check: bool = True
) -> str | None:
    """Write labels and review state atomically, then drop the autosave (no unsaved work left).

    Returns the new :func:`disk_version` (the ``base`` of the saved state).

    Raises
    ------
    ConcurrentEditError : ``check`` and the files on disk are not those ``state.base`` was read
        from (another session or a pre-label run wrote them): nothing is written
    CorruptFileError : the label or review file on disk cannot be read (never replaced)
    """
    label_path = Path(label_path)
    rp = review_path(label_path)
    with locked(label_path):
        # refuse what cannot be read first: that is the real problem, whoever wrote it
        review_file.check_writable(rp)
        if label_path.exists():
            read_labels(label_path)
        if check:
            now = disk_version(label_path)
            if now != state.base:
                raise ConcurrentEditError(
                    label_path,
                    "changed on disk since this session read it (another session or a pre-label run wrote it); "
                    "nothing was written: your work is kept in the session (and its autosave). Reopen the file "
                    "to see the other changes, or save under another name",
                )
        write_labels(state.labels, label_path, dict(timestamps_ns) if timestamps_ns else None)
        if state.review is not None:
            review_file.write_review(rp, state.to_review(), state.labels)
        new_base = disk_version(label_path)
    discard_autosave(label_path)
    return new_base


def write_autosave(state: SessionState, label_path: Path) -> Path:
    """Write the whole session beside the label file, atomically; returns the autosave path."""
    from fusionlabel.core.atomic import atomic_write_text

    p = autosave_path(label_path)
    d: dict[str, Any] = {
        "saved_at": now_utc(),
        "user": current_user(),
        "label_file": str(Path(label_path).name),
        "frame": int(state.frame),
        "base": state.base,
        "labels": labels_to_dict(state.labels),
        "review": review_file.review_to_dict(state.to_review()) if state.review is not None else None,
        "resolutions": [
            {"frame": r.frame, "user": r.user, "time": r.time, "note": r.note}
            for _, r in sorted(state.resolutions.items())
        ],
    }
    atomic_write_text(p, dump_versioned(AUTOSAVE, d, indent=None))
    return p


@dataclass(frozen=True)
class AutosaveInfo:
    """What the recovery prompt shows: where, when saved, by whom, how many boxes."""

    path: Path
    saved_at: str
    user: str
    num_boxes: int
    state: SessionState


def _autosave_review(d: dict[str, Any], p: Path) -> tuple[ReviewQueue | None, dict[int, Resolution], dict[str, Any]]:
    if d.get("base_unknown") or "queue" in d:  # version 1: the app's review_state layout inline
        legacy = {
            "format": "fusionlabel.review_state",
            "version": 1,
            "queue": d.get("queue"),
            "resolutions": d.get("resolutions"),
        }
        r = review_file.review_from_dict(legacy, p)
        return r.queue, dict(r.resolutions), dict(r.provenance)
    review = d.get("review")
    queue, prov = None, {}
    if review is not None:
        r = review_file.review_from_dict(
            {"format": review_file.FORMAT.name, "version": review_file.FORMAT.version, **review}, p
        )
        queue, prov = r.queue, dict(r.provenance)
    try:
        res = {
            int(r["frame"]): Resolution(int(r["frame"]), str(r["user"]), str(r["time"]), str(r.get("note", "")))
            for r in d.get("resolutions") or []
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptFileError(p, f"bad resolutions: {type(exc).__name__}: {exc}") from None
    return queue, res, prov


def read_autosave(label_path: Path) -> AutosaveInfo | None:
    """The autosave left by a crashed or killed session, or None when there is none.

    A corrupt or newer autosave raises :class:`CorruptFileError` (and is left where it is).
    """
    p = autosave_path(label_path)
    if not p.exists():
        return None
    raw = read_versioned(p, AUTOSAVE)
    labels = labels_from_dict(raw.get("labels"), p)
    queue, res, prov = _autosave_review(raw, p)
    try:
        frame = int(raw.get("frame", 0))
    except (TypeError, ValueError):
        raise CorruptFileError(p, "bad 'frame'") from None
    base = raw.get("base")
    if raw.get("base_unknown"):
        base = disk_version(label_path)  # version 1 recorded none: trust the files as they are
    st = SessionState(labels, queue, res, frame, None if base is None else str(base), prov)
    return AutosaveInfo(p, str(raw.get("saved_at", "?")), str(raw.get("user", "?")), labels.num_boxes(), st)


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
