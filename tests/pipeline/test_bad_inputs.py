"""Bad inputs that used to pass silently or mislead: each is now named by ``info`` and by
``prelabel`` with the same cause (the reliability issue's battery; docs/reliability.md)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

from fusionlabel.core.calibration import Lidar, Rig
from fusionlabel.core.errors import TimeOrderError
from fusionlabel.core.frames import Frame, PointCloud
from fusionlabel.core.recording import Recording, Stream
from fusionlabel.core.transforms import Transform
from fusionlabel.io.native import NativeWriter, open_native
from fusionlabel.io.open import SAMPLE
from fusionlabel.pipeline.batch import prelabel_one
from fusionlabel.pipeline.inspect import check_frames, summarize


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SAMPLE, tmp_path / "rec"))


def _set_lidar_extrinsic(rec: Path, value: object) -> None:
    p = rec / "calib.yaml"
    calib = yaml.safe_load(p.read_text())
    calib["lidars"]["lidar_top"]["T_ego_lidar"] = value
    p.write_text(yaml.safe_dump(calib, sort_keys=False))


def _matrix(R: np.ndarray) -> list[list[float]]:
    m = np.eye(4)
    m[:3, :3] = R
    m[:3, 3] = [0.0, 0.0, 1.3]
    return m.tolist()


@pytest.mark.parametrize(
    ("value", "defect"),
    [
        (_matrix(np.zeros((3, 3))), "rotation is all zeros"),
        (_matrix(2 * np.eye(3)), "scaled by 2"),
        (_matrix(np.diag([1.0, 1.0, -1.0])), "determinant -1"),
        (_matrix(np.eye(3) + 1e-4), "not orthonormal"),
        ([[float("nan")] * 4] * 4, "NaN"),
        ({"rotation": [2.0, 0.0, 0.0, 0.0], "translation": [0, 0, 1.3]}, "norm 2"),
    ],
    ids=["zeros", "scaled-x2", "reflection", "skewed", "nan", "quaternion-x2"],
)
def test_a_broken_lidar_extrinsic_is_named_by_info_and_by_prelabel(
    sample_copy: Path, tmp_path: Path, value: object, defect: str
) -> None:
    _set_lidar_extrinsic(sample_copy, value)
    rec = open_native(sample_copy)
    problems = summarize(rec)["problems"]
    named = [p for p in problems if "calib.yaml" in p and "lidars.lidar_top.T_ego_lidar" in p and defect in p]
    assert named, problems  # the file, the sensor and the defect
    rep = prelabel_one(str(sample_copy), str(tmp_path / "out"), "geometric")
    assert rep["status"] == "failed"
    assert "calib.yaml" in rep["error"] and "lidars.lidar_top.T_ego_lidar" in rep["error"] and defect in rep["error"]
    assert "KeyError" not in rep["error"] and "not in the rig" not in rep["error"]


def test_a_missing_calibration_file_is_the_cause_prelabel_reports(sample_copy: Path, tmp_path: Path) -> None:
    (sample_copy / "calib.yaml").unlink()
    info = summarize(open_native(sample_copy))["problems"]
    assert any("calib.yaml" in p for p in info)
    rep = prelabel_one(str(sample_copy), str(tmp_path / "out"), "geometric")
    assert rep["status"] == "failed" and "calib.yaml" in rep["error"] and "cannot pre-label" in rep["error"]
    assert "KeyError" not in rep["error"]


def test_a_sound_rig_has_no_problems() -> None:
    assert summarize(open_native(SAMPLE), check_frames(open_native(SAMPLE), [0]))["problems"] == []


# -- time order -----------------------------------------------------------------------------------


def _rewrite_reference(rec: Path, edit) -> None:  # type: ignore[no-untyped-def]
    mp = rec / "recording.json"
    m = json.loads(mp.read_text())
    s = m["streams"][m["reference"]]
    n = len(s["timestamps_ns"])
    files = [s["pattern"].format(index=i) for i in range(n)] if "pattern" in s else s["files"]
    s.pop("pattern", None)
    s["timestamps_ns"], s["files"] = edit(list(s["timestamps_ns"]), list(files))
    mp.write_text(json.dumps(m))


def test_frames_out_of_time_order_are_sorted_with_a_warning_and_keep_their_labels(sample_copy: Path) -> None:
    original = open_native(SAMPLE)
    _rewrite_reference(sample_copy, lambda t, f: (t[::-1], f[::-1]))  # the manifest lists them backwards
    rec = open_native(sample_copy)
    assert any("sorted by time" in str(p) and "lidar_top" in str(p) for p in rec.problems)
    assert np.all(np.diff(rec.timestamps_ns) > 0)
    np.testing.assert_array_equal(rec.timestamps_ns, original.timestamps_ns)
    np.testing.assert_array_equal(rec.frame(0).lidar["lidar_top"].xyz, original.frame(0).lidar["lidar_top"].xyz)
    assert rec.labels is not None and original.labels is not None
    assert sorted(rec.labels.frames) == sorted(original.labels.frames)
    for k in original.labels.frames:  # the ground truth follows its frames (by their timestamps)
        np.testing.assert_array_equal(rec.labels.frames[k].track_ids, original.labels.frames[k].track_ids)
    rec.check_time_order()  # tracking may follow the frames now
    assert any("sorted by time" in p for p in summarize(rec)["problems"])


def test_duplicate_frame_timestamps_are_reported_and_tracking_refuses(sample_copy: Path, tmp_path: Path) -> None:
    _rewrite_reference(sample_copy, lambda t, f: (t[:5] + [t[4]] + t[6:], f))
    rec = open_native(sample_copy)
    problems = summarize(rec)["problems"]
    assert any("duplicate timestamp" in p and "samples 4 and 5" in p for p in problems), problems
    with pytest.raises(TimeOrderError, match="not in time order"):
        rec.check_time_order()
    rep = prelabel_one(str(sample_copy), str(tmp_path / "out"), "geometric")
    assert rep["status"] == "failed" and "duplicate timestamp" in rep["error"] and str(sample_copy) in rep["error"]
    assert not (tmp_path / "out" / "labels.json").exists()


@dataclass
class _FileOrderRecording(Recording):
    """A reader that keeps the file's order (as KITTI raw does with its timestamps.txt)."""

    calls: list[int] = field(default_factory=list)

    def _load_frame(self, index: int) -> Frame:
        self.calls.append(index)
        return Frame(index, int(self.timestamps_ns[index]), {"lidar": PointCloud(np.zeros((0, 3), np.float32))})


