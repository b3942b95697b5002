"""Point-cloud files: KITTI / nuScenes ``.bin``, PCL ``.pcd``, ``.ply`` and ``.npy``.

Formats read by :func:`read_point_cloud` (dispatch on the file name, case-insensitive):

``*.pcd.bin``
    nuScenes LiDAR sweep: little-endian float32 records ``(x, y, z, intensity, ring)``, metres,
    intensity 0..255, ring 0..31 (returned as uint16).
``*.bin``
    KITTI velodyne scan: little-endian float32 records ``(x, y, z, reflectance)``, metres,
    reflectance 0..1 (returned as ``intensity``).
``*.pcd``
    PCL Point Cloud Data v0.5-0.7, encodings ``ascii``, ``binary`` and ``binary_compressed``: read
    by :func:`fusionlabel.io.pcd.read_pcd` (see :mod:`fusionlabel.io.pcd` for the field and colour
    conventions). Organised clouds keep ``organized_shape = (HEIGHT, WIDTH)`` and their NaN points.
``*.ply``
    ASCII or binary (little/big endian) PLY through ``plyfile``: the ``vertex`` element's scalar
    properties (Argoverse 1: ``x y z intensity laser_number``); ``red green blue`` -> ``rgb``.
``*.npy``
    An (N, 3+) numeric array (columns x, y, z, then ``intensity``, then ``field_4``, ``field_5``...)
    or a structured array with named fields; loaded with ``allow_pickle=False``.

The PCD reader and writer (:func:`read_pcd`, :func:`read_pcd_header`, :func:`write_pcd`,
:func:`read_radar_pcd`, :class:`PcdHeader`) live in :mod:`fusionlabel.io.pcd` and are re-exported
here. A PCD's ``VIEWPOINT`` is **not applied** (as in PCL and Open3D): the points come back as stored.

Every malformed file raises :class:`~fusionlabel.core.errors.CorruptFileError` naming the file and
the reason (a truncated ``.bin`` says how many bytes are left over); an unknown suffix raises
:class:`~fusionlabel.core.errors.UnsupportedFormatError`.

Example
-------
>>> cloud = read_point_cloud("000001.bin")                       # doctest: +SKIP
>>> cloud.xyz.shape, cloud.intensity.max() <= 1.0                # doctest: +SKIP
((120268, 3), True)
"""

from __future__ import annotations

import os
import re
import struct
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.atomic import atomic_write_bytes
from fusionlabel.core.calibration import Lidar, Radar, Rig
from fusionlabel.core.errors import CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import Frame, PointCloud
from fusionlabel.core.recording import Recording, Stream
from fusionlabel.io.pcd import (  # the PCD reader/writer; re-exported from here, their former home
    NUSCENES_RADAR_FIELDS,  # noqa: F401
    Columns,
    PcdEncoding,  # noqa: F401
    PcdHeader,  # noqa: F401
    _cloud_from_columns,
    read_pcd,
    read_pcd_header,
    read_radar_pcd,
    write_pcd,  # noqa: F401
)

#: suffixes :func:`read_point_cloud` accepts (``.pcd.bin`` is the nuScenes variant of ``.bin``)
SUFFIXES: tuple[str, ...] = (".pcd.bin", ".bin", ".pcd", ".ply", ".npy")
KITTI_BIN_COLUMNS: tuple[str, ...] = ("x", "y", "z", "intensity")
NUSCENES_BIN_COLUMNS: tuple[str, ...] = ("x", "y", "z", "intensity", "ring")


# ---------------------------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------------------------
def _suffix(path: Path) -> str | None:
    name = path.name.lower()
    return next((s for s in SUFFIXES if name.endswith(s)), None)


