"""Tests for the native recording (:mod:`fusionlabel.io.native`): write with NativeWriter, read back."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import load_rig
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, ManifestError
from fusionlabel.core.frames import PointCloud, RadarDetections
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.sync import PoseTrack, match_nearest
from fusionlabel.core.transforms import Transform
from fusionlabel.io.native import MANIFEST, NativeWriter, open_native, sniff
from fusionlabel.io.open import open_recording

SAMPLE_RIG = Path(__file__).resolve().parents[2] / "calib" / "sample_rig.yaml"
MS = 1_000_000
T0 = 1_700_000_000_000_000_000
LIDAR_T = T0 + np.arange(5) * 100 * MS
# 4 camera images: frame 3 (t = 300 ms) has none within the 50 ms tolerance
CAM_T = T0 + np.array([2, 98, 207, 390]) * MS
RADAR_T = T0 + (np.arange(5) * 100 + 10) * MS
POSE_T = T0 + np.arange(-1, 10) * 50 * MS


@dataclass
class Written:
    root: Path
    clouds: list[PointCloud]
    images_rgb: list[np.ndarray]
    radar: list[RadarDetections]
    poses: list[Transform]
    labels: LabelSet


def _png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", rgb[:, :, ::-1])  # OpenCV encodes BGR
    assert ok
    return buf.tobytes()


def _write_recording(root: Path) -> Written:
    rng = np.random.default_rng(0)
    rig = load_rig(SAMPLE_RIG)
    w = NativeWriter(root, rig, reference="LIDAR_TOP", name="unit")
    clouds, images, radar = [], [], []
    for i, t in enumerate(LIDAR_T):
        n = 100 + 20 * i
        c = PointCloud(
            rng.normal(0, 20, (n, 3)).astype(np.float32),
            {"intensity": rng.uniform(0, 255, n).astype(np.float32)},
            "LIDAR_TOP",
            int(t),
        )
        w.add_lidar("LIDAR_TOP", int(t), c)
        clouds.append(c)
    for t in CAM_T:
        rgb = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        w.add_image("CAM_FRONT", int(t), _png(rgb), ".png")
        images.append(rgb)
    for t in RADAR_T:
        det = RadarDetections.from_polar(
            rng.uniform(1, 150, 7),
            rng.uniform(-0.7, 0.7, 7),
            rng.uniform(-0.05, 0.05, 7),
            rng.uniform(-30, 30, 7),
            rng.uniform(-10, 30, 7),
        )
        w.add_radar("RADAR_FRONT", int(t), det)
        radar.append(det)
    poses = [Transform.from_yaw(0.02 * k, [1.5 * k, 0.1 * k, 0.0]) for k in range(len(POSE_T))]
    frames = {}
    for i in range(5):
        ids = [1, 2] if i < 4 else [2]
        frames[i] = FrameLabels(
            np.array(ids),
            tuple("Car" if k == 1 else "Pedestrian" for k in ids),
            Boxes.from_array([[10.0 + i + k, -2.0 * k, 0.8, 4.2, 1.8, 1.6, 0.1 * i] for k in ids]),
        )
    labels = LabelSet(frames)
    w.finish(ego_poses=(POSE_T, poses), labels=labels)
    return Written(root, clouds, images, radar, poses, labels)


@pytest.fixture()
def rec_dir(tmp_path: Path) -> Written:
    return _write_recording(tmp_path / "rec")


def _manifest(root: Path) -> dict[str, Any]:
    return json.loads((root / MANIFEST).read_text())


def _set_manifest(root: Path, m: dict[str, Any]) -> None:
    (root / MANIFEST).write_text(json.dumps(m))


def _explicit_files(m: dict[str, Any], stream: str) -> list[str]:
    """Turn a stream's pattern into an explicit file list (to edit one entry)."""
    s = m["streams"][stream]
    if "files" not in s:
        pattern = s.pop("pattern")
        s["files"] = [pattern.format(index=i) for i in range(len(s["timestamps_ns"]))]
    return s["files"]


# -- round trip ---------------------------------------------------------------------------------


def test_layout_and_manifest(rec_dir: Written) -> None:
    root = rec_dir.root
    m = _manifest(root)
    assert m["format"] == "fusionlabel.recording" and m["version"] == 1
    assert m["reference"] == "LIDAR_TOP" and m["calibration"] == "calib.yaml"
    assert m["streams"]["LIDAR_TOP"]["timestamps_ns"] == LIDAR_T.tolist()
    assert m["streams"]["CAM_FRONT"]["kind"] == "camera"
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["recording.json", "calib.yaml", "ego_poses.csv", "labels.json", "lidar", "camera", "radar"]
    )
    assert not list(root.rglob("*.tmp"))
    assert sniff(root) and sniff(root / MANIFEST) and not sniff(root / "calib.yaml")


