"""Tracking benchmark on the KITTI development split (``../shared/kitti_tracking``).

Usage::

    .venv/bin/python benchmarks/bench_tracking.py [--classes Car,Pedestrian,Cyclist] [--no-reference]

For each class it runs ``fusionlabel track`` (:func:`fusionlabel.commands.track.track_kitti`) on
the PointRCNN detections, scores the results with ``fusionlabel eval``
(:func:`fusionlabel.quality.evaluation.evaluate_kitti`, AB3DMOT's evaluation rules) and prints,
side by side with AB3DMOT's reference figures from the split's README:

* sAMOTA, AMOTA, MOTA, MOTP, IDS, FRAG, FP, FN (and IDF1, HOTA: no AB3DMOT reference);
* tracker speed in frames per second (the tracking loop alone, detections already in memory)
  against a per-track filterpy reference (one ``filterpy.kalman.KalmanFilter`` per track, the
  same association) run in the same process on the same frames;
* review load (fraction of frames queued) and error coverage (fraction of the pre-labels' ID
  errors on a queued frame);
* correction effort: edit operations against keyframe labelling from scratch (ratio).

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


def load_frames(root: Path, cls: str) -> list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Per sequence, per frame: (boxes (N, 7) ego frame, scores (N,), 2D boxes (N, 4))."""
    from fusionlabel.io.kitti import kitti_T_rect_velo, read_kitti_calib
    from fusionlabel.io.kitti_mot import detections_to_ego, read_ab3dmot_detections, read_seqmap

    seqs = []
    for e in read_seqmap(root / "seqmap" / "dev.seqmap"):
        cal_path = root / "calib" / f"{e.name}.txt"
        T = kitti_T_rect_velo(read_kitti_calib(cal_path), cal_path)
        d = read_ab3dmot_detections(root / "detection" / f"pointrcnn_{cls}" / f"{e.name}.txt")
        d = d.select(np.array([t == cls for t in d.type], dtype=bool))
        n = max(e.end, int(d.frame.max()) + 1 if len(d) else 0)
        order = np.argsort(d.frame, kind="stable")
        boxes = detections_to_ego(d, T).to_array()[order]
        starts = np.searchsorted(d.frame[order], np.arange(n + 1))
        seqs.append([(boxes[starts[k] : starts[k + 1]], d.score[order][starts[k] : starts[k + 1]],
                      d.bbox[order][starts[k] : starts[k + 1]]) for k in range(n)])
    return seqs


def run_tracker(frames: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]], cls: str) -> float:
    """Seconds for our tracker over all sequences (step + finish, ambiguity and review included)."""
    from fusionlabel.track.tracker import Tracker, TrackerConfig

    t0 = time.perf_counter()
    for seq in frames:
        trk = Tracker(TrackerConfig.for_class(cls))
        for boxes, scores, bbox in seq:
            trk.step_arrays(boxes, scores, trk.category_codes([cls] * len(boxes)), bbox)
        trk.finish()
    return time.perf_counter() - t0


