"""Faults injected into the writers of the user's work (docs/reliability.md):

* ``kill -9`` of a process saving in a loop, and of a process editing through the journal in a
  loop (the document API, saves in between): the files always parse, at most the edit in flight
  is lost;
* two processes saving the same label file at once: every save that succeeds was made on what
  the other had saved, or is refused (never a silent loss);
* a full disk (``ENOSPC``) and a read-only folder: the old file intact, no temp file left, an
  error naming the file and the cause.

``FUSIONLABEL_FAULT_ROUNDS`` sets how many kills each loop makes (default 6; ``make fuzz`` runs 40).
"""

from __future__ import annotations

import errno
import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.errors import ConcurrentEditError, CorruptFileError, DataError, WriteError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.io import session as S
from fusionlabel.io.native_labels import read_labels

ROUNDS = int(os.environ.get("FUSIONLABEL_FAULT_ROUNDS", "6"))


def _labels(n: int = 0, frames: int = 30) -> LabelSet:
    """A label set with one car per frame; its attribute ``n`` counts the edits made."""
    fl = FrameLabels(np.array([1]), ("Car",), Boxes.from_array([[10, 0, 0.8, 4, 2, 1.5, 0]]), np.ones(1), ({"n": n},))
    return LabelSet(dict.fromkeys(range(frames), fl))


def _count(labels: LabelSet) -> int:
    return int(labels.frames[0].attributes[0].get("n", 0))


def _run_until_killed(code: str, args: list[str], rng: random.Random, marker: str) -> list[str]:
    """Start ``code``, wait for ``marker`` on its stdout, let it run a random moment, ``kill -9``
    it; returns the lines it printed (each flushed after the step it names was done)."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip()]
    assert lines[0] == marker, lines
    time.sleep(rng.uniform(0.0, 0.25))  # somewhere in the loop: mid-write, mid-fsync, between
    proc.kill()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -9
    return lines + out.split()


SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from fusionlabel.core.edits import set_attribute
    from fusionlabel.io import session as S
    lp = Path(sys.argv[1])
    st = S.load(lp)
    print("ready", flush=True)
    while True:
        n = int(st.labels.frames[0].attributes[0]["n"]) + 1
        labels = st.labels
        for k in range(len(labels.frames)):          # a save of the whole set, every frame changed
            labels = set_attribute(labels, k, 1, "n", n)
        st = S.SessionState(labels, st.review, st.resolutions, st.frame, st.base)
        base = S.save(st, lp)
        st = S.SessionState(st.labels, st.review, st.resolutions, st.frame, base)
        print(n, flush=True)
    """
)


def test_kill_9_during_save_in_a_loop_never_leaves_a_broken_file(tmp_path: Path) -> None:
    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(0, frames=300)), lp)
    rng = random.Random(1)
    for _ in range(ROUNDS):
        saved = [int(x) for x in _run_until_killed(SAVER, [str(lp)], rng, "ready")[1:]]
        on_disk = _count(read_labels(lp))  # always parses: the old file or the new one, whole
        last = saved[-1] if saved else None
        assert last is None or on_disk in (last, last + 1), (saved[-3:], on_disk)  # at most the save in flight
        assert all(_count(l) == on_disk for l in [read_labels(lp)])
        assert S.load(lp).labels.num_boxes == 300  # load cleans the killed writer's temp file
        assert not list(tmp_path.glob("*.tmp"))


EDITOR = textwrap.dedent(
    """
    import random, sys
    from pathlib import Path
    from PySide6 import QtCore
    app = QtCore.QCoreApplication([])
    from fusionlabel.app.document import LabelDocument
    from fusionlabel.core.edits import move_box, set_attribute
    from fusionlabel.io import session as S
    lp = Path(sys.argv[1])
    rng = random.Random(int(sys.argv[2]))
    info = S.read_autosave(lp)              # a killed session's unsaved work, restored
    st = info.state if info is not None else S.load(lp)
    doc = LabelDocument(st, 30, lp)
    print("ready", flush=True)
    while True:
        n = int(doc.labels.frames[0].attributes[0]["n"]) + 1
        frame = rng.randrange(30)
        doc.edit("count", set_attribute, 0, 1, "n", n)       # one edit: the counter
        doc.edit("move", move_box, frame, 1, [0.01, 0, 0])   # another, somewhere in the recording
        print(n, flush=True)
        if rng.random() < 0.1:
            doc.save()
            print("saved", flush=True)
    """
)


