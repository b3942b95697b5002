"""An editing session on disk: the label file, its review file, the journal of unsaved edits,
crash recovery and the check that nobody else wrote the files meanwhile.

(Longer than a module usually is: the journal's format, reader and writer live here beside the
session state they record, since recovery reads both and splitting them would make a cycle.)

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
``"." + L.name + ".journal"`` beside it
    every edit of the session, on disk before it shows (:class:`Journal`): JSON lines, the first
    the whole session at its start (labels, review state, current frame, the ``base`` it was read
    from), then one line per undo command done, undone or redone with the frames it changes
    (before and after) or the review state, each appended and ``fsync``-ed; ``{"op": "close"}``
    marks a normal exit that kept unsaved work. It exists only while there is unsaved work: a
    save or an explicit "discard" removes it. Found at the next open, it is the unsaved work
    (:func:`read_journal` replays it, a torn last line ignored), the undo history included; the
    app offers to restore it, saying whether the last session crashed or closed without saving.
``"." + L.name + ".autosave"`` beside it
    the whole session in one file, as versions before the journal wrote it every few edits (and
    :func:`write_autosave` still can): read at the next open when there is no journal.
``"." + L.name + ".lock"`` beside it
    an empty lock file: writers of ``L`` (sessions, ``prelabel``) take it while they check and write.
``"." + L.name + ".editing"`` beside it
    the claim of the one window that edits ``L`` (:class:`EditClaim`, an ``flock`` held while the
    window is open, with who holds it): a second window on ``L`` opens it read-only.

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
import errno
import getpass
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.atomic import (
    atomic_write_text,
    clean_stale_tmp,
    current_umask,
    file_sha256,
    locked,
    write_error,
)
from fusionlabel.core.errors import (
    ConcurrentEditError,
    CorruptFileError,
    DataError,
    EditingElsewhereError,
    WriteError,
)
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.review import Resolution, Review, ReviewQueue, SignOff
from fusionlabel.io import review_file
from fusionlabel.io.native_labels import (
    align_to_timestamps,
    labels_from_dict,
    labels_text,
    labels_to_dict,
    read_labels,
    read_native_labels,
)
from fusionlabel.io.versioned import VersionedFormat, dump_versioned, migrate_document, read_versioned

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
    signoffs : the review-level log (reviewer and QA sign-offs; kept through saves)
    """

    labels: LabelSet
    review: ReviewQueue | None = None
    resolutions: Mapping[int, Resolution] = field(default_factory=dict)
    frame: int = 0
    base: str | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    signoffs: tuple[SignOff, ...] = ()

    def to_review(self) -> Review:
        """The review model of this state (queue, resolutions, provenance, sign-offs)."""
        return Review(self.review, dict(self.resolutions), dict(self.provenance), tuple(self.signoffs))


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


#: hex digits of a file's SHA-256 that :func:`disk_version` keeps
_HASH_CHARS = 20


def _file_hash(path: Path | None) -> str:
    if path is None:
        return "-"
    try:
        return file_sha256(path)[:_HASH_CHARS]
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
    """Remove temp files that killed writers left beside the label, review, autosave and journal files."""
    label_path = Path(label_path)
    out: list[Path] = []
    for p in (
        label_path,
        review_path(label_path),
        autosave_path(label_path),
        journal_path(label_path),
        saving_path(label_path),
    ):
        out += clean_stale_tmp(p)
    return out


