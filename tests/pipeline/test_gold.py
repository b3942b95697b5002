"""Gold tasks and review levels: gold frames mixed into a queue unmarked, the annotator scored on
them; frames go annotator -> reviewer -> QA with who and when, shown by `fusionlabel review`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.cli import main
from fusionlabel.core.boxes import Boxes
from fusionlabel.core.errors import DataError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.review import (
    Resolution,
    Review,
    ReviewItem,
    ReviewLevelError,
    ReviewQueue,
    frame_level,
    send_back,
    sign_off,
)
from fusionlabel.io.gold_file import read_gold
from fusionlabel.io.native_labels import read_labels, write_labels
from fusionlabel.io.review_file import read_review, write_review
from fusionlabel.pipeline.gold import mix_gold, score_gold


def _box(x: float, y: float = 0.0) -> list[float]:
    return [x, y, 0.8, 4.0, 1.8, 1.5, 0.0]


def _frame(ids: list[int], xs: list[float], state: str = "proposed") -> FrameLabels:
    return FrameLabels(
        ids, ["Car"] * len(ids), Boxes.from_array([_box(x) for x in xs]), attributes=[{"state": state}] * len(ids)
    )


@pytest.fixture
def task(tmp_path: Path) -> tuple[Path, Path]:
    """An annotator's pre-labelled folder (20 frames, frames 2 and 9 queued) and a reference."""
    ann = tmp_path / "annotator" / "rec"
    ann.mkdir(parents=True)
    labels = LabelSet({k: _frame([1, 2], [10.0 + k, 30.0]) for k in range(20)})
    write_labels(labels, ann / "labels.json")
    queue = ReviewQueue(
        (
            ReviewItem(2, 0.8, ({"track_id": 1, "reason": "crossing", "severity": 0.7},)),
            ReviewItem(9, 0.4, ({"track_id": 2, "reason": "fragment", "severity": 0.5},)),
        ),
        20,
        0.1,
    ).with_digests(labels)
    write_review(ann / "labels.review.json", Review(queue, provenance={"tool": "fusionlabel prelabel"}), labels)
    ref = tmp_path / "lead" / "reference.json"
    ref.parent.mkdir()
    write_labels(LabelSet({k: _frame([7, 8], [10.0 + k, 30.0], "accepted") for k in (4, 5, 6, 9, 12)}), ref)
    return ann / "labels.json", ref


def test_gold_frames_are_mixed_in_unmarked_and_scored(task: tuple[Path, Path], tmp_path: Path) -> None:
    lp, ref = task
    man = tmp_path / "lead" / "gold.json"
    before = lp.read_bytes()
    gold = mix_gold(lp, ref, man, count=3, seed=5)
    assert len(gold) == 3 and 9 not in gold and set(gold) <= {4, 5, 6, 12}
    assert lp.read_bytes() == before  # the labels are untouched
    review = read_review(lp.with_name("labels.review.json"))
    assert set(review.queue.frames) == {2, 9, *gold}
    raw = json.loads(lp.with_name("labels.review.json").read_text())
    assert "gold" not in json.dumps(raw).lower()  # nothing marks them
    for f in gold:
        it = review.queue.item(f)
        assert 0.4 <= it.score <= 0.8 and it.reasons[0]["reason"] in ("crossing", "fragment") and it.digest
    assert read_gold(man).frames == gold and read_gold(man).reference == str(ref.resolve())
    # the annotator: leaves the first gold frame as it is (it matches the reference), deletes a box on
    # the second, renames the track on the third; resolves each a minute apart
    labels = read_labels(lp)
    _g0, g1, g2 = gold
    frames = dict(labels.frames)
    frames[g1] = frames[g1].select(np.array([True, False]))
    frames[g2] = FrameLabels([5, 2], ["Car", "Car"], frames[g2].boxes, attributes=[{"state": "edited"}] * 2)
    write_labels(LabelSet(frames), lp)
    res = {f: Resolution(f, "ann", f"2026-12-07T10:0{i}:00+00:00") for i, f in enumerate([2, *gold])}
    write_review(lp.with_name("labels.review.json"), replace(review, resolutions=res), LabelSet(frames))
    s = score_gold(man).summary()
    assert s["gold_frames"] == 3 and s["resolved"] == 3 and s["reference_boxes"] == 6
    assert s["matched"] == 5 and s["misses"] == 1 and s["extras"] == 0 and s["mean_iou"] > 0.9
    # reference track 7: annotator ids 1, 1, 5 over the gold frames; track 8: 2, 2 (deleted once)
    assert s["id_pairs"] == 3 and s["id_consistency"] == pytest.approx(2 / 3, abs=1e-3)
    assert s["seconds_per_frame"] == 60.0
    by = {f["frame"]: f for f in s["frames"]}
    assert by[g1]["misses"] == 1 and by[g2]["state"] == "edited"
    # a gold frame sent back (open again) leaves the totals: only resolved work is scored
    res.pop(g1)
    write_review(lp.with_name("labels.review.json"), replace(review, resolutions=res), LabelSet(frames))
    s2 = score_gold(man).summary()
    assert s2["resolved"] == 2 and s2["open"] == 1 and s2["misses"] == 0 and s2["matched"] == 4
    assert len(s2["frames"]) == 3


