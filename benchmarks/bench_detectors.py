"""Detector benchmark: AP per class for each built-in detector, detector fps, end-to-end pre-labeling fps.

Data
  * synthetic recordings generated here with seeds of this benchmark's own (9001-9003), never
    used for development or training;
  * three synthetic recordings with vans, trucks and buses labelled out to 100 m (seeds
    9011-9013; one per sensor the shipped weights were trained on: 32 beams at 512 and 2048
    steps, 64 beams at 2048 steps): AP per class (Car Van Truck Bus Pedestrian Cyclist) and per
    range bin (0-30, 30-50, 50-80, 80-100 m; ground truth outside the bin is don't care,
    detections outside it are dropped);
  * the real labelled LiDAR frames in ../shared/real_data: KITTI object 000001 (3 boxes), the
    nuScenes keyframe (69 boxes) and the Argoverse 2 sweeps (annotations at sweep times). Few
    boxes: read those numbers as a sanity check, not a ranking.
Ground truth with fewer than 5 LiDAR points (where the reader knows the count) or farther than
60 m is "don't care" (see fusionlabel/quality/detection_ap.py). IoU thresholds: Car 0.5 (BEV
and 3D), Pedestrian and Cyclist 0.25.

Speed: each detector on the KITTI 120,268-point frame (target for `geometric`: >= 5 fps), next to
a bare numpy.fromfile of the same file as the baseline; and `prelabel` end to end.
Run: ``.venv/bin/python benchmarks/bench_detectors.py``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_dir, timeit

CLASSES = {"Car": 0.5, "Pedestrian": 0.25, "Cyclist": 0.25}
SEEDS = (9001, 9002, 9003)
VEHICLE_CLASSES = {"Car": 0.5, "Van": 0.5, "Truck": 0.5, "Bus": 0.5, "Pedestrian": 0.25, "Cyclist": 0.25}
#: (seed, generate() keywords): the far-range recordings, one per sensor
FAR = (
    (9011, {}),
    (9012, {"azimuth_steps": 2048}),
    (9013, {"lidar": "hdl64e", "azimuth_steps": 2048}),
)
BINS = ((0.0, 30.0), (30.0, 50.0), (50.0, 80.0), (80.0, 100.0))


def _gt_frame(labels, k: int, max_range: float = 60.0):
    g = labels.get(k)
    ign = (
        np.array(
            [
                a.get("num_lidar_points", a.get("num_lidar_pts", a.get("num_interior_pts", 99))) < 5
                for a in g.attributes
            ],
            dtype=bool,
        )
        if len(g)
        else np.zeros(0, bool)
    )
    if len(g):
        ign |= np.hypot(g.boxes.center[:, 0], g.boxes.center[:, 1]) > max_range
    return (g.boxes, list(g.categories), ign)


def _run(detector, recordings, max_range: float = 60.0):
    from fusionlabel.detect.runner import DetectorRunner

    runner = DetectorRunner(detector)
    dets, gts, t_total, n = [], [], 0.0, 0
    for rec in recordings:
        labels = rec.labels
        for k in range(len(rec)):
            if labels is None or k not in labels.frames:
                continue
            fr = rec.frame(k)
            t0 = time.perf_counter()
            res = runner.detect_many([fr], rec.rig)[0]
            t_total += time.perf_counter() - t0
            n += 1
            d = res.detections
            if d is None:
                print(f"    frame {k}: {res.error}")
                continue
            dets.append((d.boxes, d.scores, list(d.classes)))
            gts.append(_gt_frame(labels, k, max_range))
    return dets, gts, (n / t_total if t_total else 0.0)


def _in_bin(dets, gts, lo: float, hi: float):
    """Detections with their centre in ``[lo, hi)`` m; ground truth outside it don't care."""
    out_d, out_g = [], []
    for (db, ds, dc), (gb, gc, gi) in zip(dets, gts):
        r = np.hypot(db.center[:, 0], db.center[:, 1]) if len(db) else np.zeros(0)
        keep = np.flatnonzero((r >= lo) & (r < hi))
        out_d.append((db[keep], np.asarray(ds)[keep], [dc[i] for i in keep]))
        rg = np.hypot(gb.center[:, 0], gb.center[:, 1]) if len(gb) else np.zeros(0)
        out_g.append((gb, gc, np.asarray(gi, bool) | (rg < lo) | (rg >= hi)))
    return out_d, out_g


