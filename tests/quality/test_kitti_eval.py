"""KITTI evaluation rules, the camera-frame IoU, and the `fusionlabel eval` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from fusionlabel.cli import main
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.quality.clear_mot import IdErrorEvent
from fusionlabel.quality.evaluation import evaluate_kitti
from fusionlabel.quality.kitti_eval import camera_boxes, kitti_sequence, read_kitti_rows
from fusionlabel.quality.review_metrics import review_metrics


def row(
    frame: int,
    tid: int,
    typ: str,
    x: float,
    z: float,
    bbox=(500, 150, 600, 250),
    trunc: int = 0,
    occ: int = 0,
    score: float | None = None,
) -> str:
    f = f"{frame} {tid} {typ} {trunc} {occ} 0.0 {bbox[0]} {bbox[1]} {bbox[2]} {bbox[3]} 1.5 1.6 4.0 {x} 1.6 {z} 0.0"
    return f + (f" {score}" if score is not None else "")


def write_case(tmp: Path) -> tuple[Path, Path, Path]:
    gt, res = tmp / "gt", tmp / "res"
    gt.mkdir()
    res.mkdir()
    (tmp / "seqmap").write_text("0000 empty 000000 000001\n")
    (gt / "0000.txt").write_text(
        "\n".join(
            [
                row(0, 0, "Car", 0, 10),  # evaluated
                row(0, 1, "Van", 5, 20),  # neighbour class: ignored for Car
                row(0, 2, "Car", -3, 25, trunc=1),  # truncated: ignored, here missed
                row(0, -1, "DontCare", -1000, -1000, bbox=(0, 0, 200, 200)),
            ]
        )
        + "\n"
    )
    (res / "0000.txt").write_text(
        "\n".join(
            [
                row(0, 1, "Car", 0, 10, score=5),  # TP on GT 0
                row(0, 2, "Car", 5, 20, score=5),  # matches the Van: ignored
                row(0, 3, "Car", -5, 30, bbox=(700, 150, 760, 170), score=5),  # 20 px tall: ignored
                row(0, 4, "Car", -8, 40, bbox=(10, 10, 100, 100), score=5),  # inside DontCare: ignored
                row(0, 5, "Car", 8, 15, score=5),  # a false positive
                row(0, 6, "Pedestrian", 0, 10, score=5),  # another class: not loaded
            ]
        )
        + "\n"
    )
    return gt, res, tmp / "seqmap"


def test_kitti_ignore_rules(tmp_path: Path) -> None:
    gt, res, seqmap = write_case(tmp_path)
    r = evaluate_kitti(gt, res, seqmap, "Car").sweep.base
    # one evaluated GT box, matched; the Van match, the small and the DontCare box are ignored
    assert (r.n_gt, r.tp - r.itp, r.itp, r.fp, r.fn, r.ifn) == (1, 1, 1, 1, 0, 1)
    assert r.mota == pytest.approx(0.0)  # 1 - (0 FN + 1 FP + 0 IDS) / 1


def test_duplicate_result_id_refused(tmp_path: Path) -> None:
    gt, res, seqmap = write_case(tmp_path)
    (res / "0000.txt").write_text(row(0, 1, "Car", 0, 10, score=1) + "\n" + row(0, 1, "Car", 3, 10, score=1) + "\n")
    with pytest.raises(CorruptFileError, match="0000.txt.*twice"):
        evaluate_kitti(gt, res, seqmap, "Car")


def test_missing_and_broken_files(tmp_path: Path) -> None:
    gt, res, seqmap = write_case(tmp_path)
    (res / "0000.txt").unlink()
    with pytest.raises(DataError, match="res/0000.txt"):
        evaluate_kitti(gt, res, seqmap, "Car")
    (res / "0000.txt").write_text("0 1 Car 0 0 0.0 1 2 3\n")
    with pytest.raises(CorruptFileError, match="0000.txt"):
        evaluate_kitti(gt, res, seqmap, "Car")


def _camera_iou(a: np.ndarray, b: np.ndarray) -> float:
    """AB3DMOT's camera-frame 3D IoU, written independently: footprint on the camera x-z plane
    (corners R_y(ry) [+-l/2, 0, +-w/2] + location), height along camera y (y down)."""

    def foot(x, y, z, h, w, l, ry):
        c, s = np.cos(ry), np.sin(ry)
        xs = np.array([l, l, -l, -l]) / 2
        zs = np.array([w, -w, -w, w]) / 2
        return shapely.Polygon(np.stack([c * xs + s * zs + x, -s * xs + c * zs + z], 1)), y - h, y

    pa, ta, ba = foot(*a)
    pb, tb, bb = foot(*b)
    inter = pa.intersection(pb).area * max(0.0, min(ba, bb) - max(ta, tb))
    va, vb = a[3] * a[4] * a[5], b[3] * b[4] * b[5]
    return inter / (va + vb - inter)


def test_iou_equals_camera_frame_iou(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    from fusionlabel.core.boxes import iou_3d

    n = 60
    base = np.column_stack(
        [
            rng.uniform(-10, 10, n),
            rng.uniform(1, 2, n),
            rng.uniform(5, 40, n),
            rng.uniform(1.4, 2, n),
            rng.uniform(1.5, 2, n),
            rng.uniform(3.5, 5, n),
            rng.uniform(-np.pi, np.pi, n),
        ]
    )
    other = base + np.column_stack(
        [
            rng.normal(0, 0.7, n),
            rng.normal(0, 0.2, n),
            rng.normal(0, 0.7, n),
            rng.normal(0, 0.1, n),
            rng.normal(0, 0.1, n),
            rng.normal(0, 0.3, n),
            rng.normal(0, 0.4, n),
        ]
    )

    def rows(a: np.ndarray):
        from fusionlabel.quality.kitti_eval import KittiRows

        k = len(a)
        return KittiRows(
            np.zeros(k, np.int64),
            np.arange(k),
            ("car",) * k,
            np.zeros(k, np.int64),
            np.zeros(k, np.int64),
            np.zeros((k, 4)),
            a[:, 3:6],
            a[:, 0:3],
            a[:, 6],
            np.zeros(k),
        )

    ours = np.diag(iou_3d(camera_boxes(rows(base), tmp_path), camera_boxes(rows(other), tmp_path)))
    ref = np.array([_camera_iou(base[i], other[i]) for i in range(n)])
    assert np.any(ref > 0.25) and np.any(ref == 0)
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def _seq(tmp: Path, kitti: Path, seq: str) -> tuple[Path, Path]:
    seqmap = tmp / "one.seqmap"
    seqmap.write_text(f"{seq} empty 000000 000200\n")
    res = tmp / "res"
    res.mkdir()
    return seqmap, res


def test_ground_truth_against_itself(tmp_path: Path, kitti_tracking_dev: Path) -> None:
    seqmap, res = _seq(tmp_path, kitti_tracking_dev, "0003")
    lines = [
        ln + " 1.0"
        for ln in (kitti_tracking_dev / "label" / "0003.txt").read_text().splitlines()
        if ln.split()[1] != "-1"
    ]
    (res / "0003.txt").write_text("\n".join(lines) + "\n")
    s = evaluate_kitti(kitti_tracking_dev / "label", res, seqmap, "Car").summary()
    assert s["n_gt"] > 300
    for k in ("MOTA", "sAMOTA", "HOTA", "IDF1", "MOTP"):
        assert s[k] == pytest.approx(100.0), k
    assert (s["IDS"], s["FRAG"], s["FP"], s["FN"], s["edit_ops"]) == (0, 0, 0, 0, 0)
    assert s["keyframe_ops"] > 0

    # inject one ID switch: the longest visible, untruncated Car track changes id half-way
    rows = [ln.split() for ln in lines]
    cars = [r for r in rows if r[2] == "Car" and r[3] == "0"]
    tid = max({r[1] for r in cars}, key=lambda t: sum(r[1] == t for r in cars))
    frames = sorted(int(r[0]) for r in cars if r[1] == tid)
    mid = frames[len(frames) // 2]
    for r in rows:
        if r[1] == tid and int(r[0]) >= mid:
            r[1] = "9999"
    (res / "0003.txt").write_text("\n".join(" ".join(r) for r in rows) + "\n")
    code = main(
        [
            "eval",
            "--format",
            "kitti",
            "--gt",
            str(kitti_tracking_dev / "label"),
            "--results",
            str(res),
            "--seqmap",
            str(seqmap),
            "--class",
            "Car",
            "--json",
        ]
    )
    assert code == 0
    rep = evaluate_kitti(kitti_tracking_dev / "label", res, seqmap, "Car")
    s = rep.summary()
    assert s["IDS"] == 1 and s["FP"] == 0 and s["FN"] == 0
    assert s["MOTA"] == pytest.approx(100.0 * (1 - 1 / s["n_gt"]))
    assert s["HOTA"] < 100.0 and s["IDF1"] < 100.0
    assert s["edit_ops"] == 1  # one merge (or reassign) fixes it
    ev = [e for e in rep.sweep.base.events if e.kind == "IDS"]
    assert [(e.gt_id, e.frame) for e in ev] == [(int(tid), mid)]
    # a queue holding that frame covers the error; one without it does not
    assert review_metrics(rep.sweep.base.events, {"0003": ({mid}, 144)}).error_coverage == 1.0
    assert review_metrics(rep.sweep.base.events, {"0003": ({mid + 1}, 144)}).error_coverage == 0.0
    # the switch changes the identity: it is an identity event; nothing resumes under the same id
    m = review_metrics(rep.sweep.base.events, {"0003": ({mid}, 144)})
    assert (m.identity_events, m.identity_covered) == (1, 1)
    assert not any(e.same_id for e in rep.sweep.base.events)


def test_cli_kitti_json_and_review(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, res, seqmap = write_case(tmp_path)
    (res / "0000.review.json").write_text(
        json.dumps(
            {
                "format": "fusionlabel.review_queue/1",
                "num_frames": 2,
                "frames": [{"frame": 0, "score": 0.5, "reasons": []}],
            }
        )
    )
    code = main(
        [
            "eval",
            "--format",
            "kitti",
            "--gt",
            str(gt),
            "--results",
            str(res),
            "--seqmap",
            str(seqmap),
            "--class",
            "Car",
            "--json",
        ]
    )
    assert code == 0
    s = json.loads(capsys.readouterr().out)
    for k in (
        "sAMOTA",
        "AMOTA",
        "AMOTP",
        "MOTA",
        "MOTP",
        "IDS",
        "FRAG",
        "FP",
        "FN",
        "IDF1",
        "HOTA",
        "edit_ops",
        "keyframe_ops",
        "review_load",
        "error_coverage",
    ):
        assert k in s
    assert s["review_load"] == 0.5 and s["FP"] == 1
    code = main(
        [
            "eval",
            "--format",
            "kitti",
            "--gt",
            str(gt),
            "--results",
            str(res),
            "--seqmap",
            str(seqmap),
            "--class",
            "Car",
            "--iou",
            "0.7",
        ]
    )
    assert code == 0
    assert "sAMOTA" in capsys.readouterr().out
    assert (
        main(
            [
                "eval",
                "--format",
                "kitti",
                "--gt",
                str(gt),
                "--results",
                str(tmp_path / "nope"),
                "--seqmap",
                str(seqmap),
                "--class",
                "Car",
            ]
        )
        == 1
    )
    assert "nope" in capsys.readouterr().err


def test_review_metrics_window() -> None:
    ev = [IdErrorEvent("a", 1, 10, "IDS"), IdErrorEvent("a", 1, 10, "FRAG"), IdErrorEvent("b", 2, 5, "FRAG")]
    m = review_metrics(ev, {"a": ({11}, 50)})  # sequence b has no queue: left out
    assert (m.error_events, m.covered_events, m.review_load) == (1, 0, 1 / 50)
    assert review_metrics(ev, {"a": ({11}, 50)}, window=1).error_coverage == 1.0
    assert review_metrics([], {"a": (set(), 50)}).error_coverage == 1.0


def test_read_kitti_rows(tmp_path: Path) -> None:
    p = tmp_path / "r.txt"
    p.write_text(row(3, 7, "Car", 1, 2, score=0.5) + "\n")
    r = read_kitti_rows(p)
    assert r.frame.tolist() == [3] and r.types == ("car",) and r.score.tolist() == [0.5]
    seq = kitti_sequence("x", r, r, "Car", 5)
    assert seq.frames[0].similarity[0, 0] == pytest.approx(1.0)


def test_a_box_dropped_for_one_frame_is_a_fragmentation_under_the_same_id(
    tmp_path: Path, kitti_tracking_dev: Path
) -> None:
    seqmap, res = _seq(tmp_path, kitti_tracking_dev, "0003")
    rows = [
        ln.split() + ["1.0"]
        for ln in (kitti_tracking_dev / "label" / "0003.txt").read_text().splitlines()
        if ln.split()[1] != "-1"
    ]
    cars = [r for r in rows if r[2] == "Car" and r[3] == "0"]
    tid = max({r[1] for r in cars}, key=lambda t: sum(r[1] == t for r in cars))
    frames = sorted(int(r[0]) for r in cars if r[1] == tid)
    mid = frames[len(frames) // 2]
    kept = [r for r in rows if not (r[1] == tid and int(r[0]) == mid)]
    (res / "0003.txt").write_text("\n".join(" ".join(r) for r in kept) + "\n")
    rep = evaluate_kitti(kitti_tracking_dev / "label", res, seqmap, "Car")
    s = rep.summary()
    assert (s["IDS"], s["FRAG"], s["FN"]) == (0, 1, 1)
    (ev,) = rep.sweep.base.events
    assert (ev.gt_id, ev.frame, ev.kind, ev.same_id) == (int(tid), mid + 1, "FRAG", True)
    m = review_metrics(rep.sweep.base.events, {"0003": ({mid + 1}, 144)})
    assert (m.error_events, m.covered_events, m.identity_events, m.identity_coverage) == (1, 1, 0, 1.0)


def test_rows_are_ab3dmots_reading_of_the_io_parser(tmp_path: Path, kitti_tracking_dev: Path) -> None:
    """``read_kitti_rows`` is a view of the io parser with AB3DMOT's reading of each field."""
    from fusionlabel.io.kitti_files import read_kitti_labels

    gt = kitti_tracking_dev / "label" / "0000.txt"
    lines = [ln.split() for ln in gt.read_text().splitlines() if ln.strip()]
    r = read_kitti_rows(gt)
    # AB3DMOT's evaluate.py: int(float(.)) for truncated/occluded, lower-case type, score -1 without a column
    assert r.frame.tolist() == [int(f[0]) for f in lines] and r.track_id.tolist() == [int(f[1]) for f in lines]
    assert r.types == tuple(f[2].lower() for f in lines) and "dontcare" in r.types
    assert r.truncated.tolist() == [int(float(f[3])) for f in lines]
    assert r.occluded.tolist() == [int(float(f[4])) for f in lines]
    assert r.truncated.dtype == r.occluded.dtype == np.int64
    assert np.array_equal(r.bbox, np.array([[float(v) for v in f[6:10]] for f in lines]))
    assert np.array_equal(r.hwl, np.array([[float(v) for v in f[10:13]] for f in lines]))
    assert np.array_equal(r.xyz, np.array([[float(v) for v in f[13:16]] for f in lines]))
    assert np.all(r.score == -1.0) and np.all(r.track_id[np.array([t == "dontcare" for t in r.types])] == -1)
    kl = read_kitti_labels(gt)
    assert np.array_equal(r.rotation_y, kl.rotation_y) and len(r.types) == len(kl)
    # an 18th field is the score
    res = tmp_path / "0000.txt"
    res.write_text("\n".join(" ".join([*f, f"{i / 10:.1f}"]) for i, f in enumerate(lines[:20])) + "\n")
    assert read_kitti_rows(res).score.tolist() == [i / 10 for i in range(20)]


def test_read_kitti_rows_errors_name_the_file(tmp_path: Path) -> None:
    obj = tmp_path / "000001.txt"  # an object-detection label (15 fields)
    obj.write_text("Car 0.00 0 -1.57 599.41 156.40 629.75 189.25 2.85 2.63 12.34 0.47 1.49 69.44 -1.56\n")
    with pytest.raises(CorruptFileError, match="000001.txt: not a KITTI tracking file"):
        read_kitti_rows(obj)
    nan = tmp_path / "nan.txt"
    nan.write_text(row(0, 1, "Car", float("nan"), 10, score=1) + "\n")
    with pytest.raises(CorruptFileError, match="nan.txt: a box field is NaN"):
        read_kitti_rows(nan)
    text = tmp_path / "text.txt"
    text.write_text(row(0, 1, "Car", 0, 10).replace(" 1.5 ", " tall ") + "\n")
    with pytest.raises(CorruptFileError, match="text.txt: line 1"):
        read_kitti_rows(text)
    with pytest.raises(CorruptFileError, match="missing.txt"):
        read_kitti_rows(tmp_path / "missing.txt")
