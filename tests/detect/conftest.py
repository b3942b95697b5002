"""Fixtures for the detector tests: a fake installed distribution full of broken plugins.

``importlib.metadata`` finds distributions through ``*.dist-info`` folders on ``sys.path``, so a
temporary folder holding ``broken_fusionlabel_plugins-0.0.dist-info/entry_points.txt`` and the
plugin modules, put on ``sys.path`` (or ``PYTHONPATH`` for a subprocess), registers them exactly
as ``pip install`` would.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

BROKEN_ENTRY_POINTS = {
    "broken-import": "fl_test_broken_import:create",
    "broken-missing-attr": "fl_test_plugins:no_such_factory",
    "broken-factory-raises": "fl_test_plugins:create_factory_raises",
    "broken-not-a-detector": "fl_test_plugins:create_not_a_detector",
    "broken-hang-import": "fl_test_hang_import:create",
    "ok-echo": "fl_test_plugins:create_echo",
    "ok-batch": "fl_test_plugins:create_batch",
    "bad-raises": "fl_test_plugins:create_raises",
    "bad-hangs": "fl_test_plugins:create_hangs",
    "bad-exits": "fl_test_plugins:create_exits",
    "bad-nan": "fl_test_plugins:create_nan",
    "bad-negative-size": "fl_test_plugins:create_negative",
    "bad-shapes": "fl_test_plugins:create_shapes",
    "bad-type": "fl_test_plugins:create_wrong_type",
    "bad-class": "fl_test_plugins:create_undeclared_class",
    "bad-score": "fl_test_plugins:create_bad_score",
}

PLUGINS_MODULE = '''
"""Deliberately broken (and two working) detector plugins for FusionLabel's tests."""
import threading
import numpy as np
from fusionlabel.detect.api import Detections, DetectorInfo
from fusionlabel.core.points import lidar_points_ego

RELEASE = threading.Event()   # set at teardown: lets hung calls return


class _Base:
    classes = ("Car",)

    def __init__(self, name):
        self.info = DetectorInfo(name, self.classes, ("lidar",), "cpu")

    def _one_box(self, frame, rig):
        xyz = lidar_points_ego(frame, rig).xyz
        c = xyz.mean(axis=0)
        return [[float(c[0]), float(c[1]), float(c[2]), 4.0, 1.8, 1.5, 0.0]]


class Echo(_Base):
    """A real, trivial detector: one box at the centroid of the points."""

    def detect(self, frame, rig):
        return Detections.from_arrays(self._one_box(frame, rig), [0.5], ["Car"])


class Batch(Echo):
    calls = 0

    def detect_batch(self, frames, rig):
        Batch.calls += 1
        if any(f.index == 13 for f in frames):
            raise RuntimeError("frame 13 breaks the batch")
        return [self.detect(f, rig) for f in frames]


class Raises(_Base):
    def detect(self, frame, rig):
        raise ZeroDivisionError("division by zero inside the plugin")


class Hangs(_Base):
    def detect(self, frame, rig):
        RELEASE.wait(120)
        return Detections.empty()


class Exits(_Base):
    """Takes its whole process down (a segfault in a C extension would do the same)."""

    def detect(self, frame, rig):
        import os
        os._exit(3)


class Nan(_Base):
    def detect(self, frame, rig):
        return {"boxes": [[np.nan, 0, 0, 4, 2, 1.5, 0]], "scores": [0.5], "classes": ["Car"]}


class Negative(_Base):
    def detect(self, frame, rig):
        return {"boxes": [[10, 0, 0, 4, -2, 1.5, 0]], "scores": [0.5], "classes": ["Car"]}


class Shapes(_Base):
    def detect(self, frame, rig):
        return {"boxes": np.zeros((2, 6)), "scores": [0.5, 0.5], "classes": ["Car", "Car"]}


class WrongType(_Base):
    def detect(self, frame, rig):
        return [(10, 0, 0, 4, 2, 1.5, 0)]


class Undeclared(_Base):
    def detect(self, frame, rig):
        return Detections.from_arrays(self._one_box(frame, rig), [0.5], ["Spaceship"])


class BadScore(_Base):
    def detect(self, frame, rig):
        return {"boxes": self._one_box(frame, rig), "scores": [7.0], "classes": ["Car"]}


def create_echo(**kw): return Echo("ok-echo")
def create_batch(**kw): return Batch("ok-batch")
def create_raises(**kw): return Raises("bad-raises")
def create_hangs(**kw): return Hangs("bad-hangs")
def create_exits(**kw): return Exits("bad-exits")
def create_nan(**kw): return Nan("bad-nan")
def create_negative(**kw): return Negative("bad-negative-size")
def create_shapes(**kw): return Shapes("bad-shapes")
def create_wrong_type(**kw): return WrongType("bad-type")
def create_undeclared_class(**kw): return Undeclared("bad-class")
def create_bad_score(**kw): return BadScore("bad-score")
def create_factory_raises(**kw): raise ValueError("weights file missing")
def create_not_a_detector(**kw): return object()
'''


@pytest.fixture(scope="session")
def broken_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder that, on ``sys.path``, installs the broken plugins; returns its path."""
    root = tmp_path_factory.mktemp("fake_site")
    info = root / "broken_fusionlabel_plugins-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-fusionlabel-plugins\nVersion: 0.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in BROKEN_ENTRY_POINTS.items())
    (info / "entry_points.txt").write_text(f"[fusionlabel.detectors]\n{lines}\n")
    (root / "fl_test_plugins.py").write_text(PLUGINS_MODULE)
    (root / "fl_test_broken_import.py").write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    (root / "fl_test_hang_import.py").write_text(
        textwrap.dedent(
            """
            import fl_test_plugins
            fl_test_plugins.RELEASE.wait(120)
            def create(**kw):
                return fl_test_plugins.Echo("broken-hang-import")
            """
        )
    )
    return root


@pytest.fixture()
def broken_plugins(broken_dist: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The broken plugins registered in this process (``sys.path``) for one test."""
    monkeypatch.syspath_prepend(str(broken_dist))
    yield broken_dist


@pytest.fixture(scope="session", autouse=True)
def _release_hung_plugins() -> Iterator[None]:
    yield
    mod = sys.modules.get("fl_test_plugins")
    if mod is not None:
        mod.RELEASE.set()
