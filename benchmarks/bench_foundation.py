"""Foundation benchmark: frame load, projection, and memory on a 10,000-frame recording.

Prints
  1. loading a KITTI 120k-point velodyne frame through FusionLabel's reader, as a ratio to a
     bare ``numpy.fromfile`` of the same file timed in the same process;
  2. opening the KITTI object frame as a recording and building the Frame (reader + calibration);
  3. projecting that frame's points into camera 2 (ms), and 100 cuboids;
  4. peak memory (RSS growth, in a fresh subprocess) of opening a 10,000-frame synthetic
     recording and of streaming through all its frames (bounded memory: it must not grow with
     the frame count).

Run: ``.venv/bin/python benchmarks/bench_foundation.py`` (or ``make bench``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_dir, timeit


def bench_kitti() -> None:
    from fusionlabel.core.boxes import Boxes
    from fusionlabel.core.projection import project_boxes, project_points
    from fusionlabel.io.open import open_recording
    from fusionlabel.io.pointcloud import read_point_cloud

    obj = shared_dir() / "real_data/kitti/object/training"
    bin_path = obj / "velodyne/000001.bin"
    if not bin_path.exists():
        print(f"KITTI frame not found at {bin_path}: skipping the load/projection figures")
        return
    n = len(np.fromfile(bin_path, dtype=np.float32)) // 4
    base, _ = timeit(lambda: np.fromfile(bin_path, dtype=np.float32).reshape(-1, 4), repeat=21)
    ours, _ = timeit(lambda: read_point_cloud(bin_path), repeat=21)
    print(f"KITTI velodyne frame, {n} points ({bin_path.name})")
    print(f"  numpy.fromfile (baseline)      {base * 1e3:8.2f} ms")
    print(f"  read_point_cloud               {ours * 1e3:8.2f} ms   ratio {ours / base:5.2f}x baseline")
    rec = open_recording(obj)
    fr_t, _ = timeit(lambda: rec.frame(0), repeat=11)
    print(f"  Recording.frame (cloud+refs)   {fr_t * 1e3:8.2f} ms   ratio {fr_t / base:5.2f}x baseline")
    fr = rec.frame(0)
    cam_name = "image_02" if "image_02" in rec.rig.cameras else next(iter(rec.rig.cameras))
    cam = rec.rig.cameras[cam_name]
    lidar_name = next(iter(fr.lidar))
    pts = fr.lidar[lidar_name].xyz
    T_cam_lidar = rec.rig.T_cam_sensor(cam_name, lidar_name)
    pr_t, _ = timeit(lambda: project_points(pts, cam, T_cam_lidar), repeat=21)
    valid = int(project_points(pts, cam, T_cam_lidar).valid.sum())
    print(f"  project {len(pts)} points into {cam_name}: {pr_t * 1e3:8.2f} ms ({valid} in the image)")
    rng = np.random.default_rng(0)
    boxes = Boxes.from_array(
        np.column_stack(
            [
                rng.uniform(5, 40, 100),
                rng.uniform(-10, 10, 100),
                rng.uniform(-1, 0, 100),
                np.full(100, 4.0),
                np.full(100, 1.8),
                np.full(100, 1.5),
                rng.uniform(-3, 3, 100),
            ]
        )
    )
    T_cam_ego = cam.T_ego_cam.inverse()
    bx_t, _ = timeit(lambda: project_boxes(boxes, cam, T_cam_ego), repeat=21)
    print(f"  project 100 cuboids into {cam_name}: {bx_t * 1e3:8.2f} ms")


MEMORY_CHILD = r"""
import json, resource, sys, time
from fusionlabel.io.native import open_native
def rss():
    with open("/proc/self/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1]) / 1024
before = rss()
t0 = time.perf_counter()
rec = open_native(sys.argv[1])
t_open = time.perf_counter() - t0
after_open = rss()
peak_stream = after_open
t0 = time.perf_counter()
for i in range(len(rec)):
    fr = rec.frame(i)
    if i % 250 == 0:
        peak_stream = max(peak_stream, rss())
t_stream = time.perf_counter() - t0
print(json.dumps({"frames": len(rec), "before_mb": before, "after_open_mb": after_open, "open_s": t_open,
                  "stream_s": t_stream, "peak_stream_mb": max(peak_stream, rss()),
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_long_recording(root: Path, frames: int = 10_000, base_frames: int = 10) -> Path:
    """A 10,000-frame native recording: a short synthetic recording's files repeated by hard links.

    The content cycles, the index (timestamps, file lists) is a real 10,000-frame one.
    """
    from fusionlabel.io.native import MANIFEST
    from fusionlabel.synth import generate

    short = generate(root / "short", frames=base_frames, seed=1)
    m = json.loads((short / MANIFEST).read_text())
    long = root / "long"
    long.mkdir()
    for extra in ("calib.yaml",):
        os.link(short / extra, long / extra)
    out_streams = {}
    for name, s in m["streams"].items():
        k = len(s["timestamps_ns"])
        files = s.get("files") or [s["pattern"].format(index=i) for i in range(k)]
        period = (s["timestamps_ns"][-1] - s["timestamps_ns"][0]) + (s["timestamps_ns"][1] - s["timestamps_ns"][0])
        reps = int(np.ceil(frames / base_frames))
        ts, new_files = [], []
        for r in range(reps):
            for i in range(k):
                ts.append(s["timestamps_ns"][i] + r * period)
                rel = f"{Path(files[i]).parent}/{r * k + i:06d}{Path(files[i]).suffix}"
                dst = long / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.link(short / files[i], dst)
                new_files.append(rel)
        if s["kind"] == "lidar":
            ts, new_files = ts[:frames], new_files[:frames]
        out_streams[name] = {
            "kind": s["kind"],
            "timestamps_ns": ts,
            "pattern": f"{Path(files[0]).parent}/{{index:06d}}{Path(files[0]).suffix}",
        }
    m["streams"] = out_streams
    m.pop("labels", None)
    m.pop("ego_poses", None)
    (long / MANIFEST).write_text(json.dumps(m))
    return long


def bench_memory() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rec_dir = make_long_recording(Path(tmp))
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(rec_dir)], capture_output=True, text=True, check=True
        )
        r = json.loads(out.stdout)
    print(f"10,000-frame synthetic recording ({r['frames']} frames)")
    print(
        f"  open (index only): {r['open_s']:.2f} s, RSS +{r['after_open_mb'] - r['before_mb']:.1f} MB "
        f"(interpreter + imports before: {r['before_mb']:.0f} MB)"
    )
    print(
        f"  stream all frames: {r['stream_s']:.1f} s ({r['frames'] / r['stream_s']:.0f} frames/s), "
        f"peak RSS {r['peak_stream_mb']:.0f} MB = +{r['peak_stream_mb'] - r['after_open_mb']:.1f} MB over the opened recording"
    )


if __name__ == "__main__":
    bench_kitti()
    bench_memory()
