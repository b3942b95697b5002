"""PCL Point Cloud Data (``.pcd``) files: header parsing, reading and writing, nuScenes radar PCDs.

Format
------
PCD v0.5-0.7 (the PCL file format): an ASCII header of ``KEY values`` lines (``VERSION``,
``FIELDS``, ``SIZE``, ``TYPE``, ``COUNT``, ``WIDTH``, ``HEIGHT``, ``VIEWPOINT``, ``POINTS``, ``DATA``;
``#`` comments), then the points in one of three encodings:

``ascii``
    one point per line, values separated by whitespace.
``binary``
    packed little-endian records, one per point (point-major: ``x y z ... | x y z ...``).
``binary_compressed``
    ``<uint32 compressed size><uint32 uncompressed size>`` then an LZF block (through the
    ``python-lzf`` binding of liblzf) that holds the data field-major: all values of the first
    field, then all of the second...

What :func:`read_pcd` returns
-----------------------------
Any FIELDS with TYPE F/U/I, SIZE 1/2/4/8 and COUNT >= 1; fields named ``_`` (PCL padding) are
skipped. Packed colour (``rgb`` or ``rgba``, U4 or F4 with the bits ``0xAARRGGBB``) becomes
``fields["rgb"]`` (N, 3) uint8 and, for ``rgba``, ``fields["alpha"]`` (N,) uint8. ``intensity``
becomes float32; every other field keeps its file dtype, shape (N,) or (N, COUNT), under its
lower-cased name (``normal_x``, ``curvature``...). ``xyz`` is (N, 3) float32 in the file's frame
(metres for LiDAR data). Organised clouds (HEIGHT > 1, PCL's definition) keep
``organized_shape = (HEIGHT, WIDTH)`` and their NaN points (missing returns) in row-major order;
:meth:`PointCloud.finite` drops them. :func:`write_pcd` writes what :func:`read_pcd` reads, in any
of the three encodings.

VIEWPOINT
    A PCD header's ``VIEWPOINT tx ty tz qw qx qy qz`` is the acquisition pose of the sensor in the
    cloud's coordinates. It is **not applied**: like PCL and Open3D, :func:`read_pcd` returns the
    points as stored. :func:`read_pcd_header` returns it (``PcdHeader.viewpoint`` and the
    transform ``PcdHeader.T_cloud_viewpoint``) for callers that want it.

nuScenes radar PCDs (binary, the 18 fields of ``NUSCENES_RADAR_FIELDS``) are read as
:class:`RadarDetections` by :func:`read_radar_pcd`.

Every malformed file raises :class:`~fusionlabel.core.errors.CorruptFileError` naming the file and
the reason (a truncated file says how many bytes it has and how many the header declares). The
header's point count is checked both ways: data holding more points than WIDTH x HEIGHT declares
is refused too, never cut to the declared count (fewer bytes than one point after the data are
padding: nuScenes' radar files end with one, PCL pads after a compressed block).
:func:`fusionlabel.io.pointcloud.read_point_cloud` dispatches ``*.pcd`` files here.

Example
-------
>>> import tempfile
>>> from fusionlabel.core.frames import PointCloud
>>> cloud = PointCloud(np.zeros((2, 3), np.float32), {"intensity": np.array([0.5, 1.0], np.float32)}, "lidar")
>>> path = Path(tempfile.mkdtemp()) / "cloud.pcd"
>>> write_pcd(path, cloud, encoding="binary_compressed")
>>> read_pcd_header(path).fields, read_pcd(path).fields["intensity"].tolist()
(('x', 'y', 'z', 'intensity'), [0.5, 1.0])
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.atomic import atomic_write_bytes
from fusionlabel.core.errors import CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import PointCloud, RadarDetections
from fusionlabel.core.transforms import Transform

#: field names of a nuScenes radar PCD (Continental ARS408), in file order
NUSCENES_RADAR_FIELDS: tuple[str, ...] = (
    "x", "y", "z", "dyn_prop", "id", "rcs", "vx", "vy", "vx_comp", "vy_comp", "is_quality_valid",
    "ambig_state", "x_rms", "y_rms", "invalid_state", "pdh0", "vx_rms", "vy_rms",
)  # fmt: skip

PcdEncoding = Literal["ascii", "binary", "binary_compressed"]
_ENCODINGS: tuple[str, ...] = ("ascii", "binary", "binary_compressed")
_PCD_KEYS = ("VERSION", "FIELDS", "COLUMNS", "SIZE", "TYPE", "COUNT", "WIDTH", "HEIGHT", "VIEWPOINT", "POINTS", "DATA")
_VALID_SIZES = {"F": (2, 4, 8), "U": (1, 2, 4, 8), "I": (1, 2, 4, 8)}
_NUMPY_KIND = {"F": "f", "U": "u", "I": "i"}
_PCD_KIND = {"f": "F", "u": "U", "i": "I", "b": "U"}

Columns = dict[str, NDArray[np.generic]]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read point cloud: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------------------------
# columns <-> PointCloud (_cloud_from_columns is shared with the PLY and NPY readers)
# ---------------------------------------------------------------------------------------------
def _cloud_from_columns(
    path: Path,
    cols: Mapping[str, NDArray[np.generic]],
    frame_id: str,
    timestamp_ns: int | None,
    organized_shape: tuple[int, int] | None = None,
) -> PointCloud:
    """Build a cloud from per-field arrays (lower-case names, shape (N,) or (N, k))."""
    missing = [k for k in ("x", "y", "z") if k not in cols or cols[k].ndim != 1]
    if missing:
        raise CorruptFileError(path, f"no scalar {'/'.join(missing)} field (fields: {' '.join(cols) or 'none'})")
    n = len(cols["x"])
    xyz = np.empty((n, 3), dtype=np.float32)
    for j, k in enumerate("xyz"):
        xyz[:, j] = cols[k]
    fields: dict[str, NDArray[np.generic]] = {}
    for name, a in cols.items():
        if name in ("x", "y", "z"):
            continue
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        if name in ("rgb", "rgba") and a.ndim == 1 and a.dtype.itemsize == 4 and "rgb" not in fields:
            # packed 0xAARRGGBB: an F4 field holds the same bits as a U4 one
            packed = a.view(np.uint32) if a.dtype.kind == "f" else a.astype(np.uint32, copy=False)
            rgb = np.empty((n, 3), dtype=np.uint8)
            rgb[:, 0] = (packed >> 16) & 0xFF
            rgb[:, 1] = (packed >> 8) & 0xFF
            rgb[:, 2] = packed & 0xFF
            fields["rgb"] = rgb
            if name == "rgba":
                fields["alpha"] = ((packed >> 24) & 0xFF).astype(np.uint8)
        elif name == "intensity" and a.ndim == 1:
            fields["intensity"] = a.astype(np.float32, copy=False)
        else:
            fields[name] = a
    return PointCloud(xyz, fields, frame_id, timestamp_ns, organized_shape)


def _columns_of_cloud(cloud: PointCloud, pack_rgb: bool) -> Columns:
    """Per-field arrays to write: x, y, z float32, then the cloud's fields.

    With ``pack_rgb`` an (N, 3) uint8 ``rgb`` (+ ``alpha``) becomes one packed uint32 ``rgb``
    (``rgba`` with alpha) field, as PCL stores colour.
    """
    cols: Columns = {"x": cloud.xyz[:, 0], "y": cloud.xyz[:, 1], "z": cloud.xyz[:, 2]}
    f = dict(cloud.fields)
    if pack_rgb and "rgb" in f and f["rgb"].shape[1:] == (3,) and f["rgb"].dtype == np.uint8:
        rgb = f.pop("rgb").astype(np.uint32)
        packed = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
        if "alpha" in f:
            cols["rgba"] = packed | (f.pop("alpha").astype(np.uint32) << 24)
        else:
            cols["rgb"] = packed
    for name, a in f.items():
        if re.search(r"\s", name) or not name:
            raise ValueError(f"field name {name!r} cannot be written (empty or contains whitespace)")
        if a.dtype.kind not in "fuib" or a.ndim not in (1, 2):
            raise ValueError(
                f"field {name!r} has dtype {a.dtype} shape {a.shape}: only numeric (N,) or (N, k) can be written"
            )
        cols[name] = a.astype(np.uint8) if a.dtype.kind == "b" else a
    return cols


# ---------------------------------------------------------------------------------------------
# PCD
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PcdHeader:
    """A parsed PCD header.

    Attributes
    ----------
    fields, sizes, types, counts : per-field name (as written), byte size, type letter (F/U/I), count
    width, height : cloud layout; ``height > 1`` means organised (rows x cols = height x width)
    points : number of points (``width * height``)
    data : ``"ascii"``, ``"binary"`` or ``"binary_compressed"``
    viewpoint : ``(tx, ty, tz, qw, qx, qy, qz)``: sensor acquisition pose in the cloud's frame
    version : the VERSION line (``"0.7"``)
    data_offset : byte offset of the point data (just after the DATA line)
    """

    fields: tuple[str, ...]
    sizes: tuple[int, ...]
    types: tuple[str, ...]
    counts: tuple[int, ...]
    width: int
    height: int
    points: int
    data: str
    viewpoint: tuple[float, ...] = (0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
    version: str = "0.7"
    data_offset: int = 0

    @property
    def point_size(self) -> int:
        """Bytes per point: ``sum(size * count)``."""
        return sum(s * c for s, c in zip(self.sizes, self.counts))

    @property
    def organized_shape(self) -> tuple[int, int] | None:
        """``(height, width)`` for organised clouds (``height > 1``), else None."""
        return (self.height, self.width) if self.height > 1 else None

    @property
    def T_cloud_viewpoint(self) -> Transform:
        """The VIEWPOINT as a transform: sensor (viewpoint) frame -> cloud frame."""
        tx, ty, tz, qw, qx, qy, qz = self.viewpoint
        return Transform.from_quaternion((qw, qx, qy, qz), (tx, ty, tz))

    def field_dtypes(self) -> list[np.dtype[np.generic]]:
        """Little-endian numpy dtype of one value of each field."""
        return [np.dtype(f"<{_NUMPY_KIND[t]}{s}") for t, s in zip(self.types, self.sizes)]

    def record_dtype(self) -> np.dtype[np.void]:
        """Packed structured dtype of one point (fields named ``f0, f1, ...``: names may repeat)."""
        return np.dtype(
            [
                (f"f{i}", dt, (c,)) if c > 1 else (f"f{i}", dt)
                for i, (dt, c) in enumerate(zip(self.field_dtypes(), self.counts))
            ]
        )


class _NeedMore(Exception):
    """The buffer ended before the DATA line (internal to header reading)."""


def _parse_pcd_header(path: Path, buf: bytes, complete: bool) -> PcdHeader:
    """Parse the header at the start of ``buf``; ``complete`` says ``buf`` is the whole file."""
    raw: dict[str, list[str]] = {}
    pos = 0
    lineno = 0
    data_line: list[str] | None = None
    while data_line is None:
        if pos >= len(buf):
            if not complete:
                raise _NeedMore
            break
        nl = buf.find(b"\n", pos)
        if nl < 0:
            if not complete:
                raise _NeedMore
            nl = len(buf)  # last line without a newline
        line = buf[pos:nl]
        pos = min(nl + 1, len(buf))
        lineno += 1
        try:
            text = line.decode("ascii").strip()
        except UnicodeDecodeError:
            raise CorruptFileError(
                path, f"PCD header line {lineno} is not ASCII text: the DATA line is missing before the point data"
            ) from None
        if not text or text.startswith("#"):
            continue
        key, *values = text.split()
        key = key.upper()
        if key not in _PCD_KEYS:
            raise CorruptFileError(
                path,
                f"PCD header line {lineno}: expected a header keyword ({' '.join(_PCD_KEYS)}), got {text[:40]!r}"
                + ("; the DATA line is missing" if re.match(r"^[-+.\d]", key) or key in ("NAN", "-NAN") else ""),
            )
        if key == "DATA":
            data_line = values
        raw["FIELDS" if key == "COLUMNS" else key] = values
    if data_line is None:
        raise CorruptFileError(path, "PCD header has no DATA line")
    for key in ("FIELDS", "SIZE", "TYPE", "WIDTH", "HEIGHT"):
        if key not in raw:
            raise CorruptFileError(path, f"PCD header has no {key} line")
    names = raw["FIELDS"]
    if not names:
        raise CorruptFileError(path, "PCD header FIELDS line lists no fields")
    counts_raw = raw.get("COUNT", ["1"] * len(names))
    for key, vals in (("SIZE", raw["SIZE"]), ("TYPE", raw["TYPE"]), ("COUNT", counts_raw)):
        if len(vals) != len(names):
            raise CorruptFileError(
                path, f"PCD header FIELDS lists {len(names)} fields but {key} has {len(vals)} values"
            )

    def ints(key: str, vals: list[str], minimum: int) -> list[int]:
        try:
            out = [int(v) for v in vals]
        except ValueError:
            raise CorruptFileError(path, f"PCD header {key} must hold integers, got {' '.join(vals)!r}") from None
        if any(v < minimum for v in out):
            raise CorruptFileError(path, f"PCD header {key} values must be >= {minimum}, got {' '.join(vals)!r}")
        return out

    sizes = ints("SIZE", raw["SIZE"], 1)
    counts = ints("COUNT", counts_raw, 1)
    types = [t.upper() for t in raw["TYPE"]]
    for name, t, s in zip(names, types, sizes):
        if s not in _VALID_SIZES.get(t, ()):
            raise CorruptFileError(path, f"PCD field {name!r}: TYPE {t} with SIZE {s} is not a valid PCD type")
    width, height = (ints(k, raw[k], 0)[0] if len(raw[k]) == 1 else -1 for k in ("WIDTH", "HEIGHT"))
    if width < 0 or height < 0:
        raise CorruptFileError(path, "PCD header WIDTH and HEIGHT must each be one integer")
    points = width * height
    if "POINTS" in raw:
        p = ints("POINTS", raw["POINTS"], 0)
        if len(p) != 1 or p[0] != width * height:
            raise CorruptFileError(
                path, f"PCD header POINTS {' '.join(raw['POINTS'])} does not equal WIDTH x HEIGHT = {width} x {height}"
            )
    viewpoint: tuple[float, ...] = (0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
    if "VIEWPOINT" in raw:
        try:
            viewpoint = tuple(float(v) for v in raw["VIEWPOINT"])
        except ValueError:
            viewpoint = ()
        if len(viewpoint) != 7:
            raise CorruptFileError(
                path, f"PCD header VIEWPOINT needs 7 numbers (tx ty tz qw qx qy qz), got {raw['VIEWPOINT']}"
            )
    if len(data_line) != 1 or data_line[0].lower() not in _ENCODINGS:
        raise CorruptFileError(path, f"PCD DATA must be one of {', '.join(_ENCODINGS)}, got {' '.join(data_line)!r}")
    version = raw.get("VERSION", ["0.7"])
    return PcdHeader(
        tuple(names), tuple(sizes), tuple(types), tuple(counts), width, height, points, data_line[0].lower(),
        viewpoint, version[0] if version else "", pos,
    )  # fmt: skip


def read_pcd_header(path: str | Path) -> PcdHeader:
    """Read and validate only the header of a PCD file (reads a few KiB, not the points)."""
    path = Path(path)
    chunk = 8192
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            while True:
                f.seek(0)
                buf = f.read(chunk)
                try:
                    return _parse_pcd_header(path, buf, complete=len(buf) >= size)
                except _NeedMore:
                    chunk *= 8
    except OSError as exc:
        raise DataError(path, f"cannot read point cloud: {exc.strerror or exc}") from None


def _lzf_decompress(path: Path, data: bytes | memoryview, size: int) -> bytes:
    try:
        import lzf  # python-lzf: C binding of liblzf
    except ImportError:
        raise UnsupportedFormatError(
            path, "binary_compressed PCD needs the python-lzf package (pip install python-lzf)"
        ) from None
    try:
        out = lzf.decompress(bytes(data), size)
    except ValueError as exc:
        raise CorruptFileError(path, f"binary_compressed PCD: LZF data does not decompress ({exc})") from None
    if out is None or len(out) != size:
        got = "more" if out is None else f"{len(out)}"
        raise CorruptFileError(
            path,
            f"binary_compressed PCD: LZF data decompresses to {got} bytes, header says {size} (corrupt or truncated)",
        )
    return out  # type: ignore[no-any-return]


def _lzf_compress(data: bytes) -> bytes:
    import lzf

    if not data:
        return b""
    # liblzf may expand incompressible input by ~1/32; leave headroom so it never returns None
    out = lzf.compress(data, len(data) + len(data) // 16 + 64)
    assert out is not None
    return out  # type: ignore[no-any-return]


def _pcd_columns(path: Path, h: PcdHeader, buf: bytes) -> Columns:
    """Decode the point data after the header into per-field arrays (names lower-cased)."""
    n = h.points
    need = n * h.point_size
    have = len(buf) - h.data_offset
    dtypes = h.field_dtypes()
    out: Columns = {}

    def put(name: str, a: NDArray[np.generic]) -> None:
        if name != "_":  # PCL padding
            out.setdefault(name.lower(), a)

    if h.data == "binary":
        if have < need:
            raise CorruptFileError(
                path,
                f"binary PCD data is {have} bytes, header declares {n} points x {h.point_size} bytes = {need} (truncated?)",
            )
        if have - need >= h.point_size:  # less than a point after them is padding (nuScenes radar ends with one byte)
            raise CorruptFileError(
                path,
                f"binary PCD data is {have} bytes, header declares {n} points x {h.point_size} bytes = {need}: "
                f"{(have - need) // h.point_size} more point(s) beyond what the header declares "
                "(WIDTH/HEIGHT/POINTS too small?)",
            )
        rec = np.frombuffer(buf, dtype=h.record_dtype(), count=n, offset=h.data_offset)
        for i, name in enumerate(h.fields):
            put(name, rec[f"f{i}"])
    elif h.data == "binary_compressed":
        if have < 8:
            raise CorruptFileError(
                path, f"binary_compressed PCD data is {have} bytes: the 8-byte size header is missing"
            )
        csize, usize = struct.unpack_from("<II", buf, h.data_offset)
        # the point count, both ways: the block must decompress to exactly the declared points
        # (PCL pads the file after the block, so bytes after it are not counted)
        if usize != need:
            raise CorruptFileError(
                path, f"binary_compressed PCD: uncompressed size {usize} != {n} points x {h.point_size} bytes = {need}"
            )
        if csize > have - 8:
            raise CorruptFileError(
                path,
                f"binary_compressed PCD: compressed size says {csize} bytes but only {have - 8} follow (truncated or corrupt size)",
            )
        if need and csize == 0:
            raise CorruptFileError(path, "binary_compressed PCD: compressed size is 0 for a non-empty cloud")
        start = h.data_offset + 8
        soa = _lzf_decompress(path, memoryview(buf)[start : start + csize], usize) if need else b""
        off = 0  # field-major layout: all values of field 0, then of field 1...
        for name, dt, c in zip(h.fields, dtypes, h.counts):
            a = np.frombuffer(soa, dtype=dt, count=n * c, offset=off)
            put(name, a.reshape(n, c) if c > 1 else a)
            off += n * c * dt.itemsize
    else:  # ascii
        try:
            tokens = bytes(memoryview(buf)[h.data_offset :]).decode("ascii").split()
        except UnicodeDecodeError:
            raise CorruptFileError(path, "ascii PCD data contains non-ASCII bytes") from None
        width = sum(h.counts)
        if len(tokens) != n * width:
            raise CorruptFileError(
                path,
                f"ascii PCD data holds {len(tokens)} values, header declares {n} points x {width} values = {n * width}",
            )
        table = np.array(tokens, dtype=str).reshape(n, width)
        j = 0
        for name, dt, c in zip(h.fields, dtypes, h.counts):
            try:
                a = table[:, j : j + c].astype(dt) if n else np.empty((0, c), dt)
            except (ValueError, OverflowError) as exc:
                raise CorruptFileError(path, f"ascii PCD field {name!r}: {exc}") from None
            put(name, a if c > 1 else a[:, 0])
            j += c
    return out


def read_pcd(path: str | Path, frame_id: str = "lidar", timestamp_ns: int | None = None) -> PointCloud:
    """Read a PCL ``.pcd`` file (any encoding) as a :class:`PointCloud`; VIEWPOINT is not applied."""
    path = Path(path)
    buf = _read_bytes(path)
    h = _parse_pcd_header(path, buf, complete=True)
    return _cloud_from_columns(path, _pcd_columns(path, h, buf), frame_id, timestamp_ns, h.organized_shape)


def write_pcd(
    path: str | Path,
    cloud: PointCloud,
    encoding: PcdEncoding = "binary",
    viewpoint: tuple[float, float, float, float, float, float, float] = (0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0),
) -> None:
    """Write ``cloud`` as a PCD v0.7 file that PCL, Open3D and :func:`read_pcd` read back.

    Fields are written in order x, y, z (F4), then each of ``cloud.fields`` with its dtype
    (COUNT k for (N, k) fields; bool as U1); (N, 3) uint8 ``rgb`` is packed into a U4 ``rgb``
    (``rgba`` when an ``alpha`` field exists). Organised clouds keep WIDTH x HEIGHT.

    Parameters
    ----------
    encoding : ``"binary"`` (default), ``"ascii"`` (floats with enough digits to round-trip:
        ``%.9g`` for F4, ``%.17g`` for F8) or ``"binary_compressed"`` (LZF, field-major)
    viewpoint : ``(tx, ty, tz, qw, qx, qy, qz)`` written to the VIEWPOINT line
    """
    if encoding not in _ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(_ENCODINGS)}, got {encoding!r}")
    path = Path(path)
    n = len(cloud)
    cols = _columns_of_cloud(cloud, pack_rgb=True)
    names = list(cols)
    arrays = [np.asarray(a) for a in cols.values()]
    dts = [np.dtype(a.dtype).newbyteorder("<") for a in arrays]
    counts = [1 if a.ndim == 1 else a.shape[1] for a in arrays]
    rows, width = cloud.organized_shape if cloud.organized_shape else (1, n)
    header = (
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n"
        f"FIELDS {' '.join(names)}\n"
        f"SIZE {' '.join(str(d.itemsize) for d in dts)}\n"
        f"TYPE {' '.join(_PCD_KIND[d.kind] for d in dts)}\n"
        f"COUNT {' '.join(map(str, counts))}\n"
        f"WIDTH {width}\nHEIGHT {rows}\n"
        f"VIEWPOINT {' '.join(f'{v:.9g}' for v in viewpoint)}\n"
        f"POINTS {n}\nDATA {encoding}\n"
    ).encode("ascii")
    if encoding == "binary":
        rec_dt = np.dtype([(f"f{i}", d, (c,)) if c > 1 else (f"f{i}", d) for i, (d, c) in enumerate(zip(dts, counts))])
        rec = np.empty(n, dtype=rec_dt)
        for i, a in enumerate(arrays):
            rec[f"f{i}"] = a
        body = rec.tobytes()
    elif encoding == "binary_compressed":
        soa = b"".join(np.ascontiguousarray(a, dtype=d).tobytes() for a, d in zip(arrays, dts))
        comp = _lzf_compress(soa)
        body = struct.pack("<II", len(comp), len(soa)) + comp
    else:
        parts: list[NDArray[np.str_]] = []
        for a, d in zip(arrays, dts):
            fmt = "%.9g" if d.kind == "f" and d.itemsize <= 4 else "%.17g" if d.kind == "f" else "%d"
            a2 = a if a.ndim == 2 else a[:, None]
            parts.extend(np.char.mod(fmt, a2[:, j]) for j in range(a2.shape[1]))
        line = parts[0] if parts else np.array([], dtype=str)
        for p in parts[1:]:
            line = np.char.add(np.char.add(line, " "), p)
        body = ("\n".join(line.tolist()) + ("\n" if n else "")).encode("ascii")
    atomic_write_bytes(path, header + body)


# ---------------------------------------------------------------------------------------------
# nuScenes radar PCD
# ---------------------------------------------------------------------------------------------
def read_radar_pcd(path: str | Path, frame_id: str = "radar", timestamp_ns: int | None = None) -> RadarDetections:
    """Read a nuScenes radar PCD (binary, 18 mixed-type fields, see ``NUSCENES_RADAR_FIELDS``).

    The radial velocity is the ego-motion-compensated velocity ``v = (vx_comp, vy_comp, 0)``
    projected on the line of sight ``u = p / |p|`` (``p = (x, y, z)``, radar frame)::

        v_r = (x * vx_comp + y * vy_comp) / sqrt(x^2 + y^2 + z^2)      (0 where |p| = 0)

    positive = moving away from the radar. Being compensated, it is the target's own range rate
    over ground (about 0 for static objects), not the raw Doppler (use ``vx``/``vy`` for that).
    ``rcs`` is in dBsm. All points are kept: no nuScenes devkit state filtering is applied.
    """
    path = Path(path)
    buf = _read_bytes(path)
    h = _parse_pcd_header(path, buf, complete=True)
    cols = _pcd_columns(path, h, buf)
    missing = [k for k in ("x", "y", "z", "vx_comp", "vy_comp") if k not in cols]
    if missing:
        raise CorruptFileError(path, f"not a nuScenes radar PCD: no {', '.join(missing)} field(s)")
    p = np.stack([cols[k].astype(np.float64) for k in ("x", "y", "z")], axis=1)
    vx = cols["vx_comp"].astype(np.float64)
    vy = cols["vy_comp"].astype(np.float64)
    r = np.linalg.norm(p, axis=1)
    # v_r = (p . v) / |p|
    vr = np.divide(p[:, 0] * vx + p[:, 1] * vy, r, out=np.zeros_like(r), where=r > 0)
    rcs = cols["rcs"].astype(np.float64) if "rcs" in cols else None
    return RadarDetections(p, vr, rcs, frame_id, timestamp_ns)