def test_kill_9_while_editing_loses_at_most_the_edit_in_flight(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(0)), lp)
    rng = random.Random(2)
    for r in range(ROUNDS):
        out = _run_until_killed(EDITOR, [str(lp), str(r)], rng, "ready")
        done = [int(x) for x in out[1:] if x.isdigit()]
        info = S.read_autosave(lp)  # the journal, when there is unsaved work
        state = info.state if info is not None else S.load(lp)
        on_disk = _count(state.labels)
        last = done[-1] if done else None
        assert last is None or on_disk in (last, last + 1), (done[-3:], on_disk)
        read_labels(lp)  # the label file parses whatever the moment of the kill
        if info is not None:
            assert info.crashed and info.journal is not None and info.journal.index == len(info.journal.steps)


def _qt_app() -> None:
    """The Qt application the document needs: a widgets one, so that the GUI tests run after
    these find the kind they need (offscreen without a display, as tests/app/conftest.py does)."""
    pytest.importorskip("PySide6")
    from PySide6 import QtWidgets

    if QtWidgets.QApplication.instance() is None:
        shown = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        QtWidgets.QApplication(["fusionlabel-tests"] + ([] if shown else ["-platform", "offscreen"]))


def test_the_journal_restores_the_undo_history(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")

    from fusionlabel.app.document import LabelDocument
    from fusionlabel.core.edits import move_box, set_attribute
    from fusionlabel.core.review import ReviewItem, ReviewQueue

    _qt_app()
    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(0, frames=5)), lp)
    doc = LabelDocument(S.load(lp), 5, lp)
    for n in (1, 2, 3):
        doc.edit(f"count {n}", set_attribute, 0, 1, "n", n)
    doc.replace_labels(doc.labels, "pre-label", review=ReviewQueue((ReviewItem(2, 0.9, ()),), 5, 0.2))
    doc.edit("move", move_box, 3, 1, [1.0, 0, 0])
    doc.resolve(2)
    doc.undo_stack.undo()  # resolve
    doc.undo_stack.undo()  # move (both stay redoable)
    texts = [doc.undo_stack.text(i) for i in range(doc.undo_stack.count())]
    index = doc.undo_stack.index()
    # the process dies here: no close, no save
    doc.journal.stop()  # type: ignore[union-attr]
    info = S.read_autosave(lp)
    assert info is not None and info.crashed and info.journal is not None
    again = LabelDocument(info.state, 5, lp)
    assert [again.undo_stack.text(i) for i in range(again.undo_stack.count())] == texts
    assert again.undo_stack.index() == index and S.same_work(again.state(), doc.state())
    again.undo_stack.redo()  # the move, undone before the crash, can be redone
    assert again.labels.frames[3].boxes.center[0, 0] == pytest.approx(11.0)
    while again.undo_stack.canUndo():
        again.undo_stack.undo()  # back to the label file as it was read
    assert _count(again.labels) == 0 and again.review is None
    again.close_journal()
    after = S.read_autosave(lp)
    assert after is not None and not after.crashed  # a normal exit: no crash notice
    assert S.same_work(after.state, again.state())
    again.save()
    assert S.read_autosave(lp) is None and not S.journal_path(lp).exists()


