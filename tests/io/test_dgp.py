"""TRI DGP reader: the two real scenes of ``tri_dgp/test_scene`` and a small synthetic scene.

The real scenes' LiDAR files are a ~1/5 subsample of the sweeps DGP counted its ``num_points``
on (every box holds 15-25 % of its ``num_points``, never more), so the box-convention check
compares proportions, not counts; the synthetic scene checks the counts exactly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fusionlabel.cli import main
from fusionlabel.core.boxes import Boxes, points_in_boxes
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError
from fusionlabel.core.labels import CATEGORIES
from fusionlabel.core.projection import bbox_iou, project_boxes
from fusionlabel.core.transforms import Transform
from fusionlabel.io.dgp import (
    DGPRecording,
    dgp_boxes_to_ego,
    open_dgp,
    parse_timestamp_ns,
    scene_files,
    sniff,
)
from fusionlabel.io.open import open_recording, sniff_format

DATASET = "tri_dgp/test_scene"
SCENES = ["scene_01", "scene_02"]
CAMERAS = {"scene_01": 3, "scene_02": 6}


# -- helpers --------------------------------------------------------------------------------


def _scene_doc(scene_dir: Path) -> dict[str, Any]:
    return json.loads(next(scene_dir.glob("scene_*.json")).read_text())


def _sample_datums(scene_dir: Path) -> list[dict[str, dict[str, Any]]]:
    """Per sample: sensor name -> its raw datum entry, straight from the scene JSON."""
    doc = _scene_doc(scene_dir)
    data = {d["key"]: d for d in doc["data"]}
    return [{data[k]["id"]["name"]: data[k] for k in s["datum_keys"]} for s in doc["samples"]]


def _T(pose: dict[str, Any]) -> Transform:
    q, t = pose["rotation"], pose["translation"]
    return Transform.from_quaternion([q["qw"], q["qx"], q["qy"], q["qz"]], [t["x"], t["y"], t["z"]])


def _lidar_boxes(scene_dir: Path, datum: dict[str, Any]) -> list[dict[str, Any]]:
    rel = datum["datum"]["point_cloud"]["annotations"]["1"]
    return list(json.loads((scene_dir / rel).read_text())["annotations"])


@pytest.fixture(scope="module")
def dataset(real_data: Path) -> Path:
    return real_data / DATASET


@pytest.fixture(scope="module", params=SCENES)
def scene(request: pytest.FixtureRequest, dataset: Path) -> tuple[str, Path, DGPRecording]:
    d = dataset / request.param
    return request.param, d, open_dgp(d)


# -- opening --------------------------------------------------------------------------------


def test_dataset_folder_lists_its_scenes_instead_of_picking_one(dataset: Path) -> None:
    assert sniff(dataset) and sniff_format(dataset) == "dgp"
    assert sniff_format(dataset / "scene_dataset_v1.0.json") == "dgp"
    files = scene_files(dataset)
    assert [f.parent.name for f in files] == SCENES  # both splits list the same two scenes: no repeats
    for p in (dataset, dataset / "scene_dataset_v1.0.json"):
        with pytest.raises(DataError) as e:
            open_recording(p)
        assert "2 scenes" in e.value.reason and "scene_01" in e.value.reason and "scene_02" in e.value.reason
    assert open_dgp(dataset, scene="scene_02").path.name == "scene_02"
    with pytest.raises(DataError, match="no scene 'scene_03'"):
        open_dgp(dataset, scene="scene_03")
    # scene files and folders open the same recording; the agent and ontology files are not scenes
    for name in SCENES:
        sj = next((dataset / name).glob("scene_*.json"))
        assert sniff_format(dataset / name) == "dgp" and sniff_format(sj) == "dgp"
        assert open_recording(sj).timestamps_ns.tolist() == open_recording(dataset / name).timestamps_ns.tolist()
    assert not sniff(dataset / "agents_pcc_mini_v1.json") and not sniff(dataset / "scene_01" / "ontology")


def test_frames_streams_and_timestamps(scene: tuple[str, Path, DGPRecording]) -> None:
    name, d, rec = scene
    samples = _sample_datums(d)
    assert rec.format == "dgp" and rec.reference == "LIDAR" and len(rec) == 3 and rec.problems == []
    t = rec.timestamps_ns
    assert np.all(np.diff(t) > 0) and rec.streams["LIDAR"].rate_hz == pytest.approx(1.0, abs=0.01)
    cams = sorted(n for n in rec.streams if n != "LIDAR")
    assert len(cams) == CAMERAS[name] and cams == sorted(rec.rig.cameras)
    assert next(iter(rec.streams)) == "LIDAR"
    # times are ns since the earliest datum; differences equal the scene JSON's exactly
    t0 = min(parse_timestamp_ns(x["id"]["timestamp"]) for s in samples for x in s.values())
    assert rec.time_origin_utc.startswith(("2463-", "2464-")) and parse_timestamp_ns(rec.time_origin_utc) == t0
    for f in range(len(rec)):
        fr = rec.frame(f)
        for sensor, datum in samples[f].items():
            assert fr.sensor_timestamps[sensor] == parse_timestamp_ns(datum["id"]["timestamp"]) - t0
        assert set(fr.images) == set(cams) and set(fr.lidar) == {"LIDAR"}
        for cam in cams:  # the image of the frame's own sample (the scene's association)
            assert Path(fr.images[cam].source).name == Path(samples[f][cam]["datum"]["image"]["filename"]).name
    # the nearest-time sync that `info` reports agrees with the samples
    for cam in cams:
        assert rec.sync[cam].matched == 3 and rec.sync[cam].index.tolist() == [0, 1, 2]


def test_lidar_points_are_the_npz_arrays(scene: tuple[str, Path, DGPRecording]) -> None:
    _, d, rec = scene
    assert rec.rig.T_ego_sensor("LIDAR").allclose(Transform.identity())  # DGP's LIDAR extrinsic is identity
    for f, s in enumerate(_sample_datums(d)):
        data = np.load(d / s["LIDAR"]["datum"]["point_cloud"]["filename"])["data"]
        cloud = rec.frame(f).lidar["LIDAR"]
        assert len(cloud) == len(data) > 40_000 and cloud.frame_id == "LIDAR"
        assert np.allclose(cloud.xyz, data[:, :3], atol=1e-4)
        assert cloud.intensity is not None and np.allclose(cloud.intensity, data[:, 3], atol=1e-6)


def test_every_camera_opens_with_its_image_size(scene: tuple[str, Path, DGPRecording]) -> None:
    _, d, rec = scene
    calib = json.loads(next((d / "calibration").glob("*.json")).read_text())
    intr = dict(zip(calib["names"], calib["intrinsics"]))
    ext = dict(zip(calib["names"], calib["extrinsics"]))
    for cam_name, cam in rec.rig.cameras.items():
        i = intr[cam_name]
        assert cam.model == "pinhole" and len(cam.D) == 0
        assert np.allclose(cam.K, [[i["fx"], i["skew"], i["cx"]], [0, i["fy"], i["cy"]], [0, 0, 1]])
        assert cam.T_ego_cam.allclose(_T(ext[cam_name]), atol=1e-9)
        # optical frame: the camera looks along its +z, which points roughly horizontally in the ego frame
        assert abs(cam.T_ego_cam.rotation[2, 2]) < 0.2
    for f in range(len(rec)):
        fr = rec.frame(f)
        for cam_name, ref in fr.images.items():
            cam = rec.rig.cameras[cam_name]
            assert ref.load().shape == (cam.height, cam.width, 3) == (1216, 1936, 3)


def test_ego_poses_and_extrinsics_chain_to_the_camera_poses(scene: tuple[str, Path, DGPRecording]) -> None:
    """DGP stores every datum's world pose: ``T_world_cam`` must equal ``T_world_ego @ T_ego_cam``."""
    _, d, rec = scene
    assert rec.ego_poses is not None and len(rec.ego_poses) == 3
    for f, s in enumerate(_sample_datums(d)):
        T_world_ego = rec.frame(f).ego_pose
        assert T_world_ego is not None
        assert T_world_ego.allclose(_T(s["LIDAR"]["datum"]["point_cloud"]["pose"]), atol=1e-9)
        for cam_name, cam in rec.rig.cameras.items():
            pred = T_world_ego @ cam.T_ego_cam
            got = _T(s[cam_name]["datum"]["image"]["pose"])
            # the cameras fire 90-210 ms off the LiDAR; the car barely moves
            assert np.linalg.norm(pred.translation - got.translation) < 0.1
            assert np.allclose(pred.rotation, got.rotation, atol=2e-3)


