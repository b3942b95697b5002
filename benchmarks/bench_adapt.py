"""Learning from the annotator: AP and edit operations before and after ``fusionlabel adapt``, for
1, 2 and 5 seed frames, on a synthetic domain shift and on the real recordings of ../shared; and
the frames ``fusionlabel rank`` picks against uniform keyframes and random frames.

Synthetic shift: ``fusionlabel.synth.generate(..., lidar="vlp16", azimuth_steps=1024,
ego_height=1.84, label_range_m=R)``: a 16-beam LiDAR (the shipped weights saw 32 and 64 beams)
and the ego origin at the LiDAR instead of on the ground (KITTI's convention: every point 1.84 m
lower), 50 frames, seed 9301 (never used elsewhere); objects labelled within R, the reach of the
shipped detector's grid (100 m for ``synth_v2``; 40 m before, with ``synth_v1``'s 80 m grid:
beyond its grid no box can be proposed). The seed frames are the recording's ground truth on those frames (the classes of the
detector, boxes with a LiDAR point), as an annotator would have labelled them.

Figures (``docs/evaluation.md``'s definitions; class-agnostic matching at 3D IoU 0.25, ground
truth without a LiDAR point ignored, the shipped detector's classes; a vehicle class it lacks
counts as Car):

* ``AP car`` / ``AP ped`` / ``AP cyc``: BEV AP (R40; Car at IoU 0.5, the others 0.25) of the
  pre-labels on the frames that are not seed frames;
* ``edit``: edit operations the pre-labels still need (on every frame; the seed frames are
  exact); ``seed``: boxes labelled on the seed frames (one operation each); ``keyframe``:
  keyframe operations of labelling from scratch (every 10th frame);
* the target: ``seed + edit < keyframe``, and ``seed + edit <= keyframe / 2`` on synthetic shifts.

Real data: the two TRI DGP scenes share one sensor (3 frames each, 1 Hz): adapt on scene_01's
frame 0 (1 seed) or frames 0-1 (2 seeds) and pre-label scene_01 and scene_02 with the adapted
weights; 5 seeds = all of scene_01, then adapted again (``--weights``) on scene_02's frames 0-1,
scored on scene_02 (frame 2 unseen). Argoverse 2: adapt on sweep 0, score sweep 1 (0.1 s later:
nearly the same scene).

Rank: the same synthetic recording; seeds chosen by ``fusionlabel rank`` (uncertainty), uniform
keyframes and random frames; the AP after adapting on 1, 2 and 5 of them and the seed frames each
needs to reach an AP.

Other seeds: the 1-seed adaptation on shifted recordings 9302 and 9303 too, beside what is in
reach: the ground truth itself reported on the frames where an object holds at least N points
(and, "filled", on every frame between its first and last such frame), the bound of a detector
that needs N points with a perfect tracker.

Run: ``.venv/bin/python benchmarks/bench_adapt.py [--quick] [--no-real] [--no-rank] [--no-seeds]``
(``--quick``: 30 frames, fewer steps). About 6 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_dir

from fusionlabel.core.labels import VEHICLES

CLASSES = ("Car", "Pedestrian", "Cyclist")
IOU = 0.25
SEEDS = (1, 2, 5)


def _shipped() -> tuple[float, tuple[str, ...]]:
    """How far (m) the shipped pillars weights' grid reaches (the synthetic shift is labelled so
    far) and their classes."""
    from fusionlabel.detect.pillars import DEFAULT_WEIGHTS
    from fusionlabel.detect.pillars.checkpoint import read_header

    c = read_header(DEFAULT_WEIGHTS).config
    return float(min(abs(v) for v in (*c.x_range, *c.y_range))), c.classes


REACH, DETECTOR_CLASSES = _shipped()


def _as_detector_classes(labels: Any) -> Any:
    """Vehicle classes the detector lacks as Car; other classes than the detector's dropped."""
    from fusionlabel.core.labels import FrameLabels, LabelSet

    out = {}
    for k, fl in labels.frames.items():
        cats = tuple("Car" if c in VEHICLES and c not in DETECTOR_CLASSES else c for c in fl.categories)
        keep = np.array([c in DETECTOR_CLASSES for c in cats], dtype=bool)
        f2 = FrameLabels(fl.track_ids, cats, fl.boxes, fl.scores, fl.attributes)
        out[k] = f2.select(keep)
    return LabelSet(out)