def load(label_path: Path, timestamps_ns: NDArray[np.int64] | None = None) -> SessionState:
    """The saved session: labels (empty when the file does not exist yet) and review state.

    ``timestamps_ns``, the recording's frame times: labelled frames whose stored timestamps
    sit at other frames move there (:func:`~fusionlabel.io.native_labels.align_to_timestamps`).

    Raises :class:`CorruptFileError` naming the file when the label or review file is corrupt
    or from a newer version: the caller must not go on to overwrite it.
    """
    label_path = Path(label_path)
    clean_stale(label_path)
    base = disk_version(label_path)
    labels = LabelSet()
    if label_path.exists():
        labels, times = read_native_labels(label_path)
        if timestamps_ns is not None:
            labels = align_to_timestamps(labels, times, timestamps_ns)
    rp = review_file.find_review(label_path)
    review = review_file.read_review(rp) if rp is not None else Review()
    return SessionState(
        labels, review.queue, dict(review.resolutions), 0, base, dict(review.provenance), review.signoffs
    )


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
        now = disk_version(label_path) if check else None
        # the file this session read (and parsed at load) needs no second parse
        if label_path.exists() and not (check and state.base is not None and now == state.base):
            read_labels(label_path)
        if check:
            # what changed may be this session's own save, cut off (a kill, a full disk)
            if now != state.base and rebase_own_save(state, label_path, now).base != now:
                raise ConcurrentEditError(
                    label_path,
                    "changed on disk since this session read it (another session or a pre-label run wrote it); "
                    "nothing was written: your work is kept in the session (and its autosave). Reopen the file "
                    "to see the other changes, or save under another name",
                )
        ltext = labels_text(state.labels, label_path, dict(timestamps_ns) if timestamps_ns else None)
        rtext = None
        if state.review is not None:
            review = state.to_review()
            if not review.signoffs and rp.exists():  # a state that did not carry the level log keeps the file's
                review = replace(review, signoffs=review_file.read_review(rp).signoffs)
            rtext = review_file.review_text(review, state.labels)
        # what this save is about to write, first (see rebase_own_save): a kill between the two
        # writes or before the journal is removed leaves the restored session able to save in
        # place. Without it (a full disk, a read-only folder) the writes below fail and say so.
        marker = json.dumps(
            {
                "from": state.base,
                "labels": _text_hash(ltext),
                "review": _text_hash(rtext),
                "work": work_digest(state),
            }
        )
        try:
            atomic_write_text(saving_path(label_path), marker)
        except OSError:
            pass
        atomic_write_text(label_path, ltext)
        if rtext is not None:
            atomic_write_text(rp, rtext)
        new_base = disk_version(label_path)
        # the unsaved work goes, then the marker (this save's only: advisory, never an error)
        _discard_unsaved(label_path)
        try:
            if saving_path(label_path).read_text("utf-8") == marker:
                saving_path(label_path).unlink()
        except OSError:
            pass
    return new_base


def saving_path(label_path: Path) -> Path:
    """The marker a save writes before the files (what it writes, from which version)."""
    label_path = Path(label_path)
    return label_path.with_name(f".{label_path.name}.saving")


def _text_hash(text: str | None) -> str | None:
    """:func:`disk_version`'s hash of a file holding ``text``."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_CHARS]


def work_digest(state: SessionState) -> str:
    """A hash of a session's work: its labels, review queue and resolutions (not where or when)."""
    work = {
        "labels": labels_to_dict(state.labels)["frames"],
        "review": review_file.review_to_dict(Review(state.review, dict(state.resolutions)))
        if state.review is not None
        else None,
        "resolutions": _resolutions_to_list(state.resolutions),
    }
    return hashlib.sha256(json.dumps(work, sort_keys=True, allow_nan=True).encode("utf-8")).hexdigest()


def write_autosave(state: SessionState, label_path: Path) -> Path:
    """Write the whole session beside the label file, atomically; returns the autosave path."""
    p = autosave_path(label_path)
    atomic_write_text(p, dump_versioned(AUTOSAVE, _state_to_dict(state, label_path), indent=None))
    return p


def _resolutions_to_list(resolutions: Mapping[int, Resolution]) -> list[dict[str, Any]]:
    return [{"frame": r.frame, "user": r.user, "time": r.time, "note": r.note} for _, r in sorted(resolutions.items())]


def _state_to_dict(state: SessionState, label_path: Path) -> dict[str, Any]:
    """The whole session as the autosave (and the journal's first line) store it."""
    return {
        "saved_at": now_utc(),
        "user": current_user(),
        "label_file": str(Path(label_path).name),
        "frame": int(state.frame),
        "base": state.base,
        "labels": labels_to_dict(state.labels),
        "review": review_file.review_to_dict(state.to_review()) if state.review is not None else None,
        "resolutions": _resolutions_to_list(state.resolutions),
    }