def test_a_torn_last_journal_line_is_the_only_loss(tmp_path: Path) -> None:
    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(0, frames=3)), lp)
    j = S.Journal(lp)
    st = S.load(lp)
    for n in (1, 2):
        new = replace_count(st, n)
        j.record("do", st, S.labels_change(st.labels, new.labels), f"count {n}")
        st = new
    j.stop()
    jp = S.journal_path(lp)
    whole = jp.read_bytes()
    jp.write_bytes(whole[: whole.rindex(b"\n", 0, len(whole) - 1) + 20])  # the last line cut mid-way
    info = S.read_journal(lp)
    assert info is not None and _count(info.state.labels) == 1 and info.edits == 1
    jp.write_bytes(whole.replace(b'"op":"do"', b'"op":"??"', 1))  # a bad line that is not the last
    with pytest.raises(DataError, match=r"journal line 2"):
        S.read_journal(lp)


class _Killed(BaseException):
    """Stands for a ``kill -9`` at one point of :func:`S.save` (nothing after it runs)."""


def _kill_save_at(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Make the next save die at ``where``: "labels" (its marker written, no file yet),
    "review" (label file written, review file not) or "discard" (both written, journal,
    autosave and marker not yet removed)."""
    real = S.atomic_write_text

    def write(path: Path, text: str) -> None:
        if (where == "labels" and path.name == "labels.json") or (
            where == "review" and path.name.endswith(".review.json")
        ):
            raise _Killed(where)
        real(path, text)

    def die(*a: object, **k: object) -> None:
        raise _Killed(where)

    if where == "discard":
        monkeypatch.setattr(S, "_discard_unsaved", die)
    else:
        monkeypatch.setattr(S, "atomic_write_text", write)


def _document(state: S.SessionState, lp: Path, frames: int):  # type: ignore[no-untyped-def]
    _qt_app()
    from fusionlabel.app.document import LabelDocument

    return LabelDocument(state, frames, lp)


def _cut_off_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, resolve: bool = True):  # type: ignore[no-untyped-def]
    """A label file with a review queue, a document that edited it (count 1, and resolved frame
    2 when ``resolve``) and whose save died at ``where`` (:func:`_kill_save_at`). Returns the
    label path, the document (its journal still open) and the label file's bytes before."""
    from fusionlabel.core.edits import set_attribute
    from fusionlabel.core.review import ReviewItem, ReviewQueue

    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(0, frames=5), ReviewQueue((ReviewItem(2, 0.9, ()),), 5, 0.2)), lp)
    before = lp.read_bytes()
    doc = _document(S.load(lp), lp, 5)
    doc.edit("count 1", set_attribute, 0, 1, "n", 1)
    if resolve:
        doc.resolve(2)
    _kill_save_at(monkeypatch, where)
    with pytest.raises(_Killed):
        doc.save()
    monkeypatch.undo()
    return lp, doc, before


@pytest.mark.parametrize("where", ["labels", "review", "discard"])
def test_a_save_killed_half_way_can_be_saved_in_place_after_the_restore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from fusionlabel.core.edits import set_attribute

    lp, doc, _ = _cut_off_save(tmp_path, monkeypatch, where)
    doc.journal.stop()  # the process is gone
    assert _count(read_labels(lp)) == (0 if where == "labels" else 1)  # written before the kill, or not
    info = S.read_autosave(lp)
    assert info is not None and info.journal is not None and _count(info.state.labels) == 1
    assert info.state.base == S.disk_version(lp)  # what changed on disk is its own save
    again = _document(info.state, lp, 5)
    again.edit("count 2", set_attribute, 0, 1, "n", 2)
    again.journal.stop()  # killed again, before any save: the journal must still know the base
    info = S.read_autosave(lp)
    assert info is not None and _count(info.state.labels) == 2 and info.journal is not None
    assert [e.text for step in info.journal.steps for e in step] == ["count 1", "resolve frame 2", "count 2"]
    third = _document(info.state, lp, 5)
    third.save()  # in place, no ConcurrentEditError
    st = S.load(lp)
    assert _count(st.labels) == 2 and set(st.resolutions) == {2} and S.read_autosave(lp) is None


