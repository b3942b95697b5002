"""The example plugin package installs with pip, registers through its entry point, runs through
the detector runner on a real KITTI frame, and shows up in ``fusionlabel plugins``.

Installing into the project's own ``.venv`` from a test would leave the plugin behind (and change
what other tests and developers see), so the package is installed with ``pip install --target``
into a temporary folder and put on ``sys.path`` / ``PYTHONPATH``: ``importlib.metadata`` finds its
``*.dist-info/entry_points.txt`` there exactly as in site-packages. The source is copied first, so
the build's ``build/`` and ``*.egg-info`` never land in the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import bev_iou
from fusionlabel.detect import DetectorRunner, create_detector, discover
from fusionlabel.detect.geometric import create as create_geometric

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SRC = REPO / "plugins" / "fusionlabel-example-detector"
VEHICLES = {"Car", "Van", "Truck", "Bus"}


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("plugin")
    src = work / "src"
    shutil.copytree(PLUGIN_SRC, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-q",
        "--target",
        str(target),
        str(src),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert out.returncode == 0, out.stderr
    eps = list(target.glob("fusionlabel_example_detector-*.dist-info/entry_points.txt"))
    assert eps and "example-vehicles = fusionlabel_example_detector:create" in eps[0].read_text()
    return target


@pytest.fixture()
def on_path(installed_plugin: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(installed_plugin))
    return installed_plugin


def test_plugin_runs_through_the_runner_on_a_kitti_frame(on_path: Path, real_data: Path) -> None:
    from fusionlabel.io.kitti import open_kitti_object

    entry = {e.name: e for e in discover()}["example-vehicles"]
    assert entry.distribution == "fusionlabel-example-detector" and entry.version == "0.1.0"
    det = create_detector("example-vehicles", {"range_m": 70.0})
    assert det.info.classes == ("Car", "Van", "Truck", "Bus") and det.info.sensors == ("lidar",)
    rec = open_kitti_object(real_data / "kitti" / "object" / "training")
    frame = rec.frame(0)
    runner = DetectorRunner(det, "example-vehicles", timeout_s=60)
    assert runner.supports_batch
    out = runner.detect(frame, rec.rig)
    assert len(out) > 0 and set(out.classes.tolist()) <= VEHICLES
    assert np.all((out.scores > 0) & (out.scores <= 1))
    # the batched form gives the same result as the single-frame form
    many = runner.detect_many([frame, frame], rec.rig, batch_size=2)
    assert all(r.ok for r in many)
    np.testing.assert_allclose(many[1].detections.boxes.to_array(), out.boxes.to_array())  # type: ignore[union-attr]
    # its cars are the built-in geometric detector's cars (same geometry, wider class map)
    geo = create_geometric(range_m=70.0).detect(frame, rec.rig)
    geo_cars, cars = geo.select(geo.classes == "Car"), out.select(out.classes == "Car")
    if len(geo_cars) and len(cars):
        assert (bev_iou(cars.boxes, geo_cars.boxes).max(axis=1) > 0.5).mean() >= 0.5


def test_plugins_command_lists_the_installed_plugin(installed_plugin: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(installed_plugin), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run(
        [sys.executable, "-m", "fusionlabel.cli", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert out.returncode in (0, 2), out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    row = rows["example-vehicles"]
    assert row["status"] == "ok", row
    assert row["classes"] == ["Car", "Van", "Truck", "Bus"] and row["sensors"] == ["lidar"] and row["device"] == "cpu"
    assert row["distribution"] == "fusionlabel-example-detector"
    assert rows["geometric"]["status"] == "ok"
    # without the install it is not there
    plain = subprocess.run(
        [sys.executable, "-m", "fusionlabel.cli", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert "example-vehicles" not in {r["name"] for r in json.loads(plain.stdout)}
