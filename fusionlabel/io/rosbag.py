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
from array import array
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Camera, Lidar, Rig
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import Frame, ImageRef, PointCloud, decode_image_bytes
from fusionlabel.core.recording import DEFAULT_TOLERANCE_NS, Recording, Stream
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform

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
WORLD_FRAMES = ("map", "odom", "world", "earth")
BAG_SUFFIXES = (".bag", ".mcap", ".db3")

# sensor_msgs/PointField datatypes -> numpy type codes (byte order added per message)
_POINT_FIELD_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}


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
    except Exception as exc:  # noqa: BLE001 - rosbags raises ReaderError, AnyReaderError, struct/EOF/OS errors
        raise CorruptFileError(path, f"cannot open as a ROS bag: {_reason(exc)}") from None
    # a bag with definitions for some types only: complete it with the standard ones
    have = reader.typestore.fielddefs
    if any(c.msgtype not in have and c.msgtype in default.fielddefs for c in reader.connections):
        with suppress(Exception):  # types that clash stay undecodable and are reported per topic
            reader.typestore.register({k: v for k, v in default.fielddefs.items() if k not in have})
    return reader


# =============================================================================================
# message decoders (public: usable on messages from any source that follows the ROS layout)
# =============================================================================================
def _where(where: str, reason: str) -> str:
    return f"{where}: {reason}" if where else reason


def _u8(data: Any) -> NDArray[np.uint8]:
    return np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else np.asarray(
        data, dtype=np.uint8
    ).reshape(-1)


def pointcloud2_dtype(fields: Any, point_step: int, is_bigendian: bool) -> np.dtype:
    """The numpy structured dtype of one PointCloud2 point (itemsize ``point_step``).

    ``fields`` are ``sensor_msgs/PointField`` (name, offset, datatype, count). Names are lower-cased;
    ``count > 1`` gives a sub-array field; ``count == 0`` is read as 1 (old drivers); ``rgb``/``rgba``
    are read as uint32 so their packed bytes survive. Raises ``ValueError`` on unknown datatypes,
    fields beyond ``point_step`` or duplicate names.
    """
    order = ">" if is_bigendian else "<"
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    for f in fields:
        name = str(f.name).lower()
        if int(f.datatype) not in _POINT_FIELD_TYPES:
            raise ValueError(f"field {f.name!r} has unknown datatype {f.datatype}")
        code = "u4" if name in ("rgb", "rgba") and int(f.datatype) in (6, 7) else _POINT_FIELD_TYPES[int(f.datatype)]
        base = np.dtype(order + code)
        count = max(int(f.count), 1)
        if int(f.offset) < 0 or int(f.offset) + base.itemsize * count > point_step:
            raise ValueError(f"field {f.name!r} (offset {f.offset}, {count} x {base.itemsize} B) exceeds point_step {point_step}")
        if name in names:
            raise ValueError(f"field {f.name!r} appears twice")
        names.append(name)
        formats.append(base if count == 1 else (base, (count,)))
        offsets.append(int(f.offset))
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": int(point_step)})