def run_reference(frames: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]], cls: str) -> float:
    """Seconds for the per-track filterpy reference: AB3DMOT's structure (one KalmanFilter per
    track, predict each, associate on the stacked predictions, update each, birth and death with
    the same configuration), without the ambiguity scoring or the offline output."""
    from fusionlabel.track.association import affinity_matrix, associate
    from fusionlabel.track.kalman import FilterpyTrack
    from fusionlabel.track.tracker import TrackerConfig

    cfg = TrackerConfig.for_class(cls)
    t0 = time.perf_counter()
    for seq in frames:
        tracks: list[FilterpyTrack] = []
        misses: list[int] = []
        for boxes, _scores, _bbox in seq:
            for t in tracks:
                t.predict()
            matched_d: set[int] = set()
            if tracks and len(boxes):
                pred = np.stack([t.x[:7] for t in tracks])
                a = associate(affinity_matrix(pred, boxes, cfg.metric, cfg.gate_distance), cfg.threshold)
                for ti, di in a.matches.tolist():
                    tracks[ti].update(boxes[di])
                    misses[ti] = -1
                    matched_d.add(di)
            misses = [m + 1 for m in misses]
            keep = [i for i, m in enumerate(misses) if m <= cfg.max_age]
            tracks = [tracks[i] for i in keep]
            misses = [misses[i] for i in keep]
            for di in range(len(boxes)):
                if di not in matched_d:
                    tracks.append(FilterpyTrack(cfg.motion, boxes[di]))
                    misses.append(0)
    return time.perf_counter() - t0


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
    args = ap.parse_args(argv)
    root = shared_dir() / "kitti_tracking"
    needed = [root / "label", root / "calib", root / "seqmap" / "dev.seqmap", root / "detection"]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        print(f"bench_tracking: KITTI development split not found ({', '.join(missing)}); "
              "set FUSIONLABEL_SHARED to the folder holding kitti_tracking/. Nothing measured.")
        return 0
    try:
        from fusionlabel.commands.track import track_kitti
        from fusionlabel.quality.evaluation import evaluate_kitti
    except ImportError as exc:  # the tracker is not in this checkout yet
        print(f"bench_tracking: tracker not available ({exc}); nothing measured.")
        return 0
    ref = reference_table(root / "README.md")
    rows: dict[str, dict[str, Any]] = {}
    for cls in [c.strip() for c in args.classes.split(",") if c.strip()]:
        det = root / "detection" / f"pointrcnn_{cls}"
        if not det.is_dir():
            print(f"bench_tracking: no detections for {cls} at {det}; skipped")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            track_kitti(det, root / "calib", root / "seqmap" / "dev.seqmap", cls, Path(tmp), progress=False)
            t_cli = time.perf_counter() - t0
            t0 = time.perf_counter()
            s = evaluate_kitti(root / "label", tmp, root / "seqmap" / "dev.seqmap", cls).summary()
            t_eval = time.perf_counter() - t0
        frames = load_frames(root, cls)
        n_frames = sum(len(f) for f in frames)
        run_tracker(frames, cls)  # warm-up (imports, caches)
        t_ours = min(run_tracker(frames, cls) for _ in range(3))
        t_ref = None if args.no_reference else run_reference(frames, cls)
        s.update(
            frames=n_frames,
            fps=n_frames / t_ours,
            fps_ref=None if t_ref is None else n_frames / t_ref,
            t_cli=t_cli,
            t_eval=t_eval,
        )
        rows[cls] = s
        print(f"{cls}: tracked {n_frames} frames in {t_cli:.1f} s (files included), evaluated in {t_eval:.1f} s",
              flush=True)

    print("\nKITTI tracking, development split (10 sequences), 3D IoU 0.25, AB3DMOT's evaluation rules")
    print(f"{'class':<11}{'who':<9}" + "".join(f"{k:>9}" for k in REF_KEYS + ("IDF1", "HOTA")))
    for cls, s in rows.items():
        print(f"{cls:<11}{'ours':<9}" + "".join(fmt(s[k]) for k in REF_KEYS + ("IDF1", "HOTA")))
        r = ref.get(cls)
        if r:
            vals = [int(r[k]) if k in ("IDS", "FRAG", "FP", "FN") else r.get(k) for k in REF_KEYS]
            print(f"{'':<11}{'AB3DMOT':<9}" + "".join(fmt(v) for v in vals) + fmt(None) + fmt(None))
    print("\nspeed (tracking loop, detections in memory), review queue and correction effort")
    print(f"{'class':<11}{'frames':>7}{'fps':>9}{'fps ref':>9}{'speedup':>8}{'review':>8}{'cover':>8}"
          f"{'errors':>7}{'edit':>7}{'keyfr':>7}{'ratio':>7}")
    for cls, s in rows.items():
        sp = None if s["fps_ref"] is None else s["fps"] / s["fps_ref"]
        rl = f"{100 * s['review_load']:.1f}%" if "review_load" in s else "-"
        ec = f"{100 * s['error_coverage']:.1f}%" if "error_coverage" in s else "-"
        ne = s["review"]["error_events"] if "review" in s else "-"
        print(f"{cls:<11}{s['frames']:>7}{s['fps']:>9.0f}{fmt(s['fps_ref'])}{fmt(sp, 8)}{rl:>8}{ec:>8}{ne!s:>7}"
              f"{s['edit_ops']:>7}{s['keyframe_ops']:>7}{fmt(s['edit_ratio'], 7)}")
    print("\ntargets: sAMOTA and MOTA above AB3DMOT with IDS no higher; >= 2,500 fps (Car); review <= 10% "
          "of frames covering >= 95% of ID errors; keyframe_ops / edit_ops >= 10")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
