"""The app's model: the labels being edited, the current frame and selection, undo/redo.

Widgets never change labels directly: they call :meth:`LabelDocument.edit` with a pure edit
function from :mod:`fusionlabel.core.edits`. The document pushes a :class:`LabelEditCommand`
holding the label set before and after (label sets are immutable and share unchanged frames, so
this costs a dict per step) onto its ``QUndoStack`` and emits ``labels_changed``. Every command
done, undone or redone is first appended to the session's journal
(:class:`~fusionlabel.io.session.Journal`, fsynced) and only then shown, so a kill loses at most
the edit in flight; a document opened on a journal's state takes its undo history back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui

from fusionlabel.core.edits import EditError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.review import ReviewItem, ReviewQueue
from fusionlabel.io import session as S


class LabelEditCommand(QtGui.QUndoCommand):
    """One undoable edit: the label sets before and after (and the selection after)."""

    def __init__(
        self,
        doc: LabelDocument,
        before: LabelSet,
        after: LabelSet,
        text: str,
        select_after: int | None,
        select_before: int | None,
    ) -> None:
        super().__init__(text)
        self.doc, self.before, self.after = doc, before, after
        self.select_after, self.select_before = select_after, select_before
        self.journal_id: int | None = None

    def change(self) -> S.Change:
        return S.labels_change(self.before, self.after)

    def redo(self) -> None:
        self.doc._journal(self, "redo")
        self.doc._set_labels(self.after, self.select_after)

    def undo(self) -> None:
        self.doc._journal(self, "undo")
        self.doc._set_labels(self.before, self.select_before)


class ReviewCommand(QtGui.QUndoCommand):
    """Undoable change of the review state (queue replaced, frame resolved)."""

    def __init__(self, doc: LabelDocument, before: S.SessionState, after: S.SessionState, text: str) -> None:
        super().__init__(text)
        self.doc, self.before, self.after = doc, before, after
        self.journal_id: int | None = None

    def change(self) -> S.Change:
        return S.review_change(self.before, self.after)

    def redo(self) -> None:
        self.doc._journal(self, "redo")
        self.doc._set_review(self.after)

    def undo(self) -> None:
        self.doc._journal(self, "undo")
        self.doc._set_review(self.before)


class LabelDocument(QtCore.QObject):
    """Labels + review state + current frame + selected track, with undo and autosave.

    Parameters
    ----------
    state : the session to start from (labels, review queue, resolutions, frame)
    num_frames : frames in the recording
    label_path : the label file (the journal goes beside it); None disables the journal and save
    autosave_every : kept for compatibility: the journal records every edit
    """

    labels_changed = QtCore.Signal()
    frame_changed = QtCore.Signal(int)
    selection_changed = QtCore.Signal(object)  # int | None
    review_changed = QtCore.Signal()
    message = QtCore.Signal(str)

    def __init__(
        self,
        state: S.SessionState,
        num_frames: int,
        label_path: Path | None,
        autosave_every: int = 5,
        parent: QtCore.QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.labels: LabelSet = state.labels
        self.review: ReviewQueue | None = state.review
        self.resolutions: dict[int, S.Resolution] = dict(state.resolutions)
        #: the on-disk version the labels were read from (see :func:`fusionlabel.io.session.save`)
        self.base: str | None = state.base
        self.provenance = dict(state.provenance)
        #: the review-level log (annotator -> reviewer -> QA sign-offs), kept through saves
        self.signoffs = tuple(state.signoffs)
        self.num_frames = int(num_frames)
        self.frame = min(max(int(state.frame), 0), max(self.num_frames - 1, 0))
        self.selected: int | None = None
        self.label_path = Path(label_path) if label_path is not None else None
        self.undo_stack = QtGui.QUndoStack(self)
        self.undo_stack.setUndoLimit(500)
        self.autosaver: S.Autosaver | None = None  # replaced by the journal (every edit, fsynced)
        self.undo_stack.indexChanged.connect(self._after_change)
        #: True after restoring an autosave: the work is not in the label file until saved
        self.restored = False
        self.journal = S.Journal(self.label_path) if self.label_path is not None else None
        #: why edits are refused (another window edits the label file), or None
        self.read_only: str | None = None
        self._macro = 0  # 1 inside a macro, 2 after its first command (the next ones join its step)
        self._adopt_journal(state)

    # -- state --------------------------------------------------------------------------------
    def state(self) -> S.SessionState:
        return S.SessionState(
            self.labels,
            self.review,
            dict(self.resolutions),
            self.frame,
            self.base,
            dict(self.provenance),
            tuple(self.signoffs),
        )

    @property
    def dirty(self) -> bool:
        return self.restored or not self.undo_stack.isClean()

    def _set_labels(self, labels: LabelSet, select: int | None) -> None:
        self.labels = labels
        self.labels_changed.emit()
        if select != self.selected:
            self.selected = select
            self.selection_changed.emit(select)

    def _set_review(self, st: S.SessionState) -> None:
        self.review = st.review
        self.resolutions = dict(st.resolutions)
        self.review_changed.emit()

    def _journal(self, cmd: LabelEditCommand | ReviewCommand, op: str) -> None:
        """Append ``cmd`` (done, undone or redone) to the journal before it shows."""
        if self.journal is None or self._macro < 0:  # no label file, or rebuilding the history
            return
        try:
            first = cmd.journal_id is None
            cmd.journal_id = self.journal.record(
                "do" if first else op, self.state(), cmd.change(), cmd.text(), cmd.journal_id, self._macro == 2
            )
        except OSError as exc:
            self.message.emit(f"not protected against a crash: {exc}")
        if self._macro == 1:
            self._macro = 2

    def _adopt_journal(self, state: S.SessionState) -> None:
        """Opened on the unsaved work of a journal (a restore): take back its undo history and
        go on appending to it."""
        if self.journal is None:
            return
        try:
            info = S.read_journal(self.label_path) if self.label_path is not None else None
        except OSError:
            info = None
        if info is None or not S.same_work(info.state, state):
            return
        self.labels, self.review, self.resolutions = info.start.labels, info.start.review, dict(info.start.resolutions)
        self._macro = -1  # the journal holds these already
        for step in info.steps:
            if len(step) > 1:
                self.undo_stack.beginMacro(step[0].text)
            for e in step:
                before = self.state()
                after = S.apply_change(before, e.change)
                cmd: LabelEditCommand | ReviewCommand = (
                    LabelEditCommand(self, before.labels, after.labels, e.text, self.selected, self.selected)
                    if e.change.kind == "labels"
                    else ReviewCommand(self, before, after, e.text)
                )
                cmd.journal_id = e.id
                self.undo_stack.push(cmd)
            if len(step) > 1:
                self.undo_stack.endMacro()
        for _ in range(len(info.steps) - info.index):
            self.undo_stack.undo()
        self._macro = 0
        self.journal.adopt(info)

    def close_journal(self) -> None:
        """A normal exit: mark the journal so that the next open does not report a crash."""
        if self.journal is not None:
            try:
                self.journal.close()
            except OSError as exc:
                self.message.emit(f"journal: {exc}")

    def _after_change(self, _index: int) -> None:
        if self.autosaver is not None and self.dirty:
            try:
                self.autosaver.edited(self.state())
            except OSError as exc:
                self.message.emit(f"autosave failed: {exc}")

    # -- navigation ---------------------------------------------------------------------------
    def set_frame(self, index: int) -> None:
        index = min(max(int(index), 0), max(self.num_frames - 1, 0))
        if index != self.frame:
            self.frame = index
            self.frame_changed.emit(index)

    def select(self, track_id: int | None) -> None:
        track_id = None if track_id is None else int(track_id)
        if track_id != self.selected:
            self.selected = track_id
            self.selection_changed.emit(track_id)

    # -- edits --------------------------------------------------------------------------------
    def edit(
        self, text: str, fn: Callable[..., Any], *args: Any, select: int | str | None = "keep", **kwargs: Any
    ) -> bool:
        """Apply ``fn(labels, *args, **kwargs)`` (a :mod:`fusionlabel.core.edits` function) as one
        undoable step named ``text``. ``fn`` may return a LabelSet or ``(LabelSet, track_id)``
        (the new track is then selected). An :class:`EditError` is shown, nothing changes; so is
        :attr:`read_only`."""
        if self._refused(text):
            return False
        try:
            out = fn(self.labels, *args, **kwargs)
        except EditError as exc:
            self.message.emit(f"{text}: {exc}")
            return False
        new_sel = self.selected if select == "keep" else select
        if isinstance(out, tuple):
            out, new_sel = out[0], int(out[1])
        if out is self.labels:
            return False
        self.undo_stack.push(LabelEditCommand(self, self.labels, out, text, new_sel, self.selected))  # type: ignore[arg-type]
        return True

    def _refused(self, text: str) -> bool:
        if self.read_only is None:
            return False
        self.message.emit(f"{text}: not done, {self.read_only}")
        return True

    def replace_labels(self, labels: LabelSet, text: str, review: ReviewQueue | None = None) -> None:
        """Replace everything (pre-labelling result) as one undoable step (a macro)."""
        if self._refused(text):
            return
        self.undo_stack.beginMacro(text)
        self._macro = 1
        self.undo_stack.push(LabelEditCommand(self, self.labels, labels, text, None, self.selected))
        if review is not None:
            before = self.state()
            self.undo_stack.push(ReviewCommand(self, before, replace(before, review=review, resolutions={}), text))
        self._macro = 0
        self.undo_stack.endMacro()

    # -- review -------------------------------------------------------------------------------
    def flagged(self) -> list[int]:
        """Flagged frames in frame order."""
        return sorted(self.review.frames) if self.review is not None else []

    def item(self, frame: int) -> ReviewItem | None:
        return self.review.item(frame) if self.review is not None else None

    def frame_state(self, frame: int) -> str | None:
        """``proposed`` / ``accepted`` / ``edited`` for a flagged frame (None when not flagged)."""
        from fusionlabel.core.review import frame_state

        it = self.item(frame)
        return None if it is None else frame_state(it, self.labels.get(frame), frame in self.resolutions)

    def frame_level(self, frame: int) -> tuple[str | None, str, str]:
        """The review level ``frame`` has reached (``annotator`` / ``reviewer`` / ``qa``, None while
        with the annotator) and who signed it off when (:func:`fusionlabel.core.review.frame_level`)."""
        from fusionlabel.core.review import Review, frame_level

        level = frame_level(Review(self.review, self.resolutions, {}, self.signoffs), frame)
        if level is None:
            return None, "", ""
        last = next((e for e in reversed(self.signoffs) if e.frame == frame and e.level == level), None)
        res = self.resolutions.get(frame)
        if (
            last is not None
            and last.action == "approve"
            and (res is None or level != "annotator" or last.time >= res.time)
        ):
            return level, last.user, last.time
        return level, res.user if res else "", res.time if res else ""

    def next_flagged(self, unresolved_only: bool = True, backwards: bool = False) -> int | None:
        """The next flagged frame after (before) the current one, wrapping; None when none left."""
        fr = [f for f in self.flagged() if not (unresolved_only and f in self.resolutions)]
        if not fr:
            return None
        if backwards:
            prev = [f for f in fr if f < self.frame]
            return prev[-1] if prev else fr[-1]
        nxt = [f for f in fr if f > self.frame]
        return nxt[0] if nxt else fr[0]

    def resolve(self, frame: int | None = None, note: str = "") -> S.Resolution | None:
        """Mark ``frame`` (default: the current one) resolved by the current user, now (undoable);
        None (and a message) when :attr:`read_only`."""
        f = self.frame if frame is None else int(frame)
        if self._refused(f"resolve frame {f}"):
            return None
        before = self.state()
        after = S.resolve(before, f, note)
        self.undo_stack.push(ReviewCommand(self, before, after, f"resolve frame {f}"))
        return after.resolutions[f]

    # -- files --------------------------------------------------------------------------------
    def save(self, timestamps_ns: dict[int, int] | None = None) -> Path:
        """Save labels and review state to the label file.

        Raises ConcurrentEditError (the files changed on disk since they were read: nothing
        written, the work stays here and in the autosave), CorruptFileError, OSError.
        """
        if self.label_path is None:
            raise OSError("no label file for this session")
        self.base = S.save(self.state(), self.label_path, timestamps_ns)
        if self.journal is not None:
            self.journal.stop()  # save removed it: the next edit starts a new one from what was saved
        self.undo_stack.setClean()
        self.restored = False
        if self.autosaver is not None:
            self.autosaver.saved()
        return self.label_path

    def flush_autosave(self) -> None:
        if self.autosaver is not None and self.dirty:
            self.autosaver.pending = max(self.autosaver.pending, 1)
            self.autosaver.flush(self.state())
