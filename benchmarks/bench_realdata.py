"""Pre-labels on every real labelled recording in ../shared: what an annotator gets from each
detector, with and without the offboard track refinement, per range bin.

Recordings (every real labelled LiDAR frame or sequence here; few boxes: a sanity check of the
whole path on real sensors, not a ranking; tune nothing to them):

* the nuScenes keyframe (1 frame, 69 boxes), Argoverse 2 (2 sweeps), TRI DGP scene_01 and scene_02
  (3 frames each, ~300 boxes), KITTI object 000001 (1 frame).

For each detector and refinement setting, ``fusionlabel.pipeline.prelabel`` runs on each recording
(detect, track, refine, review queue) and its pre-labels are scored against the recording's ground
truth of the classes the detectors target (Car, Van, Truck, Bus, Pedestrian, Cyclist), ground truth
without a LiDAR point ignored (as nuScenes does), class-agnostic matching at 3D IoU 0.25:

* AP (BEV, KITTI R40 style; Car-like = Car, Van, Truck, Bus at IoU 0.5; Pedestrian and Cyclist 0.25)
  of the pre-labelled boxes, whose scores rank them;
* MOTA, HOTA; ``edit`` operations a correction needs against ``keyframe`` operations of labelling
  from scratch (``docs/evaluation.md``), and their ratio (the issue's target on real point clouds:
  keyframe / edit >= 3);
* frames per second of the whole prelabel;
* the same pooled over all recordings per range bin (0-30, 30-50, 50-80, 80+ m).

Run: ``.venv/bin/python benchmarks/bench_realdata.py [--detectors geometric,pillars] [--no-refine]``.
Where ../shared is missing it says so and exits 0.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_dir

from fusionlabel.core.labels import VEHICLES

#: the classes the detectors target; the rest of the ground truth (cones, barriers, ...) is left out
TARGET = ("Car", "Van", "Truck", "Bus", "Pedestrian", "Cyclist")
IOU = 0.25


def recordings(real: Path) -> dict[str, Path]:
    out = {
        "nuScenes keyframe": real / "nuscenes",
        "Argoverse 2": next((real / "argoverse2/sensor/val").iterdir(), real / "argoverse2"),
        "DGP scene_01": real / "tri_dgp/test_scene/scene_01",
        "DGP scene_02": real / "tri_dgp/test_scene/scene_02",
        "KITTI object 000001": real / "kitti/object/training",
    }
    return {k: v for k, v in out.items() if v.exists()}


def _targets(labels: Any) -> Any:
    from fusionlabel.core.labels import LabelSet

    return LabelSet(
        {k: fl.select(np.array([c in TARGET for c in fl.categories], dtype=bool)) for k, fl in labels.frames.items()}
    )


def _ap(pre: list[Any], gts: list[Any], points: list[dict[int, np.ndarray]], lo: float, hi: float) -> dict[str, float]:
    """BEV AP (%) of pre-labels against ground truth in a range bin; None where no positives."""
    from fusionlabel.quality.detection_ap import average_precision

    dets, gtf = [], []
    for p, g, pts in zip(pre, gts, points):
        for k in sorted(set(g.frames) | set(p.frames)):
            fg, fp = g.get(k), p.get(k)
            dg = np.hypot(fg.boxes.center[:, 0], fg.boxes.center[:, 1]) if len(fg) else np.zeros(0)
            dp = np.hypot(fp.boxes.center[:, 0], fp.boxes.center[:, 1]) if len(fp) else np.zeros(0)
            ign = (dg < lo) | (dg >= hi)
            if k in pts:
                ign |= pts[k] == 0
            cats_g = ["Car" if c in VEHICLES else c for c in fg.categories]
            cats_p = ["Car" if c in VEHICLES else c for c in fp.categories]
            sel = (dp >= lo) & (dp < hi)
            dets.append((fp.boxes[np.flatnonzero(sel)], fp.scores[sel], [c for c, s in zip(cats_p, sel) if s]))
            gtf.append((fg.boxes, cats_g, ign))
    out = {}
    for c, thr in (("Car", 0.5), ("Pedestrian", 0.25), ("Cyclist", 0.25)):
        r = average_precision(dets, gtf, c, thr, "bev")
        out[c] = round(100 * r.ap, 1) if r.positives else None
    return out


def _track_figures(name: str, gt: Any, pre: Any, n: int, pts: dict[int, np.ndarray]) -> dict[str, Any]:
    from fusionlabel.quality.evaluation import evaluate_sequences, labelsets_sequence

    s = evaluate_sequences([labelsets_sequence(name, gt, pre, n, None, pts)], IOU).summary()
    return {k: s[k] for k in ("n_gt", "MOTA", "HOTA", "edit_ops", "keyframe_ops", "FP", "FN", "IDS")}


def run(detector: str, refine: bool, recs: dict[str, Path]) -> dict[str, Any]:
    from fusionlabel.io.open import open_recording
    from fusionlabel.pipeline import prelabel
    from fusionlabel.quality.evaluation import RANGE_BINS, count_gt_points, range_bin_name, select_range

    rows: dict[str, Any] = {}
    pres, gts, points, names, lens = [], [], [], [], []
    for title, path in recs.items():
        rec = open_recording(path)
        gt = _targets(rec.labels)
        kw: dict[str, Any] = {"refine": refine} if "refine" in prelabel.__code__.co_varnames else {}
        res = prelabel(rec, detector, **kw)
        pts, _ = count_gt_points(rec, gt)
        fig = _track_figures(title, gt, res.labels, len(rec), pts)
        fig["AP"] = _ap([res.labels], [gt], [pts], 0.0, math.inf)
        fig["fps"] = round(res.report.fps, 2)
        rows[title] = fig
        pres.append(res.labels)
        gts.append(gt)
        points.append(pts)
        names.append(title)
        lens.append(len(rec))
    by_range = {}
    for lo, hi in RANGE_BINS:
        edit = key = n_gt = 0
        for title, gt, pre, pts, n in zip(names, gts, pres, points, lens):
            g, p = select_range(gt, lo, hi), select_range(pre, lo, hi)
            keep = {}
            for k in g.frames:
                d = np.hypot(gt.get(k).boxes.center[:, 0], gt.get(k).boxes.center[:, 1])
                if k in pts:
                    keep[k] = pts[k][(d >= lo) & (d < hi)]
            f = _track_figures(title, g, p, n, keep)
            edit, key, n_gt = edit + f["edit_ops"], key + f["keyframe_ops"], n_gt + f["n_gt"]
        by_range[range_bin_name(lo, hi)] = {
            "n_gt": n_gt,
            "edit_ops": edit,
            "keyframe_ops": key,
            "AP": _ap(pres, gts, points, lo, hi),
        }
    total_edit = sum(r["edit_ops"] for r in rows.values())
    total_key = sum(r["keyframe_ops"] for r in rows.values())
    return {"rows": rows, "by_range": by_range, "edit_ops": total_edit, "keyframe_ops": total_key}


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))


def report(detector: str, refine: bool, r: dict[str, Any]) -> None:
    tag = f"{detector}, refinement {'on' if refine else 'off'}"
    print(f"\n{tag}")
    print(
        f"  {'recording':22s} {'n_gt':>5s} {'AP car':>7s} {'AP ped':>7s} {'AP cyc':>7s} {'MOTA':>7s} {'HOTA':>6s} "
        f"{'edit':>5s} {'keyfr':>5s} {'ratio':>6s} {'fps':>6s}"
    )
    for title, f in r["rows"].items():
        ratio = f["keyframe_ops"] / f["edit_ops"] if f["edit_ops"] else math.inf
        print(
            f"  {title:22s} {f['n_gt']:5d} {_fmt(f['AP']['Car']):>7s} {_fmt(f['AP']['Pedestrian']):>7s} "
            f"{_fmt(f['AP']['Cyclist']):>7s} {_fmt(f['MOTA']):>7s} {_fmt(f['HOTA']):>6s} {f['edit_ops']:5d} "
            f"{f['keyframe_ops']:5d} {ratio:6.2f} {f['fps']:6.2f}"
        )
    ratio = r["keyframe_ops"] / r["edit_ops"] if r["edit_ops"] else math.inf
    print(
        f"  {'all recordings':22s} edit {r['edit_ops']} vs keyframe {r['keyframe_ops']}: keyframe / edit = {ratio:.2f} "
        "(target >= 3)"
    )
    print(f"  {'range m':10s} {'n_gt':>5s} {'AP car':>7s} {'AP ped':>7s} {'AP cyc':>7s} {'edit':>5s} {'keyfr':>5s}")
    for name, b in r["by_range"].items():
        print(
            f"  {name:10s} {b['n_gt']:5d} {_fmt(b['AP']['Car']):>7s} {_fmt(b['AP']['Pedestrian']):>7s} "
            f"{_fmt(b['AP']['Cyclist']):>7s} {b['edit_ops']:5d} {b['keyframe_ops']:5d}"
        )


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detectors", default="geometric,pillars")
    ap.add_argument("--no-refine", action="store_true", help="only the runs without refinement")
    args = ap.parse_args(argv)
    real = shared_dir() / "real_data"
    if not real.is_dir():
        print(f"real data not found at {real}: nothing to measure")
        return 0
    recs = recordings(real)
    print(f"real labelled recordings: {', '.join(recs)}")
    from fusionlabel.pipeline import prelabel

    has_refine = "refine" in prelabel.__code__.co_varnames
    settings = [False] if args.no_refine or not has_refine else [False, True]
    for det in [d.strip() for d in args.detectors.split(",") if d.strip()]:
        for refine in settings:
            report(det, refine, run(det, refine, recs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
