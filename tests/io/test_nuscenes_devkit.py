"""The nuScenes export read by the consumer's own tool: the nuScenes devkit (``nuscenes-devkit``).

An interchange format is proven by its consumer reading it, not by our own reader: every test
here loads the export with ``nuscenes.NuScenes(version, dataroot)`` and checks what the devkit
returns (``get_box``, its category names, its ``LidarPointCloud`` / ``RadarPointCloud`` readers with
``points_in_box``, its ``TrackingEval``) against our labels and recordings. On the synthetic sample
(LiDAR, camera, radar, exact ground truth) and on real data: the Lyft tables (no sensor files) and
the Argoverse 2 log (LiDAR sweeps, tilted ego poses, Argoverse's own point counts).
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("nuscenes", reason="the nuScenes devkit is not installed (pip install nuscenes-devkit)")

from nuscenes.nuscenes import NuScenes
from nuscenes.utils.data_classes import LidarPointCloud, RadarPointCloud
from nuscenes.utils.geometry_utils import points_in_box
from pyquaternion import Quaternion

from fusionlabel.core.boxes import Boxes, wrap_angle
from fusionlabel.core.calibration import Camera
from fusionlabel.core.errors import DataError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.transforms import Transform
from fusionlabel.io.label_formats import (
    LabelContext,
    NuScenesTablesFormat,
    NuScenesTrackingFormat,
    read_label_file,
    sniff_label_format,
)
from fusionlabel.io.nuscenes import canonical_category
from fusionlabel.io.nuscenes_export import (
    CATEGORY_TO_NUSCENES,
    DEFAULT_VERSION,
    LEGACY_TABLES,
    NUSCENES_ATTRIBUTES,
    NUSCENES_CATEGORIES,
    SPLIT_NAME,
    TABLES,
    TRACKING_CLASSES,
    NuScenesExportReport,
    labels_to_nuscenes_tracking,
    nuscenes_attribute,
    nuscenes_category,
    read_nuscenes_tables,
    visibility_tokens,
    write_nuscenes_tables,
    write_nuscenes_tracking,
)
from fusionlabel.io.open import open_recording

REPO = Path(__file__).resolve().parents[2]
SYNTH = REPO / "sample_data" / "synth_seed0"
AV2_LOG = "argoverse2/sensor/val/7fab2350-7eaf-3b7e-a39d-6937a4c1bede"


# -- helpers ------------------------------------------------------------------------------------
class Export:
    """One export: the recording, our labels and context, the dataroot and the devkit's view of it."""

    def __init__(self, rec: Recording, labels: LabelSet, ctx: LabelContext, root: Path, fmt: NuScenesTablesFormat):
        self.rec, self.labels, self.ctx, self.root = rec, labels, ctx, root
        fmt.write(root, labels, ctx)
        assert isinstance(fmt.report, NuScenesExportReport)
        self.report: NuScenesExportReport = fmt.report
        self.nusc = NuScenes(version=DEFAULT_VERSION, dataroot=str(root), verbose=False)


def _export(rec: Recording, root: Path, labels: LabelSet | None = None) -> Export:
    lab = labels if labels is not None else rec.labels
    assert lab is not None
    return Export(rec, lab, LabelContext.from_recording(rec), root, NuScenesTablesFormat())