def pointcloud2_to_cloud(
    msg: Any,
    name: str = "lidar",
    timestamp_ns: int | None = None,
    path: str | Path = "<PointCloud2>",
    where: str = "",
) -> PointCloud:
    """Decode a ``sensor_msgs/PointCloud2`` (vectorised, no per-point loop).

    Layout: point ``(r, c)`` starts at byte ``r * row_step + c * point_step``; each field sits at
    its ``offset`` in that point with its datatype, ``count`` and the message's byte order.

    Returns
    -------
    PointCloud
        ``xyz`` (N, 3) float32 metres in the message's ``header.frame_id`` frame, named ``name``.
        ``fields``: every other field, lower-cased, native byte order; ``intensity`` as float32,
        ``rgb``/``rgba`` unpacked to (N, 3) uint8 ``rgb``. Organised clouds (``height > 1``) keep
        all ``height * width`` points, NaN included, with ``organized_shape = (height, width)``;
        unorganised clouds drop points with non-finite coordinates (``is_dense = False`` data).

    Raises
    ------
    CorruptFileError : inconsistent sizes, bad field layout (naming ``path`` and ``where``)
    UnsupportedFormatError : no float x, y, z fields
    """
    h, w = int(msg.height), int(msg.width)
    ps, rs = int(msg.point_step), int(msg.row_step)
    try:
        dtype = pointcloud2_dtype(msg.fields, ps, bool(msg.is_bigendian))
    except ValueError as exc:
        raise CorruptFileError(path, _where(where, f"PointCloud2 {exc}")) from None
    missing = [c for c in "xyz" if c not in (dtype.names or ())]
    if missing:
        raise UnsupportedFormatError(
            path, _where(where, f"PointCloud2 has no {'/'.join(missing)} field (fields: {', '.join(dtype.names or ())})")
        )
    buf = _u8(msg.data)
    n = h * w
    need = (h - 1) * rs + w * ps if n else 0
    if n and (rs < w * ps or len(buf) < need):
        raise CorruptFileError(
            path, _where(where, f"PointCloud2 {h}x{w} points of {ps} B (row_step {rs}) need {need} B, data has {len(buf)}")
        )
    if n == 0:
        pts = np.zeros(0, dtype=dtype)
    elif rs == w * ps:
        pts = buf[: n * ps].view(dtype)
    else:  # padded rows: gather the used part of each row, then reinterpret
        rows = np.lib.stride_tricks.as_strided(buf, shape=(h, w * ps), strides=(rs, 1), writeable=False)
        pts = np.ascontiguousarray(rows).reshape(-1).view(dtype)
    xyz = np.stack([pts["x"], pts["y"], pts["z"]], axis=1).astype(np.float32)
    out: dict[str, NDArray[np.generic]] = {}
    for fname in dtype.names or ():
        if fname in ("x", "y", "z"):
            continue
        col = pts[fname]
        v = np.ascontiguousarray(col, dtype=col.dtype.newbyteorder("="))
        if fname in ("rgb", "rgba") and v.ndim == 1 and v.dtype == np.uint32:
            out["rgb"] = np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], axis=1).astype(np.uint8)
        elif fname == "intensity":
            out[fname] = v.astype(np.float32)
        else:
            out[fname] = v
    shape: tuple[int, int] | None = (h, w) if h > 1 else None
    if shape is None and n:
        ok = np.isfinite(xyz).all(axis=1)
        if not ok.all():
            xyz = xyz[ok]
            out = {k: v[ok] for k, v in out.items()}
    return PointCloud(xyz, out, name, timestamp_ns, shape)


# encoding -> (numpy type, channels, how to reach RGB)
_IMAGE_ENCODINGS: dict[str, tuple[str, int, str]] = {
    "rgb8": ("u1", 3, "rgb"), "bgr8": ("u1", 3, "bgr"), "rgba8": ("u1", 4, "rgb"), "bgra8": ("u1", 4, "bgr"),
    "mono8": ("u1", 1, "mono"), "8uc1": ("u1", 1, "mono"), "8uc3": ("u1", 3, "bgr"), "8uc4": ("u1", 4, "bgr"),
    "rgb16": ("u2", 3, "rgb"), "bgr16": ("u2", 3, "bgr"), "rgba16": ("u2", 4, "rgb"), "bgra16": ("u2", 4, "bgr"),
    "mono16": ("u2", 1, "mono"), "16uc1": ("u2", 1, "mono"), "16uc3": ("u2", 3, "bgr"),
    "32fc1": ("f4", 1, "float"),
    "bayer_rggb8": ("u1", 1, "bayer_rggb"), "bayer_bggr8": ("u1", 1, "bayer_bggr"),
    "bayer_gbrg8": ("u1", 1, "bayer_gbrg"), "bayer_grbg8": ("u1", 1, "bayer_grbg"),
    "yuv422": ("u1", 2, "uyvy"), "uyvy": ("u1", 2, "uyvy"), "yuv422_yuy2": ("u1", 2, "yuyv"), "yuyv": ("u1", 2, "yuyv"),
}


