"""``train`` and ``adapt`` check --device and --lr before any work: a usage error, exit 2, never a
traceback from the training code (found by a bad-input sweep)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionlabel.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"


def _cmds(tmp_path: Path, *extra: str) -> list[list[str]]:
    return [
        ["train", "--recordings", str(SAMPLE), "--out", str(tmp_path / "m.pt"), "--epochs", "1", *extra],
        ["adapt", str(SAMPLE), "--labels", str(SAMPLE / "labels.json"), "--out", str(tmp_path / "ad"), *extra],
    ]


@pytest.mark.parametrize("lr", ["nan", "inf", "-1", "0", "1e30"])
def test_a_learning_rate_that_cannot_train_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lr: str
) -> None:
    for cmd in _cmds(tmp_path, "--lr", lr, "--device", "cpu"):
        assert main(cmd) == 2, cmd
        err = capsys.readouterr().err
        assert "--lr" in err and "Traceback" not in err
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "ad").exists()


def test_cuda_without_a_gpu_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    for cmd in _cmds(tmp_path, "--device", "cuda"):
        assert main(cmd) == 2, cmd
        err = capsys.readouterr().err
        assert "CUDA is not available" in err and "Traceback" not in err


def test_train_keeps_an_existing_checkpoint_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.pt"
    out.write_bytes(b"a trained model")
    assert main(["train", "--recordings", str(SAMPLE), "--out", str(out), "--epochs", "1", "--device", "cpu"]) == 1
    assert "pass --force" in capsys.readouterr().err and out.read_bytes() == b"a trained model"


def test_train_on_a_recording_without_lidar_calibration_names_the_calibration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    rec = tmp_path / "rec"
    shutil.copytree(SAMPLE, rec)
    (rec / "calib.yaml").write_bytes(b"\xff\xfe\x00 not yaml")
    assert main(["train", "--recordings", str(rec), "--out", str(tmp_path / "m.pt"), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert str(rec / "calib.yaml") in err and "cannot train" in err and "Traceback" not in err
