"""``fusionlabel open [RECORDING]``: open a recording in the desktop app (the app's own command:
the CLI registers it, the app package owns it, so no command module imports Qt).

Without a display (no ``$DISPLAY``/``$WAYLAND_DISPLAY`` on Linux) it says so and prints the
recording report of ``fusionlabel info`` instead, so the README's first command is useful on
a headless machine too. ``--screenshot FILE`` renders the window once and saves a PNG (used
for the README image and for checks under Xvfb); ``--select`` picks the track shown in the
cuboid views (default for screenshots: the first box of the frame).

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

from fusionlabel.io.open import SAMPLE


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


def prelabel_output(path: Path) -> tuple[Path, Path] | None:
    """``(recording, labels.json)`` when ``path`` is a ``fusionlabel prelabel`` output folder, else None."""
    import json

    from fusionlabel.core.errors import DataError

    rep_path = path / "report.json"
    if not (path.is_dir() and rep_path.is_file() and (path / "labels.json").is_file()):
        return None
    try:
        rep = json.loads(rep_path.read_text(encoding="utf-8"))
        rec = Path(rep["recording"])
    except (OSError, ValueError, KeyError, TypeError):
        raise DataError(rep_path, "not a readable prelabel report (no 'recording')") from None
    if not rec.exists():
        raise DataError(rep_path, f"the pre-labelled recording {rec} is not there any more")
    return rec, path / "labels.json"


def describe_session(rec, label_path: Path | None) -> list[str]:
    """Lines about the label file and its review queue (what the window would show)."""
    from fusionlabel.core.review import Review, frame_status
    from fusionlabel.io import session as S

    path = Path(label_path) if label_path is not None else S.label_path_for(rec)
    st = S.load(path)  # a broken file: a typed error naming it
    lines = [
        f"label file to edit: {path}: {len(st.labels.track_ids())} tracks, {st.labels.num_boxes()} boxes "
        f"in {len(st.labels.frames)} frames" + ("" if path.exists() else " (new)")
    ]
    if st.review is not None:
        status = frame_status(Review(st.review, st.resolutions), st.labels)
        open_ = [s.frame for s in status if s.open]
        lines.append(
            f"review queue: {len(status)} flagged frames, {len(open_)} open"
            + (f"; the window opens on frame {min(open_)} (index)" if open_ else "")
        )
    return lines


def open_cmd(
    recording: Path = typer.Argument(None, help="Recording to open (default: the bundled sample)."),
    frame: int = typer.Option(0, "--frame", help="Frame to show first."),
    labels: Path = typer.Option(
        None,
        "--labels",
        help="Label file to edit (default: the recording's own, "
        "or one in the user data folder for read-only datasets).",
    ),
    screenshot: Path = typer.Option(None, "--screenshot", help="Render once, save the window as PNG, exit."),
    select: int = typer.Option(None, "--select", help="Track to select first (shown in the cuboid views)."),
    prelabel: str = typer.Option(None, "--prelabel", help="Pre-label with this detector (e.g. geometric) on opening."),
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