def _to_u8(a: NDArray[Any]) -> NDArray[np.uint8]:
    """16-bit -> 8-bit by ``v * 255 / 65535`` (as cv_bridge); float -> min..max of the finite values."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:
        return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    f = a.astype(np.float64)
    ok = np.isfinite(f)
    if not ok.any():
        return np.zeros(a.shape, np.uint8)
    lo, hi = float(f[ok].min()), float(f[ok].max())
    g = np.where(ok, (f - lo) / (hi - lo if hi > lo else 1.0) * 255.0, 0.0)
    return np.clip(np.rint(g), 0, 255).astype(np.uint8)


def image_to_rgb(msg: Any, path: str | Path = "<Image>", where: str = "") -> NDArray[np.uint8]:
    """Decode a ``sensor_msgs/Image`` to (H, W, 3) uint8 RGB.

    Honours ``step`` (row padding) and ``is_bigendian``. ``8UC3``/``8UC4`` are taken as BGR(A),
    OpenCV's order; 16-bit values scale by 255/65535, ``32FC1`` (depth) maps its finite min..max
    to 0..255; Bayer patterns are demosaiced (the cv_bridge mapping); alpha is dropped.
    """
    import cv2  # heavy import kept local

    enc = str(msg.encoding).strip().lower()
    if enc not in _IMAGE_ENCODINGS:
        raise UnsupportedFormatError(path, _where(where, f"image encoding {msg.encoding!r} is not supported"))
    code, ch, kind = _IMAGE_ENCODINGS[enc]
    dt = np.dtype((">" if msg.is_bigendian else "<") + code)
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    row = w * ch * dt.itemsize
    buf = _u8(msg.data)
    if step < row or len(buf) < (h - 1) * step + row or h <= 0 or w <= 0:
        raise CorruptFileError(
            path, _where(where, f"image {w}x{h} {msg.encoding} needs rows of {row} B (step {step}), data has {len(buf)} B")
        )
    rows = np.lib.stride_tricks.as_strided(buf, shape=(h, row), strides=(step, 1), writeable=False)
    a = np.ascontiguousarray(rows).view(dt).astype(dt.newbyteorder("=")).reshape(h, w, ch)
    if kind.startswith("bayer_"):
        cvcode = {"rggb": cv2.COLOR_BayerBG2RGB, "bggr": cv2.COLOR_BayerRG2RGB,
                  "gbrg": cv2.COLOR_BayerGR2RGB, "grbg": cv2.COLOR_BayerGB2RGB}[kind[6:]]
        return np.ascontiguousarray(cv2.cvtColor(a[:, :, 0], cvcode))
    if kind in ("uyvy", "yuyv"):
        cvcode = cv2.COLOR_YUV2RGB_UYVY if kind == "uyvy" else cv2.COLOR_YUV2RGB_YUY2
        return np.ascontiguousarray(cv2.cvtColor(a, cvcode))
    a8 = _to_u8(a)
    if kind in ("mono", "float"):
        return np.ascontiguousarray(np.repeat(a8, 3, axis=2))
    rgb = a8[:, :, :3] if kind == "rgb" else a8[:, :, 2::-1]
    return np.ascontiguousarray(rgb)


def compressed_image_to_rgb(msg: Any, path: str | Path = "<CompressedImage>", where: str = "") -> NDArray[np.uint8]:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG, PNG; ``compressedDepth`` PNG) to (H, W, 3) uint8 RGB."""
    import cv2

    data = _u8(msg.data)
    src = f"{path}: {where}" if where else str(path)
    if "compresseddepth" in str(msg.format).lower():
        # image_transport's compressedDepth: a 12-byte config header, then a 16-bit (or float) PNG
        img = cv2.imdecode(data[12:], cv2.IMREAD_UNCHANGED) if len(data) > 12 else None
        if img is None:
            raise CorruptFileError(path, _where(where, "compressedDepth image does not decode"))
        return np.ascontiguousarray(np.repeat(_to_u8(img.reshape(img.shape[0], img.shape[1], 1)), 3, axis=2))
    try:
        return decode_image_bytes(data.tobytes(), src)
    except CorruptFileError:
        raise CorruptFileError(path, _where(where, f"{msg.format or 'compressed'} image does not decode")) from None


_ALLOWED_PINHOLE = (0, 4, 5, 8)


