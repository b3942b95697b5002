"""KITTI readers on the real files under ``real_data/kitti``."""

from __future__ import annotations

import calendar
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes, points_in_boxes, wrap_angle
from fusionlabel.core.conventions import kitti_alpha
from fusionlabel.core.errors import CalibrationError, CorruptFileError, UnsupportedFormatError
from fusionlabel.core.projection import bbox_iou, project_boxes, project_points
from fusionlabel.io.kitti import (
    CAMERAS,
    LIDAR,
    format_kitti_tracking_labels,
    kitti_labels_to_labelset,
    kitti_T_rect_velo,
    labelset_to_kitti_labels,
    open_kitti_raw,
    open_kitti_tracking,
    parse_kitti_timestamp,
    read_kitti_calib,
    read_kitti_labels,
    read_kitti_timestamps,
    rig_from_kitti_calib,
    write_kitti_tracking_labels,
)
from fusionlabel.io.open import open_recording, sniff_format


@pytest.fixture(scope="module")
def kitti(real_data: Path) -> Path:
    p = real_data / "kitti"
    if not p.is_dir():
        pytest.skip(f"{p} not found")
    return p


def raw_day(kitti: Path) -> Path:
    return kitti / "raw" / "2011_09_26"


def tracking(kitti: Path) -> Path:
    return kitti / "tracking" / "training"


def file_ids(text: str) -> set[int]:
    """Distinct track ids of non-DontCare rows, parsed independently of the reader."""
    return {int(ln.split()[1]) for ln in text.splitlines() if ln.strip() and ln.split()[2] != "DontCare"}


def assert_same_rig(a, b, atol: float = 0.0) -> None:  # type: ignore[no-untyped-def]
    assert set(a.cameras) == set(b.cameras) and set(a.lidars) == set(b.lidars)
    for n in a.cameras:
        ca, cb = a.cameras[n], b.cameras[n]
        assert np.allclose(ca.K, cb.K, atol=atol, rtol=0) and (ca.width, ca.height) == (cb.width, cb.height)
        assert np.allclose(ca.T_ego_cam.matrix, cb.T_ego_cam.matrix, atol=atol, rtol=0)


# -- raw ---------------------------------------------------------------------------------------------
def test_raw_drive_frames_load_and_project(kitti: Path) -> None:
    drive = raw_day(kitti) / "2011_09_26_drive_sfnd_sync"
    rec = open_recording(drive)
    assert rec.format == "kitti-raw" and len(rec) == 6
    # no timestamps.txt in this copy: nominal 10 Hz, said so in problems
    assert rec.timestamps_ns.tolist() == [i * 100_000_000 for i in range(6)]
    assert any("timestamps.txt" in str(p) and "nominal" in str(p) for p in rec.problems)
    assert set(rec.rig.cameras) == set(CAMERAS) and set(rec.rig.lidars) == {LIDAR}
    cam = rec.rig.cameras["image_02"]
    assert (cam.width, cam.height) == (1242, 375) and len(cam.D) == 0
    T_cam_velo = rec.rig.T_cam_sensor("image_02", LIDAR)
    for i in (0, 5):
        f = rec.frame(i)
        cloud = f.lidar[LIDAR]
        assert len(cloud) > 100_000 and cloud.frame_id == LIDAR
        assert 0.0 <= float(cloud.intensity.min()) and float(cloud.intensity.max()) <= 1.0
        img = f.image("image_02")
        assert img.shape == (375, 1242, 3) and img.dtype == np.uint8
        pr = project_points(cloud.xyz, cam, T_cam_velo)
        # a 90-degree camera sees roughly a sixth of a 360-degree sweep, all of it in front of the car
        assert 10_000 < int(pr.valid.sum()) < len(cloud) // 3
        assert np.all(cloud.xyz[pr.valid, 0] > 0)


