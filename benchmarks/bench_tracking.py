"""Tracking benchmark on the KITTI development split (``../shared/kitti_tracking``).

Usage::

    .venv/bin/python benchmarks/bench_tracking.py [--classes Car,Pedestrian,Cyclist] [--no-reference] [--no-cv]
    .venv/bin/python benchmarks/bench_tracking.py --fit-review      # print the fitted error models

For each class it runs ``fusionlabel track`` (:func:`fusionlabel.track.kitti.track_kitti`) on
the PointRCNN detections, scores the results with ``fusionlabel eval``
(:func:`fusionlabel.quality.evaluation.evaluate_kitti`, AB3DMOT's evaluation rules) and prints,
side by side with AB3DMOT's reference figures from the split's README:

* sAMOTA, AMOTA, MOTA, MOTP, IDS, FRAG, FP, FN (and IDF1, HOTA: no AB3DMOT reference);
* tracker speed in frames per second (detections already in memory; every frame stepped, then
  ``finish`` -- interpolation, scores, ambiguity, review queue -- and the conversion to KITTI
  result rows: everything but the file write) with the compiled batch backend and with the
  filterpy reference backend (``Tracker(..., backend="filterpy")``: the same tracker with one
  ``filterpy.kalman.KalmanFilter`` per track), in the same process, after a warm-up run;
* review load (fraction of frames queued) and error coverage (fraction of the pre-labels' ID
  errors on a queued frame), and ``id.cov``: the coverage of the errors where the object comes
  back under a different id (the others are fragmentations resuming under the same id);
* correction effort: edit operations against keyframe labelling from scratch (ratio), on the
  pre-labels (the tracks at the class's operating point);
* two-fold cross-validation: the 10 sequences split in two halves (alternate sequences of the
  seqmap); on one half the operating point of each class is chosen (fewest edit operations) and
  the review model is fitted (logistic regression of "this box carries an ID error" on the
  ambiguity reasons); the other half is scored with them; both directions are reported;
* an oracle bound: the edit operations left when the detections are associated perfectly
  (ground-truth identities, false detections removed, gaps up to ``max_age`` frames filled):
  what any tracker on these detections would at best leave to the annotator; and ``bound``,
  the same with *every* gap between two detections of an object filled with its true boxes:
  the fewest operations of any tracker that reports an object only between its first and last
  detection that fits it (3D IoU >= 0.25; what is left are the objects' frames before their
  first and after their last such detection, and the objects never detected).

Definitions: ``docs/evaluation.md``. Where the data is missing the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

from _common import shared_dir

CLASSES = ("Car", "Pedestrian", "Cyclist")
REF_KEYS = ("sAMOTA", "AMOTA", "MOTA", "MOTP", "IDS", "FRAG", "FP", "FN")


def reference_table(readme: Path) -> dict[str, dict[str, float]]:
    """AB3DMOT's figures from the README's markdown table ``| class | sAMOTA | ... |``."""
    out: dict[str, dict[str, float]] = {}
    if not readme.is_file():
        return out
    header: list[str] | None = None
    for line in readme.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if not cells:
            header = None if not line.startswith("|") else header
            continue
        if cells[0].lower() == "class":
            header = cells
            continue
        if header and cells[0] in CLASSES and len(cells) == len(header):
            try:
                out[cells[0]] = {h: float(v) for h, v in zip(header[1:], cells[1:])}
            except ValueError:
                continue
    return out


HALVES = (("0000", "0003", "0005", "0009", "0017"), ("0002", "0004", "0007", "0011", "0020"))
THRESHOLD_GRID = tuple(np.round(np.arange(-1.0, 8.01, 0.5), 2).tolist())


def load_frames(root: Path, cls: str) -> list[tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], Any, np.ndarray]]:
    """Per sequence: (per frame (boxes (N, 7) ego frame, scores (N,), 2D boxes (N, 4)), T_rect_velo, P2)."""
    from fusionlabel.io.kitti import kitti_T_rect_velo, read_kitti_calib
    from fusionlabel.io.kitti_mot import detections_to_ego, read_ab3dmot_detections, read_seqmap

    seqs = []
    for e in read_seqmap(root / "seqmap" / "dev.seqmap"):
        cal_path = root / "calib" / f"{e.name}.txt"
        cal = read_kitti_calib(cal_path)
        T = kitti_T_rect_velo(cal, cal_path)
        d = read_ab3dmot_detections(root / "detection" / f"pointrcnn_{cls}" / f"{e.name}.txt")
        d = d.select(np.array([t == cls for t in d.type], dtype=bool))
        n = max(e.end, int(d.frame.max()) + 1 if len(d) else 0)
        order = np.argsort(d.frame, kind="stable")
        boxes = detections_to_ego(d, T).to_array()[order]
        starts = np.searchsorted(d.frame[order], np.arange(n + 1))
        frames = [
            (
                boxes[starts[k] : starts[k + 1]],
                d.score[order][starts[k] : starts[k + 1]],
                d.bbox[order][starts[k] : starts[k + 1]],
            )
            for k in range(n)
        ]
        seqs.append((frames, T, cal["P2"].reshape(3, 4)))
    return seqs


def run_tracker(
    seqs: list[tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], Any, np.ndarray]],
    cls: str,
    backend: str = "batch",
) -> float:
    """Seconds for the tracker over all sequences: every step, ``finish`` (interpolation, scores,
    ambiguity, review queue) and the KITTI result rows (:func:`kitti_results_from_table`)."""
    from fusionlabel.io.kitti import DEFAULT_IMAGE_SIZE
    from fusionlabel.io.kitti_mot import kitti_results_from_table
    from fusionlabel.track.kitti import kitti_config
    from fusionlabel.track.tracker import Tracker

    t0 = time.perf_counter()
    for frames, T, P2 in seqs:
        trk = Tracker(kitti_config(cls, P2, DEFAULT_IMAGE_SIZE, None, T), backend)
        codes = trk.category_codes([cls])
        for boxes, scores, bbox in frames:
            trk.step_arrays(boxes, scores, np.repeat(codes, len(boxes)), bbox)
        res = trk.finish()
        kitti_results_from_table(res.table, T, P2, DEFAULT_IMAGE_SIZE)
    return time.perf_counter() - t0


# -- cross-validation ------------------------------------------------------------------------------


def track_all(root: Path, cls: str, out: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Track every sequence into ``out`` (results + review files); returns name -> TrackingResult."""
    from fusionlabel.core.review import Review
    from fusionlabel.io.kitti_mot import read_seqmap, write_kitti_results
    from fusionlabel.io.review_file import write_review
    from fusionlabel.track.kitti import track_kitti_sequence

    out.mkdir(parents=True, exist_ok=True)
    res = {}
    for e in read_seqmap(root / "seqmap" / "dev.seqmap"):
        r, kl = track_kitti_sequence(root / "detection" / f"pointrcnn_{cls}", root / "calib", e, cls, overrides)
        write_kitti_results(out / f"{e.name}.txt", kl)
        write_review(out / f"{e.name}.review.json", Review(r.review))
        res[e.name] = r
    return res