def camera_from_camera_info(
    msg: Any, name: str, T_ego_cam: Transform | None = None, path: str | Path = "<CameraInfo>", where: str = ""
) -> tuple[Camera, list[str]]:
    """A :class:`Camera` from a ``sensor_msgs/CameraInfo`` (ROS 1 ``K``/``D`` or ROS 2 ``k``/``d``).

    ``distortion_model``: ``plumb_bob`` (k1 k2 p1 p2 k3) and ``rational_polynomial`` (+ k4 k5 k6)
    give model ``"pinhole"``; ``equidistant`` (k1..k4, OpenCV fisheye) gives ``"fisheye"``.
    Coefficients beyond what the model uses are dropped; dropping a non-zero one is reported in
    the returned notes (e.g. rational_polynomial's thin-prism terms), as are binning and ROI,
    which are not applied.

    Raises
    ------
    CalibrationError : zero K, unknown distortion model or a missing image size
    """
    K = np.asarray(getattr(msg, "k", getattr(msg, "K", None)), dtype=np.float64).reshape(-1)
    D = np.asarray(getattr(msg, "d", getattr(msg, "D", [])), dtype=np.float64).reshape(-1)
    model_name = str(msg.distortion_model).strip().lower()
    notes: list[str] = []
    if K.size != 9 or K[0] <= 0 or K[4] <= 0:
        raise CalibrationError(path, _where(where, "CameraInfo K is zero or invalid (camera not calibrated)"))
    if model_name in ("equidistant", "fisheye"):
        model, keep = "fisheye", 4 if len(D) >= 4 else 0
    elif model_name in ("plumb_bob", "rational_polynomial", ""):
        model = "pinhole"
        keep = len(D) if len(D) in _ALLOWED_PINHOLE else max(k for k in _ALLOWED_PINHOLE if k <= len(D))
    else:
        raise CalibrationError(path, _where(where, f"distortion model {msg.distortion_model!r} is not supported"))
    if D[keep:].any():
        notes.append(f"distortion coefficients {D[keep:].tolist()} beyond the {model} model's {keep} were dropped")
    if max(int(msg.binning_x), 1) > 1 or max(int(msg.binning_y), 1) > 1:
        notes.append(f"binning {msg.binning_x}x{msg.binning_y} is not applied to the intrinsics")
    roi = msg.roi
    if int(roi.width) and int(roi.height) and (int(roi.width), int(roi.height)) != (int(msg.width), int(msg.height)):
        notes.append("a region of interest is set and not applied to the intrinsics")
    if int(msg.width) <= 0 or int(msg.height) <= 0:
        raise CalibrationError(path, _where(where, "CameraInfo has no image width/height"))
    cam = Camera(
        name=name, K=K.reshape(3, 3), width=int(msg.width), height=int(msg.height),
        T_ego_cam=T_ego_cam or Transform.identity(), D=D[:keep], model=model,
    )
    return cam, notes


