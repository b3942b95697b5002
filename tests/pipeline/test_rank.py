"""`fusionlabel rank`: frames scored by score entropy, disagreement (rotated + MC-dropout passes)
and tracker ambiguity; the selection spreads frames; JSON and text output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from fusionlabel.cli import main
from fusionlabel.core.boxes import Boxes
from fusionlabel.detect.api import Detections
from fusionlabel.pipeline.rank import (
    FrameScore,
    combine,
    disagreement,
    random_frames,
    rank,
    select,
    uniform_frames,
)


@pytest.fixture(scope="module")
def recs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from fusionlabel.synth import generate

    tmp = tmp_path_factory.mktemp("rank")
    return [
        generate(tmp / "a", frames=4, seed=31, cameras=(), radar_rate_hz=0),
        generate(tmp / "b", frames=3, seed=32, cameras=(), radar_rate_hz=0, lidar="vlp16", ego_height=1.84),
    ]


def test_rank_scores_every_frame_and_selects_spread_frames(recs: list[Path]) -> None:
    res = rank(recs, 3, passes=2, min_gap=2)
    assert len(res.frames) == 7 and len(res.selected) == 3
    assert all(f.score >= 0 and f.entropy >= 0 and f.disagreement >= 0 and 0 <= f.ambiguity <= 1 for f in res.frames)
    assert max(f.score for f in res.frames) == res.selected[0].score
    for a in res.selected:
        for b in res.selected:
            if a is not b and a.recording == b.recording:
                assert abs(a.frame - b.frame) >= 2
    assert {r["recording"] for r in res.recordings} == {str(p) for p in recs}
    assert res.recordings[0]["score"] >= res.recordings[1]["score"]


def test_signals_and_baselines() -> None:
    box = Boxes.from_array([[10.0, 0.0, 0.8, 4.0, 1.8, 1.5, 0.0]])
    a = Detections.from_arrays(box.to_array(), [0.9], ["Car"])
    assert disagreement(a, a) == 0.0
    assert disagreement(a, Detections.empty()) == pytest.approx(0.9)
    moved = Detections.from_arrays(box.to_array() + [0.5, 0, 0, 0, 0, 0, 0], [0.5], ["Car"])
    assert 0.4 < disagreement(a, moved) < 0.9
    assert uniform_frames(50, 5) == [0, 10, 20, 30, 40] and uniform_frames(3, 5) == [0, 1, 2]
    r = random_frames(50, 5, seed=3)
    assert len(set(r)) == 5 and r == random_frames(50, 5, seed=3)
    scores = combine([FrameScore("r", k, float(k), 0.0, 0.0, 1) for k in range(10)])
    assert [s.frame for s in select(scores, 3, min_gap=3)] == [9, 6, 3]


def test_the_command_prints_text_and_json(recs: list[Path], capsys) -> None:
    assert main(["rank", str(recs[0]), "--budget", "2", "--passes", "2", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["selected"]) == 2 and d["config"]["passes"] == 2 and len(d["frames"]) == 4
    assert main(["rank", str(recs[0]), "--budget", "2", "--passes", "1", "--detector", "geometric"]) == 0
    out = capsys.readouterr().out
    assert "frames to label next" in out and str(recs[0]) in out
    assert main(["rank", str(recs[0]) + "_missing"]) == 1


def test_mc_dropout_makes_passes_differ(recs: list[Path]) -> None:
    from fusionlabel.core.points import lidar_points_ego
    from fusionlabel.detect.pillars import create
    from fusionlabel.io.open import open_recording

    rec = open_recording(recs[0])
    xyz = lidar_points_ego(rec.frame(0), rec.rig).xyz
    det = create(device="cpu", score_threshold=0.05, mc_dropout=0.2, seed=1)
    a, b = det.predict([xyz])[0], det.predict([xyz])[0]
    assert len(a.scores) != len(b.scores) or not np.allclose(a.scores, b.scores)
    plain = create(device="cpu", score_threshold=0.05)
    assert np.allclose(plain.predict([xyz])[0].scores, plain.predict([xyz])[0].scores)


def test_a_recording_that_cannot_be_ranked_is_reported_and_the_others_ranked(
    recs: list[Path], tmp_path: Path, capsys
) -> None:
    """A bad-input sweep: one broken recording stopped the whole ranking, and one whose every
    LiDAR frame was missing was listed with a score of 0."""
    import shutil

    blind = tmp_path / "blind"
    shutil.copytree(recs[0], blind)
    shutil.rmtree(blind / "lidar")
    args = ["rank", str(blind), str(recs[0]) + "_missing", str(recs[0]), "--passes", "1", "--detector", "geometric"]
    assert main([*args, "--json"]) == 1
    out = capsys.readouterr()
    assert "every frame failed" in out.err and str(blind) in out.err and "_missing" in out.err
    d = json.loads(out.out)
    assert [r["recording"] for r in d["recordings"]] == [str(recs[0])] and len(d["skipped"]) == 2
