"""ROS bags: ROS 1 ``.bag``, ROS 2 bag folders (``metadata.yaml`` + SQLite3 or MCAP) and bare MCAP files.

Everything is read through :class:`rosbags.highlevel.AnyReader` (pure Python). What is decoded:

=============================  ====================================================================
``sensor_msgs/PointCloud2``    a LiDAR stream: :class:`PointCloud` per message (all fields, any
                               offsets/datatypes/counts, row padding, big-endian, organised clouds)
``sensor_msgs/Image``          a camera stream (rgb8, bgr8, rgba8, bgra8, mono8, mono16, 8UC1/3/4,
                               16UC1, 32FC1, bayer_*8, yuv422), decoded lazily to RGB
``sensor_msgs/CompressedImage`` a camera stream (JPEG / PNG / compressedDepth PNG), decoded lazily
``sensor_msgs/CameraInfo``     the intrinsics of the camera topic in the same namespace
                               (``/ns/camera_info`` serves ``/ns/image_raw[/compressed]``)
``tf2_msgs/TFMessage``         on ``/tf`` and ``/tf_static``: extrinsics and ego poses
=============================  ====================================================================

The message decoders (PointCloud2, Image, CompressedImage, CameraInfo, the TF tree) live in
:mod:`fusionlabel.io.ros_msgs` and are re-exported here; this module opens bags, discovers and
indexes topics, builds the rig from TF and CameraInfo, and serves frames.

Any other message type is *named*, never dropped silently: the topic stays listed in
:attr:`BagRecording.topics` and ``problems`` gets an :class:`UnsupportedFormatError`
``"topic /x: message type T cannot be decoded (no definition in the bag)"`` (ROS 2 bags written
without message definitions, e.g. ``velodyne_msgs/msg/VelodyneScan``) or ``"(not a supported
sensor type)"``. A bag without any decodable sensor stream still opens, with 0 frames.

Frames and timing
-----------------
Stream names are topic names. The reference stream is the first PointCloud2 topic in sorted
order (else the first camera topic); the other streams are matched to it by nearest timestamp
(:meth:`Recording.sync`). Sample times are the messages' ``header.stamp`` (acquisition time),
or the bag's receive time where a stamp is zero (reported as a problem).

Frames of reference
-------------------
* ego = ``base_link`` when it appears in TF; otherwise the root of the *rigid* TF tree above the
  reference sensor's ``header.frame_id`` (for a bag with only ``velo_link -> camera`` that is the
  LiDAR frame); without any TF, the reference sensor's own frame.
* A TF edge is rigid when it comes from ``/tf_static``, or from ``/tf`` with all samples equal
  and a parent that is not a world frame (``map``, ``odom``, ``world``, ``earth``): ROS 1 bags
  often publish mounts on ``/tf``.
* Extrinsics ``T_ego_sensor`` follow rigid edges from ego to each message's ``header.frame_id``;
  a frame TF does not reach gets the identity and a :class:`CalibrationError` in ``problems``.
  Image ``frame_id`` is taken to be the camera's optical frame (x right, y down, z forward), as
  ``sensor_msgs/CameraInfo`` prescribes.
* Ego poses ``T_world_ego`` come from the chain above ego when it contains a ``/tf`` edge that is
  not rigid (``odom -> base_link``, ``map -> odom -> base_link``): one pose per sample of the
  dynamic edge nearest ego, the other edges interpolated at those times.

Memory and I/O bound
--------------------
Opening reads the bag once, streaming: every message of a decodable sensor, CameraInfo or TF
topic is deserialised and then dropped; the index keeps per message only its stamp, receive
time, connection and rank among equal receive times (4 int64: 32 bytes), plus one CameraInfo per
camera and the TF samples. Frames re-read their messages by (connection, receive time, rank)
through one reader kept open by the recording (``close()`` or ``with`` releases it); images are
read and decoded only when :meth:`ImageRef.load` is called.

Example
-------
>>> rec = open_bag("drive.bag")                                   # doctest: +SKIP
>>> rec.topics                                                    # doctest: +SKIP
{'/velodyne_points': 'sensor_msgs/msg/PointCloud2', ...}
>>> cloud = rec.frame(0).lidar["/velodyne_points"]                # doctest: +SKIP
"""

from __future__ import annotations

