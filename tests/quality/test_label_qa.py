"""Label QA finds errors planted into ground-truth labels (synthetic recording with LiDAR; real
KITTI tracking 0001 and 0016 labels) with measured recall and precision; reports are written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.io.open import open_recording
from fusionlabel.quality.label_qa import check_labels, plant_errors, robust_z, score_findings

SYNTH = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"
LABEL_ONLY = ("size", "jump", "yaw", "duplicate", "id_reuse")


def _poses(rec) -> dict:  # type: ignore[no-untyped-def]
    out = {}
    for k, t in enumerate(rec.timestamps_ns):
        T = rec.ego_pose_at(int(t))
        if T is not None:
            out[k] = T
    return out


@pytest.fixture(scope="module")
def synth():  # type: ignore[no-untyped-def]
    rec = open_recording(SYNTH)
    return rec, rec.labels, {k: int(t) for k, t in enumerate(rec.timestamps_ns)}, _poses(rec)


def test_robust_z_per_class_and_pooled() -> None:
    x = np.r_[np.linspace(0, 1, 40), 10.0, np.linspace(0, 1, 5)]
    cls = ["Car"] * 41 + ["Tram"] * 5
    z, st = robust_z(x, cls, floor=0.01, min_samples=30)
    assert z[40] > 10 and np.all(z[:40] < 2)
    assert "Car" in st and "Tram" not in st  # too few trams: pooled statistics
    # a class whose values are mostly identical still has a spread (the quantile term)
    y = np.r_[np.zeros(80), np.full(20, 1.0)]
    z2, _ = robust_z(y, ["a"] * 100, floor=0.01, min_samples=30)
    assert z2.max() < 2


def test_planted_errors_on_synthetic_recording(synth) -> None:  # type: ignore[no-untyped-def]
    rec, labels, ts, poses = synth
    clean = check_labels(labels, ts, poses, rec)
    assert "few_points" in clean.checks and "off_ground" in clean.checks
    bad, planted = plant_errors(labels, (*LABEL_ONLY[:4], "ghost", "lift"), per_kind=2, seed=0)
    assert len(planted) == 12
    rep = check_labels(bad, ts, poses, rec)
    det = score_findings(rep.findings, planted)
    assert det.recall >= 0.9, det.missed
    assert det.precision >= 0.75
    kinds = {
        p.kind: f
        for p in det.found
        for f in rep.findings
        if f.track_id == p.track_id or p.track_id in f.other_track_ids
    }
    assert "few_points" in kinds["ghost"].kinds
    assert "off_ground" in kinds["lift"].kinds or "few_points" in kinds["lift"].kinds
    assert "size" in kinds["size"].kinds and "yaw_rate" in kinds["yaw"].kinds
    assert "overlap" in kinds["duplicate"].kinds
    # ranked, highest first; every finding names track, frames and reason
    assert [f.score for f in rep.findings] == sorted((f.score for f in rep.findings), reverse=True)
    assert all(f.score >= 1 and f.frames and f.reason for f in rep.findings)


@pytest.mark.parametrize("seq", ["0001", "0016"])
def test_planted_errors_on_real_kitti_tracking(real_data: Path, seq: str) -> None:
    rec = open_recording(real_data / "kitti" / "tracking" / "training" / "label_02" / f"{seq}.txt")
    labels = rec.labels
    assert labels is not None
    clean = check_labels(labels)
    recall, precision = [], []
    for seed in range(2):
        bad, planted = plant_errors(labels, LABEL_ONLY, per_kind=3, seed=seed)
        rep = check_labels(bad)
        det = score_findings(rep.findings, planted, baseline=clean.findings)
        recall.append(det.recall)
        # the clean labels' own findings are real oddities of the ground truth, not false alarms
        precision.append(det.precision_new)
    assert np.mean(recall) >= 0.85
    assert np.mean(precision) >= 0.8
    assert len(clean.findings) < 0.02 * labels.num_boxes


def test_id_reuse_is_named() -> None:
    def fl(x: float, l: float) -> FrameLabels:
        return FrameLabels(np.array([3]), ("Car",), Boxes.from_array([[x, 0, 0.8, l, 1.8, 1.5, 0]]))

    frames = {k: fl(10 + k, 4.0) for k in range(20)}
    frames.update({k: fl(100.0 + k, 4.0) for k in range(40, 60)})  # another car 110 m on, same id, after a gap
    rep = check_labels(LabelSet(frames))
    assert [f.kinds[0] for f in rep.findings] == ["id_reuse"]
    assert rep.findings[0].frames == (19, 40) and "gap of 20 frames" in rep.findings[0].reason


def test_report_files_and_cli(synth, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from fusionlabel.cli import main
    from fusionlabel.io.native_labels import write_labels

    _, labels, ts, _ = synth
    bad, planted = plant_errors(labels, ("jump", "size"), per_kind=2, seed=3)
    p = tmp_path / "bad.json"
    write_labels(bad, p, {k: ts[k] for k in bad.frames})
    html = tmp_path / "qa.html"
    assert main(["qa", str(p), "--report", str(html), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "findings in" in out and "track" in out
    text = html.read_text()
    assert "data:image/png;base64," in text and f"<td>{planted[0].track_id}</td>" in text
    png = tmp_path / "qa.png"
    assert main(["qa", str(p), "--report", str(png), "--json"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    d = json.loads(capsys.readouterr().out)
    assert d["num_boxes"] == bad.num_boxes and d["num_findings"] == len(d["findings"]) >= 4
    assert main(["qa", str(p), "--report", str(tmp_path / "qa.txt")]) != 0
