"""``fusionlabel open [RECORDING]``: open a recording in the desktop app.

Without a display (no ``$DISPLAY``/``$WAYLAND_DISPLAY`` on Linux) it says so and prints the
recording report of ``fusionlabel info`` instead, so the README's first command is useful on
a headless machine too. ``--screenshot FILE`` renders the window once and saves a PNG (used
for the README image and for checks under Xvfb).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

#: the bundled sample recording (relative to the repository root)
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"


def has_display() -> bool:
    if sys.platform != "linux":
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal")):
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_cmd(
    recording: Path = typer.Argument(None, help="Recording to open (default: the bundled sample)."),
    frame: int = typer.Option(0, "--frame", help="Frame to show first."),
    screenshot: Path = typer.Option(None, "--screenshot", help="Render once, save the window as PNG, exit."),
) -> None:
    """Open a recording in the FusionLabel window (or report it when there is no display)."""
    from fusionlabel.commands.info import check_frames, print_summary, summarize
    from fusionlabel.io.open import open_recording

    path = recording or SAMPLE
    rec = open_recording(path)
    if not has_display():
        print("no display available ($DISPLAY is not set): reporting the recording instead of opening the window;"
              " run on a desktop or under `xvfb-run` to see it.")
        s = summarize(rec, check_frames(rec, list(range(min(len(rec), 20)))))
        print_summary(s)
        return
    import vispy

    vispy.use("pyside6")
    from PySide6 import QtWidgets

    from fusionlabel.app.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    win = MainWindow(rec)
    if frame:
        win.set_frame(min(max(frame, 0), max(len(rec) - 1, 0)))
    win.show()
    if screenshot is not None:
        for _ in range(20):
            app.processEvents()
        win.grab().save(str(screenshot))
        print(f"saved {screenshot}")
        win.close()
        return
    app.exec()


def register(app: typer.Typer) -> None:
    app.command("open")(open_cmd)
