"""ROS bag reader: real KITTI-derived bags, real nebula rosbag2 folders, synthetic round trips, broken files."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.transforms import Transform
from fusionlabel.io.rosbag import (
    BagRecording,
    compressed_image_to_rgb,
    image_to_rgb,
    open_bag,
    pointcloud2_to_cloud,
    sniff,
)

KITTI_DRIVE = "kitti/raw/2011_09_26/2011_09_26_drive_sfnd_sync"
VELO = "/kitti/velo/pointcloud"
CAM = "/kitti/camera_color_left/image_raw/compressed"


# =============================================================================================
# real data
# =============================================================================================
def _kitti_calib(path: Path) -> dict[str, np.ndarray]:
    out = {}
    for line in path.read_text().splitlines():
        key, _, val = line.partition(":")
        try:
            out[key.strip()] = np.array([float(v) for v in val.split()])
        except ValueError:
            continue
    return out


@pytest.mark.parametrize("name", ["kitti_sfnd_2frames.bag", "kitti_sfnd_2frames_ros2.mcap"])
def test_kitti_derived_bag_matches_kitti_raw(real_data: Path, name: str) -> None:
    import cv2

    with open_bag(real_data / "derived" / name) as rec:
        assert isinstance(rec, BagRecording)
        assert rec.bag_kind == ("ros1" if name.endswith(".bag") else "mcap")
        assert rec.problems == []
        assert len(rec) == 2
        assert rec.reference == VELO
        assert set(rec.streams) == {VELO, CAM}
        assert rec.topics["/tf_static"] == "tf2_msgs/msg/TFMessage"
        assert rec.ego_frame == "velo_link"  # no base_link in this TF: the rigid root above the LiDAR
        for i in range(2):
            frame = rec.frame(i)
            cloud = frame.lidar[VELO]
            raw = np.fromfile(real_data / KITTI_DRIVE / f"velodyne_points/data/{i:010d}.bin", dtype="<f4").reshape(
                -1, 4
            )
            assert len(cloud) == len(raw) > 100_000
            np.testing.assert_array_equal(cloud.xyz, raw[:, :3])
            np.testing.assert_array_equal(cloud.intensity, raw[:, 3])
            assert frame.sensor_timestamps[CAM] == frame.timestamp_ns
            img = frame.image(CAM)
            bgr = cv2.imread(str(real_data / KITTI_DRIVE / f"image_02/data/{i:010d}.png"))
            assert bgr is not None
            png = bgr[:, :, ::-1]
            assert img.shape == (375, 1242, 3)
            np.testing.assert_array_equal(img, png)  # PNG bytes carried unchanged
        assert rec.frame(1).timestamp_ns - rec.frame(0).timestamp_ns == pytest.approx(1e8, abs=1e3)

        # intrinsics from CameraInfo, extrinsic from /tf_static vs the KITTI calibration files
        cam = rec.rig.cameras[CAM]
        c2c = _kitti_calib(real_data / "kitti/raw/2011_09_26/calib_cam_to_cam.txt")
        v2c = _kitti_calib(real_data / "kitti/raw/2011_09_26/calib_velo_to_cam.txt")
        P = c2c["P_rect_02"].reshape(3, 4)
        np.testing.assert_allclose(cam.K, P[:, :3])
        assert (cam.width, cam.height) == (1242, 375) and cam.model == "pinhole"
        # x_cam2 = R_rect (R x_velo + T) + b. The derived bag's /tf_static uses the usual stereo
        # baseline b = (P[0,3] / fx, 0, 0); the exact decomposition P = K [I | t] gives
        # t = K^-1 P[:, 3], 3.6 mm away (x -2.3 mm, z +2.7 mm): checked below as well.
        T_cam0_velo = Transform.from_rt(v2c["R"].reshape(3, 3), v2c["T"])
        T_rect_cam0 = Transform.from_rt(c2c["R_rect_00"].reshape(3, 3), np.zeros(3))
        T_cam2_rect = Transform.from_rt(np.eye(3), [P[0, 3] / P[0, 0], 0.0, 0.0])
        T_cam2_velo = T_cam2_rect @ T_rect_cam0 @ T_cam0_velo
        assert rec.rig.T_ego_sensor(VELO).allclose(Transform.identity())
        got = rec.rig.T_cam_sensor(CAM, VELO)
        np.testing.assert_allclose(got.matrix, T_cam2_velo.matrix, atol=1e-6)
        exact = np.linalg.solve(P[:, :3], P[:, 3]) - T_cam2_rect.translation
        assert 0.003 < np.linalg.norm(exact) < 0.004


NEBULA = {
    "nebula_velodyne_vlp16": ("/velodyne_packets", "velodyne_msgs/msg/VelodyneScan", 4),
    "nebula_continental_ars548": ("/sensing/radar/front_center/nebula_packets", "nebula_msgs/msg/NebulaPackets", 2),
    "nebula_continental_srr520": ("/sensing/radar/front_left/nebula_packets", "nebula_msgs/msg/NebulaPackets", 4),
}


@pytest.mark.parametrize("name", sorted(NEBULA))
def test_nebula_rosbag2_opens_and_names_undecodable_types(real_data: Path, name: str) -> None:
    (folder,) = [p for p in (real_data / "rosbag2" / name).iterdir() if p.is_dir()]
    assert sniff(folder)
    topic, msgtype, count = NEBULA[name]
    with open_bag(folder) as rec:
        assert len(rec) == 0 and rec.streams == {} and rec.bag_kind == "ros2"
        assert rec.topics == {topic: msgtype}
        assert rec.message_counts == {topic: count}
        msgs = [str(p) for p in rec.problems]
        assert f"{folder}: topic {topic}: message type {msgtype} cannot be decoded (no definition in the bag)" in msgs
        assert all(isinstance(p, UnsupportedFormatError) for p in rec.problems)
        assert any("no decodable sensor stream" in m for m in msgs)
        with pytest.raises(IndexError):
            rec.frame(0)


# =============================================================================================
# synthetic bags written with rosbags' writers
# =============================================================================================
T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def _quat(yaw: float, pitch: float = 0.0) -> tuple[float, float, float, float]:
    """(w, x, y, z) of yaw about z then pitch about y."""
    from pyquaternion import Quaternion

    q = Quaternion(axis=[0, 0, 1], angle=yaw) * Quaternion(axis=[0, 1, 0], angle=pitch)
    return (q.w, q.x, q.y, q.z)


STATIC_TF = {  # child: (parent, (w, x, y, z), translation)
    "lidar_link": ("base_link", _quat(0.1), (1.2, 0.0, 1.8)),
    "cam_front_optical": ("base_link", _quat(-1.5, 0.2), (1.5, 0.1, 1.4)),
    "cam_mount": ("base_link", _quat(3.0), (-1.0, 0.0, 1.0)),
    "cam_png_optical": ("cam_mount", _quat(0.3, -0.1), (0.05, 0.02, 0.1)),
}
# a mount published on /tf at every odom sample (ROS 1 style): constant, so read as rigid
TF_MOUNT = {"cam_mono_optical": ("base_link", _quat(1.6), (0.0, 0.5, 1.3))}
ODOM_T = [T0 + k * 50 * MS for k in range(7)]
# map -> odom, sampled more slowly and off the odom times: interpolated at them
MAP_T = [T0 - 100 * MS, T0 + 200 * MS, T0 + 400 * MS]
MAP_ODOM = [(_quat(0.0), (0.0, 0.0, 0.0)), (_quat(0.02), (0.5, 0.0, 0.0)), (_quat(0.06), (0.5, 0.3, 0.1))]


def _odom_pose(k: int) -> tuple[tuple[float, float, float, float], tuple[float, float, float]]:
    return _quat(0.05 * k), (2.0 * k, 0.3 * k, 0.0)


CAMERAS = {  # image topic: (info topic, frame, distortion model, D)
    "/cam_front/image_raw": (
        "/cam_front/camera_info",
        "cam_front_optical",
        "plumb_bob",
        [0.1, -0.05, 0.001, 0.002, 0.01],
    ),
    "/cam_mono/image_raw": (
        "/cam_mono/camera_info",
        "cam_mono_optical",
        "rational_polynomial",
        [0.2, -0.1, 0.0, 0.001, 0.03, 0.1, -0.02, 0.005],
    ),
    "/cam_png/image/compressed": (
        "/cam_png/camera_info",
        "cam_png_optical",
        "equidistant",
        [0.01, -0.02, 0.003, -0.001],
    ),
}


@dataclass
class Synthetic:
    """What was written, to compare with what is read."""

    clouds: list[tuple[np.ndarray, dict[str, np.ndarray]]] = field(default_factory=list)
    organised: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    images: dict[str, list[np.ndarray]] = field(default_factory=dict)
    messages: list[tuple[str, str, int, Any]] = field(default_factory=list)  # topic, type, receive time, msg


def _build_messages(ts: Any, ros1: bool) -> Synthetic:
    import cv2

    T = ts.types
    rng = np.random.default_rng(7)
    out = Synthetic()

    def header(t: int, frame: str) -> Any:
        stamp = T["builtin_interfaces/msg/Time"](sec=t // 10**9, nanosec=t % 10**9)
        return (
            T["std_msgs/msg/Header"](seq=0, stamp=stamp, frame_id=frame)
            if ros1
            else T["std_msgs/msg/Header"](stamp=stamp, frame_id=frame)
        )

    def pf(name: str, offset: int, datatype: int, count: int = 1) -> Any:
        return T["sensor_msgs/msg/PointField"](name=name, offset=offset, datatype=datatype, count=count)

    def add(topic: str, msgtype: str, t_log: int, msg: Any) -> None:
        out.messages.append((topic, msgtype, t_log, msg))

    # -- unorganised cloud with mixed field types, a count-3 field, one NaN point --------------
    mixed = np.dtype(
        {
            "names": ["x", "y", "z", "intensity", "ring", "time", "normal"],
            "formats": ["<f4", "<f4", "<f4", "u1", "<u2", "<f8", ("<f4", (3,))],
            "offsets": [0, 4, 8, 12, 14, 16, 24],
            "itemsize": 40,
        }
    )
    for k in range(3):
        n = 50 + k
        a = np.zeros(n, mixed)
        xyz = rng.normal(0, 10, (n, 3)).astype(np.float32)
        a["x"], a["y"], a["z"] = xyz.T
        a["intensity"] = rng.integers(0, 256, n)
        a["ring"] = rng.integers(0, 128, n)
        a["time"] = rng.uniform(0, 0.1, n)
        a["normal"] = rng.normal(size=(n, 3))
        a["x"][3] = np.nan
        ok = np.ones(n, bool)
        ok[3] = False
        out.clouds.append(
            (
                np.stack([a["x"], a["y"], a["z"]], 1)[ok],
                {
                    "intensity": a["intensity"][ok].astype(np.float32),
                    "ring": a["ring"][ok],
                    "time": a["time"][ok],
                    "normal": a["normal"][ok],
                },
            )
        )
        t = T0 + k * 100 * MS
        msg = T["sensor_msgs/msg/PointCloud2"](
            header=header(t, "/lidar_link" if ros1 else "lidar_link"),
            height=1,
            width=n,
            fields=[
                pf("x", 0, 7),
                pf("y", 4, 7),
                pf("z", 8, 7),
                pf("intensity", 12, 2),
                pf("ring", 14, 4),
                pf("time", 16, 8),
                pf("normal", 24, 7, 3),
            ],
            is_bigendian=False,
            point_step=40,
            row_step=40 * n,
            data=np.frombuffer(a.tobytes(), np.uint8),
            is_dense=False,
        )
        add("/lidar/points", "sensor_msgs/msg/PointCloud2", t, msg)

    # -- organised big-endian cloud 4x5, float64 xyz, packed rgb, padded rows ------------------
    h, w, ps, rs = 4, 5, 32, 5 * 32 + 16
    org = np.dtype(
        {
            "names": ["x", "y", "z", "rgb"],
            "formats": [">f8", ">f8", ">f8", ">u4"],
            "offsets": [0, 8, 16, 24],
            "itemsize": ps,
        }
    )
    depth_stamps = [T0 + 10 * MS, T0 + 110 * MS, T0 + 210 * MS]
    depth_log = [T0 + 10 * MS, T0 + 10 * MS, T0 + 210 * MS]  # two messages share a receive time
    for k in range(3):
        a = np.zeros((h, w), org)
        pts = rng.normal(0, 3, (h, w, 3))
        pts[1, 2] = np.nan
        pts[3, 0] = np.nan
        a["x"], a["y"], a["z"] = pts[..., 0], pts[..., 1], pts[..., 2]
        rgb = rng.integers(0, 256, (h, w, 3))
        a["rgb"] = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        buf = np.zeros((h, rs), np.uint8)
        buf[:, : w * ps] = np.frombuffer(a.tobytes(), np.uint8).reshape(h, w * ps)
        out.organised.append((pts.reshape(-1, 3).astype(np.float32), rgb.reshape(-1, 3).astype(np.uint8)))
        msg = T["sensor_msgs/msg/PointCloud2"](
            header=header(depth_stamps[k], "depth_link"),
            height=h,
            width=w,
            fields=[pf("x", 0, 8), pf("y", 8, 8), pf("z", 16, 8), pf("rgb", 24, 7)],
            is_bigendian=True,
            point_step=ps,
            row_step=rs,
            data=buf.reshape(-1),
            is_dense=False,
        )
        add("/depth/points", "sensor_msgs/msg/PointCloud2", depth_log[k], msg)

    # -- images: bgr8 with row padding, mono8, PNG and JPEG compressed --------------------------
    for k in range(3):
        t = T0 + k * 100 * MS + 5 * MS
        bgr = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        padded = np.zeros((6, 8 * 3 + 4), np.uint8)
        padded[:, :24] = bgr.reshape(6, 24)
        add(
            "/cam_front/image_raw",
            "sensor_msgs/msg/Image",
            t,
            T["sensor_msgs/msg/Image"](
                header=header(t, "cam_front_optical"),
                height=6,
                width=8,
                encoding="bgr8",
                is_bigendian=0,
                step=28,
                data=padded.reshape(-1),
            ),
        )
        out.images.setdefault("/cam_front/image_raw", []).append(bgr[:, :, ::-1])
        mono = rng.integers(0, 256, (6, 8), dtype=np.uint8)
        add(
            "/cam_mono/image_raw",
            "sensor_msgs/msg/Image",
            t,
            T["sensor_msgs/msg/Image"](
                header=header(t, "cam_mono_optical"),
                height=6,
                width=8,
                encoding="mono8",
                is_bigendian=0,
                step=8,
                data=mono.reshape(-1),
            ),
        )
        out.images.setdefault("/cam_mono/image_raw", []).append(np.repeat(mono[:, :, None], 3, axis=2))
        rgb = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
        png = cv2.imencode(".png", rgb[:, :, ::-1])[1].reshape(-1)
        add(
            "/cam_png/image/compressed",
            "sensor_msgs/msg/CompressedImage",
            t,
            T["sensor_msgs/msg/CompressedImage"](header=header(t, "cam_png_optical"), format="png", data=png),
        )
        out.images.setdefault("/cam_png/image/compressed", []).append(rgb)
        jpg = cv2.imencode(".jpg", np.full((16, 24, 3), 40 * k, np.uint8))[1].reshape(-1)
        add(
            "/cam_jpeg/image_raw/compressed",
            "sensor_msgs/msg/CompressedImage",
            t,
            T["sensor_msgs/msg/CompressedImage"](header=header(t, "cam_jpeg_optical"), format="jpeg", data=jpg),
        )
        for topic, (info, frame, model, D) in CAMERAS.items():
            Kc = [500.0 + 10 * len(D), 0.0, 4.0, 0.0, 510.0, 3.0, 0.0, 0.0, 1.0]
            wh = (12, 10) if "png" in topic else (8, 6)
            arrays = {
                "D": np.array(D, float),
                "K": np.array(Kc),
                "R": np.eye(3).reshape(-1),
                "P": np.hstack([np.array(Kc).reshape(3, 3), np.zeros((3, 1))]).reshape(-1),
            }
            if not ros1:
                arrays = {key.lower(): v for key, v in arrays.items()}
            roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
            add(
                info,
                "sensor_msgs/msg/CameraInfo",
                t,
                T["sensor_msgs/msg/CameraInfo"](
                    header=header(t, frame),
                    width=wh[0],
                    height=wh[1],
                    distortion_model=model,
                    binning_x=0,
                    binning_y=0,
                    roi=roi,
                    **arrays,
                ),
            )

    # -- TF: static mounts, dynamic odom -> base_link ------------------------------------------
    def tstamped(t: int, parent: str, child: str, q: Any, xyz: Any) -> Any:
        tr = T["geometry_msgs/msg/Transform"](
            translation=T["geometry_msgs/msg/Vector3"](x=xyz[0], y=xyz[1], z=xyz[2]),
            rotation=T["geometry_msgs/msg/Quaternion"](w=q[0], x=q[1], y=q[2], z=q[3]),
        )
        return T["geometry_msgs/msg/TransformStamped"](header=header(t, parent), child_frame_id=child, transform=tr)

    add(
        "/tf_static",
        "tf2_msgs/msg/TFMessage",
        T0,
        T["tf2_msgs/msg/TFMessage"](transforms=[tstamped(T0, p, c, q, tr) for c, (p, q, tr) in STATIC_TF.items()]),
    )
    for k, t in enumerate(ODOM_T):
        q, tr = _odom_pose(k)
        add(
            "/tf",
            "tf2_msgs/msg/TFMessage",
            t,
            T["tf2_msgs/msg/TFMessage"](
                transforms=[
                    tstamped(t, "odom", "base_link", q, tr),
                    *(tstamped(t, p, c, mq, mt) for c, (p, mq, mt) in TF_MOUNT.items()),
                ]
            ),
        )
    for t, (q, tr) in zip(MAP_T, MAP_ODOM):
        add(
            "/tf",
            "tf2_msgs/msg/TFMessage",
            t,
            T["tf2_msgs/msg/TFMessage"](transforms=[tstamped(t, "map", "odom", q, tr)]),
        )
    add("/chatter", "std_msgs/msg/String", T0, T["std_msgs/msg/String"](data="hello"))
    out.messages.sort(key=lambda m: m[2])
    return out


def _typestore(ros1: bool) -> Any:
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.ROS2_HUMBLE)
    if "tf2_msgs/msg/TFMessage" not in ts.fielddefs:  # not in rosbags' Noetic store
        ts.register(get_types_from_msg("geometry_msgs/TransformStamped[] transforms", "tf2_msgs/msg/TFMessage"))
    return ts


def write_synthetic_bag(root: Path, kind: str) -> tuple[Path, Synthetic]:
    """Write the synthetic recording as ``kind`` (ros1 / ros2-sqlite3 / ros2-mcap / mcap-file) under ``root``."""
    ros1 = kind == "ros1"
    ts = _typestore(ros1)
    syn = _build_messages(ts, ros1)
    conns: dict[str, Any] = {}
    if ros1:
        from rosbags.rosbag1 import Writer as Writer1

        path = root / "synthetic.bag"
        with Writer1(path) as w1:
            for topic, msgtype, t, msg in syn.messages:
                if topic not in conns:
                    conns[topic] = w1.add_connection(topic, msgtype, typestore=ts)
                w1.write(conns[topic], t, ts.serialize_ros1(msg, msgtype))
        return path, syn
    from rosbags.rosbag2 import StoragePlugin
    from rosbags.rosbag2 import Writer as Writer2

    path = root / "synthetic_ros2"
    plugin = StoragePlugin.SQLITE3 if kind == "ros2-sqlite3" else StoragePlugin.MCAP
    with Writer2(path, version=9, storage_plugin=plugin) as w2:
        for topic, msgtype, t, msg in syn.messages:
            if topic not in conns:
                conns[topic] = w2.add_connection(topic, msgtype, typestore=ts)
            w2.write(conns[topic], t, ts.serialize_cdr(msg, msgtype))
    if kind == "mcap-file":
        (mcap,) = path.glob("*.mcap")
        return mcap, syn
    return path, syn


@pytest.mark.parametrize("kind", ["ros1", "ros2-sqlite3", "ros2-mcap", "mcap-file"])
def test_synthetic_bag_round_trip(tmp_path: Path, kind: str) -> None:
    path, syn = write_synthetic_bag(tmp_path, kind)
    assert sniff(path)
    rec = open_bag(path)
    assert rec.bag_kind == {"ros1": "ros1", "mcap-file": "mcap"}.get(kind, "ros2")
    assert rec.topics["/chatter"] == "std_msgs/msg/String"
    assert set(rec.streams) == {"/lidar/points", "/depth/points", *CAMERAS, "/cam_jpeg/image_raw/compressed"}
    assert rec.reference == "/depth/points"  # first PointCloud2 topic in sorted order
    assert len(rec) == 3 and rec.ego_frame == "base_link" and rec.world_frame == "map"
    np.testing.assert_array_equal(rec.timestamps_ns, [T0 + 10 * MS, T0 + 110 * MS, T0 + 210 * MS])

    problems = [str(p) for p in rec.problems]
    assert (
        f"{path}: topic /chatter: message type std_msgs/msg/String cannot be decoded (not a supported sensor type)"
        in problems
    )
    assert any("/cam_jpeg/image_raw/compressed: no CameraInfo" in p for p in problems)
    assert any(
        "topic /depth/points: no rigid TF from ego frame 'base_link' to frame 'depth_link'" in p for p in problems
    )
    assert len(problems) == 3, problems  # nothing else

    # extrinsics from /tf_static (cam_png through cam_mount), identity where TF is missing
    def static(child: str) -> Transform:
        parent, q, xyz = {**STATIC_TF, **TF_MOUNT}[child]
        T = Transform.from_quaternion(q, xyz)
        return static(parent) @ T if parent != "base_link" else T

    assert rec.rig.T_ego_sensor("/lidar/points").allclose(static("lidar_link"))
    assert rec.rig.T_ego_sensor("/depth/points").allclose(Transform.identity())
    for topic, (_info, optical, model, D) in CAMERAS.items():
        cam = rec.rig.cameras[topic]
        assert cam.T_ego_cam.allclose(static(optical)), topic
        assert cam.model == ("fisheye" if model == "equidistant" else "pinhole")
        np.testing.assert_array_equal(cam.D, D)
        assert cam.K[0, 0] == 500.0 + 10 * len(D) and cam.K[1, 1] == 510.0 and cam.K[0, 2] == 4.0
        assert (cam.width, cam.height) == ((12, 10) if "png" in topic else (8, 6))
    assert "/cam_jpeg/image_raw/compressed" not in rec.rig.cameras

    # ego poses: T_map_ego = T_map_odom(t) @ T_odom_ego(t) at the odom -> base_link samples,
    # map -> odom interpolated (slerp: core.transforms.interpolate here, the reader its own vectorised walk)
    from fusionlabel.core.transforms import interpolate

    assert rec.ego_poses is not None and len(rec.ego_poses) == len(ODOM_T)
    map_odom = [Transform.from_quaternion(q, tr) for q, tr in MAP_ODOM]
    for k, t in enumerate(ODOM_T):
        i = 0 if t < MAP_T[1] else 1
        T_map_odom = interpolate(map_odom[i], map_odom[i + 1], (t - MAP_T[i]) / (MAP_T[i + 1] - MAP_T[i]))
        q, tr = _odom_pose(k)
        assert rec.ego_poses.at(t).allclose(T_map_odom @ Transform.from_quaternion(q, tr), atol=1e-9)

    for k in range(3):
        frame = rec.frame(k)
        # organised, big-endian, padded rows; messages 0 and 1 share a receive time (rank re-read)
        org = frame.lidar["/depth/points"]
        xyz, rgb = syn.organised[k]
        assert org.organized_shape == (4, 5) and len(org) == 20 and org.frame_id == "/depth/points"
        np.testing.assert_array_equal(org.xyz, xyz)  # NaN kept in place
        np.testing.assert_array_equal(org.fields["rgb"], rgb)
        assert np.isnan(org.xyz[1 * 5 + 2]).all() and len(org.finite()) == 18
        # mixed field types, NaN point dropped (unorganised)
        cloud = frame.lidar["/lidar/points"]
        exyz, efields = syn.clouds[k]
        assert cloud.organized_shape is None and cloud.timestamp_ns == T0 + k * 100 * MS
        np.testing.assert_array_equal(cloud.xyz, exyz)
        assert set(cloud.fields) == set(efields)
        for name, v in efields.items():
            assert cloud.fields[name].dtype == v.dtype, name
            np.testing.assert_array_equal(cloud.fields[name], v)
        for topic, imgs in syn.images.items():
            np.testing.assert_array_equal(frame.image(topic), imgs[k])
        jpeg = frame.image("/cam_jpeg/image_raw/compressed")
        assert jpeg.shape == (16, 24, 3) and abs(int(jpeg.mean()) - 40 * k) <= 2
        assert frame.ego_pose is not None
        assert frame.ego_pose.allclose(rec.ego_poses.at(frame.timestamp_ns))

    # lazy: images decode on demand, and a closed recording reopens its reader
    ref = rec.frame(2).images["/cam_front/image_raw"]
    rec.close()
    np.testing.assert_array_equal(ref.load(), syn.images["/cam_front/image_raw"][2])
    rec.close()


def test_open_recording_dispatches_to_rosbag(tmp_path: Path) -> None:
    from fusionlabel.io.open import open_recording

    path, _ = write_synthetic_bag(tmp_path, "ros2-mcap")
    rec = open_recording(path, format="rosbag")
    assert isinstance(rec, BagRecording) and len(rec) == 3
    rec.close()


# =============================================================================================
# broken input
# =============================================================================================
def test_garbage_bag_is_a_typed_error(tmp_path: Path) -> None:
    p = tmp_path / "garbage.bag"
    p.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(CorruptFileError) as err:
        open_bag(p)
    assert str(p) in str(err.value)


@pytest.mark.parametrize("kind", ["ros1", "mcap-file", "ros2-sqlite3"])
@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_bag_is_a_typed_error(tmp_path: Path, kind: str, keep: float) -> None:
    (tmp_path / "src").mkdir()
    src, _ = write_synthetic_bag(tmp_path / "src", kind)
    if src.is_dir():  # cut the database inside a copy of the rosbag2 folder
        p = tmp_path / "truncated"
        shutil.copytree(src, p)
        (db,) = p.glob("*.db3")
    else:
        p = db = tmp_path / f"truncated{src.suffix}"
        shutil.copy(src, p)
    data = db.read_bytes()
    db.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CorruptFileError) as err:
        open_bag(p)
    assert str(p) in str(err.value)


def test_truncated_real_ros1_bag(real_data: Path, tmp_path: Path) -> None:
    src = real_data / "derived" / "kitti_sfnd_2frames.bag"
    p = tmp_path / "cut.bag"
    with src.open("rb") as f:
        p.write_bytes(f.read(1_000_000))
    with pytest.raises(CorruptFileError, match=r"cut\.bag: cannot open as a ROS bag"):
        open_bag(p)


def test_broken_rosbag2_metadata(tmp_path: Path) -> None:
    folder = tmp_path / "bag"
    folder.mkdir()
    (folder / "metadata.yaml").write_text("rosbag2_bagfile_information:\n  version: 5\n  storage_identifier: sqlite3\n")
    assert sniff(folder)
    with pytest.raises(CorruptFileError) as err:
        open_bag(folder)
    assert str(folder) in str(err.value)


def test_not_a_bag(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    assert not sniff(p) and not sniff(tmp_path)
    with pytest.raises(UnsupportedFormatError):
        open_bag(p)
    with pytest.raises(DataError, match="no such file"):
        open_bag(tmp_path / "missing.bag")


def test_damaged_message_in_a_bag_names_bag_and_topic(tmp_path: Path) -> None:
    """A CompressedImage whose bytes are not an image: the frame loads, the image load raises."""
    from rosbags.rosbag2 import StoragePlugin
    from rosbags.rosbag2 import Writer as Writer2

    ts = _typestore(False)
    T = ts.types
    path = tmp_path / "bad_image"
    with Writer2(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        c = w.add_connection("/cam/image/compressed", "sensor_msgs/msg/CompressedImage", typestore=ts)
        hdr = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=5, nanosec=0), frame_id="cam")
        msg = T["sensor_msgs/msg/CompressedImage"](header=hdr, format="jpeg", data=np.arange(100, dtype=np.uint8))
        w.write(c, 5 * 10**9, ts.serialize_cdr(msg, "sensor_msgs/msg/CompressedImage"))
    with open_bag(path) as rec:
        assert len(rec) == 1 and rec.reference == "/cam/image/compressed"
        assert any("no CameraInfo" in str(p) for p in rec.problems)
        with pytest.raises(CorruptFileError) as err:
            rec.frame(0).image("/cam/image/compressed")
        assert str(err.value).startswith(f"{path}: topic /cam/image/compressed message at 5000000000 ns")


# =============================================================================================
# decoders on hand-made messages
# =============================================================================================
def _pc2(fields: list[tuple[str, int, int, int]], data: bytes, h: int, w: int, ps: int, rs: int) -> Any:
    return SimpleNamespace(
        height=h,
        width=w,
        point_step=ps,
        row_step=rs,
        is_bigendian=False,
        is_dense=True,
        data=data,
        fields=[SimpleNamespace(name=n, offset=o, datatype=d, count=c) for n, o, d, c in fields],
    )


def test_pointcloud2_decoder_rejects_bad_layouts() -> None:
    xyz = [("x", 0, 7, 1), ("y", 4, 7, 1), ("z", 8, 7, 1)]
    good = np.arange(3, dtype="<f4").tobytes()
    cloud = pointcloud2_to_cloud(_pc2(xyz, good, 1, 1, 12, 12))
    np.testing.assert_array_equal(cloud.xyz, [[0, 1, 2]])
    with pytest.raises(CorruptFileError, match="need 24 B, data has 12"):
        pointcloud2_to_cloud(_pc2(xyz, good, 1, 2, 12, 24), path="a.bag", where="topic /p")
    with pytest.raises(CorruptFileError, match="exceeds point_step"):
        pointcloud2_to_cloud(_pc2([*xyz, ("i", 10, 7, 1)], good, 1, 1, 12, 12))
    with pytest.raises(CorruptFileError, match="unknown datatype 9"):
        pointcloud2_to_cloud(_pc2([*xyz[:2], ("z", 8, 9, 1)], good, 1, 1, 12, 12))
    with pytest.raises(UnsupportedFormatError, match="no z field"):
        pointcloud2_to_cloud(_pc2(xyz[:2], good, 1, 1, 12, 12))


def test_image_decoders() -> None:
    v = np.array([[0, 256, 65535]], dtype=">u2")
    mono16 = SimpleNamespace(encoding="mono16", height=1, width=3, step=6, is_bigendian=1, data=v.tobytes())
    np.testing.assert_array_equal(image_to_rgb(mono16)[0, :, 0], [0, 1, 255])
    rgba = SimpleNamespace(encoding="bgra8", height=1, width=1, step=4, is_bigendian=0, data=bytes([1, 2, 3, 4]))
    np.testing.assert_array_equal(image_to_rgb(rgba), [[[3, 2, 1]]])
    with pytest.raises(UnsupportedFormatError, match="encoding 'weird'"):
        image_to_rgb(SimpleNamespace(encoding="weird", height=1, width=1, step=1, is_bigendian=0, data=b"\0"))
    with pytest.raises(CorruptFileError, match="data has 3 B"):
        image_to_rgb(SimpleNamespace(encoding="rgb8", height=2, width=1, step=3, is_bigendian=0, data=b"abc"))
    with pytest.raises(CorruptFileError, match="x.bag: t: jpeg image does not decode"):
        compressed_image_to_rgb(SimpleNamespace(format="jpeg", data=b"not a jpeg"), "x.bag", "t")


def test_camera_info_models() -> None:
    from fusionlabel.io.rosbag import camera_from_camera_info

    def info(model: str, D: list[float]) -> Any:
        return SimpleNamespace(
            k=[400.0, 0, 320, 0, 400, 240, 0, 0, 1],
            d=D,
            distortion_model=model,
            width=640,
            height=480,
            binning_x=0,
            binning_y=0,
            roi=SimpleNamespace(width=0, height=0),
        )

    cam, notes = camera_from_camera_info(info("rational_polynomial", [0.1] * 8 + [0.0] * 6), "c")
    assert cam.model == "pinhole" and len(cam.D) == 8 and notes == []
    cam, notes = camera_from_camera_info(info("equidistant", [0.1, 0.2, 0.3, 0.4]), "c")
    assert cam.model == "fisheye" and cam.D.tolist() == [0.1, 0.2, 0.3, 0.4]
    cam, notes = camera_from_camera_info(info("rational_polynomial", [0.1] * 12), "c")
    assert len(cam.D) == 8 and "dropped" in notes[0]
    with pytest.raises(CalibrationError, match="distortion model 'double_sphere'"):
        camera_from_camera_info(info("double_sphere", [0.1] * 6), "c")
    zero = info("plumb_bob", [])
    zero.k = [0.0] * 9
    with pytest.raises(CalibrationError, match="not calibrated"):
        camera_from_camera_info(zero, "c")


def test_sniff_names(tmp_path: Path) -> None:
    for name in ("a.bag", "b.mcap", "c.db3"):
        (tmp_path / name).write_bytes(b"x")
        assert sniff(tmp_path / name)
    other = tmp_path / "folder"
    other.mkdir()
    (other / "metadata.yaml").write_text("something: else\n")
    assert not sniff(other)
    shutil.rmtree(other)
