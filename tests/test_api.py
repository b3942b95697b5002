"""The Python API: ``import fusionlabel as fl`` (lazy), ``fl.open_recording``, ``fl.load_labels``,
``fl.save_labels``, properties where attributes are expected, ``to_dataframe``, and the CLI's
``python -m fusionlabel``, ``-h`` and flags shown as flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import fusionlabel as fl


def test_import_is_light_and_names_load_on_use() -> None:
    code = "import sys, fusionlabel\nprint(','.join(m for m in ('numpy', 'fusionlabel.io', 'fusionlabel.core') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    assert {"open_recording", "load_labels", "save_labels", "LabelSet", "FrameLabels", "Boxes", "Recording"} <= set(
        dir(fl)
    )
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = fl.nope  # type: ignore[attr-defined]


def test_open_load_save(tmp_path: Path) -> None:
    rec = fl.open_recording(fl.SAMPLE)
    assert isinstance(rec, fl.Recording)
    labels = rec.labels  # a property, as TrackingResult.labels
    assert isinstance(labels, fl.LabelSet) and labels.num_boxes == 482 and len(labels.track_ids) == 26
    assert fl.load_labels(fl.SAMPLE / "labels.json").num_boxes == labels.num_boxes
    fl.save_labels(labels, tmp_path / "x.json", fmt="openlabel", recording=rec)
    back = fl.load_labels(tmp_path / "x.json")  # sniffed
    assert back.num_boxes == labels.num_boxes
    fl.save_labels(labels, tmp_path / "seg.json", fmt="segments", recording=fl.SAMPLE)
    assert fl.load_labels(tmp_path / "seg.json", fmt="segments", recording=fl.SAMPLE).num_boxes == labels.num_boxes


def test_to_dataframe() -> None:
    pd = pytest.importorskip("pandas")
    labels = fl.open_recording(fl.SAMPLE).labels
    df = labels.to_dataframe()
    assert isinstance(df, pd.DataFrame) and len(df) == labels.num_boxes
    assert list(df.columns) == [
        "frame",
        "track_id",
        "category",
        "x",
        "y",
        "z",
        "l",
        "w",
        "h",
        "yaw",
        "score",
        "attributes",
    ]
    assert df["track_id"].dtype == "int64" and sorted(df["track_id"].unique().tolist()) == labels.track_ids.tolist()
    assert fl.LabelSet().to_dataframe().empty


def test_to_dataframe_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"fusionlabel\[pandas\]"):
        fl.LabelSet().to_dataframe()


def test_python_m_fusionlabel_and_short_help() -> None:
    out = subprocess.run([sys.executable, "-m", "fusionlabel", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("fusionlabel ")
    out = subprocess.run([sys.executable, "-m", "fusionlabel", "-h"], capture_output=True, text=True)
    assert out.returncode == 0 and "Usage: fusionlabel" in out.stdout


@pytest.mark.parametrize(
    "command", ["info", "open", "prelabel", "export", "import", "qa", "compare", "review", "eval", "track", "synth"]
)
def test_every_command_takes_h_and_shows_flags_as_flags(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from fusionlabel.cli import main

    assert main([command, "-h"]) == 0
    out = capsys.readouterr().out
    assert "Usage: fusionlabel" in out and "-h" in out
    assert "<bool>" not in out
