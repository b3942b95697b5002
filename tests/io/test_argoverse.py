"""Argoverse 2 sensor log reader, on the shared real log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyarrow import feather

from fusionlabel.core.boxes import points_in_boxes
from fusionlabel.core.errors import CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.projection import project_points
from fusionlabel.io.argoverse import open_argoverse2, read_sweep, sniff_argoverse2
from fusionlabel.io.open import open_recording

LOG = "argoverse2/sensor/val/7fab2350-7eaf-3b7e-a39d-6937a4c1bede"


@pytest.fixture(scope="module")
def log(real_data: Path) -> Path:
    return real_data / LOG


@pytest.fixture(scope="module")
def rec(log: Path):  # type: ignore[no-untyped-def]
    return open_argoverse2(log)


def test_opens_with_counts_matching_the_tables(log: Path, rec) -> None:  # type: ignore[no-untyped-def]
    assert sniff_argoverse2(log) and not sniff_argoverse2(log.parent)
    sweeps = sorted(int(p.stem) for p in (log / "sensors" / "lidar").glob("*.feather"))
    assert rec.timestamps_ns.tolist() == sweeps and len(rec) == 2 and rec.reference == "lidar"
    assert list(rec.streams) == ["lidar"]  # no images in this sample: cameras in the rig only
    ext = feather.read_table(log / "calibration" / "egovehicle_SE3_sensor.feather").to_pylist()
    intr = feather.read_table(log / "calibration" / "intrinsics.feather").to_pylist()
    assert set(rec.rig.cameras) == {r["sensor_name"] for r in intr} and len(rec.rig.cameras) == 9
    assert set(rec.rig.lidars) == {"lidar", "up_lidar", "down_lidar"}
    assert rec.rig.T_ego_sensor("lidar").allclose(rec.rig.T_ego_sensor("lidar").inverse())  # identity
    for r in ext:
        q = np.array([r["qw"], r["qx"], r["qy"], r["qz"]])
        assert abs(np.linalg.norm(q) - 1) < 1e-6
        assert np.allclose(rec.rig.T_ego_sensor(r["sensor_name"]).translation, [r["tx_m"], r["ty_m"], r["tz_m"]])
    for r in intr:
        cam = rec.rig.cameras[r["sensor_name"]]
        assert (cam.width, cam.height) == (r["width_px"], r["height_px"]) and cam.K[0, 0] == r["fx_px"]
        assert cam.D.tolist() == [r["k1"], r["k2"], 0.0, 0.0, r["k3"]]
    # one stated problem: annotations at timestamps whose sweeps are not in this trimmed log
    assert len(rec.problems) == 1 and "154 of 156" in rec.problems[0].reason
    assert open_recording(log, format="argoverse2").timestamps_ns.tolist() == sweeps


def test_ego_poses_interpolate(log: Path, rec) -> None:  # type: ignore[no-untyped-def]
    tab = feather.read_table(log / "city_SE3_egovehicle.feather")
    poses = rec.ego_poses
    assert poses is not None and len(poses) == tab.num_rows
    t = tab.column("timestamp_ns").to_numpy()
    i = int(np.searchsorted(t, rec.timestamps_ns[0]))
    T0, T1 = poses.at(int(t[i - 1])), poses.at(int(t[i]))
    Tm = rec.frame(0).ego_pose
    lo, hi = np.minimum(T0.translation, T1.translation), np.maximum(T0.translation, T1.translation)
    assert np.all(Tm.translation >= lo - 1e-9) and np.all(Tm.translation <= hi + 1e-9)
    # the car drives: the two sweeps' poses are ~0.1 s apart at a plausible speed
    d = np.linalg.norm(rec.frame(1).ego_pose.translation - Tm.translation)
    assert 0.01 < d / 0.1 < 40.0


def test_sweep_points_are_in_the_ego_frame(log: Path, rec) -> None:  # type: ignore[no-untyped-def]
    f = rec.frame(0)
    cloud = f.lidar["lidar"]
    table = feather.read_table(log / "sensors" / "lidar" / f"{rec.timestamps_ns[0]}.feather")
    assert len(cloud) == table.num_rows and cloud.timestamp_ns == rec.timestamps_ns[0]
    assert set(np.unique(cloud.fields["ring"])) <= set(range(64)) and cloud.fields["ring"].max() >= 32
    assert 0 <= cloud.fields["time"].min() and cloud.fields["time"].max() < 0.2
    # ego frame: the ground is ~0.3-0.5 m below the ego origin (rear axle), not 1.8 m below a roof lidar
    near = np.hypot(cloud.xyz[:, 0], cloud.xyz[:, 1]) < 15
    assert -1.0 < np.percentile(cloud.xyz[near, 2], 10) < 0.5


def test_camera_frames_are_optical(rec) -> None:  # type: ignore[no-untyped-def]
    cloud = rec.frame(0).lidar["lidar"]
    front = project_points(
        cloud.xyz, rec.rig.cameras["ring_front_center"], rec.rig.T_cam_sensor("ring_front_center", "lidar")
    )
    assert front.valid.sum() > 2000
    assert np.all(cloud.xyz[front.valid, 0] > 0)  # the front camera sees what is ahead
    rear = project_points(cloud.xyz, rec.rig.cameras["ring_rear_left"], rec.rig.T_cam_sensor("ring_rear_left", "lidar"))
    assert rear.valid.sum() > 2000 and np.all(cloud.xyz[rear.valid, 0] < 1.5)
    # the image's top rows see higher points than its bottom rows (y down)
    uv, z = front.uv[front.valid], cloud.xyz[front.valid, 2]
    h = rec.rig.cameras["ring_front_center"].height
    assert np.median(z[uv[:, 1] < h * 0.4]) > np.median(z[uv[:, 1] > h * 0.6])


def test_labels_persistent_and_containing_points(log: Path, rec) -> None:  # type: ignore[no-untyped-def]
    ann = feather.read_table(log / "annotations.feather")
    t = ann.column("timestamp_ns").to_numpy()
    labels = rec.labels
    assert labels is not None and set(labels.frames) == {0, 1}
    for k in (0, 1):
        fl = labels.get(k)
        assert len(fl) == int(np.count_nonzero(t == rec.timestamps_ns[k]))
        cloud = rec.frame(k).lidar["lidar"]
        counts = points_in_boxes(cloud.xyz, fl.boxes).sum(axis=0)
        expected = np.array([a["num_interior_pts"] for a in fl.attributes])
        assert np.mean(counts[expected > 0] > 0) > 0.95
        assert np.mean(np.abs(counts - expected) <= np.maximum(3, 0.05 * expected)) > 0.95
    # the same uuid has the same id in both frames, and ids are unique per uuid
    f0, f1 = labels.get(0), labels.get(1)
    u0 = {a["track_uuid"]: int(i) for a, i in zip(f0.attributes, f0.track_ids)}
    u1 = {a["track_uuid"]: int(i) for a, i in zip(f1.attributes, f1.track_ids)}
    common = set(u0) & set(u1)
    assert len(common) > 50 and all(u0[u] == u1[u] for u in common)
    assert len(set(u0.values()) | set(u1.values())) == len(set(u0) | set(u1))
    cats = dict(zip(ann.column("track_uuid").to_pylist(), ann.column("category").to_pylist()))
    for a, c in zip(f0.attributes, f0.categories):
        assert a["source_category"] == cats[a["track_uuid"]]
        if a["source_category"] == "REGULAR_VEHICLE":
            assert c == "Car"
    # a tracked car moved consistently between frames: box displacement small over 0.1 s
    _frames, boxes, _ = labels.track(
        next(i for i, c in zip(f0.track_ids, f0.categories) if c == "Car" and int(i) in u1.values())
    )
    assert np.linalg.norm(boxes.center[0] - boxes.center[1]) < 5.0


def _log_copy(log: Path, dst: Path) -> Path:
    """A writable log: symlinks to the shared tables, a real copy of the sweep folder."""
    dst.mkdir()
    for name in ("calibration", "city_SE3_egovehicle.feather", "annotations.feather"):
        (dst / name).symlink_to(log / name)
    (dst / "sensors" / "lidar").mkdir(parents=True)
    for p in (log / "sensors" / "lidar").glob("*.feather"):
        (dst / "sensors" / "lidar" / p.name).symlink_to(p)
    return dst


def test_corrupt_sweep_and_images(log: Path, tmp_path: Path) -> None:
    import cv2

    root = _log_copy(log, tmp_path / "log")
    t0 = min(int(p.stem) for p in (root / "sensors" / "lidar").glob("*.feather"))
    # a camera folder with one image 10 ms after the first sweep becomes a stream
    cam_dir = root / "sensors" / "cameras" / "ring_front_center"
    cam_dir.mkdir(parents=True)
    _ok, jpg = cv2.imencode(".jpg", np.zeros((2048, 1550, 3), np.uint8))
    (cam_dir / f"{t0 + 10_000_000}.jpg").write_bytes(jpg.tobytes())
    bad = root / "sensors" / "lidar" / f"{t0 - 100_000_000}.feather"
    bad.write_bytes(b"not an arrow file")
    rec = open_argoverse2(root)
    assert len(rec) == 3 and "ring_front_center" in rec.streams
    assert rec.frame(1).image("ring_front_center").shape == (2048, 1550, 3)
    assert "ring_front_center" not in rec.frame(2).images
    with pytest.raises(CorruptFileError) as ei:
        rec.frame(0)
    assert ei.value.path == bad
    with pytest.raises(CorruptFileError):
        read_sweep(bad)


def test_not_argoverse(tmp_path: Path, log: Path) -> None:
    with pytest.raises(UnsupportedFormatError):
        open_argoverse2(tmp_path)
    root = tmp_path / "empty_log"
    (root / "calibration").mkdir(parents=True)
    (root / "calibration" / "egovehicle_SE3_sensor.feather").symlink_to(
        log / "calibration" / "egovehicle_SE3_sensor.feather"
    )
    (root / "sensors" / "lidar").mkdir(parents=True)
    with pytest.raises(DataError) as ei:
        open_argoverse2(root)
    assert ei.value.path.name == "lidar"