def _ap_table(name: str, dets, gts, classes=CLASSES, bev_only: bool = False) -> None:
    from fusionlabel.quality.detection_ap import average_precision

    cells = []
    for c, thr in classes.items():
        if bev_only:
            b = average_precision(dets, gts, c, thr, "bev")
            cells.append(f"{c} {b.ap * 100:5.1f} (n={b.positives})" if b.positives else f"{c} -")
            continue
        b = average_precision(dets, gts, c, thr, "bev")
        t = average_precision(dets, gts, c, thr, "3d")
        cells.append(f"{c} BEV {b.ap * 100:5.1f} 3D {t.ap * 100:5.1f} (n={b.positives})" if b.positives else f"{c} -")
    print(f"    {name:10s} " + " | ".join(cells))


def _far_range(dets_by_name, tmp: Path) -> None:
    from fusionlabel.io.open import open_recording
    from fusionlabel.synth import generate

    t0 = time.perf_counter()
    recs = [
        open_recording(generate(tmp / f"far{s}", frames=10, seed=s, vehicle_classes=True, label_range_m=100.0, **kw))
        for s, kw in FAR
    ]
    print(
        f"synthetic with vans, trucks and buses to 100 m: {len(recs)} recordings x 10 frames (seeds "
        f"{[s for s, _ in FAR]}), generated in {time.perf_counter() - t0:.0f} s; BEV AP (%) per range bin:"
    )
    for name, det in dets_by_name.items():
        d, g, fps = _run(det, recs, max_range=100.0)
        for lo, hi in BINS:
            _ap_table(f"{name} {lo:.0f}-{hi:.0f}", *_in_bin(d, g, lo, hi), VEHICLE_CLASSES, bev_only=True)
        print(f"    {'':10s} {fps:.1f} frames/s")


def _detectors():
    from fusionlabel.detect.errors import PluginError
    from fusionlabel.detect.registry import create_detector

    out = {}
    for name in ("geometric", "pillars"):
        try:
            out[name] = create_detector(name)
        except PluginError as exc:
            print(f"  {name}: not available ({exc.reason})")
    return out


def main() -> None:
    from fusionlabel.io.open import open_recording
    from fusionlabel.pipeline import prelabel
    from fusionlabel.synth import generate

    dets = _detectors()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        synth = [open_recording(generate(Path(tmp) / f"s{s}", frames=15, seed=s)) for s in SEEDS]
        print(
            f"synthetic: {len(SEEDS)} recordings x 15 frames (seeds {SEEDS}), generated in {time.perf_counter() - t0:.0f} s"
        )
        print("  AP (%), per detector:")
        for name, det in dets.items():
            d, g, fps = _run(det, synth)
            _ap_table(name, d, g)
            print(f"    {'':10s} {fps:.1f} frames/s on synthetic frames (~15k points)")
        print("  end-to-end prelabel (detect + track + review queue), one recording of 15 frames:")
        for name, det in dets.items():
            res = prelabel(synth[0], det)
            r = res.report
            print(
                f"    {name:10s} {r.fps:6.2f} frames/s (detect {r.seconds_detect:.2f} s, track {r.seconds_track:.2f} s), "
                f"{r.tracks} tracks, review load {res.review.load * 100:.0f}%"
            )
        _far_range(dets, Path(tmp))

    real = shared_dir() / "real_data"
    if not real.is_dir():
        print(f"real data not found at {real}: skipping the real-frame figures")
        return
    recs = {
        "KITTI object 000001": real / "kitti/object/training",
        "nuScenes keyframe": real / "nuscenes",
        "Argoverse 2 sweeps": next((real / "argoverse2/sensor/val").iterdir()),
    }
    print("real labelled frames, AP (%):")
    for title, path in recs.items():
        rec = open_recording(path)
        print(f"  {title}")
        for name, det in dets.items():
            d, g, fps = _run(det, [rec])
            _ap_table(name, d, g)

    kitti_bin = real / "kitti/object/training/velodyne/000001.bin"
    rec = open_recording(real / "kitti/object/training")
    fr = rec.frame(0)
    base, _ = timeit(lambda: np.fromfile(kitti_bin, dtype=np.float32), repeat=11)
    print(f"speed on the KITTI frame ({len(fr.lidar['velodyne'])} points); baseline numpy.fromfile {base * 1e3:.2f} ms")
    for name, det in dets.items():
        med, best = timeit(lambda det=det: det.detect(fr, rec.rig), repeat=7, warmup=2)
        print(
            f"  {name:10s} {1 / med:6.1f} fps (median {med * 1e3:.0f} ms, best {best * 1e3:.0f} ms, "
            f"{med / base:.0f}x the file read)"
        )


if __name__ == "__main__":
    main()