def test_raw_calibration_chain_matches_the_tracking_calibration(kitti: Path) -> None:
    rec = open_kitti_raw(raw_day(kitti) / "2011_09_26_drive_sfnd_sync")
    # tracking sequence 0001 was recorded on 2011_09_26: its calib file repeats the day's numbers
    p = tracking(kitti) / "calib" / "0001.txt"
    other = rig_from_kitti_calib(read_kitti_calib(p), p, (1242, 375))
    assert_same_rig(rec.rig, other, atol=1e-6)
    # the Velodyne sits ~0.27 m behind and ~0.08 m above camera 0, its x axis along the optical axis
    T = rec.rig.T_cam_sensor("image_00", LIDAR)
    assert np.allclose(T.apply(np.zeros((1, 3)))[0], [0.0, -0.08, -0.27], atol=0.02)
    assert T.apply_vectors(np.array([[1.0, 0, 0]]))[0, 2] > 0.999
    # camera 2 is 6 cm left of camera 0... in the ego frame (y left): +0.06 m
    d = rec.rig.cameras["image_02"].T_ego_cam.translation - rec.rig.cameras["image_00"].T_ego_cam.translation
    assert d[1] == pytest.approx(0.06, abs=0.005)


def test_raw_metadata_only_drive(kitti: Path) -> None:
    drive = raw_day(kitti) / "2011_09_26_drive_0001_sync_metadata_only"
    rec = open_kitti_raw(drive)
    assert len(rec) == 0  # no data files: 0 frames, said so
    assert any("metadata only" in str(p) for p in rec.problems)
    with pytest.raises(IndexError):
        rec.frame(0)
    assert len(rec.streams[LIDAR]) == 108 and len(rec.streams["image_02"]) == 108
    first = (drive / "velodyne_points" / "timestamps.txt").read_text().splitlines()[0]
    assert first == "2011-09-26 13:02:25.951199337"
    day = calendar.timegm(datetime(2011, 9, 26, 13, 2, 25, tzinfo=timezone.utc).timetuple())
    assert int(rec.streams[LIDAR].timestamps_ns[0]) == day * 10**9 + 951199337  # to the nanosecond
    assert np.all(np.diff(rec.streams[LIDAR].timestamps_ns) > 90_000_000)
    # the one oxts packet -> one ego pose at the oxts timestamp, heading = oxts yaw (-2.6087 rad)
    assert rec.ego_poses is not None and len(rec.ego_poses) == 1
    assert int(rec.ego_poses.timestamps_ns[0]) == day * 10**9 + 964389445
    pose = rec.ego_poses.poses[0]
    assert float(wrap_angle(pose.yaw - (-2.6087069803847))) == pytest.approx(0.0, abs=0.01)
    # origin = first IMU position: the Velodyne sits ~0.8 m above it, ~0.8 m forward
    assert np.linalg.norm(pose.translation) == pytest.approx(np.linalg.norm([0.81, 0.32, 0.80]), abs=0.05)


def test_timestamp_parsing_is_exact() -> None:
    t = parse_kitti_timestamp("2011-09-26 13:02:25.964389445")
    assert t == 1317042145 * 10**9 + 964389445
    assert parse_kitti_timestamp("2011-09-26 13:02:25.5") == 1317042145 * 10**9 + 500_000_000
    assert float(t) != t  # a float would have lost the last digits
    with pytest.raises(ValueError):
        parse_kitti_timestamp("26/09/2011 13:02")


# -- tracking -----------------------------------------------------------------------------------------
def test_all_tracking_calibrations_load(kitti: Path) -> None:
    files = sorted((tracking(kitti) / "calib").glob("*.txt"))
    assert len(files) == 21
    for p in files:
        calib = read_kitti_calib(p)
        assert {"P0", "P1", "P2", "P3", "R0_rect", "Tr_velo_to_cam", "Tr_imu_to_velo"} <= set(calib)
        rig = rig_from_kitti_calib(calib, p)
        T = rig.T_cam_sensor("image_02", LIDAR)
        assert T.apply_vectors(np.array([[1.0, 0, 0]]))[0, 2] > 0.999, p  # LiDAR forward = optical axis
        assert np.allclose(T.rotation @ T.rotation.T, np.eye(3), atol=1e-5), p
        assert 650 < rig.cameras["image_02"].K[0, 0] < 750, p