# =============================================================================================
# TF
# =============================================================================================
def _matrices(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """(K, 7) rows ``(qw, qx, qy, qz, x, y, z)`` -> (K, 4, 4) ``T_parent_child`` (quaternions normalised)."""
    from scipy.spatial.transform import Rotation

    M = np.tile(np.eye(4), (len(v), 1, 1))
    M[:, :3, :3] = Rotation.from_quat(v[:, [1, 2, 3, 0]]).as_matrix()  # scipy wants (x, y, z, w)
    M[:, :3, 3] = v[:, 4:7]
    return M


@dataclass
class _TfEdge:
    """One TF edge ``T_parent_child``, its samples packed as 7 float64 per sample (56 B)."""

    parent: str
    static: bool
    times: array[int] = field(default_factory=lambda: array("q"))
    values: array[float] = field(default_factory=lambda: array("d"))  # qw qx qy qz x y z per sample

    @cached_property
    def samples(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """(P,) int64 distinct sorted times and (P, 7) values; the last sample wins on a repeated stamp."""
        t = np.array(self.times, dtype=np.int64)
        v = np.array(self.values, dtype=np.float64).reshape(-1, 7)
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        keep = np.append(t[1:] != t[:-1], True)
        return t[keep], v[keep]

    @cached_property
    def rigid(self) -> bool:
        if self.static:
            return True
        if self.parent in WORLD_FRAMES:
            return False
        v = self.samples[1]
        return bool(np.allclose(v, v[0], atol=1e-9))

    @cached_property
    def first(self) -> NDArray[np.float64]:
        """(4, 4) ``T_parent_child`` of the earliest sample (the latest one for a static edge)."""
        return _matrices(self.samples[1][:1])[0]

    def sample(self, t_ns: NDArray[np.int64]) -> NDArray[np.float64]:
        """(K, 4, 4) ``T_parent_child`` at ``t_ns``: slerp / lerp between samples, clamped at the ends."""
        t, v = self.samples
        if self.rigid or len(t) == 1:
            return np.broadcast_to(self.first, (len(t_ns), 4, 4))
        from scipy.spatial.transform import Rotation, Slerp

        x = (t - t[0]).astype(np.float64)  # relative times keep nanosecond precision in float64
        xq = (np.clip(t_ns, t[0], t[-1]) - t[0]).astype(np.float64)
        M = np.tile(np.eye(4), (len(t_ns), 1, 1))
        M[:, :3, :3] = Slerp(x, Rotation.from_quat(v[:, [1, 2, 3, 0]]))(xq).as_matrix()
        M[:, :3, 3] = np.stack([np.interp(xq, x, v[:, 4 + k]) for k in range(3)], axis=1)
        return M


@dataclass
class _TfTree:
    """TF as a tree of ``child -> parent`` edges (``T_parent_child``), static and sampled."""

    edges: dict[str, _TfEdge] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)

    def add(self, parent: str, child: str, t_ns: int, qt: tuple[float, ...], static: bool) -> None:
        """Add one sample ``qt = (qw, qx, qy, qz, x, y, z)`` of ``T_parent_child``."""
        e = self.edges.get(child)
        if e is None:
            e = self.edges[child] = _TfEdge(parent, static)
        elif e.parent != parent:
            if len(self.conflicts) < 5:
                self.conflicts.append(f"TF frame '{child}' has two parents ('{e.parent}', '{parent}'); kept '{e.parent}'")
            return
        if static:  # a re-published static transform replaces the earlier one
            e.static, e.times, e.values = True, array("q", [t_ns]), array("d", qt)
        elif not e.static:
            e.times.append(t_ns)
            e.values.extend(qt)

    @property
    def frames(self) -> set[str]:
        return set(self.edges) | {e.parent for e in self.edges.values()}

    def rigid_root(self, frame: str) -> tuple[str, NDArray[np.float64]]:
        """``(root, T_root_frame)`` following rigid edges up from ``frame``."""
        T = np.eye(4)
        cur = frame
        for _ in range(len(self.edges) + 1):
            e = self.edges.get(cur)
            if e is None or not e.rigid:
                break
            T = e.first @ T  # T_parent_frame = T_parent_cur @ T_cur_frame
            cur = e.parent
        return cur, T

    def rigid_transform(self, dst: str, src: str) -> Transform | None:
        """``T_dst_src`` through rigid edges, or None when they do not connect the frames."""
        if dst == src:
            return Transform.identity()
        rd, T_r_dst = self.rigid_root(dst)
        rs, T_r_src = self.rigid_root(src)
        if rd != rs:
            return None
        return Transform(T_r_dst).inverse() @ Transform(T_r_src)

    def pose_track(self, ego: str) -> tuple[str, PoseTrack] | None:
        """``(world, T_world_ego track)`` when a non-rigid edge lies above ``ego``, else None.

        One pose per sample of the dynamic edge nearest ego; every edge of the chain is evaluated
        at those times (vectorised): ``T_world_ego(t) = T_world_a(t) @ ... @ T_x_ego(t)``.
        """
        chain: list[_TfEdge] = []
        cur = ego
        for _ in range(len(self.edges) + 1):
            e = self.edges.get(cur)
            if e is None:
                break
            chain.append(e)
            cur = e.parent
        dynamic = [e for e in chain if not e.rigid]
        if not dynamic:
            return None
        times = dynamic[0].samples[0]
        M = np.tile(np.eye(4), (len(times), 1, 1))
        for e in reversed(chain):
            M = M @ e.sample(times)
        return cur, PoseTrack(times, tuple(Transform(m) for m in M))


def _stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _frame_name(frame_id: str) -> str:
    return str(frame_id).strip().lstrip("/")


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
            except Exception as exc:  # noqa: BLE001 - any reader/deserialiser failure names the bag
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
            except Exception as exc:  # noqa: BLE001 - one bad message is a problem of its topic
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
                    tf.add(_frame_name(ts.header.frame_id), _frame_name(ts.child_frame_id), _stamp_ns(ts.header),
                           qt, static)
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
    except Exception as exc:  # noqa: BLE001 - a damaged chunk / record ends the read
        raise CorruptFileError(path, f"cannot read the bag's messages: {_reason(exc)}") from None
    for topic, why in bad.items():
        problems.append(CorruptFileError(path, f"topic {topic}: messages that do not deserialise were skipped ({why})"))
    for topic, n in zero_stamps.items():
        problems.append(CorruptFileError(path, f"topic {topic}: {n} messages have a zero header stamp; using the bag's receive time"))
    problems += [CalibrationError(path, c) for c in tf.conflicts]
    problems += [CalibrationError(path, f"TF {edge}: {n} transforms with a zero or non-finite quaternion were skipped")
                 for edge, n in bad_tf.items()]

    index: dict[str, _TopicIndex] = {}
    for topic, a in sorted(acc.items()):
        order = np.argsort(np.asarray(a["stamp"], np.int64), kind="stable")
        fids = sorted(frame_ids.get(topic, {""}))
        if len(fids) > 1:
            problems.append(CalibrationError(path, f"topic {topic}: several header.frame_id values {fids}; using '{fids[0]}'"))
        index[topic] = _TopicIndex(
            topic, topics[topic], SENSOR_TYPES[topics[topic]], fids[0],
            *(np.asarray(a[k], np.int64)[order] for k in ("stamp", "log", "conn", "rank")),
        )
    streams = {t: Stream(t, ti.kind, ti.stamps_ns) for t, ti in index.items()}  # type: ignore[arg-type]
    lidar_topics = [t for t, ti in index.items() if ti.kind == "lidar"]
    camera_topics = [t for t, ti in index.items() if ti.kind == "camera"]
    reference = (lidar_topics or camera_topics or [""])[0]
    if not streams:
        problems.append(UnsupportedFormatError(
            path, "no decodable sensor stream (sensor_msgs PointCloud2, Image or CompressedImage): 0 frames"))

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
            problems.append(CalibrationError(
                path, f"topic {topic}: no rigid TF from ego frame '{ego}' to frame '{frame_id}'; extrinsic set to identity"))
            return Transform.identity()
        return T

    lidars = {t: Lidar(t, extrinsic(t, index[t].frame_id)) for t in lidar_topics}
    cameras: dict[str, Camera] = {}
    for topic in camera_topics:
        ns = _camera_namespace(topic)
        info_topic = next((c for c in sorted(cam_infos) if _camera_namespace(c) == ns), None)
        if info_topic is None:  # fall back to a CameraInfo in the same optical frame
            info_topic = next((c for c in sorted(cam_infos)
                               if _frame_name(cam_infos[c].header.frame_id) == index[topic].frame_id), None)
        if info_topic is None:
            problems.append(CalibrationError(path, f"camera topic {topic}: no CameraInfo topic found; no intrinsics"))
            continue
        where = f"topic {info_topic}"
        try:
            cam, notes = camera_from_camera_info(cam_infos[info_topic], topic, extrinsic(topic, index[topic].frame_id),
                                                 path, where)
        except (CalibrationError, ValueError) as exc:
            problems.append(exc if isinstance(exc, CalibrationError) else CalibrationError(path, f"{where}: {exc}"))
            continue
        problems += [CalibrationError(path, f"{where}: {n}") for n in notes]
        size = image_sizes.get(topic)
        if size is not None and size != (cam.width, cam.height):
            problems.append(CalibrationError(
                path, f"{where}: CameraInfo size {cam.width}x{cam.height} differs from the images ({size[0]}x{size[1]})"))
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
