"""Sensor samples and frames.

Arrays are struct-of-arrays; every array states shape, dtype, frame and unit.
A :class:`Frame` is what a recording yields per reference timestamp: point clouds and radar
detections are loaded when the frame is built, camera images are decoded only when asked for
(:meth:`Frame.image`), so stepping through a recording without looking at images stays cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.transforms import Transform


def _readonly(a: NDArray[np.generic]) -> NDArray[np.generic]:
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class PointCloud:
    """A LiDAR sweep (or any point set) in its sensor frame.

    Attributes
    ----------
    xyz : (N, 3) float32, metres, in the frame named ``frame_id``
    fields : per-point attributes, each (N,): ``intensity`` (float32, sensor units, KITTI 0..1,
        others 0..255), ``ring`` (uint16), ``time`` (float64 s relative to ``timestamp_ns``),
        ``rgb`` ((N, 3) uint8) ... Names follow the PCD/PointCloud2 field names, lower-cased.
    frame_id : name of the sensor (a key of ``Rig.lidars``) or ``"ego"``
    timestamp_ns : acquisition time, nanoseconds since the Unix epoch (or recording start)
    organized_shape : (rows, cols) for organised clouds (depth-camera style), else None
    """

    xyz: NDArray[np.float32]
    fields: Mapping[str, NDArray[np.generic]] = field(default_factory=dict)
    frame_id: str = "lidar"
    timestamp_ns: int | None = None
    organized_shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        xyz = np.ascontiguousarray(np.asarray(self.xyz, dtype=np.float32).reshape(-1, 3))
        n = len(xyz)
        f: dict[str, NDArray[np.generic]] = {}
        for k, v in dict(self.fields).items():
            arr = np.asarray(v)
            if len(arr) != n:
                raise ValueError(f"point field {k!r} has {len(arr)} values for {n} points")
            f[k] = _readonly(arr)
        object.__setattr__(self, "xyz", _readonly(xyz))
        object.__setattr__(self, "fields", f)

    def __len__(self) -> int:
        return len(self.xyz)

    @property
    def intensity(self) -> NDArray[np.float32] | None:
        v = self.fields.get("intensity")
        return None if v is None else v.astype(np.float32, copy=False)

    def select(self, mask: NDArray[np.bool_] | NDArray[np.int64]) -> PointCloud:
        """A new cloud with the points picked by a boolean mask or index array (unorganised)."""
        return PointCloud(
            self.xyz[mask], {k: v[mask] for k, v in self.fields.items()}, self.frame_id, self.timestamp_ns, None
        )

    def finite(self) -> PointCloud:
        """Drop points with NaN/inf coordinates (organised clouds mark missing returns with NaN)."""
        ok = np.all(np.isfinite(self.xyz), axis=1)
        return self if ok.all() else self.select(ok)

    def transformed(self, T_dst_src: Transform, frame_id: str) -> PointCloud:
        return PointCloud(
            T_dst_src.apply(self.xyz).astype(np.float32), self.fields, frame_id, self.timestamp_ns, self.organized_shape
        )


@dataclass(frozen=True, init=False)
class RadarDetections:
    """Radar detections (point targets) in the radar's frame.

    Attributes
    ----------
    xyz : (N, 3) float64, metres, radar frame (x forward, y left, z up)
    radial_velocity : (N,) float64, m/s, range rate (Doppler): positive = moving away
    rcs : (N,) float64, dBsm, radar cross-section (NaN when unknown)
    frame_id, timestamp_ns : as for :class:`PointCloud`
    Derived: ``range`` (m), ``azimuth`` (rad, from +x towards +y), ``elevation`` (rad, up).

    The constructor takes any array-like and stores read-only float64 arrays; an omitted
    ``rcs`` becomes all NaN, so ``rcs`` is always an (N,) array afterwards.
    """

    xyz: NDArray[np.float64]
    radial_velocity: NDArray[np.float64]
    rcs: NDArray[np.float64]
    frame_id: str
    timestamp_ns: int | None

    def __init__(
        self,
        xyz: ArrayLike,
        radial_velocity: ArrayLike,
        rcs: ArrayLike | None = None,
        frame_id: str = "radar",
        timestamp_ns: int | None = None,
    ) -> None:
        xyz_ = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
        vr = np.asarray(radial_velocity, dtype=np.float64).reshape(-1)
        rcs_ = np.full(len(xyz_), np.nan) if rcs is None else np.asarray(rcs, dtype=np.float64).reshape(-1)
        if not (len(xyz_) == len(vr) == len(rcs_)):
            raise ValueError("radar xyz, radial_velocity and rcs lengths differ")
        object.__setattr__(self, "xyz", _readonly(xyz_))
        object.__setattr__(self, "radial_velocity", _readonly(vr))
        object.__setattr__(self, "rcs", _readonly(rcs_))
        object.__setattr__(self, "frame_id", frame_id)
        object.__setattr__(self, "timestamp_ns", timestamp_ns)

    @classmethod
    def from_polar(
        cls,
        range_m: ArrayLike,
        azimuth: ArrayLike,
        elevation: ArrayLike | None,
        radial_velocity: ArrayLike,
        rcs: ArrayLike | None = None,
        frame_id: str = "radar",
        timestamp_ns: int | None = None,
    ) -> RadarDetections:
        """From spherical measurements: ``x = r cos(el) cos(az)``, ``y = r cos(el) sin(az)``, ``z = r sin(el)``."""
        r = np.asarray(range_m, dtype=np.float64)
        az = np.asarray(azimuth, dtype=np.float64)
        el = np.zeros_like(r) if elevation is None else np.asarray(elevation, dtype=np.float64)
        xyz = np.stack([r * np.cos(el) * np.cos(az), r * np.cos(el) * np.sin(az), r * np.sin(el)], axis=1)
        return cls(xyz, radial_velocity, rcs, frame_id, timestamp_ns)

    def __len__(self) -> int:
        return len(self.xyz)

    @property
    def range(self) -> NDArray[np.float64]:
        return np.linalg.norm(self.xyz, axis=1)

    @property
    def azimuth(self) -> NDArray[np.float64]:
        return np.arctan2(self.xyz[:, 1], self.xyz[:, 0])

    @property
    def elevation(self) -> NDArray[np.float64]:
        return np.arctan2(self.xyz[:, 2], np.hypot(self.xyz[:, 0], self.xyz[:, 1]))


@dataclass(frozen=True)
class ImageRef:
    """A camera image that is decoded on demand.

    ``load()`` returns an (H, W, 3) uint8 RGB array or raises
    :class:`~fusionlabel.core.errors.CorruptFileError` naming ``source``.
    """

    source: str  # a file path, or "<bag>:topic@t" for images inside containers
    decoder: Callable[[], NDArray[np.uint8]]
    timestamp_ns: int | None = None

    def load(self) -> NDArray[np.uint8]:
        return self.decoder()

    # partials of module-level functions, not lambdas: such a reference pickles (a frame can be
    # sent to a detector's worker process, :mod:`fusionlabel.detect.worker`)
    @classmethod
    def from_file(cls, path: str | Path, timestamp_ns: int | None = None) -> ImageRef:
        p = Path(path)
        return cls(str(p), functools.partial(decode_image_file, p), timestamp_ns)

    @classmethod
    def from_bytes(cls, data: bytes, source: str, timestamp_ns: int | None = None) -> ImageRef:
        return cls(source, functools.partial(decode_image_bytes, data, source), timestamp_ns)


def decode_image_bytes(data: bytes, source: str | Path) -> NDArray[np.uint8]:
    """Decode PNG/JPEG bytes to (H, W, 3) uint8 RGB with OpenCV; typed error when it does not decode."""
    import cv2  # heavy import kept local

    buf = np.frombuffer(data, dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if len(buf) else None
    if img is None:
        raise CorruptFileError(source, "image does not decode (truncated or not a PNG/JPEG)")
    # IMREAD_COLOR always decodes to 8-bit BGR: flip to RGB into a new C-contiguous uint8 array
    return np.ascontiguousarray(img[:, :, ::-1], dtype=np.uint8)


def decode_image_file(path: Path) -> NDArray[np.uint8]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CorruptFileError(path, f"cannot read image: {exc.strerror or exc}") from None
    return decode_image_bytes(data, path)


@dataclass(frozen=True)
class Frame:
    """Everything recorded around one reference timestamp.

    Attributes
    ----------
    index : position in the recording, 0-based
    timestamp_ns : reference sensor time, nanoseconds
    lidar : point clouds by sensor name, each in its own sensor frame
    radar : radar detections by sensor name, each in its own sensor frame
    images : camera images by camera name (decoded on demand)
    ego_pose : ``T_world_ego`` at ``timestamp_ns`` when known
    sensor_timestamps : the timestamp of each sensor's sample matched to this frame
    """

    index: int
    timestamp_ns: int
    lidar: Mapping[str, PointCloud] = field(default_factory=dict)
    radar: Mapping[str, RadarDetections] = field(default_factory=dict)
    images: Mapping[str, ImageRef] = field(default_factory=dict)
    ego_pose: Transform | None = None
    sensor_timestamps: Mapping[str, int] = field(default_factory=dict)

    def image(self, camera: str) -> NDArray[np.uint8]:
        """Decode and return camera ``camera``'s image, (H, W, 3) uint8 RGB."""
        if camera not in self.images:
            raise KeyError(f"frame {self.index} has no image from {camera!r}")
        return self.images[camera].load()