@pytest.mark.parametrize("other", ["labels", "label timestamps", "review provenance"])
def test_a_save_killed_half_way_then_another_writer_is_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, other: str
) -> None:
    """After a save cut off by a kill, anyone else's write, however small, keeps the restored
    session's save refused (nothing of theirs is overwritten)."""
    from fusionlabel.io import review_file
    from fusionlabel.io.native_labels import write_labels

    lp, doc, _ = _cut_off_save(tmp_path, monkeypatch, "discard", resolve=False)
    doc.journal.stop()
    mine = S.read_autosave(lp)
    assert mine is not None and mine.state.base == S.disk_version(lp)  # alone: its own save
    on_disk = S.load(lp)
    if other == "labels":  # a pre-label run, say
        write_labels(replace_count(on_disk, 9).labels, lp)
    elif other == "label timestamps":  # the same boxes, other frame times
        write_labels(on_disk.labels, lp, {k: 10**9 * (k + 1) for k in range(5)})
    else:
        rp = S.review_path(lp)
        r = review_file.read_review(rp)
        review_file.write_review(
            rp, review_file.Review(r.queue, r.resolutions, {"detector": "someone else"}, r.signoffs)
        )
    info = S.read_autosave(lp)
    assert info is not None and _count(info.state.labels) == 1 and info.state.base != S.disk_version(lp)
    before = (lp.read_bytes(), S.review_path(lp).read_bytes())
    with pytest.raises(ConcurrentEditError):
        _document(info.state, lp, 5).save()
    assert (lp.read_bytes(), S.review_path(lp).read_bytes()) == before  # theirs kept, byte for byte


def test_another_session_s_save_cut_off_over_the_same_version_is_not_taken_for_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sessions opened the same version; this one was killed with unsaved work, the other
    was killed in its own save of other work: the marker is the other's, so no rebase."""
    from fusionlabel.core.edits import set_attribute

    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(0, frames=5)), lp)
    doc = _document(S.load(lp), lp, 5)
    doc.edit("count 1", set_attribute, 0, 1, "n", 1)
    doc.journal.stop()  # killed before saving
    theirs = replace_count(S.load(lp), 7)  # the same base, other work
    _kill_save_at(monkeypatch, "discard")
    with pytest.raises(_Killed):
        S.save(theirs, lp)
    monkeypatch.undo()
    assert S.saving_path(lp).exists() and _count(read_labels(lp)) == 7
    info = S.read_autosave(lp)
    assert info is not None and _count(info.state.labels) == 1 and info.state.base != S.disk_version(lp)
    with pytest.raises(ConcurrentEditError):
        _document(info.state, lp, 5).save()
    assert _count(read_labels(lp)) == 7


def test_a_save_that_failed_half_way_can_be_retried_by_the_same_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review file's write fails (a full disk) after the label file was written: the same
    session's next save goes through (its own half-written save is not "another writer")."""
    lp, doc, _ = _cut_off_save(tmp_path, monkeypatch, "review")
    assert _count(read_labels(lp)) == 1 and S.disk_version(lp) != doc.base
    doc.save()  # the disk has space again
    st = S.load(lp)
    assert _count(st.labels) == 1 and set(st.resolutions) == {2} and S.read_autosave(lp) is None
    assert not S.saving_path(lp).exists()