def _state_from_dict(raw: dict[str, Any], p: Path, label_path: Path) -> SessionState:
    """The inverse of :func:`_state_to_dict` (errors name ``p``)."""
    labels = labels_from_dict(raw.get("labels"), p)
    queue, res, prov = _autosave_review(raw, p)
    try:
        frame = int(raw.get("frame", 0))
    except (TypeError, ValueError, OverflowError):
        raise CorruptFileError(p, "bad 'frame'") from None
    base = raw.get("base")
    if raw.get("base_unknown"):
        base = disk_version(label_path)  # version 1 recorded none: trust the files as they are
    return SessionState(labels, queue, res, frame, None if base is None else str(base), prov)


@dataclass(frozen=True)
class AutosaveInfo:
    """What the recovery prompt shows: where, when saved, by whom, how many boxes.

    crashed : the session did not close normally (False: it closed, keeping unsaved work)
    journal : the journal it came from (None for an autosave): its undo history
    """

    path: Path
    saved_at: str
    user: str
    num_boxes: int
    state: SessionState
    crashed: bool = True
    journal: JournalInfo | None = None


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


def _split_version(v: str | None) -> tuple[str, str]:
    lh, _, rh = (v or "-:-").partition(":")
    return lh, rh or "-"


def rebase_own_save(state: SessionState, label_path: Path, now: str | None = None) -> SessionState:
    """``state`` with ``base`` moved to what is on disk when what changed there since ``base``
    is this session's own save, cut off by a kill before it removed the journal or autosave.

    :func:`save` writes a marker (:func:`saving_path`: the version it saves over, the hashes of
    the two files it is about to write, a digest of the work), then the label file, then the
    review file, then removes the journal, the autosave and the marker: a ``kill -9`` in between
    leaves a journal (or autosave) whose ``base`` names the files before that save, and the
    restored session could never save in place again. The base moves only when the marker was
    written over this ``base`` for exactly this work and each file on disk is byte for byte
    either the one ``base`` names or the one the save wrote; anything else (another writer's
    change, however small) keeps ``base``, and :func:`save` refuses. ``now``: the
    :func:`disk_version` the caller just read (default: read here).
    """
    label_path = Path(label_path)
    now = disk_version(label_path) if now is None else now
    if now == state.base:
        return state
    try:
        m = json.loads(saving_path(label_path).read_text("utf-8"))
    except (OSError, ValueError):
        return state
    if not isinstance(m, dict) or m.get("from") != state.base or m.get("work") != work_digest(state):
        return state
    (_, br), (nl, nr) = _split_version(state.base), _split_version(now)
    # the states the save passes through, in its order: label file new, then review file new
    if nl != m.get("labels") or nr not in (br, m.get("review") or br):
        return state
    return replace(state, base=now)


def read_autosave(label_path: Path) -> AutosaveInfo | None:
    """The autosave left by a crashed or killed session, or None when there is none.

    A corrupt or newer autosave raises :class:`CorruptFileError` (and is left where it is).
    """
    j = read_journal(label_path)
    if j is not None:
        return AutosaveInfo(j.path, j.saved_at, j.user, j.state.labels.num_boxes, j.state, not j.closed, j)
    p = autosave_path(label_path)
    if not p.exists():
        return None
    raw = read_versioned(p, AUTOSAVE)
    st = rebase_own_save(_state_from_dict(raw, p, label_path), label_path)
    return AutosaveInfo(p, str(raw.get("saved_at", "?")), str(raw.get("user", "?")), st.labels.num_boxes, st)