import threading
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Camera, Lidar, Rig
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import Frame, ImageRef, PointCloud
from fusionlabel.core.recording import DEFAULT_TOLERANCE_NS, Recording, Stream
from fusionlabel.core.transforms import Transform
from fusionlabel.io.ros_msgs import (  # the message decoders; re-exported from here, their former home
    WORLD_FRAMES,  # noqa: F401
    _frame_name,
    _stamp_ns,
    _TfTree,
    camera_from_camera_info,
    compressed_image_to_rgb,
    image_to_rgb,
    pointcloud2_dtype,  # noqa: F401
    pointcloud2_to_cloud,
)

if TYPE_CHECKING:
    from rosbags.highlevel import AnyReader
    from rosbags.interfaces import Connection
    from typing_extensions import Self

POINTCLOUD2 = "sensor_msgs/msg/PointCloud2"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
TF_TYPES = ("tf2_msgs/msg/TFMessage", "tf/msg/tfMessage")
SENSOR_TYPES = {POINTCLOUD2: "lidar", IMAGE: "camera", COMPRESSED_IMAGE: "camera"}
EGO_FRAME = "base_link"
BAG_SUFFIXES = (".bag", ".mcap", ".db3")


# =============================================================================================
# sniffing and opening
# =============================================================================================
def sniff(path: Path) -> bool:
    """True for ``.bag`` / ``.mcap`` / ``.db3`` files and folders whose ``metadata.yaml`` is a rosbag2 one."""
    path = Path(path)
    if path.is_dir():
        meta = path / "metadata.yaml"
        try:
            with meta.open("rb") as f:
                return b"rosbag2_bagfile_information" in f.read(256)
        except OSError:
            return False
    return path.is_file() and path.suffix.lower() in BAG_SUFFIXES


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _open_reader(path: Path) -> AnyReader:
    """An open AnyReader; a bag without message definitions is read with the ROS 2 Humble types."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    default = get_typestore(Stores.ROS1_NOETIC if path.suffix == ".bag" else Stores.ROS2_HUMBLE)
    try:
        reader = AnyReader([path], default_typestore=default)
        reader.open()
    except Exception as exc:
        raise CorruptFileError(path, f"cannot open as a ROS bag: {_reason(exc)}") from None
    # a bag with definitions for some types only: complete it with the standard ones
    have = reader.typestore.fielddefs
    if any(c.msgtype not in have and c.msgtype in default.fielddefs for c in reader.connections):
        with suppress(Exception):  # types that clash stay undecodable and are reported per topic
            reader.typestore.register({k: v for k, v in default.fielddefs.items() if k not in have})
    return reader


def _camera_namespace(topic: str) -> str:
    """``/ns/image_raw/compressed`` and ``/ns/camera_info`` -> ``/ns``."""
    parts = topic.rstrip("/").split("/")
    if parts and parts[-1].lower() in ("compressed", "compresseddepth", "theora", "zstd"):
        parts = parts[:-1]
    return "/".join(parts[:-1])


# =============================================================================================
# the recording
# =============================================================================================
@dataclass(frozen=True)
class _TopicIndex:
    """Where each sample of a sensor topic lives, sorted by stamp.

    stamps_ns : (K,) int64 header stamps (the stream's timestamps)
    log_ns : (K,) int64 bag receive times; conn : (K,) int64 connection ids;
    rank : (K,) int64 position among the connection's messages with the same receive time
    """

    topic: str
    msgtype: str
    kind: str
    frame_id: str
    stamps_ns: NDArray[np.int64]
    log_ns: NDArray[np.int64]
    conn: NDArray[np.int64]
    rank: NDArray[np.int64]


@dataclass
class BagRecording(Recording):
    """A ROS bag opened by :func:`open_bag` (see the module docstring).

    Extra attributes
    ----------------
    topics : every topic in the bag -> its message type (``pkg/msg/Type``), decodable or not
    message_counts : topic -> number of messages
    bag_kind : ``"ros1"``, ``"ros2"`` (folder or ``.db3``) or ``"mcap"`` (a bare MCAP file)
    ego_frame : the TF frame chosen as ego; world_frame : the root of the ego-pose chain, if any
    """

    topics: dict[str, str] = field(default_factory=dict)
    message_counts: dict[str, int] = field(default_factory=dict)
    bag_kind: str = ""
    ego_frame: str = ""
    world_frame: str | None = None
    _index: dict[str, _TopicIndex] = field(default_factory=dict, repr=False)
    _reader: Any = field(default=None, repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)

    @property
    def timestamps_ns(self) -> NDArray[np.int64]:
        if self.reference not in self.streams:  # a bag without decodable sensor streams
            return np.zeros(0, dtype=np.int64)
        return self.streams[self.reference].timestamps_ns

    # -- reader lifetime --------------------------------------------------------------------------
    def close(self) -> None:
        """Release the bag file (frames opened later reopen it)."""
        with self._lock:
            if self._reader is not None:
                try:
                    self._reader.close()
                finally:
                    self._reader = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, topic: str, i: int) -> Any:
        """Deserialised message ``i`` (stamp order) of ``topic``, re-read from the bag."""
        ti = self._index[topic]
        t_log, cid, rank = int(ti.log_ns[i]), int(ti.conn[i]), int(ti.rank[i])
        where = f"topic {topic} message at {int(ti.stamps_ns[i])} ns"
        with self._lock:
            if self._reader is None:
                self._reader = _open_reader(self.path)
            reader = self._reader
            try:
                conn = next(c for c in reader.connections if c.id == cid)
                gen = reader.messages([conn], start=t_log, stop=t_log + 1)
                try:
                    for j, (_c, _t, raw) in enumerate(gen):
                        if j == rank:
                            return reader.deserialize(raw, conn.msgtype)
                finally:
                    gen.close()
            except Exception as exc:
                raise CorruptFileError(self.path, f"{where}: cannot read it: {_reason(exc)}") from None
        raise CorruptFileError(self.path, f"{where}: the message is no longer in the bag")

    # -- frames -----------------------------------------------------------------------------------
    def _image_ref(self, topic: str, i: int) -> ImageRef:
        ti = self._index[topic]
        t = int(ti.stamps_ns[i])
        where = f"topic {topic} message at {t} ns"

        def decode() -> NDArray[np.uint8]:
            msg = self._read(topic, i)
            if ti.msgtype == IMAGE:
                return image_to_rgb(msg, self.path, where)
            return compressed_image_to_rgb(msg, self.path, where)

        return ImageRef(f"{self.path}:{topic}@{t}", decode, t)

    def _load_frame(self, index: int) -> Frame:
        t_ref = int(self.timestamps_ns[index])
        lidar: dict[str, PointCloud] = {}
        images: dict[str, ImageRef] = {}
        stamps: dict[str, int] = {}
        for name, s, i, t in self.matched_samples(index):
            stamps[name] = t
            if s.kind == "lidar":
                msg = self._read(name, i)
                lidar[name] = pointcloud2_to_cloud(msg, name, t, self.path, f"topic {name} message at {t} ns")
            else:
                images[name] = self._image_ref(name, i)
        return Frame(index, t_ref, lidar, {}, images, self.ego_pose_at(t_ref), stamps)


def _unsupported(path: Path, topic: str, msgtype: str, why: str) -> UnsupportedFormatError:
    return UnsupportedFormatError(path, f"topic {topic}: message type {msgtype} cannot be decoded ({why})")


def open_bag(path: str | Path, tolerance_ns: int = DEFAULT_TOLERANCE_NS) -> BagRecording:
    """Open a ROS 1 bag, a ROS 2 bag folder / ``.db3`` or an MCAP file as a :class:`BagRecording`.

    Reads the bag once to index it (see the module docstring for the bound); sensor data is
    re-read per frame. Raises :class:`CorruptFileError` naming the file when it is not a readable
    bag, :class:`UnsupportedFormatError` when the path is not a bag at all.

    Example
    -------
    >>> with open_bag("kitti.bag") as rec:                           # doctest: +SKIP
    ...     print(len(rec), [str(p) for p in rec.problems])
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file or folder")
    if not sniff(path):
        raise UnsupportedFormatError(path, "not a ROS bag (.bag, .mcap, .db3 or a rosbag2 folder with metadata.yaml)")
    reader = _open_reader(path)
    try:
        return _build(path, reader, tolerance_ns)
    except BaseException:
        with suppress(Exception):
            reader.close()
        raise


def _build(path: Path, reader: AnyReader, tolerance_ns: int) -> BagRecording:
    problems: list[DataError] = []
    conns: list[Connection] = list(reader.connections)
    topics: dict[str, str] = {}
    counts: dict[str, int] = {}
    for c in sorted(conns, key=lambda c: c.topic):
        if c.topic in topics and topics[c.topic] != c.msgtype:
            problems.append(_unsupported(path, c.topic, c.msgtype, f"the topic also carries {topics[c.topic]}"))
            continue
        topics.setdefault(c.topic, c.msgtype)
        counts[c.topic] = counts.get(c.topic, 0) + int(c.msgcount)
    known = reader.typestore.fielddefs
    wanted: list[Connection] = []
    for topic, msgtype in topics.items():
        if msgtype not in known:
            problems.append(_unsupported(path, topic, msgtype, "no definition in the bag"))
        elif msgtype in SENSOR_TYPES or msgtype == CAMERA_INFO or msgtype in TF_TYPES:
            wanted += [c for c in conns if c.topic == topic and c.msgtype == msgtype]
        else:
            problems.append(_unsupported(path, topic, msgtype, "not a supported sensor type"))

    # -- one streaming pass: stamps, frame ids, first CameraInfo per topic, TF ------------------
    acc: dict[str, dict[str, list[int]]] = {}
    frame_ids: dict[str, set[str]] = {}
    zero_stamps: dict[str, int] = {}
    bad: dict[str, str] = {}
    cam_infos: dict[str, Any] = {}
    image_sizes: dict[str, tuple[int, int]] = {}
    tf = _TfTree()
    bad_tf: dict[str, int] = {}
    last: dict[int, tuple[int, int]] = {}  # connection -> (receive time, rank)
    try:
        for conn, t_log, raw in reader.messages(wanted) if wanted else ():  # () would mean every topic
            prev = last.get(conn.id)
            rank = prev[1] + 1 if prev is not None and prev[0] == t_log else 0
            last[conn.id] = (t_log, rank)
            try:
                msg: Any = reader.deserialize(raw, conn.msgtype)
            except Exception as exc:
                bad.setdefault(conn.topic, _reason(exc))
                continue
            if conn.msgtype in TF_TYPES:
                static = conn.topic.rstrip("/").endswith("tf_static")
                for ts in msg.transforms:
                    q, p = ts.transform.rotation, ts.transform.translation
                    qt = (float(q.w), float(q.x), float(q.y), float(q.z), float(p.x), float(p.y), float(p.z))
                    if not (np.all(np.isfinite(qt)) and np.linalg.norm(qt[:4]) > 1e-6):  # scipy normalises
                        bad_tf.setdefault(f"{ts.header.frame_id} -> {ts.child_frame_id}", 0)
                        bad_tf[f"{ts.header.frame_id} -> {ts.child_frame_id}"] += 1
                        continue
                    tf.add(
                        _frame_name(ts.header.frame_id),
                        _frame_name(ts.child_frame_id),
                        _stamp_ns(ts.header),
                        qt,
                        static,
                    )
                continue
            if conn.msgtype == CAMERA_INFO:
                cam_infos.setdefault(conn.topic, msg)
                continue
            stamp = _stamp_ns(msg.header)
            if stamp == 0:
                zero_stamps[conn.topic] = zero_stamps.get(conn.topic, 0) + 1
                stamp = int(t_log)
            frame_ids.setdefault(conn.topic, set()).add(_frame_name(msg.header.frame_id))
            if conn.msgtype == IMAGE and conn.topic not in image_sizes:
                image_sizes[conn.topic] = (int(msg.width), int(msg.height))
            a = acc.setdefault(conn.topic, {"stamp": [], "log": [], "conn": [], "rank": []})
            a["stamp"].append(stamp)
            a["log"].append(int(t_log))
            a["conn"].append(int(conn.id))
            a["rank"].append(rank)
    except Exception as exc:
        raise CorruptFileError(path, f"cannot read the bag's messages: {_reason(exc)}") from None
    for topic, why in bad.items():
        problems.append(CorruptFileError(path, f"topic {topic}: messages that do not deserialise were skipped ({why})"))
    for topic, n in zero_stamps.items():
        problems.append(
            CorruptFileError(
                path, f"topic {topic}: {n} messages have a zero header stamp; using the bag's receive time"
            )
        )
    problems += [CalibrationError(path, c) for c in tf.conflicts]
    problems += [
        CalibrationError(path, f"TF {edge}: {n} transforms with a zero or non-finite quaternion were skipped")
        for edge, n in bad_tf.items()
    ]

    index: dict[str, _TopicIndex] = {}
    for topic, a in sorted(acc.items()):
        order = np.argsort(np.asarray(a["stamp"], np.int64), kind="stable")
        fids = sorted(frame_ids.get(topic, {""}))
        if len(fids) > 1:
            problems.append(
                CalibrationError(path, f"topic {topic}: several header.frame_id values {fids}; using '{fids[0]}'")
            )
        index[topic] = _TopicIndex(
            topic,
            topics[topic],
            SENSOR_TYPES[topics[topic]],
            fids[0],
            *(np.asarray(a[k], np.int64)[order] for k in ("stamp", "log", "conn", "rank")),
        )
    streams = {t: Stream(t, ti.kind, ti.stamps_ns) for t, ti in index.items()}  # type: ignore[arg-type]
    lidar_topics = [t for t, ti in index.items() if ti.kind == "lidar"]
    camera_topics = [t for t, ti in index.items() if ti.kind == "camera"]
    reference = (lidar_topics or camera_topics or [""])[0]
    if not streams:
        problems.append(
            UnsupportedFormatError(
                path, "no decodable sensor stream (sensor_msgs PointCloud2, Image or CompressedImage): 0 frames"
            )
        )

    # -- rig: ego frame, extrinsics from TF, intrinsics from CameraInfo --------------------------
    ref_frame = index[reference].frame_id if reference else ""
    frames = tf.frames
    if EGO_FRAME in frames:
        ego = EGO_FRAME
    elif ref_frame in frames:
        ego = tf.rigid_root(ref_frame)[0]
    else:
        ego = ref_frame or EGO_FRAME

    def extrinsic(topic: str, frame_id: str) -> Transform:
        T = tf.rigid_transform(ego, frame_id) if frame_id and (frame_id == ego or frame_id in frames) else None
        if T is None:
            problems.append(
                CalibrationError(
                    path,
                    f"topic {topic}: no rigid TF from ego frame '{ego}' to frame '{frame_id}'; extrinsic set to identity",
                )
            )
            return Transform.identity()
        return T

    lidars = {t: Lidar(t, extrinsic(t, index[t].frame_id)) for t in lidar_topics}
    cameras: dict[str, Camera] = {}
    for topic in camera_topics:
        ns = _camera_namespace(topic)
        info_topic = next((c for c in sorted(cam_infos) if _camera_namespace(c) == ns), None)
        if info_topic is None:  # fall back to a CameraInfo in the same optical frame
            info_topic = next(
                (c for c in sorted(cam_infos) if _frame_name(cam_infos[c].header.frame_id) == index[topic].frame_id),
                None,
            )
        if info_topic is None:
            problems.append(CalibrationError(path, f"camera topic {topic}: no CameraInfo topic found; no intrinsics"))
            continue
        where = f"topic {info_topic}"
        try:
            cam, notes = camera_from_camera_info(
                cam_infos[info_topic], topic, extrinsic(topic, index[topic].frame_id), path, where
            )
        except (CalibrationError, ValueError) as exc:
            problems.append(exc if isinstance(exc, CalibrationError) else CalibrationError(path, f"{where}: {exc}"))
            continue
        problems += [CalibrationError(path, f"{where}: {n}") for n in notes]
        size = image_sizes.get(topic)
        if size is not None and size != (cam.width, cam.height):
            problems.append(
                CalibrationError(
                    path,
                    f"{where}: CameraInfo size {cam.width}x{cam.height} differs from the images ({size[0]}x{size[1]})",
                )
            )
        cameras[topic] = cam

    poses = None
    world = None
    pt = tf.pose_track(ego)
    if pt is not None:
        world, poses = pt

    bag_kind = "ros1" if not reader.is2 else "mcap" if path.is_file() and path.suffix == ".mcap" else "ros2"
    return BagRecording(
        path=path,
        format="rosbag",
        rig=Rig(cameras, lidars, {}),
        streams=streams,
        reference=reference,
        tolerance_ns=tolerance_ns,
        ego_poses=poses,
        problems=problems,
        topics=topics,
        message_counts=counts,
        bag_kind=bag_kind,
        ego_frame=ego,
        world_frame=world,
        _index=index,
        _reader=reader,
    )