def test_old_labels_with_the_new_review_file_are_not_a_state_of_our_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save writes the label file, then the review file: old labels beside the new review file
    mean someone put the old label file back after it; that is not rebased."""
    lp, doc, old_labels = _cut_off_save(tmp_path, monkeypatch, "discard")
    doc.journal.stop()
    lp.write_bytes(old_labels)  # a backup restored by hand
    info = S.read_autosave(lp)
    assert info is not None and info.state.base != S.disk_version(lp)
    with pytest.raises(ConcurrentEditError):
        _document(info.state, lp, 5).save()
    assert lp.read_bytes() == old_labels


def test_an_autosave_left_by_a_save_cut_off_is_rebased(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(0, frames=4)), lp)
    st = replace_count(S.load(lp), 5)
    S.write_autosave(st, lp)
    _kill_save_at(monkeypatch, "discard")
    with pytest.raises(_Killed):
        S.save(st, lp)
    monkeypatch.undo()
    info = S.read_autosave(lp)
    assert info is not None and info.state.base == S.disk_version(lp) != st.base
    S.save(replace_count(info.state, 6), lp)
    assert _count(read_labels(lp)) == 6
    # an autosave whose work is not what is on disk keeps its base (the save is refused)
    S.write_autosave(replace_count(st, 8), lp)
    info = S.read_autosave(lp)
    assert info is not None and info.state.base == st.base != S.disk_version(lp)


def replace_count(st: S.SessionState, n: int) -> S.SessionState:
    from dataclasses import replace

    from fusionlabel.core.edits import set_attribute

    return replace(st, labels=set_attribute(st.labels, 0, 1, "n", n))


# -- two writers -----------------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from fusionlabel.core.edits import set_attribute
    from fusionlabel.core.errors import ConcurrentEditError
    from fusionlabel.io import session as S
    lp, me = Path(sys.argv[1]), sys.argv[2]
    log = []
    st = S.load(lp)
    for i in range(int(sys.argv[3])):
        labels = set_attribute(st.labels, 0, 1, "by", f"{me}{i}")
        try:
            new = S.save(S.SessionState(labels, base=st.base), lp)
            log.append({"ok": True, "base": st.base, "new": new})
        except ConcurrentEditError:
            log.append({"ok": False, "base": st.base})
        st = S.load(lp)   # reopen: see the other's work, then edit on top of it
    print(json.dumps(log))
    """
)


def test_two_concurrent_writers_never_lose_a_save_silently(tmp_path: Path) -> None:
    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(0, frames=200)), lp)
    start = S.disk_version(lp)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(lp), name, "25"], stdout=subprocess.PIPE, text=True)
        for name in "ab"
    ]
    logs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    ok = [e for log in logs for e in log if e["ok"]]
    # each successful save was made on the version the previous successful save left: they form
    # one chain from the start, so none replaced work it had not seen
    bases = [e["base"] for e in ok]
    assert len(set(bases)) == len(bases), "two saves were made on the same version: one overwrote the other"
    produced = {e["new"] for e in ok}
    assert all(b == start or b in produced for b in bases)
    assert S.disk_version(lp) in produced and len(ok) >= 25  # one of them always gets through


def test_a_save_on_a_changed_file_is_refused_and_the_other_work_stays(tmp_path: Path) -> None:
    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(0)), lp)
    mine, theirs = S.load(lp), S.load(lp)
    S.save(replace_count(theirs, 7), lp)
    with pytest.raises(ConcurrentEditError, match="changed on disk"):
        S.save(replace_count(mine, 3), lp)
    assert _count(read_labels(lp)) == 7


def test_a_label_file_corrupted_after_it_was_loaded_is_refused_not_replaced(tmp_path: Path) -> None:
    """save skips parsing a file whose on-disk version is the one it loaded: any other bytes are
    parsed first, and a corrupt file (whoever broke it) is refused before the version check."""
    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(0)), lp)
    mine = S.load(lp)
    lp.write_text("{not json")
    for check in (True, False):
        with pytest.raises(CorruptFileError, match="labels.json"):
            S.save(replace_count(mine, 3), lp, check=check)
    assert lp.read_text() == "{not json"


# -- a full disk, a read-only folder ---------------------------------------------------------------


class _FullDisk:
    """A file object whose writes fail with ENOSPC after ``room`` bytes (a disk filling up)."""

    def __init__(self, f, room: int) -> None:  # type: ignore[no-untyped-def]
        self.f, self.room = f, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            self.f.write(data[: self.room])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return int(self.f.write(data))

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.f, name)

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()


def _fill_disk(monkeypatch: pytest.MonkeyPatch, room: int = 100) -> None:
    import fusionlabel.core.atomic as atomic

    real = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode="r", *a, **k: _FullDisk(real(fd, mode, *a, **k), room))