def read_point_cloud(path: str | Path, frame_id: str = "lidar", timestamp_ns: int | None = None) -> PointCloud:
    """Read any supported point-cloud file (see the module docstring for the formats).

    Parameters
    ----------
    path : the file; its name picks the format (``.pcd.bin`` before ``.bin``)
    frame_id : sensor name stored in the cloud (the points stay in the file's frame)
    timestamp_ns : acquisition time stored in the cloud, nanoseconds

    Returns
    -------
    PointCloud : ``xyz`` (N, 3) float32 metres plus ``fields`` (lower-case names)

    Raises
    ------
    UnsupportedFormatError : the suffix is none of ``SUFFIXES``
    CorruptFileError : the content is malformed (names the file and the reason)
    DataError : the file cannot be read at all (missing, permission)
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix == ".pcd.bin":
        return read_bin(path, NUSCENES_BIN_COLUMNS, frame_id, timestamp_ns)
    if suffix == ".bin":
        return read_bin(path, KITTI_BIN_COLUMNS, frame_id, timestamp_ns)
    if suffix == ".pcd":
        return read_pcd(path, frame_id, timestamp_ns)
    if suffix == ".ply":
        return read_ply(path, frame_id, timestamp_ns)
    if suffix == ".npy":
        return read_npy(path, frame_id, timestamp_ns)
    raise UnsupportedFormatError(
        path,
        f"unsupported point-cloud file type {path.suffix or '(no suffix)'!r}; expected one of {', '.join(SUFFIXES)}",
    )


# ---------------------------------------------------------------------------------------------
# .bin (KITTI, nuScenes)
# ---------------------------------------------------------------------------------------------
def read_bin(
    path: str | Path,
    columns: tuple[str, ...] = KITTI_BIN_COLUMNS,
    frame_id: str = "lidar",
    timestamp_ns: int | None = None,
) -> PointCloud:
    """Read a float32 record file: KITTI ``(x, y, z, intensity)`` or nuScenes ``(..., ring)``.

    One ``np.fromfile`` read; ``xyz`` is the only copy (``PointCloud`` stores it contiguous),
    ``intensity`` is a strided view of the read buffer (``ring`` a uint16 copy).
    """
    path = Path(path)
    record = 4 * len(columns)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size % record:
                raise CorruptFileError(
                    path,
                    f"file size {size} bytes is not a multiple of the {record}-byte record "
                    f"({len(columns)} float32: {' '.join(columns)}): {size % record} bytes left over (truncated?)",
                )
            a = np.fromfile(f, dtype="<f4").reshape(-1, len(columns))
    except OSError as exc:
        raise DataError(path, f"cannot read point cloud: {exc.strerror or exc}") from None
    fields: dict[str, NDArray[np.generic]] = {"intensity": a[:, 3]}
    if len(columns) > 4:
        fields["ring"] = a[:, 4].astype(np.uint16)
    # column by column: ~4x faster than one strided (N, 3) copy, and PointCloud keeps it as is
    xyz = np.empty((len(a), 3), dtype=np.float32)
    for j in range(3):
        xyz[:, j] = a[:, j]
    return PointCloud(xyz, fields, frame_id, timestamp_ns)


def write_bin(path: str | Path, cloud: PointCloud) -> None:
    """Write ``cloud`` as float32 records: nuScenes (N, 5) for ``*.pcd.bin``, else KITTI (N, 4).

    Missing ``intensity`` / ``ring`` are written as 0.
    """
    path = Path(path)
    nus = path.name.lower().endswith(".pcd.bin")
    n = len(cloud)
    a = np.zeros((n, 5 if nus else 4), dtype="<f4")
    a[:, :3] = cloud.xyz
    if "intensity" in cloud.fields:
        a[:, 3] = cloud.fields["intensity"]
    if nus and "ring" in cloud.fields:
        a[:, 4] = cloud.fields["ring"]
    atomic_write_bytes(path, a.tobytes())


# ---------------------------------------------------------------------------------------------
# PLY, NPY
# ---------------------------------------------------------------------------------------------
def read_ply(path: str | Path, frame_id: str = "lidar", timestamp_ns: int | None = None) -> PointCloud:
    """Read the ``vertex`` element of an ASCII or binary PLY file (through ``plyfile``)."""
    from plyfile import PlyData, PlyParseError

    path = Path(path)
    try:
        with open(path, "rb") as f:
            # memory-mapped read (row-by-row parsing is ~500x slower), copied out below so the
            # file is not kept mapped
            ply = PlyData.read(f, mmap="c")
            if "vertex" in ply:
                data = np.array(ply["vertex"].data)
    except OSError as exc:
        raise DataError(path, f"cannot read point cloud: {exc.strerror or exc}") from None
    except PlyParseError as exc:
        raise CorruptFileError(path, f"invalid PLY: {exc}") from None
    except (ValueError, EOFError, struct.error, OverflowError, MemoryError) as exc:
        # a lying element count (mmap of a negative or huge length) included
        raise CorruptFileError(path, f"invalid PLY: {type(exc).__name__}: {exc}") from None
    if "vertex" not in ply:
        raise CorruptFileError(
            path, f"PLY has no 'vertex' element (elements: {' '.join(e.name for e in ply.elements)})"
        )
    extra = _ply_unread_data(path, ply)
    if extra:
        raise CorruptFileError(path, f"PLY holds more data than its header declares: {extra}")
    cols: Columns = {}
    names = data.dtype.names or ()
    for name in names:
        a = data[name]
        if a.dtype.kind in "fiu":  # list properties are object arrays: skipped
            cols.setdefault(name.lower(), a)
    if all(k in cols for k in ("red", "green", "blue")):
        rgb = np.stack([cols.pop("red"), cols.pop("green"), cols.pop("blue")], axis=1)
        cols["rgb"] = rgb.astype(np.uint8) if rgb.dtype == np.uint8 else np.clip(rgb, 0, 255).astype(np.uint8)
    return _cloud_from_columns(path, cols, frame_id, timestamp_ns)


def _ply_unread_data(path: Path, ply: Any) -> str | None:
    """What follows the elements the header declares (the header's counts too small), or None.

    Binary: the bytes after the header must be exactly the declared elements (list properties
    counted from the parsed rows). ASCII: one non-blank line per declared element row.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(1 << 16)
            end = head.find(b"end_header")
            if end < 0:
                return None
            start = head.find(b"\n", end) + 1
            if ply.text:
                f.seek(start)
                rows = sum(1 for line in f if line.strip())
                declared = sum(e.count for e in ply.elements)
                return f"{rows} data lines, header declares {declared} rows" if rows > declared else None
    except OSError as exc:
        raise DataError(path, f"cannot read point cloud: {exc.strerror or exc}") from None
    order = "<" if ply.byte_order in ("<", "=") else ">"
    need = 0
    for e in ply.elements:
        scalars = [p for p in e.properties if not hasattr(p, "len_dtype")]
        need += e.count * sum(np.dtype(order + p.val_dtype).itemsize for p in scalars)
        for p in e.properties:
            if hasattr(p, "len_dtype"):  # a list property: its length prefix and items, row by row
                lens = np.fromiter((len(v) for v in e.data[p.name]), dtype=np.int64, count=e.count)
                need += e.count * np.dtype(p.len_dtype).itemsize + int(lens.sum()) * np.dtype(p.val_dtype).itemsize
    have = size - start
    if have > need:
        vsize = ply["vertex"].data.dtype.itemsize or 1
        return f"{have - need} bytes after the declared elements (about {(have - need) // vsize} more vertices)"
    return None


def write_ply(path: str | Path, cloud: PointCloud, binary: bool = True) -> None:
    """Write ``cloud`` as a PLY ``vertex`` element (binary little-endian unless ``binary=False``).

    x, y, z float32, each (N,) field with its dtype (PLY has no 64-bit integers: those raise
    ``ValueError``), ``rgb`` as ``red green blue`` uchar, an (N, k) field as ``name_0 .. name_{k-1}``.
    """
    from plyfile import PlyData, PlyElement

    cols: list[tuple[str, NDArray[np.generic]]] = [
        ("x", cloud.xyz[:, 0]),
        ("y", cloud.xyz[:, 1]),
        ("z", cloud.xyz[:, 2]),
    ]
    for name, a in cloud.fields.items():
        if name == "rgb" and a.ndim == 2 and a.shape[1] == 3:
            cols += [(c, a[:, j].astype(np.uint8)) for j, c in enumerate(("red", "green", "blue"))]
        elif a.ndim == 2:
            cols += [(f"{name}_{j}", a[:, j]) for j in range(a.shape[1])]
        else:
            cols.append((name, a.astype(np.uint8) if a.dtype.kind == "b" else a))
    for name, a in cols:
        if a.dtype.kind not in "fiu" or (a.dtype.kind in "iu" and a.dtype.itemsize > 4):
            raise ValueError(f"field {name!r} of dtype {a.dtype} cannot be stored in PLY")
    arr = np.empty(len(cloud), dtype=[(name, a.dtype.newbyteorder("<")) for name, a in cols])
    for name, a in cols:
        arr[name] = a
    ply = PlyData([PlyElement.describe(arr, "vertex")], text=not binary, byte_order="<")
    import io

    bio = io.BytesIO()
    ply.write(bio)
    atomic_write_bytes(Path(path), bio.getvalue())


def read_npy(path: str | Path, frame_id: str = "lidar", timestamp_ns: int | None = None) -> PointCloud:
    """Read an (N, 3+) numeric ``.npy`` array (x, y, z, intensity, field_4...) or a structured one."""
    path = Path(path)
    # the header first: its shape, checked both ways against the file's size, before np.load
    # allocates what a lying header declares (np.load also ignores data beyond it)
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, _fortran, dtype = read_header(f)
            have = os.fstat(f.fileno()).st_size - f.tell()
    except OSError as exc:
        raise DataError(path, f"cannot read point cloud: {exc.strerror or exc}") from None
    except (ValueError, EOFError, SyntaxError, TypeError, tokenize.TokenError, OverflowError, MemoryError) as exc:
        raise CorruptFileError(path, f"not a .npy array: {type(exc).__name__}: {exc}") from None
    if dtype.hasobject:
        raise CorruptFileError(path, "a .npy array of Python objects (pickled) is refused")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need != have:
        more = "more" if have > need else "fewer"
        raise CorruptFileError(
            path, f".npy holds {have} data bytes, {more} than its header's shape {shape} of {dtype} declares ({need})"
        )
    try:
        a = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise DataError(path, f"cannot read point cloud: {exc.strerror or exc}") from None
    except (ValueError, EOFError) as exc:
        raise CorruptFileError(path, f"not a loadable .npy array (pickled objects are refused): {exc}") from None
    if a.dtype.names:
        return _cloud_from_columns(path, {k.lower(): a[k] for k in a.dtype.names}, frame_id, timestamp_ns)
    if a.ndim != 2 or a.shape[1] < 3 or a.dtype.kind not in "fiu":
        raise CorruptFileError(path, f"expected an (N, 3+) numeric array, got shape {a.shape} dtype {a.dtype}")
    cols: Columns = {"x": a[:, 0], "y": a[:, 1], "z": a[:, 2]}
    for j in range(3, a.shape[1]):
        cols["intensity" if j == 3 else f"field_{j}"] = a[:, j]
    return _cloud_from_columns(path, cols, frame_id, timestamp_ns)


# ---------------------------------------------------------------------------------------------
# single-file recording
# ---------------------------------------------------------------------------------------------
def sniff(path: Path) -> bool:
    """True for an existing file whose name ends with one of ``SUFFIXES``."""
    path = Path(path)
    return _suffix(path) is not None and path.is_file()


def sensor_and_timestamp_from_name(path: str | Path) -> tuple[str | None, int]:
    """Sensor name and timestamp encoded in a point-cloud file name.

    * ``<log>__<SENSOR>__<stamp>`` (nuScenes) -> ``SENSOR``; ``<sensor>_<stamp>`` where
      ``<sensor>`` is an identifier (nebula: ``velodyne_vlp16_1673400472138016708``) -> ``sensor``;
      otherwise None.
    * the trailing integer is a timestamp when it has >= 17 digits (nanoseconds since the epoch,
      e.g. nebula, Argoverse) or exactly 16 (microseconds, nuScenes: scaled by 1000); shorter
      numbers are frame indices (KITTI ``000001``) and give 0.
    """
    name = Path(path).name
    suffix = _suffix(Path(path))
    stem = name[: len(name) - len(suffix)] if suffix else Path(path).stem
    m = re.search(r"(?:^|[_\-])(\d+)$", stem)
    t = 0
    if m:
        digits = m.group(1)
        t = int(digits) if len(digits) >= 17 else int(digits) * 1000 if len(digits) == 16 else 0
    parts = stem.split("__")
    if len(parts) >= 3 and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", parts[-2]):
        return parts[-2], t
    m2 = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*?)_\d+", stem)
    return (m2.group(1) if m2 else None), t