def test_a_reader_that_keeps_file_order_is_reported_and_refused_by_tracking(tmp_path: Path) -> None:
    from fusionlabel.pipeline.prelabel import prelabel

    t = np.array([0, 200, 100, 300], np.int64)
    rec = _FileOrderRecording(
        tmp_path,
        "test",
        Rig(lidars={"lidar": Lidar("lidar", Transform.identity())}),
        {"lidar": Stream("lidar", "lidar", t)},
        "lidar",
    )
    why = [str(p) for p in rec.time_order_problems()]
    assert len(why) == 1 and "sample 2 at 100 ns after sample 1 at 200 ns" in why[0] and "reference" in why[0]
    with pytest.raises(TimeOrderError, match="earlier than the one before"):
        prelabel(rec, "geometric")
    assert rec.calls == []  # refused before any frame was read


# -- empty clouds --------------------------------------------------------------------------------


def test_a_frame_with_an_empty_cloud_is_a_valid_frame(tmp_path: Path) -> None:
    w = NativeWriter(tmp_path / "empty", Rig(lidars={"lidar": Lidar("lidar")}), reference="lidar")
    w.add_lidar("lidar", 1_000_000_000, PointCloud(np.zeros((0, 3), np.float32)))
    rep = prelabel_one(str(w.finish()), str(tmp_path / "out"), "geometric")
    assert rep["status"] == "ok", rep
    assert rep["frames"] == 1 and rep["failed_frames"] == [] and rep["tracks"] == 0
