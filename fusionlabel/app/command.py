"""``fusionlabel open [RECORDING]``: open a recording in the desktop app (the app's own command:
the CLI registers it, the app package owns it, so no command module imports Qt).

Without a display (no ``$DISPLAY``/``$WAYLAND_DISPLAY`` on Linux) it says so and prints the
recording report of ``fusionlabel info`` instead, so the README's first command is useful on
a headless machine too. ``--screenshot FILE`` renders the window once and saves a PNG (used
for the README image and for checks under Xvfb); ``--select`` picks the track shown in the
cuboid views (default for screenshots: the first box of the frame).

With ``--prelabel`` and ``--screenshot``, the exit status is 1 when the pre-labelling failed (or
failed on every frame); the screenshot is saved all the same.

``RECORDING`` may also be a ``fusionlabel prelabel`` output folder (``OUT/<name>``): its
``report.json`` names the recording and its ``labels.json`` (with ``labels.review.json``) is the
label file to edit, so ``fusionlabel open OUT/<name>`` opens the pre-labels with their review
queue, on the first flagged frame.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from fusionlabel.app.prelabel_output import prelabel_output
from fusionlabel.io.open import SAMPLE

__all__ = ["describe_session", "has_display", "open_cmd", "prelabel_output", "register", "screenshot_window"]


def has_display() -> bool:
    if sys.platform != "linux":
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal")):
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def screenshot_window(win, path: Path, settle_ms: int = 600) -> None:
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


def describe_session(rec, label_path: Path | None) -> list[str]:
    """Lines about the label file and its review queue (what the window would show)."""
    from fusionlabel.core.review import Review, frame_status
    from fusionlabel.io import session as S

    path = Path(label_path) if label_path is not None else S.label_path_for(rec)
    st = S.load(path)  # a broken file: a typed error naming it
    lines = [
        f"label file to edit: {path}: {len(st.labels.track_ids)} tracks, {st.labels.num_boxes} boxes "
        f"in {len(st.labels.frames)} frames" + ("" if path.exists() else " (new)")
    ]
    holder = S.editing_elsewhere(path)
    if holder is not None:
        lines.append(f"open for editing in another window ({holder}): this one would open it read-only")
    if st.review is not None:
        status = frame_status(Review(st.review, st.resolutions), st.labels)
        open_ = [s.frame for s in status if s.open]
        lines.append(
            f"review queue: {len(status)} flagged frames, {len(open_)} open"
            + (f"; the window opens on frame {min(open_) + 1} (index {min(open_)})" if open_ else "")
        )
    return lines


def open_cmd(
    recording: Path = typer.Argument(None, help="Recording to open (default: the bundled sample)."),
    frame: int = typer.Option(None, "--frame", help="Frame to show first, numbered from 1 as the window shows it."),
    labels: Path = typer.Option(
        None,
        "--labels",
        help="Label file to edit (default: the recording's own, "
        "or one in the user data folder for read-only datasets).",
    ),
    screenshot: Path = typer.Option(None, "--screenshot", help="Render once, save the window as PNG, exit."),
    select: int = typer.Option(None, "--select", help="Track to select first (shown in the cuboid views)."),
    prelabel: str = typer.Option(None, "--prelabel", help="Pre-label with this detector (e.g. geometric) on opening."),
    schema: Path = typer.Option(
        None,
        "--schema",
        help="Label schema (classes, size priors, attributes; default: label_schema.yaml beside the "
        "label file or in the recording's folder, else the built-in one).",
    ),
) -> None:
    """Open a recording in the FusionLabel window (or report it when there is no display)."""
    from fusionlabel.io.open import open_recording
    from fusionlabel.pipeline.inspect import check_frames, print_summary, summarize

    path = recording or SAMPLE
    pre = prelabel_output(path)
    if pre is not None:
        path = pre[0]
        labels = labels or pre[1]
    rec = open_recording(path)
    if not has_display():
        print(
            "no display available ($DISPLAY is not set): reporting the recording instead of opening the window;"
            " run on a desktop or under `xvfb-run` to see it."
        )
        s = summarize(rec, check_frames(rec, list(range(min(len(rec), 20)))))
        print_summary(s)
        for line in describe_session(rec, labels):
            print(line)
        if screenshot is not None:  # a script relies on the picture: say it was not made
            typer.echo(f"error: {screenshot}: not written: a screenshot needs a display (run under xvfb-run)", err=True)
            raise typer.Exit(code=1)
        return
    import numpy as np
    import vispy

    vispy.use("pyside6")
    from PySide6 import QtWidgets

    from fusionlabel.app.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    win = MainWindow(rec, label_path=labels, interactive=screenshot is None, schema=schema)
    if screenshot is None:
        from fusionlabel.app.recent import RecentFiles

        RecentFiles().add(recording or SAMPLE)  # File > Open recent
    if frame is not None:
        win.set_frame(min(max(frame - 1, 0), max(len(rec) - 1, 0)))
    failure = ""  # a pre-label of a --screenshot run that failed: the exit status says so
    if prelabel:
        outcome: list[str] = []
        win.prelabel_done.connect(outcome.append)
        started = win.prelabel(prelabel)
        if screenshot is not None:  # wait for it (the window keeps painting meanwhile)
            import time

            while win.job is not None and win.job.running():
                app.processEvents()
                time.sleep(0.02)
            for _ in range(100):  # its last message comes from the worker process
                app.processEvents()
                if outcome or not started:
                    break
                time.sleep(0.01)
            rep = getattr(win.last_result, "report", None) or {}  # plain data from the worker process
            if not started or outcome[-1:] != ["ok"]:
                failure = win.last_error or f"pre-labelling {outcome[-1] if outcome else 'did not run'}"
            elif rep.get("frames") and len(rep.get("failed_frames") or ()) == rep["frames"]:
                failure = win.last_error or "the detector failed on every frame"
            if win.last_error or failure:
                print(f"pre-labelling: {win.last_error or failure}", file=sys.stderr)
    fl = win.doc.labels.get(win.doc.frame)
    if select is not None:
        win.doc.select(select)
    elif screenshot is not None and len(fl):
        # show the nearest box ahead (in front of the cameras, with its face handles) in the box views
        c = fl.boxes.center
        dist = np.hypot(c[:, 0], c[:, 1]) + np.where(c[:, 0] > 4.0, 0.0, 1e3)
        win.doc.select(int(fl.track_ids[int(np.argmin(dist))]))
    win.show()
    if screenshot is not None:
        screenshot_window(win, screenshot)
        print(f"saved {screenshot}")
        if win.doc.label_path is None and win.last_error and not failure:  # refused or read-only: say so
            print(f"note: {win.last_error}", file=sys.stderr)
        win.close()
        if failure:
            raise typer.Exit(code=1)
        return
    app.exec()


def register(app: typer.Typer) -> None:
    app.command("open")(open_cmd)
