"""Two writers of one label file never lose work silently; killed writers' temp files are cleaned;
an older prelabel's review.json is picked up and superseded."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.edits import add_box, delete_track
from fusionlabel.core.errors import ConcurrentEditError, CorruptFileError
from fusionlabel.io import session as S
from fusionlabel.io.native_labels import read_labels
from fusionlabel.pipeline.batch import prelabel_one

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"


@pytest.fixture(scope="module")
def prelabelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pre") / "synth_seed0"
    assert prelabel_one(str(SAMPLE), str(out), "geometric")["status"] == "ok"
    return out


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "synth_seed0"
    shutil.copytree(src, dst)
    return dst


def test_second_writer_gets_a_clear_error_and_nothing_is_lost(prelabelled: Path, tmp_path: Path) -> None:
    out = _copy(prelabelled, tmp_path)
    lp = out / "labels.json"
    a, b = S.load(lp), S.load(lp)
    assert a.base == b.base is not None
    tid = int(a.labels.track_ids[0])
    b2 = S.SessionState(delete_track(b.labels, tid), b.review, b.resolutions, 0, b.base, b.provenance)
    S.save(b2, lp)  # B saves first
    saved_by_b = lp.read_bytes()
    a2 = S.resolve(
        S.SessionState(
            add_box(a.labels, 0, Boxes.from_array([[9, 9, 1, 4, 2, 1.5, 0]]), "Car")[0],
            a.review,
            a.resolutions,
            0,
            a.base,
            a.provenance,
        ),
        a.review.frames[0],
        user="a",
    )
    with pytest.raises(ConcurrentEditError, match="changed on disk since this session read it") as exc:
        S.save(a2, lp)
    assert str(lp) in str(exc.value)
    assert lp.read_bytes() == saved_by_b  # B's work is there, A's is still in A's hands
    # A reloads, reapplies, saves: both edits survive
    a3 = S.load(lp)
    a4 = S.resolve(a3, a3.review.frames[0], user="a")
    S.save(a4, lp)
    back = S.load(lp)
    assert tid not in back.labels.track_ids and back.resolutions[a3.review.frames[0]].user == "a"


def test_a_prelabel_run_over_an_open_session_is_detected(prelabelled: Path, tmp_path: Path) -> None:
    out = _copy(prelabelled, tmp_path)
    lp = out / "labels.json"
    open_in_app = S.load(lp)
    rep = prelabel_one(str(SAMPLE), str(out), "geometric", view="cam_front", overwrite=True)
    assert rep["status"] == "ok"
    with pytest.raises(ConcurrentEditError):
        S.save(open_in_app, lp)


def test_stale_temp_files_are_cleaned_when_the_session_opens(prelabelled: Path, tmp_path: Path) -> None:
    out = _copy(prelabelled, tmp_path)
    lp = out / "labels.json"
    for name in (
        ".labels.json.999999999.a1.tmp",
        ".labels.review.json.999999999.b2.tmp",
        "..labels.json.autosave.999999999.c3.tmp",
    ):
        (out / name).write_text("half a file")
    S.load(lp)
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def test_save_keeps_a_team_files_mode(prelabelled: Path, tmp_path: Path) -> None:
    out = _copy(prelabelled, tmp_path)
    lp = out / "labels.json"
    os.chmod(lp, 0o664)
    st = S.load(lp)
    S.save(S.resolve(st, st.review.frames[0], user="ann"), lp)
    assert stat.S_IMODE(lp.stat().st_mode) == 0o664


def test_an_older_prelabels_review_json_opens_and_is_superseded_on_save(prelabelled: Path, tmp_path: Path) -> None:
    out = _copy(prelabelled, tmp_path)
    lp = out / "labels.json"
    d = json.loads((out / "labels.review.json").read_text())
    legacy = {
        "format": "fusionlabel.review_queue/1",
        "num_frames": d["num_frames"],
        "max_fraction": d["max_fraction"],
        "score_threshold": None,
        "frames": [{k: e[k] for k in ("frame", "score", "reasons")} for e in d["frames"]],
    }
    (out / "labels.review.json").unlink()
    (out / "review.json").write_text(json.dumps(legacy))
    st = S.load(lp)
    assert st.review is not None and st.review.frames == [e["frame"] for e in d["frames"]]
    S.save(S.resolve(st, st.review.frames[0], user="ann"), lp)
    new = json.loads((out / "labels.review.json").read_text())
    assert new["format"] == "fusionlabel.review" and new["frames"][0]["resolution"]["user"] == "ann"
    assert S.load(lp).resolutions[st.review.frames[0]].user == "ann"


def test_a_review_file_of_an_unknown_version_is_refused_and_kept(prelabelled: Path, tmp_path: Path) -> None:
    out = _copy(prelabelled, tmp_path)
    lp = out / "labels.json"
    st = S.load(lp)
    rp = out / "labels.review.json"
    rp.write_text('{"format": "fusionlabel.review", "version": 99, "frames": []}')
    with pytest.raises(CorruptFileError, match="version 99 was written by a newer FusionLabel"):
        S.load(lp)
    before = lp.read_bytes()
    with pytest.raises(CorruptFileError, match="newer"):
        S.save(st, lp)
    assert lp.read_bytes() == before and "99" in rp.read_text()
    assert read_labels(lp).num_boxes > 0
