"""Tests for :mod:`fusionlabel.core.calibration` and the sample rig ``calib/sample_rig.yaml``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pyquaternion import Quaternion

from fusionlabel.core.calibration import (
    SCHEMA_VERSION,
    Camera,
    Lidar,
    Radar,
    Rig,
    load_rig,
    rig_from_dict,
    save_rig,
)
from fusionlabel.core.errors import CalibrationError, DataError
from fusionlabel.core.transforms import Transform

SAMPLE_RIG = Path(__file__).resolve().parents[2] / "calib" / "sample_rig.yaml"


@pytest.fixture()
def sample_dict() -> dict[str, Any]:
    return yaml.safe_load(SAMPLE_RIG.read_text(encoding="utf-8"))


def _write(tmp_path: Path, d: Any, name: str = "rig.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    return p


# -- the sample rig ---------------------------------------------------------------------------


def test_sample_rig_loads() -> None:
    rig = load_rig(SAMPLE_RIG)
    assert set(rig.cameras) == {"CAM_FRONT", "CAM_LEFT", "CAM_RIGHT", "CAM_BACK"}
    assert set(rig.lidars) == {"LIDAR_TOP"}
    assert set(rig.radars) == {"RADAR_FRONT"}
    assert rig.sensor_names[0] == "LIDAR_TOP"
    for cam in rig.cameras.values():
        assert (cam.width, cam.height) in ((1600, 900), (1920, 1080))
        assert cam.model == "pinhole" and len(cam.D) == 5
        # principal point near the image centre, square pixels, no skew
        assert abs(cam.K[0, 2] - cam.width / 2) < 0.05 * cam.width
        assert abs(cam.K[1, 2] - cam.height / 2) < 0.05 * cam.height
        assert cam.K[0, 0] == cam.K[1, 1] and cam.K[0, 1] == 0.0
        R = cam.T_ego_cam.rotation
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-8)
        assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize(
    ("camera", "view_dir"),
    [("CAM_FRONT", [1, 0, 0]), ("CAM_LEFT", [0, 1, 0]), ("CAM_RIGHT", [0, -1, 0]), ("CAM_BACK", [-1, 0, 0])],
)
def test_sample_rig_cameras_are_optical_frames_looking_outwards(camera: str, view_dir: list[float]) -> None:
    T = load_rig(SAMPLE_RIG).cameras[camera].T_ego_cam
    z_cam, y_cam, x_cam = (T.apply_vectors(np.array([v]))[0] for v in ([0, 0, 1], [0, 1, 0], [1, 0, 0]))
    assert np.dot(z_cam, view_dir) > 0.99  # looks along the expected ego axis
    assert y_cam[2] < -0.99  # image "down" is ego down
    # x_cam = y_cam x z_cam (right-handed): image right is to the right of the viewing direction
    np.testing.assert_allclose(x_cam, np.cross(y_cam, z_cam), atol=1e-8)
    assert T.translation[2] > 0.5  # mounted above the ground


def test_sample_rig_front_camera_matrix_is_the_documented_mapping() -> None:
    T = load_rig(SAMPLE_RIG).cameras["CAM_FRONT"].T_ego_cam
    # x_cam -> -y_ego, y_cam -> -z_ego, z_cam -> +x_ego
    np.testing.assert_array_equal(T.rotation, [[0, 0, 1], [-1, 0, 0], [0, -1, 0]])


def test_sample_rig_side_cameras_are_pitched_down() -> None:
    rig = load_rig(SAMPLE_RIG)
    for name in ("CAM_LEFT", "CAM_RIGHT", "CAM_BACK"):
        z_cam = rig.cameras[name].T_ego_cam.apply_vectors(np.array([[0.0, 0.0, 1.0]]))[0]
        assert np.degrees(np.arcsin(-z_cam[2])) == pytest.approx(3.0, abs=1e-6)


def test_sample_rig_lidar_and_radar() -> None:
    rig = load_rig(SAMPLE_RIG)
    np.testing.assert_allclose(rig.T_ego_sensor("LIDAR_TOP").translation, [0.94, 0.0, 1.84])
    np.testing.assert_allclose(rig.T_ego_sensor("LIDAR_TOP").rotation, np.eye(3))
    np.testing.assert_allclose(rig.T_ego_sensor("RADAR_FRONT").translation, [3.41, 0.0, 0.52])
    np.testing.assert_allclose(rig.T_ego_sensor("RADAR_FRONT").rotation, np.eye(3))


# -- chains -----------------------------------------------------------------------------------


def test_T_cam_sensor_chain() -> None:
    rig = load_rig(SAMPLE_RIG)
    T_cam_lidar = rig.T_cam_sensor("CAM_FRONT", "LIDAR_TOP")
    # hand computed: the lidar origin is 0.76 m behind and 0.33 m above the front camera
    # (ego deltas -0.76, 0, +0.33) -> camera x = -dy = 0, y = -dz = -0.33, z = dx = -0.76
    np.testing.assert_allclose(T_cam_lidar.translation, [0.0, -0.33, -0.76], atol=1e-12)
    rng = np.random.default_rng(0)
    p = rng.normal(size=(10, 3)) * 10
    for cam in rig.cameras:
        for sensor in rig.sensor_names:
            T = rig.T_cam_sensor(cam, sensor)
            ref = rig.cameras[cam].T_ego_cam.inverse().apply(rig.T_ego_sensor(sensor).apply(p))
            np.testing.assert_allclose(T.apply(p), ref, atol=1e-9)
    assert rig.T_cam_sensor("CAM_LEFT", "CAM_LEFT").allclose(Transform.identity(), atol=1e-12)


def test_unknown_sensor_named_in_key_error() -> None:
    with pytest.raises(KeyError, match="CAM_NOSE"):
        load_rig(SAMPLE_RIG).T_ego_sensor("CAM_NOSE")


# -- round trip -------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path: Path) -> None:
    rig = load_rig(SAMPLE_RIG)
    out = tmp_path / "sub" / "rig.yaml"
    save_rig(rig, out)
    back = load_rig(out)
    assert back.to_dict() == rig.to_dict()
    assert back.to_dict()["version"] == SCHEMA_VERSION
    # saving wrote no temp file beside the target
    assert [p.name for p in out.parent.iterdir()] == ["rig.yaml"]
    # and a second round trip is a fixed point
    save_rig(back, tmp_path / "again.yaml")
    assert (tmp_path / "again.yaml").read_text() == out.read_text()


def test_round_trip_of_a_built_rig(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    q = Quaternion(rng.normal(size=4)).normalised
    rig = Rig(
        cameras={
            "fish": Camera(
                "fish",
                K=[[400.0, 0.0, 640.0], [0.0, 401.0, 480.0], [0.0, 0.0, 1.0]],
                width=1280,
                height=960,
                D=[0.01, -0.002, 0.0003, -0.00004],
                model="fisheye",
                T_ego_cam=Transform.from_quaternion(q, rng.normal(size=3)),
            ),
            "plain": Camera("plain", K=np.diag([1000.0, 1000.0, 1.0]), width=640, height=480),
        },
        lidars={"l": Lidar("l", Transform.from_yaw(0.3, [1.0, 0.0, 2.0]))},
        radars={"r": Radar("r", Transform.from_yaw(-0.1, [3.5, 0.2, 0.5]))},
    )
    save_rig(rig, tmp_path / "rig.yaml")
    back = load_rig(tmp_path / "rig.yaml")
    assert back.to_dict() == rig.to_dict()
    assert back.cameras["fish"].model == "fisheye"
    np.testing.assert_array_equal(back.cameras["fish"].D, rig.cameras["fish"].D)
    assert back.cameras["fish"].T_ego_cam.allclose(rig.cameras["fish"].T_ego_cam, atol=0.0)
    assert len(back.cameras["plain"].D) == 0


# -- transform spellings ----------------------------------------------------------------------


def test_quaternion_and_matrix_spellings_agree(tmp_path: Path) -> None:
    q = Quaternion(axis=[0.2, -0.4, 1.0], angle=0.9)
    t = [1.5, -0.25, 1.75]
    T = Transform.from_quaternion(q, t)
    as_quat = {"lidars": {"a": {"T_ego_lidar": {"rotation": [float(v) for v in q.elements], "translation": t}}}}
    as_matrix = {"lidars": {"a": {"T_ego_lidar": T.to_list()}}}
    as_3x4 = {"lidars": {"a": {"T_ego_lidar": T.to_list()[:3]}}}
    rigs = [load_rig(_write(tmp_path, d, f"{i}.yaml")) for i, d in enumerate((as_quat, as_matrix, as_3x4))]
    for r in rigs:
        assert r.lidars["a"].T_ego_lidar.allclose(T, atol=1e-12)
    # the quaternion is (w, x, y, z): the identity is [1, 0, 0, 0]
    ident = {"radars": {"r": {"T_ego_radar": {"rotation": [1, 0, 0, 0], "translation": [0, 0, 0]}}}}
    assert rig_from_dict(ident).radars["r"].T_ego_radar.allclose(Transform.identity())


def test_quaternion_mapping_needs_both_keys(tmp_path: Path) -> None:
    d = {"lidars": {"top": {"T_ego_lidar": {"rotation": [1, 0, 0, 0]}}}}
    p = _write(tmp_path, d)
    with pytest.raises(CalibrationError) as e:
        load_rig(p)
    assert e.value.path == p
    assert "lidars.top.T_ego_lidar" in str(e.value) and "translation" in str(e.value)


def test_zero_quaternion_refused(tmp_path: Path) -> None:
    d = {"lidars": {"top": {"T_ego_lidar": {"rotation": [0, 0, 0, 0], "translation": [0, 0, 0]}}}}
    with pytest.raises(CalibrationError):
        load_rig(_write(tmp_path, d))


# -- errors -----------------------------------------------------------------------------------

REQUIRED = [
    ("cameras", "CAM_FRONT", "K"),
    ("cameras", "CAM_FRONT", "width"),
    ("cameras", "CAM_FRONT", "height"),
    ("cameras", "CAM_FRONT", "T_ego_cam"),
    ("cameras", "CAM_LEFT", "T_ego_cam"),
    ("lidars", "LIDAR_TOP", "T_ego_lidar"),
    ("radars", "RADAR_FRONT", "T_ego_radar"),
]


@pytest.mark.parametrize(("section", "sensor", "key"), REQUIRED)
def test_missing_key_names_file_and_key(
    tmp_path: Path, sample_dict: dict[str, Any], section: str, sensor: str, key: str
) -> None:
    d = copy.deepcopy(sample_dict)
    del d[section][sensor][key]
    p = _write(tmp_path, d)
    with pytest.raises(CalibrationError) as e:
        load_rig(p)
    err = e.value
    assert isinstance(err, DataError)
    assert err.path == p
    assert str(err).startswith(f"{p}: ")
    assert f"'{key}'" in err.reason
    assert f"{section}.{sensor}" in err.reason


def test_optional_keys_default(tmp_path: Path, sample_dict: dict[str, Any]) -> None:
    d = copy.deepcopy(sample_dict)
    del d["cameras"]["CAM_FRONT"]["D"]
    del d["cameras"]["CAM_FRONT"]["model"]
    del d["version"]
    cam = load_rig(_write(tmp_path, d)).cameras["CAM_FRONT"]
    assert cam.model == "pinhole" and len(cam.D) == 0


def test_invalid_yaml(tmp_path: Path) -> None:
    p = tmp_path / "broken.yaml"
    p.write_text("cameras:\n  CAM: {K: [[1, 0\n  width: :\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match="invalid YAML") as e:
        load_rig(p)
    assert e.value.path == p


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError) as e:
        load_rig(tmp_path / "nope.yaml")
    assert e.value.path == tmp_path / "nope.yaml"


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 99])
def test_newer_version_refused(tmp_path: Path, sample_dict: dict[str, Any], version: int) -> None:
    sample_dict["version"] = version
    p = _write(tmp_path, sample_dict)
    with pytest.raises(CalibrationError, match="newer") as e:
        load_rig(p)
    assert e.value.path == p and str(version) in str(e.value)


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ("[1, 2, 3]\n", "mapping"),
        ("just a string\n", "mapping"),
        ("", "mapping"),
        ("version: 1\n", "no sensors"),
        ("version: 1\ncameras: {}\nlidars: {}\n", "no sensors"),
    ],
)
def test_not_a_rig(tmp_path: Path, doc: str, match: str) -> None:
    p = tmp_path / "rig.yaml"
    p.write_text(doc, encoding="utf-8")
    with pytest.raises(CalibrationError, match=match) as e:
        load_rig(p)
    assert e.value.path == p


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("K", [[1000.0, 0.0, 800.0], [0.0, 1000.0, 450.0]], "cameras.CAM_FRONT"),
        ("K", [[0.0, 0.0, 800.0], [0.0, 1000.0, 450.0], [0, 0, 1]], "focal"),
        ("K", "not a matrix", "cameras.CAM_FRONT"),
        ("D", [0.1, 0.2, 0.3], "coefficients"),
        ("model", "kannala", "unknown model"),
        ("width", "wide", "cameras.CAM_FRONT"),
        ("T_ego_cam", [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "T_ego_cam"),
        ("T_ego_cam", [[1, 0, 0, float("nan")], [0, 1, 0, 0], [0, 0, 1, 0]], "NaN"),
        ("T_ego_cam", {"rotation": [1, 0, 0], "translation": [0, 0, 0]}, "T_ego_cam"),
    ],
)
def test_bad_values_are_calibration_errors(
    tmp_path: Path, sample_dict: dict[str, Any], key: str, value: Any, match: str
) -> None:
    sample_dict["cameras"]["CAM_FRONT"][key] = value
    p = _write(tmp_path, sample_dict)
    with pytest.raises(CalibrationError, match=match) as e:
        load_rig(p)
    assert e.value.path == p


@pytest.mark.parametrize("section", ["cameras", "lidars"])
def test_section_that_is_a_list(tmp_path: Path, section: str) -> None:
    p = tmp_path / "rig.yaml"
    p.write_text(f"version: 1\n{section}:\n  - name: X\n", encoding="utf-8")
    with pytest.raises(CalibrationError):
        load_rig(p)


def test_camera_validation() -> None:
    K = [[1000.0, 0.0, 320.0], [0.0, 1000.0, 240.0], [0.0, 0.0, 1.0]]
    with pytest.raises(ValueError, match="fisheye"):
        Camera("c", K, 640, 480, D=[0.1, 0.0, 0.0, 0.0, 0.0], model="fisheye")
    for n in (0, 4, 5, 8):
        assert len(Camera("c", K, 640, 480, D=np.zeros(n)).D) == n
    with pytest.raises(ValueError, match="pinhole distortion"):
        Camera("c", K, 640, 480, D=np.zeros(6))


def test_binary_file_is_a_calibration_error(tmp_path: Path) -> None:
    p = tmp_path / "rig.yaml"
    p.write_bytes(b"\xff\xfe\x00\x01binary")
    with pytest.raises(CalibrationError):
        load_rig(p)