def _seed_file(gt: Any, points: dict[int, np.ndarray], frames: list[int], path: Path) -> int:
    """The ground truth of ``frames`` (boxes with a LiDAR point) as an annotator's label file."""
    from fusionlabel.core.labels import FrameLabels, LabelSet
    from fusionlabel.io.native_labels import write_labels

    out = {}
    for k in frames:
        fl = gt.get(k)
        seen = points.get(k, np.ones(len(fl), np.int64)) > 0
        fl = fl.select(seen)
        attrs = tuple({"state": "edited"} for _ in range(len(fl)))
        out[k] = FrameLabels(fl.track_ids, fl.categories, fl.boxes, fl.scores, attrs)
    write_labels(LabelSet(out), path)
    return sum(len(f) for f in out.values())


def _ap(pre: Any, gt: Any, points: dict[int, np.ndarray], skip: set[int]) -> dict[str, float | None]:
    from fusionlabel.quality.detection_ap import average_precision

    dets, gts = [], []
    for k in sorted(set(gt.frames) | set(pre.frames)):
        if k in skip:
            continue
        g, p = gt.get(k), pre.get(k)
        ign = points[k] == 0 if k in points else np.zeros(len(g), bool)
        dets.append((p.boxes, p.scores, list(p.categories)))
        gts.append((g.boxes, list(g.categories), ign))
    out: dict[str, float | None] = {}
    for c, thr in (("Car", 0.5), ("Pedestrian", 0.25), ("Cyclist", 0.25)):
        r = average_precision(dets, gts, c, thr, "bev")
        out[c] = round(100 * r.ap, 1) if r.positives else None
    return out


def _effort(name: str, gt: Any, pre: Any, n: int, points: dict[int, np.ndarray]) -> tuple[int, int]:
    from fusionlabel.quality.evaluation import evaluate_sequences, labelsets_sequence

    s = evaluate_sequences([labelsets_sequence(name, gt, pre, n, None, points)], IOU).summary()
    return int(s["edit_ops"]), int(s["keyframe_ops"])


class Case:
    """One recording and its ground truth (detector classes), point counts and base pre-labels."""

    def __init__(self, path: Path, title: str) -> None:
        from fusionlabel.io.open import open_recording
        from fusionlabel.quality.evaluation import count_gt_points

        self.path, self.title = path, title
        self.rec = open_recording(path)
        self.gt = _as_detector_classes(self.rec.labels)
        self.points, _ = count_gt_points(self.rec, self.gt)
        self.n = len(self.rec)

    def score(self, pre: Any, seed_frames: set[int], seed_boxes: int) -> dict[str, Any]:
        edit, key = _effort(self.title, self.gt, pre, self.n, self.points)
        return {
            "AP": _ap(pre, self.gt, self.points, seed_frames),
            "edit": edit,
            "seed": seed_boxes,
            "keyframe": key,
        }


def _prelabel(case: Case, weights: Path | None) -> Any:
    from fusionlabel.detect.registry import create_detector
    from fusionlabel.pipeline import prelabel

    opts: dict[str, Any] = {"device": "auto"}
    if weights is not None:
        opts["weights"] = str(weights)
    return prelabel(case.rec, create_detector("pillars", opts)).labels


def _adapt(
    case: Case, frames: list[int], tmp: Path, tag: str, opts: Any, weights: Path | None = None
) -> tuple[Any, int, Path, float]:
    from fusionlabel.pipeline.adapt import adapt

    seed = tmp / f"{tag}.seed.json"
    n_boxes = _seed_file(case.gt, case.points, frames, seed)
    t0 = time.perf_counter()
    res = adapt(case.path, seed, tmp / tag, weights=weights, options=opts, skip_unknown_classes=True)
    return res.labels, n_boxes, res.checkpoint, time.perf_counter() - t0


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))


def _row(label: str, f: dict[str, Any], secs: float | None = None) -> str:
    ap = f["AP"]
    total = f["seed"] + f["edit"]
    ratio = total / f["keyframe"] if f["keyframe"] else math.inf
    return (
        f"  {label:30s} {_fmt(ap['Car']):>6s} {_fmt(ap['Pedestrian']):>6s} {_fmt(ap['Cyclist']):>6s} "
        f"{f['seed']:5d} {f['edit']:5d} {total:6d} {f['keyframe']:6d} {ratio:6.2f}"
        + (f" {secs:6.0f}" if secs is not None else "")
    )


HEAD = (
    f"  {'':30s} {'AP car':>6s} {'AP ped':>6s} {'AP cyc':>6s} {'seed':>5s} {'edit':>5s} {'s+e':>6s} "
    f"{'keyfr':>6s} {'(s+e)/k':>6s} {'sec':>6s}"
)