@pytest.mark.parametrize("seq,frames,size", [("0001", 447, (1242, 375)), ("0016", 209, (1224, 370))])
def test_tracking_sequences_load(kitti: Path, seq: str, frames: int, size: tuple[int, int]) -> None:
    root = tracking(kitti)
    rec = open_kitti_tracking(root / "label_02" / f"{seq}.txt")
    assert rec.format == "kitti-tracking" and rec.sequence == seq and len(rec) == frames
    assert rec.timestamps_ns[1] - rec.timestamps_ns[0] == 100_000_000
    text = (root / "label_02" / f"{seq}.txt").read_text()
    labels = rec.labels
    assert labels is not None
    assert set(labels.track_ids.tolist()) == file_ids(text)
    n_dc = sum(1 for ln in text.splitlines() if " DontCare " in ln)
    assert labels.num_boxes + sum(len(v) for v in rec.dont_care.values()) == len(text.splitlines())
    assert sum(len(v) for v in rec.dont_care.values()) == n_dc
    assert "DontCare" not in {c for f in labels.frames.values() for c in f.categories}
    one = next(iter(labels.frames.values()))
    assert one.attributes is not None and {"truncated", "occluded", "alpha", "bbox_2d"} <= set(one.attributes[0])
    cam = rec.rig.cameras["image_02"]
    assert (cam.width, cam.height) == size  # read from the PNG header
    with_images = sorted(int(p.stem) for p in (root / "image_02" / seq).glob("*.png"))
    for i in with_images:
        img = rec.frame(i).image("image_02")
        assert img.shape == (size[1], size[0], 3)
    assert "image_02" not in rec.frame(with_images[0] + 1).images  # a frame without an image is fine
    assert LIDAR not in rec.frame(0).lidar  # no velodyne in this copy