def test_a_full_disk_leaves_the_old_file_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(1)), lp)
    before = lp.read_bytes()
    st = S.load(lp)
    _fill_disk(monkeypatch)
    with pytest.raises(WriteError) as err:
        S.save(replace_count(st, 2), lp)
    assert err.value.path == lp and "no space left" in str(err.value) and str(lp) in str(err.value)
    assert isinstance(err.value, DataError) and isinstance(err.value, OSError) and err.value.errno == errno.ENOSPC
    assert lp.read_bytes() == before and not list(tmp_path.glob("*.tmp"))
    monkeypatch.undo()
    S.save(replace_count(st, 2), lp)  # space again: the same state saves
    assert _count(read_labels(lp)) == 2


def test_a_full_disk_while_journalling_leaves_no_torn_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(0)), lp)
    st = S.load(lp)
    j = S.Journal(lp)
    one = replace_count(st, 1)
    j.record("do", st, S.labels_change(st.labels, one.labels), "count 1")
    size = S.journal_path(lp).stat().st_size

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(S.os, "write", full)
    with pytest.raises(WriteError, match="no space left"):
        j.record("do", one, S.labels_change(one.labels, replace_count(one, 2).labels), "count 2")
    monkeypatch.undo()
    assert S.journal_path(lp).stat().st_size == size
    info = S.read_journal(lp)
    assert info is not None and _count(info.state.labels) == 1
    j.stop()


def test_a_full_disk_fails_the_prelabel_run_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fusionlabel.io.open import SAMPLE
    from fusionlabel.pipeline.batch import prelabel_one
    from fusionlabel.pipeline.prelabel import PrelabelResult

    out = tmp_path / "out"

    def quick(rec, detector, **kw):  # type: ignore[no-untyped-def]
        from fusionlabel.core.review import ReviewQueue
        from fusionlabel.pipeline.prelabel import PrelabelReport

        return PrelabelResult(
            _labels(0, 3), ReviewQueue((), len(rec), 0.1), PrelabelReport(str(rec.path), "x", 3, 0, 1, 3)
        )

    monkeypatch.setattr(sys.modules["fusionlabel.pipeline.prelabel"], "prelabel", quick)
    out.mkdir()
    _fill_disk(monkeypatch, room=50)
    rep = prelabel_one(str(SAMPLE), str(out), "geometric")
    assert rep["status"] == "failed" and "no space left" in rep["error"] and "labels.json" in rep["error"]
    assert not (out / "labels.json").exists() and not list(out.glob("*.tmp"))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into a 0o555 folder anyway")
def test_a_read_only_folder_is_refused_with_the_reason(tmp_path: Path) -> None:
    lp = tmp_path / "ro" / "labels.json"
    S.save(S.SessionState(_labels(1)), lp)
    before = lp.read_bytes()
    os.chmod(lp.parent, 0o555)
    try:
        with pytest.raises(WriteError, match="permission denied"):
            S.save(replace_count(S.load(lp), 2), lp)
    finally:
        os.chmod(lp.parent, 0o755)
    assert lp.read_bytes() == before


def test_a_folder_that_refuses_writes_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read-only path under any user (root ignores 0o555): the temp file cannot be made."""
    import fusionlabel.core.atomic as atomic

    lp = tmp_path / "labels.json"
    S.save(S.SessionState(_labels(1)), lp)
    before, st = lp.read_bytes(), S.load(lp)

    def denied(*_a, **_k):  # type: ignore[no-untyped-def]
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    with pytest.raises(WriteError) as err:
        S.save(replace_count(st, 2), lp)
    assert err.value.path == lp and "permission denied" in err.value.reason and err.value.errno == errno.EACCES
    assert lp.read_bytes() == before
    monkeypatch.setattr(S.os, "open", denied)  # nor can the journal be opened
    with pytest.raises(WriteError, match="permission denied"):
        S.Journal(lp).record("do", st, S.labels_change(st.labels, replace_count(st, 2).labels), "x")
