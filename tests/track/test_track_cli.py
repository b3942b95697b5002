"""``fusionlabel track`` on real KITTI sequences writes valid results and review queues."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionlabel.cli import main
from fusionlabel.io.kitti_mot import read_kitti_results


def _args(
    dev: Path, seqmap: Path, out: Path, cls: str = "Car", detections: Path | None = None, calib: Path | None = None
) -> list[str]:
    return [
        "track",
        "--format",
        "kitti",
        "--detections",
        str(detections or dev / f"detection/pointrcnn_{cls}"),
        "--calib",
        str(calib or dev / "calib"),
        "--seqmap",
        str(seqmap),
        "--class",
        cls,
        "--out",
        str(out),
    ]


def test_track_cli_writes_results_and_review(kitti_tracking_dev: Path, tmp_path: Path) -> None:
    seqmap = tmp_path / "two.seqmap"
    seqmap.write_text("0000 empty 000000 000154\n0003 empty 000000 000144\n")
    out = tmp_path / "out"
    assert main(_args(kitti_tracking_dev, seqmap, out)) == 0
    for seq, n in (("0000", 154), ("0003", 144)):
        r = read_kitti_results(out / f"{seq}.txt")
        assert len(r) > 100 and set(r.type) == {"Car"} and r.frame.max() < n and r.track_id.min() >= 1
        q = json.loads((out / f"{seq}.review.json").read_text())
        assert q["num_frames"] == n and len(q["frames"]) <= 0.1 * n
        for e in q["frames"]:
            assert 0 <= e["frame"] < n and 0 < e["score"] <= 1 and e["reasons"]
            assert {"track_id", "reason", "severity"} <= set(e["reasons"][0])


def test_track_cli_bad_input_exits_with_one_line(
    kitti_tracking_dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dets = tmp_path / "dets"
    dets.mkdir()
    (dets / "0000.txt").write_text("0,2,1,2,3\n")
    seqmap = tmp_path / "s.seqmap"
    seqmap.write_text("0000 empty 000000 000154\n")
    assert main(_args(kitti_tracking_dev, seqmap, tmp_path / "out", detections=dets)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(dets / "0000.txt") in err[0]


@pytest.mark.parametrize(
    "edit, named, why",
    [
        (("P2:", "P2: " + " ".join(["nan"] * 12)), "calib", "P2 is not a camera projection"),
        (("P2:", "P2: " + " ".join(["0"] * 12)), "calib", "P2 is not a camera projection"),
        (("Tr_velo_to_cam:", "Tr_velo_to_cam: " + " ".join(["0"] * 12)), "calib", "not a valid transform"),
        ("frame", "dets", "past 1,000,000 frames"),
        ("seqmap", "seqmap", "frame range"),
    ],
)
def test_track_cli_refuses_broken_calibrations_and_frame_numbers(
    kitti_tracking_dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: object, named: str, why: str
) -> None:
    """A NaN or singular calibration and an absurd frame number: one line naming the file, no
    traceback, no hang (a detection at frame 10^8 used to run for minutes)."""
    import shutil

    cal = tmp_path / "calib"
    cal.mkdir()
    shutil.copy(kitti_tracking_dev / "calib" / "0000.txt", cal / "0000.txt")
    dets = tmp_path / "dets"
    dets.mkdir()
    src = (kitti_tracking_dev / "detection/pointrcnn_Car/0000.txt").read_text().splitlines()
    seqmap = tmp_path / "s.seqmap"
    seqmap.write_text("0000 empty 000000 000154\n")
    if isinstance(edit, tuple):
        key, line = edit
        text = "\n".join(line if ln.startswith(key) else ln for ln in (cal / "0000.txt").read_text().splitlines())
        (cal / "0000.txt").write_text(text + "\n")
    elif edit == "frame":
        src.append("100000000," + src[0].split(",", 1)[1])
    else:
        seqmap.write_text("0000 empty 000000 99999999999\n")
    (dets / "0000.txt").write_text("\n".join(src) + "\n")
    assert main(_args(kitti_tracking_dev, seqmap, tmp_path / "out", detections=dets, calib=cal)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    where = {"calib": str(cal / "0000.txt"), "dets": str(dets / "0000.txt"), "seqmap": str(seqmap)}[named]
    assert len(err) == 1 and where in err[0] and why in err[0], err


def test_track_cli_tracks_the_other_sequences_when_one_is_broken(
    kitti_tracking_dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad-input sweep: one garbage detection file stopped every sequence."""
    import shutil

    dets = tmp_path / "dets"
    dets.mkdir()
    shutil.copy(kitti_tracking_dev / "detection/pointrcnn_Car/0000.txt", dets / "0000.txt")
    (dets / "0002.txt").write_text("garbage\n")
    seqmap = tmp_path / "s.seqmap"
    seqmap.write_text("0000 empty 000000 000154\n0002 empty 000000 000233\n")
    assert main(_args(kitti_tracking_dev, seqmap, tmp_path / "out", detections=dets)) == 1
    captured = capsys.readouterr()
    assert str(dets / "0002.txt") in captured.err and "1 sequence(s) failed" in captured.out
    assert (tmp_path / "out" / "0000.txt").is_file() and not (tmp_path / "out" / "0002.txt").exists()
