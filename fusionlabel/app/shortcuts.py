"""Every keyboard shortcut in one table, and the help overlay that lists it (F1 or ?).

The window builds its ``QAction``s from :data:`SHORTCUTS`, so the menus, the overlay and
``docs/app.md`` cannot disagree: a test checks that each action named here exists on the window
and that no key is bound twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6 import QtCore, QtGui, QtWidgets


@dataclass(frozen=True)
class Shortcut:
    """keys : Qt key sequences (first one shown); action : MainWindow method name; text : help line."""

    group: str
    keys: tuple[str, ...]
    action: str
    text: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("Navigate", ("Right", "D"), "next_frame", "next frame"),
    Shortcut("Navigate", ("Left", "A"), "prev_frame", "previous frame"),
    Shortcut("Navigate", ("PgDown",), "next_frame_10", "10 frames forward"),
    Shortcut("Navigate", ("PgUp",), "prev_frame_10", "10 frames back"),
    Shortcut("Navigate", ("Home",), "first_frame", "first frame"),
    Shortcut("Navigate", ("End",), "last_frame", "last frame"),
    Shortcut("Navigate", ("Tab",), "select_next_box", "select the next box in this frame"),
    Shortcut("Navigate", ("Shift+Tab",), "select_prev_box", "select the previous box"),
    Shortcut(
        "Navigate",
        ("Esc",),
        "escape",
        "keyboard back to the 3D view (from a panel); in the 3D view: clear the selection",
    ),
    Shortcut("Navigate", ("Space",), "toggle_play", "play / pause at the recording's rate"),
    Shortcut("Navigate", ("}",), "play_faster", "play faster (the next speed, up to 4x)"),
    Shortcut("Navigate", ("{",), "play_slower", "play slower (down to 0.1x)"),
    Shortcut("Navigate", ("C",), "center_view", "centre the 3D view on the selection"),
    Shortcut("View", ("1",), "color_height", "colour points by height"),
    Shortcut("View", ("2",), "color_intensity", "colour points by intensity"),
    Shortcut("View", ("3",), "color_distance", "colour points by distance"),
    Shortcut("View", ("]",), "larger_points", "larger points (3D view and cameras)"),
    Shortcut("View", ("[",), "smaller_points", "smaller points (3D view and cameras)"),
    Shortcut("Review", ("N",), "next_flagged", "jump to the next open flagged frame (shows why)"),
    Shortcut("Review", ("Shift+N",), "prev_flagged", "jump to the previous open flagged frame"),
    Shortcut("Review", ("R",), "resolve_frame", "mark this flagged frame resolved (you, now)"),
    Shortcut("Review", ("Y",), "accept_selected", "accept the selected proposal (all in frame if none)"),
    Shortcut("Review", ("Shift+Y",), "accept_track", "accept every proposal of the selected track"),
    Shortcut("Review", ("X",), "reject_selected", "reject (delete) the selected proposal"),
    Shortcut(
        "Edit",
        ("F",),
        "fit_at_selection",
        "refit the selected box to its points (class size prior, never below the class minimum)",
    ),
    Shortcut(
        "Edit", ("Shift+F",), "one_size_for_track", "one size for the track: its best-observed size on every frame"
    ),
    Shortcut("Edit", ("Del", "Backspace"), "delete_selected", "delete the selected box"),
    Shortcut("Edit", ("Shift+Del",), "delete_track_from_here", "delete the selected track from this frame on"),
    Shortcut("Edit", ("I",), "move_forward", "move 0.1 m forward (box frame; Shift: 0.5 m)"),
    Shortcut("Edit", ("Shift+I",), "move_forward_big", "move 0.5 m forward"),
    Shortcut("Edit", ("K",), "move_back", "move 0.1 m back"),
    Shortcut("Edit", ("Shift+K",), "move_back_big", "move 0.5 m back"),
    Shortcut("Edit", ("J",), "move_left", "move 0.1 m left"),
    Shortcut("Edit", ("Shift+J",), "move_left_big", "move 0.5 m left"),
    Shortcut("Edit", ("L",), "move_right", "move 0.1 m right"),
    Shortcut("Edit", ("Shift+L",), "move_right_big", "move 0.5 m right"),
    Shortcut("Edit", ("T",), "move_up", "move 0.05 m up"),
    Shortcut("Edit", ("G",), "move_down", "move 0.05 m down"),
    Shortcut("Edit", ("U",), "rotate_left", "rotate 1° counter-clockwise (Shift: 5°)"),
    Shortcut("Edit", ("Shift+U",), "rotate_left_big", "rotate 5° counter-clockwise"),
    Shortcut("Edit", ("O",), "rotate_right", "rotate 1° clockwise"),
    Shortcut("Edit", ("Shift+O",), "rotate_right_big", "rotate 5° clockwise"),
    Shortcut("Edit", ("Alt+I",), "longer", "length +0.1 m"),
    Shortcut("Edit", ("Alt+K",), "shorter", "length -0.1 m"),
    Shortcut("Edit", ("Alt+J",), "wider", "width +0.1 m"),
    Shortcut("Edit", ("Alt+L",), "narrower", "width -0.1 m"),
    Shortcut("Edit", ("Alt+T",), "height_up", "height +0.1 m"),
    Shortcut("Edit", ("Alt+G",), "height_down", "height -0.1 m"),
    Shortcut("Edit", ("V",), "copy_forward", "copy the selected box (all if none) to the next frame and go there"),
    Shortcut("Edit", ("Shift+V",), "copy_forward_10", "copy the selected box to the next 10 frames"),
    Shortcut("Edit", ("Ctrl+I",), "interpolate", "interpolate the selected track between its keyframes"),
    Shortcut("IDs", ("Ctrl+R",), "reassign_id", "give the selected track another ID from this frame on"),
    Shortcut("IDs", ("Ctrl+W",), "swap_ids", "swap the selected track with another from this frame on"),
    Shortcut("IDs", ("Ctrl+M",), "merge_track", "merge another track into the selected one"),
    Shortcut("IDs", ("Ctrl+K",), "split_track", "split the selected track at this frame"),
    Shortcut("File", ("Ctrl+O",), "open_recording_dialog", "open a recording folder"),
    Shortcut("File", ("Ctrl+Shift+O",), "open_recording_file_dialog", "open a recording file (bag, MCAP...)"),
    Shortcut("File", ("Ctrl+Z",), "undo", "undo"),
    Shortcut("File", ("Ctrl+Shift+Z", "Ctrl+Y"), "redo", "redo"),
    Shortcut("File", ("Ctrl+S",), "save", "save labels and review state"),
    Shortcut("File", ("Ctrl+P",), "prelabel", "pre-label the recording (runs in the background)"),
    Shortcut(
        "File",
        ("Ctrl+Shift+A",),
        "adapt",
        "adapt the learned detector to the frames you labelled, pre-label the rest again (background)",
    ),
    Shortcut("File", ("Ctrl+Shift+E",), "edit_schema", "edit the label schema (classes, sizes, attributes)"),
    Shortcut("File", ("F1", "?"), "toggle_help", "show / hide this help"),
    Shortcut("File", ("Ctrl+Q",), "quit_app", "quit (asks to save unsaved work)"),
)

MOUSE_HELP = (
    ("top view", "drag on empty ground: draw a new box; Shift+click: fit a box to the points there"),
    ("top view", "drag inside the box: move; a corner: resize; the round handle: rotate"),
    ("camera", "drag a rectangle around an object: a cuboid from its points and the class prior"),
    ("camera", "drag a white face handle of the selected box: move that face; click a box: select"),
    ("camera", "wheel: zoom; right or middle drag: pan; double-click: fit; the bar: point size, fill the screen"),
    ("side / front view", "drag inside: move; an edge: change length / width / height"),
    ("3D view", "drag: orbit; wheel: zoom; Shift+drag: pan; click a box: select; Shift+click: fit a box"),
    ("timeline", "click: jump to a frame; click a lane: select that track"),
)


def help_text() -> str:
    """The overlay's content as plain text (also pasted into docs/app.md)."""
    lines = []
    group = ""
    for s in SHORTCUTS:
        if s.group != group:
            group = s.group
            lines.append(f"\n{group}")
        lines.append(f"  {' / '.join(s.keys):<18} {s.text}")
    lines.append("\nMouse")
    for where, what in MOUSE_HELP:
        lines.append(f"  {where:<18} {what}")
    return "\n".join(lines).strip("\n")


class HelpOverlay(QtWidgets.QWidget):
    """A translucent panel over the window listing every shortcut; any key or click hides it."""

    def __init__(self, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("background: rgba(10, 12, 16, 225); color: #e8e8e8;")
        lay = QtWidgets.QVBoxLayout(self)
        text = QtWidgets.QLabel(help_text())
        text.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        text.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(text)
        scroll.setWidgetResizable(True)
        lay.addWidget(QtWidgets.QLabel("Keyboard shortcuts (F1 or ? to close)"))
        lay.addWidget(scroll, 1)
        self.hide()

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            parent = self.parentWidget()
            if parent is not None:
                self.setGeometry(parent.rect().adjusted(60, 40, -60, -40))
            self.raise_()
            self.show()

    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:
        self.hide()