def choose_threshold(seqs: list[Any], grid: tuple[float, ...] = THRESHOLD_GRID) -> tuple[float, dict[float, int]]:
    """The operating point with the fewest edit operations on ``seqs`` (ties: the lowest)."""
    from fusionlabel.quality.clear_mot import ClearEvaluator
    from fusionlabel.quality.edit_ops import edit_ops_total
    from fusionlabel.quality.evaluation import prelabel_sequences

    cost = {}
    for t in grid:
        pre = prelabel_sequences(seqs, {s.name: t for s in seqs})
        r = ClearEvaluator(pre).run(details=True)
        cost[t] = edit_ops_total(r.assigned[s.name] for s in pre).edit_ops
    return min(cost, key=lambda t: (cost[t], t)), cost


def labelled_rows(seqs: list[Any], results: dict[str, Any], thr: float) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """Severities (R, n_reasons) of the pre-label boxes and whether each carries an ID error event
    (the result box matched to the object at the event's frame), with the pre-label events."""
    from fusionlabel.quality.clear_mot import ClearEvaluator
    from fusionlabel.quality.evaluation import prelabel_sequences

    pre = prelabel_sequences(seqs, {s.name: thr for s in seqs})
    base = ClearEvaluator(pre).run(details=True)
    pos = set()
    for e in base.events:
        for f in base.assigned[e.sequence]:
            if f.frame == e.frame:
                gi = np.flatnonzero(f.gt_ids == e.gt_id)
                m = np.flatnonzero(f.match_gt == gi[0]) if len(gi) else []
                if len(m):
                    pos.add((e.sequence, e.frame, int(f.trk_ids[f.match_trk[m[0]]])))
                break
    X, y = [], []
    for s in seqs:
        rows = results[s.name].rows
        X.append(rows.severity)
        y.append(np.array([(s.name, int(f), int(t)) in pos for f, t in zip(rows.frame, rows.track_id)], bool))
    return np.concatenate(X), np.concatenate(y), list(base.events)


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[float, np.ndarray]:
    """Bias and weights of ``p = sigmoid(b + X w)`` by penalised maximum likelihood (L2 on w)."""
    from scipy.optimize import minimize

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] + X @ theta[1:]
        p = 1.0 / (1.0 + np.exp(-z))
        loss = np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * theta[1:] @ theta[1:]
        g = p - y
        return loss, np.r_[g.sum(), X.T @ g + l2 * theta[1:]]

    r = minimize(f, np.r_[-5.0, np.zeros(X.shape[1])], jac=True, method="L-BFGS-B")
    return float(r.x[0]), r.x[1:]


