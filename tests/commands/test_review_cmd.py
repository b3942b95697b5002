"""`fusionlabel review`: the flagged frames, their reasons and states, and how many are open;
`fusionlabel eval` reports review load and coverage on prelabel's output before and after a save."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fusionlabel.cli import build_app
from fusionlabel.core.boxes import Boxes
from fusionlabel.core.edits import set_box
from fusionlabel.io import session as S
from fusionlabel.pipeline.batch import prelabel_one

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"
runner = CliRunner()


@pytest.fixture(scope="module")
def prelabelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pre") / "synth_seed0"
    assert prelabel_one(str(SAMPLE), str(out), "geometric")["status"] == "ok"
    return out


def _review(*args: str) -> tuple[int, str]:
    r = runner.invoke(build_app(), ["review", *args])
    return r.exit_code, r.output


def test_review_lists_flagged_frames_states_and_open_count(prelabelled: Path, tmp_path: Path) -> None:
    out = tmp_path / "synth_seed0"
    shutil.copytree(prelabelled, out)
    code, text = _review(str(out))
    assert code == 0, text
    d0 = json.loads(_review(str(out / "labels.json"), "--json")[1])
    n = d0["flagged"]
    assert n > 0 and d0["open"] == n and d0["states"] == {"proposed": n, "accepted": 0, "edited": 0}
    assert [f["frame"] for f in d0["flagged_frames"]] == sorted(f["frame"] for f in d0["flagged_frames"])
    assert all(f["reasons"] and f["open"] and f["resolution"] is None for f in d0["flagged_frames"])
    assert f"{n} flagged frame(s) of 20" in text and f"{n} open" in text
    # the annotator resolves one frame untouched and edits another
    lp = out / "labels.json"
    st = S.load(lp)
    f0, f1 = d0["flagged_frames"][0]["frame"], d0["flagged_frames"][-1]["frame"]
    st = S.resolve(st, f0, user="ann")
    fl = st.labels.get(f1)
    moved = set_box(
        st.labels, f1, int(fl.track_ids[0]), Boxes.from_array(fl.boxes.to_array()[:1] + [[1, 0, 0, 0, 0, 0, 0]])
    )
    S.save(S.SessionState(moved, st.review, st.resolutions, 0, st.base, st.provenance), lp)
    d1 = json.loads(_review(str(lp), "--json")[1])
    by = {f["frame"]: f for f in d1["flagged_frames"]}
    assert by[f0]["state"] == "accepted" and not by[f0]["open"] and by[f0]["resolution"]["user"] == "ann"
    if f1 != f0:
        assert by[f1]["state"] == "edited" and by[f1]["open"]
        assert d1["open"] == n - 1 and not d1["done"]
    # several label files: a JSON list, one object each
    many = json.loads(_review(str(lp), str(prelabelled), "--json")[1])
    assert isinstance(many, list) and len(many) == 2 and many[1]["open"] == n


def test_review_errors_are_one_line(tmp_path: Path) -> None:
    from fusionlabel.cli import main

    (tmp_path / "labels.json").write_text('{"format": "fusionlabel.labels", "version": 1, "frames": []}')
    assert main(["review", str(tmp_path / "labels.json")]) == 1
    assert main(["review", str(tmp_path / "nope.json")]) == 1


def test_eval_reports_the_review_before_and_after_the_app_saved(prelabelled: Path, tmp_path: Path) -> None:
    out = tmp_path / "synth_seed0"
    shutil.copytree(prelabelled, out)
    lp = out / "labels.json"

    def evaluate() -> dict:
        r = runner.invoke(
            build_app(), ["eval", "--format", "native", "--gt", str(SAMPLE), "--results", str(lp), "--json"]
        )
        assert r.exit_code == 0, r.output
        return json.loads(r.output)

    before = evaluate()
    assert before["review"]["queued_frames"] > 0 and before["review"]["total_frames"] == 20
    assert 0 < before["review_load"] <= 0.1 + 1e-9
    st = S.load(lp)
    S.save(S.resolve(st, st.review.frames[0], user="ann"), lp)  # what the app's Ctrl+S writes
    after = evaluate()
    assert after["review"] == before["review"] and after["review_load"] == before["review_load"]


def test_qa_and_export_read_the_same_review(prelabelled: Path, tmp_path: Path) -> None:
    lp = prelabelled / "labels.json"
    r = runner.invoke(build_app(), ["qa", str(lp), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    queue = json.loads((prelabelled / "labels.review.json").read_text())
    assert d["review"]["open_frames"] == sorted(e["frame"] for e in queue["frames"])
    r = runner.invoke(build_app(), ["qa", str(lp)])
    assert "flagged frame(s) are still open" in r.output
    r = runner.invoke(
        build_app(), ["export", "--format", "kitti", str(lp), "--recording", str(SAMPLE), "--out", str(tmp_path / "k")]
    )
    assert r.exit_code == 0, r.output
    assert "still open" in r.output


def test_every_command_takes_the_prelabel_output_folder_for_its_label_file(
    prelabelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """eval, export, qa, compare and review read OUT/<name>/labels.json given OUT/<name>, as open does,
    with the same figures as given the file; a folder without labels.json is refused naming it."""
    lp = prelabelled / "labels.json"

    def run(*args: str) -> str:
        r = runner.invoke(build_app(), list(args))
        assert r.exit_code == 0, r.output
        return r.output

    by_dir = json.loads(run("eval", "--format", "native", "--gt", str(SAMPLE), "--results", str(prelabelled), "--json"))
    by_file = json.loads(run("eval", "--format", "native", "--gt", str(SAMPLE), "--results", str(lp), "--json"))
    by_dir.pop("results", None), by_file.pop("results", None)  # the path given
    assert by_dir == by_file and by_dir["review_load"] > 0 and by_dir["review"]["queued_frames"] > 0
    run("export", str(prelabelled), "--format", "kitti", "--recording", str(SAMPLE), "--out", str(tmp_path / "k"))
    run("export", str(lp), "--format", "kitti", "--recording", str(SAMPLE), "--out", str(tmp_path / "k2"))
    a = sorted(p.read_text() for p in (tmp_path / "k").rglob("*.txt"))
    assert a and a == sorted(p.read_text() for p in (tmp_path / "k2").rglob("*.txt"))
    assert (
        json.loads(run("qa", str(prelabelled), "--json"))["findings"]
        == json.loads(run("qa", str(lp), "--json"))["findings"]
    )
    assert "ID consistency 100.0 %" in run("compare", str(prelabelled), str(lp))
    from fusionlabel.cli import main

    assert main(["eval", "--format", "native", "--gt", str(SAMPLE), "--results", str(tmp_path)]) == 1
    assert f"{tmp_path}: a folder without labels.json" in capsys.readouterr().err


def test_review_lists_the_good_files_when_one_is_broken_and_signs_no_frame_past_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a bad-input sweep: one broken review file hid the others; a sign-off of frame
    99999 of a 20-frame recording was recorded."""
    import shutil

    from fusionlabel.cli import main
    from fusionlabel.pipeline.batch import prelabel_one

    rep = prelabel_one(str(SAMPLE), str(tmp_path / "good"), "geometric")
    assert rep["status"] == "ok", rep
    bad = tmp_path / "bad"
    shutil.copytree(tmp_path / "good", bad)
    (bad / "labels.review.json").write_bytes(b"\\xff\\xfe not a review file")
    assert main(["review", str(bad), str(tmp_path / "good")]) == 1
    out = capsys.readouterr()
    assert str(bad) in out.err and str(tmp_path / "good" / "labels.json") in out.out
    before = (tmp_path / "good" / "labels.review.json").read_bytes()
    assert main(["review", str(tmp_path / "good"), "--sign-off", "annotator", "--frames", "99999"]) == 1
    assert "past the recording" in capsys.readouterr().err
    assert (tmp_path / "good" / "labels.review.json").read_bytes() == before