def test_projection_of_tracking_labels_matches_2d_boxes(kitti: Path) -> None:
    """Rows: every ``Car`` row of sequence 0001 (2,681 over 447 frames), truncated ones included.

    KITTI's tracking 2D boxes are the image_02 extents of the 3D boxes clipped to the image, and
    ``project_boxes`` clips its boxes to the image too, so truncated cars compare like for like.
    DontCare rows have no 3D box; Pedestrians are left out (their 2D boxes are drawn tighter than
    the projected cuboid, median IoU ~0.74).
    """
    rec = open_kitti_tracking(tracking(kitti) / "image_02" / "0001")
    cam = rec.rig.cameras["image_02"]
    T_cam_ego = rec.rig.T_cam_sensor("image_02", LIDAR)
    labels = rec.labels
    assert labels is not None

    def ious(yaw_offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        out, trunc = [], []
        for f in labels.frames.values():
            cars = f.select(np.array([c == "Car" for c in f.categories]))
            if not len(cars):
                continue
            b = cars.boxes
            b = Boxes(b.center, b.size, b.yaw + yaw_offset)
            assert cars.attributes is not None
            proj = project_boxes(b, cam, T_cam_ego).bbox
            # a box that projects nowhere (NaN) counts as IoU 0
            out.append(np.nan_to_num(bbox_iou(proj, [a["bbox_2d"] for a in cars.attributes]), nan=0.0))
            trunc.append([a["truncated"] for a in cars.attributes])
        return np.concatenate(out), np.concatenate(trunc)

    iou, trunc = ious()
    assert len(iou) == 2681
    assert np.median(iou) > 0.9
    assert np.median(iou[trunc == 0]) > 0.95 and np.percentile(iou[trunc == 0], 5) > 0.9
    assert np.median(iou[trunc > 0]) > 0.9  # clipped like the labels
    # the test bites: a heading off by 90 degrees no longer matches
    wrong, _ = ious(np.pi / 2)
    assert np.median(wrong) < 0.85


def test_alpha_agrees_with_the_labels(kitti: Path) -> None:
    rows = read_kitti_labels(tracking(kitti) / "label_02" / "0001.txt")
    m = ~rows.dont_care
    err = np.abs(wrap_angle(kitti_alpha(rows.xyz[m], rows.rotation_y[m]) - rows.alpha[m]))
    assert np.median(err) < 0.01
    wrong = np.abs(wrap_angle(rows.rotation_y[m] + np.arctan2(rows.xyz[m, 0], rows.xyz[m, 2]) - rows.alpha[m]))
    assert np.median(wrong) > 0.05


def test_tracking_paths(kitti: Path, tmp_path: Path) -> None:
    root = tracking(kitti)
    a = open_kitti_tracking(root / "image_02" / "0001")
    b = open_kitti_tracking(root / "label_02" / "0001.txt")
    assert a.sequence == b.sequence == "0001" and len(a) == len(b)
    assert sniff_format(root / "image_02" / "0016") == "kitti-tracking"
    with pytest.raises(UnsupportedFormatError) as e:
        open_kitti_tracking(root)
    assert "0001" in str(e.value) and "0016" in str(e.value) and "label_02" in str(e.value)
    # `training` with exactly one sequence opens it; a velodyne/<seq> folder is accepted too
    t = tmp_path / "training"
    (t / "calib").mkdir(parents=True)
    (t / "velodyne" / "0016").mkdir(parents=True)
    shutil.copy(root / "calib" / "0016.txt", t / "calib")
    shutil.copy(kitti / "object" / "training" / "velodyne" / "000001.bin", t / "velodyne" / "0016" / "000003.bin")
    for p in (t, t / "velodyne" / "0016"):
        rec = open_recording(p)
        assert rec.format == "kitti-tracking" and len(rec) == 4 and rec.labels is None
        assert len(rec.frame(3).lidar[LIDAR]) > 100_000 and rec.frame(2).lidar == {}


def official_spelling(text: str) -> str:
    out = []
    for ln in text.splitlines():
        key, _, rest = ln.partition(":")
        key = {"R0_rect": "R_rect", "Tr_velo_to_cam": "Tr_velo_cam", "Tr_imu_to_velo": "Tr_imu_velo"}.get(key, key)
        out.append(f"{key} {rest.strip()}" if rest.strip() else "")
    return "\n".join(out) + "\n"


def test_both_calibration_spellings_give_the_same_rig(kitti: Path, tmp_path: Path) -> None:
    root = tracking(kitti)
    t = tmp_path / "training"
    (t / "calib").mkdir(parents=True)
    (t / "label_02").mkdir()
    official = official_spelling((root / "calib" / "0001.txt").read_text())
    assert "R_rect " in official and "Tr_velo_cam " in official and ":" not in official
    (t / "calib" / "0001.txt").write_text(official)
    shutil.copy(root / "label_02" / "0001.txt", t / "label_02")
    ours = open_kitti_tracking(t / "label_02" / "0001.txt")
    real = open_kitti_tracking(root / "label_02" / "0001.txt")
    assert_same_rig(ours.rig, real.rig)
    assert np.array_equal(ours.T_rect_velo.matrix, real.T_rect_velo.matrix)
    la, lb = ours.labels, real.labels
    assert la is not None and lb is not None
    assert np.array_equal(la.frames[0].boxes.to_array(), lb.frames[0].boxes.to_array())


def test_tracking_label_writer_round_trips(kitti: Path, tmp_path: Path) -> None:
    src = tracking(kitti) / "label_02" / "0001.txt"
    rows = read_kitti_labels(src)
    assert rows.kind == "tracking" and len(rows) == 4271
    out = tmp_path / "0001.txt"
    write_kitti_tracking_labels(out, rows)
    assert out.read_bytes() == src.read_bytes()  # the devkit's own formatting, byte for byte
    # through our ego frame and back: the same rows (order within a frame aside)
    calib = read_kitti_calib(tracking(kitti) / "calib" / "0001.txt")
    T = kitti_T_rect_velo(calib, "0001.txt")
    labelset, dont_care = kitti_labels_to_labelset(rows, T, src)
    again = format_kitti_tracking_labels(labelset_to_kitti_labels(labelset, T, dont_care))
    assert sorted(again.splitlines()) == sorted(src.read_text().splitlines())
    # a label set without 2D boxes needs a camera to make them
    bare = labelset.frames[0]
    from fusionlabel.core.labels import FrameLabels, LabelSet

    stripped = LabelSet({0: FrameLabels(bare.track_ids, bare.categories, bare.boxes)})
    with pytest.raises(ValueError):
        labelset_to_kitti_labels(stripped, T)
    rig = rig_from_kitti_calib(calib, "0001.txt")
    made = labelset_to_kitti_labels(stripped, T, camera=rig.cameras["image_02"])
    assert np.median(bbox_iou(made.bbox, rows.bbox[(rows.frame == 0) & ~rows.dont_care])) > 0.9


# -- object --------------------------------------------------------------------------------------------
def test_object_frame_boxes_contain_points(kitti: Path) -> None:
    rec = open_recording(kitti / "object" / "training")
    assert rec.format == "kitti-object" and len(rec) == 1
    f = rec.frame(0)
    cloud = f.lidar[LIDAR]
    assert len(cloud) == (kitti / "object" / "training" / "velodyne" / "000001.bin").stat().st_size // 16
    assert f.image("image_02").shape == (375, 1242, 3)
    labels = rec.labels
    assert labels is not None
    fl = labels.frames[0]
    text = (kitti / "object" / "training" / "label_2" / "000001.txt").read_text().splitlines()
    assert fl.categories == tuple(ln.split()[0] for ln in text if not ln.startswith("DontCare"))
    assert len(rec.dont_care[0]) == sum(ln.startswith("DontCare") for ln in text)
    inside = points_in_boxes(cloud.xyz, fl.boxes)
    counts = inside.sum(axis=0)
    assert np.all(counts >= 5), counts
    assert inside.any(axis=1).mean() < 0.01  # the boxes hold objects, not the scene
    # the same boxes turned by 90 degrees hold fewer points in total
    turned = Boxes(fl.boxes.center, fl.boxes.size, fl.boxes.yaw + np.pi / 2)
    assert points_in_boxes(cloud.xyz, turned).sum() < inside.sum()
    # each object box's bottom rests near the lowest LiDAR returns around it (the road)
    for j in range(len(fl)):
        near = np.linalg.norm(cloud.xyz[:, :2] - fl.boxes.center[j, :2], axis=1) < 6
        assert abs(float(np.percentile(cloud.xyz[near, 2], 2)) - float(fl.boxes.bottom_z[j])) < 0.5


# -- bad input -----------------------------------------------------------------------------------------
def test_calibration_missing_key(kitti: Path, tmp_path: Path) -> None:
    root = tracking(kitti)
    t = tmp_path / "training"
    (t / "calib").mkdir(parents=True)
    (t / "label_02").mkdir()
    lines = (root / "calib" / "0001.txt").read_text().splitlines()
    (t / "calib" / "0001.txt").write_text("\n".join(ln for ln in lines if not ln.startswith("Tr_velo_to_cam")))
    shutil.copy(root / "label_02" / "0001.txt", t / "label_02")
    with pytest.raises(CalibrationError) as e:
        open_kitti_tracking(t / "label_02" / "0001.txt")
    assert str(t / "calib" / "0001.txt") in str(e.value) and "Tr_velo_to_cam" in str(e.value)
    # raw: the drive still opens (points, images), the problem names file and key
    day = tmp_path / "2011_09_26"
    drive = day / "2011_09_26_drive_x_sync"
    (drive / "velodyne_points" / "data").mkdir(parents=True)
    shutil.copy(
        raw_day(kitti) / "2011_09_26_drive_sfnd_sync" / "velodyne_points" / "data" / "0000000000.bin",
        drive / "velodyne_points" / "data",
    )
    for name in ("calib_velo_to_cam.txt", "calib_imu_to_velo.txt"):
        shutil.copy(raw_day(kitti) / name, day)
    cc = (raw_day(kitti) / "calib_cam_to_cam.txt").read_text().splitlines()
    (day / "calib_cam_to_cam.txt").write_text("\n".join(ln for ln in cc if not ln.startswith("P_rect_02")))
    rec = open_kitti_raw(drive)
    assert len(rec) == 1 and len(rec.frame(0).lidar[LIDAR]) > 100_000
    errs = [p for p in rec.problems if isinstance(p, CalibrationError)]
    assert errs and "calib_cam_to_cam.txt" in str(errs[0]) and "P_rect_02" in str(errs[0])


def copy_drive(kitti: Path, dst: Path, n: int = 3) -> Path:
    src = raw_day(kitti)
    day = dst / "2011_09_26"
    drive = day / "2011_09_26_drive_sfnd_sync"
    for sub, ext in (("velodyne_points", "bin"), ("image_02", "png")):
        (drive / sub / "data").mkdir(parents=True)
        for i in range(n):
            name = f"{i:010d}.{ext}"
            shutil.copy(src / "2011_09_26_drive_sfnd_sync" / sub / "data" / name, drive / sub / "data" / name)
    for p in src.glob("calib_*.txt"):
        shutil.copy(p, day)
    return drive


def test_truncated_scan_fails_only_its_frame(kitti: Path, tmp_path: Path) -> None:
    drive = copy_drive(kitti, tmp_path)
    bad = drive / "velodyne_points" / "data" / "0000000001.bin"
    bad.write_bytes(bad.read_bytes()[:-7])
    rec = open_kitti_raw(drive)
    assert len(rec) == 3
    with pytest.raises(CorruptFileError) as e:
        rec.frame(1)
    assert str(bad) in str(e.value)
    assert len(rec.frame(0).lidar[LIDAR]) > 100_000 and len(rec.frame(2).lidar[LIDAR]) > 100_000


def test_undecodable_image(kitti: Path, tmp_path: Path) -> None:
    drive = copy_drive(kitti, tmp_path, n=2)
    bad = drive / "image_02" / "data" / "0000000001.png"
    bad.write_bytes(bad.read_bytes()[:2000])  # a PNG cut short
    rec = open_kitti_raw(drive)
    with pytest.raises(CorruptFileError) as e:
        rec.frame(1).image("image_02")
    assert str(bad) in str(e.value)
    assert rec.frame(0).image("image_02").shape == (375, 1242, 3)


def test_malformed_text_files(kitti: Path, tmp_path: Path) -> None:
    lab = tmp_path / "labels.txt"
    lines = (tracking(kitti) / "label_02" / "0016.txt").read_text().splitlines()[:5]
    lines[3] = lines[3].rsplit(" ", 2)[0]  # two fields short
    lab.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorruptFileError) as e:
        read_kitti_labels(lab)
    assert str(lab) in str(e.value) and "line 4" in str(e.value)
    ts = tmp_path / "timestamps.txt"
    ts.write_text("2011-09-26 13:02:25.951199337\n2011-09-26 13:02:26,05\n")
    with pytest.raises(CorruptFileError) as e2:
        read_kitti_timestamps(ts)
    assert str(ts) in str(e2.value) and "line 2" in str(e2.value)
    cal = tmp_path / "calib.txt"
    cal.write_text("P0: 1 2 3 x\n")
    with pytest.raises(CorruptFileError):
        read_kitti_calib(cal)


def test_a_kitti_raw_calibration_with_nan_names_the_file(real_data: Path, tmp_path: Path) -> None:
    """Found by fuzzing: a NaN in calib_velo_to_cam.txt raised a bare ValueError."""
    import shutil

    from fusionlabel.core.errors import CalibrationError
    from fusionlabel.io.open import open_recording

    src = real_data / "kitti/raw/2011_09_26"
    day = tmp_path / "2011_09_26"
    day.mkdir()
    for f in src.glob("calib_*.txt"):
        shutil.copy(f, day / f.name)
    drive = day / "2011_09_26_drive_sfnd_sync" / "velodyne_points" / "data"
    drive.mkdir(parents=True)
    shutil.copy(src / "2011_09_26_drive_sfnd_sync/velodyne_points/data/0000000000.bin", drive)
    calib = day / "calib_velo_to_cam.txt"
    calib.write_text(calib.read_text().replace("R: ", "R: nan ", 1).replace("nan 7.533745e-03", "nan", 1))
    try:
        rec = open_recording(day / "2011_09_26_drive_sfnd_sync")
        problems = [str(p) for p in rec.problems]
        assert any("calib_velo_to_cam.txt" in p for p in problems), problems
    except CalibrationError as exc:
        assert exc.path == calib
