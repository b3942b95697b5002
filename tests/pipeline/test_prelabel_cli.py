"""`fusionlabel prelabel`: parallel local workers, resume, failures, and Ray on a local instance."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fusionlabel.pipeline.batch import plan_jobs, run_ray

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fusionlabel.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def two_recordings(tmp_path: Path) -> list[Path]:
    a = tmp_path / "in" / "a"
    shutil.copytree(SAMPLE, a)
    b = tmp_path / "in" / "b"
    shutil.copytree(SAMPLE, b)
    return [a, b]


def test_cli_parallel_resume_and_failure(two_recordings: list[Path], tmp_path: Path) -> None:
    broken = tmp_path / "in" / "c"
    shutil.copytree(SAMPLE, broken)
    (broken / "recording.json").write_text("{not json")
    out = tmp_path / "out"
    r = _cli("prelabel", *map(str, [*two_recordings, broken]), "--detector", "geometric", "--out", str(out), "-j", "2")
    assert r.returncode == 2, r.stderr  # one recording failed, the others finished
    assert "2 done, 1 failed, 0 refused" in r.stderr
    assert "recording.json" in r.stderr and "invalid JSON at line 1" in r.stderr
    for name in ("a", "b"):
        rep = json.loads((out / name / "report.json").read_text())
        assert rep["status"] == "ok" and rep["frames"] == 20
    a_labels = (out / "a" / "labels.json").read_bytes()
    assert a_labels == (out / "b" / "labels.json").read_bytes()  # same input, same pre-labels
    # resume: the two done recordings are skipped, the broken one retried (and fails again)
    r2 = _cli("prelabel", *map(str, [*two_recordings, broken]), "--out", str(out))
    assert "resuming: 2 of 3" in r2.stderr and "0 done, 1 failed, 0 refused, 2 skipped" in r2.stderr
    assert (out / "a" / "labels.json").read_bytes() == a_labels


def test_cli_a_missing_recording_fails_alone(two_recordings: list[Path], tmp_path: Path) -> None:
    missing = tmp_path / "in" / "typo"
    out = tmp_path / "out"
    r = _cli("prelabel", str(missing), str(two_recordings[0]), "--detector", "geometric", "--out", str(out))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"failed {missing}: no such file or folder" in r.stderr and "1 done, 1 failed" in r.stderr
    assert json.loads((out / "a" / "report.json").read_text())["status"] == "ok"
    r = _cli("prelabel", str(missing), "--out", str(out))  # nothing to do at all: an error
    assert r.returncode == 1 and str(missing) in r.stderr


def test_cli_a_class_the_detector_lacks_is_a_usage_error(two_recordings: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "o"
    r = _cli("prelabel", str(two_recordings[0]), "--classes", "Car,Carr", "--out", str(out))
    assert r.returncode == 2 and "Carr" in r.stderr and "Traceback" not in r.stderr
    assert not (out / "a").exists()  # a typo tracked nothing and said "done" before


def test_cli_unknown_detector_is_one_line(two_recordings: list[Path], tmp_path: Path) -> None:
    r = _cli("prelabel", str(two_recordings[0]), "--detector", "nope", "--out", str(tmp_path / "o"))
    assert r.returncode == 1 and "Traceback" not in r.stderr and "nope" in r.stderr


def test_ray_local_instance(two_recordings: list[Path], tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'fusionlabel[cluster]'")
    jobs = plan_jobs(two_recordings, tmp_path / "out")
    done = []
    reports = run_ray(
        jobs,
        "geometric",
        "local",
        on_done=lambda j, r: done.append(j.recording),
        init_kwargs={"num_cpus": 2, "object_store_memory": 100 * 1024 * 1024},
    )
    assert [r["status"] for r in reports] == ["ok", "ok"], reports
    assert sorted(done) == sorted(two_recordings)
    for j in jobs:
        assert json.loads((j.out_dir / "report.json").read_text())["tracks"] > 0
