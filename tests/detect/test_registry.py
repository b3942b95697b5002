"""Discovery through entry points, and every way a plugin can break, reported and skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.calibration import Lidar, Rig
from fusionlabel.core.frames import Frame, PointCloud
from fusionlabel.detect import (
    DetectorRunner,
    PluginImportError,
    PluginOutputError,
    PluginRuntimeError,
    PluginTimeoutError,
    UnknownDetectorError,
    create_detector,
    discover,
    load_detectors,
    run_detectors,
)
from fusionlabel.detect.registry import create_from_entry, find_entry, load_factory

from .conftest import BROKEN_ENTRY_POINTS

RIG = Rig(lidars={"lidar": Lidar("lidar")})
FRAME = Frame(0, 0, {"lidar": PointCloud(np.random.default_rng(0).uniform(-10, 10, (300, 3)))})


def test_builtins_are_registered_through_the_entry_point_group() -> None:
    entries = {e.name: e for e in discover()}
    assert entries["geometric"].value == "fusionlabel.detect.geometric:create"
    assert entries["geometric"].distribution == "fusionlabel"
    assert "pillars" in entries  # registered even before (or while) its module imports
    det = create_detector("geometric")
    assert det.info.name == "geometric" and "Car" in det.info.classes and det.info.device == "cpu"
    with pytest.raises(UnknownDetectorError, match="known: .*geometric"):
        create_detector("no-such-detector")


def test_discovery_imports_nothing(broken_plugins: Path) -> None:
    names = {e.name for e in discover()}
    assert set(BROKEN_ENTRY_POINTS) <= names
    assert "fl_test_broken_import" not in sys.modules and "fl_test_hang_import" not in sys.modules


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("broken-import", "RuntimeError: this plugin is broken on purpose"),
        ("broken-missing-attr", "AttributeError"),
        ("broken-factory-raises", "raised ValueError: weights file missing"),
        ("broken-not-a-detector", "without an 'info' attribute"),
    ],
)
def test_load_failures_are_typed_and_named(broken_plugins: Path, name: str, needle: str) -> None:
    with pytest.raises(PluginImportError) as ei:
        create_detector(name, timeout_s=10)
    assert ei.value.name == name and needle in ei.value.reason
    assert str(ei.value).startswith(f"detector {name!r}: ")


def test_hanging_import_times_out_and_then_fails_fast(broken_plugins: Path) -> None:
    entry = find_entry("broken-hang-import")
    with pytest.raises(PluginImportError, match="import took longer than 0.5 s"):
        load_factory(entry, timeout_s=0.5)
    with pytest.raises(PluginImportError, match="earlier import hung"):
        create_from_entry(entry, timeout_s=0.5)


@pytest.mark.parametrize(
    ("name", "error", "needle"),
    [
        ("bad-raises", PluginRuntimeError, "ZeroDivisionError: division by zero inside the plugin"),
        ("bad-nan", PluginOutputError, "NaN"),
        ("bad-negative-size", PluginOutputError, "sizes must be positive"),
        ("bad-shapes", PluginOutputError, "(N, 7)"),
        ("bad-type", PluginOutputError, "returned list, expected Detections"),
        ("bad-class", PluginOutputError, "Spaceship"),
        ("bad-score", PluginOutputError, "[0, 1]"),
        ("bad-hangs", PluginTimeoutError, "longer than 0.5 s"),
    ],
)
def test_runtime_failures_are_typed_and_named(broken_plugins: Path, name: str, error: type, needle: str) -> None:
    runner = DetectorRunner(create_detector(name), name, timeout_s=0.5)
    with pytest.raises(error) as ei:
        runner.detect(FRAME, RIG)
    assert ei.value.name == name and needle in ei.value.reason


def test_one_broken_plugin_does_not_stop_the_others(broken_plugins: Path) -> None:
    names = ["ok-echo", "broken-import", "bad-raises", "bad-nan", "bad-hangs", "geometric", "broken-factory-raises"]
    runners, load_errors = load_detectors(names, timeout_s=0.5)
    assert list(runners) == ["ok-echo", "bad-raises", "bad-nan", "bad-hangs", "geometric"]
    assert sorted(e.name for e in load_errors) == ["broken-factory-raises", "broken-import"]
    for frame_no in range(2):
        frame = Frame(frame_no, frame_no, FRAME.lidar)
        results, errors = run_detectors(runners, frame, RIG)
        assert set(results) == {"ok-echo", "geometric"}
        assert len(results["ok-echo"]) == 1
        by = {e.name: e for e in errors}
        assert set(by) == {"bad-raises", "bad-nan", "bad-hangs"}
        assert isinstance(by["bad-hangs"], PluginTimeoutError)
        if frame_no == 1:
            assert "disabled" in by["bad-hangs"].reason


def test_batched_plugin_through_the_runner(broken_plugins: Path) -> None:
    runner = DetectorRunner(create_detector("ok-batch"), "ok-batch", timeout_s=5)
    frames = [Frame(i, i, FRAME.lidar) for i in (11, 12, 13, 14)]
    res = runner.detect_many(frames, RIG, batch_size=2)
    assert [r.ok for r in res] == [True, True, True, True]  # the failing batch was redone frame by frame
    assert sys.modules["fl_test_plugins"].Batch.calls == 2


def _env(extra: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(extra), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_plugins_command_lists_every_detector_with_its_status(broken_dist: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fusionlabel.cli", "plugins", "--json", "--timeout", "1"],
        capture_output=True,
        text=True,
        check=False,
        env=_env(broken_dist),
        timeout=120,
    )
    assert out.returncode == 2, out.stderr  # some failed to import
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["geometric"]["status"] == "ok" and rows["geometric"]["sensors"] == ["lidar"]
    assert rows["geometric"]["device"] == "cpu" and "Car" in rows["geometric"]["classes"]
    assert rows["ok-echo"]["status"] == "ok" and rows["ok-echo"]["distribution"] == "broken-fusionlabel-plugins"
    for name in (
        "broken-import",
        "broken-missing-attr",
        "broken-factory-raises",
        "broken-not-a-detector",
        "broken-hang-import",
    ):
        assert rows[name]["status"] == "failed to import" and rows[name]["reason"], name
    assert "broken on purpose" in rows["broken-import"]["reason"]
    # runtime-broken plugins load fine: their problems show when they run
    assert rows["bad-nan"]["status"] == "ok"
    table = subprocess.run(
        [sys.executable, "-m", "fusionlabel.cli", "plugins", "--timeout", "1"],
        capture_output=True,
        text=True,
        check=False,
        env={**_env(broken_dist), "COLUMNS": "200"},
        timeout=120,
    )
    assert table.returncode == 2 and "broken-import" in table.stdout and "broken on purpose" in table.stdout


def test_listing_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from fusionlabel.detect.registry import list_detectors\n"
        "st = list_detectors()\n"
        "print(sorted(s.entry.name for s in st), 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "'geometric'" in out.stdout
    assert out.stdout.strip().endswith("False"), f"listing detectors imported torch: {out.stdout}"