def queue_metrics(
    results: dict[str, Any],
    names: list[str],
    events: list[Any],
    bias: float,
    w: np.ndarray,
    fraction: float,
    min_score: float,
) -> Any:
    """Review metrics of the queues rebuilt with the error model ``(bias, w)``."""
    from fusionlabel.quality.review_metrics import review_metrics
    from fusionlabel.track.ambiguity import AmbiguityRows
    from fusionlabel.track.review import review_queue_from_rows

    queues = {}
    for n in names:
        r = results[n].rows
        prob = 1.0 / (1.0 + np.exp(-(bias + r.severity @ w)))
        q = review_queue_from_rows(
            AmbiguityRows(r.frame, r.track_id, r.severity, prob), results[n].num_frames, fraction, min_score
        )
        queues[n] = (set(q.frames), q.num_frames)
    return review_metrics(events, queues)


def cross_validate(root: Path, classes: list[str], verbose: bool = False) -> list[dict[str, Any]]:
    """Two-fold cross-validation of the operating points and the review model (see the docstring)."""
    from fusionlabel.quality.evaluation import evaluate_sequences
    from fusionlabel.quality.kitti_eval import load_kitti
    from fusionlabel.track import TrackerConfig
    from fusionlabel.track.ambiguity import REASONS

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        runs: dict[str, Any] = {}
        for cls in classes:  # all scored tracks: the threshold choice needs no re-run
            d = Path(tmp) / f"all_{cls}"
            track_all(root, cls, d, {"output_threshold": -np.inf})
            runs[cls] = load_kitti(root / "label", d, root / "seqmap" / "dev.seqmap", cls)
        for k, (tune, test) in enumerate(((HALVES[0], HALVES[1]), (HALVES[1], HALVES[0]))):
            thr, data = {}, {}
            for cls in classes:
                seqs = runs[cls]
                thr[cls], _cost = choose_threshold([s for s in seqs if s.name in tune])
                d = Path(tmp) / f"fold{k}_{cls}"
                res = track_all(root, cls, d, {"output_threshold": thr[cls]})
                data[cls] = (load_kitti(root / "label", d, root / "seqmap" / "dev.seqmap", cls), res)
            X, y = [], []
            for cls in classes:
                seqs, res = data[cls]
                xs, ys, _ = labelled_rows([s for s in seqs if s.name in tune], res, thr[cls])
                X.append(xs)
                y.append(ys)
            bias, w = fit_logistic(np.concatenate(X), np.concatenate(y))
            if verbose:
                print(f"thresholds {thr}; positives {int(sum(v.sum() for v in y))} of {sum(len(v) for v in y)} boxes")
                print(
                    f"fold tune={'/'.join(tune)}: bias {bias:.3f}, weights "
                    + ", ".join(f"{r} {v:.3f}" for r, v in zip(REASONS, w))
                )
            for cls in classes:
                seqs, res = data[cls]
                test_seqs = [s for s in seqs if s.name in test]
                cfg = TrackerConfig.for_class(cls)
                _, _, ev = labelled_rows(test_seqs, res, thr[cls])
                rm = queue_metrics(
                    res, [s.name for s in test_seqs], ev, bias, w, cfg.review_fraction, cfg.review_min_score
                )
                rep = evaluate_sequences(test_seqs, cls=cls, prelabel_thresholds={s.name: thr[cls] for s in test_seqs})
                s = rep.summary()
                out.append(
                    {
                        "fold": "A -> B" if k == 0 else "B -> A",
                        "cls": cls,
                        "threshold": thr[cls],
                        "sAMOTA": s["sAMOTA"],
                        "MOTA": s["MOTA"],
                        "IDS": s["IDS"],
                        "edit": s["edit_ops"],
                        "keyfr": s["keyframe_ops"],
                        "ratio": s["edit_ratio"],
                        "load": rm.review_load,
                        "cover": rm.error_coverage,
                        "events": rm.error_events,
                        "ident": f"{rm.identity_covered}/{rm.identity_events}",
                    }
                )
    return out


