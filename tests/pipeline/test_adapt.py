"""`fusionlabel adapt`: fine-tune on the annotator's frames, pre-label again, keep the seed exactly.

A tiny synthetic recording with a domain shift (16 beams, the ego origin at the LiDAR), one
epoch of two augmented frames: checks the outputs, their provenance, that the seed frames come
back exactly, that the base weights are never written, and the bad inputs.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from fusionlabel.cli import main
from fusionlabel.core.atomic import file_sha256
from fusionlabel.core.boxes import Boxes
from fusionlabel.core.errors import DataError, FusionLabelError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.detect.adaptation import AdaptOptions
from fusionlabel.detect.errors import PluginError
from fusionlabel.detect.pillars import DEFAULT_WEIGHTS
from fusionlabel.io.native_labels import read_labels, write_labels
from fusionlabel.io.review_file import read_review
from fusionlabel.pipeline.adapt import adapt, labelled_frames, merge_with_seed

FAST = AdaptOptions(epochs=1, samples_per_epoch=2, batch_size=2, device="cpu", threads=2)
CLASSES = ("Car", "Pedestrian", "Cyclist")


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fusionlabel.synth import generate

    return generate(
        tmp_path_factory.mktemp("adapt") / "rec",
        frames=4,
        seed=11,
        cameras=(),
        radar_rate_hz=0,
        lidar="vlp16",
        azimuth_steps=256,
        ego_height=1.84,
    )


def _seed(rec: Path, out: Path, frames: tuple[int, ...] = (1,), edit: bool = True) -> Path:
    gt = read_labels(rec / "labels.json")
    keep = {}
    for k in frames:
        fl = gt.get(k)
        fl = fl.select(np.array([c in CLASSES for c in fl.categories], dtype=bool))
        attrs = tuple({**dict(a), "state": "edited"} for a in fl.attributes) if edit else fl.attributes
        keep[k] = FrameLabels(fl.track_ids, fl.categories, fl.boxes, fl.scores, attrs)
    write_labels(LabelSet(keep), out)
    return out


@pytest.fixture(scope="module")
def adapted(shifted: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("adapt_out")
    seed = _seed(shifted, tmp / "seed.json")
    before = (file_sha256(DEFAULT_WEIGHTS), DEFAULT_WEIGHTS.stat().st_mtime_ns)
    res = adapt(shifted, seed, tmp / "out", options=FAST)
    return res, seed, before


def test_outputs_provenance_and_the_seed_kept_exactly(adapted, shifted: Path) -> None:
    res, seed_path, _ = adapted
    out = res.out_dir
    assert out.name == shifted.name
    for name in ("labels.json", "labels.review.json", "adapted.pt", "report.json"):
        assert (out / name).is_file(), name
    labels = read_labels(out / "labels.json")
    seed = read_labels(seed_path)
    s, got = seed.get(1), labels.get(1)
    assert got.track_ids.tolist() == s.track_ids.tolist() and got.categories == s.categories
    assert np.array_equal(got.boxes.to_array(), s.boxes.to_array())
    assert got.attributes == s.attributes and np.array_equal(got.scores, s.scores)
    # the other frames are proposals; their track ids never collide with the seed's on a frame
    for k, fl in labels.frames.items():
        if k != 1:
            assert all(a.get("state") == "proposed" for a in fl.attributes)
        assert len(set(fl.track_ids.tolist())) == len(fl)
    review = read_review(out / "labels.review.json")
    assert 1 not in review.queue.frames and review.provenance["tool"] == "fusionlabel adapt"
    # the checkpoint's provenance
    from fusionlabel.detect.pillars.checkpoint import read_header

    meta = read_header(out / "adapted.pt").meta["adaptation"]
    assert meta["base_sha256"] == file_sha256(DEFAULT_WEIGHTS) and meta["base_weights"] == DEFAULT_WEIGHTS.name
    assert meta["seed_frames"] == [1] and meta["seed_sha256"] == file_sha256(seed_path)
    assert meta["options"]["epochs"] == 1 and meta["steps"] == 1 and meta["frames"] == [f"{shifted.name}#1"]
    rep = json.loads((out / "report.json").read_text())
    assert rep["status"] == "ok" and rep["recording"] == str(shifted.resolve())
    assert rep["adapted_sha256"] == file_sha256(out / "adapted.pt")
    assert rep["config"]["detector"]["version"].startswith("adapted.pt sha256:")


def test_base_weights_are_never_written(adapted) -> None:
    _, _, before = adapted
    assert (file_sha256(DEFAULT_WEIGHTS), DEFAULT_WEIGHTS.stat().st_mtime_ns) == before


def test_an_existing_output_is_not_replaced_without_overwrite(adapted, shifted: Path) -> None:
    res, seed, _ = adapted
    with pytest.raises(FusionLabelError, match="overwrite"):
        adapt(shifted, seed, res.out_dir.parent, options=FAST)


def test_bad_seeds_are_refused_naming_the_file(shifted: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    write_labels(LabelSet({0: FrameLabels.empty()}), empty)
    with pytest.raises(DataError, match="no box") as exc:
        adapt(shifted, empty, tmp_path / "o1", options=FAST)
    assert exc.value.path == empty
    box = Boxes.from_array([[8.0, 0.0, -1.0, 8.0, 2.5, 3.0, 0.0]])
    tram = tmp_path / "tram.json"  # a class the shipped network has no heatmap for
    write_labels(LabelSet({0: FrameLabels([4], ["Tram"], box)}), tram)
    with pytest.raises(DataError, match="Tram") as exc:
        adapt(shifted, tram, tmp_path / "o2", options=FAST)
    assert exc.value.path == tram
    late = tmp_path / "late.json"
    write_labels(LabelSet({99: FrameLabels([4], ["Car"], box)}), late)
    with pytest.raises(DataError, match="past the recording"):
        adapt(shifted, late, tmp_path / "o3", options=FAST)
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_corrupt_or_foreign_checkpoints_are_refused_naming_the_file(shifted: Path, tmp_path: Path) -> None:
    seed = _seed(shifted, tmp_path / "seed.json")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(PluginError, match=str(junk)):
        adapt(shifted, seed, tmp_path / "o", weights=junk, options=FAST)
    foreign = tmp_path / "foreign.pt"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(PluginError, match="foreign.pt"):
        adapt(shifted, seed, tmp_path / "o", weights=foreign, options=FAST)
    with pytest.raises(FusionLabelError, match="cannot be fine-tuned"):
        adapt(shifted, seed, tmp_path / "o", detector="geometric", options=FAST)


def test_the_cli_says_what_is_wrong_in_one_line(shifted: Path, tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.json"
    write_labels(LabelSet(), empty)
    assert main(["adapt", str(shifted), "--labels", str(empty), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(empty) in err[0] and "no box" in err[0]


def test_labelled_frames_and_track_linking() -> None:
    box = Boxes.from_array([[10.0, 0.0, 0.8, 4.0, 1.8, 1.5, 0.0]])
    far = Boxes.from_array([[30.0, 5.0, 0.8, 4.0, 1.8, 1.5, 0.0]])
    mixed = LabelSet(
        {
            0: FrameLabels([1], ["Car"], box, attributes=[{"state": "accepted"}]),
            1: FrameLabels([1], ["Car"], box, attributes=[{"state": "proposed"}]),
            2: FrameLabels.empty(),
        }
    )
    assert labelled_frames(mixed) == [0] and labelled_frames(mixed, resolved=[1]) == [0, 1]
    assert labelled_frames(LabelSet({0: FrameLabels.empty(), 3: FrameLabels([2], ["Car"], box)})) == [0, 3]
    # a pre-labelled track matching the seed's object on the seed frame takes the seed's id
    pre = LabelSet({k: FrameLabels([5, 6], ["Car", "Car"], box.concat(far)) for k in range(3)})
    seed = LabelSet({1: FrameLabels([42], ["Car"], box)})
    merged, remap = merge_with_seed(pre, seed)
    assert remap[5] == 42 and remap[6] == 43
    assert merged.get(0).track_ids.tolist() == [42, 43] and merged.get(1).track_ids.tolist() == [42]