def test_gold_refuses_what_it_must(task: tuple[Path, Path], tmp_path: Path) -> None:
    lp, ref = task
    with pytest.raises(DataError, match="must not lie beside"):
        mix_gold(lp, ref, lp.with_name("gold.json"))
    with pytest.raises(DataError, match="already in the queue"):
        mix_gold(lp, ref, tmp_path / "g.json", frames=[9])
    with pytest.raises(DataError, match="no reference box"):
        mix_gold(lp, ref, tmp_path / "g.json", frames=[3])
    from fusionlabel.io.session import EditClaim

    claim = EditClaim.take(lp)  # the annotator has it open
    try:
        with pytest.raises(DataError, match="open for editing"):
            mix_gold(lp, ref, tmp_path / "g.json")
    finally:
        claim.release()
    lp.with_name(".labels.json.journal").write_text("{}")
    with pytest.raises(DataError, match="unsaved work"):
        mix_gold(lp, ref, tmp_path / "g.json")


def test_gold_cli(task: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    lp, ref = task
    man = tmp_path / "lead" / "g.json"
    assert main(["gold", str(lp.parent), "--reference", str(ref), "--count", "2", "--manifest", str(man)]) == 0
    assert main(["gold", "--score", "--manifest", str(man), "--json"]) == 0
    out = capsys.readouterr().out
    d = json.loads(out[out.index("{") :])
    # nothing resolved yet: open work, not misses
    assert d["gold_frames"] == 2 and d["resolved"] == 0 and d["open"] == 2
    assert d["matched"] == 0 and d["misses"] == 0 and d["mean_iou"] is None and d["id_consistency"] is None
    assert [f["mean_iou"] for f in d["frames"]] == [pytest.approx(1.0)] * 2  # each frame's own figures
    assert main(["gold", "--score", "--manifest", str(man)]) == 0
    assert "ID consistency" in capsys.readouterr().out
    assert main(["gold", "--score", "--manifest", str(tmp_path / "none.json")]) == 1


def test_levels_go_annotator_reviewer_qa_with_who_and_when() -> None:
    q = ReviewQueue((ReviewItem(3, 0.5, ()), ReviewItem(4, 0.4, ())), 10)
    r = Review(q)
    assert frame_level(r, 3) is None
    with pytest.raises(ReviewLevelError, match="at level none"):
        sign_off(r, 3, "reviewer", "rev", "T1")
    r = sign_off(r, 3, "annotator", "ann", "T1")
    assert frame_level(r, 3) == "annotator" and 3 in r.resolutions and r.open_frames() == [4]
    r = sign_off(r, 3, "reviewer", "rev", "T2")
    with pytest.raises(ReviewLevelError):
        sign_off(r, 3, "reviewer", "rev", "T3")
    r = sign_off(r, 3, "qa", "qa1", "T3")
    assert frame_level(r, 3) == "qa" and [(e.level, e.user, e.time) for e in r.signoffs][-1] == ("qa", "qa1", "T3")
    back = send_back(r, 3, "qa1", "T4", "box 2 is a van")
    assert frame_level(back, 3) is None and 3 in back.open_frames() and back.signoffs[-1].action == "return"
    # the annotator resolves it again (in the app): the new resolution is the annotator's level
    again = replace(back, resolutions={3: Resolution(3, "ann", "T5")})
    assert frame_level(again, 3) == "annotator"


def test_review_command_signs_off_and_shows_levels(task: tuple[Path, Path], capsys, monkeypatch) -> None:
    lp, _ = task
    monkeypatch.setenv("FUSIONLABEL_USER", "rita")
    assert main(["review", str(lp), "--sign-off", "reviewer"]) == 0  # nothing annotated yet: no frame
    assert main(["review", str(lp), "--sign-off", "annotator", "--frames", "3"]) == 0
    assert main(["review", str(lp), "--sign-off", "reviewer"]) == 0
    capsys.readouterr()
    assert main(["review", str(lp), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    by = {f["frame"]: f for f in d["flagged_frames"]}
    assert by[2]["level"] == "reviewer" and by[9]["level"] is None
    assert d["levels"] == {"none": 1, "annotator": 0, "reviewer": 1, "qa": 0}
    assert d["signed_off"][0]["user"] == "rita" and d["signed_off"][0]["level"] == "reviewer"
    assert main(["review", str(lp)]) == 0
    text = capsys.readouterr().out
    assert "level" in text and "1 reviewed" in text
    # frames are numbered from 1 on the command line, as the window shows them (index 2 is frame 3)
    rows = {ln.split()[0]: ln for ln in text.splitlines() if ln.startswith("      ")}
    assert "reviewer" in rows["3"] and "10" in rows and "2" not in rows
    assert main(["review", str(lp), "--sign-off", "qa", "--frames", "0"]) == 2
    assert main(["review", str(lp), "--sign-off", "qa", "--frames", "10"]) == 1
    assert main(["review", str(lp), "--send-back", "--frames", "3"]) == 0
    assert frame_level(read_review(lp.with_name("labels.review.json")), 2) is None


def test_a_manifest_is_never_replaced_silently_nor_scored_against_another_file(
    task: tuple[Path, Path], tmp_path: Path
) -> None:
    import shutil

    lp, ref = task
    man = tmp_path / "gold" / "g.json"
    mix_gold(lp, ref, man, count=1)
    before = man.read_bytes()
    other = tmp_path / "annB"
    shutil.copytree(lp.parent, other)
    with pytest.raises(DataError, match="exists"):
        mix_gold(other / "labels.json", ref, man, count=1)
    assert man.read_bytes() == before  # the record of the first task's gold frames is kept
    with pytest.raises(DataError, match="holds the gold frames of"):
        score_gold(man, other / "labels.json")
    assert score_gold(man, lp).summary()["gold_frames"] == 1
    mix_gold(other / "labels.json", ref, man, count=1, force=True)  # asked for
    assert man.read_bytes() != before
