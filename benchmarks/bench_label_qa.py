"""Label QA benchmark: recall and precision of ``fusionlabel qa`` on planted errors.

Usage::

    .venv/bin/python benchmarks/bench_label_qa.py [--seeds 5] [--per-kind 3] [--no-dev]

Known errors are planted into ground-truth labels (:func:`fusionlabel.quality.label_qa.plant_errors`):

* the synthetic sample recording (``sample_data/synth_seed0``, with LiDAR: every kind, including a
  ghost box in empty space and a whole track lifted off the ground);
* real KITTI tracking labels 0001 and 0016 (``../shared/real_data``) and, unless ``--no-dev``, the
  10 sequences of the KITTI development split (``../shared/kitti_tracking``): the label-only kinds
  (size, jump, yaw, duplicate, id_reuse).

For each set it prints the findings on the clean labels, then over ``--seeds`` plantings: recall
(planted errors named by a finding: same track, a frame within 1), precision (findings that name a
planted error / all findings) and precision(new), which does not count as false the findings the
clean labels already have (real oddities of the ground truth, not false alarms), per-kind
recall and the QA time per 1,000 boxes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, shared_dir

from fusionlabel.core.labels import LabelSet
from fusionlabel.quality.label_qa import check_labels, plant_errors, score_findings

LABEL_ONLY = ("size", "jump", "yaw", "duplicate", "id_reuse")
WITH_LIDAR = (*LABEL_ONLY, "ghost", "lift")


def kitti_labelset(label: Path, calib: Path) -> LabelSet:
    from fusionlabel.io.kitti import kitti_labels_to_labelset, kitti_T_rect_velo, read_kitti_calib, read_kitti_labels

    T = kitti_T_rect_velo(read_kitti_calib(calib), calib)
    return kitti_labels_to_labelset(read_kitti_labels(label), T, label)[0]


def run(name: str, labels: LabelSet, kinds: tuple[str, ...], seeds: int, per_kind: int, **qa: object) -> dict:
    t0 = time.perf_counter()
    clean = check_labels(labels, **qa)  # type: ignore[arg-type]
    dt = time.perf_counter() - t0
    rec, prec, prec_added = [], [], []
    by_kind: dict[str, list[int]] = {}
    for seed in range(seeds):
        bad, planted = plant_errors(labels, kinds, per_kind=per_kind, seed=seed)
        rep = check_labels(bad, **qa)  # type: ignore[arg-type]
        det = score_findings(rep.findings, planted, baseline=clean.findings)
        rec.append(det.recall)
        prec.append(det.precision)
        prec_added.append(det.precision_new)
        for k, (f, n) in det.by_kind().items():
            acc = by_kind.setdefault(k, [0, 0])
            acc[0] += f
            acc[1] += n
    kinds_s = " ".join(f"{k} {f}/{n}" for k, (f, n) in by_kind.items())
    print(
        f"{name:<22s} boxes {labels.num_boxes:6d}  clean findings {len(clean.findings):4d}  "
        f"recall {np.mean(rec):.3f}  precision {np.mean(prec):.3f}  precision(new) {np.mean(prec_added):.3f}  "
        f"{1e6 * dt / max(1, labels.num_boxes):.0f} ms/1k boxes\n{'':<22s} {kinds_s}"
    )
    return {
        "recall": float(np.mean(rec)),
        "precision": float(np.mean(prec)),
        "precision_new": float(np.mean(prec_added)),
        "n": labels.num_boxes,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--per-kind", type=int, default=3)
    ap.add_argument("--no-dev", action="store_true", help="skip the KITTI development split")
    a = ap.parse_args()
    from fusionlabel.io.open import open_recording

    rec = open_recording(REPO / "sample_data" / "synth_seed0")
    ts = {k: int(t) for k, t in enumerate(rec.timestamps_ns)}
    poses = {k: T for k, t in ts.items() if (T := rec.ego_pose_at(t)) is not None}
    labels = rec.labels
    assert labels is not None
    print(f"label QA on planted errors ({a.seeds} seeds, {a.per_kind} per kind; synthetic: 2 per kind)")
    run("synthetic (LiDAR)", labels, WITH_LIDAR, a.seeds, 2, timestamps_ns=ts, ego_poses=poses, recording=rec)
    run("synthetic (labels)", labels, LABEL_ONLY, a.seeds, 2, timestamps_ns=ts, ego_poses=poses)
    real = shared_dir() / "real_data" / "kitti" / "tracking" / "training"
    results = []
    for seq in ("0001", "0016"):
        lp = real / "label_02" / f"{seq}.txt"
        if lp.is_file():
            results.append(
                run(
                    f"KITTI {seq} (real_data)",
                    kitti_labelset(lp, real / "calib" / f"{seq}.txt"),
                    LABEL_ONLY,
                    a.seeds,
                    a.per_kind,
                )
            )
    dev = shared_dir() / "kitti_tracking"
    if not a.no_dev and (dev / "label").is_dir():
        for lp in sorted((dev / "label").glob("*.txt")):
            results.append(
                run(
                    f"KITTI {lp.stem} (dev)",
                    kitti_labelset(lp, dev / "calib" / lp.name),
                    LABEL_ONLY,
                    a.seeds,
                    a.per_kind,
                )
            )
    if results:
        w = np.array([r["n"] for r in results], dtype=float)
        print(
            f"KITTI mean over {len(results)} sequences: recall {np.average([r['recall'] for r in results], weights=w):.3f}, "
            f"precision {np.average([r['precision'] for r in results], weights=w):.3f}, "
            f"precision(new) {np.average([r['precision_new'] for r in results], weights=w):.3f} (weighted by boxes)"
        )


if __name__ == "__main__":
    main()
