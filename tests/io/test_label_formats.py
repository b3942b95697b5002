"""Round trips of every label format (native, OpenLABEL, KITTI, nuScenes tables), parametrized as
labelCloud does, on the synthetic sample and on real KITTI tracking 0001 labels; migrations;
bad input refused without writing anything."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import wrap_angle
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.transforms import Transform
from fusionlabel.io.label_formats import (
    FORMATS,
    TOOL_FORMATS,
    ImportedLabels,
    LabelContext,
    get_format,
    read_label_file,
    sniff_label_format,
    write_label_file,
)
from fusionlabel.io.migrations import MIGRATIONS, migrate
from fusionlabel.io.native_labels import read_labels, read_native_labels, upgrade_file
from fusionlabel.io.open import open_recording

REPO = Path(__file__).resolve().parents[2]
SYNTH = REPO / "sample_data" / "synth_seed0"
OUT = {
    "native": "labels.json",
    "openlabel": "labels.openlabel.json",
    "kitti": "kitti",
    "nuscenes": "nus",
    "sustechpoints": "sustech",
    "labelcloud": "labelcloud",
    "cvat-datumaro": "datumaro",
    "cvat-kitti": "cvat_kitti",
    "supervisely": "supervisely",
    "segments": "release.json",
    "xtreme1": "xtreme1",
}
#: the labelling tools' files keep boxes in the LiDAR frame: reading back needs the rig
TOOLS = {c.name for c in TOOL_FORMATS}
KITTI_ATTRS = ("truncated", "occluded", "alpha", "bbox_2d")


def assert_same(a: LabelSet, b: LabelSet, atol: float, attrs: bool | tuple[str, ...] = True) -> float:
    """Identities, classes, boxes (to atol), scores and attributes equal; returns the max box error."""
    assert sorted(a.frames) == sorted(b.frames)
    worst = 0.0
    for k in a.frames:
        fa, fb = a.get(k), b.get(k)
        ia, ib = np.argsort(fa.track_ids), np.argsort(fb.track_ids)
        assert fa.track_ids[ia].tolist() == fb.track_ids[ib].tolist(), k
        assert [fa.categories[i] for i in ia] == [fb.categories[i] for i in ib], k
        d = fa.boxes.to_array()[ia] - fb.boxes.to_array()[ib]
        d[:, 6] = wrap_angle(d[:, 6])
        worst = max(worst, float(np.abs(d).max()))
        assert fa.attributes is not None and fb.attributes is not None
        for i, j in zip(ia, ib):
            if attrs is True:
                assert dict(fa.attributes[i]) == dict(fb.attributes[j]), (k, i)
                assert fa.scores is not None and fb.scores is not None
                assert fa.scores[i] == fb.scores[j]
            elif attrs:
                for name in attrs:
                    va, vb = fa.attributes[i].get(name), fb.attributes[j].get(name)
                    assert np.allclose(va, vb, atol=1e-6, equal_nan=True), (k, name, va, vb)
    assert worst <= atol
    return worst


@pytest.fixture(scope="module")
def synth() -> tuple[LabelSet, LabelContext]:
    rec = open_recording(SYNTH)
    labels = rec.labels
    assert labels is not None and labels.num_boxes > 400
    return labels, LabelContext.from_recording(rec)


@pytest.fixture(scope="module")
def kitti0001(real_data: Path) -> tuple[LabelSet, LabelContext, Path]:
    path = real_data / "kitti" / "tracking" / "training" / "label_02" / "0001.txt"
    rec = open_recording(path)
    labels = rec.labels
    assert labels is not None and labels.num_boxes > 3000
    ctx = LabelContext.from_recording(rec)
    assert not ctx.ego_poses  # no oxts in real_data: nuScenes needs poses, so give some
    poses = {k: Transform.from_yaw(0.013 * k, (1.1 * k, 0.3 * k, 0.02 * k)) for k in ctx.timestamps_ns}
    return labels, replace(ctx, ego_poses=poses), path


ROUND_TRIP = sorted(f for f, c in FORMATS.items() if c.round_trip)


@pytest.mark.parametrize("fmt", ROUND_TRIP)
def test_round_trip_synthetic(fmt: str, synth: tuple[LabelSet, LabelContext], tmp_path: Path) -> None:
    labels, ctx = synth
    out = tmp_path / OUT[fmt]
    write_label_file(fmt, out, labels, ctx)
    # KITTI/nuScenes folders read back without the recording (calib/ and ego_pose.json travel along)
    back = read_label_file(fmt, out, ctx if fmt in TOOLS else LabelContext(timestamps_ns=ctx.timestamps_ns))
    err = assert_same(labels, back.labels, 1e-6, KITTI_ATTRS[:0] if fmt == "kitti" else True)
    if fmt != "kitti":
        assert err < 1e-9
    times = {k: ctx.timestamps_ns[k] for k in labels.frames}
    assert {k: back.timestamps_ns[k] for k in labels.frames} == times
    assert sniff_label_format(out) == fmt


@pytest.mark.parametrize("fmt", ROUND_TRIP)
def test_round_trip_real_kitti_tracking(
    fmt: str, kitti0001: tuple[LabelSet, LabelContext, Path], tmp_path: Path
) -> None:
    labels, ctx, _ = kitti0001
    out = tmp_path / OUT[fmt]
    write_label_file(fmt, out, labels, ctx)
    back = read_label_file(fmt, out, ctx)
    assert_same(labels, back.labels, 1e-6 if fmt == "kitti" else 1e-9, True)
    assert {k: back.timestamps_ns[k] for k in labels.frames} == {k: ctx.timestamps_ns[k] for k in labels.frames}


def test_kitti_export_reproduces_the_original_file(
    kitti0001: tuple[LabelSet, LabelContext, Path], tmp_path: Path
) -> None:
    labels, ctx, path = kitti0001
    out = tmp_path / "0001.txt"
    write_label_file("kitti", out, labels, ctx)
    orig = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    mine = [ln.split() for ln in out.read_text().splitlines() if ln.strip()]

    def key(r):
        return (int(r[0]), int(r[1]), r[6:10])

    orig.sort(key=key)
    mine.sort(key=key)
    assert len(orig) == len(mine) == 4271
    for a, b in zip(orig, mine):
        assert a[:5] == b[:5]
        assert np.allclose([float(v) for v in a[5:]], [float(v) for v in b[5:]], atol=2e-6), (a, b)


def test_kitti_alpha_and_2d_box_from_calibration(synth: tuple[LabelSet, LabelContext], tmp_path: Path) -> None:
    from fusionlabel.core.conventions import boxes_to_kitti_camera, kitti_alpha
    from fusionlabel.core.projection import project_boxes
    from fusionlabel.io.kitti import read_kitti_labels

    labels, ctx = synth
    out = tmp_path / "k.txt"
    write_label_file("kitti", out, labels, ctx)
    rows = read_kitti_labels(out)
    T, cam = ctx.kitti_frames()
    assert cam is not None
    fl = labels.get(5)
    xyz, _, ry = boxes_to_kitti_camera(fl.boxes, T)
    sel = rows.frame == 5
    order = np.argsort(fl.track_ids)
    assert rows.track_id[sel].tolist() == fl.track_ids[order].tolist()
    assert np.allclose(rows.alpha[sel], kitti_alpha(xyz, ry)[order], atol=1e-6)
    proj = project_boxes(fl.boxes, cam, cam.T_ego_cam.inverse()).bbox[order]
    ok = np.all(np.isfinite(proj), axis=1)
    assert ok.sum() >= 5
    assert np.allclose(rows.bbox[sel][ok], proj[ok], atol=1e-5)
    assert np.all(rows.bbox[sel][~ok] == -1.0)


def test_nuscenes_tables_are_global_and_wlh(synth: tuple[LabelSet, LabelContext], tmp_path: Path) -> None:
    labels, ctx = synth
    write_label_file("nuscenes", tmp_path, labels, ctx)
    tables = tmp_path / "v1.0-fusionlabel"  # the dataroot holds the version folder
    anns = json.loads((tables / "sample_annotation.json").read_text())
    samples = {s["token"]: s for s in json.loads((tables / "sample.json").read_text())}
    assert len(anns) == labels.num_boxes
    a = anns[0]
    k = samples[a["sample_token"]]["fusionlabel_frame"]
    fl = labels.get(k)
    # the annotation's centre is T_world_ego applied to one of the frame's ego-frame centres
    T = ctx.ego_poses[k]
    c_world = T.apply(fl.boxes.center)
    j = int(np.argmin(np.linalg.norm(c_world - np.array(a["translation"]), axis=1)))
    assert np.allclose(c_world[j], a["translation"], atol=1e-9)
    assert np.allclose(a["size"], fl.boxes.size[j][[1, 0, 2]])
    assert not np.allclose(T.translation, 0)  # the synthetic ego moves: global != ego


def test_export_without_poses_is_refused(kitti0001: tuple[LabelSet, LabelContext, Path], tmp_path: Path) -> None:
    labels, ctx, _ = kitti0001
    with pytest.raises(DataError, match="no ego pose"):
        write_label_file("nuscenes", tmp_path / "nus", labels, replace(ctx, ego_poses={}))
    assert not (tmp_path / "nus").exists()


def test_kitti_needs_a_camera_frame(synth: tuple[LabelSet, LabelContext], tmp_path: Path) -> None:
    labels, _ = synth
    with pytest.raises(CalibrationError):
        write_label_file("kitti", tmp_path / "k.txt", labels, LabelContext())
    (tmp_path / "label_02").mkdir()
    (tmp_path / "label_02" / "0000.txt").write_text("0 1 Car 0 0 0 1 1 2 2 1.5 1.6 4 0 1.5 10 0\n")
    with pytest.raises(CalibrationError, match="calib"):
        read_label_file("kitti", tmp_path / "label_02" / "0000.txt")


def test_unknown_format_is_an_error() -> None:
    with pytest.raises(
        ValueError,
        match="known: cvat-datumaro, cvat-kitti, kitti, labelcloud, native, nuscenes, nuscenes-tracking, openlabel, segments, supervisely, sustechpoints, xtreme1",
    ):
        get_format("pascal")


# -- migrations ---------------------------------------------------------------------------------
def _v0_document(labels: LabelSet, times: dict[int, int]) -> dict:
    """The legacy version-0 layout, written by hand from its documented definition."""
    frames = {}
    for k, fl in labels.frames.items():
        a = fl.boxes.to_array()
        assert fl.attributes is not None and fl.scores is not None
        frames[str(k)] = {
            "stamp_ns": times[k],
            "boxes": [
                {
                    "id": int(fl.track_ids[j]),
                    "class": fl.categories[j],
                    "center_bottom": [a[j, 0], a[j, 1], a[j, 2] - a[j, 5] / 2],
                    "size_wlh": [a[j, 4], a[j, 3], a[j, 5]],
                    "yaw_deg": float(np.degrees(a[j, 6])),
                    "score": float(fl.scores[j]),
                    "attrs": dict(fl.attributes[j]),
                }
                for j in range(len(fl))
            ],
        }
    return {"format": "fusionlabel.labels", "version": 0, "frames": frames}


def test_version0_file_migrates(synth: tuple[LabelSet, LabelContext], tmp_path: Path) -> None:
    labels, ctx = synth
    times = {k: ctx.timestamps_ns[k] for k in labels.frames}
    p = tmp_path / "old.json"
    p.write_text(json.dumps(_v0_document(labels, times)))
    back, t = read_native_labels(p)
    assert_same(labels, back, 1e-9, True)
    assert t == times
    imp = read_label_file("native", p)  # the registry reads through the migrations too
    assert imp.timestamps_ns == times
    assert upgrade_file(p, tmp_path / "new.json") == 0
    assert json.loads((tmp_path / "new.json").read_text())["version"] == 1
    assert_same(labels, read_labels(tmp_path / "new.json"), 1e-9, True)


def test_migration_chain_and_refusals(tmp_path: Path) -> None:
    v0 = {"format": "fusionlabel.labels", "version": 0, "frames": {}}
    assert migrate(v0)["version"] == 1
    # a future chain: 0 -> 1 -> 2 through a registered step
    chain = {**MIGRATIONS, 1: lambda d, p: {**d, "version": 2, "extra": True}}
    assert migrate(v0, migrations=chain, target=2)["extra"] is True
    with pytest.raises(CorruptFileError, match="newer FusionLabel"):
        migrate({"format": "fusionlabel.labels", "version": 2, "frames": []}, tmp_path / "x.json")
    with pytest.raises(CorruptFileError, match="no migration from version -1"):
        migrate({"format": "fusionlabel.labels", "version": -1}, tmp_path / "x.json")
    with pytest.raises(CorruptFileError, match="produced version"):
        migrate(v0, migrations={0: lambda d, p: {**d, "version": 5}})
    bad = tmp_path / "bad0.json"
    bad.write_text(json.dumps({"format": "fusionlabel.labels", "version": 0, "frames": {"0": {"boxes": [{"id": 1}]}}}))
    with pytest.raises(CorruptFileError, match=r"bad0\.json: version 0 label file: KeyError"):
        read_native_labels(bad)


# -- bad input ----------------------------------------------------------------------------------
def test_cli_import_is_all_or_nothing(synth: tuple[LabelSet, LabelContext], tmp_path: Path) -> None:
    from fusionlabel.cli import main

    labels, ctx = synth
    ol = tmp_path / "a.openlabel.json"
    write_label_file("openlabel", ol, labels, ctx)
    d = json.loads(ol.read_text())
    d["openlabel"]["frames"]["19"]["objects"][next(iter(d["openlabel"]["frames"]["19"]["objects"]))]["object_data"][
        "cuboid"
    ][0]["val"] = [1.0, 2.0]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(d))
    out = tmp_path / "imported.json"
    assert main(["import", "--format", "openlabel", str(broken), "--out", str(out)]) == 1
    assert not out.exists() and not list(tmp_path.glob(".imported*"))
    assert main(["import", str(ol), "--out", str(out)]) == 0
    assert_same(labels, read_labels(out), 1e-12, True)
    assert main(["import", str(ol), "--out", str(out)]) == 1  # exists, no --force
    for fmt, dst in (("nuscenes", tmp_path / "nus"), ("kitti", tmp_path / "k")):
        assert (
            main(["export", "--format", fmt, str(SYNTH / "labels.json"), "--recording", str(SYNTH), "--out", str(dst)])
            == 0
        )
        o2 = tmp_path / f"{fmt}.json"
        assert main(["import", "--format", fmt, str(dst), "--out", str(o2)]) == 0
        assert_same(labels, read_labels(o2), 1e-6, False)


def test_cli_errors_name_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fusionlabel.cli import main

    p = tmp_path / "trunc.json"
    p.write_text('{"openlabel": {"metadata": ')
    assert main(["import", "--format", "openlabel", str(p), "--out", str(tmp_path / "o.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {p}: invalid JSON at line 1")
    nus = tmp_path / "nus"
    nus.mkdir()
    (nus / "instance.json").write_text("[]")
    (nus / "sample_annotation.json").write_text('[{"token": "a", "sample_token": "s", "instance_token": "i"}]')
    (nus / "sample.json").write_text("[]")
    (nus / "category.json").write_text("[]")
    assert main(["import", str(nus), "--out", str(tmp_path / "o.json")]) == 1
    assert "sample_annotation.json: row a: sample_token 's' is not in sample.json" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_imported_labels_is_a_value() -> None:
    imp = ImportedLabels(LabelSet({}))
    with pytest.raises(AttributeError):
        imp.labels = LabelSet({})  # type: ignore[misc]


def test_commands_writing_a_label_file_never_replace_an_annotators_session(
    synth: tuple[LabelSet, LabelContext], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``import``, ``compare --consensus`` and ``export --format native`` refuse, even with
    ``--force``, a label file open in a window or with unsaved work beside it."""
    from fusionlabel.cli import main
    from fusionlabel.io import session as S

    labels, ctx = synth
    ol = tmp_path / "a.openlabel.json"
    write_label_file("openlabel", ol, labels, ctx)
    target = tmp_path / "labels.json"
    target.write_bytes((SYNTH / "labels.json").read_bytes())
    before = target.read_bytes()
    commands = (
        ["import", str(ol), "--out", str(target), "--force"],
        ["compare", str(SYNTH / "labels.json"), str(SYNTH / "labels.json"), "--consensus", str(target), "--force"],
        ["export", "--format", "native", str(SYNTH / "labels.json"), "--recording", str(SYNTH), "--out", str(target)],
    )
    claim = S.EditClaim.take(target)  # a window edits it
    try:
        for cmd in commands:
            assert main(cmd) == 1, cmd
            err = capsys.readouterr().err
            assert str(target) in err and "open for editing" in err and "Traceback" not in err
    finally:
        claim.release()
    S.journal_path(target).write_text("{}\n")  # a session that crashed with unsaved work
    for cmd in commands:
        assert main(cmd) == 1, cmd
        assert "unsaved work" in capsys.readouterr().err
    assert target.read_bytes() == before
    S.journal_path(target).unlink()
    assert main(commands[1][:-1]) == 1  # compare: exists, no --force
    assert "pass --force" in capsys.readouterr().err
    for cmd in commands:  # nobody's session: each replaces it as asked
        assert main(cmd) == 0, cmd
    assert read_labels(target).num_boxes > 0


