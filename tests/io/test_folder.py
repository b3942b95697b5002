"""A folder of point clouds and a SUSTechPOINTS scene open as recordings (fusionlabel/io/folder.py):
real PCL, nebula and KITTI files from ../shared (read there), synthetic scenes in tmp_path."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.frames import PointCloud
from fusionlabel.core.projection import project_points
from fusionlabel.io.folder import time_from_name
from fusionlabel.io.open import open_recording, sniff_format
from fusionlabel.io.pcd import write_pcd


def test_pcl_folder(real_data: Path) -> None:
    rec = open_recording(real_data / "pcd" / "pcl")
    assert rec.format == "folder" and rec.reference == "lidar"
    n = len(list((real_data / "pcd" / "pcl").glob("*.pcd")))
    assert len(rec) == n
    # names without times: a fixed 10 Hz in natural name order
    assert np.array_equal(rec.timestamps_ns, np.arange(n) * 100_000_000)
    assert rec.frame_names[0] == "car6"
    for fr in rec:
        assert len(fr.lidar["lidar"].xyz) > 0


def test_nebula_folder_has_a_stream_per_sensor(real_data: Path) -> None:
    rec = open_recording(real_data / "pcd" / "nebula")
    assert set(rec.streams) == {"hesai_xt32", "velodyne_vlp16"}
    assert int(rec.streams["velodyne_vlp16"].timestamps_ns[0]) == 1673400472138016708  # ns from the name
    assert len(rec.frame(0).lidar) == 1  # the two sweeps are minutes apart: one per frame


def test_kitti_velodyne_bin_folder(real_data: Path) -> None:
    data = real_data / "kitti/raw/2011_09_26/2011_09_26_drive_sfnd_sync/velodyne_points/data"
    assert sniff_format(data) == "folder"
    rec = open_recording(data)
    assert len(rec) == len(list(data.glob("*.bin")))
    cloud = rec.frame(0).lidar["lidar"]
    assert cloud.xyz.shape[0] > 10_000 and float(cloud.intensity.max()) <= 1.0


def test_time_rules() -> None:
    assert time_from_name("1700000000123") == 1700000000123 * 10**6  # ms
    assert time_from_name("1700000000") == 1700000000 * 10**9  # s
    assert time_from_name("frame_0042") is None


def _cloud(n: int = 400, seed: int = 0) -> PointCloud:
    rng = np.random.default_rng(seed)
    xyz = rng.uniform([2, -5, -1], [20, 5, 2], size=(n, 3)).astype(np.float32)
    return PointCloud(xyz, {"intensity": rng.uniform(0, 1, n).astype(np.float32)})


def _png(path: Path, w: int = 320, h: int = 200) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 128, np.uint8))


def _scene(root: Path, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A SUSTechPOINTS scene: lidar/, camera/front/, calib/camera/front.json, label/."""
    for i, n in enumerate(names):
        (root / "lidar").mkdir(parents=True, exist_ok=True)
        write_pcd(root / "lidar" / f"{n}.pcd", _cloud(seed=i))
        _png(root / "camera" / "front" / f"{n}.jpg")
    # a camera 0.2 m left of the LiDAR looking forward: LiDAR x -> camera z, y -> -x, z -> -y
    T_cam_lidar = np.array([[0, -1, 0, 0.2], [0, 0, -1, 0.1], [1, 0, 0, 0.0], [0, 0, 0, 1]], dtype=float)
    K = np.array([[300.0, 0, 160], [0, 300, 100], [0, 0, 1]])
    (root / "calib" / "camera").mkdir(parents=True)
    (root / "calib" / "camera" / "front.json").write_text(
        json.dumps({"extrinsic": T_cam_lidar.ravel().tolist(), "intrinsic": K.ravel().tolist()})
    )
    (root / "label").mkdir()
    obj = {
        "psr": {
            "position": {"x": 10.0, "y": 1.0, "z": 0.5},
            "scale": {"x": 4.0, "y": 1.8, "z": 1.5},
            "rotation": {"x": 0, "y": 0, "z": 0.2},
        },
        "obj_type": "Car",
        "obj_id": "3",
    }
    (root / "label" / f"{names[1]}.json").write_text(json.dumps([obj]))
    return T_cam_lidar, K


def test_sustechpoints_scene(tmp_path: Path) -> None:
    names = ["000965", "000970", "000975"]
    T_cam_lidar, K = _scene(tmp_path / "scene", names)
    rec = open_recording(tmp_path / "scene")
    assert rec.format == "folder" and len(rec) == 3 and not rec.problems
    assert set(rec.streams) == {"lidar", "front"}
    cam = rec.rig.cameras["front"]
    assert (cam.width, cam.height) == (320, 200)  # from the first image's header
    # the rig projects a LiDAR point where SUSTechPOINTS' extrinsic and intrinsic put it
    p = np.array([[12.0, 1.5, 0.3]])
    uvw = K @ (T_cam_lidar @ np.append(p[0], 1.0))[:3]
    ours = project_points(p, cam, cam.T_ego_cam.inverse() @ rec.rig.T_ego_sensor("lidar"))
    assert np.allclose(ours.uv[0], uvw[:2] / uvw[2])
    fr = rec.frame(1)
    assert set(fr.lidar) == {"lidar"} and set(fr.images) == {"front"}
    assert fr.image("front").shape == (200, 320, 3)
    labels = rec.labels
    assert sorted(labels.frames) == [1] and labels.frames[1].track_ids.tolist() == [3]
    assert np.allclose(labels.frames[1].boxes.to_array()[0], [10, 1, 0.5, 4, 1.8, 1.5, 0.2])


def test_info_and_prelabel_commands_open_a_scene(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fusionlabel.cli import main

    _scene(tmp_path / "scene", ["000000", "000001", "000002"])
    assert main(["info", str(tmp_path / "scene")]) == 0
    out = capsys.readouterr().out
    assert "folder" in out and "front" in out
    assert main(["prelabel", str(tmp_path / "scene"), "--detector", "geometric", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "scene" / "labels.json").is_file()


def test_timestamps_csv_and_plain_folder(tmp_path: Path) -> None:
    d = tmp_path / "clouds"
    d.mkdir()
    for n in ("b", "a", "c"):
        write_pcd(d / f"{n}.pcd", _cloud())
    (d / "timestamps.csv").write_text("name,timestamp_ns\na.pcd,300\nb,100\nc,200\n")
    rec = open_recording(d)
    assert rec.timestamps_ns.tolist() == [100, 200, 300] and [rec.frame_names[k] for k in range(3)] == ["b", "c", "a"]
    assert rec.labels is None
    (d / "timestamps.csv").write_text("name,timestamp_ns\na,1\nb,2\n")
    with pytest.raises(CorruptFileError, match=r"timestamps\.csv: no time for 'c'"):
        open_recording(d)


def test_images_named_like_clouds_and_an_uncalibrated_camera(tmp_path: Path) -> None:
    d = tmp_path / "drive"
    d.mkdir()
    for t in (1_700_000_000_000, 1_700_000_000_100):  # millisecond names
        write_pcd(d / f"{t}.pcd", _cloud())
        _png(d / "cam0" / f"{t}.png")
    rec = open_recording(d)
    assert rec.timestamps_ns.tolist() == [1_700_000_000_000 * 10**6, 1_700_000_000_100 * 10**6]
    assert "cam0" not in rec.streams and any("no calibration" in p.reason for p in rec.problems)
    assert math.isclose(rec.streams["lidar"].rate_hz, 10.0)