# -- labels -------------------------------------------------------------------------------------


def test_box_counts_and_persistent_track_ids(scene: tuple[str, Path, DGPRecording]) -> None:
    name, d, rec = scene
    labels = rec.labels
    assert labels is not None and len(labels) == 3
    samples = _sample_datums(d)
    for f in range(3):
        fl = labels.get(f)
        raw = _lidar_boxes(d, samples[f]["LIDAR"])
        assert len(fl) == len(raw)
        assert (95 <= len(fl) <= 96) if name == "scene_01" else len(fl) == 13
        by_iid = {a["instance_id"]: a for a in raw}
        for attrs, cat in zip(fl.attributes, fl.categories):
            a = by_iid[attrs["instance_id"]]
            assert attrs["num_points"] == a["num_points"] and attrs["class_id"] == a["class_id"]
            assert attrs["occlusion"] == a["box"]["occlusion"] and attrs["truncation"] == a["box"]["truncation"]
            assert cat in CATEGORIES
    # one track id per DGP instance id, the same in every frame
    pairs = {
        (int(t), a["instance_id"]) for f in labels for t, a in zip(labels.get(f).track_ids, labels.get(f).attributes)
    }
    assert len({t for t, _ in pairs}) == len({i for _, i in pairs}) == len(pairs)
    in_all = set.intersection(*(set(labels.get(f).track_ids.tolist()) for f in range(3)))
    assert len(in_all) == (93 if name == "scene_01" else 13)
    if name == "scene_02":
        assert len(labels.track_ids) == 13


