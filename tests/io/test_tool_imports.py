"""The labelling tools' formats (fusionlabel/io/tools/): round trips through our export, the tools'
own file layouts written by hand from their specifications, sniffing, and all-or-nothing errors
that name file, frame and field."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.io.label_formats import (
    TOOL_FORMATS,
    LabelContext,
    frame_labels_equal,
    get_format,
    sniff_label_format,
)
from fusionlabel.io.open import SAMPLE, open_recording

TOOLS = [c.name for c in TOOL_FORMATS]
#: where each export goes, relative to tmp_path (a file for segments, folders for the others)
OUT = {"segments": "release.json"}


@pytest.fixture(scope="module")
def sample():
    rec = open_recording(SAMPLE)
    labels = rec.labels
    # tilt a few boxes (rotation_x / rotation_y): they must come back as they went
    frames = dict(labels.frames)
    fl = frames[3]
    attrs = [dict(a) for a in fl.attributes]
    attrs[0].update(rotation_x=0.05, rotation_y=-0.03)
    frames[3] = FrameLabels(fl.track_ids, fl.categories, fl.boxes, fl.scores, attrs)
    return rec, LabelSet(frames)


def _same(a: LabelSet, b: LabelSet, atol: float = 1e-9, attributes: bool = True) -> None:
    assert sorted(a.frames) == sorted(b.frames)
    for k in a.frames:
        fa, fb = a.frames[k], b.frames[k]
        assert frame_labels_equal(fa, fb, atol), f"frame {k}"
        if attributes:
            ia, ib = np.argsort(fa.track_ids), np.argsort(fb.track_ids)
            for i, j in zip(ia, ib):
                da, db = dict(fa.attributes[i]), dict(fb.attributes[j])
                for key in ("rotation_x", "rotation_y"):
                    assert math.isclose(da.pop(key, 0.0), db.pop(key, 0.0), abs_tol=1e-9), (k, key)
                assert json.loads(json.dumps(da)) == json.loads(json.dumps(db)), f"frame {k}, track {fa.track_ids[i]}"
        assert np.allclose(np.sort(fa.scores), np.sort(fb.scores))


@pytest.mark.parametrize("fmt", TOOLS)
def test_round_trip_through_each_tool(tmp_path: Path, sample, fmt: str) -> None:
    """Our export of the synthetic sample (boxes moved into the LiDAR frame, a non-identity
    T_ego_lidar) imports back to the same tracks, classes, boxes (1e-9) and attributes."""
    rec, labels = sample
    ctx = LabelContext.from_recording(rec)
    out = tmp_path / OUT.get(fmt, "export")
    get_format(fmt).write(out, labels, ctx)
    assert sniff_label_format(out) == fmt
    back = get_format(fmt).read(out, ctx).labels
    _same(labels, back)
    # the boxes in the files are in the LiDAR frame: without the recording they differ by T_ego_lidar
    raw = get_format(fmt).read(out, LabelContext()).labels
    T = rec.rig.T_ego_sensor(rec.reference)
    assert not T.allclose(type(T).identity())
    k = next(iter(labels.frames))
    assert np.allclose(T.apply(raw.frames[k].boxes.center), back.frames[k].boxes.center, atol=1e-9)


def test_import_command_sniffs_and_is_all_or_nothing(tmp_path: Path, sample) -> None:
    from fusionlabel.cli import main
    from fusionlabel.io.native_labels import read_native_labels
    from fusionlabel.io.tools.sustechpoints import write_sustechpoints

    rec, labels = sample
    scene = tmp_path / "scene"
    (scene / "lidar").mkdir(parents=True)
    write_sustechpoints(scene, labels, LabelContext.from_recording(rec).tool_context())
    out = tmp_path / "labels.json"
    assert main(["import", str(scene), "--out", str(out)]) == 0
    got, _ = read_native_labels(out)
    assert got.num_boxes == labels.num_boxes
    # break one field of one late frame: nothing is written, the error names file, frame and field
    bad = scene / "label" / "000017.json"
    objs = json.loads(bad.read_text())
    objs[2]["psr"]["scale"]["y"] = -1.0
    bad.write_text(json.dumps(objs))
    out2 = tmp_path / "labels2.json"
    with pytest.raises(
        CorruptFileError,
        match=r"000017\.json: frame 000017, object 2: 'psr\.scale\.y' must be a positive number, got -1\.0",
    ):
        get_format("sustechpoints").read(scene, LabelContext())
    assert main(["import", "--format", "auto", str(scene), "--out", str(out2)]) == 1
    assert not out2.exists()


# -- each tool's files, written by hand from its specification ------------------------------------
def _box(fl: FrameLabels, tid: int) -> np.ndarray:
    return fl.boxes.to_array()[list(fl.track_ids).index(tid)]


def test_sustechpoints_files(tmp_path: Path) -> None:
    scene = tmp_path / "scene"
    (scene / "label").mkdir(parents=True)
    (scene / "lidar").mkdir()
    for n in ("000965", "000970", "000975"):
        (scene / "lidar" / f"{n}.pcd").write_bytes(b"")
    obj = {
        "psr": {
            "position": {"x": 5.5, "y": -4.0, "z": 1.4},
            "scale": {"x": 4.5, "y": 1.7, "z": 1.7},
            "rotation": {"x": 0, "y": 0, "z": -0.17},
        },
        "obj_type": "Car",
        "obj_id": "4",
    }
    anon = {**obj, "obj_id": "", "obj_type": "Rider", "obj_attr": "occluded"}
    tilted = {**obj, "obj_id": "x7", "psr": {**obj["psr"], "rotation": {"x": 0.1, "y": -0.05, "z": 1.0}}}
    (scene / "label" / "000965.json").write_text(json.dumps([obj, anon]))
    (scene / "label" / "000975.json").write_text(json.dumps({"objs": [obj, tilted], "frame": "000975"}))
    labels = get_format("sustechpoints").read(scene, LabelContext()).labels
    assert sorted(labels.frames) == [0, 2]  # frames by the scene's lidar/ files, 000970 unlabelled
    f0, f2 = labels.frames[0], labels.frames[2]
    assert np.allclose(_box(f0, 4), [5.5, -4.0, 1.4, 4.5, 1.7, 1.7, -0.17])
    assert f0.categories == ("Car", "Rider") and f0.attributes[1] == {"obj_attr": "occluded"}
    tid = next(t for t in f2.track_ids if t != 4)
    assert tid > 4 and f2.attributes[list(f2.track_ids).index(tid)]["source_id"] == "x7"
    a = f2.attributes[list(f2.track_ids).index(tid)]
    assert a["rotation_x"] == 0.1 and a["rotation_y"] == -0.05
    # the yaw is the heading of the tilted box's x axis (three.js Euler XYZ)
    from fusionlabel.io.tools.common import matrix_xyz

    R = matrix_xyz(0.1, -0.05, 1.0)
    assert math.isclose(_box(f2, tid)[6], math.atan2(R[1, 0], R[0, 0]), abs_tol=1e-12)


def test_labelcloud_centroid_and_vertices(tmp_path: Path) -> None:
    lab = tmp_path / "labels"
    lab.mkdir()
    obj = {
        "name": "cart",
        "centroid": {"x": 1.0, "y": 2.0, "z": 0.5},
        "dimensions": {"length": 2.0, "width": 1.0, "height": 0.8},
        "rotations": {"x": 0.0, "y": 0.0, "z": 90.0},
    }
    (lab / "a.json").write_text(
        json.dumps({"folder": "pointclouds", "filename": "a.pcd", "path": "pointclouds/a.pcd", "objects": [obj]})
    )
    # labelCloud's vertex order (model/bbox.py): 0 (-l/2,-w/2,-h/2), 1 (-l/2,+w/2), 2 (+l/2,+w/2), 3 (+l/2,-w/2), 4-7 on top
    l, w, h, yaw, c = 4.0, 2.0, 1.5, 0.4, np.array([10.0, -3.0, 0.75])
    local = (
        np.array([[-l, -w, -h], [-l, w, -h], [l, w, -h], [l, -w, -h], [-l, -w, h], [-l, w, h], [l, w, h], [l, -w, h]])
        / 2
    )
    R = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
    verts = (local @ R.T + c).tolist()
    (lab / "b.json").write_text(json.dumps({"objects": [{"name": "Car", "vertices": verts}]}))
    labels = get_format("labelcloud").read(lab, LabelContext()).labels
    assert np.allclose(labels.frames[0].boxes.to_array()[0], [1, 2, 0.5, 2, 1, 0.8, math.pi / 2])
    assert np.allclose(labels.frames[1].boxes.to_array()[0], [*c, l, w, h, yaw])
    assert labels.track_ids.tolist() == [1, 2]  # no identities in labelCloud: one track per box
    # centroid_rel (radians, -pi..pi): a negative angle tells
    obj_rel = {**obj, "rotations": {"x": 0.0, "y": 0.0, "z": -1.2}}
    (lab / "a.json").write_text(json.dumps({"objects": [obj_rel]}))
    labels = get_format("labelcloud").read(lab, LabelContext()).labels
    assert math.isclose(labels.frames[0].boxes.yaw[0], -1.2)
    bad = [list(v) for v in verts]
    bad[2], bad[3] = bad[3], bad[2]
    (lab / "b.json").write_text(json.dumps({"objects": [{"name": "Car", "vertices": bad}]}))
    with pytest.raises(CorruptFileError, match=r"b\.json: frame b, object 0: 'vertices' are not the corners"):
        get_format("labelcloud").read(lab, LabelContext())


def test_cvat_datumaro_file(tmp_path: Path) -> None:
    ann = {
        "id": 0,
        "type": "cuboid_3d",
        "attributes": {"occluded": False, "track_id": 0, "keyframe": True, "color": "red"},
        "group": 0,
        "label_id": 1,
        "position": [5.0, 1.0, 0.8],
        "rotation": [0.0, 0.0, 0.3],
        "scale": [4.0, 1.8, 1.6],
    }
    shape = {**ann, "id": 5, "attributes": {"occluded": True}, "label_id": 0, "position": [9.0, -2.0, 0.9]}
    outside = {**ann, "attributes": {"track_id": 0, "outside": True}}
    doc = {
        "dm_format_version": "1.0",
        "media_type": 6,
        "infos": {},
        "categories": {
            "label": {
                "labels": [
                    {"name": "Pedestrian", "parent": "", "attributes": []},
                    {"name": "Car", "parent": "", "attributes": ["color"]},
                ],
                "attributes": ["occluded"],
            }
        },
        "items": [
            {
                "id": "frame_000000",
                "annotations": [ann, shape],
                "attr": {"frame": 0},
                "point_cloud": {"path": "frame_000000.pcd"},
            },
            {"id": "frame_000001", "annotations": [outside], "attr": {"frame": 1}},
            {"id": "frame_000002", "annotations": [{**ann, "position": [6.0, 1.0, 0.8]}], "attr": {"frame": 2}},
        ],
    }
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "default.json").write_text(json.dumps(doc))
    assert sniff_label_format(tmp_path) == "cvat-datumaro"
    labels = get_format("cvat-datumaro").read(tmp_path, LabelContext()).labels
    assert sorted(labels.frames) == [0, 2]  # frame 1's box is "outside"
    f0 = labels.frames[0]
    assert np.allclose(_box(f0, 0), [5.0, 1.0, 0.8, 4.0, 1.8, 1.6, 0.3])
    assert f0.categories[list(f0.track_ids).index(0)] == "Car"
    assert f0.attributes[list(f0.track_ids).index(0)] == {"occluded": False, "keyframe": True, "color": "red"}
    assert labels.track(0)[0].tolist() == [0, 2]  # the tracked shape keeps its id over frames
    doc["items"][0]["annotations"][0]["label_id"] = 7
    (tmp_path / "annotations" / "default.json").write_text(json.dumps(doc))
    with pytest.raises(
        CorruptFileError, match=r"frame frame_000000, annotation 0: 'label_id' 7 is not one of the 2 labels"
    ):
        get_format("cvat-datumaro").read(tmp_path, LabelContext())


TRACKLETS = """<?xml version="1.0" encoding="UTF-8" standalone="true"?>
<!DOCTYPE boost_serialization>
<boost_serialization signature="serialization::archive" version="9">
<tracklets class_id="0" tracking_level="0" version="0"><count>1</count><item_version>1</item_version>
<item class_id="1" tracking_level="0" version="1"><objectType>Car</objectType><h>1.8</h><w>4.0</w><l>1.6</l>
<first_frame>1</first_frame>
<poses class_id="2" tracking_level="0" version="0"><count>3</count><item_version>2</item_version>
<item class_id="3" tracking_level="0" version="2"><tx>5.0</tx><ty>1.0</ty><tz>0.8</tz><rx>0</rx><ry>0</ry><rz>0.3</rz><state>2</state>
<occlusion>1</occlusion><occlusion_kf>1</occlusion_kf><truncation>0</truncation><amt_occlusion>-1</amt_occlusion><amt_border_l>-1</amt_border_l><amt_border_r>-1</amt_border_r><amt_occlusion_kf>-1</amt_occlusion_kf><amt_border_kf>-1</amt_border_kf>
<attributes><attribute><name>parked</name><value>true</value></attribute></attributes></item>
<item><tx>5.5</tx><ty>1.0</ty><tz>0.8</tz><rx>0</rx><ry>0</ry><rz>0.3</rz><state>1</state><occlusion>-1</occlusion><occlusion_kf>0</occlusion_kf><truncation>2</truncation>
<amt_occlusion>-1</amt_occlusion><amt_border_l>-1</amt_border_l><amt_border_r>-1</amt_border_r><amt_occlusion_kf>-1</amt_occlusion_kf><amt_border_kf>-1</amt_border_kf></item>
<item><tx>6.0</tx><ty>1.0</ty><tz>0.8</tz><rx>0</rx><ry>0</ry><rz>0.3</rz><state>2</state><occlusion>0</occlusion><occlusion_kf>1</occlusion_kf><truncation>0</truncation>
<amt_occlusion>-1</amt_occlusion><amt_border_l>-1</amt_border_l><amt_border_r>-1</amt_border_r><amt_occlusion_kf>-1</amt_occlusion_kf><amt_border_kf>-1</amt_border_kf></item>
</poses><finished>1</finished></item>
</tracklets></boost_serialization>
"""


def test_cvat_kitti_tracklets(tmp_path: Path) -> None:
    (tmp_path / "tracklet_labels.xml").write_text(TRACKLETS)
    assert sniff_label_format(tmp_path) == "cvat-kitti"
    labels = get_format("cvat-kitti").read(tmp_path, LabelContext()).labels
    assert sorted(labels.frames) == [1, 3]  # frame 2 is truncated OUT_IMAGE: a gap
    # Datumaro's mapping: CVAT scale (sx, sy, sz) = (w, h, l) of the file
    assert np.allclose(labels.frames[1].boxes.to_array()[0], [5.0, 1.0, 0.8, 4.0, 1.8, 1.6, 0.3])
    assert labels.frames[1].attributes[0] == {"parked": True, "occluded": True}
    assert labels.frames[3].attributes[0] == {} and labels.track_ids.tolist() == [1]
    (tmp_path / "tracklet_labels.xml").write_text(TRACKLETS.replace("<tx>6.0</tx>", "<tx>six</tx>"))
    with pytest.raises(CorruptFileError, match=r"tracklet 0, frame 3: <tx> must be a number, got 'six'"):
        get_format("cvat-kitti").read(tmp_path, LabelContext())


def test_supervisely_episode(tmp_path: Path) -> None:
    ep = tmp_path / "project" / "episode_1"
    ep.mkdir(parents=True)
    (tmp_path / "project" / "meta.json").write_text(
        json.dumps({"classes": [{"title": "car", "shape": "cuboid_3d"}], "tags": []})
    )
    (tmp_path / "project" / "key_id_map.json").write_text(
        json.dumps({"tags": {}, "objects": {"aaaa": 12}, "figures": {}, "videos": {}})
    )
    geom = {
        "position": {"x": -10.8, "y": -93.5, "z": -4.6},
        "rotation": {"x": 0, "y": 0, "z": 3.25},
        "dimensions": {"x": 1.97, "y": 4.6, "z": 1.55},
    }
    doc = {
        "description": "",
        "key": "e9f0",
        "tags": [],
        "objects": [
            {
                "key": "aaaa",
                "classTitle": "car",
                "tags": [{"name": "parked", "value": None}, {"name": "lane", "value": "left", "frameRange": [1, 1]}],
            },
            {"key": "bbbb", "classTitle": "pedestrian", "tags": []},
        ],
        "framesCount": 3,
        "frames": [
            {
                "index": 0,
                "figures": [{"key": "f1", "objectKey": "aaaa", "geometryType": "cuboid_3d", "geometry": geom}],
            },
            {
                "index": 1,
                "figures": [
                    {"key": "f2", "objectKey": "aaaa", "geometryType": "cuboid_3d", "geometry": geom},
                    {"key": "f3", "objectKey": "bbbb", "geometryType": "cuboid_3d", "geometry": geom},
                ],
            },
        ],
    }
    (ep / "annotation.json").write_text(json.dumps(doc))
    (ep / "frame_pointcloud_map.json").write_text(
        json.dumps({"0": "scene_1.pcd", "1": "scene_2.pcd", "2": "scene_3.pcd"})
    )
    assert sniff_label_format(tmp_path / "project") == "supervisely"
    labels = get_format("supervisely").read(tmp_path / "project", LabelContext()).labels
    f1 = labels.frames[1]
    assert sorted(f1.track_ids.tolist()) == [12, 13]  # key_id_map's id; the other numbered after it
    i = list(f1.track_ids).index(12)
    assert np.allclose(f1.boxes.to_array()[i], [-10.8, -93.5, -4.6, 1.97, 4.6, 1.55, 3.25 - 2 * math.pi])
    assert f1.attributes[i] == {"parked": True, "lane": "left"} and labels.frames[0].attributes[0] == {"parked": True}
    doc["frames"][1]["figures"][1]["objectKey"] = "cccc"
    (ep / "annotation.json").write_text(json.dumps(doc))
    with pytest.raises(
        CorruptFileError, match=r"frame 1, figure 1: 'objectKey' 'cccc' is not one of the episode's objects"
    ):
        get_format("supervisely").read(ep, LabelContext())


def test_segments_release(tmp_path: Path) -> None:
    yaw = 0.7
    q_tilt = [math.sin(0.05), 0.0, 0.0, math.cos(0.05)]  # 0.1 rad roll, as qx qy qz qw
    ann = {
        "id": 1,
        "category_id": 1,
        "type": "cuboid",
        "position": {"x": 5.0, "y": 1.0, "z": 0.8},
        "dimensions": {"x": 4.0, "y": 1.8, "z": 1.6},
        "yaw": yaw,
        "track_id": 3,
        "is_keyframe": True,
        "attributes": {"parked": True},
    }
    tilted = {**ann, "id": 2, "track_id": 4, "rotation": dict(zip(("qx", "qy", "qz", "qw"), q_tilt)), "yaw": 0.0}
    pose = {
        "position": {"x": 100.0, "y": 50.0, "z": 0.0},
        "heading": {"qx": 0.0, "qy": 0.0, "qz": math.sin(0.25), "qw": math.cos(0.25)},
    }
    doc = {
        "name": "v1",
        "dataset": {
            "name": "drive",
            "task_type": "pointcloud-cuboid-sequence",
            "task_attributes": {"format_version": "0.1", "categories": [{"id": 1, "name": "Car"}]},
            "samples": [
                {
                    "name": "seq",
                    "attributes": {
                        "frames": [
                            {"name": "000000", "timestamp": 1000},
                            {"name": "000001", "timestamp": "1100", "ego_pose": pose},
                        ]
                    },
                    "labels": {
                        "ground-truth": {
                            "label_status": "LABELED",
                            "attributes": {
                                "format_version": "0.2",
                                "frames": [
                                    {"annotations": [ann, tilted]},
                                    {"annotations": [dict(ann, dimensions=dict(ann["dimensions"]))]},
                                ],
                            },
                        }
                    },
                }
            ],
        },
    }
    f = tmp_path / "release.json"
    f.write_text(json.dumps(doc))
    assert sniff_label_format(f) == "segments"
    imported = get_format("segments").read(f, LabelContext())
    labels = imported.labels
    assert dict(imported.timestamps_ns) == {0: 1000, 1: 1100}
    assert np.allclose(_box(labels.frames[0], 3), [5.0, 1.0, 0.8, 4.0, 1.8, 1.6, yaw])
    a = labels.frames[0].attributes[list(labels.frames[0].track_ids).index(4)]
    assert math.isclose(a["rotation_x"], 0.1, abs_tol=1e-12) and a["parked"] is True
    # frame 1 has an ego pose: the world-frame box goes into the sensor frame (inverse pose)
    T_world_sensor = np.array([[math.cos(0.5), -math.sin(0.5), 100.0], [math.sin(0.5), math.cos(0.5), 50.0], [0, 0, 1]])
    local = np.linalg.solve(T_world_sensor, [5.0, 1.0, 1.0])
    assert np.allclose(_box(labels.frames[1], 3)[[0, 1, 6]], [local[0], local[1], yaw - 0.5])
    doc["dataset"]["samples"][0]["labels"]["ground-truth"]["attributes"]["frames"][1]["annotations"][0]["dimensions"][
        "z"
    ] = "tall"
    f.write_text(json.dumps(doc))
    with pytest.raises(
        CorruptFileError, match=r"frame 000001, annotation 0: 'dimensions.z' must be a finite number, got 'tall'"
    ):
        get_format("segments").read(f, LabelContext())


def test_xtreme1_results(tmp_path: Path) -> None:
    res = tmp_path / "export" / "result"
    res.mkdir(parents=True)
    box = {
        "id": "033D",
        "type": "3D_BOX",
        "classId": 4,
        "className": "car",
        "trackId": "-COOq29Lf0S8XAvD",
        "trackName": "2",
        "classValues": [{"id": "77", "name": "type", "type": "RADIO", "value": "suv", "isLeaf": True}],
        "contour": {
            "pointN": 1606,
            "points": [],
            "size3D": {"x": 4.78, "y": 3.03, "z": 1.58},
            "center3D": {"x": -3.48, "y": -9.45, "z": 0.56},
            "viewIndex": 0,
            "rotation3D": {"x": 0, "y": 0, "z": 0.58},
        },
        "modelConfidence": None,
        "modelClass": "",
    }
    rect = {**box, "id": "6E1A", "type": "2D_RECT", "contour": {"points": [{"x": 1, "y": 2}]}}
    for n, x in (("00-1", -3.48), ("01-2", -2.0)):
        b = {**box, "contour": {**box["contour"], "center3D": {"x": x, "y": -9.45, "z": 0.56}}}
        (res / f"{n}.json").write_text(
            json.dumps([{"version": "Xtreme1 V0.6", "dataId": 1, "sourceName": "Ground Truth", "objects": [b, rect]}])
        )
    assert sniff_label_format(tmp_path / "export") == "xtreme1"
    labels = get_format("xtreme1").read(tmp_path / "export", LabelContext()).labels
    assert sorted(labels.frames) == [0, 1] and labels.track_ids.tolist() == [1]
    fl = labels.frames[0]
    assert np.allclose(fl.boxes.to_array()[0], [-3.48, -9.45, 0.56, 4.78, 3.03, 1.58, 0.58])
    assert fl.attributes[0] == {
        "type": "suv",
        "track_name": "2",
        "source_id": "-COOq29Lf0S8XAvD",
    } and fl.categories == ("car",)
    (res / "01-2.json").write_text(
        json.dumps([{"objects": [{**box, "contour": {**box["contour"], "size3D": {"x": 0, "y": 3, "z": 1}}}]}])
    )
    with pytest.raises(
        CorruptFileError, match=r"01-2\.json: frame 01-2, object 0: 'contour\.size3D\.x' must be a positive number"
    ):
        get_format("xtreme1").read(tmp_path / "export", LabelContext())


def test_frames_are_matched_by_name_with_a_recording(tmp_path: Path) -> None:
    """With a recording's frame names, a tool's frame names map onto its frames; an unknown one is refused."""
    fl = FrameLabels([1], ["Car"], Boxes.from_array([[5, 0, 0.8, 4, 1.8, 1.6, 0.2]]))
    ctx = LabelContext(frame_names={0: "a", 1: "b", 2: "c"})
    get_format("xtreme1").write(tmp_path / "x", LabelSet({2: fl}), ctx)
    assert (tmp_path / "x" / "result" / "c.json").is_file()
    assert sorted(get_format("xtreme1").read(tmp_path / "x", ctx).labels.frames) == [2]
    with pytest.raises(CorruptFileError, match="frame 'c': the recording has no frame of that name"):
        get_format("xtreme1").read(tmp_path / "x", replace(ctx, frame_names={0: "a"}))


def test_unknown_or_missing_input_is_a_data_error(tmp_path: Path) -> None:
    for fmt in TOOLS:
        with pytest.raises(DataError):
            get_format(fmt).read(tmp_path / "nothing-here", LabelContext())
