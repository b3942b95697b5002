"""``fusionlabel open [RECORDING]``: open a recording in the desktop app.

Without a display (no ``$DISPLAY``/``$WAYLAND_DISPLAY`` on Linux) it says so and prints the
recording report of ``fusionlabel info`` instead, so the README's first command is useful on
a headless machine too. ``--screenshot FILE`` renders the window once and saves a PNG (used
for the README image and for checks under Xvfb); ``--select`` picks the track shown in the
cuboid views (default for screenshots: the first box of the frame).
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


def screenshot_window(win, path: Path, settle_ms: int = 600) -> None:  # noqa: ANN001 - MainWindow
    """Let the window lay out and paint, then save ``win.grab()`` as an image (PNG by suffix)."""
    import time

    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance()
    assert app is not None
    end = time.monotonic() + settle_ms / 1000
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
    win.cloud.canvas.render()  # make sure the GL view has drawn at least once
    app.processEvents()
    if not win.grab().save(str(path)):
        raise OSError(f"{path}: could not write the screenshot")


def open_cmd(
    recording: Path = typer.Argument(None, help="Recording to open (default: the bundled sample)."),
    frame: int = typer.Option(0, "--frame", help="Frame to show first."),
    labels: Path = typer.Option(None, "--labels", help="Label file to edit (default: the recording's own, "
                                "or one in the user data folder for read-only datasets)."),
    screenshot: Path = typer.Option(None, "--screenshot", help="Render once, save the window as PNG, exit."),
    select: int = typer.Option(None, "--select", help="Track to select first (shown in the cuboid views)."),
    prelabel: str = typer.Option(None, "--prelabel", help="Pre-label with this detector (e.g. geometric) on opening."),
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
        if labels is not None:
            from fusionlabel.io.native_labels import read_labels

            ls = read_labels(labels)  # a broken file: a typed error naming it
            print(f"label file to edit: {labels}: {len(ls.track_ids())} tracks, {ls.num_boxes()} boxes "
                  f"in {len(ls.frames)} frames")
        return
    import numpy as np
    import vispy

    vispy.use("pyside6")
    from PySide6 import QtWidgets

    from fusionlabel.app.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    win = MainWindow(rec, label_path=labels, interactive=screenshot is None)
    if frame:
        win.set_frame(min(max(frame, 0), max(len(rec) - 1, 0)))
    if prelabel:
        win.prelabel(prelabel)
        if screenshot is not None:  # wait for it (the window keeps painting meanwhile)
            import time

            while win.job is not None and win.job.running():
                app.processEvents()
                time.sleep(0.02)
            app.processEvents()
            if win.last_error:
                print(f"pre-labelling: {win.last_error}", file=sys.stderr)
    fl = win.doc.labels.get(win.doc.frame)
    if select is not None:
        win.doc.select(select)
    elif screenshot is not None and len(fl):
        # show the nearest box ahead in the cuboid views
        c = fl.boxes.center
        dist = np.hypot(c[:, 0], c[:, 1]) + np.where(c[:, 0] > 0, 0.0, 1e3)
        win.doc.select(int(fl.track_ids[int(np.argmin(dist))]))
    win.show()
    if screenshot is not None:
        screenshot_window(win, screenshot)
        print(f"saved {screenshot}")
        win.close()
        return
    app.exec()


def register(app: typer.Typer) -> None:
    app.command("open")(open_cmd)