def test_points_in_converted_boxes_track_dgp_num_points(scene: tuple[str, Path, DGPRecording]) -> None:
    """The geometric check of the box convention (centre, l/w/h order, heading).

    The npz sweeps hold ~1/5 of the points DGP's ``num_points`` was counted on, so the count in
    each converted box is compared as a proportion: never above ``num_points``, about 1/5
    overall, proportional box by box (correlation > 0.99). Swapping length and width, or turning
    the boxes by 90 degrees, loses about half the points: the convention is not ambiguous here.
    """
    _, _, rec = scene
    labels = rec.labels
    assert labels is not None
    ours, dgp, swapped, turned = [], [], [], []
    for f in range(3):
        fl = labels.get(f)
        xyz = rec.rig.T_ego_sensor("LIDAR").apply(rec.frame(f).lidar["LIDAR"].xyz)
        b = fl.boxes
        ours.append(points_in_boxes(xyz, b).sum(axis=0))
        swapped.append(points_in_boxes(xyz, Boxes(b.center, b.size[:, [1, 0, 2]], b.yaw)).sum(axis=0))
        turned.append(points_in_boxes(xyz, Boxes(b.center, b.size, b.yaw + np.pi / 2)).sum(axis=0))
        dgp.append(np.array([a["num_points"] for a in fl.attributes]))
    n, ref = np.concatenate(ours), np.concatenate(dgp)
    assert np.all(n <= ref)
    ratio = n.sum() / ref.sum()
    assert 0.15 < ratio < 0.25
    assert np.corrcoef(n, ref)[0, 1] > 0.99
    assert np.concatenate(swapped).sum() < 0.6 * n.sum() and np.concatenate(turned).sum() < 0.6 * n.sum()
    # the boxes are tight: growing them by 10 cm adds few points (a shifted centre would add many)
    xyz = rec.frame(0).lidar["LIDAR"].xyz
    grown = points_in_boxes(xyz, labels.get(0).boxes, margin=0.1).sum()
    assert grown < 1.25 * ours[0].sum()