def test_round_trip(rec_dir: Written) -> None:
    rec = open_native(rec_dir.root)
    assert rec.format == "native" and rec.problems == []
    assert len(rec) == 5 and rec.reference == "LIDAR_TOP"
    np.testing.assert_array_equal(rec.timestamps_ns, LIDAR_T)
    assert rec.duration_s == pytest.approx(0.4)
    assert {n: s.kind for n, s in rec.streams.items()} == {
        "LIDAR_TOP": "lidar",
        "CAM_FRONT": "camera",
        "RADAR_FRONT": "radar",
    }
    assert rec.rig.to_dict() == load_rig(SAMPLE_RIG).to_dict()
    for i in range(5):
        f = rec.frame(i)
        assert f.index == i and f.timestamp_ns == LIDAR_T[i]
        c = f.lidar["LIDAR_TOP"]
        np.testing.assert_array_equal(c.xyz, rec_dir.clouds[i].xyz)
        np.testing.assert_array_equal(c.intensity, rec_dir.clouds[i].intensity)
        assert c.frame_id == "LIDAR_TOP" and c.timestamp_ns == LIDAR_T[i]
        r = f.radar["RADAR_FRONT"]
        np.testing.assert_allclose(r.xyz, rec_dir.radar[i].xyz, atol=6e-5)  # CSV keeps 4 decimals
        np.testing.assert_allclose(r.radial_velocity, rec_dir.radar[i].radial_velocity, atol=6e-5)
        np.testing.assert_allclose(r.rcs, rec_dir.radar[i].rcs, atol=6e-5)
        assert f.sensor_timestamps["RADAR_FRONT"] == RADAR_T[i]
    # negative indices and iteration
    assert rec.frame(-1).index == 4
    assert [f.index for f in rec] == [0, 1, 2, 3, 4]
    with pytest.raises(IndexError):
        rec.frame(5)


def test_images_and_sync(rec_dir: Written) -> None:
    rec = open_native(rec_dir.root)
    expected = match_nearest(LIDAR_T, CAM_T, rec.tolerance_ns)
    assert rec.sync["CAM_FRONT"].index.tolist() == expected.index.tolist() == [0, 1, 2, -1, 3]
    assert rec.sync["RADAR_FRONT"].index.tolist() == [0, 1, 2, 3, 4]
    assert rec.sync["RADAR_FRONT"].offset_ns.tolist() == [10 * MS] * 5
    for i, k in enumerate([0, 1, 2, None, 3]):
        f = rec.frame(i)
        if k is None:
            assert "CAM_FRONT" not in f.images and "CAM_FRONT" not in f.sensor_timestamps
            with pytest.raises(KeyError, match="CAM_FRONT"):
                f.image("CAM_FRONT")
            continue
        img = f.image("CAM_FRONT")
        assert img.dtype == np.uint8 and img.shape == (6, 8, 3)
        np.testing.assert_array_equal(img, rec_dir.images_rgb[k])  # PNG is lossless, RGB order
        assert f.sensor_timestamps["CAM_FRONT"] == CAM_T[k]
        assert f.images["CAM_FRONT"].timestamp_ns == CAM_T[k]


def test_poses_and_labels(rec_dir: Written) -> None:
    rec = open_native(rec_dir.root)
    assert rec.ego_poses is not None and len(rec.ego_poses) == len(POSE_T)
    for T_file, T in zip(rec.ego_poses.poses, rec_dir.poses):
        assert T_file.allclose(T, atol=2e-6)  # CSV: 6 decimals (translation), 9 (quaternion)
    ref = PoseTrack(POSE_T, tuple(rec_dir.poses))
    for i in range(5):
        pose = rec.frame(i).ego_pose
        assert pose is not None and pose.allclose(ref.at(int(LIDAR_T[i])), atol=2e-6)
    # between two pose samples: interpolated
    mid = rec.ego_pose_at(int(T0 + 25 * MS))
    # (poses k = 1 at T0 and k = 2 at T0 + 50 ms have x = 1.5 and 3.0)
    assert mid is not None and mid.translation[0] == pytest.approx(2.25, abs=1e-5)
    assert rec.ego_pose_at(int(T0 + 10**12)) is None  # far outside the span
    labels = rec.labels
    assert labels is not None and list(labels) == [0, 1, 2, 3, 4]
    for k in labels:
        a, b = labels.get(k), rec_dir.labels.get(k)
        assert a.track_ids.tolist() == b.track_ids.tolist() and a.categories == b.categories
        np.testing.assert_allclose(a.boxes.to_array(), b.boxes.to_array(), atol=1e-9, rtol=0)
    # the label file carries each frame's reference timestamp
    d = json.loads((rec_dir.root / "labels.json").read_text())
    assert [f["timestamp_ns"] for f in d["frames"]] == LIDAR_T.tolist()


