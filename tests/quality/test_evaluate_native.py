"""`fusionlabel eval --format native` counts what can be seen: ground truth without a LiDAR point
is ignored (counted from the recording's own clouds), figures per class and per range bin, a
class map for other taxonomies, and no placeholder threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.io.native_labels import write_labels
from fusionlabel.io.open import SAMPLE, open_recording
from fusionlabel.quality.evaluation import RANGE_BINS, count_gt_points, evaluate_native, parse_class_map


@pytest.fixture(scope="module")
def sample():
    rec = open_recording(SAMPLE)
    gt = rec.labels
    counts, problems = count_gt_points(rec, gt)
    assert not problems
    return rec, gt, counts


def _without(gt: LabelSet, counts: dict[int, np.ndarray]) -> LabelSet:
    """The ground truth minus its boxes without a LiDAR point."""
    return LabelSet({k: fl.select(counts[k] > 0) for k, fl in gt.frames.items()})


def test_point_counts_match_the_generators_own(sample) -> None:
    _rec, gt, counts = sample
    ours = np.concatenate([counts[k] for k in sorted(gt.frames)])
    theirs = np.array([a["num_lidar_points"] for k in sorted(gt.frames) for a in gt.get(k).attributes])
    assert len(ours) == len(theirs) == 482
    # the synthesiser counts its own rays' hits inside each box: the same points
    assert (ours == theirs).mean() > 0.99 and ((ours == 0) == (theirs == 0)).all()


def test_unseen_ground_truth_is_ignored(sample, tmp_path: Path) -> None:
    _rec, gt, counts = sample
    unseen = int(sum((c == 0).sum() for c in counts.values()))
    assert unseen > 0
    seen_only = tmp_path / "seen.json"
    write_labels(_without(gt, counts), seen_only)
    s = evaluate_native(SAMPLE, seen_only).summary()
    assert s["gt_without_points"] == unseen and s["gt_boxes"] == 482
    assert s["MOTA"] == 100.0 and s["FN"] == 0 and s["FP"] == 0
    # the old rule (every box) misses exactly the unseen ones
    s_all = evaluate_native(SAMPLE, seen_only, seen_only=False).summary()
    assert s_all["FN"] == unseen and s_all["gt_without_points"] is None
    # a result box on an unseen ground-truth box is no false positive either
    s_gt = evaluate_native(SAMPLE, _write(tmp_path / "gt.json", gt)).summary()
    assert s_gt["FP"] == 0 and s_gt["MOTA"] == 100.0
    assert s_gt["best_threshold"] is None or s_gt["best_threshold"] > -1000  # never the placeholder


def _write(path: Path, labels: LabelSet) -> Path:
    write_labels(labels, path)
    return path


def test_per_class_and_per_range_figures(sample, tmp_path: Path) -> None:
    _rec, gt, counts = sample
    s = evaluate_native(SAMPLE, _write(tmp_path / "gt.json", gt)).summary()
    assert set(s["by_class"]) == {"Car", "Pedestrian", "Cyclist", "Truck"}
    assert all(r["MOTA"] == 100.0 for r in s["by_class"].values())
    names = [f"{lo:g}-{hi:g}" if np.isfinite(hi) else f"{lo:g}+" for lo, hi in RANGE_BINS]
    assert set(s["by_range"]) <= set(names) and "0-30" in s["by_range"]
    seen = sum(int((c > 0).sum()) for c in counts.values())
    assert sum(r["n_gt"] for r in s["by_range"].values()) == seen
    assert sum(r["n_gt"] for r in s["by_class"].values()) == seen


def test_class_map_for_another_taxonomy(sample, tmp_path: Path) -> None:
    _rec, gt, _counts = sample
    vans = LabelSet(
        {
            k: FrameLabels(fl.track_ids, ["Van" if c == "Car" else c for c in fl.categories], fl.boxes)
            for k, fl in gt.frames.items()
        }
    )
    p = _write(tmp_path / "vans.json", vans)
    assert evaluate_native(SAMPLE, p, "Car").summary()["recall"] == 0.0
    assert evaluate_native(SAMPLE, p, "Car", class_map=parse_class_map("Van=Car")).summary()["recall"] == 100.0
    with pytest.raises(ValueError, match="not NAME=NAME"):
        parse_class_map("Van")
    with pytest.raises(ValueError, match="not NAME=NAME"):
        parse_class_map("Car=Car=Van")
    with pytest.raises(ValueError, match="mapped twice"):
        parse_class_map("Van=Car,Van=Truck")


def test_eval_refuses_a_class_no_file_has(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --class printed all-zero figures with exit 0 (a bad-input sweep)."""
    from fusionlabel.cli import main

    args = ["eval", "--format", "native", "--gt", str(SAMPLE), "--results", str(SAMPLE / "labels.json")]
    assert main([*args, "--class", "Zeppelin"]) == 2
    assert "Zeppelin" in capsys.readouterr().err
    assert main([*args, "--class", "Car"]) == 0
