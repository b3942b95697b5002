"""The KITTI tracking export read by a KITTI evaluator (our port of AB3DMOT's, :mod:`fusionlabel.quality.kitti_eval`).

Ground truth exported to KITTI and evaluated against itself must score 100 % with every box that
is visible in the image evaluated: the evaluator ignores ground truth with ``occluded > 2`` or
``int(truncated) > 0`` (``MAX_OCCLUSION``, ``MAX_TRUNCATION``), so a visible box must be written
with a level 0-2 and a truncation below 1. Also: the computed occlusion levels against KITTI's
human levels (real tracking labels) and against the synthetic renderer's exact visibility, and
pre-labels with KITTI's 18th (score) field read back as results.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.edits import mark_proposed
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.occlusion import occlusion_level
from fusionlabel.io.kitti_files import KittiLabels, read_kitti_labels
from fusionlabel.io.label_formats import LabelContext, read_label_file, write_label_file
from fusionlabel.io.open import open_recording
from fusionlabel.quality.evaluation import evaluate_kitti
from fusionlabel.quality.kitti_eval import MAX_OCCLUSION, MAX_TRUNCATION, kitti_sequence, read_kitti_rows

REPO = Path(__file__).resolve().parents[2]
SYNTH = REPO / "sample_data" / "synth_seed0"
CLASSES = ("Car", "Pedestrian", "Cyclist")


def export_gt_and_results(labels: LabelSet, ctx: LabelContext, out: Path) -> tuple[Path, Path, Path, int]:
    """``out/gt/label_02/0000.txt`` (17 fields, DontCare kept), ``out/res/0000.txt`` (the same
    boxes as results: 18 fields) and a seqmap; returns (gt dir, results dir, seqmap, frames)."""
    write_label_file("kitti", out / "gt", labels, replace(ctx, kitti_scores=False))
    write_label_file("kitti", out / "res" / "0000.txt", labels, replace(ctx, kitti_scores=True))
    n = max(labels.frames) + 1
    (out / "seqmap").write_text(f"0000 empty 000000 {n:06d}\n")
    return out / "gt" / "label_02", out / "res", out / "seqmap", n


def fields_per_line(path: Path) -> set[int]:
    return {len(ln.split()) for ln in path.read_text().splitlines() if ln.strip()}


def self_evaluation(
    labels: LabelSet, ctx: LabelContext, out: Path, classes: tuple[str, ...] = CLASSES
) -> dict[str, int]:
    """Export, evaluate against itself per class, check 100 % and that exactly the visible boxes
    are evaluated; returns the number of evaluated boxes per class."""
    gt_dir, res_dir, seqmap, n = export_gt_and_results(labels, ctx, out)
    assert fields_per_line(gt_dir / "0000.txt") == {17}
    assert fields_per_line(res_dir / "0000.txt") == {18}
    gt = read_kitti_labels(gt_dir / "0000.txt")
    real = ~gt.dont_care
    # the evaluator's own reading of the fields: int(float(.)) of truncation, occlusion as is
    visible = real & (gt.truncated < 1.0)
    assert np.all(gt.occluded[visible] <= MAX_OCCLUSION) and np.all(gt.truncated[visible].astype(int) <= MAX_TRUNCATION)
    assert np.all(gt.occluded[real & ~visible] == 3) and np.all(gt.bbox[real & ~visible] == -1.0)
    evaluated = {}
    for cls in classes:
        of_class = np.array([t.lower() == cls.lower() for t in gt.type]) & visible
        if not of_class.any():
            continue
        seq = kitti_sequence(
            "0000", read_kitti_rows(gt_dir / "0000.txt"), read_kitti_rows(res_dir / "0000.txt"), cls, n
        )
        # which ground truth the evaluator ignores: nothing visible of the class
        not_ignored = sum(int((~f.gt_ignored).sum()) for f in seq.frames)
        assert not_ignored == int(of_class.sum()), cls
        r = evaluate_kitti(gt_dir, res_dir, seqmap, cls)
        b, s = r.sweep.best, r.summary()
        assert (b.fp, b.fn, b.ids, b.frag) == (0, 0, 0, 0), cls
        assert b.n_gt == b.tp - b.itp == int(of_class.sum()), cls
        assert s["MOTA"] == 100.0 and s["MOTP"] == 100.0, (cls, s)
        # every point of the recall sweep is perfect; AB3DMOT's threshold picking places all 40
        # only with more than 40 boxes (40 give 39 points: sAMOTA 97.5 %, the evaluator's quirk)
        assert np.allclose([c[2:] for c in r.sweep.curve], 1.0, rtol=0, atol=1e-9), cls
        if b.n_gt > 40:
            assert s["sAMOTA"] == 100.0, (cls, s)
        evaluated[cls] = b.n_gt
    return evaluated


# -- synthetic ground truth --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth() -> tuple[LabelSet, LabelContext]:
    rec = open_recording(SYNTH)
    labels = rec.labels
    assert labels is not None
    return labels, LabelContext.from_recording(rec)


def test_synthetic_sample_self_evaluation_is_perfect(synth: tuple[LabelSet, LabelContext], tmp_path: Path) -> None:
    labels, ctx = synth
    evaluated = self_evaluation(labels, ctx, tmp_path)
    assert evaluated["Car"] >= 50 and evaluated["Pedestrian"] >= 50
    rows = read_kitti_labels(tmp_path / "gt" / "label_02" / "0000.txt")
    # computed, not the old "unknown" filler: every level appears, 3 only outside the picture
    assert set(rows.occluded[rows.truncated < 1].tolist()) == {0, 1, 2}
    assert np.any((rows.truncated > 0) & (rows.truncated < 1))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fusionlabel.synth import generate

    return generate(tmp_path_factory.mktemp("synth") / "seed2", frames=20, seed=2)


def test_generated_seed_self_evaluation_is_perfect(generated: Path, tmp_path: Path) -> None:
    rec = open_recording(generated)
    labels = rec.labels
    assert labels is not None
    evaluated = self_evaluation(labels, LabelContext.from_recording(rec), tmp_path)
    assert sum(evaluated.values()) >= 100


def test_exported_levels_agree_with_the_rendered_camera(generated: Path) -> None:
    """The synthetic camera is a ray caster: an actor's visible pixels in the full scene (with the
    unlabelled buildings, poles, trees and shelters) over its pixels alone is the exact visible
    share of its *mesh*; our levels come from its box and the LiDAR."""
    from fusionlabel.core.occlusion import image_visibility
    from fusionlabel.synth.camera import pixel_rays, render
    from fusionlabel.synth.generate import scenario_of, to_seconds
    from fusionlabel.synth.geometry import build_snapshot, static_mesh

    rec = open_recording(generated)
    labels = rec.labels
    assert labels is not None
    ctx = LabelContext.from_recording(rec)
    _, cam = ctx.kitti_frames()
    assert cam is not None
    sc = scenario_of(20, 2)
    static = static_mesh(sc.structures)
    rays = pixel_rays(cam)
    index = {a.track_id: i for i, a in enumerate(sc.actors)}
    truth, ours = [], []
    for k in range(0, 20, 3):
        tc = to_seconds(rec.frame(k).sensor_timestamps[cam.name])
        T_road_cam = sc.ego.T_road_ego(tc) @ cam.T_ego_cam
        _, inst = render(build_snapshot(sc.actors, tc, static, 400.0, sc.ego.state(tc).x), sc, cam, T_road_cam, rays)
        fl = labels.get(k)
        v = image_visibility(fl.boxes, cam, cam.T_ego_cam.inverse(), ctx.kitti_points(k) if ctx.kitti_points else None)
        for j in np.flatnonzero(v.in_image):
            ai = index[int(fl.track_ids[j])]
            _, alone = render(build_snapshot([sc.actors[ai]], tc, None, None), sc, cam, T_road_cam, rays)
            full = int((alone == 0).sum())
            if full >= 20:  # at least 20 pixels: a level means something
                truth.append(1.0 - int((inst == ai).sum()) / full)
                ours.append(v.level[j])
    t, o = occlusion_level(truth), np.array(ours)
    exact, near = float(np.mean(t == o)), float(np.mean(np.abs(t - o) <= 1))
    print(f"synthetic camera truth: {len(t)} boxes, exact {exact:.3f}, exact or adjacent {near:.3f}")
    assert len(t) >= 40
    assert exact >= 0.7 and near >= 0.95


# -- real KITTI tracking labels ----------------------------------------------------------------------
def kitti_recording(real_data: Path, seq: str):  # type: ignore[no-untyped-def]
    path = real_data / "kitti" / "tracking" / "training" / "label_02" / f"{seq}.txt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    rec = open_recording(path)
    return rec, path


@pytest.mark.parametrize("seq", ["0001", "0016"])
def test_real_kitti_import_export_self_evaluation(real_data: Path, seq: str, tmp_path: Path) -> None:
    rec, _ = kitti_recording(real_data, seq)
    labels = rec.labels
    ctx = LabelContext.from_recording(rec)
    assert ctx.dont_care  # the DontCare regions travel along into the ground truth
    # KITTI's own levels kept: its truncated boxes (levels 1, 2) are ignored, as in KITTI
    kept = self_evaluation_kitti_levels(labels, ctx, tmp_path / "kept")
    # recomputed from the camera: every box (all in the picture) is evaluated
    evaluated = self_evaluation(labels, replace(ctx, recompute_kitti_2d=True), tmp_path / "computed")
    assert evaluated["Car"] >= kept["Car"] > 0


def self_evaluation_kitti_levels(labels: LabelSet, ctx: LabelContext, out: Path) -> dict[str, int]:
    gt_dir, res_dir, seqmap, _ = export_gt_and_results(labels, ctx, out)
    gt = read_kitti_labels(gt_dir / "0000.txt")
    out_counts = {}
    for cls in ("Car", "Pedestrian"):
        r = evaluate_kitti(gt_dir, res_dir, seqmap, cls).sweep.best
        want = np.array([t.lower() == cls.lower() for t in gt.type]) & (gt.truncated < 1) & (gt.occluded <= 2)
        assert (r.fp, r.fn, r.ids) == (0, 0, 0) and r.mota == 1.0
        assert r.n_gt == int(want.sum())
        out_counts[cls] = r.n_gt
    return out_counts


def test_computed_occlusion_against_kittis_human_levels(real_data: Path, tmp_path: Path) -> None:
    """KITTI's occlusion levels were set by people; ours come from the boxes alone (the tracking
    sequences ship no Velodyne scans, so nothing unlabelled occludes). Report the confusion."""
    conf = np.zeros((4, 4), np.int64)  # rows: KITTI's level, columns: ours
    for seq in ("0001", "0016"):
        rec, path = kitti_recording(real_data, seq)
        labels = rec.labels
        ctx = replace(LabelContext.from_recording(rec), recompute_kitti_2d=True)
        out = tmp_path / f"{seq}.txt"
        write_label_file("kitti", out, labels, ctx)
        orig, mine = read_kitti_labels(path), read_kitti_labels(out)

        def key(r: KittiLabels, i: int) -> tuple[int, int]:
            return int(r.frame[i]), int(r.track_id[i])

        ours = {key(mine, i): int(mine.occluded[i]) for i in range(len(mine)) if not mine.dont_care[i]}
        for i in np.flatnonzero(~orig.dont_care):
            conf[orig.occluded[i], ours[key(orig, i)]] += 1
        # the real labels are all in the picture: nothing becomes "unknown" through us
        assert np.all(mine.truncated[~mine.dont_care] < 1)
    human = conf[:3]  # KITTI's level 3 is "unknown": no level to agree with
    n = int(human.sum())
    exact = float(np.trace(human[:, :3])) / n
    adjacent = float(sum(human[a, b] for a in range(3) for b in range(3) if abs(a - b) <= 1)) / n
    print(
        f"KITTI 0001+0016 occlusion, rows KITTI 0-3, columns ours 0-3:\n{conf}\n"
        f"exact {exact:.3f}, exact or adjacent {adjacent:.3f} over {n} boxes"
    )
    assert n > 5000
    assert exact >= 0.55 and adjacent >= 0.93
    assert human[0, 0] / human[0].sum() >= 0.7  # what people saw whole, we mostly see whole
    assert human[2, 2] / human[2].sum() >= 0.7  # and what they saw largely hidden, largely hidden


# -- pre-labels: the score field ---------------------------------------------------------------------
def as_prelabels(labels: LabelSet, seed: int = 0) -> LabelSet:
    rng = np.random.default_rng(seed)
    out = {}
    for k, fl in mark_proposed(labels).frames.items():
        out[k] = FrameLabels(fl.track_ids, fl.categories, fl.boxes, rng.uniform(0.2, 0.99, len(fl)), fl.attributes)
    return LabelSet(out)


def test_prelabels_get_the_score_field_and_read_as_results(
    synth: tuple[LabelSet, LabelContext], tmp_path: Path
) -> None:
    labels, ctx = synth
    pre = as_prelabels(labels)
    gt_dir, _, seqmap, _ = export_gt_and_results(labels, ctx, tmp_path)
    res = tmp_path / "pre" / "0000.txt"
    write_label_file("kitti", res, pre, ctx)  # automatic: proposed boxes with scores
    assert fields_per_line(res) == {18}
    rows = read_kitti_labels(res)
    assert rows.score is not None and not rows.dont_care.any()
    for k, fl in pre.frames.items():
        sel = rows.frame == k
        order = np.argsort(fl.track_ids)
        assert rows.track_id[sel].tolist() == fl.track_ids[order].tolist()
        assert np.allclose(rows.score[sel], fl.scores[order], atol=1e-6)
    # our reader reads both shapes; the scores come back
    back = read_label_file("kitti", res, ctx).labels
    for k, fl in pre.frames.items():
        b = back.get(k)
        assert np.allclose(b.scores[np.argsort(b.track_ids)], fl.scores[np.argsort(fl.track_ids)], atol=1e-6)
    # the evaluator reads them as result scores (a 17-field file would read as -1)
    ev_rows = read_kitti_rows(res)
    assert np.allclose(ev_rows.score, rows.score) and np.all(ev_rows.score > 0)
    r = evaluate_kitti(gt_dir, res.parent, seqmap, "Car")
    assert r.sweep.base.fp == 0 and r.sweep.base.fn == 0 and r.sweep.base.mota == 1.0
    # the sweep's thresholds are the pre-labels' scores
    assert min(t for t, *_ in r.sweep.curve) > 0.2 and r.summary()["sAMOTA"] < 100.0


def test_score_field_rule_and_overrides(synth: tuple[LabelSet, LabelContext], tmp_path: Path) -> None:
    labels, ctx = synth

    def fields(ls: LabelSet, **kw: object) -> set[int]:
        p = tmp_path / "x.txt"
        write_label_file("kitti", p, ls, replace(ctx, **kw))  # type: ignore[arg-type]
        return fields_per_line(p)

    assert fields(labels) == {17}  # ground truth: scores all 1, nothing proposed
    assert fields(labels, kitti_scores=True) == {18}
    assert fields(mark_proposed(labels)) == {18}  # proposed, even with scores of 1
    assert fields(as_prelabels(labels), kitti_scores=False) == {17}
    unscored = LabelSet(
        {
            k: FrameLabels(fl.track_ids, fl.categories, fl.boxes, np.full(len(fl), 0.5), fl.attributes)
            for k, fl in labels.frames.items()
        }
    )
    assert fields(unscored) == {18}  # scores other than 1: a detector's output


# -- the consumer's own tool -------------------------------------------------------------------------
def test_trackeval_reads_the_export(synth: tuple[LabelSet, LabelContext], tmp_path: Path) -> None:
    """TrackEval's KITTI 2D-box evaluation (the HOTA authors' tool; ``pip install trackeval``, not
    a dependency: skipped without it) scores the self-evaluation 100 % with exactly the visible
    Car and Pedestrian boxes as true positives. On 2026-12-07 with trackeval 1.3.0: synthetic
    sample 72 / 60, KITTI 0001 recomputed 2,681 / 112, MOTA and HOTA 100 %."""
    trackeval = pytest.importorskip("trackeval", reason="TrackEval is not installed (pip install trackeval)")
    labels, ctx = synth
    gt, trk = tmp_path / "gt", tmp_path / "trackers" / "ours" / "data"
    write_label_file("kitti", gt, labels, replace(ctx, kitti_scores=False))
    write_label_file("kitti", trk / "0000.txt", labels, replace(ctx, kitti_scores=True))
    (gt / "evaluate_tracking.seqmap.training").write_text(f"0000 empty 000000 {max(labels.frames) + 1:06d}\n")
    quiet = dict.fromkeys(
        (
            "USE_PARALLEL",
            "PRINT_RESULTS",
            "PRINT_CONFIG",
            "OUTPUT_SUMMARY",
            "OUTPUT_DETAILED",
            "PLOT_CURVES",
            "TIME_PROGRESS",
        ),
        False,
    )
    ds = trackeval.datasets.Kitti2DBox(
        {"GT_FOLDER": str(gt), "TRACKERS_FOLDER": str(tmp_path / "trackers"), "PRINT_CONFIG": False}
    )
    res, _ = trackeval.Evaluator(quiet).evaluate([ds], [trackeval.metrics.CLEAR(), trackeval.metrics.HOTA()])
    rows = read_kitti_labels(gt / "label_02" / "0000.txt")
    for cls in ("Car", "Pedestrian"):
        r = res["Kitti2DBox"]["ours"]["COMBINED_SEQ"][cls.lower()]
        visible = int(sum(t == cls and tr < 1 for t, tr in zip(rows.type, rows.truncated)))
        assert r["CLEAR"]["CLR_TP"] == visible > 0 and r["CLEAR"]["CLR_FN"] == r["CLEAR"]["CLR_FP"] == 0
        assert r["CLEAR"]["MOTA"] == 1.0 and float(np.mean(r["HOTA"]["HOTA"])) == pytest.approx(1.0)
