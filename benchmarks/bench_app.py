"""Frame-switch latency and 3D render time of the desktop app on a real KITTI frame.

Frame switch = what the window does when the user presses Right on a frame that is not cached:
load the LiDAR scan and the camera image, bring points to the ego frame, project them into the
camera, draw cuboids, and hand the arrays to the vispy visuals and the image panel
(``MainWindow._show``). Baseline: the bare load of the same velodyne file (``np.fromfile``)
in the same process. Also: a switch to a prefetched frame (the usual case when stepping), and
the 3D view's render time (``canvas.render()``: under Xvfb this is Mesa llvmpipe, software GL,
so it measures the CPU, not a workstation GPU).

Run (needs a display for the render part)::

    xvfb-run -a -s "-screen 0 1920x1080x24" python benchmarks/bench_app.py [KITTI_DRIVE]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "real_data" / "kitti" / "raw" / "2011_09_26" / "2011_09_26_drive_sfnd_sync"


def med(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:7.1f} ms (min {min(xs) * 1000:.1f}, n={len(xs)})"


def main() -> None:
    drive = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    from fusionlabel.app.frame_view import compose_view, load_frame_data
    from fusionlabel.io.open import open_recording
    from fusionlabel.pipeline import prelabel

    rec = open_recording(drive)
    n = len(rec)
    bins = sorted((drive / "velodyne_points" / "data").glob("*.bin"))
    print(f"recording: {drive} ({n} frames, cameras with images: {[c for c in rec.rig.cameras if c in rec.streams]})")
    labels = prelabel(rec, "geometric").labels
    print(f"labels: {labels.num_boxes()} boxes from the geometric detector")

    # baseline: bare load of the velodyne file
    base = []
    for _ in range(3):
        for b in bins:
            t0 = time.perf_counter()
            a = np.fromfile(b, dtype=np.float32).reshape(-1, 4)
            base.append(time.perf_counter() - t0)
    print(f"points per frame: {len(a)}")
    print(f"baseline  bare np.fromfile of the .bin          {med(base)}")

    # data path without Qt: load + ego + project + draw points, then compose (boxes, colours)
    load, comp = [], []
    for _ in range(3):
        for i in range(n):
            t0 = time.perf_counter()
            d = load_frame_data(rec, i)
            t1 = time.perf_counter()
            compose_view(d, labels.get(i), "height", dict(rec.rig.cameras))
            t2 = time.perf_counter()
            load.append(t1 - t0)
            comp.append(t2 - t1)
    print(f"load frame (LiDAR+image, ego, project points) {med(load)}")
    print(f"compose (colours, wireframes, boxes in image) {med(comp)}")

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("no display: skipping the window figures (run under xvfb-run)")
        return
    import vispy

    vispy.use("pyside6")
    from PySide6 import QtWidgets

    from fusionlabel.app.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        win = MainWindow(rec, labels=labels, label_path=Path(tmp) / "l.json", interactive=False, cache_size=2)
        win.resize(1600, 1000)
        win.show()
        for _ in range(20):
            app.processEvents()
        cold, warm, render = [], [], []
        for _ in range(3):
            for i in range(n):
                win.cache.invalidate()
                win.cache.wait_idle()
                win.doc.frame = -1
                t0 = time.perf_counter()
                win.set_frame(i)  # cold: nothing cached
                cold.append(time.perf_counter() - t0)
                app.processEvents()
                t0 = time.perf_counter()
                win.cloud.canvas.render()
                render.append(time.perf_counter() - t0)
        for _ in range(3):
            win.set_frame(0)
            for i in range(1, n):
                win.cache.wait_idle()  # the user looks at a frame for a moment: prefetch finishes
                t0 = time.perf_counter()
                win.set_frame(i)
                warm.append(time.perf_counter() - t0)
                app.processEvents()
        print(f"frame switch, cold (load+project+visuals)   {med(cold)}   target < 100 ms")
        print(f"frame switch, prefetched (compose+visuals)  {med(warm)}")
        print(
            f"3D view render (canvas.render, {len(win.current_points())} points, "
            f"{win.cloud.canvas.size} px)  {med(render)}  [software GL under Xvfb: not a GPU figure]"
        )
        win.close()


if __name__ == "__main__":
    main()
