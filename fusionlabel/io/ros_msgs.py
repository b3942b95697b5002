"""Decoders of ROS message types: deserialised messages -> FusionLabel core objects.

The functions here take a message object as :mod:`rosbags` deserialises it (any object with the
fields of the ROS layout works: ROS 1 and ROS 2 spellings are both accepted where they differ) and
return core objects. They know nothing about bag files; :mod:`fusionlabel.io.rosbag` opens bags,
indexes topics and calls them.

=============================  ====================================================================
``sensor_msgs/PointCloud2``    :func:`pointcloud2_to_cloud` -> :class:`PointCloud` (all fields, any
                               offsets/datatypes/counts, row padding, big-endian, organised clouds);
                               :func:`pointcloud2_dtype` gives the numpy dtype of one point
``sensor_msgs/Image``          :func:`image_to_rgb` -> (H, W, 3) uint8 RGB (rgb8, bgr8, rgba8, bgra8,
                               mono8, mono16, 8UC1/3/4, 16UC1, 32FC1, bayer_*8, yuv422)
``sensor_msgs/CompressedImage`` :func:`compressed_image_to_rgb` -> (H, W, 3) uint8 RGB (JPEG / PNG /
                               compressedDepth PNG)
``sensor_msgs/CameraInfo``     :func:`camera_from_camera_info` -> :class:`Camera` (pinhole with
                               plumb_bob / rational_polynomial, or equidistant fisheye)
``tf2_msgs/TFMessage``         samples of ``T_parent_child`` gathered in a ``_TfTree``: rigid chains
                               (extrinsics) and ego-pose tracks ``T_world_ego``
``std_msgs/Header``            ``_stamp_ns`` (stamp -> int nanoseconds), ``_frame_name`` (frame_id
                               without a leading ``/``)
=============================  ====================================================================

Conventions
-----------
* Point coordinates stay in the message's ``header.frame_id`` frame, float32 metres; field names
  are lower-cased and converted to native byte order.
* Images: the message's ``frame_id`` is the camera's optical frame (x right, y down, z forward),
  as ``sensor_msgs/CameraInfo`` prescribes.
* TF: an edge ``child -> parent`` holds ``T_parent_child``; samples are packed as
  ``(qw, qx, qy, qz, x, y, z)``. An edge is rigid when it comes from ``/tf_static``, or from ``/tf``
  with all samples equal and a parent that is not one of ``WORLD_FRAMES``.
* Errors name the source: every decoder takes ``path`` (the bag, or a placeholder such as
  ``"<PointCloud2>"``) and ``where`` (e.g. ``"topic /x message at 123 ns"``) and raises a
  :class:`~fusionlabel.core.errors.DataError` subclass with both; it never returns an empty
  result for a broken message.

Examples
--------
A message only needs the fields of the ROS layout:

>>> from types import SimpleNamespace
>>> msg = SimpleNamespace(encoding="mono8", height=1, width=2, step=2, is_bigendian=0, data=bytes([0, 255]))
>>> image_to_rgb(msg).tolist()
[[[0, 0, 0], [255, 255, 255]]]

Messages from a bag, deserialised by :mod:`rosbags`:

>>> from rosbags.highlevel import AnyReader                       # doctest: +SKIP
>>> with AnyReader([Path("drive.bag")]) as reader:                # doctest: +SKIP
...     conn = next(c for c in reader.connections if c.msgtype == "sensor_msgs/msg/PointCloud2")
...     _, _, raw = next(reader.messages([conn]))
...     cloud = pointcloud2_to_cloud(reader.deserialize(raw, conn.msgtype), conn.topic)
>>> cloud.xyz.dtype, cloud.xyz.shape[1]                           # doctest: +SKIP
(dtype('float32'), 3)
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Camera
from fusionlabel.core.errors import CalibrationError, CorruptFileError, UnsupportedFormatError
from fusionlabel.core.frames import PointCloud, decode_image_bytes
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform

#: fixed world frames: a /tf edge from one of them carries the vehicle's motion, so it is never rigid
WORLD_FRAMES = ("map", "odom", "world", "earth")

# sensor_msgs/PointField datatypes -> numpy type codes (byte order added per message)
_POINT_FIELD_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}


# =============================================================================================
# message decoders (public: usable on messages from any source that follows the ROS layout)
# =============================================================================================
def _where(where: str, reason: str) -> str:
    return f"{where}: {reason}" if where else reason


def _u8(data: Any) -> NDArray[np.uint8]:
    return (
        np.frombuffer(data, dtype=np.uint8)
        if isinstance(data, (bytes, bytearray, memoryview))
        else np.asarray(data, dtype=np.uint8).reshape(-1)
    )


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
            raise ValueError(
                f"field {f.name!r} (offset {f.offset}, {count} x {base.itemsize} B) exceeds point_step {point_step}"
            )
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
            path,
            _where(where, f"PointCloud2 has no {'/'.join(missing)} field (fields: {', '.join(dtype.names or ())})"),
        )
    buf = _u8(msg.data)
    n = h * w
    need = (h - 1) * rs + w * ps if n else 0
    if n and (rs < w * ps or len(buf) < need):
        raise CorruptFileError(
            path,
            _where(where, f"PointCloud2 {h}x{w} points of {ps} B (row_step {rs}) need {need} B, data has {len(buf)}"),
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
    "rgb8": ("u1", 3, "rgb"),
    "bgr8": ("u1", 3, "bgr"),
    "rgba8": ("u1", 4, "rgb"),
    "bgra8": ("u1", 4, "bgr"),
    "mono8": ("u1", 1, "mono"),
    "8uc1": ("u1", 1, "mono"),
    "8uc3": ("u1", 3, "bgr"),
    "8uc4": ("u1", 4, "bgr"),
    "rgb16": ("u2", 3, "rgb"),
    "bgr16": ("u2", 3, "bgr"),
    "rgba16": ("u2", 4, "rgb"),
    "bgra16": ("u2", 4, "bgr"),
    "mono16": ("u2", 1, "mono"),
    "16uc1": ("u2", 1, "mono"),
    "16uc3": ("u2", 3, "bgr"),
    "32fc1": ("f4", 1, "float"),
    "bayer_rggb8": ("u1", 1, "bayer_rggb"),
    "bayer_bggr8": ("u1", 1, "bayer_bggr"),
    "bayer_gbrg8": ("u1", 1, "bayer_gbrg"),
    "bayer_grbg8": ("u1", 1, "bayer_grbg"),
    "yuv422": ("u1", 2, "uyvy"),
    "uyvy": ("u1", 2, "uyvy"),
    "yuv422_yuy2": ("u1", 2, "yuyv"),
    "yuyv": ("u1", 2, "yuyv"),
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
            path,
            _where(where, f"image {w}x{h} {msg.encoding} needs rows of {row} B (step {step}), data has {len(buf)} B"),
        )
    rows = np.lib.stride_tricks.as_strided(buf, shape=(h, row), strides=(step, 1), writeable=False)
    a = np.ascontiguousarray(rows).view(dt).astype(dt.newbyteorder("=")).reshape(h, w, ch)
    if kind.startswith("bayer_"):
        cvcode = {
            "rggb": cv2.COLOR_BayerBG2RGB,
            "bggr": cv2.COLOR_BayerRG2RGB,
            "gbrg": cv2.COLOR_BayerGR2RGB,
            "grbg": cv2.COLOR_BayerGB2RGB,
        }[kind[6:]]
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
        name=name,
        K=K.reshape(3, 3),
        width=int(msg.width),
        height=int(msg.height),
        T_ego_cam=T_ego_cam or Transform.identity(),
        D=D[:keep],
        model=model,
    )
    return cam, notes


# =============================================================================================
# TF (tf2_msgs/TFMessage on /tf and /tf_static): a tree of T_parent_child edges
# =============================================================================================
def _matrices(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """(K, 7) rows ``(qw, qx, qy, qz, x, y, z)`` -> (K, 4, 4) ``T_parent_child`` (quaternions normalised)."""
    from fusionlabel.core.transforms import quaternions_to_matrices

    M = np.tile(np.eye(4), (len(v), 1, 1))
    M[:, :3, :3] = quaternions_to_matrices(v[:, :4])
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
        from pyquaternion import Quaternion

        x = (t - t[0]).astype(np.float64)  # relative times keep nanosecond precision in float64
        xq = (np.clip(t_ns, t[0], t[-1]) - t[0]).astype(np.float64)
        M = np.tile(np.eye(4), (len(t_ns), 1, 1))
        # slerp between the samples around each query (pyquaternion takes the short arc)
        j = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, len(x) - 2)
        frac = np.clip((xq - x[j]) / np.maximum(x[j + 1] - x[j], 1e-300), 0.0, 1.0)
        qs = [Quaternion(*v[k, :4]).normalised for k in range(len(v))]
        M[:, :3, :3] = [Quaternion.slerp(qs[a], qs[a + 1], float(f)).rotation_matrix for a, f in zip(j.tolist(), frac)]
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
                self.conflicts.append(
                    f"TF frame '{child}' has two parents ('{e.parent}', '{parent}'); kept '{e.parent}'"
                )
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


# =============================================================================================
# std_msgs/Header
# =============================================================================================
def _stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _frame_name(frame_id: str) -> str:
    return str(frame_id).strip().lstrip("/")