def test_structurally_broken_tool_files_give_one_line_naming_the_input(
    synth: tuple[LabelSet, LabelContext], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A null where an object belongs, a number where a list does (found by a bad-input sweep:
    tracebacks in seven tool readers): ``import`` says which input is broken, exit 1."""
    from fusionlabel.cli import main

    labels, ctx = synth
    cases = {
        "nuscenes-tracking": lambda d: next(iter(d["results"].values())).insert(0, None),
        "segments": lambda d: d["dataset"]["samples"].__setitem__(0, 1.5),
    }
    for fmt, spoil in cases.items():
        src = tmp_path / f"ex_{fmt}.json"
        write_label_file(fmt, src, labels, ctx)
        d = json.loads(src.read_text())
        spoil(d)
        src.write_text(json.dumps(d))
        out = str(tmp_path / f"{fmt}.out.json")
        assert main(["import", "--format", fmt, str(src), "--recording", str(SYNTH), "--out", out]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(src) in err[0] and f"not a valid {fmt} file" in err[0], err


def test_labels_of_a_longer_recording_are_refused_where_a_recording_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """qa reported speeds of 4.6e8 m/s and eval a MOTA of -1414 on another recording's labels
    (a bad-input sweep); now each names the label file and the frame past the end."""
    from fusionlabel.cli import main
    from fusionlabel.synth import generate

    short = generate(tmp_path / "short", frames=3, seed=5, cameras=(), radar_rate_hz=0)
    labels = str(SYNTH / "labels.json")  # 20 frames
    for cmd in (
        ["qa", labels, "--recording", str(short)],
        ["export", labels, "--format", "kitti", "--recording", str(short), "--out", str(tmp_path / "k")],
        ["eval", "--format", "native", "--gt", str(short), "--results", labels],
    ):
        assert main(cmd) == 1, cmd
        err = capsys.readouterr().err
        assert labels in err and "past the recording's last frame (2)" in err, err