def test_open_via_manifest_path_and_dispatcher(rec_dir: Written) -> None:
    a = open_native(rec_dir.root / MANIFEST)
    assert a.path == rec_dir.root and len(a) == 5
    b = open_recording(rec_dir.root, format="native")
    assert b.format == "native" and len(b) == 5


def test_explicit_file_lists_work(rec_dir: Written) -> None:
    root = rec_dir.root
    m = _manifest(root)
    files = _explicit_files(m, "LIDAR_TOP")
    os.rename(root / files[2], root / "lidar" / "renamed.bin")
    files[2] = "lidar/renamed.bin"
    _set_manifest(root, m)
    rec = open_native(root)
    np.testing.assert_array_equal(rec.frame(2).lidar["LIDAR_TOP"].xyz, rec_dir.clouds[2].xyz)


def test_recording_without_poses_or_labels(tmp_path: Path) -> None:
    w = NativeWriter(tmp_path / "r", load_rig(SAMPLE_RIG), reference="LIDAR_TOP")
    w.add_lidar("LIDAR_TOP", 5, PointCloud(np.zeros((0, 3), np.float32)))
    w.add_lidar("LIDAR_TOP", 105, PointCloud(np.ones((3, 3), np.float32)))
    w.finish()
    rec = open_native(tmp_path / "r")
    assert rec.labels is None and rec.ego_poses is None and rec.frame(0).ego_pose is None
    assert len(rec.frame(0).lidar["LIDAR_TOP"]) == 0
    np.testing.assert_array_equal(rec.frame(1).lidar["LIDAR_TOP"].intensity, np.zeros(3, np.float32))


# -- bad manifests ------------------------------------------------------------------------------


def _expect_manifest_error(root: Path, match: str | None = None) -> ManifestError:
    with pytest.raises(ManifestError, match=match) as e:
        open_native(root)
    assert e.value.path == root / MANIFEST
    assert str(e.value).startswith(str(root / MANIFEST))
    return e.value


@pytest.mark.parametrize(
    "rel",
    ["../x.bin", "lidar/../../x.bin", "../rec/../../x.bin", "/etc/passwd", "/tmp/x.bin"],
)
def test_file_outside_the_folder_refused(rec_dir: Written, rel: str) -> None:
    root = rec_dir.root
    m = _manifest(root)
    _explicit_files(m, "CAM_FRONT")[1] = rel
    _set_manifest(root, m)
    err = _expect_manifest_error(root)
    assert "absolute" in err.reason or "outside" in err.reason


def test_pattern_outside_the_folder_refused(rec_dir: Written) -> None:
    m = _manifest(rec_dir.root)
    m["streams"]["LIDAR_TOP"]["pattern"] = "../{index:06d}.bin"
    _set_manifest(rec_dir.root, m)
    _expect_manifest_error(rec_dir.root, "outside")


@pytest.mark.parametrize("key", ["calibration", "labels"])
@pytest.mark.parametrize("rel", ["../other.yaml", "/etc/hostname"])
def test_side_files_outside_the_folder_refused(rec_dir: Written, key: str, rel: str) -> None:
    m = _manifest(rec_dir.root)
    m[key] = rel
    _set_manifest(rec_dir.root, m)
    _expect_manifest_error(rec_dir.root)


@pytest.mark.parametrize("rel", ["../poses.csv", "/etc/hostname"])
def test_ego_poses_outside_the_folder_refused(rec_dir: Written, rel: str) -> None:
    # ego poses are optional: the escape is refused (never read) and reported as a problem
    (rec_dir.root.parent / "poses.csv").write_text((rec_dir.root / "ego_poses.csv").read_text())
    m = _manifest(rec_dir.root)
    m["ego_poses"] = rel
    _set_manifest(rec_dir.root, m)
    try:
        rec = open_native(rec_dir.root)
    except ManifestError as exc:
        assert exc.path == rec_dir.root / MANIFEST
        return
    assert [type(p) for p in rec.problems] == [ManifestError]
    assert rec.problems[0].path == rec_dir.root / MANIFEST
    assert rec.ego_poses is None