def oracle_effort(root: Path, cls: str, fills: tuple[int, ...]) -> list[Any]:
    """Edit operations of perfectly associated detections with gaps up to each of ``fills``
    frames filled (see the module docstring); the matching is done once for all of them."""
    from scipy.optimize import linear_sum_assignment

    from fusionlabel.core.boxes import iou_3d
    from fusionlabel.core.conventions import kitti_camera_to_boxes
    from fusionlabel.io.kitti_mot import read_ab3dmot_detections, read_seqmap
    from fusionlabel.quality.evaluation import evaluate_kitti
    from fusionlabel.quality.kitti_eval import T_ZUP_FROM_RECT, _load_for_class, read_kitti_rows

    with tempfile.TemporaryDirectory() as tmp:
        dirs = [Path(tmp) / f"fill{k}" for k in range(len(fills))]
        for d in dirs:
            d.mkdir()
        for e in read_seqmap(root / "seqmap" / "dev.seqmap"):
            gt = _load_for_class(read_kitti_rows(root / "label" / f"{e.name}.txt"), cls)
            gt = gt.select(np.array([t != "dontcare" for t in gt.types], bool))
            d = read_ab3dmot_detections(root / "detection" / f"pointrcnn_{cls}" / f"{e.name}.txt")
            gb = kitti_camera_to_boxes(gt.xyz, gt.hwl, gt.rotation_y, T_ZUP_FROM_RECT)
            db = kitti_camera_to_boxes(d.xyz, d.hwl, d.rotation_y, T_ZUP_FROM_RECT)
            rows: dict[tuple[int, int], tuple[Any, ...]] = {}
            for f in np.unique(gt.frame):
                gi, di = np.flatnonzero(gt.frame == f), np.flatnonzero(d.frame == f)
                if not len(di):
                    continue
                sim = iou_3d(gb[gi], db[di])
                for a, b in zip(*linear_sum_assignment(-sim)):
                    if sim[a, b] >= 0.25:
                        j = di[b]
                        rows[(int(f), int(gt.track_id[gi[a]]))] = (d.bbox[j], d.hwl[j], d.xyz[j], d.rotation_y[j])
            for fill, d in zip(fills, dirs):
                filled = dict(rows)
                for tid in np.unique(gt.track_id):
                    gi = np.flatnonzero(gt.track_id == tid)
                    have = np.flatnonzero([(int(f), int(tid)) in rows for f in gt.frame[gi]])
                    for a, b in itertools.pairwise(have):
                        if 1 < b - a <= fill + 1:
                            for j in gi[a + 1 : b]:
                                filled[(int(gt.frame[j]), int(tid))] = (
                                    gt.bbox[j],
                                    gt.hwl[j],
                                    gt.xyz[j],
                                    gt.rotation_y[j],
                                )
                with open(d / f"{e.name}.txt", "w") as fh:
                    for (f, t), (bb, hwl, xyz, ry) in sorted(filled.items()):
                        fh.write(
                            f"{f} {t + 1} {cls} 0 0 0 {bb[0]} {bb[1]} {bb[2]} {bb[3]} {hwl[0]} {hwl[1]} "
                            f"{hwl[2]} {xyz[0]} {xyz[1]} {xyz[2]} {ry} 1\n"
                        )
        return [evaluate_kitti(root / "label", d, root / "seqmap" / "dev.seqmap", cls).edit for d in dirs]