def synthetic(tmp: Path, opts: Any, frames: int, do_rank: bool) -> None:
    from fusionlabel.pipeline.rank import random_frames, rank, uniform_frames

    path = _shifted(tmp, 9301, frames)
    case = Case(path, "synthetic shift")
    print(
        f"\nsynthetic shift: {frames} frames, 16 beams x 1024 steps, ego origin at the LiDAR, labels within {REACH:.0f} m "
        "(seed 9301)"
    )
    print(HEAD)
    base = case.score(_prelabel(case, None), set(), 0)
    print(_row("base weights", base))
    picks: dict[str, dict[int, list[int]]] = {"uniform": {n: uniform_frames(case.n, n) for n in SEEDS}}
    if do_rank:
        t0 = time.perf_counter()
        ranked = rank([path], max(SEEDS), min_gap=max(1, case.n // 10))
        order = [f.frame for f in ranked.selected]
        print(f"  (rank: scored {case.n} frames in {time.perf_counter() - t0:.0f} s; picks {order})")
        picks["rank"] = {n: sorted(order[:n]) for n in SEEDS}
        picks["random"] = {n: random_frames(case.n, n, seed=1) for n in SEEDS}
    aps: dict[str, dict[int, float]] = {}
    for how, by_n in picks.items():
        for n, fr in by_n.items():
            labels, nb, _, secs = _adapt(case, fr, tmp, f"syn_{how}_{n}", opts)
            f = case.score(labels, set(fr), nb)
            aps.setdefault(how, {})[n] = float(np.mean([f["AP"][c] or 0.0 for c in CLASSES]))
            print(_row(f"adapted, {how} {n} seed", f, secs) + f"  frames {fr}")
    if do_rank:
        print("  seed frames needed to reach a mean AP (BEV, car / ped / cyc) on the other frames (1, 2, 5 tried):")
        for how in ("rank", "uniform", "random"):
            print(f"    {how:8s} mAP " + " / ".join(f"{aps[how][n]:.1f}" for n in SEEDS) + " with 1 / 2 / 5 seeds")
        for target in (60.0, 65.0, 70.0):
            cells = []
            for how in ("rank", "uniform", "random"):
                need = next((n for n in SEEDS if aps[how][n] >= target), None)
                cells.append(f"{how} {'>5' if need is None else need}")
            print(f"    mAP >= {target:.0f}: " + ", ".join(cells))


def _shifted(tmp: Path, seed: int, frames: int) -> Path:
    from fusionlabel.synth import generate

    if (tmp / f"shift_{seed}" / "recording.json").exists():  # made earlier in this run
        return tmp / f"shift_{seed}"
    return generate(
        tmp / f"shift_{seed}",
        frames=frames,
        seed=seed,
        cameras=(),
        radar_rate_hz=0,
        lidar="vlp16",
        azimuth_steps=1024,
        ego_height=1.84,
        label_range_m=REACH,
    )


def _reachable(case: Case, seed_frames: set[int], min_points: int, filled: bool) -> tuple[int, int]:
    """(seed + edit, keyframe) of pre-labels that are the ground truth itself (true ids) on the
    frames where an object holds at least ``min_points`` LiDAR points (``filled``: also on every
    frame between its first and last such frame), the seed frames exact: what a detector that
    needs that many points, with a perfect tracker, would leave to do."""
    from fusionlabel.core.labels import LabelSet

    gt, pts = case.gt, case.points
    span: dict[int, tuple[int, int]] = {}
    for k, fl in gt.frames.items():
        for t, p in zip(fl.track_ids.tolist(), pts[k].tolist(), strict=True):
            if p >= min_points:
                lo, hi = span.get(t, (k, k))
                span[t] = (min(lo, k), max(hi, k))
    out = {}
    for k, fl in gt.frames.items():
        p = pts[k]
        if k in seed_frames:
            keep = p > 0
        elif filled:
            keep = np.array([t in span and span[t][0] <= k <= span[t][1] for t in fl.track_ids.tolist()]) & (p > 0)
        else:
            keep = p >= min_points
        out[k] = fl.select(np.asarray(keep, dtype=bool))
    seed = sum(int((pts[k] > 0).sum()) for k in seed_frames)
    edit, key = _effort(case.title, gt, LabelSet(out), case.n, pts)
    return seed + edit, key


def other_seeds(tmp: Path, opts: Any, frames: int) -> None:
    """The 1-seed adaptation on more shifted recordings, beside what is in reach (ground truth
    reported where an object holds N points)."""
    print("\nshifted recordings, 1 seed frame (frame 0): (seed + edit) / keyframe, adapted and in reach")
    print(f"  {'seed':>6s} {'base':>6s} {'adapted':>8s}   N>=3   N>=5 N>=5 filled  N>=10 N>=10 filled")
    for seed in (9301, 9302, 9303):
        case = Case(_shifted(tmp, seed, frames), f"shift {seed}")
        base = case.score(_prelabel(case, None), set(), 0)
        labels, nb, _, _ = _adapt(case, [0], tmp, f"seed_{seed}", opts)
        f = case.score(labels, {0}, nb)
        cells = []
        for n, filled in ((3, False), (5, False), (5, True), (10, False), (10, True)):
            tot, key = _reachable(case, {0}, n, filled)
            cells.append(f"{tot / key:6.2f}")
        print(
            f"  {seed:>6d} {base['edit'] / base['keyframe']:6.2f} {(nb + f['edit']) / f['keyframe']:8.2f}   "
            + "  ".join(cells[:2])
            + f" {cells[2]:>11s} {cells[3]} {cells[4]:>12s}"
        )


def real(tmp: Path, opts: Any) -> None:
    real_dir = shared_dir() / "real_data"
    if not real_dir.is_dir():
        print(f"\nreal data not found at {real_dir}: skipping")
        return
    s1 = real_dir / "tri_dgp/test_scene/scene_01"
    s2 = real_dir / "tri_dgp/test_scene/scene_02"
    print("\nreal data, TRI DGP (scene_01 and scene_02 share the sensor; 3 frames each)")
    print(HEAD)
    c1, c2 = Case(s1, "DGP scene_01"), Case(s2, "DGP scene_02")

    def both(tag: str, w: Path | None, seeds1: list[int], nb: int, secs: float | None) -> None:
        pre1 = _prelabel(c1, w)
        f1 = c1.score(pre1, set(seeds1), nb)
        f2 = c2.score(_prelabel(c2, w), set(), 0)
        print(_row(f"{tag}, scene_01", f1, secs))
        print(_row(f"{tag}, scene_02 (unseen)", f2))

    both("base", None, [], 0, None)
    for n in (1, 2):
        fr = list(range(n))
        _, nb, ckpt, secs = _adapt(c1, fr, tmp, f"dgp_{n}", opts)
        both(f"{n} seed", ckpt, fr, nb, secs)
    # 5 seeds: scene_01's 3 frames, then scene_02's frames 0-1 starting from those weights
    _, nb1, ck1, s_a = _adapt(c1, [0, 1, 2], tmp, "dgp_5a", opts)
    labels, nb2, _, s_b = _adapt(c2, [0, 1], tmp, "dgp_5b", opts, weights=ck1)
    f = c2.score(labels, {0, 1}, nb1 + nb2)
    print(_row("5 seed, scene_02", f, s_a + s_b) + "  (AP on scene_02 frame 2 only; seed counts all 5 frames)")
    av = next((real_dir / "argoverse2/sensor/val").iterdir(), None)
    if av is not None:
        ca = Case(av, "Argoverse 2")
        print("\nreal data, Argoverse 2 (2 sweeps 0.1 s apart)")
        print(HEAD)
        print(_row("base weights", ca.score(_prelabel(ca, None), set(), 0)))
        labels, nb, _, secs = _adapt(ca, [0], tmp, "av2_1", opts)
        print(_row("1 seed (sweep 0)", ca.score(labels, {0}, nb), secs))


def main(argv: list[str]) -> int:
    from fusionlabel.detect.adaptation import AdaptOptions

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 frames, 4 epochs")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--no-rank", action="store_true")
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--no-seeds", action="store_true", help="skip the other shifted recordings")
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args(argv)
    epochs = args.epochs or (4 if args.quick else 8)
    opts = AdaptOptions(epochs=epochs, seed=0, device="auto")
    print(
        f"fusionlabel adapt: pillars, {opts.epochs} epochs x {opts.samples_per_epoch} augmented frames "
        f"(batch {opts.batch_size}, lr {opts.lr}), copy-paste on"
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.no_synthetic:
            synthetic(tmp, opts, 30 if args.quick else 50, not args.no_rank)
        if not args.no_seeds:
            other_seeds(tmp, opts, 30 if args.quick else 50)
        if not args.no_real:
            real(tmp, opts)
    print(f"\n{time.perf_counter() - t0:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
