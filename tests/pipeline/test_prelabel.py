"""The pre-labeling pipeline on the bundled synthetic recording (exact ground truth)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import bev_iou
from fusionlabel.core.frames import Frame
from fusionlabel.core.labels import LabelSet
from fusionlabel.detect.api import Detections, DetectorInfo
from fusionlabel.io.native import open_native
from fusionlabel.pipeline import Cancelled, prelabel
from fusionlabel.pipeline.batch import is_done, plan_jobs, prelabel_one, run_local

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"


class OracleDetector:
    """Ground truth with noise and dropped boxes: a stand-in for a good detector, deterministic."""

    def __init__(self, labels: LabelSet, drop: float = 0.1, sigma: float = 0.1, fail_on: tuple[int, ...] = ()) -> None:
        self.labels, self.drop, self.sigma, self.fail_on = labels, drop, sigma, fail_on
        self.info = DetectorInfo("oracle", ("Car", "Pedestrian", "Cyclist"))

    def detect(self, frame: Frame, rig) -> Detections:
        if frame.index in self.fail_on:
            raise RuntimeError("simulated plugin failure")
        gt = self.labels.get(frame.index)
        rng = np.random.default_rng(frame.index)
        keep = np.array([c in self.info.classes for c in gt.categories], bool)
        keep &= np.array([a.get("num_lidar_points", 1) > 5 for a in gt.attributes], bool)
        keep &= rng.uniform(size=len(gt)) > self.drop
        arr = gt.boxes.to_array()[keep]
        arr[:, :3] += rng.normal(0, self.sigma, (len(arr), 3))
        cats = [c for c, k in zip(gt.categories, keep) if k]
        return Detections.from_arrays(arr, rng.uniform(0.6, 1.0, len(arr)), cats)


@pytest.fixture(scope="module")
def sample():
    if not (SAMPLE / "recording.json").exists():
        pytest.skip("sample recording missing")
    return open_native(SAMPLE)


def _id_consistency(pred: LabelSet, gt: LabelSet) -> tuple[int, int]:
    """(number of GT tracks, number of GT tracks followed by more than one predicted id)."""
    seen: dict[int, set[int]] = {}
    for k, g in gt.frames.items():
        p = pred.get(k)
        if not len(p) or not len(g):
            continue
        iou = bev_iou(g.boxes, p.boxes)
        for i in range(len(g)):
            j = int(np.argmax(iou[i]))
            if iou[i, j] > 0.3:
                seen.setdefault(int(g.track_ids[i]), set()).add(int(p.track_ids[j]))
    return len(seen), sum(len(v) > 1 for v in seen.values())


def test_oracle_prelabel_keeps_identities(sample) -> None:
    gt = sample.labels
    steps: list[tuple[int, int]] = []
    res = prelabel(sample, OracleDetector(gt), progress=lambda d, t: steps.append((d, t)))
    assert steps[-1] == (len(sample) + 1, len(sample) + 1)
    assert [d for d, _ in steps] == sorted(d for d, _ in steps)
    for fl in res.labels.frames.values():
        assert len(np.unique(fl.track_ids)) == len(fl)
    n_tracks, switched = _id_consistency(res.labels, gt)
    assert n_tracks >= 10
    assert switched <= 1, f"{switched} of {n_tracks} GT tracks split over several ids"
    assert 0 < res.review.load <= 0.1 + 1e-9
    # the review reasons name tracks that exist in the output
    out_ids = set(res.labels.track_ids.tolist())
    for it in res.review.items:
        assert {r["track_id"] for r in it.reasons if "track_id" in r} <= out_ids | {r["track_id"] for r in it.reasons}
    assert res.report.frames == len(sample) and res.report.failed_frames == ()


def test_failing_frames_are_reported_and_skipped(sample) -> None:
    res = prelabel(sample, OracleDetector(sample.labels, fail_on=(3, 4)))
    assert len(res.report.failed_frames) == 2
    assert all("simulated plugin failure" in f for f in res.report.failed_frames)
    assert res.report.failed_frames[0].startswith("frame 4 (index 3): ")  # counted from 1, as the window
    assert res.labels.num_boxes > 0


def test_cancel_stops(sample) -> None:
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(Cancelled, match=r"cancelled at frame 4 of \d+ \(index 3\)"):
        prelabel(sample, OracleDetector(sample.labels), cancel=cancel)


def test_geometric_detector_end_to_end(sample) -> None:
    res = prelabel(sample, "geometric")
    assert res.report.detector == "geometric" and res.report.detections > 0
    gt = sample.labels
    hits = total = 0
    for k, g in gt.frames.items():
        vis = np.array([c == "Car" and a.get("num_lidar_points", 0) >= 50 for c, a in zip(g.categories, g.attributes)])
        if not vis.any():
            continue
        p = res.labels.get(k)
        total += int(vis.sum())
        if len(p):
            hits += int((bev_iou(g.boxes[np.flatnonzero(vis)], p.boxes).max(axis=1) > 0.3).sum())
    assert total > 20 and hits / total > 0.5, f"tracked {hits}/{total} well-seen cars"


def test_batch_writes_resumes_and_isolates_failures(sample, tmp_path: Path) -> None:
    bad = tmp_path / "broken.bin"
    bad.write_bytes(b"\x00" * 10)
    jobs = plan_jobs([SAMPLE, bad], tmp_path / "out")
    reports = run_local(jobs, "geometric", workers=1)
    assert [r["status"] for r in reports] == ["ok", "failed"]
    assert "broken.bin" in reports[1]["error"]
    assert is_done(jobs[0], "geometric") and not is_done(jobs[1], "geometric")
    assert not is_done(jobs[0], "pillars")  # another detector's labels are not "done"
    labels = json.loads((jobs[0].out_dir / "labels.json").read_text())
    assert labels["format"] == "fusionlabel.labels" and labels["frames"]
    review = json.loads((jobs[0].out_dir / "labels.review.json").read_text())
    assert review["format"] == "fusionlabel.review" and review["num_frames"] == len(sample)
    assert all(e["state"] == "proposed" and e["resolution"] is None for e in review["frames"])
    assert not list(jobs[0].out_dir.glob("*.tmp"))  # atomic writes left nothing behind


def test_prelabel_one_reports_unreadable_recording(tmp_path: Path) -> None:
    rep = prelabel_one(str(tmp_path / "missing"), str(tmp_path / "o"), "geometric")
    assert rep["status"] == "failed" and "no such file" in rep["error"]
    assert json.loads((tmp_path / "o" / "report.json").read_text())["status"] == "failed"


def test_view_prelabels_only_what_the_camera_shows(sample, tmp_path: Path) -> None:
    from fusionlabel.core.errors import FusionLabelError
    from fusionlabel.core.projection import visible_fraction

    gt = sample.labels
    everything = prelabel(sample, OracleDetector(gt))
    seen = prelabel(sample, OracleDetector(gt), view="cam_front")
    cam = sample.rig.cameras["cam_front"]
    T_cam_ego = cam.T_ego_cam.inverse()
    # every reported track starts and ends with a box at least 30 % in the picture
    ends: dict[int, list[tuple[int, float]]] = {}
    for k, fl in seen.labels.frames.items():
        for tid, v in zip(fl.track_ids.tolist(), visible_fraction(fl.boxes, cam, T_cam_ego)):
            ends.setdefault(tid, []).append((k, float(v)))
    assert ends
    for rows in ends.values():
        rows.sort()
        assert rows[0][1] >= 0.3 and rows[-1][1] >= 0.3
    # the synthetic rig sees all around: the view keeps a minority of the boxes
    assert 0 < seen.labels.num_boxes < 0.8 * everything.labels.num_boxes
    with pytest.raises(FusionLabelError, match="no camera named 'cam_back'.*cam_front"):
        prelabel(sample, OracleDetector(gt), view="cam_back")
    # the batch worker: a wrong view is a failed recording with the reason, the right one is recorded
    rep = prelabel_one(str(SAMPLE), str(tmp_path / "bad"), "geometric", view="cam_back")
    assert rep["status"] == "failed" and "cam_back" in rep["error"]
    jobs = plan_jobs([SAMPLE], tmp_path / "out")
    assert run_local(jobs, "geometric", workers=1, view="cam_front")[0]["view"] == "cam_front"
    assert is_done(jobs[0], "geometric", "cam_front") and not is_done(jobs[0], "geometric")


class EchoDetector(OracleDetector):
    """The oracle's boxes, and each Pedestrian seen a second time as a Cyclist (a lower score,
    the same place): what a multi-class detector does on an ambiguous person."""

    def detect(self, frame: Frame, rig) -> Detections:
        d = super().detect(frame, rig)
        ped = np.flatnonzero(d.classes == "Pedestrian")
        arr = np.vstack([d.boxes.to_array(), d.boxes.to_array()[ped] + [0.1, 0, 0, 0.6, 0, 0, 0]])
        scores = np.concatenate([d.scores, d.scores[ped] * 0.9])
        return Detections.from_arrays(arr, scores, [*d.classes, *["Cyclist"] * len(ped)])


def test_one_object_seen_as_two_classes_becomes_one_track(sample) -> None:
    """Detections overlapping a better one of any class are dropped before tracking
    (prelabel's nms_iou): no Cyclist track doubles a Pedestrian; nms_iou=None keeps them."""
    gt = sample.labels

    def doubled(labels: LabelSet) -> int:
        n = 0
        for fl in labels.frames.values():
            p = np.flatnonzero(np.array(fl.categories) == "Pedestrian")
            c = np.flatnonzero(np.array(fl.categories) == "Cyclist")
            if len(p) and len(c):
                n += int((bev_iou(fl.boxes[p], fl.boxes[c]) > 0.3).sum())
        return n

    kept = prelabel(sample, EchoDetector(gt), refine=False).labels
    raw = prelabel(sample, EchoDetector(gt), refine=False, nms_iou=None).labels
    assert doubled(raw) > 10 and doubled(kept) == 0
    assert prelabel(sample, OracleDetector(gt), refine=False).labels.num_boxes == kept.num_boxes
    assert prelabel(sample, EchoDetector(gt)).report.config["nms_iou"] == 0.3


def test_prelabel_tracks_at_the_recording_s_frame_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 15 Hz recording is tracked with a 1/15 s step (the tracker's default is KITTI's 0.1 s)."""
    import importlib

    from fusionlabel.pipeline import prelabel
    from fusionlabel.synth import generate

    mod = importlib.import_module("fusionlabel.pipeline.prelabel")
    rec = open_native(generate(tmp_path / "r15", frames=4, seed=3, rate_hz=15.0, cameras=(), radar_rate_hz=0))
    assert mod.frame_interval_s(rec) == pytest.approx(1 / 15, rel=1e-6)
    seen: list[float] = []
    real = mod.Tracker

    def spy(cfg, *a, **k):  # type: ignore[no-untyped-def]
        seen.append(cfg.motion.dt)
        return real(cfg, *a, **k)

    monkeypatch.setattr(mod, "Tracker", spy)
    report = prelabel(rec, "geometric").report.to_dict()
    assert seen and all(dt == pytest.approx(1 / 15, rel=1e-6) for dt in seen)
    # the report says which step was used; the fingerprint differs from outputs tracked at 0.1 s
    assert report["frame_interval_s"] == pytest.approx(1 / 15, rel=1e-6)
    assert report["config"]["tracker_step"] == "recording frame interval"
    one = open_native(generate(tmp_path / "r1", frames=1, seed=3, cameras=(), radar_rate_hz=0))
    assert mod.frame_interval_s(one) is None