def fmt(v: Any, width: int = 9) -> str:
    if v is None:
        return "-".rjust(width)
    if isinstance(v, float):
        return f"{v:.2f}".rjust(width)
    return str(v).rjust(width)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", default=",".join(CLASSES))
    ap.add_argument("--no-reference", action="store_true", help="skip the slow filterpy reference timing")
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validation")
    ap.add_argument("--fit-review", action="store_true", help="only print the cross-validated error models")
    args = ap.parse_args(argv)
    root = shared_dir() / "kitti_tracking"
    needed = [root / "label", root / "calib", root / "seqmap" / "dev.seqmap", root / "detection"]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        print(
            f"bench_tracking: KITTI development split not found ({', '.join(missing)}); "
            "set FUSIONLABEL_SHARED to the folder holding kitti_tracking/. Nothing measured."
        )
        return 0
    try:
        from fusionlabel.quality.evaluation import evaluate_kitti
        from fusionlabel.track import TrackerConfig
        from fusionlabel.track.kitti import POINTRCNN_OPERATING_POINTS, track_kitti
    except ImportError as exc:  # the tracker is not in this checkout yet
        print(f"bench_tracking: tracker not available ({exc}); nothing measured.")
        return 0
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    if args.fit_review:
        cross_validate(root, classes, verbose=True)
        return 0
    ref = reference_table(root / "README.md")
    rows: dict[str, dict[str, Any]] = {}
    for cls in classes:
        det = root / "detection" / f"pointrcnn_{cls}"
        if not det.is_dir():
            print(f"bench_tracking: no detections for {cls} at {det}; skipped")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            summ = track_kitti(det, root / "calib", root / "seqmap" / "dev.seqmap", cls, Path(tmp), progress=False)
            t_cli = time.perf_counter() - t0
            t0 = time.perf_counter()
            s = evaluate_kitti(root / "label", tmp, root / "seqmap" / "dev.seqmap", cls).summary()
            t_eval = time.perf_counter() - t0
            exact = evaluate_kitti(root / "label", tmp, root / "seqmap" / "dev.seqmap", cls, exact_means=True)
            s["sAMOTA_exact"] = exact.summary()["sAMOTA"]
        seqs = load_frames(root, cls)
        n_frames = sum(len(f) for f, _, _ in seqs)
        run_tracker(seqs, cls)  # warm-up (imports, compiled kernels)
        t_ours = min(run_tracker(seqs, cls) for _ in range(3))
        t_ref = None
        if not args.no_reference:
            run_tracker(seqs[:1], cls, "filterpy")  # warm-up
            t_ref = run_tracker(seqs, cls, "filterpy")
        oracle, bound = oracle_effort(root, cls, (TrackerConfig.for_class(cls).max_age, 1_000_000))
        s.update(
            frames=n_frames,
            fps=n_frames / t_ours,
            fps_ref=None if t_ref is None else n_frames / t_ref,
            t_cli=t_cli,
            t_eval=t_eval,
            tracks=sum(v["tracks"] for v in summ.values()),
            delivered=sum(v["delivered"] for v in summ.values()),
            threshold=POINTRCNN_OPERATING_POINTS[cls],
            oracle=oracle,
            bound=bound,
        )
        rows[cls] = s
        print(
            f"{cls}: tracked {n_frames} frames in {t_cli:.1f} s (files included), evaluated in {t_eval:.1f} s",
            flush=True,
        )

    print("\nKITTI tracking, development split (10 sequences), 3D IoU 0.25, AB3DMOT's evaluation rules")
    print(f"{'class':<11}{'who':<9}" + "".join(f"{k:>9}" for k in REF_KEYS + ("IDF1", "HOTA")) + "  sAMOTA exact")
    for cls, s in rows.items():
        print(
            f"{cls:<11}{'ours':<9}" + "".join(fmt(s[k]) for k in REF_KEYS + ("IDF1", "HOTA")) + fmt(s["sAMOTA_exact"])
        )
        r = ref.get(cls)
        if r:
            vals = [int(r[k]) if k in ("IDS", "FRAG", "FP", "FN") else r.get(k) for k in REF_KEYS]
            print(f"{'':<11}{'AB3DMOT':<9}" + "".join(fmt(v) for v in vals) + fmt(None) + fmt(None))
    print("(sAMOTA reproduces AB3DMOT's script, whose track means drift by an ulp from run to run;")
    print(" 'sAMOTA exact' sums each track's mean score exactly: docs/evaluation.md)")
    print("\nspeed (step + finish + KITTI rows, detections in memory; batch vs filterpy backend, same process)")
    print(f"{'class':<11}{'frames':>7}{'fps':>9}{'fps ref':>9}{'speedup':>8}")
    for cls, s in rows.items():
        sp = None if s["fps_ref"] is None else s["fps"] / s["fps_ref"]
        print(f"{cls:<11}{s['frames']:>7}{s['fps']:>9.0f}{fmt(s['fps_ref'])}{fmt(sp, 8)}")
    print("\npre-labels (tracks at the operating point), review queue and correction effort")
    print(
        f"{'class':<11}{'thr':>6}{'tracks':>7}{'deliv':>6}{'IDS':>5}{'FRAG':>5}{'review':>8}{'cover':>8}"
        f"{'errors':>7}{'id.cov':>8}{'edit':>6}{'keyfr':>6}{'ratio':>7}{'oracle':>7}{'o.ratio':>8}{'bound':>6}"
        f"{'b.ratio':>8}"
    )
    for cls, s in rows.items():
        rl = f"{100 * s['review_load']:.1f}%" if "review_load" in s else "-"
        ec = f"{100 * s['error_coverage']:.1f}%" if "error_coverage" in s else "-"
        ne = s["review"]["error_events"] if "review" in s else "-"
        ic = f"{s['review']['identity_covered']}/{s['review']['identity_events']}" if "review" in s else "-"
        pre = s.get("prelabels") or {}
        o, b = s["oracle"], s["bound"]
        print(
            f"{cls:<11}{s['threshold']:>6.1f}{s['tracks']:>7}{s['delivered']:>6}{pre.get('IDS', '-')!s:>5}"
            f"{pre.get('FRAG', '-')!s:>5}{rl:>8}{ec:>8}{ne!s:>7}{ic:>8}{s['edit_ops']:>6}{s['keyframe_ops']:>6}"
            f"{fmt(s['edit_ratio'], 7)}{o.edit_ops:>7}{fmt(o.ratio, 8)}{b.edit_ops:>6}{fmt(b.ratio, 8)}"
        )
    if not args.no_cv:
        cv = cross_validate(root, list(rows))
        print(
            "\ntwo-fold cross-validation (operating point and review model chosen on one half, scored on the other;"
            f"\n  A = {' '.join(HALVES[0])}, B = {' '.join(HALVES[1])})"
        )
        print(
            f"{'fold':<8}{'class':<11}{'thr':>5}{'sAMOTA':>8}{'MOTA':>7}{'IDS':>4}{'edit':>6}{'keyfr':>6}"
            f"{'ratio':>7}{'review':>8}{'cover':>7}{'errors':>7}{'id.cov':>8}"
        )
        for c in cv:
            print(
                f"{c['fold']:<8}{c['cls']:<11}{c['threshold']:>5.1f}{fmt(c['sAMOTA'], 8)}{fmt(c['MOTA'], 7)}"
                f"{c['IDS']:>4}{c['edit']:>6}{c['keyfr']:>6}{fmt(c['ratio'], 7)}{100 * c['load']:>7.1f}%"
                f"{100 * c['cover']:>6.1f}%{c['events']:>7}{c['ident']:>8}"
            )
    print(
        "\ntargets: sAMOTA and MOTA above AB3DMOT with IDS no higher; >= 2,500 fps (Car); review <= 10% "
        "of frames covering >= 95% of ID errors; keyframe_ops / edit_ops >= 10 (oracle: perfect association of these "
        "detections, gaps up to max_age filled; bound: every gap filled, the limit of any tracker that reports an "
        "object only between its first and last detection). id.cov: queued / all events where the object comes back under a "
        "different id (the rest resume under the id they had: box dips below the IoU threshold)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