def test_symlinked_file_escaping_the_folder_refused(rec_dir: Written, tmp_path: Path) -> None:
    root = rec_dir.root
    outside = tmp_path / "secret.bin"
    outside.write_bytes(np.zeros((4, 4), "<f4").tobytes())
    m = _manifest(root)
    files = _explicit_files(m, "LIDAR_TOP")
    _set_manifest(root, m)
    (root / files[3]).unlink()
    (root / files[3]).symlink_to(outside)
    _expect_manifest_error(root, "outside")


def test_symlink_escaping_behind_a_pattern_refused_at_load(rec_dir: Written, tmp_path: Path) -> None:
    # a pattern is checked at open on its first and last index; a middle file that is a symlink
    # out of the folder must still be refused when its frame is loaded
    root = rec_dir.root
    assert "pattern" in _manifest(root)["streams"]["LIDAR_TOP"]
    outside = tmp_path / "secret.bin"
    outside.write_bytes(np.zeros((4, 4), "<f4").tobytes())
    target = root / "lidar" / "LIDAR_TOP" / "000002.bin"
    target.unlink()
    target.symlink_to(outside)
    try:
        rec = open_native(root)
    except ManifestError as exc:  # refusing at open is fine too
        assert exc.path == root / MANIFEST
        return
    rec.frame(1)
    with pytest.raises(ManifestError, match="outside") as e:
        rec.frame(2)
    assert e.value.path == root / MANIFEST


def test_symlinked_directory_escaping_the_folder_refused(rec_dir: Written, tmp_path: Path) -> None:
    root = rec_dir.root
    os.rename(root / "camera", tmp_path / "camera_elsewhere")
    (root / "camera").symlink_to(tmp_path / "camera_elsewhere", target_is_directory=True)
    _expect_manifest_error(root, "outside")


def test_symlink_inside_the_folder_is_fine(rec_dir: Written) -> None:
    root = rec_dir.root
    os.rename(root / "camera", root / "camera_real")
    (root / "camera").symlink_to(root / "camera_real", target_is_directory=True)
    rec = open_native(root)
    np.testing.assert_array_equal(rec.frame(0).image("CAM_FRONT"), rec_dir.images_rgb[0])


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.update(version=2), "version"),
        (lambda m: m.update(format="something"), "format"),
        (lambda m: m.update(streams={}), "no streams"),
        (lambda m: m.update(reference="CAM_NOSE"), "CAM_NOSE"),
        (lambda m: m["streams"]["CAM_FRONT"].update(kind="sonar"), "kind"),
        (lambda m: m["streams"]["CAM_FRONT"].pop("timestamps_ns"), "timestamps_ns"),
        (lambda m: m["streams"]["CAM_FRONT"].update(timestamps_ns=["soon"]), "timestamps_ns"),
        (lambda m: m["streams"]["CAM_FRONT"].update(files=["a.png"]), "exactly one|files"),
        (lambda m: m["streams"]["LIDAR_TOP"].update(pattern="lidar/{frame}.bin"), "pattern"),
    ],
)
def test_bad_manifest_content(rec_dir: Written, edit: Any, match: str) -> None:
    m = _manifest(rec_dir.root)
    edit(m)
    _set_manifest(rec_dir.root, m)
    _expect_manifest_error(rec_dir.root, match)


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2]", b"\xff\xfe binary"])
def test_unreadable_manifest(rec_dir: Written, content: bytes) -> None:
    (rec_dir.root / MANIFEST).write_bytes(content)
    _expect_manifest_error(rec_dir.root)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as e:
        open_native(tmp_path)
    assert e.value.path == tmp_path / MANIFEST


def test_streams_as_a_list(rec_dir: Written) -> None:
    m = _manifest(rec_dir.root)
    m["streams"] = [m["streams"]["LIDAR_TOP"]]
    _set_manifest(rec_dir.root, m)
    _expect_manifest_error(rec_dir.root)


# -- non-fatal problems ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "sensor", "key"),
    [("cameras", "CAM_FRONT", "K"), ("cameras", "CAM_LEFT", "T_ego_cam"), ("lidars", "LIDAR_TOP", "T_ego_lidar")],
)
def test_calibration_missing_a_key_is_a_problem_not_a_failure(
    rec_dir: Written, section: str, sensor: str, key: str
) -> None:
    calib = rec_dir.root / "calib.yaml"
    d = yaml.safe_load(calib.read_text())
    del d[section][sensor][key]
    calib.write_text(yaml.safe_dump(d))
    rec = open_native(rec_dir.root)
    assert len(rec.problems) == 1
    err = rec.problems[0]
    assert isinstance(err, CalibrationError)
    assert err.path == calib and f"'{key}'" in err.reason and sensor in err.reason
    # the rest of the recording is usable
    assert len(rec) == 5
    np.testing.assert_array_equal(rec.frame(0).lidar["LIDAR_TOP"].xyz, rec_dir.clouds[0].xyz)
    assert rec.labels is not None


