"""`fusionlabel synth` and the committed sample recording it reproduces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from fusionlabel.synth import generate

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fusionlabel.cli", *args], capture_output=True, text=True, timeout=300)


def test_cli_writes_a_recording_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    r = _cli("synth", str(out), "--frames", "2", "--seed", "3")
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "recording.json").read_text())
    assert len(m["streams"][m["reference"]]["timestamps_ns"]) == 2
    r = _cli("synth", str(out), "--frames", "2", "--seed", "3")
    assert r.returncode == 1 and "--overwrite" in r.stderr and "Traceback" not in r.stderr
    r = _cli("synth", str(out), "--frames", "2", "--seed", "4", "--overwrite")
    assert r.returncode == 0, r.stderr


def test_cli_vehicle_classes_flag_is_used_and_recorded(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    r = _cli("synth", str(out), "--frames", "2", "--seed", "13", "--vehicle-classes", "--label-range", "100")
    assert r.returncode == 0, r.stderr
    args = json.loads((out / "synth.json").read_text())["arguments"]
    assert args["vehicle_classes"] is True and args["label_range_m"] == 100.0
    frames = json.loads((out / "labels.json").read_text())["frames"]
    assert "Bus" in {o["category"] for f in frames for o in f["objects"]}  # seed 13: a bus overtakes
    r = _cli("synth", str(tmp_path / "plain"), "--frames", "1", "--seed", "13")
    assert r.returncode == 0, r.stderr
    assert "vehicle_classes" not in json.loads((tmp_path / "plain" / "synth.json").read_text())["arguments"]


def test_committed_sample_is_reproduced_by_generate(tmp_path: Path) -> None:
    """The sample in sample_data/ is what `generate(..., frames=20, seed=0)` writes.

    Text files (manifest, calibration, labels, poses, radar) must match byte for byte; LiDAR
    points to 0.1 mm and JPEG pixels closely, since ray casting may differ in the last float bit
    between CPUs (same CPU: the synth tests check byte identity)."""
    args = json.loads((SAMPLE / "synth.json").read_text())["arguments"]
    assert args["frames"] == 20 and args["seed"] == 0
    out = generate(tmp_path / SAMPLE.name, **{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()})
    files = sorted(p.relative_to(SAMPLE) for p in SAMPLE.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    for rel in files:
        a, b = (SAMPLE / rel).read_bytes(), (out / rel).read_bytes()
        if rel.suffix == ".bin":
            pa, pb = np.frombuffer(a, "<f4").reshape(-1, 4), np.frombuffer(b, "<f4").reshape(-1, 4)
            assert pa.shape == pb.shape, rel
            np.testing.assert_allclose(pa, pb, atol=1e-4, err_msg=str(rel))
        elif rel.suffix in (".jpg", ".png"):
            ia = cv2.imdecode(np.frombuffer(a, np.uint8), cv2.IMREAD_COLOR).astype(int)
            ib = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR).astype(int)
            assert np.mean(np.abs(ia - ib)) < 0.5, rel
        else:
            assert a == b, f"{rel} differs from a fresh generate()"


def test_cli_beam_pattern_and_azimuth_steps_set_how_far_objects_are_seen(tmp_path: Path) -> None:
    """The same scenario through 32 beams at 512 steps and 64 beams at 2048 steps: the dense
    pattern puts more points on the same objects, most of all beyond 50 m (what a 100 m detector
    is trained on)."""
    counts: dict[str, tuple[int, int]] = {}
    for name, extra in (("sparse", []), ("dense", ["--lidar", "hdl64e", "--azimuth-steps", "2048"])):
        out = tmp_path / name
        r = _cli("synth", str(out), "--frames", "2", "--seed", "5", "--label-range", "100", *extra)
        assert r.returncode == 0, r.stderr
        objs = [o for f in json.loads((out / "labels.json").read_text())["frames"] for o in f["objects"]]
        far = [o for o in objs if (o["box"][0] ** 2 + o["box"][1] ** 2) ** 0.5 >= 50]
        n = [int(o["attributes"]["num_lidar_points"] or 0) for o in far]
        counts[name] = (sum(n), sum(k >= 5 for k in n))
        args = json.loads((out / "synth.json").read_text())["arguments"]
        assert args["lidar"] == ("hdl64e" if extra else "hdl32e")
    assert counts["dense"][0] > 4 * counts["sparse"][0] and counts["dense"][1] > counts["sparse"][1]
    r = _cli("synth", str(tmp_path / "bad"), "--frames", "1", "--lidar", "hdl128")
    assert r.returncode != 0 and "hdl64e" in r.stderr and "Traceback" not in r.stderr
