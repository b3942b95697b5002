"""Comparing two annotators: matching by 3D IoU, identity consistency, missing/extra boxes and a
consensus label set, on the synthetic ground truth and a perturbed copy of it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.labels import LabelSet
from fusionlabel.io.native_labels import read_labels, write_labels
from fusionlabel.io.open import open_recording
from fusionlabel.quality.compare import compare_labels

SYNTH = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"


@pytest.fixture(scope="module")
def gt() -> LabelSet:
    labels = open_recording(SYNTH).labels
    assert labels is not None
    return labels


def _annotator_b(gt: LabelSet) -> tuple[LabelSet, dict[str, object]]:
    """B: ids renamed (+100), frame 3 drops a box, frame 4 adds one, track 2's ids swap with 5's
    in frames 10-12, one category differs, small box noise everywhere."""
    rng = np.random.default_rng(1)
    out = {}
    for k, fl in gt.frames.items():
        a = fl.boxes.to_array()
        a[:, :2] += rng.normal(0, 0.03, (len(a), 2))
        ids = fl.track_ids + 100
        if 10 <= k <= 12:
            ids = np.where(fl.track_ids == 2, 105, np.where(fl.track_ids == 5, 102, ids))
        cats = list(fl.categories)
        if k == 7:
            cats[0] = "Misc"
        out[k] = replace(fl, track_ids=ids, boxes=Boxes.from_array(a), categories=tuple(cats))
    fl3 = out[3]
    out[3] = fl3.select(np.arange(len(fl3)) != 0)
    fl4 = out[4]
    ghost = Boxes.from_array([[30.0, 40.0, 0.8, 4.0, 1.8, 1.5, 0.0]])
    out[4] = type(fl4)(np.append(fl4.track_ids, 999), (*fl4.categories, "Car"), fl4.boxes.concat(ghost))
    return LabelSet(out), {"dropped": (3, int(gt.get(3).track_ids[0]))}


def test_identical_sets_agree_fully(gt: LabelSet) -> None:
    r = compare_labels(gt, gt)
    g = r.agreement
    assert g.matched == gt.num_boxes and g.missing == g.extra == 0
    assert g.mean_iou == pytest.approx(1.0) and g.id_consistency == 1.0
    assert r.consensus.num_boxes == gt.num_boxes and not r.disagreements


def test_disagreements_are_found(gt: LabelSet) -> None:
    b, info = _annotator_b(gt)
    r = compare_labels(gt, b)
    g = r.agreement
    assert g.missing == 1 and g.extra == 1 and g.category_mismatches == 1
    assert g.matched == gt.num_boxes - 1
    assert 0.8 < g.mean_iou < 1.0
    ident = [d for d in r.disagreements if d.kind == "identity"]
    assert {(d.frame, d.track_a) for d in ident} == {
        (k, t) for k in (10, 11, 12) for t in (2, 5) if t in gt.get(k).track_ids
    }
    assert r.partner[2] == 102 and r.partner[5] == 105
    miss = [d for d in r.disagreements if d.kind == "missing"]
    assert [(d.frame, d.track_a) for d in miss] == [info["dropped"]]
    assert [(d.frame, d.track_b) for d in r.disagreements if d.kind == "extra"] == [(4, 999)]
    # the consensus keeps A's ids, averages the boxes, leaves out every disagreement
    c = r.consensus
    assert c.num_boxes <= g.matched - len(ident) - 1
    assert 2 not in c.get(11).track_ids
    fa, fc = gt.get(0), c.get(0)
    j = int(np.flatnonzero(fa.track_ids == fc.track_ids[0])[0])
    assert np.allclose(fc.boxes.center[0], (fa.boxes.center[j] + b.get(0).boxes.center[j]) / 2)
    assert "consensus_iou" in fc.attributes[0]


def test_cli_compare_writes_consensus(gt: LabelSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fusionlabel.cli import main

    b, _ = _annotator_b(gt)
    pa, pb, pc = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    write_labels(gt, pa)
    write_labels(b, pb)
    assert main(["compare", str(pa), str(pb), "--consensus", str(pc), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["agreement"]["missing"] == 1 and d["agreement"]["extra"] == 1
    assert read_labels(pc).num_boxes == d["agreement"]["consensus_boxes"] > 400
    assert main(["compare", str(pa), str(pb)]) == 0
    assert "ID consistency" in capsys.readouterr().out