@dataclass
class PointCloudFileRecording(Recording):
    """A one-frame recording made of a single point-cloud file (identity calibration, no camera)."""

    _file: Path = field(default_factory=Path, repr=False)
    _kind: str = "lidar"

    def _load_frame(self, index: int) -> Frame:
        name = self.reference
        t = int(self.timestamps_ns[index])
        if self._kind == "radar":
            det = read_radar_pcd(self._file, frame_id=name, timestamp_ns=t)
            return Frame(index, t, radar={name: det}, sensor_timestamps={name: t})
        cloud = read_point_cloud(self._file, frame_id=name, timestamp_ns=t)
        return Frame(index, t, lidar={name: cloud}, sensor_timestamps={name: t})


def open_point_cloud_file(path: str | Path) -> PointCloudFileRecording:
    """Open one point-cloud file as a one-frame :class:`Recording`.

    The stream is named after the sensor in the file name (:func:`sensor_and_timestamp_from_name`,
    default ``"lidar"``, or ``"radar"`` for a nuScenes radar PCD, which opens as a radar stream),
    timestamped from the file name (else 0), with an identity-calibrated :class:`Rig`. A bare cloud
    has no camera: that is not reported as a problem. Only a PCD header is read here; the points
    are read when the frame is loaded.
    """
    path = Path(path)
    if _suffix(path) is None:
        raise UnsupportedFormatError(path, f"not a point-cloud file (expected one of {', '.join(SUFFIXES)})")
    if not path.is_file():
        raise DataError(path, "no such file")
    sensor, t = sensor_and_timestamp_from_name(path)
    kind = "lidar"
    if _suffix(path) == ".pcd":
        h = read_pcd_header(path)
        if {"vx_comp", "vy_comp"} <= {f.lower() for f in h.fields}:
            kind = "radar"
    name = sensor or kind
    rig = Rig(radars={name: Radar(name)}) if kind == "radar" else Rig(lidars={name: Lidar(name)})
    return PointCloudFileRecording(
        path=path,
        format="pointcloud",
        rig=rig,
        streams={name: Stream(name, kind, np.array([t], dtype=np.int64))},  # type: ignore[arg-type]
        reference=name,
        _file=path,
        _kind=kind,
    )
