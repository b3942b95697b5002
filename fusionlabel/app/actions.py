"""The window's actions: one method per entry of :data:`fusionlabel.app.shortcuts.SHORTCUTS`.

A mixin of :class:`~fusionlabel.app.main_window.MainWindow`; every edit goes through
``self.doc.edit`` with a pure function of :mod:`fusionlabel.core.edits`, so each is one undo
step. Methods that need a second track id (swap, merge, reassign) take it as an argument and
ask for it in a dialog only when called without one from the keyboard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6 import QtWidgets

from fusionlabel.app.fit import fit_box_at
from fusionlabel.core import edits as E
from fusionlabel.core.boxes import Boxes

if TYPE_CHECKING:
    from fusionlabel.app.document import LabelDocument


class EditActions:
    """Mixin: requires ``doc``, ``index``, ``current_points()``, ``message()``, ``interactive``."""

    doc: LabelDocument
    interactive: bool

    # provided by the window
    def message(self, text: str, ms: int = 8000) -> None: ...
    def current_points(self) -> np.ndarray:
        raise NotImplementedError  # the window provides it

    def set_frame(self, index: int) -> None: ...

    # -- navigation ---------------------------------------------------------------------------
    def next_frame(self) -> None:
        self.set_frame(self.doc.frame + 1)

    def prev_frame(self) -> None:
        self.set_frame(self.doc.frame - 1)

    def next_frame_10(self) -> None:
        self.set_frame(self.doc.frame + 10)

    def prev_frame_10(self) -> None:
        self.set_frame(self.doc.frame - 10)

    def first_frame(self) -> None:
        self.set_frame(0)

    def last_frame(self) -> None:
        self.set_frame(self.doc.num_frames - 1)

    def _frame_ids(self) -> list[int]:
        return [int(t) for t in self.doc.labels.get(self.doc.frame).track_ids]

    def select_next_box(self, step: int = 1) -> None:
        ids = sorted(self._frame_ids())
        if not ids:
            return
        cur = self.doc.selected
        i = ids.index(cur) + step if cur in ids else (0 if step > 0 else -1)
        self.doc.select(ids[i % len(ids)])

    def select_prev_box(self) -> None:
        self.select_next_box(-1)

    def deselect(self) -> None:
        self.doc.select(None)

    def select_at(self, x: float, y: float) -> int | None:
        """Select the box whose footprint contains ego ``(x, y)`` (the smallest, if nested)."""
        fl = self.doc.labels.get(self.doc.frame)
        best, area = None, np.inf
        for i, tid in enumerate(fl.track_ids):
            c, s, yaw = fl.boxes.center[i], fl.boxes.size[i], fl.boxes.yaw[i]
            dx, dy = x - c[0], y - c[1]
            lx = np.cos(yaw) * dx + np.sin(yaw) * dy  # R(-yaw) (p - c)
            ly = -np.sin(yaw) * dx + np.cos(yaw) * dy
            if abs(lx) <= s[0] / 2 + 0.2 and abs(ly) <= s[1] / 2 + 0.2 and s[0] * s[1] < area:
                best, area = int(tid), s[0] * s[1]
        self.doc.select(best)
        return best

    # -- review -------------------------------------------------------------------------------
    def next_flagged(self, backwards: bool = False) -> int | None:
        """Jump to the next open flagged frame; select its first named track; say why."""
        f = self.doc.next_flagged(backwards=backwards)
        if f is None:
            self.message(
                "no open flagged frames" if self.doc.review is not None else "no review queue: pre-label first (Ctrl+P)"
            )
            return None
        self.set_frame(f)
        it = self.doc.item(f)
        if it is not None and it.reasons:
            tid = it.reasons[0].get("track_id")
            if tid is not None and int(tid) in self._frame_ids():
                self.doc.select(int(tid))
            why = "; ".join(f"track {r.get('track_id')}: {r.get('reason')}" for r in it.reasons[:4])
            self.message(f"frame {f} flagged (score {it.score:.2f}): {why}", 20000)
        return f

    def prev_flagged(self) -> None:
        self.next_flagged(backwards=True)

    def resolve_frame(self) -> None:
        if self.doc.item(self.doc.frame) is None:
            self.message(f"frame {self.doc.frame} is not flagged")
            return
        r = self.doc.resolve()
        self.message(f"frame {r.frame} resolved by {r.user} at {r.time}")

    def accept_selected(self) -> None:
        ids = None if self.doc.selected is None else [self.doc.selected]
        if ids and self.doc.selected not in self._frame_ids():
            return
        self.doc.edit("accept", E.accept, self.doc.frame, ids)

    def accept_track(self) -> None:
        if self.doc.selected is not None:
            self.doc.edit(f"accept track {self.doc.selected}", E.accept_track, self.doc.selected)

    def reject_selected(self) -> None:
        if self.doc.selected is not None:
            self.doc.edit("reject", E.reject, self.doc.frame, self.doc.selected, select=None)

    # -- boxes --------------------------------------------------------------------------------
    def add_box(self, box: Boxes, category: str = "Car") -> None:
        self.doc.edit("add box", E.add_box, self.doc.frame, box, category)

    def fit_at(self, x: float, y: float) -> int | None:
        """One-click box: fit a cuboid to the points under ego ``(x, y)`` and add it (new track)."""
        try:
            box, cat = fit_box_at(self.current_points(), x, y)
        except E.EditError as exc:
            self.message(f"fit: {exc}")
            return None
        self.doc.edit("fit box", E.add_box, self.doc.frame, box, cat)
        return self.doc.selected

    def fit_at_selection(self) -> None:
        box = self._sel_box()
        if box is None:
            return
        try:
            fitted, _ = fit_box_at(self.current_points(), float(box.center[0, 0]), float(box.center[0, 1]))
        except E.EditError as exc:
            self.message(f"fit: {exc}")
            return
        self.doc.edit("refit box", E.set_box, self.doc.frame, self.doc.selected, fitted)

    def _sel_box(self) -> Boxes | None:
        fl = self.doc.labels.get(self.doc.frame)
        hit = (
            np.flatnonzero(fl.track_ids == self.doc.selected)
            if self.doc.selected is not None
            else np.zeros(0, np.int64)
        )
        return fl.boxes[int(hit[0]) : int(hit[0]) + 1] if len(hit) else None

    def set_selected_box(self, track_id: int, box: Boxes) -> None:
        self.doc.edit("drag box", E.set_box, self.doc.frame, track_id, box)

    def delete_selected(self) -> None:
        if self.doc.selected is not None and self.doc.selected in self._frame_ids():
            self.doc.edit("delete box", E.delete_box, self.doc.frame, self.doc.selected, select=None)

    def delete_track_from_here(self) -> None:
        if self.doc.selected is not None:
            self.doc.edit("delete track from here", E.delete_track, self.doc.selected, self.doc.frame, select=None)

    def _move(self, dx: float, dy: float, dz: float) -> None:
        if self._sel_box() is not None:
            self.doc.edit("move", E.move_box, self.doc.frame, self.doc.selected, (dx, dy, dz), local=True)

    def move_forward(self) -> None:
        self._move(0.1, 0, 0)

    def move_forward_big(self) -> None:
        self._move(0.5, 0, 0)

    def move_back(self) -> None:
        self._move(-0.1, 0, 0)

    def move_back_big(self) -> None:
        self._move(-0.5, 0, 0)

    def move_left(self) -> None:
        self._move(0, 0.1, 0)

    def move_left_big(self) -> None:
        self._move(0, 0.5, 0)

    def move_right(self) -> None:
        self._move(0, -0.1, 0)

    def move_right_big(self) -> None:
        self._move(0, -0.5, 0)

    def move_up(self) -> None:
        self._move(0, 0, 0.05)

    def move_down(self) -> None:
        self._move(0, 0, -0.05)

    def _rotate(self, deg: float) -> None:
        if self._sel_box() is not None:
            self.doc.edit("rotate", E.rotate_box, self.doc.frame, self.doc.selected, float(np.radians(deg)))

    def rotate_left(self) -> None:
        self._rotate(1.0)

    def rotate_left_big(self) -> None:
        self._rotate(5.0)

    def rotate_right(self) -> None:
        self._rotate(-1.0)

    def rotate_right_big(self) -> None:
        self._rotate(-5.0)

    def _resize(self, dl: float, dw: float, dh: float) -> None:
        if self._sel_box() is not None:
            anchor = (0, 0, -1) if dh else (0, 0, 0)  # height grows upwards, bottom stays on the ground
            self.doc.edit("resize", E.resize_box, self.doc.frame, self.doc.selected, (dl, dw, dh), anchor)

    def longer(self) -> None:
        self._resize(0.1, 0, 0)

    def shorter(self) -> None:
        self._resize(-0.1, 0, 0)

    def wider(self) -> None:
        self._resize(0, 0.1, 0)

    def narrower(self) -> None:
        self._resize(0, -0.1, 0)

    def height_up(self) -> None:
        self._resize(0, 0, 0.1)

    def height_down(self) -> None:
        self._resize(0, 0, -0.1)

    def copy_forward(self, count: int = 1) -> None:
        ids = [self.doc.selected] if self.doc.selected in self._frame_ids() else None
        if self.doc.frame + 1 >= self.doc.num_frames:
            return
        count = min(count, self.doc.num_frames - 1 - self.doc.frame)
        if self.doc.edit(f"copy forward x{count}", E.copy_forward, self.doc.frame, ids, count) and count == 1:
            self.next_frame()

    def copy_forward_10(self) -> None:
        self.copy_forward(10)

    def interpolate(self) -> None:
        if self.doc.selected is not None:
            self.doc.edit(f"interpolate track {self.doc.selected}", E.interpolate, self.doc.selected)

    # -- IDs ----------------------------------------------------------------------------------
    def _ask_id(self, title: str, label: str) -> int | None:
        if not self.interactive:
            return None
        v, ok = QtWidgets.QInputDialog.getInt(self, title, label, 1, 0, 2**31 - 1)  # type: ignore[arg-type]
        return int(v) if ok else None

    def reassign_id(self, new_id: int | None = None) -> None:
        t = self.doc.selected
        if t is None:
            return
        new_id = (
            new_id
            if new_id is not None
            else self._ask_id("Reassign ID", f"new ID for track {t} from frame {self.doc.frame} on:")
        )
        if new_id is not None:
            self.doc.edit(f"reassign {t} -> {new_id}", E.reassign_id, t, new_id, self.doc.frame, select=int(new_id))

    def swap_ids(self, other: int | None = None) -> None:
        t = self.doc.selected
        if t is None:
            return
        other = (
            other
            if other is not None
            else self._ask_id("Swap IDs", f"swap track {t} with (from frame {self.doc.frame} on):")
        )
        if other is not None:
            self.doc.edit(f"swap {t} <-> {other}", E.swap_tracks, t, other, self.doc.frame)

    def merge_track(self, other: int | None = None, conflict: Any = "error") -> None:
        t = self.doc.selected
        if t is None:
            return
        other = other if other is not None else self._ask_id("Merge tracks", f"merge which track into track {t}?")
        if other is not None:
            self.doc.edit(f"merge {other} into {t}", E.merge_tracks, t, other, conflict)

    def split_track(self) -> None:
        t = self.doc.selected
        if t is not None:
            nid = E.new_track_id(self.doc.labels)
            if self.doc.edit(f"split {t} at frame {self.doc.frame}", E.split_track, t, self.doc.frame, nid, select=nid):
                self.message(f"track {t} continues as track {nid} from frame {self.doc.frame}")

    # -- undo -----------------------------------------------------------------------------------
    def undo(self) -> None:
        self.doc.undo_stack.undo()

    def redo(self) -> None:
        self.doc.undo_stack.redo()