def test_boxes_project_into_the_cameras_that_list_them(scene: tuple[str, Path, DGPRecording]) -> None:
    """Each camera's own bounding_box_3d lists the instances it sees: ours project into its image,
    onto DGP's 2D box of the same instance, and DGP's camera-frame centre is ours moved by T_cam_ego."""
    _, d, rec = scene
    labels = rec.labels
    assert labels is not None
    ious: list[float] = []
    checked = 0
    for f, s in enumerate(_sample_datums(d)):
        fl = labels.get(f)
        row = {a["instance_id"]: k for k, a in enumerate(fl.attributes)}
        for cam_name, cam in rec.rig.cameras.items():
            ann = s[cam_name]["datum"]["image"]["annotations"]
            b3 = json.loads((d / ann["1"]).read_text())["annotations"]
            b2 = {a["instance_id"]: a["box"] for a in json.loads((d / ann["0"]).read_text())["annotations"]}
            if not b3:
                continue
            idx = np.array([row[a["instance_id"]] for a in b3])
            T_cam_ego = cam.T_ego_cam.inverse()
            proj = project_boxes(fl.boxes[idx], cam, T_cam_ego)
            assert not np.any(np.isnan(proj.bbox)), f"{cam_name} frame {f}: a listed box projects outside the image"
            centre_cam = np.array([[a["box"]["pose"]["translation"][k] for k in "xyz"] for a in b3])
            assert np.max(np.linalg.norm(T_cam_ego.apply(fl.boxes.center[idx]) - centre_cam, axis=1)) < 0.1
            for k, a in enumerate(b3):
                if a["instance_id"] in b2:
                    r = b2[a["instance_id"]]
                    ious.append(float(bbox_iou(proj.bbox[k], [r["x"], r["y"], r["x"] + r["w"], r["y"] + r["h"]])[0]))
            checked += len(b3)
    assert checked > 0 and len(ious) == checked
    assert np.median(ious) > 0.85 and min(ious) > 0.7


