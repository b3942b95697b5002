"""`fusionlabel info`: report on real recordings, exit codes, one-line errors on broken input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess (exit status, stdout and stderr as a user sees them)."""
    return subprocess.run([sys.executable, "-m", "fusionlabel.cli", *args], capture_output=True, text=True, timeout=120)


def test_info_json_on_native_recording(tiny_native: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tiny_native), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["format"] == "native" and s["frames"] == 4 and s["reference"] == "lidar"
    assert s["rate_hz"] == pytest.approx(10.0)
    assert s["duration_s"] == pytest.approx(0.3)
    cam = next(st for st in s["streams"] if st["name"] == "cam")
    # the camera runs 4 ms late and misses frame 2: reported, not hidden
    assert cam["sync"] == {
        "matched_frames": 3,
        "unmatched_frames": 1,
        "unused_samples": 0,
        "max_offset_ms": 4.0,
        "mean_offset_ms": 4.0,
    }
    assert s["calibration"]["cam"]["image_size"] == [64, 48]
    assert s["labels"]["tracks"] == 1 and s["problems"] == []


def test_info_reports_broken_frames_and_the_rest(tiny_native: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lidar = tiny_native / "lidar" / "lidar" / "000001.bin"
    lidar.write_bytes(lidar.read_bytes()[:-6])  # truncated
    img = tiny_native / "camera" / "cam" / "000000.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert main(["info", str(tiny_native), "--json"]) == 2
    s = json.loads(capsys.readouterr().out)
    assert s["frames"] == 4 and s["labels"]["tracks"] == 1  # the rest is still reported
    assert any((p.startswith(str(lidar)) and "truncated" in p.lower()) or str(lidar) in p for p in s["problems"])
    assert any(str(img) in p and "decode" in p for p in s["problems"])
    assert len(s["problems"]) == 2


def test_info_missing_calibration_key_is_a_problem(tiny_native: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calib = tiny_native / "calib.yaml"
    calib.write_text(calib.read_text().replace("width:", "wdth:"))
    assert main(["info", str(tiny_native), "--json"]) == 2
    s = json.loads(capsys.readouterr().out)
    assert s["frames"] == 4
    assert len(s["problems"]) == 1 and str(calib) in s["problems"][0] and "width" in s["problems"][0]


def test_info_unreadable_input_is_one_line_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "cloud.bin"
    bad.write_bytes(b"\x00" * 10)
    r = run_cli("info", str(bad))
    assert r.returncode in (1, 2)
    err = r.stderr.strip() or r.stdout.strip()
    assert "Traceback" not in r.stderr
    assert str(bad) in err
    r = run_cli("info", str(tmp_path / "nope"))
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("error: ") and "no such file" in r.stderr
    (tmp_path / "x.txt").write_text("hello")
    r = run_cli("info", str(tmp_path / "x.txt"))
    assert r.returncode == 1 and "Traceback" not in r.stderr and "x.txt" in r.stderr


def test_manifest_escaping_its_folder_is_refused(tiny_native: Path) -> None:
    m = tiny_native / "recording.json"
    d = json.loads(m.read_text())
    d["calibration"] = "../../etc/passwd"
    m.write_text(json.dumps(d))
    r = run_cli("info", str(tiny_native))
    assert r.returncode == 1 and "outside the recording folder" in r.stderr and "recording.json" in r.stderr


REAL = [
    "kitti/raw/2011_09_26/2011_09_26_drive_sfnd_sync",
    "kitti/tracking/training/image_02/0001",
    "kitti/object/training",
    "nuscenes",
    "lyft_nuscenes_schema",
    "argoverse2/sensor/val/7fab2350-7eaf-3b7e-a39d-6937a4c1bede",
    "derived/kitti_sfnd_2frames.bag",
    "derived/kitti_sfnd_2frames_ros2.mcap",
    "rosbag2/nebula_velodyne_vlp16/1673400471837873222",
    "radar/continental_ars548_1708578204_202447652_detection.yaml",
    "pcd/pcl/table_scene_mug_stereo_textured.pcd",
    "argoverse1/d60558d2-d1aa-34ee-a902-e061e346e02a__PC_315971347819783000.ply",
]


@pytest.mark.parametrize("rel", REAL)
def test_info_on_real_recordings(real_data: Path, rel: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["info", str(real_data / rel), "--json"])
    s = json.loads(capsys.readouterr().out)
    assert rc == (2 if s["problems"] else 0)
    # a recording has sensor streams, or says exactly which messages it could not decode
    assert s["streams"] or any("cannot be decoded" in p for p in s["problems"])
    assert s["format"] != ""
    if s["frames"]:
        assert s["start_ns"] is not None and s["end_ns"] >= s["start_ns"]


def test_info_table_output_names_sensors(real_data: Path) -> None:
    r = run_cli("info", str(real_data / "kitti/raw/2011_09_26/2011_09_26_drive_sfnd_sync"))
    assert r.returncode in (0, 2), r.stderr
    for word in ("kitti-raw", "velodyne", "image_02", "frames: 6", "calibration", "10.0 Hz"):
        assert word in r.stdout


@pytest.fixture
def tiny_native(tmp_path: Path) -> Path:
    """4 LiDAR frames at 10 Hz, a camera 4 ms late that skipped frame 2, one labelled track."""
    import cv2

    from fusionlabel.core.boxes import Boxes
    from fusionlabel.core.calibration import Camera, Lidar, Rig
    from fusionlabel.core.frames import PointCloud
    from fusionlabel.core.labels import FrameLabels, LabelSet
    from fusionlabel.io.native import NativeWriter

    rig = Rig({"cam": Camera("cam", [[50, 0, 32], [0, 50, 24], [0, 0, 1]], 64, 48)}, {"lidar": Lidar("lidar")})
    w = NativeWriter(tmp_path / "rec", rig, reference="lidar")
    rng = np.random.default_rng(3)
    labels = {}
    for i in range(4):
        t = 5_000_000_000 + i * 100_000_000
        w.add_lidar("lidar", t, PointCloud(rng.normal(size=(100, 3)), {"intensity": np.ones(100, np.float32)}))
        if i != 2:
            w.add_image(
                "cam", t + 4_000_000, cv2.imencode(".png", np.zeros((48, 64, 3), np.uint8))[1].tobytes(), ".png"
            )
        labels[i] = FrameLabels(np.array([1]), ("Car",), Boxes.from_array([[5 + i, 0, 0, 4, 2, 1.5, 0]]))
    w.finish(labels=LabelSet(labels))
    return tmp_path / "rec"


def test_cli_help_lists_commands() -> None:
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ("info", "open", "synth"):
        assert cmd in r.stdout


def test_open_without_display_reports_the_label_file_to_edit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fusionlabel.core.labels import LabelSet
    from fusionlabel.io.native_labels import write_labels
    from fusionlabel.io.open import open_recording

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    sample = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"
    gt = open_recording(sample).labels
    assert gt is not None
    part = LabelSet({k: gt.frames[k] for k in sorted(gt.frames)[:5]})
    write_labels(part, tmp_path / "pre.json")
    assert main(["open", str(sample), "--labels", str(tmp_path / "pre.json")]) == 0
    out = capsys.readouterr().out
    assert f"{len(part.track_ids)} tracks, {part.num_boxes} boxes in 5 frames" in out
    (tmp_path / "bad.json").write_text("{bad")
    assert main(["open", str(sample), "--labels", str(tmp_path / "bad.json")]) == 1
    assert "bad.json" in capsys.readouterr().err
