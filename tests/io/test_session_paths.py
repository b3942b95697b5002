"""Where an editing session saves: a native recording's own label file, never a dataset's."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionlabel.io.open import open_recording
from fusionlabel.io.session import label_path_for

REPO = Path(__file__).resolve().parents[2]


def test_native_recording_edits_the_label_file_its_manifest_names() -> None:
    rec = open_recording(REPO / "sample_data" / "synth_seed0")
    assert rec.editable_labels_path is not None and rec.editable_labels_path.is_file()
    assert label_path_for(rec) == rec.editable_labels_path


def test_kitti_tracking_labels_are_never_the_save_target(
    real_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    seq = real_data / "kitti" / "tracking" / "training" / "image_02" / "0001"
    if not seq.is_dir():
        pytest.skip(f"{seq} not present")
    rec = open_recording(seq)
    assert rec.labels is not None  # it carries KITTI labels (label_02/0001.txt) ...
    assert rec.editable_labels_path is None  # ... which are read-only
    p = label_path_for(rec)
    assert p.suffix == ".json" and "label_02" not in p.parts
    assert not p.is_relative_to(real_data)
