"""The path a user takes, end to end, on the bundled sample and on real recordings from ../shared:

``fusionlabel prelabel`` -> open the output as the app opens it (the session API, no display) ->
the review queue is there -> ID edits (split by reassigning, merge back, reassign) and a resolved
frame -> save -> ``fusionlabel review`` -> ``fusionlabel eval`` (review load and coverage before
and after the save) -> every export -> loaded back by its consumer's own tool (nuscenes-devkit,
vcd, TrackEval's KITTI evaluator) with the edits in it.

The pytest-qt test of the same output in the real window is tests/app/test_review_in_window.py.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fusionlabel.cli import build_app
from fusionlabel.core.edits import merge_tracks, new_track_id, reassign_id, track_frames
from fusionlabel.core.review import frame_status
from fusionlabel.io import session as S
from fusionlabel.io.native_labels import read_labels
from fusionlabel.io.open import SAMPLE, open_recording

runner = CliRunner()

#: (name, path below ../shared/real_data or None for the bundled sample)
RECORDINGS = [
    ("sample", None),
    ("dgp_scene_02", "tri_dgp/test_scene/scene_02"),
    ("argoverse2", "argoverse2/sensor/val/7fab2350-7eaf-3b7e-a39d-6937a4c1bede"),
]


def _cli(*args: str) -> str:
    r = runner.invoke(build_app(), list(args))
    assert r.exit_code == 0, r.output
    return r.output


@pytest.fixture(params=RECORDINGS, ids=[n for n, _ in RECORDINGS])
def recording(request: pytest.FixtureRequest) -> Path:
    _name, rel = request.param
    if rel is None:
        return SAMPLE
    real = request.getfixturevalue("real_data")
    p = real / rel
    if not p.exists():
        pytest.skip(f"{p} is not in this copy of ../shared")
    return p


def _edit_ids(st: S.SessionState) -> tuple[S.SessionState, dict[str, int]]:
    """Split the longest track by reassigning its second half, merge it back, then give another
    track a fresh id; resolve the first flagged frame. Returns the new state and what was done."""
    labels = st.labels
    tids = labels.track_ids.tolist()
    longest = max(tids, key=lambda t: len(track_frames(labels, t)))
    frames = track_frames(labels, longest)
    assert len(frames) >= 2, "the pre-labels need a track over two frames for the ID edits"
    half = int(frames[len(frames) // 2])
    split_id = new_track_id(labels)
    labels = reassign_id(labels, longest, split_id, from_frame=half)  # the annotator splits ...
    assert set(track_frames(labels, split_id).tolist()) == {int(f) for f in frames if f >= half}
    labels = merge_tracks(labels, longest, split_id)  # ... and merges it back: one track again
    assert track_frames(labels, longest).tolist() == frames.tolist()
    other = next((t for t in tids if t != longest), longest)
    renamed = new_track_id(labels)
    labels = reassign_id(labels, other, renamed)
    done = {"kept": int(longest), "renamed_from": int(other), "renamed_to": int(renamed)}
    st = S.SessionState(labels, st.review, st.resolutions, st.frame, st.base, st.provenance)
    if st.review is not None and st.review.frames:
        st = S.resolve(st, st.review.frames[0], user="e2e")
        done["resolved"] = int(st.review.frames[0])
    return st, done


def test_prelabel_review_fix_save_eval_export_consume(recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # 1. pre-label (the CLI a data engineer runs)
    _cli("prelabel", str(recording), "--detector", "geometric", "--out", str(out), "-j", "1")
    (job,) = [p for p in out.iterdir() if p.is_dir()]
    lp = job / "labels.json"
    report = json.loads((job / "report.json").read_text())
    assert report["status"] == "ok" and report["boxes"] > 0, report
    # 2. open it as the app does (`fusionlabel open OUT/<name>` -> its recording and label file)
    from fusionlabel.app.command import prelabel_output

    rec_path, label_path = prelabel_output(job)
    assert Path(rec_path).resolve() == Path(recording).resolve() and label_path == lp
    rec = open_recording(rec_path)
    st = S.load(label_path)
    # 3. the queue is there; every box is a proposal
    assert st.review is not None and st.review.num_frames == len(rec)
    assert {(a or {}).get("state") for fl in st.labels.frames.values() for a in fl.attributes} == {"proposed"}
    assert all(s.state == "proposed" and s.open for s in frame_status(st.to_review(), st.labels))
    gt = rec.labels
    before = None
    if gt is not None and len(gt):
        before = json.loads(_cli("eval", "--format", "native", "--gt", str(rec_path), "--results", str(lp), "--json"))
        assert before["review"]["total_frames"] == len(rec)
    # 4. ID edits and a resolution, then save (atomic, checked against the disk)
    st, done = _edit_ids(st)
    S.save(st, label_path, {i: int(t) for i, t in enumerate(rec.timestamps_ns)})
    saved = read_labels(lp)
    assert done["renamed_to"] in saved.track_ids and done["renamed_from"] not in saved.track_ids
    if done["renamed_from"] != done["kept"]:  # one track only: it was both merged and renamed
        assert done["kept"] in saved.track_ids
    # 5. review status as a data engineer sees it
    rv = json.loads(_cli("review", str(job), "--json"))
    if "resolved" in done:
        assert rv["resolved"] == 1 and rv["open"] == rv["flagged"] - 1
    # 6. eval reads the same queue after the save
    if before is not None:
        after = json.loads(_cli("eval", "--format", "native", "--gt", str(rec_path), "--results", str(lp), "--json"))
        assert after["review"] == before["review"]
        assert after["review_load"] == before["review_load"]
    # 7. every export, each loaded back by its consumer
    _consume_nuscenes(lp, rec_path, tmp_path / "nuscenes", saved)
    _consume_openlabel(lp, rec_path, tmp_path / "labels.openlabel.json", saved, rec)
    _consume_kitti(lp, rec_path, tmp_path / "kitti", saved, rec)


def _consume_nuscenes(lp: Path, rec_path: Path, root: Path, saved) -> None:
    nuscenes = pytest.importorskip("nuscenes.nuscenes", reason="nuscenes-devkit is not installed")
    _cli("export", "--format", "nuscenes", str(lp), "--recording", str(rec_path), "--out", str(root))
    nusc = nuscenes.NuScenes(version="v1.0-fusionlabel", dataroot=str(root), verbose=False)
    assert len(nusc.sample_annotation) == saved.num_boxes
    ids = {int(a["fusionlabel_track_id"]) for a in nusc.instance}
    assert ids == set(saved.track_ids.tolist())  # the edited identities, one instance each
    box = nusc.get_box(nusc.sample_annotation[0]["token"])
    assert np.all(np.isfinite(box.center)) and np.all(box.wlh > 0)
    results = root / "results.json"
    _cli("export", "--format", "nuscenes-tracking", str(lp), "--recording", str(rec_path), "--out", str(results))
    from tests.io.test_nuscenes_devkit import run_tracking_eval

    # the devkit drops ground truth without a LiDAR point but keeps the results on it (then false
    # positives): leave those results out, as a submission would, so labels against themselves
    # must score perfectly
    # (the export's tracking_id is the instance token of the tables export)
    seen = {(a["sample_token"], a["instance_token"]) for a in nusc.sample_annotation if a["num_lidar_pts"] > 0}
    res = json.loads(results.read_text())
    assert any(res["results"].values())  # the export wrote tracks
    res["results"] = {s: [r for r in rs if (s, r["tracking_id"]) in seen] for s, rs in res["results"].items()}
    results.write_text(json.dumps(res))
    metrics = run_tracking_eval(root, results, root / "eval")  # the devkit's own TrackingEval
    # the export's annotations are the edited labels, the results the same labels: a perfect score
    # wherever the devkit keeps a box (it drops boxes beyond its class range, 40-50 m)
    near = [
        np.hypot(*fl.boxes.center[i, :2]) < 40.0
        for fl in saved.frames.values()
        for i in range(len(fl))
        if fl.categories[i] in ("Car", "Truck", "Bus", "Pedestrian", "Cyclist", "Motorcycle")
    ]
    if any(near):
        assert metrics["amota"] == pytest.approx(1.0) and metrics["ids"] == 0


def _consume_openlabel(lp: Path, rec_path: Path, path: Path, saved, rec) -> None:
    pytest.importorskip("vcd", reason="vcd is not installed")
    import vcd.core as vcd_core
    import vcd.scl as vcd_scl

    _cli("export", "--format", "openlabel", str(lp), "--recording", str(rec_path), "--out", str(path))
    v = vcd_core.VCD()
    v.load_from_file(str(path))
    assert len(v.get_objects()) == len(saved.track_ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # vcd's lens-limit helper on distorted lenses
        scene = vcd_scl.Scene(v)
        for name in rec.rig.cameras:
            assert scene.get_camera(name) is not None


def _consume_kitti(lp: Path, rec_path: Path, folder: Path, saved, rec) -> None:
    """TrackEval (the HOTA authors' KITTI evaluator) scores the export against itself: 100 %."""
    if not rec.rig.cameras:
        return
    trackeval = pytest.importorskip("trackeval", reason="TrackEval is not installed")
    gt = folder / "gt"
    _cli("export", "--format", "kitti", str(lp), "--recording", str(rec_path), "--out", str(gt), "--no-scores")
    res = folder / "trackers" / "ours" / "data"
    res.mkdir(parents=True)
    _cli(
        "export", "--format", "kitti", str(lp), "--recording", str(rec_path), "--out", str(res / "0000.txt"), "--scores"
    )
    n = len(rec)
    (gt / "evaluate_tracking.seqmap.training").write_text(f"0000 empty 000000 {n:06d}\n")
    rows = [ln.split() for ln in (gt / "label_02" / "0000.txt").read_text().splitlines() if ln.strip()]
    visible = [r for r in rows if r[2] in ("Car", "Pedestrian") and int(float(r[3])) < 1 and r[4] != "3"]
    if not visible:
        return
    quiet = dict.fromkeys(
        (
            "USE_PARALLEL",
            "PRINT_RESULTS",
            "PRINT_CONFIG",
            "OUTPUT_SUMMARY",
            "OUTPUT_DETAILED",
            "PLOT_CURVES",
            "TIME_PROGRESS",
        ),
        False,
    )
    ds = trackeval.datasets.Kitti2DBox(
        {"GT_FOLDER": str(gt), "TRACKERS_FOLDER": str(folder / "trackers"), "PRINT_CONFIG": False}
    )
    out, _ = trackeval.Evaluator(quiet).evaluate([ds], [trackeval.metrics.CLEAR()])
    res_all = out["Kitti2DBox"]["ours"]["COMBINED_SEQ"]
    for cls in ("car", "pedestrian"):
        clear = res_all[cls]["CLEAR"]
        if clear["CLR_TP"] + clear["CLR_FN"] > 0:
            assert clear["MOTA"] == pytest.approx(1.0) and clear["IDSW"] == 0