def _discard_unsaved(label_path: Path) -> None:
    for p in (journal_path(label_path), autosave_path(label_path)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def discard_autosave(label_path: Path) -> None:
    """Remove the unsaved work of a session (the annotator's "discard"): its journal and its
    autosave; and a cut-off save's marker, best effort (it is advisory)."""
    _discard_unsaved(label_path)
    try:
        saving_path(label_path).unlink()
    except OSError:
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


# -------------------------------------------------------------------------------------------------
# the journal: every edit on disk (fsynced) before it shows
# -------------------------------------------------------------------------------------------------
#: the journal's first line (the session at its start); the lines after it are edits
JOURNAL = VersionedFormat("fusionlabel.journal", 1, what="journal")


def journal_path(label_path: Path) -> Path:
    label_path = Path(label_path)
    return label_path.with_name(f".{label_path.name}.journal")


@dataclass(frozen=True)
class Change:
    """What one undo command changes, both ways.

    kind ``"labels"``: ``before`` / ``after`` map each changed frame to its
    :class:`~fusionlabel.core.labels.FrameLabels` (None: the frame has no labels). kind
    ``"review"``: ``before`` / ``after`` are ``(queue, resolutions)``; a queue of None with
    ``same_queue`` means it did not change (only resolutions did).
    """

    kind: str
    before: Any
    after: Any
    same_queue: bool = False


def labels_change(before: LabelSet, after: LabelSet) -> Change:
    """The frames ``after`` changed relative to ``before`` (unchanged frames are shared objects
    in edited label sets, so this costs a dict walk, and the change holds only those frames)."""
    keys = [k for k in {*before.frames, *after.frames} if before.frames.get(k) is not after.frames.get(k)]
    return Change("labels", {k: before.frames.get(k) for k in keys}, {k: after.frames.get(k) for k in keys})


def review_change(before: SessionState, after: SessionState) -> Change:
    """A change of the review state (queue replaced, frames resolved)."""
    same = before.review is after.review
    return Change(
        "review",
        (None if same else before.review, dict(before.resolutions)),
        (None if same else after.review, dict(after.resolutions)),
        same,
    )


def apply_change(state: SessionState, change: Change, forward: bool = True) -> SessionState:
    """``state`` with ``change`` applied (``forward``) or reverted."""
    target = change.after if forward else change.before
    if change.kind == "labels":
        frames = dict(state.labels.frames)
        for k, fl in target.items():
            if fl is None:
                frames.pop(k, None)
            else:
                frames[k] = fl
        return replace(state, labels=LabelSet(frames))
    queue, res = target
    return replace(state, review=state.review if change.same_queue else queue, resolutions=dict(res))


def _frames_json(frames: Mapping[int, FrameLabels | None]) -> dict[str, Any]:
    present = LabelSet({k: v for k, v in frames.items() if v is not None})
    return {"frames": labels_to_dict(present)["frames"], "absent": sorted(k for k, v in frames.items() if v is None)}


def _frames_from_json(d: Any, p: Path) -> dict[int, FrameLabels | None]:
    if not isinstance(d, dict):
        raise CorruptFileError(p, "a journal line's labels are not an object")
    doc = {"format": "fusionlabel.labels", "version": labels_to_dict(LabelSet())["version"], "frames": d.get("frames")}
    out: dict[int, FrameLabels | None] = dict(labels_from_dict(doc, p).frames)
    try:
        out.update({int(k): None for k in d.get("absent") or []})
    except (TypeError, ValueError, OverflowError) as exc:
        raise CorruptFileError(p, f"a journal line's 'absent' frames: {exc}") from None
    return out


def _review_json(queue: ReviewQueue | None, res: Mapping[int, Resolution], same: bool) -> dict[str, Any]:
    d: dict[str, Any] = {"resolutions": _resolutions_to_list(res)}
    if not same:
        d["review"] = review_file.review_to_dict(Review(queue)) if queue is not None else None
    return d


def _review_from_json(d: Any, p: Path) -> tuple[ReviewQueue | None, dict[int, Resolution]]:
    if not isinstance(d, dict):
        raise CorruptFileError(p, "a journal line's review is not an object")
    queue, res, _ = _autosave_review({"review": d.get("review"), "resolutions": d.get("resolutions")}, p)
    return queue, res


def _change_json(change: Change) -> dict[str, Any]:
    if change.kind == "labels":
        return {"labels": {"before": _frames_json(change.before), "after": _frames_json(change.after)}}
    return {
        "review": {
            "same_queue": change.same_queue,
            "before": _review_json(change.before[0], change.before[1], change.same_queue),
            "after": _review_json(change.after[0], change.after[1], change.same_queue),
        }
    }


def _change_from_json(line: dict[str, Any], p: Path) -> Change:
    if isinstance(line.get("labels"), dict):
        d = line["labels"]
        return Change("labels", _frames_from_json(d.get("before"), p), _frames_from_json(d.get("after"), p))
    if isinstance(line.get("review"), dict):
        d = line["review"]
        return Change(
            "review",
            _review_from_json(d.get("before"), p),
            _review_from_json(d.get("after"), p),
            bool(d.get("same_queue")),
        )
    raise CorruptFileError(p, "a journal line holds neither 'labels' nor 'review'")


@dataclass(frozen=True)
class JournalEntry:
    """One undo command of the journal: its id (unique in the session), its undo text, its change."""

    id: int
    text: str
    change: Change


@dataclass(frozen=True)
class JournalInfo:
    """A journal read back (:func:`read_journal`).

    start : the session when the journal began (the label file as read, or as last saved)
    state : ``start`` with every recorded edit, undo and redo replayed: the unsaved work
    steps : the undo stack, one tuple of commands per step (a macro has several); ``index``
        steps are done, the rest can be redone
    closed : the session closed normally keeping its unsaved work (not a crash)
    edits : edit, undo and redo lines replayed (a torn last line is not counted)
    """

    path: Path
    start: SessionState
    state: SessionState
    steps: tuple[tuple[JournalEntry, ...], ...]
    index: int
    closed: bool
    edits: int
    saved_at: str
    user: str
    next_id: int = 1
    good_bytes: int = 0


def read_journal(label_path: Path) -> JournalInfo | None:
    """Replay the journal beside ``label_path`` (None when there is none).

    A torn last line (the process was killed while appending it) is ignored: at most the edit
    in flight is lost. Any other unreadable line raises :class:`CorruptFileError` naming the
    journal and the line.
    """
    p = journal_path(label_path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptFileError(p, f"cannot read the journal: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    complete = lines[:-1]  # the part after the last newline is a torn line (or empty)
    good = len(data) - len(lines[-1])

    def parse(i: int) -> Any:
        try:
            return json.loads(complete[i])
        except (ValueError, UnicodeDecodeError) as exc:
            if i == len(complete) - 1:
                return None  # written without its end (a power cut): the edit in flight
            raise CorruptFileError(p, f"journal line {i + 1} is not JSON ({exc})") from None

    if not complete or (head := parse(0)) is None:
        raise CorruptFileError(p, "the journal has no complete first line (the session state)")
    head = migrate_document(head, JOURNAL, p)
    start = _state_from_dict(head, p, label_path)
    state = start
    steps: list[list[JournalEntry]] = []
    where: dict[int, int] = {}  # command id -> its step
    index, closed, edits, last_id = 0, False, 0, 0
    for i in range(1, len(complete)):
        line = parse(i)
        if line is None:
            good -= len(complete[i]) + 1
            break
        if not isinstance(line, dict) or line.get("op") not in ("do", "undo", "redo", "close"):
            raise CorruptFileError(p, f"journal line {i + 1}: expected an object with op do, undo, redo or close")
        if line["op"] == "close":
            closed = True
            continue
        closed = False  # edited again after a clean close (the session was reopened and restored)
        try:
            cid, text = int(line["id"]), str(line.get("text", ""))
        except (KeyError, TypeError, ValueError, OverflowError):
            raise CorruptFileError(p, f"journal line {i + 1}: no integer 'id'") from None
        change = _change_from_json(line, p)
        forward = line["op"] != "undo"
        state = apply_change(state, change, forward)
        if isinstance(line.get("frame"), int):
            state = replace(state, frame=int(line["frame"]))
        edits += 1
        last_id = max(last_id, cid)
        entry = JournalEntry(cid, text, change)
        if line["op"] == "do" and line.get("join") and steps and index == len(steps):
            steps[-1].append(entry)  # the next command of a macro
            where[cid] = len(steps) - 1
        elif line["op"] == "do" or cid not in where:
            # a new step (an undo of a command from before the last save: a step of its own)
            if cid in where or line["op"] != "do":
                entry = JournalEntry(cid, f"{line['op']} {text}".strip(), change if forward else _reverse(change))
            del steps[index:]
            steps.append([entry])
            index = len(steps)
            where = {c: k for c, k in where.items() if k < index - 1}
            where[cid] = index - 1
        else:
            index = where[cid] + (1 if forward else 0)
    return JournalInfo(
        p,
        start,
        rebase_own_save(state, label_path),
        tuple(tuple(st) for st in steps),
        index,
        closed,
        edits,
        str(head.get("saved_at", "?")),
        str(head.get("user", "?")),
        last_id + 1,
        good,
    )


def same_work(a: SessionState, b: SessionState) -> bool:
    """Whether two session states hold the same labels, review queue and resolutions."""
    if a.labels is not b.labels and labels_to_dict(a.labels) != labels_to_dict(b.labels):
        return False
    if _resolutions_to_list(a.resolutions) != _resolutions_to_list(b.resolutions):
        return False
    if (a.review is None) != (b.review is None):
        return False
    return a.review is b.review or review_file.review_to_dict(Review(a.review)) == review_file.review_to_dict(
        Review(b.review)
    )


def _reverse(change: Change) -> Change:
    return Change(change.kind, change.after, change.before, change.same_queue)


class Journal:
    """The append-only journal of one editing session (``"." + L.name + ".journal"``).

    Started at the first edit with the whole session as its first line, then one line per undo
    command as it is done, undone or redone: the frames it changes before and after (or the
    review state), written and ``fsync``-ed **before** the edit shows. A ``kill -9`` therefore
    loses at most the edit being appended. :func:`save` and :func:`discard_autosave` remove the
    file; :meth:`close` marks a normal exit that keeps unsaved work (no crash notice next time).

    Raises :class:`~fusionlabel.core.errors.WriteError` when a line cannot be written (disk
    full, read-only folder); the journal is then left as it was before that line.
    """

    def __init__(self, label_path: Path) -> None:
        self.label_path = Path(label_path)
        self.path = journal_path(label_path)
        self._fd: int | None = None
        self._next_id = 1

    @property
    def active(self) -> bool:
        return self._fd is not None

    def start(self, state: SessionState) -> None:
        """Begin a new journal holding ``state`` (replaces any journal there)."""
        self.stop()
        head = dump_versioned(JOURNAL, _state_to_dict(state, self.label_path), indent=None)
        atomic_write_text(self.path, head.replace("\n", " ") + "\n")
        self._open()

    def adopt(self, info: JournalInfo) -> None:
        """Go on appending to the journal ``info`` was read from (a restored session); a torn last
        line is cut off first."""
        self.stop()
        if info.state.base != info.start.base:  # its own save was cut off (rebase_own_save): keep that
            self._rebase(info)
        else:
            self._open()
            assert self._fd is not None
            if os.fstat(self._fd).st_size > info.good_bytes:
                os.ftruncate(self._fd, info.good_bytes)
        self._next_id = max(self._next_id, info.next_id)

    def _rebase(self, info: JournalInfo) -> None:
        """Rewrite the journal (atomically) with ``info.state.base`` in its first line and without
        a torn last line, so that a later restore still knows what the files on disk hold."""
        whole = self.path.read_bytes()
        if len(whole) < info.good_bytes or b"\n" in whole[info.good_bytes :]:
            # changed since it was read (another session on this label file appended to it):
            # keep it as it is; the base is right in this session's memory, not in the file
            self._open()
            return
        data = whole[: info.good_bytes]
        first, _, rest = data.partition(b"\n")
        head = json.loads(first)
        head["base"] = info.state.base
        text = json.dumps(head, separators=(",", ":"), allow_nan=False) + "\n" + rest.decode("utf-8")
        atomic_write_text(self.path, text)
        self._open()

    def _open(self) -> None:
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise write_error(self.path, exc) from exc

    def _append(self, d: dict[str, Any]) -> None:
        assert self._fd is not None
        data = (json.dumps(d, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
        size = os.fstat(self._fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            try:  # leave no torn line behind a failed append
                os.ftruncate(self._fd, size)
            except OSError:
                pass
            raise write_error(self.path, exc) from exc

    def record(
        self, op: str, state: SessionState, change: Change, text: str = "", cid: int | None = None, join: bool = False
    ) -> int:
        """Append one command done (``op="do"``, returns its new id), undone or redone (``cid``).

        ``state`` is the session before the command: it starts the journal when none is open.
        ``join``: this command belongs to the same undo step as the one before (a macro).
        """
        if self._fd is None:
            self.start(state)
        if cid is None:
            cid, self._next_id = self._next_id, self._next_id + 1
        line: dict[str, Any] = {"op": op, "id": cid, "text": text, "frame": int(state.frame), **_change_json(change)}
        if join:
            line["join"] = True
        self._append(line)
        return cid

    def close(self) -> None:
        """Mark a normal exit (the unsaved work stays for the next session) and close the file."""
        if self._fd is not None:
            try:
                self._append({"op": "close", "at": now_utc()})
            finally:
                self.stop()

    def stop(self) -> None:
        """Close the file without marking anything (after a save removed it, or before a restart)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def editing_path(label_path: Path) -> Path:
    """The claim of the one window that edits ``label_path`` (:class:`EditClaim`)."""
    label_path = Path(label_path)
    return label_path.with_name(f".{label_path.name}.editing")


class EditClaim:
    """One editing session per label file at a time: an exclusive ``flock`` on
    ``"." + L.name + ".editing"``, held while the window is open.

    Two windows on one label file would both journal to ``"." + L.name + ".journal"``: the second
    one's first edit replaces the first one's journal, and a save by either removes the other's,
    so a crash of the other then loses its unsaved work. :meth:`take` therefore refuses a second
    claim with :class:`~fusionlabel.core.errors.EditingElsewhereError` naming the holder (pid,
    user, host, since when); the app then opens the labels read-only. The operating system drops
    the lock when the holder's process ends, ``kill -9`` included, so a crashed session never
    blocks the next one (which then finds its journal); a claim object that is dropped without
    :meth:`release` closes its file too.

    The claim is taken under the label file's writer lock (:func:`~fusionlabel.core.atomic.locked`),
    and the commands that write whole label files check it under that lock
    (:func:`check_replaceable`): a window and such a writer never overlap. Another user's
    claim file (read-only for this user) is still checked; an unreadable one is refused. Where
    there is no ``fcntl``, the folder does not exist, or the claim file cannot be created (a
    read-only folder: nothing can be saved there anyway), the claim is empty and always granted.
    The claim file stays when released (removing it would race with the next taker).
    """

    def __init__(self, label_path: Path, fd: int | None) -> None:
        self.label_path = Path(label_path)
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    @classmethod
    def take(cls, label_path: Path, tries: int = 5) -> EditClaim:
        """Claim ``label_path`` for this session (raises ``EditingElsewhereError`` when another
        holds it; a probe of :func:`editing_elsewhere` in that instant is waited out: ``tries``
        attempts 0.1 s apart)."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no claim; the on-disk version checks of save still apply
            return cls(label_path, None)
        p = editing_path(label_path)
        if not p.parent.is_dir():
            return cls(label_path, None)  # nothing there yet; creating folders is for a save
        try:
            with locked(label_path):
                return cls._take_locked(label_path, p, fcntl, tries)
        except WriteError:  # the writer lock cannot be made (a read-only folder)
            return cls._take_locked(label_path, p, fcntl, tries)

    @classmethod
    def _take_locked(cls, label_path: Path, p: Path, fcntl: Any, tries: int) -> EditClaim:
        writable = True
        try:
            fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o666 & ~current_umask())
        except PermissionError:
            if not p.exists():
                return cls(label_path, None)  # a folder this user cannot write to
            writable = False
            try:
                fd = os.open(p, os.O_RDONLY)  # another user's claim file: its lock still counts
            except OSError as exc:
                raise EditingElsewhereError(
                    label_path, f"cannot tell whether another window edits it: {p} is not readable ({exc.strerror})"
                ) from None
        except OSError:
            return cls(label_path, None)  # a read-only file system
        tries = max(1, tries)
        for attempt in range(tries):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    return cls(label_path, None)  # a file system without locks (some network mounts)
                if attempt == tries - 1:
                    os.close(fd)
                    raise EditingElsewhereError(
                        label_path, f"open for editing in another window ({_holder(p)})"
                    ) from None
                time.sleep(0.1)
        if writable:
            info = json.dumps(
                {"pid": os.getpid(), "user": current_user(), "host": socket.gethostname(), "since": now_utc()}
            ).encode()
            try:  # written whole, then the rest of an older holder's text cut off: never read empty
                os.pwrite(fd, info, 0)
                os.ftruncate(fd, len(info))
            except OSError:
                pass  # who holds it is only for the message
        return cls(label_path, fd)

    def release(self) -> None:
        """Give the claim back (the window closes); the claim file stays."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing drops the flock

    def __del__(self) -> None:  # a claim dropped without release (an error while opening)
        try:
            self.release()
        except OSError:
            pass


def _holder(p: Path) -> str:
    try:
        h = json.loads(p.read_text("utf-8"))
        return f"pid {h['pid']}, user {h['user']} on {h['host']}, since {h['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


def editing_elsewhere(label_path: Path) -> str | None:
    """Who has ``label_path`` open for editing (``"pid ..., user ... on ..., since ..."``), or
    None when no window does. Writes nothing and takes no claim: a shared lock on the claim
    file, given straight back (a window opening in that instant retries, see
    :meth:`EditClaim.take`). Call it under :func:`~fusionlabel.core.atomic.locked` to write
    after it with no window opening in between."""
    try:
        import fcntl
    except ImportError:
        return None
    p = editing_path(label_path)
    try:
        fd = os.open(p, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):  # no claim file, or no folder to hold one
        return None
    except OSError as exc:
        return f"holder unknown: {p} is not readable ({exc.strerror})"
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return _holder(p) if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES) else None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def unsaved_work(label_path: Path) -> Path | None:
    """The journal or autosave beside ``label_path`` that holds a session's unsaved work, or None."""
    return next((p for p in (journal_path(label_path), autosave_path(label_path)) if p.exists()), None)


def check_replaceable(path: Path, force: bool) -> None:
    """Refuse, naming ``path``, to write a whole new label file over one that an annotator's
    session still needs: open in a window (:class:`EditClaim`), or with unsaved work beside it (a
    journal or autosave of a session that crashed or closed without saving), even with
    ``force``; and an existing file without ``force``. For the commands that write label files
    (``import``, ``compare --consensus``, ``export --format native``) and for ``gold``, which
    writes into the queue beside it."""
    path = Path(path)
    holder = editing_elsewhere(path)
    if holder is not None:
        raise EditingElsewhereError(
            path, f"open for editing in a FusionLabel window ({holder}); nothing written: close that window first"
        )
    unsaved = unsaved_work(path)
    if unsaved is not None:
        raise ConcurrentEditError(
            path,
            f"an editing session left unsaved work in {unsaved.name}; nothing written: open the labels "
            "and save or discard that work first, or write elsewhere",
        )
    if not force and path.exists():
        raise DataError(path, "exists: pass --force to replace it")


def replace_label_file(path: Path, force: bool, write: Callable[[], Any]) -> None:
    """``write()`` a whole new label file at ``path`` under its writer lock, after
    :func:`check_replaceable` there (no window can open it in between: :meth:`EditClaim.take`
    takes the same lock). Call :func:`check_replaceable` early too, before long work."""
    path = Path(path)
    with locked(path):
        check_replaceable(path, force)
        write()
