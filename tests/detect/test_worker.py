"""A detector given by name runs in a worker process: a hang kills that process (nothing leaks),
disables the detector for the rest of the run (its timeout is paid once), and ``--timeout``
sets the limit from the command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.detect.errors import PluginRuntimeError, PluginTimeoutError
from fusionlabel.detect.registry import create_detector
from fusionlabel.detect.runner import DetectorRunner
from fusionlabel.io.open import SAMPLE, open_recording
from fusionlabel.pipeline.batch import Job, run_local


def _children() -> set[int]:
    """Live child processes of this one (Linux /proc), zombies and multiprocessing's own
    resource tracker (started once, on the first worker) excluded."""
    me, out = os.getpid(), set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == me and fields[0] != "Z":
                try:
                    if b"resource_tracker" in (d / "cmdline").read_bytes():
                        continue
                except OSError:
                    continue
                out.add(int(d.name))
    return out


@pytest.fixture(scope="module")
def rec():  # type: ignore[no-untyped-def]
    return open_recording(SAMPLE)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="counts child processes through /proc (Linux)")
def test_a_hung_detector_is_killed_disabled_and_leaves_nothing_running(broken_plugins: Path, rec) -> None:  # type: ignore[no-untyped-def]
    before = _children()
    runner = DetectorRunner.isolated("bad-hangs", timeout_s=0.5)
    assert runner.process is not None
    with pytest.raises(PluginTimeoutError, match=r"took longer than 0.5 s.*worker process was killed"):
        runner.detect(rec.frame(0), rec.rig)
    assert runner.disabled is not None and runner.process.pid is None
    assert _children() == before  # the worker was killed and reaped: no thread, no process left
    with pytest.raises(PluginTimeoutError):  # disabled: fails at once, starts nothing
        runner.detect(rec.frame(1), rec.rig)
    assert runner.process.starts == 1 and _children() == before


def test_the_batch_pays_a_hang_once_and_leaves_out_the_rest(broken_plugins: Path, tmp_path: Path) -> None:
    other = shutil.copytree(SAMPLE, tmp_path / "second")
    jobs = [Job(SAMPLE, tmp_path / "out" / "a"), Job(other, tmp_path / "out" / "b")]
    reports = run_local(jobs, "bad-hangs", workers=1, timeout_s=0.5)
    assert [r["status"] for r in reports] == ["failed", "failed"]
    assert all(r.get("detector_disabled") for r in reports)
    assert "took longer than 0.5 s" in reports[0]["error"]
    assert "disabled earlier in this run" in reports[1]["error"]  # not run again: no second timeout
    assert not (tmp_path / "out" / "a" / "labels.json").exists()


def test_prelabel_timeout_option_on_the_command_line(broken_dist: Path, tmp_path: Path) -> None:
    other = shutil.copytree(SAMPLE, tmp_path / "second")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(broken_dist), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "fusionlabel", "prelabel", str(SAMPLE), str(other)]
    cmd += ["--detector", "bad-hangs", "--timeout", "0.5", "--out", str(tmp_path / "out"), "-j", "1"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "took longer than 0.5 s" in p.stderr and "disabled earlier in this run" in p.stderr
    assert "0 done, 2 failed" in p.stderr


def test_a_raising_detector_in_its_worker_reads_as_in_a_thread(broken_plugins: Path, rec) -> None:  # type: ignore[no-untyped-def]
    with DetectorRunner.isolated("bad-raises", timeout_s=30) as runner:
        with pytest.raises(
            PluginRuntimeError, match="detect raised ZeroDivisionError: division by zero inside the plugin"
        ):
            runner.detect(rec.frame(0), rec.rig)
        assert runner.disabled is None


def test_a_worker_that_dies_is_reported_and_started_again(broken_plugins: Path, rec) -> None:  # type: ignore[no-untyped-def]
    with DetectorRunner.isolated("bad-exits", timeout_s=30) as runner:
        for k in range(2):
            with pytest.raises(PluginRuntimeError, match="worker process died .*exit code 3"):
                runner.detect(rec.frame(k), rec.rig)
        assert runner.process is not None and runner.process.starts == 2 and runner.disabled is None


def test_isolation_does_not_change_the_detections(rec) -> None:  # type: ignore[no-untyped-def]
    inline = DetectorRunner(create_detector("geometric"), "geometric", timeout_s=None).detect(rec.frame(3), rec.rig)
    with DetectorRunner.isolated("geometric", timeout_s=60) as runner:
        isolated = runner.detect(rec.frame(3), rec.rig)
    assert len(isolated) == len(inline) > 0
    np.testing.assert_array_equal(isolated.boxes.to_array(), inline.boxes.to_array())
    assert list(isolated.classes) == list(inline.classes)


def test_an_empty_cloud_is_not_sent_to_the_detector(rec) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from fusionlabel.core.frames import PointCloud

    calls = []

    class Spy:
        info = create_detector("geometric").info

        def detect(self, frame, rig):  # type: ignore[no-untyped-def]
            calls.append(frame.index)
            raise AssertionError("not called for an empty sweep")

    empty = replace(rec.frame(0), lidar={"lidar_top": PointCloud(np.zeros((0, 3), np.float32))}, images={})
    out = DetectorRunner(Spy(), "spy", timeout_s=5).detect_many([empty], rec.rig)
    assert out[0].ok and len(out[0].detections) == 0 and calls == []