def _frame_of_sample(nusc: NuScenes, ctx: LabelContext) -> dict[str, int]:
    """sample token -> our frame, by timestamp (the devkit's microseconds), not by our extension keys."""
    by_us = {(int(t) + 500) // 1000: k for k, t in ctx.timestamps_ns.items()}
    return {s["token"]: by_us[s["timestamp"]] for s in nusc.sample}


def _heading(R: np.ndarray) -> float:
    return float(math.atan2(R[1, 0], R[0, 0]))


def assert_devkit_boxes_equal_ours(nusc: NuScenes, labels: LabelSet, ctx: LabelContext, level_poses: bool) -> int:
    """Every ``get_box`` against our box of the same frame (matched by centre, independent of tokens).

    * global frame: ``center = T_world_ego c`` and ``wlh`` to 1e-6; on level ego poses the whole
      orientation ``R_world_ego Rz(yaw)`` to 1e-6;
    * back in the ego frame through the devkit's own transforms (``translate(-t)``,
      ``rotate(q^-1)`` with the sample's LIDAR_TOP ego pose): centre and heading equal ours to 1e-6.
    """
    frame_of = _frame_of_sample(nusc, ctx)
    n = 0
    for s in nusc.sample:
        k = frame_of[s["token"]]
        fl = labels.get(k)
        T = ctx.ego_poses[k]
        ours = T.apply(fl.boxes.center)
        assert len(s["anns"]) == len(fl)
        pose = nusc.get("ego_pose", nusc.get("sample_data", s["data"]["LIDAR_TOP"])["ego_pose_token"])
        assert np.allclose(pose["translation"], T.translation, atol=1e-9)
        used = set()
        for tok in s["anns"]:
            box = nusc.get_box(tok)
            d = np.linalg.norm(ours - box.center, axis=1)
            j = int(np.argmin(d))
            assert d[j] <= 1e-6 and j not in used, (k, tok, d[j])
            used.add(j)
            l, w, h = fl.boxes.size[j]
            assert np.allclose(box.wlh, [w, l, h], atol=1e-6)
            if level_poses:
                R = T.rotation @ Transform.from_yaw(float(fl.boxes.yaw[j])).rotation
                assert np.allclose(box.rotation_matrix, R, atol=1e-6)
            # the devkit's own global -> ego transform
            box.translate(-np.array(pose["translation"]))
            box.rotate(Quaternion(pose["rotation"]).inverse)
            assert np.allclose(box.center, fl.boxes.center[j], atol=1e-6)
            assert abs(float(wrap_angle(_heading(box.rotation_matrix) - fl.boxes.yaw[j]))) <= 1e-6
            n += 1
    assert n == labels.num_boxes == len(nusc.sample_annotation)
    return n


def devkit_point_counts(nusc: NuScenes) -> dict[str, tuple[int, int]]:
    """annotation token -> (LiDAR, radar) points inside ``get_box``, counted the devkit's way.

    Each key-frame LiDAR / radar file is read with the devkit's ``LidarPointCloud`` /
    ``RadarPointCloud`` and moved to the global frame with its ``calibrated_sensor`` and
    ``ego_pose`` rows. The points are made float64 first: the devkit's clouds are float32, and
    ``rotate``/``translate`` on a float32 cloud round global coordinates (hundreds of metres) to
    ~3e-5 m, which flips points lying on a box face (synthetic ground returns on box bottoms).
    """
    out: dict[str, tuple[int, int]] = {}
    for s in nusc.sample:
        pts: dict[str, list[np.ndarray]] = {"lidar": [], "radar": []}
        for sd_tok in s["data"].values():
            sd = nusc.get("sample_data", sd_tok)
            mod = sd["sensor_modality"]
            if mod not in pts:
                continue
            cls = LidarPointCloud if mod == "lidar" else RadarPointCloud
            pc = cls.from_file(nusc.get_sample_data_path(sd_tok))
            pc.points = pc.points.astype(np.float64)
            cs = nusc.get("calibrated_sensor", sd["calibrated_sensor_token"])
            pose = nusc.get("ego_pose", sd["ego_pose_token"])
            pc.rotate(Quaternion(cs["rotation"]).rotation_matrix)
            pc.translate(np.array(cs["translation"]))
            pc.rotate(Quaternion(pose["rotation"]).rotation_matrix)
            pc.translate(np.array(pose["translation"]))
            pts[mod].append(pc.points[:3])
        for tok in s["anns"]:
            box = nusc.get_box(tok)
            out[tok] = (
                sum(int(points_in_box(box, p).sum()) for p in pts["lidar"]),
                sum(int(points_in_box(box, p).sum()) for p in pts["radar"]),
            )
    return out


def run_tracking_eval(root: Path, results: Path, out: Path) -> dict[str, Any]:
    """The devkit's own ``TrackingEval`` on the export's custom split; its serialized metrics."""
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.tracking.evaluate import TrackingEval

    ev = TrackingEval(
        config=config_factory("tracking_nips_2019"),
        result_path=str(results),
        eval_set=SPLIT_NAME,
        output_dir=str(out),
        nusc_version=DEFAULT_VERSION,
        nusc_dataroot=str(root),
        verbose=False,
    )
    metrics, _ = ev.evaluate()
    return metrics.serialize()  # type: ignore[no-any-return]


def gt_with_points(exp: Export) -> LabelSet:
    """Our labels without the boxes the devkit drops from the ground truth (no LiDAR or radar point)."""
    frame_of = _frame_of_sample(exp.nusc, exp.ctx)
    ann = {a["token"]: a for a in exp.nusc.sample_annotation}
    keep: dict[int, FrameLabels] = {}
    for s in exp.nusc.sample:
        k = frame_of[s["token"]]
        fl = exp.labels.get(k)
        g = exp.ctx.ego_poses[k].apply(fl.boxes.center)
        mask = np.ones(len(fl), dtype=bool)
        for tok in s["anns"]:
            a = ann[tok]
            if a["num_lidar_pts"] + a["num_radar_pts"] == 0:
                mask[int(np.argmin(np.linalg.norm(g - np.array(a["translation"]), axis=1)))] = False
        keep[k] = fl.select(mask)
    return LabelSet(keep)


# -- the synthetic sample -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Export:
    return _export(open_recording(SYNTH), tmp_path_factory.mktemp("nus_synth") / "dataroot")


def test_synthetic_export_is_a_complete_version_folder(synth: Export) -> None:
    nusc, root = synth.nusc, synth.root
    vdir = root / DEFAULT_VERSION
    assert sorted(p.stem for p in vdir.glob("*.json")) == sorted([*TABLES, "splits"])
    assert json.loads((vdir / "splits.json").read_text()) == {SPLIT_NAME: [synth.ctx.name]}
    assert not synth.report.problems
    assert synth.report.num_lidar_pts_from == {"recording": 482, "labels": 0, "none": 0}
    # every table loaded by the devkit, with the sizes of the recording
    assert len(nusc.scene) == len(nusc.log) == len(nusc.map) == 1
    assert len(nusc.sample) == len(synth.rec) == 20
    assert len(nusc.sample_annotation) == synth.labels.num_boxes == 482
    assert len(nusc.instance) == len(synth.labels.track_ids) == 26
    assert {c["name"] for c in nusc.category} == set(NUSCENES_CATEGORIES)
    assert {a["name"] for a in nusc.attribute} == set(NUSCENES_ATTRIBUTES)
    assert [v["level"] for v in nusc.visibility] == ["v0-40", "v40-60", "v60-80", "v80-100"]
    assert {(s["channel"], s["modality"]) for s in nusc.sensor} == {
        ("LIDAR_TOP", "lidar"),
        ("CAM_FRONT", "camera"),
        ("RADAR_FRONT", "radar"),
    }
    # one key frame per sensor per sample; every file is there and in the devkit's format
    assert len(nusc.sample_data) == 60 and synth.report.files == 60
    for s in nusc.sample:
        assert set(s["data"]) == {"LIDAR_TOP", "CAM_FRONT", "RADAR_FRONT"}
    for sd in nusc.sample_data:
        p = Path(nusc.get_sample_data_path(sd["token"]))
        assert p.is_file() and p.resolve().is_relative_to(root.resolve()) == (sd["sensor_modality"] != "camera")
        assert sd["filename"].startswith(f"samples/{sd['channel']}/")
    cam = nusc.get(
        "calibrated_sensor", nusc.get("sample_data", nusc.sample[0]["data"]["CAM_FRONT"])["calibrated_sensor_token"]
    )
    assert np.allclose(cam["camera_intrinsic"], synth.rec.rig.cameras["cam_front"].K)
    lidar_file = nusc.get_sample_data_path(nusc.sample[5]["data"]["LIDAR_TOP"])
    assert LidarPointCloud.from_file(lidar_file).points.shape[1] == len(synth.rec.frame(5).lidar["lidar_top"])


def test_synthetic_boxes_equal_ours(synth: Export) -> None:
    assert assert_devkit_boxes_equal_ours(synth.nusc, synth.labels, synth.ctx, level_poses=True) == 482


def test_synthetic_categories_and_attributes(synth: Export) -> None:
    nusc = synth.nusc
    frame_of = _frame_of_sample(synth.nusc, synth.ctx)
    attr_name = {a["token"]: a["name"] for a in nusc.attribute}
    expected = {
        "Car": "vehicle.car",
        "Truck": "vehicle.truck",
        "Pedestrian": "human.pedestrian.adult",
        "Cyclist": "vehicle.bicycle",
    }
    seen_attrs: set[str] = set()
    checked = 0
    for s in nusc.sample:
        fl = synth.labels.get(frame_of[s["token"]])
        g = synth.ctx.ego_poses[frame_of[s["token"]]].apply(fl.boxes.center)
        for tok in s["anns"]:
            a = nusc.get("sample_annotation", tok)
            j = int(np.argmin(np.linalg.norm(g - np.array(a["translation"]), axis=1)))
            assert a["category_name"] == expected[fl.categories[j]]
            names = [attr_name[t] for t in a["attribute_tokens"]]
            assert len(names) <= 1
            if not names:
                continue
            seen_attrs.add(names[0])
            group = {"vehicle.car": "vehicle.", "vehicle.truck": "vehicle.", "vehicle.bicycle": "cycle."}.get(
                a["category_name"], "pedestrian."
            )
            assert names[0].startswith(group)
            if fl.categories[j] == "Cyclist":
                assert names[0] == "cycle.with_rider"
            # moving / not moving agrees with the generator's true speed (away from the threshold)
            v_true = float(np.hypot(*fl.attributes[j]["velocity"]))
            if abs(v_true - 0.5) > 0.2 and group != "cycle.":
                assert names[0].endswith(".moving") == (v_true > 0.5), (names[0], v_true)
                checked += 1
    assert checked > 300
    assert {"vehicle.moving", "vehicle.parked", "pedestrian.moving", "cycle.with_rider"} <= seen_attrs


def test_synthetic_point_counts_match_devkit_and_generator(synth: Export) -> None:
    counts = devkit_point_counts(synth.nusc)
    anns = synth.nusc.sample_annotation
    assert len(counts) == len(anns) == 482
    for a in anns:
        assert (a["num_lidar_pts"], a["num_radar_pts"]) == counts[a["token"]], a["token"]
        assert a["fusionlabel_num_lidar_pts_from"] == "recording"
        # the generator's own count of the returns it cast on the object
        assert a["num_lidar_pts"] == a["fusionlabel_attributes"]["num_lidar_points"]
    lidar = np.array([a["num_lidar_pts"] for a in anns])
    radar = np.array([a["num_radar_pts"] for a in anns])
    assert (lidar > 0).mean() > 0.5 and lidar.max() > 1000 and (radar > 0).sum() > 20


def test_synthetic_links_and_counts_are_consistent(synth: Export) -> None:
    nusc = synth.nusc
    scene = nusc.scene[0]
    chain = [scene["first_sample_token"]]
    while nusc.get("sample", chain[-1])["next"]:
        nxt = nusc.get("sample", chain[-1])["next"]
        assert nusc.get("sample", nxt)["prev"] == chain[-1]
        chain.append(nxt)
    assert chain[-1] == scene["last_sample_token"] and len(chain) == scene["nbr_samples"] == 20
    times = [nusc.get("sample", t)["timestamp"] for t in chain]
    assert times == sorted(times) and len(set(times)) == 20
    for inst in nusc.instance:
        toks = [inst["first_annotation_token"]]
        while nusc.get("sample_annotation", toks[-1])["next"]:
            nxt = nusc.get("sample_annotation", toks[-1])["next"]
            assert nusc.get("sample_annotation", nxt)["prev"] == toks[-1]
            toks.append(nxt)
        assert toks[-1] == inst["last_annotation_token"] and len(toks) == inst["nbr_annotations"]
        assert {nusc.get("sample_annotation", t)["instance_token"] for t in toks} == {inst["token"]}
    for channel in ("LIDAR_TOP", "CAM_FRONT", "RADAR_FRONT"):
        rows = sorted((sd for sd in nusc.sample_data if sd["channel"] == channel), key=lambda r: r["timestamp"])
        for a, b in itertools.pairwise(rows):
            assert a["next"] == b["token"] and b["prev"] == a["token"]
        assert rows[0]["prev"] == rows[-1]["next"] == ""
    assert sum(i["nbr_annotations"] for i in nusc.instance) == len(nusc.sample_annotation)
    # the devkit's own per-annotation velocity (prev/next) works on the links
    v = nusc.box_velocity(nusc.sample_annotation[0]["token"])
    assert v.shape == (3,) and np.all(np.isfinite(v))


def test_synthetic_visibility_levels(synth: Export) -> None:
    vis = [a["visibility_token"] for a in synth.nusc.sample_annotation]
    assert set(vis) <= {"1", "2", "3", "4"} and {"1", "4"} <= set(vis)
    # boxes behind the car, out of the front camera's view, are level 1 (0-40 %)
    for a in synth.nusc.sample_annotation:
        k = _frame_of_sample(synth.nusc, synth.ctx)[a["sample_token"]]
        c = synth.ctx.ego_poses[k].inverse().apply(np.array([a["translation"]]))[0]
        if c[0] < -3.0:
            assert a["visibility_token"] == "1"


def test_visibility_rule() -> None:
    cam = Camera(
        "cam",
        K=[[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]],
        width=640,
        height=480,
        T_ego_cam=Transform.from_rt([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], [0, 0, 1.5]),  # optical frame, looking +x
    )
    boxes = Boxes.from_array(
        [
            [10, 0, 1, 4, 2, 1.6, 0],  # in full view
            [20, 0, 1, 4, 2, 1.6, 0],  # right behind the first one: hidden
            [-10, 0, 1, 4, 2, 1.6, 0],  # behind the camera
            [15, 2.1, 1, 4, 2, 1.6, 0],  # half behind the first one
        ]
    )
    full, hidden, behind, partly = visibility_tokens(boxes, [cam])
    assert (full, hidden, behind) == ("4", "1", "1") and partly in ("2", "3")
    assert visibility_tokens(boxes, []) == [""] * 4


def test_tracking_eval_on_synthetic(synth: Export, tmp_path: Path) -> None:
    # ground truth (the boxes the devkit keeps of it) as tracking results: perfect
    gt = tmp_path / "gt_results.json"
    fmt = NuScenesTrackingFormat()
    fmt.write(gt, gt_with_points(synth), synth.ctx)
    assert fmt.left_out == 0 and fmt.sniff(gt) and not NuScenesTablesFormat().sniff(gt)
    doc = json.loads(gt.read_text())
    assert set(doc["results"]) == {s["token"] for s in synth.nusc.sample}  # the tables' sample tokens
    names = {r["tracking_name"] for rows in doc["results"].values() for r in rows}
    assert names <= set(TRACKING_CLASSES.values()) and names == {"car", "truck", "pedestrian", "bicycle"}
    inst = {i["token"] for i in synth.nusc.instance}
    assert {r["tracking_id"] for rows in doc["results"].values() for r in rows} <= inst
    m = run_tracking_eval(synth.root, gt, tmp_path / "eval_gt")
    assert m["amota"] == pytest.approx(1.0) and m["motar"] == pytest.approx(1.0)
    assert m["recall"] == pytest.approx(1.0) and m["amotp"] < 1e-5
    assert m["ids"] == m["fp"] == m["fn"] == 0
    for cls in ("car", "truck", "pedestrian", "bicycle"):
        assert m["label_metrics"]["amota"][cls] == pytest.approx(1.0)

    # our pre-labels (geometric detector + tracker): finite metrics, below the ground truth
    from fusionlabel.pipeline.prelabel import prelabel

    pre = prelabel(synth.rec, "geometric").labels
    res = tmp_path / "prelabels.json"
    write_nuscenes_tracking(res, pre, synth.ctx.timestamps_ns, synth.ctx.ego_poses, synth.ctx.name)
    m = run_tracking_eval(synth.root, res, tmp_path / "eval_pre")
    for key in ("amota", "amotp", "recall", "motar", "mota", "motp"):
        assert math.isfinite(m[key]), key
    assert 0.0 < m["amota"] < 1.0 and 0.0 < m["recall"] < 1.0 and m["tp"] > 0


def test_tracking_results_read_back(synth: Export, tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    NuScenesTrackingFormat().write(path, synth.labels, synth.ctx)
    back = NuScenesTrackingFormat().read(path, synth.ctx)
    assert sorted(back.labels.frames) == sorted(synth.labels.frames)
    for k, fl in synth.labels.frames.items():
        fb = back.labels.get(k)
        ia, ib = np.argsort(fl.track_ids), np.argsort(fb.track_ids)
        assert fl.track_ids[ia].tolist() == fb.track_ids[ib].tolist()
        assert [fl.categories[i] for i in ia] == [fb.categories[i] for i in ib]
        d = fl.boxes.to_array()[ia] - fb.boxes.to_array()[ib]
        d[:, 6] = wrap_angle(d[:, 6])
        assert np.abs(d).max() < 1e-9
        assert np.allclose(fl.scores[ia], fb.scores[ib])
    with pytest.raises(DataError, match="give the recording"):
        NuScenesTrackingFormat().read(path, LabelContext())
    with pytest.raises(DataError, match="written for recording"):
        NuScenesTrackingFormat().read(path, replace(synth.ctx, name="another recording"))
    doc = json.loads(path.read_text())
    del doc["meta"]["fusionlabel"]
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="not a sample of"):
        NuScenesTrackingFormat().read(path, replace(synth.ctx, name="another recording"))


def test_tracking_results_leave_out_classes_without_tracking_name(synth: Export) -> None:
    fl = synth.labels.get(0)
    relabelled = LabelSet({0: FrameLabels(fl.track_ids, ("Tram",) * len(fl), fl.boxes)})
    doc, left_out = labels_to_nuscenes_tracking(relabelled, synth.ctx.timestamps_ns, synth.ctx.ego_poses, "x")
    assert left_out == len(fl) and sum(len(r) for r in doc["results"].values()) == 0
    assert len(doc["results"]) == 20 and doc["meta"]["use_lidar"] is True
    bad = LabelSet({0: FrameLabels(fl.track_ids, fl.categories, fl.boxes, np.full(len(fl), 3.0))})
    with pytest.raises(ValueError, match="outside"):
        labels_to_nuscenes_tracking(bad, synth.ctx.timestamps_ns, synth.ctx.ego_poses, "x")


# -- import: new layout, old layout, other tools' tables -----------------------------------------
def _same(a: LabelSet, b: LabelSet, atol: float, attrs: bool = True) -> None:
    assert sorted(a.frames) == sorted(b.frames)
    for k in a.frames:
        fa, fb = a.get(k), b.get(k)
        ia, ib = np.argsort(fa.track_ids), np.argsort(fb.track_ids)
        assert fa.track_ids[ia].tolist() == fb.track_ids[ib].tolist()
        assert [fa.categories[i] for i in ia] == [fb.categories[i] for i in ib]
        d = fa.boxes.to_array()[ia] - fb.boxes.to_array()[ib]
        d[:, 6] = wrap_angle(d[:, 6])
        assert np.abs(d).max() <= atol
        if attrs:
            assert [dict(fa.attributes[i]) for i in ia] == [dict(fb.attributes[i]) for i in ib]


def test_import_reads_the_new_and_the_old_layout(synth: Export, tmp_path: Path) -> None:
    vdir = synth.root / DEFAULT_VERSION
    for path in (synth.root, vdir):  # the dataroot or its version folder
        assert sniff_label_format(path) == "nuscenes"
        back = read_label_file("nuscenes", path)
        _same(synth.labels, back.labels, 1e-9)
        assert back.timestamps_ns == {k: synth.ctx.timestamps_ns[k] for k in synth.ctx.timestamps_ns}
    # the older layout: six flat tables, the sample rows carrying their ego_pose_token
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in LEGACY_TABLES:
        shutil.copy(vdir / f"{name}.json", flat / f"{name}.json")
    assert sniff_label_format(flat) == "nuscenes"
    _same(synth.labels, read_label_file("nuscenes", flat).labels, 1e-9)
    # two version folders: the choice is asked for, not guessed
    shutil.copytree(vdir, synth.root.parent / "two" / "v1.0-a")
    shutil.copytree(vdir, synth.root.parent / "two" / "v1.0-b")
    with pytest.raises(DataError, match="several nuScenes versions"):
        read_nuscenes_tables(synth.root.parent / "two")
    _same(synth.labels, read_nuscenes_tables(synth.root.parent / "two", version="v1.0-b")[0], 1e-9)


def test_import_of_tables_without_our_extensions(synth: Export, tmp_path: Path) -> None:
    """Tables as another tool writes them: nuScenes names, poses only through sample_data."""
    vdir = tmp_path / "foreign" / "v1.0-other"
    shutil.copytree(synth.root / DEFAULT_VERSION, vdir)
    for name in TABLES:
        rows = json.loads((vdir / f"{name}.json").read_text())
        rows = [
            {
                k: v
                for k, v in r.items()
                if (not k.startswith("fusionlabel_") and k != "ego_pose_token")
                or (name == "sample_data" and k == "ego_pose_token")
            }
            for r in rows
        ]
        (vdir / f"{name}.json").write_text(json.dumps(rows))
    labels, times = read_nuscenes_tables(tmp_path / "foreign")
    assert sorted(times) == list(range(20))
    assert labels.num_boxes == 482
    ours = synth.labels
    for k in ours.frames:
        fa, fb = ours.get(k), labels.get(k)
        g = fb.boxes.center
        for j in range(len(fa)):
            i = int(np.argmin(np.linalg.norm(g - fa.boxes.center[j], axis=1)))
            assert np.allclose(fb.boxes.to_array()[i, :6], fa.boxes.to_array()[j, :6], atol=1e-9)
            assert fb.categories[i] == fa.categories[j]  # vehicle.car -> Car ... through the reverse map
            assert fb.attributes[i]["source_category"] == CATEGORY_TO_NUSCENES[fa.categories[j]]
            assert fb.attributes[i]["visibility"] in ("v0-40", "v40-60", "v60-80", "v80-100")
    assert sorted(labels.track_ids.tolist()) == list(range(1, 27))


def test_cli_export_and_import(tmp_path: Path) -> None:
    from fusionlabel.cli import main

    out = tmp_path / "nus"
    assert (
        main(
            ["export", "--format", "nuscenes", str(SYNTH / "labels.json"), "--recording", str(SYNTH), "--out", str(out)]
        )
        == 0
    )
    nusc = NuScenes(version=DEFAULT_VERSION, dataroot=str(out), verbose=False)
    assert len(nusc.sample_annotation) == 482 and nusc.scene[0]["name"] == SYNTH.name
    assert main(["import", "--format", "nuscenes", str(out), "--out", str(tmp_path / "back.json")]) == 0
    rec = open_recording(SYNTH)
    labels = rec.labels
    assert labels is not None
    from fusionlabel.io.native_labels import read_labels

    _same(labels, read_labels(tmp_path / "back.json"), 1e-9)


def test_export_reopens_as_a_recording(synth: Export) -> None:
    rec = open_recording(synth.root)
    assert rec.format == "nuscenes" and rec.reference == "LIDAR_TOP" and len(rec) == 20 and not rec.problems
    orig = synth.rec.frame(7)
    frame = rec.frame(7)
    assert np.array_equal(frame.lidar["LIDAR_TOP"].xyz, orig.lidar["lidar_top"].xyz)
    assert np.allclose(frame.radar["RADAR_FRONT"].xyz, orig.radar["radar_front"].xyz, atol=1e-5)
    assert np.allclose(frame.radar["RADAR_FRONT"].radial_velocity, orig.radar["radar_front"].radial_velocity, atol=1e-5)
    assert np.array_equal(frame.image("CAM_FRONT"), orig.image("cam_front"))
    labels = rec.labels
    assert labels is not None and labels.category_counts() == synth.labels.category_counts()


def test_export_is_deterministic_and_version_configurable(synth: Export, tmp_path: Path) -> None:
    fmt = NuScenesTablesFormat(version="v1.0-mine", copy_images=True)
    fmt.write(tmp_path / "a", synth.labels, synth.ctx)
    fmt.write(tmp_path / "b", synth.labels, synth.ctx)
    for name in TABLES:
        a = (tmp_path / "a" / "v1.0-mine" / f"{name}.json").read_bytes()
        assert a == (tmp_path / "b" / "v1.0-mine" / f"{name}.json").read_bytes(), name
        assert a == (synth.root / DEFAULT_VERSION / f"{name}.json").read_bytes(), name
    img = next((tmp_path / "a" / "samples" / "CAM_FRONT").iterdir())
    assert img.is_file() and not img.is_symlink()
    nusc = NuScenes(version="v1.0-mine", dataroot=str(tmp_path / "a"), verbose=False)
    assert len(nusc.sample) == 20
    with pytest.raises(ValueError, match="version name"):
        write_nuscenes_tables(
            tmp_path / "c", synth.labels, synth.ctx.timestamps_ns, synth.ctx.ego_poses, version="../x"
        )


def test_export_without_poses(synth: Export, tmp_path: Path) -> None:
    ctx = replace(synth.ctx, ego_poses={})
    with pytest.raises(DataError, match="no ego pose"):
        NuScenesTablesFormat().write(tmp_path / "refused", synth.labels, ctx)
    assert not (tmp_path / "refused").exists()
    # explicitly: the recording has no poses, so the global frame is each frame's ego frame
    fmt = NuScenesTablesFormat(identity_pose=True)
    fmt.write(tmp_path / "identity", synth.labels, ctx)
    nusc = NuScenes(version=DEFAULT_VERSION, dataroot=str(tmp_path / "identity"), verbose=False)
    assert all(
        p["translation"] == [0.0, 0.0, 0.0] and p["rotation"] == [1.0, 0.0, 0.0, 0.0]
        for p in nusc.ego_pose
        if p["token"] in {sd["ego_pose_token"] for sd in nusc.sample_data if sd["channel"] == "LIDAR_TOP"}
    )
    identity = replace(ctx, ego_poses=dict.fromkeys(ctx.timestamps_ns, Transform.identity()))
    assert assert_devkit_boxes_equal_ours(nusc, synth.labels, identity, level_poses=True) == 482
    with pytest.raises(DataError, match="identity_pose"):
        NuScenesTablesFormat(identity_pose=True).write(tmp_path / "both", synth.labels, synth.ctx)


# -- categories ---------------------------------------------------------------------------------
def test_category_mapping_both_ways() -> None:
    for ours in ("Car", "Truck", "Bus", "Pedestrian", "Cyclist", "Motorcycle"):
        assert nuscenes_category(ours) in NUSCENES_CATEGORIES
        assert canonical_category(nuscenes_category(ours)) == ours
    assert nuscenes_category("Van") == "vehicle.car"  # nuScenes counts vans as cars (one-way)
    for ours in ("Tram", "Misc", "BOLLARD"):
        assert nuscenes_category(ours) == f"fusionlabel.{ours}"
        assert canonical_category(nuscenes_category(ours)) == ours
    # a dataset's finer class survives where it agrees with the label
    assert nuscenes_category("Pedestrian", {"source_category": "human.pedestrian.child"}) == "human.pedestrian.child"
    assert nuscenes_category("Car", {"source_category": "human.pedestrian.child"}) == "vehicle.car"
    assert nuscenes_category("Bus", {"source_category": "ARTICULATED_BUS"}) == "vehicle.bus.bendy"
    assert nuscenes_category("Misc", {"source_category": "VEHICULAR_TRAILER"}) == "vehicle.trailer"
    assert (
        nuscenes_category("CONSTRUCTION_CONE", {"source_category": "CONSTRUCTION_CONE"}) == "movable_object.trafficcone"
    )
    # attributes
    assert nuscenes_attribute("vehicle.car", "Car", 3.0, 3.0) == "vehicle.moving"
    assert nuscenes_attribute("vehicle.car", "Car", 0.1, 3.0) == "vehicle.stopped"
    assert nuscenes_attribute("vehicle.car", "Car", 0.1, 0.2) == "vehicle.parked"
    assert nuscenes_attribute("vehicle.car", "Car", math.nan, math.nan) is None
    assert nuscenes_attribute("human.pedestrian.adult", "Pedestrian", 1.2, 1.2) == "pedestrian.moving"
    assert nuscenes_attribute("human.pedestrian.adult", "Pedestrian", 0.0, 1.2) == "pedestrian.standing"
    assert nuscenes_attribute("vehicle.bicycle", "Cyclist", math.nan, math.nan) == "cycle.with_rider"
    assert nuscenes_attribute("vehicle.motorcycle", "Motorcycle", 0.0, 0.0) == "cycle.without_rider"
    assert (
        nuscenes_attribute("vehicle.bicycle", "Cyclist", 0.0, 0.0, {"source_category": "BICYCLE"})
        == "cycle.without_rider"
    )
    assert nuscenes_attribute("vehicle.car", "Car", 3.0, 3.0, {"attributes": ["vehicle.parked"]}) == "vehicle.parked"
    assert nuscenes_attribute("movable_object.trafficcone", "x", 0.0, 0.0) is None


# -- real data ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lyft(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Export:
    return _export(open_recording(real_data / "lyft_nuscenes_schema"), tmp_path_factory.mktemp("nus_lyft"))


@pytest.fixture(scope="module")
def av2(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Export:
    return _export(open_recording(real_data / AV2_LOG), tmp_path_factory.mktemp("nus_av2"))


def test_lyft_tables_export_loads_in_devkit(lyft: Export, real_data: Path) -> None:
    nusc = lyft.nusc
    assert len(nusc.sample) == 1 and len(nusc.sample_annotation) == 4
    assert {a["category_name"] for a in nusc.sample_annotation} == {"vehicle.car"}
    assert_devkit_boxes_equal_ours(lyft.nusc, lyft.labels, lyft.ctx, level_poses=False)
    # the source's annotations, global frame, are what the devkit returns for ours
    src = {
        a["token"]: a
        for a in json.loads((real_data / "lyft_nuscenes_schema/v1.01-train/sample_annotation.json").read_text())
    }
    for a in nusc.sample_annotation:
        s = src[a["fusionlabel_attributes"]["annotation_token"]]
        box = nusc.get_box(a["token"])
        assert np.allclose(box.center, s["translation"], atol=1e-6) and np.allclose(box.wlh, s["size"], atol=1e-9)
        assert (
            abs(float(wrap_angle(_heading(box.rotation_matrix) - _heading(Quaternion(s["rotation"]).rotation_matrix))))
            < 1e-6
        )
    # all ten channels are there; their files are not on disk (the sample ships tables only): said so
    assert {sd["channel"] for sd in nusc.sample_data} == {
        s["channel"] for s in json.loads((real_data / "lyft_nuscenes_schema/v1.01-train/sensor.json").read_text())
    }
    assert any("not readable" in p for p in lyft.report.problems)
    assert all(
        a["num_lidar_pts"] == -1 and a["fusionlabel_num_lidar_pts_from"] == "none" for a in nusc.sample_annotation
    )
    _same(lyft.labels, read_label_file("nuscenes", lyft.root).labels, 1e-9)


def test_argoverse2_export_loads_in_devkit_with_point_counts(av2: Export, tmp_path: Path) -> None:
    nusc = av2.nusc
    assert len(nusc.sample) == 2 and len(nusc.sample_annotation) == av2.labels.num_boxes == 162
    assert not av2.report.problems
    # tilted real ego poses: centre, size, and the heading carried through the devkit's transform
    assert_devkit_boxes_equal_ours(av2.nusc, av2.labels, av2.ctx, level_poses=False)
    cats = {a["category_name"] for a in nusc.sample_annotation}
    assert {
        "vehicle.car",
        "human.pedestrian.adult",
        "vehicle.bicycle",
        "human.pedestrian.stroller",
        "movable_object.trafficcone",
        "fusionlabel.BOLLARD",
    } <= cats
    # point counts: the devkit's count on its own LidarPointCloud, exactly
    counts = devkit_point_counts(nusc)
    lidar = np.array([a["num_lidar_pts"] for a in nusc.sample_annotation])
    assert [(a["num_lidar_pts"], a["num_radar_pts"]) for a in nusc.sample_annotation] == [
        counts[a["token"]] for a in nusc.sample_annotation
    ]
    assert (lidar > 0).sum() > 100 and all(a["num_radar_pts"] == 0 for a in nusc.sample_annotation)  # no radar
    # and Argoverse's own count of the same sweep agrees on which boxes hold points
    theirs = np.array([a["fusionlabel_attributes"]["num_interior_pts"] for a in nusc.sample_annotation])
    assert np.mean((lidar > 0) == (theirs > 0)) > 0.98
    assert np.corrcoef(lidar, theirs)[0, 1] > 0.95
    # the devkit's tracking evaluation: ground truth against itself is perfect
    res = tmp_path / "gt.json"
    NuScenesTrackingFormat().write(res, gt_with_points(av2), av2.ctx)
    m = run_tracking_eval(av2.root, res, tmp_path / "eval")
    assert m["amota"] == pytest.approx(1.0) and m["ids"] == m["fp"] == m["fn"] == 0


def test_radar_files_read_by_the_devkit_and_by_us(tmp_path: Path) -> None:
    from fusionlabel.io.nuscenes_sensors import _write_radar_pcd
    from fusionlabel.io.pcd import read_radar_pcd

    xyz = np.array([[10.0, 2.0, 0.5], [30.0, -5.0, 1.0], [0.0, 0.0, 2.0]], dtype=np.float32)
    vr = np.array([-3.0, 1.5, 0.0])
    _write_radar_pcd(tmp_path / "r.pcd", xyz, vr, np.array([10.0, np.nan, -5.0]))
    pc = RadarPointCloud.from_file(str(tmp_path / "r.pcd"))  # the devkit's default filters keep all
    assert pc.points.shape == (18, 3) and np.allclose(pc.points[:3].T, xyz)
    assert np.allclose(pc.points[5], [10.0, 0.0, -5.0])  # rcs; unknown written as 0
    det = read_radar_pcd(tmp_path / "r.pcd")
    assert np.allclose(det.xyz, xyz) and np.allclose(det.radial_velocity, vr, atol=1e-5)
    # no detections: nuScenes' empty-sweep marker, which the devkit reads as an empty cloud
    _write_radar_pcd(tmp_path / "e.pcd", np.zeros((0, 3), np.float32), np.zeros(0), np.zeros(0))
    assert RadarPointCloud.from_file(str(tmp_path / "e.pcd")).points.shape == (18, 0)
