"""`prelabel` never costs an annotator work: configuration changes and touched labels are refused
without --overwrite, backed up with it; a run never writes over a save made meanwhile; any length
and any failing class is survived; the review budget per class is honoured."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.edits import accept, box_state, set_box
from fusionlabel.io.native import open_native
from fusionlabel.io.native_labels import read_labels, write_labels
from fusionlabel.io.review_file import read_review
from fusionlabel.pipeline import prelabel
from fusionlabel.pipeline.batch import Job, expected_config, output_status, prelabel_one
from fusionlabel.track import TrackerConfig
from tests.pipeline.test_prelabel import SAMPLE, OracleDetector


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fusionlabel.cli", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished geometric pre-label of the sample (module-wide; tests copy it)."""
    out = tmp_path_factory.mktemp("done")
    rep = prelabel_one(str(SAMPLE), str(out / "synth_seed0"), "geometric")
    assert rep["status"] == "ok", rep
    return out / "synth_seed0"


def _copy(done: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "out" / "synth_seed0"
    shutil.copytree(done, dst)
    return dst


def _edit(out: Path) -> bytes:
    """An annotator moves a box and accepts a frame, then saves."""
    lp = out / "labels.json"
    labels = read_labels(lp)
    k = sorted(labels.frames)[0]
    fl = labels.get(k)
    tid = int(fl.track_ids[0])
    labels = set_box(labels, k, tid, Boxes.from_array(fl.boxes.to_array()[:1] + [[0.5, 0, 0, 0, 0, 0, 0]]))
    labels = accept(labels, sorted(labels.frames)[1])
    write_labels(labels, lp)
    return lp.read_bytes()


def test_same_configuration_resumes_other_configurations_are_refused(done: Path, tmp_path: Path) -> None:
    out = _copy(done, tmp_path)
    job = Job(SAMPLE, out)
    assert output_status(job, expected_config("geometric")).action == "skip"
    for cfg, what in (
        (expected_config("pillars"), "detector geometric"),
        (expected_config("geometric", ["Car"]), "classes"),
        (expected_config("geometric", None, "cam_front"), "view"),
    ):
        st = output_status(job, cfg)
        assert st.action == "refuse" and what in st.reason and "--overwrite" in st.reason, st
        assert output_status(job, cfg, overwrite=True).action == "run"
    # the CLI: a changed detector or --classes is refused with the reason, exit 2, nothing touched
    before = (out / "labels.json").read_bytes()
    r = _cli("prelabel", str(SAMPLE), "--detector", "pillars", "--out", str(out.parent))
    assert r.returncode == 2 and "pre-labelled with another configuration" in r.stderr and "pillars" in r.stderr
    r = _cli("prelabel", str(SAMPLE), "--detector", "geometric", "--classes", "Car", "--out", str(out.parent))
    assert r.returncode == 2 and "classes" in r.stderr and "1 refused" in r.stderr
    assert (out / "labels.json").read_bytes() == before


def test_touched_labels_are_refused_then_backed_up_with_overwrite(done: Path, tmp_path: Path) -> None:
    out = _copy(done, tmp_path)
    edited = _edit(out)
    job = Job(SAMPLE, out)
    # same configuration: still "done" (the annotator's labels are the result now)
    assert output_status(job, expected_config("geometric")).action == "skip"
    st = output_status(job, expected_config("geometric", None, "cam_front"))
    assert st.action == "refuse" and "annotator's work" in st.reason
    r = _cli("prelabel", str(SAMPLE), "--detector", "geometric", "--view", "cam_front", "--out", str(out.parent))
    assert r.returncode == 2 and "annotator's work" in r.stderr
    assert (out / "labels.json").read_bytes() == edited
    # --overwrite redoes it and keeps the edited files
    r = _cli(
        "prelabel",
        str(SAMPLE),
        "--detector",
        "geometric",
        "--view",
        "cam_front",
        "--overwrite",
        "--out",
        str(out.parent),
    )
    assert r.returncode == 0, r.stderr
    assert "backed up" in r.stderr
    backups = list((out / "backups").iterdir())
    assert len(backups) == 1 and (backups[0] / "labels.json").read_bytes() == edited
    assert (backups[0] / "labels.review.json").exists() and (backups[0] / "report.json").exists()
    new = read_labels(out / "labels.json")
    assert {box_state(a) for fl in new.frames.values() for a in fl.attributes} == {"proposed"}
    assert json.loads((out / "report.json").read_text())["view"] == "cam_front"


def test_resolved_frames_and_unsaved_sessions_count_as_touched(done: Path, tmp_path: Path) -> None:
    from fusionlabel.io import session as S

    out = _copy(done, tmp_path)
    lp = out / "labels.json"
    st = S.load(lp)
    assert st.review is not None and st.review.frames
    S.save(S.resolve(st, st.review.frames[0], user="ann"), lp)
    s2 = output_status(Job(SAMPLE, out), expected_config("geometric", ["Car"]))
    assert s2.action == "refuse" and "resolved" in s2.reason
    out2 = _copy(done, tmp_path / "b")
    S.write_autosave(S.load(out2 / "labels.json"), out2 / "labels.json")
    s3 = output_status(Job(SAMPLE, out2), expected_config("geometric", ["Car"]))
    assert s3.action == "refuse" and "unsaved work" in s3.reason


def test_another_recordings_output_is_never_overwritten(done: Path, tmp_path: Path) -> None:
    out = _copy(done, tmp_path)
    other = tmp_path / "elsewhere" / "synth_seed0"  # same folder name, another recording
    shutil.copytree(SAMPLE, other)
    for overwrite in (False, True):
        st = output_status(Job(other, out), expected_config("geometric"), overwrite)
        assert st.action == "refuse" and "another recording" in st.reason and str(out / "labels.json") in st.reason


def test_a_save_during_the_run_is_never_overwritten(done: Path, tmp_path: Path) -> None:
    out = _copy(done, tmp_path)
    saved: list[bytes] = []

    def annotator_saves(k: int, n: int) -> None:
        if k == 5 and not saved:
            saved.append(_edit(out))

    rep = prelabel_one(str(SAMPLE), str(out), "geometric", progress=annotator_saves, overwrite=True)
    assert rep["status"] == "failed" and "changed on disk while" in rep["error"]
    assert (out / "labels.json").read_bytes() == saved[0]
    # the report of the labels that are there stays; the failure is recorded beside it
    assert json.loads((out / "report.json").read_text())["status"] == "ok"
    assert json.loads((out / "last_failure.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("frames", [1, 2])
def test_recordings_of_one_and_two_frames_get_prelabels(tmp_path: Path, frames: int) -> None:
    from fusionlabel.synth.generate import generate

    rec = generate(tmp_path / f"rec{frames}", frames=frames, seed=5)
    rep = prelabel_one(str(rec), str(tmp_path / "out"), "geometric")
    assert rep["status"] == "ok" and rep["frames"] == frames and rep["tracks"] > 0, rep
    labels = read_labels(tmp_path / "out" / "labels.json")
    assert set(labels.frames) <= set(range(frames)) and labels.num_boxes > 0
    assert read_review(tmp_path / "out" / "labels.review.json").queue.num_frames == frames


def test_a_failing_class_does_not_sink_the_others() -> None:
    rec = open_native(SAMPLE)
    det = OracleDetector(rec.labels)
    cfgs = {
        "Car": TrackerConfig.for_class("Car"),
        "Pedestrian": TrackerConfig(metric="no-such-metric"),
        "Cyclist": TrackerConfig.for_class("Cyclist"),
    }
    res = prelabel(rec, det, tracker_config=cfgs)
    assert len(res.report.failed_classes) == 1 and res.report.failed_classes[0].startswith("Pedestrian:")
    cats = {c for fl in res.labels.frames.values() for c in fl.categories}
    assert "Car" in cats and "Pedestrian" not in cats


def test_the_review_budget_of_each_class_is_used() -> None:
    rec = open_native(SAMPLE)
    det = OracleDetector(rec.labels, drop=0.3, sigma=0.3)
    wide = prelabel(
        rec,
        det,
        tracker_config={c: TrackerConfig.for_class(c, review_fraction=0.3) for c in ("Car", "Pedestrian", "Cyclist")},
    )
    narrow = prelabel(
        rec,
        det,
        tracker_config={c: TrackerConfig.for_class(c, review_fraction=0.05) for c in ("Car", "Pedestrian", "Cyclist")},
    )
    assert narrow.review.max_fraction == 0.05 and wide.review.max_fraction == 0.3
    assert len(narrow.review.items) <= 1 < len(wide.review.items) <= 6
    # every queued frame carries the digest of its proposed boxes
    assert all(it.digest is not None for it in wide.review.items)
    assert {box_state(a) for fl in wide.labels.frames.values() for a in fl.attributes} == {"proposed"}


def test_labels_open_in_a_window_are_refused_even_with_overwrite(done: Path, tmp_path: Path) -> None:
    from fusionlabel.io import session as S

    out = _copy(done, tmp_path)
    lp = out / "labels.json"
    before = lp.read_bytes()
    claim = S.EditClaim.take(lp)  # a window has the label file open
    try:
        for overwrite in (False, True):
            rep = prelabel_one(str(SAMPLE), str(out), "geometric", overwrite=overwrite)
            assert rep["status"] == "refused", rep
            assert (
                str(lp) in rep["error"] and "open for editing" in rep["error"] and f"pid {os.getpid()}" in rep["error"]
            )
            assert lp.read_bytes() == before and not (out / "backups").exists()
    finally:
        claim.release()
    rep = prelabel_one(str(SAMPLE), str(out), "geometric", overwrite=True)  # the window closed
    assert rep["status"] == "ok", rep


def test_a_window_opened_during_the_run_is_never_written_under(
    done: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window opens after the run's check of the output (the check under the label file's
    lock, right before writing, is the one that sees it)."""
    import fusionlabel.pipeline.batch as B
    from fusionlabel.io import session as S

    real = B.output_status

    def window_opens_just_after(job: Job, config: object, overwrite: bool = False) -> object:
        with monkeypatch.context() as m:
            m.setattr(S, "editing_elsewhere", lambda p: None)
            return real(job, config, overwrite)  # type: ignore[arg-type]

    monkeypatch.setattr(B, "output_status", window_opens_just_after)
    out = _copy(done, tmp_path)
    lp = out / "labels.json"
    before = lp.read_bytes()
    claims: list[S.EditClaim] = []

    def annotator_opens(k: int, n: int) -> None:
        if k == 5 and not claims:
            claims.append(S.EditClaim.take(lp))

    try:
        rep = prelabel_one(str(SAMPLE), str(out), "geometric", progress=annotator_opens, overwrite=True)
    finally:
        for c in claims:
            c.release()
    assert rep["status"] == "refused" and "during the run" in rep["error"] and str(lp) in rep["error"]
    assert lp.read_bytes() == before and not (out / "backups").exists()