def test_missing_calibration_file_is_a_problem(rec_dir: Written) -> None:
    (rec_dir.root / "calib.yaml").unlink()
    rec = open_native(rec_dir.root)
    assert [type(p) for p in rec.problems] == [CalibrationError]
    assert rec.problems[0].path == rec_dir.root / "calib.yaml"
    assert rec.rig.sensor_names == []


def test_manifest_without_calibration_is_a_problem(rec_dir: Written) -> None:
    m = _manifest(rec_dir.root)
    del m["calibration"]
    _set_manifest(rec_dir.root, m)
    rec = open_native(rec_dir.root)
    assert [type(p) for p in rec.problems] == [CalibrationError]
    assert rec.problems[0].path == rec_dir.root / MANIFEST


def test_binary_calibration_is_a_problem(rec_dir: Written) -> None:
    (rec_dir.root / "calib.yaml").write_bytes(b"\xff\xfe\x00binary")
    rec = open_native(rec_dir.root)
    assert [type(p) for p in rec.problems] == [CalibrationError]


def test_corrupt_ego_poses_is_a_problem(rec_dir: Written) -> None:
    p = rec_dir.root / "ego_poses.csv"
    p.write_text("t_ns,x,y,z,qw,qx,qy,qz\n1,2,3\n")
    rec = open_native(rec_dir.root)
    assert len(rec.problems) == 1 and isinstance(rec.problems[0], CorruptFileError)
    assert rec.problems[0].path == p
    assert rec.ego_poses is None and rec.frame(0).ego_pose is None


# -- bad sensor files surface when their frame is loaded ------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_image_that_does_not_decode(rec_dir: Written, damage: str) -> None:
    root = rec_dir.root
    m = _manifest(root)
    bad = root / _explicit_files(m, "CAM_FRONT")[1]
    data = bad.read_bytes()
    bad.write_bytes({"garbage": b"this is not a PNG" * 10, "truncated": data[: len(data) // 2], "empty": b""}[damage])
    rec = open_native(root)  # opening reads no image
    assert rec.problems == []
    f = rec.frame(1)  # building the frame decodes nothing either
    with pytest.raises(CorruptFileError) as e:
        f.image("CAM_FRONT")
    assert e.value.path == bad and "decode" in e.value.reason
    assert str(e.value).startswith(str(bad))
    # the other frames are fine
    for i, k in ((0, 0), (2, 2), (4, 3)):
        np.testing.assert_array_equal(rec.frame(i).image("CAM_FRONT"), rec_dir.images_rgb[k])


def test_missing_image_file(rec_dir: Written) -> None:
    p = rec_dir.root / _explicit_files(_manifest(rec_dir.root), "CAM_FRONT")[2]
    p.unlink()
    rec = open_native(rec_dir.root)
    with pytest.raises(DataError) as e:
        rec.frame(2).image("CAM_FRONT")
    assert e.value.path == p


def test_truncated_lidar_file(rec_dir: Written) -> None:
    p = rec_dir.root / "lidar" / "LIDAR_TOP" / "000003.bin"
    p.write_bytes(p.read_bytes()[:-6])
    rec = open_native(rec_dir.root)
    with pytest.raises(CorruptFileError) as e:
        rec.frame(3)
    assert e.value.path == p
    np.testing.assert_array_equal(rec.frame(4).lidar["LIDAR_TOP"].xyz, rec_dir.clouds[4].xyz)


@pytest.mark.parametrize(
    "content",
    ["x,y,z\n1,2,3\n", "x,y,z,radial_velocity,rcs\n1,2,3,4\n", "x,y,z,radial_velocity,rcs\n1,2,a,4,5\n"],
)
def test_bad_radar_file(rec_dir: Written, content: str) -> None:
    p = rec_dir.root / _explicit_files(_manifest(rec_dir.root), "RADAR_FRONT")[0]
    p.write_text(content)
    rec = open_native(rec_dir.root)
    with pytest.raises(CorruptFileError) as e:
        rec.frame(0)
    assert e.value.path == p
    assert len(rec.frame(1).radar["RADAR_FRONT"]) == 7


def test_corrupt_labels_raise_when_read(rec_dir: Written) -> None:
    p = rec_dir.root / "labels.json"
    p.write_text('{"format": "fusionlabel.labels", "version": 1, "frames": [')
    rec = open_native(rec_dir.root)
    with pytest.raises(CorruptFileError) as e:
        _ = rec.labels
    assert e.value.path == p
