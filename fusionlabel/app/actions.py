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
    from fusionlabel.app.schema_panel import SchemaModel


class EditActions:
    """Mixin: requires ``doc``, ``index``, ``current_points()``, ``message()``, ``interactive``."""

    doc: LabelDocument
    interactive: bool
    schema_model: SchemaModel
    #: the class new boxes get (drawn, fitted at a click, drawn in an image)
    new_class: str

    # provided by the window
    def message(self, text: str, ms: int = 8000) -> None: ...
    def current_points(self) -> np.ndarray:
        raise NotImplementedError  # the window provides it

    def sensor_xy(self) -> tuple[float, float]:
        return (0.0, 0.0)

    def track_point_counts(self, track_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
            self.message(f"frame {f + 1} flagged (score {it.score:.2f}): {why}", 20000)
        return f

    def prev_flagged(self) -> None:
        self.next_flagged(backwards=True)

    def resolve_frame(self) -> None:
        if self.doc.item(self.doc.frame) is None:
            self.message(f"frame {self.doc.frame + 1} is not flagged")
            return
        r = self.doc.resolve()
        if r is None:  # read-only here: the document said why
            return
        self.message(f"frame {r.frame + 1} resolved by {r.user} at {r.time}")

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
    def add_box(self, box: Boxes, category: str | None = None, text: str = "add box") -> int | None:
        """Add ``box`` as a new track of ``category`` (default: the class for new boxes) with the
        schema's default attribute values; returns the new track id (selected)."""
        cat = category or self.new_class
        attrs = self.schema_model.schema.defaults_for(cat)
        if self.doc.edit(text, E.add_box, self.doc.frame, box, cat, None, attrs):
            return self.doc.selected
        return None

    def prior_box_at(self, x: float, y: float, ground_z: float, yaw: float = 0.0, category: str | None = None) -> Boxes:
        """A box of the class's typical size standing on ``ground_z`` at ego ``(x, y)``."""
        sc = self.schema_model.schema.size_class(category or self.new_class)
        l, w, h = sc.prior
        return Boxes.from_array([[x, y, ground_z + h / 2, l, w, h, yaw]])

    def fit_at(self, x: float, y: float) -> int | None:
        """One-click box: fit a cuboid of the class for new boxes to the points under ego ``(x, y)``
        (completed to the class's sizes, never below its minimum) and add it as a new track."""
        sc = self.schema_model.schema.size_class(self.new_class)
        try:
            box, _ = fit_box_at(self.current_points(), x, y, prior=sc, sensor_xy=self.sensor_xy())
        except E.EditError as exc:
            self.message(f"fit: {exc}")
            return None
        return self.add_box(box, self.new_class, "fit box")

    def fit_at_selection(self) -> None:
        """F: refit the selected box to the points around it, keeping its heading, completed to
        its class's sizes (never smaller than the class minimum)."""
        box = self._sel_box()
        if box is None or self.doc.selected is None:
            return
        fl = self.doc.labels.get(self.doc.frame)
        cat = fl.categories[int(np.flatnonzero(fl.track_ids == self.doc.selected)[0])]
        sc = self.schema_model.schema.size_class(cat)
        try:
            fitted, _ = fit_box_at(
                self.current_points(),
                float(box.center[0, 0]),
                float(box.center[0, 1]),
                prior=sc,
                yaw_hint=float(box.yaw[0]),
                sensor_xy=self.sensor_xy(),
            )
        except E.EditError as exc:
            self.message(f"fit: {exc}")
            return
        self.doc.edit("refit box", E.set_box, self.doc.frame, self.doc.selected, fitted)

    def one_size_for_track(self) -> None:
        """Give every box of the selected track its best-observed size: the largest box among its
        well-covered views (at least half the LiDAR points of its best view), never below the
        class minimum (:func:`fusionlabel.core.size_priors.best_observed_size`)."""
        from fusionlabel.core.size_priors import at_least_minimum, best_observed_size

        t = self.doc.selected
        if t is None:
            return
        frames, sizes, counts = self.track_point_counts(t)
        if not len(frames):
            self.message(f"track {t} has no boxes")
            return
        cat = self.doc.labels.track(t)[2][0]
        size = at_least_minimum(best_observed_size(sizes, counts), self.schema_model.schema.size_class(cat))
        best = int(frames[int(np.argmin(np.abs(sizes - size).sum(axis=1)))])
        if self.doc.edit(f"one size for track {t}", E.set_track_size, t, size):
            self.message(
                f"track {t}: every box is now {size[0]:.2f} x {size[1]:.2f} x {size[2]:.2f} m "
                f"(seen best in frame {best + 1})"
            )

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
    def _ask_id(self, title: str, label: str, default: int | None = None) -> int | None:
        """Ask for a track ID, starting at ``default`` (a fresh ID when None)."""
        if not self.interactive:
            return None
        start = int(default) if default is not None else E.new_track_id(self.doc.labels)
        v, ok = QtWidgets.QInputDialog.getInt(self, title, label, start, 0, 2**31 - 1)  # type: ignore[arg-type]
        return int(v) if ok else None

    def _nearest_other(self, track_id: int) -> int | None:
        """The track nearest ``track_id``'s box in this frame (what a swap most likely means)."""
        fl = self.doc.labels.get(self.doc.frame)
        hit = np.flatnonzero(fl.track_ids == track_id)
        others = np.flatnonzero(fl.track_ids != track_id)
        if not len(hit) or not len(others):
            return None
        d = np.linalg.norm(fl.boxes.center[others] - fl.boxes.center[int(hit[0])], axis=1)
        return int(fl.track_ids[others[int(np.argmin(d))]])

    def _merge_candidate(self, track_id: int) -> int | None:
        """The track that most likely continues ``track_id``: disjoint in time, the smallest gap
        between one's end and the other's start (then the nearest boxes across the gap)."""
        rows = {r["id"]: r for r in E.track_summary(self.doc.labels)}
        me = rows.get(track_id)
        if me is None:
            return None
        best: tuple[float, float, int] | None = None
        for tid, r in rows.items():
            if tid == track_id:
                continue
            if r["first"] > me["last"]:
                gap, fa, fb = r["first"] - me["last"], me["last"], r["first"]
            elif r["last"] < me["first"]:
                gap, fa, fb = me["first"] - r["last"], r["last"], me["first"]
            else:
                continue
            a, b = self.doc.labels.get(fa), self.doc.labels.get(fb)
            ca = a.boxes.center[np.flatnonzero(a.track_ids == (track_id if fa == me["last"] else tid))[0]]
            cb = b.boxes.center[np.flatnonzero(b.track_ids == (tid if fb == r["first"] else track_id))[0]]
            key = (float(gap), float(np.linalg.norm(ca - cb)), tid)
            if best is None or key < best:
                best = key
        return best[2] if best is not None else None

    def reassign_id(self, new_id: int | None = None) -> None:
        t = self.doc.selected
        if t is None:
            return
        new_id = (
            new_id
            if new_id is not None
            else self._ask_id(
                "Reassign ID",
                f"new ID for track {t} from frame {self.doc.frame + 1} on:",
                E.new_track_id(self.doc.labels),
            )
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
            else self._ask_id(
                "Swap IDs", f"swap track {t} with (from frame {self.doc.frame + 1} on):", self._nearest_other(t)
            )
        )
        if other is not None:
            self.doc.edit(f"swap {t} <-> {other}", E.swap_tracks, t, other, self.doc.frame)

    def merge_track(self, other: int | None = None, conflict: Any = "error") -> None:
        t = self.doc.selected
        if t is None:
            return
        other = (
            other
            if other is not None
            else self._ask_id("Merge tracks", f"merge which track into track {t}?", self._merge_candidate(t))
        )
        if other is not None:
            self.doc.edit(f"merge {other} into {t}", E.merge_tracks, t, other, conflict)

    def split_track(self) -> None:
        t = self.doc.selected
        if t is not None:
            nid = E.new_track_id(self.doc.labels)
            if self.doc.edit(
                f"split {t} at frame {self.doc.frame + 1}", E.split_track, t, self.doc.frame, nid, select=nid
            ):
                self.message(f"track {t} continues as track {nid} from frame {self.doc.frame + 1}")

    # -- undo -----------------------------------------------------------------------------------
    def undo(self) -> None:
        self.doc.undo_stack.undo()

    def redo(self) -> None:
        self.doc.undo_stack.redo()
