"""nuScenes-schema tables (Lyft sample) and the mmdet3d nuScenes info sample, on real data."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fusionlabel.core.boxes import points_in_boxes
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.projection import project_points
from fusionlabel.core.transforms import Transform
from fusionlabel.io.nuscenes import (
    canonical_category,
    open_mmdet3d_info,
    open_nuscenes,
    scene_names,
    sniff,
    us_to_ns,
)
from fusionlabel.io.open import open_recording


@pytest.fixture(scope="module")
def lyft(real_data: Path) -> Path:
    return real_data / "lyft_nuscenes_schema"


@pytest.fixture(scope="module")
def nus(real_data: Path) -> Path:
    return real_data / "nuscenes"


def _tables(root: Path) -> dict[str, list[dict[str, Any]]]:
    return {p.stem: json.loads(p.read_text()) for p in (root / "v1.01-train").glob("*.json")}


def _write_tables(dst: Path, tables: dict[str, list[dict[str, Any]]]) -> Path:
    v = dst / "v1.01-train"
    v.mkdir(parents=True)
    for name, rows in tables.items():
        (v / f"{name}.json").write_text(json.dumps(rows))
    return dst


# -- Lyft tables ------------------------------------------------------------------------------


def test_lyft_tables_open_with_counts_matching(lyft: Path) -> None:
    t = _tables(lyft)
    assert sniff(lyft) and sniff(lyft / "v1.01-train")
    rec = open_nuscenes(lyft)
    assert rec.format == "nuscenes" and rec.reference == "LIDAR_TOP" and len(rec) == len(t["sample"]) == 1
    assert rec.scene_name == t["scene"][0]["name"]
    # one stream per sensor channel, one sample per sample_data row
    assert set(rec.streams) == {s["channel"] for s in t["sensor"]}
    assert sum(len(s) for s in rec.streams.values()) == len(t["sample_data"])
    by_mod = {m: {s["channel"] for s in t["sensor"] if s["modality"] == m} for m in ("camera", "lidar")}
    assert set(rec.rig.cameras) == by_mod["camera"] and set(rec.rig.lidars) == by_mod["lidar"]
    # rotations are proper, extrinsics equal the table rows
    cs = {c["sensor_token"]: c for c in t["calibrated_sensor"]}
    for s in t["sensor"]:
        T = rec.rig.T_ego_sensor(s["channel"])
        assert np.allclose(T.rotation @ T.rotation.T, np.eye(3), atol=1e-9)
        assert np.linalg.det(T.rotation) == pytest.approx(1.0)
        assert np.allclose(T.translation, cs[s["token"]]["translation"])
        if s["modality"] == "camera":
            cam = rec.rig.cameras[s["channel"]]
            assert np.allclose(cam.K, cs[s["token"]]["camera_intrinsic"]) and (cam.width, cam.height) == (1920, 1080)
            # the optical axis (camera z) of every ring camera is horizontal-ish in the ego frame
            assert abs(cam.T_ego_cam.rotation[2, 2]) < 0.2
    front = rec.rig.cameras["CAM_FRONT"].T_ego_cam.rotation[:, 2]
    assert front[0] > 0.99  # CAM_FRONT looks along ego +x
    # timestamps: microseconds (here fractional) -> exact-ish nanoseconds
    lidar_us = next(
        sd["timestamp"]
        for sd in t["sample_data"]
        if sd["calibrated_sensor_token"]
        == cs[next(s["token"] for s in t["sensor"] if s["channel"] == "LIDAR_TOP")]["token"]
    )
    assert int(rec.timestamps_ns[0]) == us_to_ns(lidar_us) == 1556675185903083250
    assert us_to_ns(1532402927647951) == 1532402927647951000
    assert not rec.problems


def test_lyft_labels_in_ego_frame(lyft: Path) -> None:
    t = _tables(lyft)
    rec = open_nuscenes(lyft)
    labels = rec.labels
    assert labels is not None and labels.num_boxes == len(t["sample_annotation"]) == 4
    fl = labels.get(0)
    assert fl.categories == ("Car",) * 4
    assert {a["source_category"] for a in fl.attributes} == {"car"}
    assert {a["instance_token"] for a in fl.attributes} == {a["instance_token"] for a in t["sample_annotation"]}
    assert sorted(fl.track_ids.tolist()) == [1, 2, 3, 4]
    # each box back in the global frame lands on its annotation
    T_world_ego = rec.frame_poses[0]
    ann = {a["token"]: a for a in t["sample_annotation"]}
    for i, attrs in enumerate(fl.attributes):
        a = ann[attrs["annotation_token"]]
        assert np.allclose(T_world_ego.apply(fl.boxes.center[i : i + 1])[0], a["translation"], atol=1e-6)
        assert np.allclose(fl.boxes.size[i], np.asarray(a["size"])[[1, 0, 2]])  # w,l,h -> l,w,h
    # cars are longer than wide, and sit near the ground plane of the ego frame
    assert np.all(fl.boxes.size[:, 0] > fl.boxes.size[:, 1])
    assert np.all(np.abs(fl.boxes.center[:, 2]) < 3.0)


def test_lyft_ego_poses_interpolate(lyft: Path) -> None:
    t = _tables(lyft)
    rec = open_nuscenes(lyft)
    poses = rec.ego_poses
    assert poses is not None
    # keyed by sample_data times (Lyft's ego_pose.timestamp column is one value for all rows)
    assert len({e["timestamp"] for e in t["ego_pose"]}) == 1
    assert len(poses) == len({sd["timestamp"] for sd in t["sample_data"]}) == 7
    ep = {e["token"]: e for e in t["ego_pose"]}
    for sd in t["sample_data"]:
        T = poses.at(us_to_ns(sd["timestamp"]))
        assert np.allclose(T.translation, ep[sd["ego_pose_token"]]["translation"])
    t0, t1 = int(poses.timestamps_ns[0]), int(poses.timestamps_ns[1])
    mid = poses.at((t0 + t1) // 2)
    assert np.allclose(mid.translation, (poses.poses[0].translation + poses.poses[1].translation) / 2, atol=1e-3)
    # the frame's pose is the reference sample_data's own ego pose
    assert rec.frame_poses[0].allclose(poses.at(int(rec.timestamps_ns[0])))


def test_lyft_missing_blob_names_the_file(lyft: Path) -> None:
    rec = open_nuscenes(lyft)  # the tables come without blobs: opening works
    with pytest.raises(DataError) as ei:
        rec.frame(0)
    assert not ei.value.path.exists()
    assert ei.value.path.parent.parent == lyft and "LIDAR_TOP" in str(ei.value)
    assert ei.value.path == rec.files["LIDAR_TOP"][0]


def test_dispatcher_opens_tables(lyft: Path) -> None:
    rec = open_recording(lyft, format="nuscenes")
    assert len(rec) == 1 and rec.reference == "LIDAR_TOP"


def test_broken_references_name_the_table(lyft: Path, tmp_path: Path) -> None:
    t = _tables(lyft)
    bad = copy.deepcopy(t)
    bad["sample_data"][3]["calibrated_sensor_token"] = "no-such-token"
    root = _write_tables(tmp_path / "a", bad)
    with pytest.raises(CorruptFileError) as ei:
        open_nuscenes(root)
    assert ei.value.path.name == "sample_data.json" and "no-such-token" in ei.value.reason

    bad = copy.deepcopy(t)
    bad["instance"][0]["category_token"] = "gone"
    rec = open_nuscenes(_write_tables(tmp_path / "b", bad))
    with pytest.raises(CorruptFileError) as ei:
        _ = rec.labels
    assert ei.value.path.name == "instance.json" and "gone" in ei.value.reason

    bad = copy.deepcopy(t)
    del bad["ego_pose"]
    with pytest.raises(DataError) as ei:
        open_nuscenes(_write_tables(tmp_path / "c", bad))
    assert ei.value.path.name == "ego_pose.json"

    (tmp_path / "d" / "v1.01-train").mkdir(parents=True)
    _write_tables(tmp_path / "e", t)
    (tmp_path / "e" / "v1.01-train" / "sample.json").write_text("[{not json")
    with pytest.raises(CorruptFileError) as ei:
        open_nuscenes(tmp_path / "e")
    assert ei.value.path.name == "sample.json"


def _two_sample_tables(t: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """A second key frame 0.1 s later: ego and every annotated car move +1 m along world x."""
    t = copy.deepcopy(t)
    s0 = t["sample"][0]
    s1 = dict(s0, token="s1", timestamp=s0["timestamp"] + 100000.0)
    t["sample"].append(s1)
    for sd in list(t["sample_data"]):
        ep = next(e for e in t["ego_pose"] if e["token"] == sd["ego_pose_token"])
        ep1 = dict(ep, token=ep["token"] + "-1", translation=[ep["translation"][0] + 1.0, *ep["translation"][1:]])
        if ep1["token"] not in {e["token"] for e in t["ego_pose"]}:
            t["ego_pose"].append(ep1)
        t["sample_data"].append(
            dict(
                sd,
                token=sd["token"] + "-1",
                sample_token="s1",
                timestamp=sd["timestamp"] + 100000.0,
                ego_pose_token=ep1["token"],
            )
        )
    for a in list(t["sample_annotation"]):
        t["sample_annotation"].append(
            dict(
                a,
                token=a["token"] + "-1",
                sample_token="s1",
                translation=[a["translation"][0] + 1.0, *a["translation"][1:]],
            )
        )
    return t


def test_track_ids_persist_across_key_frames(lyft: Path, tmp_path: Path) -> None:
    rec = open_nuscenes(_write_tables(tmp_path, _two_sample_tables(_tables(lyft))))
    assert len(rec) == 2 and sum(len(s) for s in rec.streams.values()) == 20
    labels = rec.labels
    assert labels is not None and set(labels.frames) == {0, 1}
    f0, f1 = labels.get(0), labels.get(1)
    tok0 = {a["instance_token"]: int(i) for a, i in zip(f0.attributes, f0.track_ids)}
    tok1 = {a["instance_token"]: int(i) for a, i in zip(f1.attributes, f1.track_ids)}
    assert tok0 == tok1 and len(set(tok0.values())) == 4
    for tid in tok0.values():
        frames, boxes, cats = labels.track(tid)
        assert frames.tolist() == [0, 1] and cats == ("Car", "Car")
        # ego and car moved together: the ego-frame box is unchanged
        assert np.allclose(boxes.center[0], boxes.center[1], atol=1e-6) and boxes.yaw[0] == pytest.approx(boxes.yaw[1])
    # the keyframe association pairs each frame with its own sample's cameras
    assert rec.keyframe_assoc[1]["CAM_FRONT"] == 1 and rec.keyframe_assoc[0]["CAM_FRONT"] == 0


def test_several_scenes_need_a_choice(lyft: Path, tmp_path: Path) -> None:
    t = _two_sample_tables(_tables(lyft))
    scene2 = dict(t["scene"][0], token="scene-two", name="second scene")
    t["scene"].append(scene2)
    t["sample"][1]["scene_token"] = "scene-two"
    root = _write_tables(tmp_path, t)
    with pytest.raises(DataError) as ei:
        open_nuscenes(root)
    assert "second scene" in ei.value.reason and ei.value.path.name == "scene.json"
    assert scene_names(root) == [t["scene"][0]["name"], "second scene"]
    a, b = open_nuscenes(root, scene=t["scene"][0]["name"]), open_nuscenes(root, scene="scene-two")
    assert len(a) == len(b) == 1 and a.timestamps_ns[0] < b.timestamps_ns[0]
    with pytest.raises(DataError):
        open_nuscenes(root, scene="nope")


def test_category_mapping() -> None:
    assert canonical_category("vehicle.car") == "Car"
    assert canonical_category("human.pedestrian.adult") == "Pedestrian"
    assert canonical_category("human.pedestrian.some_new_kind") == "Pedestrian"
    assert canonical_category("vehicle.bicycle") == "Cyclist"
    assert canonical_category("movable_object.trafficcone") == "movable_object.trafficcone"
    # FusionLabel's export writes classes outside the nuScenes taxonomy as fusionlabel.<name>
    assert canonical_category("fusionlabel.Tram") == "Tram"
    assert canonical_category("fusionlabel.") == "fusionlabel."


# -- the single-keyframe nuScenes sample with its mmdet3d info --------------------------------


def test_mmdet3d_sample_opens(nus: Path) -> None:
    info = json.loads((nus / "mmdet3d_info_scene-0061_sample0.json").read_text())["data_list"][0]
    assert sniff(nus)
    rec = open_nuscenes(nus)
    assert rec.format == "nuscenes-mmdet3d-info" and len(rec) == 1 and not rec.problems
    assert set(rec.rig.cameras) == set(info["images"]) and len(rec.rig.cameras) == 6
    for name, cam in rec.rig.cameras.items():
        assert (cam.width, cam.height) == (1600, 900) and np.allclose(cam.K, info["images"][name]["cam2img"])
        # cam2ego and lidar2ego agree with the file's lidar2cam, up to the ego motion between the
        # lidar and camera timestamps that mmdet3d folds into lidar2cam (< 50 ms: < 1 m, < 1 degree)
        T = rec.rig.T_cam_sensor(name, "LIDAR_TOP").matrix
        lidar2cam = np.asarray(info["images"][name]["lidar2cam"])
        assert np.allclose(T[:3, :3], lidar2cam[:3, :3], atol=0.02)
        assert np.linalg.norm(T[:3, 3] - lidar2cam[:3, 3]) < 1.0
    assert int(rec.timestamps_ns[0]) == 1532402927647951000
    assert int(rec.streams["CAM_FRONT"].timestamps_ns[0]) == 1532402927612460000
    frame = rec.frame(0)
    assert set(frame.images) == set(info["images"]) and set(frame.lidar) == {"LIDAR_TOP"}
    assert np.allclose(frame.ego_pose.matrix, info["ego2global"])
    lidar_file = nus / "samples" / "LIDAR_TOP" / info["lidar_points"]["lidar_path"]
    assert len(frame.lidar["LIDAR_TOP"]) == lidar_file.stat().st_size // 20
    assert frame.image("CAM_FRONT").shape == (900, 1600, 3)
    assert (
        open_mmdet3d_info(nus / "mmdet3d_info_scene-0061_sample0.json").timestamps_ns.tolist()
        == rec.timestamps_ns.tolist()
    )


def test_mmdet3d_lidar_projects_into_cam_front(nus: Path) -> None:
    rec = open_nuscenes(nus)
    cloud = rec.frame(0).lidar["LIDAR_TOP"]
    cam = rec.rig.cameras["CAM_FRONT"]
    pr = project_points(cloud.xyz, cam, rec.rig.T_cam_sensor("CAM_FRONT", "LIDAR_TOP"))
    n = int(pr.valid.sum())
    assert 1000 < n < len(cloud) // 4  # a ~64 degree camera sees a slice of a 360 degree sweep
    ego = rec.rig.T_ego_sensor("LIDAR_TOP").apply(cloud.xyz)
    assert np.all(ego[pr.valid, 0] > 0)  # what CAM_FRONT sees is ahead of the car
    assert np.median(pr.depth[pr.valid]) > 3.0
    back = project_points(cloud.xyz, rec.rig.cameras["CAM_BACK"], rec.rig.T_cam_sensor("CAM_BACK", "LIDAR_TOP"))
    assert np.all(ego[back.valid, 0] < 0)


def test_mmdet3d_gt_boxes_contain_lidar_points(nus: Path) -> None:
    rec = open_nuscenes(nus)
    labels = rec.labels
    assert labels is not None and labels.num_boxes == 69
    fl = labels.get(0)
    assert sorted(fl.track_ids.tolist()) == list(range(69))
    assert fl.categories.count("Misc") == sum(
        a["source_category"] in ("ignored", "trailer", "construction_vehicle") for a in fl.attributes
    )
    assert set(fl.categories) <= {
        "Car",
        "Truck",
        "Bus",
        "Misc",
        "Cyclist",
        "Motorcycle",
        "Pedestrian",
        "traffic_cone",
        "barrier",
    }
    cloud = rec.frame(0).lidar["LIDAR_TOP"]
    ego = rec.rig.T_ego_sensor("LIDAR_TOP").apply(cloud.xyz)
    counts = points_in_boxes(ego, fl.boxes).sum(axis=0)
    expected = np.array([a["num_lidar_pts"] for a in fl.attributes])
    assert np.mean(counts[expected > 0] > 0) > 0.9
    close = np.abs(counts - expected) <= np.maximum(2, 0.1 * expected)
    assert close.mean() > 0.9, np.c_[counts, expected][~close]
    # the same boxes left in the LiDAR frame would not match: the ego conversion matters
    T_lidar_ego = rec.rig.T_ego_sensor("LIDAR_TOP").inverse()
    wrong = points_in_boxes(ego, fl.boxes.transformed(T_lidar_ego)).sum(axis=0)
    assert np.abs(wrong - expected).sum() > 5 * np.abs(counts - expected).sum()


def test_mmdet3d_missing_blobs(nus: Path, tmp_path: Path) -> None:
    shutil.copy(nus / "mmdet3d_info_scene-0061_sample0.json", tmp_path / "info.json")
    (tmp_path / "samples").mkdir()
    rec = open_nuscenes(tmp_path)
    assert len(rec) == 1 and len(rec.problems) == 6  # image sizes could not be read
    with pytest.raises(DataError) as ei:
        rec.frame(0)
    assert ei.value.path.name.endswith("LIDAR_TOP__1532402927647951.pcd.bin") and not ei.value.path.exists()


def test_not_nuscenes(tmp_path: Path) -> None:
    assert not sniff(tmp_path)
    with pytest.raises(DataError):
        open_nuscenes(tmp_path)
    assert isinstance(Transform.identity(), Transform)
