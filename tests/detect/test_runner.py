"""The runner: deadlines, typed errors, output checks, batching; and the plugin-facing value types."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Lidar, Rig
from fusionlabel.core.frames import Frame, PointCloud
from fusionlabel.core.transforms import Transform
from fusionlabel.detect import (
    Detections,
    DetectorInfo,
    DetectorInputError,
    DetectorRunner,
    PluginImportError,
    PluginOutputError,
    PluginRuntimeError,
    PluginTimeoutError,
    lidar_points_ego,
    validate_detections,
)
from fusionlabel.detect.deadline import CallTimedOut, call_with_deadline

RIG = Rig(lidars={"top": Lidar("top", Transform.from_rt(np.eye(3), [1.0, 0.0, 2.0]))})


def _frame(index: int = 0) -> Frame:
    xyz = np.random.default_rng(index).uniform(-20, 20, (500, 3)).astype(np.float32)
    return Frame(index, index * 100_000_000, {"top": PointCloud(xyz, {"intensity": np.ones(500, np.float32)}, "top")})


class _Fn:
    """A detector whose detect is a given function."""

    def __init__(self, fn, classes=("Car",), sensors=("lidar",)) -> None:
        self.info = DetectorInfo("fn", classes, sensors, "cpu")
        self.fn = fn

    def detect(self, frame: Frame, rig: Rig) -> object:
        return self.fn(frame)


def test_detections_validates_its_arrays() -> None:
    d = Detections.from_arrays(
        [[1, 2, 0.5, 4, 2, 1.5, 0.1], [5, 0, 0.5, 0.6, 0.6, 1.8, 0]], [0.9, 0.4], ["Car", "Pedestrian"]
    )
    assert d.classes.tolist() == ["Car", "Pedestrian"] and d.scores.dtype == np.float64
    assert len(d.select(d.classes == "Car")) == 1
    assert not d.scores.flags.writeable
    fl = d.to_frame_labels(source="geometric")
    assert fl.categories == ("Car", "Pedestrian") and fl.attributes[0]["source"] == "geometric"
    with pytest.raises(ValueError, match="scores"):
        Detections(d.boxes, np.array([0.5]), d.classes)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Detections(d.boxes, np.array([0.5, 1.5]), d.classes)
    with pytest.raises(ValueError, match="classes"):
        Detections(d.boxes, d.scores, ["Car"])
    with pytest.raises(ValueError, match="one string"):
        Detections(d.boxes[0], d.scores[:1], "Car")
    with pytest.raises(ValueError, match=r"\(N, 7\)"):
        Detections.from_arrays(np.zeros((2, 6)), [0.1, 0.2], ["Car", "Car"])
    assert len(Detections.empty()) == 0 and len(Detections.from_arrays(np.zeros((0, 7)), [], [])) == 0


def test_validate_detections_names_the_detector_and_the_problem() -> None:
    good = {"boxes": [[10, 0, 0, 4, 2, 1.5, 0]], "scores": [0.5], "classes": ["Car"]}
    assert len(validate_detections("x", good, ("Car",))) == 1
    cases = {
        "NaN": {**good, "boxes": [[np.nan, 0, 0, 4, 2, 1.5, 0]]},
        "positive": {**good, "boxes": [[10, 0, 0, 4, -2, 1.5, 0]]},
        "shape": {**good, "scores": [0.5, 0.1]},
        "expected Detections": [1, 2, 3],
        "lacks": {"boxes": good["boxes"]},
        "not declared": {**good, "classes": ["Tank"]},
    }
    for needle, out in cases.items():
        with pytest.raises(PluginOutputError, match=needle) as ei:
            validate_detections("my-det", out, ("Car",))
        assert ei.value.name == "my-det" and str(ei.value).startswith("detector 'my-det': malformed output")


def test_detector_info_rejects_bad_declarations() -> None:
    with pytest.raises(ValueError, match="sensor"):
        DetectorInfo("x", ("Car",), ("sonar",))
    with pytest.raises(ValueError, match="classes"):
        DetectorInfo("x", ())
    assert DetectorInfo("x", "Car").classes == ("Car",)


def test_lidar_points_ego_applies_the_extrinsic() -> None:
    f = _frame()
    ego = lidar_points_ego(f, RIG)
    assert ego.frame_id == "ego" and ego.xyz.dtype == np.float32
    np.testing.assert_allclose(ego.xyz, f.lidar["top"].xyz + np.array([1.0, 0.0, 2.0], np.float32), atol=1e-5)
    assert ego.intensity is not None and len(ego.intensity) == 500
    with pytest.raises(KeyError, match="not in the rig"):
        lidar_points_ego(f, Rig())


def test_call_with_deadline() -> None:
    assert call_with_deadline(lambda a, b=0: a + b, 1.0, 2, b=3) == 5
    with pytest.raises(KeyError):
        call_with_deadline({}.__getitem__, 1.0, "x")
    with pytest.raises(CallTimedOut) as ei:  # it returns without waiting for the 5 s sleep
        call_with_deadline(time.sleep, 0.2, 5.0)  # the sleeping daemon thread is left behind
    assert ei.value.timeout_s == 0.2


def test_runner_good_detector() -> None:
    r = DetectorRunner(
        _Fn(lambda f: Detections.from_arrays([[1, 1, 1, 4, 2, 1.5, 0]], [0.7], ["Car"])), "good", timeout_s=5
    )
    d = r.detect(_frame(), RIG)
    assert len(d) == 1 and r.disabled is None and not r.supports_batch


def test_runner_reports_raise_and_continues() -> None:
    calls: list[int] = []

    def fn(f: Frame) -> Detections:
        calls.append(f.index)
        if f.index == 1:
            raise SystemExit(3)  # even SystemExit from a plugin must not stop us
        return Detections.empty()

    r = DetectorRunner(_Fn(fn), "flaky", timeout_s=5)
    res = r.detect_many([_frame(0), _frame(1), _frame(2)], RIG)
    assert [x.ok for x in res] == [True, False, True]
    err = res[1].error
    assert isinstance(err, PluginRuntimeError) and err.name == "flaky"
    assert "SystemExit" in err.reason and "frame 1" in err.reason
    assert calls == [0, 1, 2]


def test_runner_timeout_disables_the_detector() -> None:
    import threading

    release = threading.Event()
    calls: list[int] = []

    def slow(f: Frame) -> Detections:
        calls.append(f.index)
        release.wait(30)
        return Detections.empty()

    r = DetectorRunner(_Fn(slow), "slow", timeout_s=0.3)
    try:
        with pytest.raises(PluginTimeoutError, match="longer than 0.3 s") as ei:
            r.detect(_frame(), RIG)
        assert not release.is_set()  # it gave up on the call, which is still waiting
        assert ei.value.name == "slow" and r.disabled is ei.value
        # later calls fail at once, without calling the detector again
        res = r.detect_many([_frame(1), _frame(2)], RIG)
        assert all(isinstance(x.error, PluginTimeoutError) for x in res) and calls == [0]
    finally:
        release.set()


def test_runner_malformed_output_and_missing_sensor() -> None:
    r = DetectorRunner(
        _Fn(lambda f: {"boxes": np.zeros((1, 7)), "scores": [1.0], "classes": ["Car"]}), "zero", timeout_s=5
    )
    with pytest.raises(PluginOutputError, match="positive"):
        r.detect(_frame(), RIG)
    cam = DetectorRunner(_Fn(lambda f: Detections.empty(), sensors=("camera",)), "cam", timeout_s=5)
    with pytest.raises(DetectorInputError, match="no camera data"):
        cam.detect(_frame(), RIG)


def test_runner_rejects_non_detectors() -> None:
    class NoInfo:
        def detect(self, frame: Frame, rig: Rig) -> Detections:
            return Detections.empty()

    with pytest.raises(PluginImportError, match="without an .info. attribute"):
        DetectorRunner(NoInfo(), "noinfo")  # type: ignore[arg-type]


def test_runner_batches_and_falls_back_frame_by_frame() -> None:
    class B(_Fn):
        batches = 0

        def detect_batch(self, frames, rig):
            B.batches += 1
            if any(f.index == 3 for f in frames):
                raise RuntimeError("bad frame in batch")
            return [self.detect(f, rig) for f in frames]

    def fn(f: Frame) -> Detections:
        if f.index == 3:
            raise RuntimeError("frame 3 is bad")
        return Detections.from_arrays([[f.index, 0, 0, 4, 2, 1.5, 0]], [0.5], ["Car"])

    r = DetectorRunner(B(fn), "batchy", timeout_s=5)
    assert r.supports_batch
    res = r.detect_many([_frame(i) for i in range(6)], RIG, batch_size=2)
    assert [x.index for x in res] == list(range(6))
    assert [x.ok for x in res] == [True, True, True, False, True, True]
    assert res[5].detections is not None and res[5].detections.boxes.center[0, 0] == 5
    assert "frame 3" in res[3].error.reason  # type: ignore[union-attr]
    assert B.batches == 3

    class Short(B):
        def detect_batch(self, frames, rig):
            return [Detections.empty()]

    res = DetectorRunner(Short(fn), "short", timeout_s=5).detect_many([_frame(0), _frame(1)], RIG, batch_size=2)
    assert all(isinstance(x.error, PluginOutputError) and "1 results for 2 frames" in x.error.reason for x in res)


def test_boxes_in_detections_are_ego_frame_boxes() -> None:
    b = Boxes.from_array([[10, 0, 0.8, 4, 1.8, 1.5, 0.2]])
    d = Detections(b, np.array([0.3]), np.array(["Car"]))
    assert d.boxes is b