def test_info_reports_the_scene(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in SCENES:
        assert main(["info", str(dataset / name), "--json"]) == 0
        s = json.loads(capsys.readouterr().out)
        assert s["format"] == "dgp" and s["frames"] == 3 and s["problems"] == [] and s["ego_poses"] == 3
        assert s["labels"]["boxes"] == (286 if name == "scene_01" else 39)
    assert main(["info", str(dataset)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "scene_01" in err and err.strip().count("\n") == 0


def test_prelabel_geometric_runs_on_a_scene(dataset: Path) -> None:
    from fusionlabel.pipeline.prelabel import prelabel

    res = prelabel(open_dgp(dataset / "scene_01"), "geometric")
    assert res.report.frames == 3 and res.report.failed_frames == ()
    assert res.labels.num_boxes > 0


# -- broken copies of the real scene ------------------------------------------------------------


@pytest.fixture
def copy01(dataset: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "scene_01"
    shutil.copytree(dataset / "scene_01", dst)
    return dst


def test_truncated_npz_names_the_file(copy01: Path) -> None:
    npz = sorted((copy01 / "point_cloud" / "LIDAR").glob("*.npz"))[1]
    npz.write_bytes(npz.read_bytes()[:5000])
    rec = open_dgp(copy01)  # opening reads only the index
    rec.frame(0)
    with pytest.raises(CorruptFileError) as e:
        rec.frame(1)
    assert e.value.path == npz and "npz" in e.value.reason
    assert main(["info", str(copy01), "--json"]) == 2


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda doc: doc.pop("samples"), "samples"),
        (lambda doc: doc["data"][0]["id"].pop("timestamp"), "timestamp"),
        (lambda doc: doc["data"][0]["datum"]["point_cloud"].pop("filename"), "filename"),
        (lambda doc: doc["samples"][1].pop("datum_keys"), "datum_keys"),
        (lambda doc: doc["samples"][0]["datum_keys"].append("deadbeef"), "deadbeef"),
        (lambda doc: doc["data"][0]["datum"]["point_cloud"]["pose"]["rotation"].update(qw=2.0), "unit quaternion"),
    ],
)
def test_malformed_scene_json_names_the_file(copy01: Path, edit: Any, words: str) -> None:
    sj = next(copy01.glob("scene_*.json"))
    doc = json.loads(sj.read_text())
    edit(doc)
    sj.write_text(json.dumps(doc))
    with pytest.raises(CorruptFileError) as e:
        open_dgp(copy01)
    assert e.value.path == sj and words in e.value.reason


@pytest.mark.parametrize("nan", [float("nan"), "NaN"])
def test_box_with_nan_names_the_file(copy01: Path, nan: Any, capsys: pytest.CaptureFixture[str]) -> None:
    bf = sorted((copy01 / "bounding_box_3d" / "LIDAR").glob("*.json"))[2]
    d = json.loads(bf.read_text())
    d["annotations"][7]["box"]["width"] = nan
    bf.write_text(json.dumps(d))
    rec = open_dgp(copy01)
    with pytest.raises(CorruptFileError) as e:
        _ = rec.labels
    assert e.value.path == bf and "annotations[7].box.width" in e.value.reason and "NaN" in e.value.reason
    # `info` still reports the rest, with the broken file as a problem
    assert main(["info", str(copy01), "--json"]) == 2
    s = json.loads(capsys.readouterr().out)
    assert s["frames"] == 3 and len(s["problems"]) == 1 and str(bf) in s["problems"][0]


def test_broken_calibration_and_ontology(copy01: Path) -> None:
    calib = next((copy01 / "calibration").glob("*.json"))
    d = json.loads(calib.read_text())
    d["extrinsics"].pop()
    calib.write_text(json.dumps(d))
    with pytest.raises(CalibrationError) as e:
        open_dgp(copy01)
    assert e.value.path == calib and "entries" in e.value.reason
    calib.unlink()
    with pytest.raises(DataError) as e2:
        open_dgp(copy01)
    assert e2.value.path == calib and "missing" in e2.value.reason


def test_class_id_outside_the_ontology(copy01: Path) -> None:
    bf = min((copy01 / "bounding_box_3d" / "LIDAR").glob("*.json"))
    d = json.loads(bf.read_text())
    d["annotations"][0]["class_id"] = 42
    bf.write_text(json.dumps(d))
    with pytest.raises(CorruptFileError, match="class_id 42") as e:
        _ = open_dgp(copy01).labels
    assert e.value.path == bf


# -- without the real data ----------------------------------------------------------------------


def test_timestamps_are_exact_beyond_int64() -> None:
    assert parse_timestamp_ns("1970-01-01T00:00:00Z") == 0
    assert parse_timestamp_ns("2019-05-01T12:00:00.123456789Z") == 1556712000_123456789
    assert parse_timestamp_ns("2019-05-01T14:00:00.5+02:00") == 1556712000_500000000
    t = parse_timestamp_ns("2463-05-15T00:38:58.203752Z")
    assert t == 15569195938_203752000 and t > np.iinfo(np.int64).max  # why times are scene-relative
    for bad in ("2019-05-01 12:00", "2019-13-01T00:00:00Z", 12):
        with pytest.raises(ValueError):
            parse_timestamp_ns(bad)


def test_box_conversion() -> None:
    # length along the box +x: a box turned 90 degrees in a sensor turned 90 degrees faces ego -x
    s = np.sqrt(0.5)
    T = Transform.from_yaw(np.pi / 2, [1.0, 0.0, 1.8])
    b = dgp_boxes_to_ego([[10.0, 0.0, -1.0]], [[2.0, 4.5, 1.5]], [[s, 0, 0, s]], T)
    assert np.allclose(b.center, [[1.0, 10.0, 0.8]]) and np.allclose(b.size, [[4.5, 2.0, 1.5]])
    assert abs(abs(b.yaw[0]) - np.pi) < 1e-9
    # a tilted box keeps the heading of its +x axis
    tilt = Transform.from_rt(
        Transform.from_yaw(0.3).rotation
        @ np.array([[1, 0, 0], [0, np.cos(0.1), -np.sin(0.1)], [0, np.sin(0.1), np.cos(0.1)]]),
        [0, 0, 0],
    )
    q = tilt.quaternion.elements
    assert dgp_boxes_to_ego([[0, 0, 0]], [[1, 2, 1]], [q], Transform.identity()).yaw[0] == pytest.approx(0.3)


def _write_scene(root: Path) -> Path:
    """A two-sample DGP scene: a LiDAR mounted yawed by 90 degrees, one camera, one box with 50 points."""
    import cv2

    sc = root / "scene_x"
    for sub in ("point_cloud/LIDAR", "rgb/CAM", "bounding_box_3d/LIDAR", "calibration", "ontology"):
        (sc / sub).mkdir(parents=True)
    s = np.sqrt(0.5)

    def pose(q: tuple[float, ...], t: tuple[float, ...]) -> dict[str, Any]:
        return {"rotation": dict(zip(("qw", "qx", "qy", "qz"), q)), "translation": dict(zip("xyz", t))}

    calib = {
        "names": ["LIDAR", "CAM"],
        # the LIDAR extrinsic rotation has qx = qy = 0 and they are left out (protobuf JSON)
        "extrinsics": [
            {"rotation": {"qw": s, "qz": s}, "translation": {"x": 1.0, "z": 1.8}},
            pose((0.5, -0.5, 0.5, -0.5), (2.0, 0.0, 1.5)),
        ],
        "intrinsics": [{}, {"fx": 100.0, "fy": 100.0, "cx": 32.0, "cy": 24.0, "skew": 0.0}],
    }
    (sc / "calibration" / "c1.json").write_text(json.dumps(calib))
    (sc / "ontology" / "o1.json").write_text(
        json.dumps({"items": [{"id": 7, "name": "Car"}, {"id": 3, "name": "Person"}]})
    )
    rng = np.random.default_rng(0)
    data, samples = [], []
    for k in range(2):
        # box centre (0, -8, -1) in the LiDAR frame; 50 points inside it, 200 clutter points far away
        inside = rng.uniform(-0.45, 0.45, size=(50, 3)) * [4.0, 1.8, 1.5] + [0.0, -8.0, -1.0]
        clutter = rng.uniform(20, 40, size=(200, 3))
        pts = np.hstack([np.vstack([inside, clutter]), rng.uniform(0, 1, (250, 1))])
        stamp = f"2019-05-01T12:00:0{k}.000000Z"
        np.savez_compressed(sc / f"point_cloud/LIDAR/{k}.npz", data=pts)
        cv2.imwrite(str(sc / f"rgb/CAM/{k}.png"), np.zeros((48, 64, 3), np.uint8))
        box = {
            "box": {"pose": pose((1.0, 0.0, 0.0, 0.0), (0.0, -8.0, -1.0)), "width": 1.8, "length": 4.0, "height": 1.5},
            "class_id": 7,
            "instance_id": 555,
            "num_points": 50,
        }
        (sc / f"bounding_box_3d/LIDAR/{k}.json").write_text(json.dumps({"annotations": [box]}))
        data += [
            {
                "key": f"l{k}",
                "id": {"name": "LIDAR", "timestamp": stamp},
                "datum": {
                    "point_cloud": {
                        "filename": f"point_cloud/LIDAR/{k}.npz",
                        "point_format": ["X", "Y", "Z", "INTENSITY"],
                        "annotations": {"1": f"bounding_box_3d/LIDAR/{k}.json"},
                        "pose": pose((1.0, 0.0, 0.0, 0.0), (100.0 + k, 0.0, 0.0)),
                    }
                },
            },
            {
                "key": f"c{k}",
                "id": {"name": "CAM", "timestamp": f"2019-05-01T12:00:0{k}.050000Z"},
                "datum": {"image": {"filename": f"rgb/CAM/{k}.png", "width": 64, "height": 48}},
            },
        ]
        samples.append({"datum_keys": [f"l{k}", f"c{k}"], "calibration_key": "c1", "id": {"timestamp": stamp}})
    (sc / "scene_abc123.json").write_text(json.dumps({"data": data, "samples": samples, "ontologies": {"1": "o1"}}))
    return sc


def test_synthetic_scene_round_trip(tmp_path: Path) -> None:
    sc = _write_scene(tmp_path)
    rec = open_recording(sc)
    assert isinstance(rec, DGPRecording) and rec.problems == [] and len(rec) == 2
    assert rec.timestamps_ns.tolist() == [0, 1_000_000_000] and rec.streams["CAM"].timestamps_ns.tolist() == [
        50_000_000,
        1_050_000_000,
    ]
    T = rec.rig.T_ego_sensor("LIDAR")
    assert np.allclose(T.translation, [1.0, 0.0, 1.8]) and T.yaw == pytest.approx(np.pi / 2)
    # ego pose = T_world_lidar @ inv(T_ego_lidar)
    fr = rec.frame(1)
    assert fr.ego_pose is not None and fr.ego_pose.allclose(Transform.from_rt(np.eye(3), [101.0, 0, 0]) @ T.inverse())
    assert fr.image("CAM").shape == (48, 64, 3)
    labels = rec.labels
    assert labels is not None and labels.track_ids.tolist() == [1]
    fl = labels.get(1)
    assert fl.categories == ("Car",) and fl.attributes[0]["instance_id"] == 555
    # (0, -8, -1) in a LiDAR yawed by +90 deg at (1, 0, 1.8) is (9, 0, 0.8) in the ego frame, box facing ego +y
    assert np.allclose(fl.boxes.center, [[9.0, 0.0, 0.8]]) and np.allclose(fl.boxes.size, [[4.0, 1.8, 1.5]])
    assert fl.boxes.yaw[0] == pytest.approx(np.pi / 2)
    cloud = fr.lidar["LIDAR"]
    inside = points_in_boxes(T.apply(cloud.xyz), fl.boxes).sum()
    assert inside == fl.attributes[0]["num_points"] == 50
    # no ego poses at all is allowed; some missing is a stated problem
    doc = json.loads((sc / "scene_abc123.json").read_text())
    del doc["data"][0]["datum"]["point_cloud"]["pose"]
    (sc / "scene_abc123.json").write_text(json.dumps(doc))
    rec2 = open_dgp(sc)
    assert rec2.ego_poses is None and len(rec2.problems) == 1 and "pose" in rec2.problems[0].reason


def test_synthetic_scene_unsupported_lens_is_a_problem(tmp_path: Path) -> None:
    sc = _write_scene(tmp_path)
    calib = sc / "calibration" / "c1.json"
    d = json.loads(calib.read_text())
    d["intrinsics"][1]["fisheye"] = 1
    calib.write_text(json.dumps(d))
    rec = open_dgp(sc)
    assert "CAM" not in rec.rig.cameras and "CAM" not in rec.streams
    assert len(rec.problems) == 1 and "fisheye" in rec.problems[0].reason and rec.problems[0].path == calib
