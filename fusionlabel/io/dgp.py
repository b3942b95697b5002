"""TRI's DGP format (Dataset Governance Policy, TRI-ML/dgp): one scene as a recording.

A scene folder holds ``scene_<sha1>.json`` (the Scene message: samples + data), ``calibration/``,
``ontology/``, ``point_cloud/<SENSOR>/*.npz``, ``rgb/<CAMERA>/*.jpg`` and ``bounding_box_3d/<SENSOR>/*.json``;
a dataset folder holds ``scene_dataset*.json`` (``scene_splits``: split -> scene JSONs) beside them.
A scene folder or scene JSON opens as one recording; a dataset opens its only scene, and with
several a :class:`DataError` lists them (no silent "first scene": pass ``scene=`` to
:func:`open_dgp`); :func:`scene_files` lists a dataset's scenes.

Conventions (``docs/conventions.md``; sources: ``dgp/proto/*.proto`` and
``dgp/datasets/base_dataset.py`` of TRI-ML/dgp)
---------------------------------------------------------------------------
* ``Pose`` (geometry.proto): ``translation {x, y, z}`` + ``rotation {qw, qx, qy, qz}``, the
  transform from a frame into its parent. A datum's ``pose`` is the **sensor's** world pose
  ``T_world_sensor`` (``pose_WS`` in base_dataset.py); calibration ``extrinsics[i]`` is sensor
  ``names[i]`` in the **vehicle** frame (``pose_VS``), our ego frame: ``T_ego_sensor``. Ego pose:
  ``T_world_ego = T_world_lidar @ inv(T_ego_lidar)``.
* Cameras: ``K = [[fx, skew, cx], [0, fy, cy], [0, 0, 1]]``, OpenCV optical frame; Brown-Conrady
  ``k1 k2 p1 p2 k3 [k4 k5 k6]`` become ``D``. Other lens models are not read: such a camera is
  left out and reported in ``problems``. Image sizes: the image datum's ``width``/``height``.
* LiDAR ``.npz``: key ``data``, (N, C) columns named by ``point_format`` (X, Y, Z, INTENSITY ...)
  or a structured array; an empty format is ``X Y Z [INTENSITY]`` (``BaseDataset.load_datum``).
  Points stay in the LiDAR's frame; ``INTENSITY`` -> ``intensity`` (float32, 0..1 on the real
  scenes), ``RING`` -> ``ring``, ``TIMESTAMP`` (UTC us) -> ``time`` (s after the sweep).
* 3D boxes (``BoundingBox3D``, annotation type 1): ``pose`` in the annotated datum's (LiDAR)
  frame, translation = box **centre**, full quaternion (roll/pitch up to 5 degrees on the real
  scenes), ``width`` x ``length`` x ``height`` with **length along the box's +x**
  (``BoundingBox3D.corners``). :func:`dgp_boxes_to_ego` keeps the heading of the box +x axis in
  the ego frame and drops roll and pitch.
* ``class_id`` is the ontology's item ``id`` (``ontology/<scene.ontologies["1"]>.json``), mapped
  by :data:`CATEGORY_MAP`. Track ids are ``1, 2, ...`` by first appearance (frame, then
  ``instance_id``); attributes keep ``instance_id``, ``source_category``, ``class_id``,
  ``num_points``, ``occlusion`` (0..3), ``truncation`` (0..1) and DGP's string ``attributes``.
* protobuf's JSON mapping: scalars equal to their default (0) may be absent (a box turned by
  180 degrees may read ``{"qz": 1.0}``), numbers may be strings; ``NaN`` in any form is refused.
  ``samples``, ``data``, a datum's ``filename`` and ``id.timestamp`` and a box's ``box`` are required.

Time: ``id.timestamp`` (RFC 3339, read to the ns). The public scenes' times are obfuscated into
the 25th century, beyond int64 ns since the Unix epoch, so times here are **ns since the scene's
earliest datum**, :attr:`DGPRecording.time_origin_utc`.

Frames: every sample with a reference datum (``LIDAR``, else the first point-cloud datum by name);
the other streams come from the **same sample** (the real cameras are 90-210 ms off the LiDAR);
the sync tolerance is half the reference period so :attr:`Recording.sync` agrees. Labels: the
reference datums' ``bounding_box_3d``; per-camera copies, 2D boxes and agent files are not read.

Example
-------
>>> rec = open_dgp("real_data/tri_dgp/test_scene/scene_01")                 # doctest: +SKIP
>>> len(rec), rec.reference, sorted(rec.rig.cameras)                          # doctest: +SKIP
(3, 'LIDAR', ['CAMERA_01', 'CAMERA_05', 'CAMERA_06'])
>>> rec.labels().num_boxes()                                                  # doctest: +SKIP
286
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
import re
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera, Lidar, Rig
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import Frame, ImageRef, PointCloud
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import DEFAULT_TOLERANCE_NS, Recording, SensorKind, Stream
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform

#: dgp.proto.AnnotationType ids (annotations.proto)
BOUNDING_BOX_2D = 0
BOUNDING_BOX_3D = 1

#: dgp.proto.PointCloud.ChannelType (point_cloud.proto), for point formats written as numbers
CHANNEL_TYPES = (
    "X", "Y", "Z", "INTENSITY", "R", "G", "B", "RING", "NORMAL_X", "NORMAL_Y", "NORMAL_Z",
    "CLASS_ID", "INSTANCE_ID", "TIMESTAMP",
)  # fmt: skip

#: DGP / DDAD / Parallel Domain class names -> canonical names; unmapped names pass through
CATEGORY_MAP: dict[str, str] = {
    # DDAD / the TRI test scenes' ontology
    "Car": "Car",
    "Truck": "Truck",
    "Bus/RV/Caravan": "Bus",
    "Person": "Pedestrian",
    "Bicycle": "Cyclist",
    "Motorcycle": "Motorcycle",
    "Train": "Tram",
    "Trailer": "Misc",
    "Towed Object": "Misc",
    "Wheeled Slow": "Misc",
    # other DGP ontologies (Parallel Domain, internal)
    "Pedestrian": "Pedestrian",
    "Bicyclist": "Cyclist",
    "Cyclist": "Cyclist",
    "Motorcyclist": "Motorcycle",
    "Bus": "Bus",
    "Van": "Van",
}

#: camera model parameters of CameraIntrinsics (geometry.proto) this reader does not implement
_UNSUPPORTED_LENS = (
    "fisheye", "equirectangular", "xi", "alpha", "beta", "w", "s1", "s2", "s3", "s4", "taux", "tauy",
)  # fmt: skip

_SCENE_NAME = re.compile(r"^scene(_[0-9A-Za-z]+)?\.json$")
_DATASET_NAME = re.compile(r"^scene_dataset.*\.json$")
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$")
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()


# -- small parsers ------------------------------------------------------------------------------


def parse_timestamp_ns(text: Any) -> int:
    """RFC 3339 ``Timestamp`` string -> integer nanoseconds since the Unix epoch (UTC).

    Exact integer arithmetic (Python ``int``: no int64 limit, no float rounding). Accepts 0-9
    fraction digits and ``Z`` or a ``+hh:mm`` offset, as protobuf's JSON parser does.

    Raises
    ------
    ValueError : not such a string

    Example
    -------
    >>> parse_timestamp_ns("1970-01-01T00:00:01.5Z")
    1500000000
    """
    m = _TIMESTAMP.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"timestamp {text!r} is not an RFC 3339 string like 2019-05-01T12:00:00.123456Z")
    y, mo, d, hh, mm, ss = (int(m.group(i)) for i in range(1, 7))
    frac, tz = m.group(7) or "", m.group(8)
    try:
        days = _dt.date(y, mo, d).toordinal() - _EPOCH_ORDINAL
    except ValueError as exc:
        raise ValueError(f"timestamp {text!r}: {exc}") from None
    if hh > 23 or mm > 59 or ss > 60:
        raise ValueError(f"timestamp {text!r}: time of day out of range")
    offset_s = 0
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        offset_s = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    seconds = days * 86400 + hh * 3600 + mm * 60 + ss - offset_s
    return seconds * 1_000_000_000 + int(frac.ljust(9, "0"))


def _read_json(path: Path, what: str) -> Any:
    """Parse a JSON file; typed errors naming it."""
    if not path.is_file():
        raise DataError(path, f"{what} is missing")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(path, f"cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CorruptFileError(path, f"{what} is not UTF-8 text: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(path, f"{what} is not valid JSON: {exc}") from None


def _mapping(v: Any, where: str, path: Path, required: bool = True) -> Mapping[str, Any]:
    """A JSON object field; an absent optional message is ``{}`` (protobuf default)."""
    if v is None and not required:
        return {}
    if not isinstance(v, Mapping):
        raise CorruptFileError(
            path, f"{where}: expected an object, got {type(v).__name__ if v is not None else 'nothing'}"
        )
    return v


def _float(d: Mapping[str, Any], key: str, where: str, path: Path) -> float:
    """A double field (protobuf JSON: number or numeric string; absent = 0.0); finite."""
    v = d.get(key, 0.0)
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise CorruptFileError(path, f"{where}.{key}: {v!r} is not a number")
    try:
        x = float(v)
    except ValueError:
        raise CorruptFileError(path, f"{where}.{key}: {v!r} is not a number") from None
    if not math.isfinite(x):
        raise CorruptFileError(path, f"{where}.{key} is {v!r} (NaN or infinity)")
    return x


def _int(d: Mapping[str, Any], key: str, where: str, path: Path) -> int:
    """An integer field (number or digit string; absent = 0)."""
    v = d.get(key, 0)
    if isinstance(v, bool):
        raise CorruptFileError(path, f"{where}.{key}: {v!r} is not an integer")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"-?\d+", v.strip()):
        return int(v)
    raise CorruptFileError(path, f"{where}.{key}: {v!r} is not an integer")


def _pose_parts(
    v: Any, where: str, path: Path, required: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(q, t)`` of a ``Pose`` message: (4,) ``(qw, qx, qy, qz)`` and (3,) translation; absent scalars are 0."""
    d = _mapping(v, where, path, required)
    rot = _mapping(d.get("rotation"), f"{where}.rotation", path, required=False)
    tr = _mapping(d.get("translation"), f"{where}.translation", path, required=False)
    q = np.array([_float(rot, k, f"{where}.rotation", path) for k in ("qw", "qx", "qy", "qz")])
    return q, np.array([_float(tr, k, f"{where}.translation", path) for k in ("x", "y", "z")])


def _check_unit(q: NDArray[np.float64], where: str, path: Path) -> None:
    norm = float(np.linalg.norm(q))
    if abs(norm - 1.0) > 1e-3:
        raise CorruptFileError(path, f"{where}.rotation is not a unit quaternion (|q| = {norm:.4f})")


def _pose(v: Any, where: str, path: Path, allow_empty: bool = False) -> Transform | None:
    """A ``Pose`` message -> Transform; ``None`` for an empty pose when ``allow_empty``.

    The quaternion must be unit (|q| within 1e-3 of 1). An all-zero rotation is the protobuf
    default of an absent pose: ``None`` where that is allowed (datum poses), an error elsewhere.
    """
    q, t = _pose_parts(v, where, path, required=not allow_empty)
    if allow_empty and not np.any(q):
        return None
    _check_unit(q, where, path)
    return Transform.from_quaternion(q, t)


# -- sniffing -------------------------------------------------------------------------------


def _is_scene_json(p: Path) -> bool:
    """Cheap: ``scene.json`` / ``scene_<hash>.json`` whose first 64 KiB mention ``samples`` or ``data``."""
    if not (p.is_file() and _SCENE_NAME.match(p.name) and not _DATASET_NAME.match(p.name)):
        return False
    try:
        with p.open("rb") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    return head.lstrip()[:1] == b"{" and (b'"samples"' in head or b'"data"' in head)


def _scene_jsons(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("scene*.json") if _is_scene_json(p)) if folder.is_dir() else []


def _dataset_jsons(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("scene_dataset*.json") if p.is_file()) if folder.is_dir() else []


def sniff(path: Path) -> bool:
    """True for a DGP scene JSON, a folder holding one, or a scene dataset (its JSON or folder)."""
    path = Path(path)
    if path.is_file():
        return _is_scene_json(path) or bool(_DATASET_NAME.match(path.name))
    return bool(_scene_jsons(path)) or bool(_dataset_jsons(path))


sniff_dgp = sniff


def scene_files(path: str | Path) -> list[Path]:
    """The scene JSON files a DGP dataset lists, in split order without repeats.

    Parameters
    ----------
    path : a dataset folder (holding one ``scene_dataset*.json``) or that JSON

    Raises
    ------
    DataError : no or several dataset JSONs; a malformed one; a listed scene file missing
    """
    p = Path(path)
    if p.is_dir():
        found = _dataset_jsons(p)
        if len(found) != 1:
            raise DataError(p, f"expected one scene_dataset*.json in the folder, found {len(found)}")
        p = found[0]
    d = _mapping(_read_json(p, "DGP scene dataset"), "dataset", p)
    splits = _mapping(d.get("scene_splits"), "scene_splits", p)
    out: list[Path] = []

    def split_order(k: str) -> tuple[int, str]:
        return (int(k), k) if k.isdigit() else (1 << 30, k)

    for key in sorted(splits, key=split_order):
        names = _mapping(splits[key], f"scene_splits.{key}", p).get("filenames", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise CorruptFileError(p, f"scene_splits.{key}.filenames must be a list of paths")
        for n in names:
            f = (p.parent / n).resolve()
            if not f.is_relative_to(p.parent.resolve()):
                raise CorruptFileError(p, f"scene file {n!r} is outside the dataset folder")
            if not f.is_file():
                raise DataError(p.parent / n, f"scene listed in {p.name} is missing")
            if f not in out:
                out.append(f)
    return out


# -- calibration, ontology, point clouds, boxes ----------------------------------------------


def _camera(
    name: str, intr: Mapping[str, Any], T_ego_cam: Transform, size: tuple[int, int], where: str, path: Path
) -> Camera:
    """A pinhole camera from a ``CameraIntrinsics`` message; CalibrationError for other models."""
    odd = [k for k in _UNSUPPORTED_LENS if k in intr and _float(intr, k, where, path) != 0.0]
    if odd:
        raise CalibrationError(
            path, f"{where}: lens model parameters {', '.join(odd)} are not supported (pinhole only)"
        )
    fx, fy, cx, cy, skew = (_float(intr, k, where, path) for k in ("fx", "fy", "cx", "cy", "skew"))
    K = [[fx, skew, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]
    dist = [_float(intr, k, where, path) for k in ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")]
    D: list[float] = [] if not any(dist) else dist if any(dist[5:]) else dist[:5]
    try:
        return Camera(name, K=K, width=size[0], height=size[1], T_ego_cam=T_ego_cam, D=D)
    except ValueError as exc:
        raise CalibrationError(path, f"{where}: {exc}") from None


@dataclass(frozen=True)
class Calibration:
    """One ``calibration/<key>.json``: per sensor name, ``T_ego_sensor`` and raw intrinsics."""

    path: Path
    extrinsics: Mapping[str, Transform]
    intrinsics: Mapping[str, Mapping[str, Any]]


def read_calibration(path: str | Path) -> Calibration:
    """Parse a SampleCalibration JSON (``names``, ``intrinsics``, ``extrinsics`` aligned lists).

    Raises
    ------
    CalibrationError / CorruptFileError naming the file : missing lists, lengths that differ,
        a non-unit quaternion, a non-finite number
    """
    p = Path(path)
    try:
        d = _mapping(_read_json(p, "DGP calibration"), "calibration", p)
    except CorruptFileError as exc:
        raise CalibrationError(exc.path, exc.reason) from None
    lists = {}
    for key in ("names", "intrinsics", "extrinsics"):
        v = d.get(key)
        if not isinstance(v, list):
            raise CalibrationError(p, f"missing list '{key}'")
        lists[key] = v
    n = len(lists["names"])
    if not (len(lists["intrinsics"]) == len(lists["extrinsics"]) == n):
        raise CalibrationError(
            p,
            f"names, intrinsics and extrinsics have {n}, {len(lists['intrinsics'])}, {len(lists['extrinsics'])} entries",
        )
    ext: dict[str, Transform] = {}
    intr: dict[str, Mapping[str, Any]] = {}
    for i, name in enumerate(lists["names"]):
        if not isinstance(name, str) or not name:
            raise CalibrationError(p, f"names[{i}] is not a sensor name")
        try:
            T = _pose(lists["extrinsics"][i], f"extrinsics[{i}] ({name})", p)
            intr[name] = _mapping(lists["intrinsics"][i], f"intrinsics[{i}] ({name})", p, required=False)
        except CorruptFileError as exc:
            raise CalibrationError(exc.path, exc.reason) from None
        assert T is not None
        ext[name] = T
    return Calibration(p, ext, intr)


def read_ontology(path: str | Path) -> dict[int, str]:
    """Ontology JSON -> ``{class id: name}``: OntologyV2 ``items[{id, name}]`` or V1 ``id_to_name``."""
    p = Path(path)
    d = _mapping(_read_json(p, "DGP ontology"), "ontology", p)
    out: dict[int, str] = {}
    if isinstance(d.get("items"), list):
        for i, item in enumerate(d["items"]):
            it = _mapping(item, f"items[{i}]", p)
            name = it.get("name")
            if not isinstance(name, str) or not name:
                raise CorruptFileError(p, f"items[{i}] has no name")
            out[_int(it, "id", f"items[{i}]", p)] = name
    elif isinstance(d.get("id_to_name"), Mapping):
        for k, name in d["id_to_name"].items():
            if not str(k).lstrip("-").isdigit() or not isinstance(name, str):
                raise CorruptFileError(p, f"id_to_name entry {k!r}: {name!r} is not id -> name")
            out[int(k)] = name
    else:
        raise CorruptFileError(p, "an ontology needs 'items' (OntologyV2) or 'id_to_name' (OntologyV1)")
    if not out:
        raise CorruptFileError(p, "the ontology lists no classes")
    return out


def _channel_names(point_format: Sequence[Any], point_fields: Sequence[Any], ncols: int, path: Path) -> list[str]:
    """Upper-case column names of a point-cloud array; see the module docstring."""
    names: list[str] = []
    for v in point_format:
        if isinstance(v, str):
            names.append(v.upper())
        elif isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(CHANNEL_TYPES):
            names.append(CHANNEL_TYPES[v])
        else:
            raise CorruptFileError(path, f"point_format entry {v!r} is not a dgp ChannelType")
    if not names:
        names = [str(v).upper() for v in point_fields]
    if not names:
        if ncols not in (3, 4):
            raise CorruptFileError(path, f"no point_format and {ncols} columns (DGP's default is X Y Z [INTENSITY])")
        names = ["X", "Y", "Z", "INTENSITY"][:ncols]
    return names


def read_point_cloud_npz(
    path: str | Path,
    point_format: Sequence[Any] = (),
    point_fields: Sequence[Any] = (),
    frame_id: str = "LIDAR",
    timestamp_ns: int | None = None,
    sweep_time_utc_ns: int | None = None,
) -> PointCloud:
    """Read one DGP point cloud (``.npz``, key ``data``).

    Parameters
    ----------
    path : the ``.npz`` file
    point_format, point_fields : the datum's column names (``ChannelType`` names or numbers)
    frame_id : the sensor name; points stay in that sensor's frame
    timestamp_ns : the cloud's time as this recording counts it
    sweep_time_utc_ns : the datum's absolute time, needed only to turn a ``TIMESTAMP`` column
        (UTC microseconds) into ``time`` (seconds after the sweep)

    Returns
    -------
    PointCloud: ``xyz`` (N, 3) float32 metres in ``frame_id``; fields ``intensity`` (float32),
    ``ring`` (uint16), ``time`` (float64 s), ``rgb`` ((N, 3) uint8), others lower-cased.

    Raises
    ------
    CorruptFileError naming the file : not a readable npz, no ``data`` key, a shape that does not
        match the columns, missing X/Y/Z, NaN or infinite coordinates
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(p, "point cloud file is missing")
    try:
        with np.load(p, allow_pickle=False) as z:
            if "data" not in z.files:
                raise CorruptFileError(p, f"npz has no 'data' array (has: {', '.join(z.files) or 'nothing'})")
            arr = np.asarray(z["data"])
    except CorruptFileError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise CorruptFileError(p, f"not a readable npz point cloud (truncated or corrupt): {exc}") from None
    cols: dict[str, NDArray[Any]] = {}
    if arr.dtype.names is not None:
        flat = arr.reshape(-1)
        for n in arr.dtype.names:
            cols[n.upper()] = np.asarray(flat[n]).reshape(-1)
    else:
        if arr.ndim != 2:
            raise CorruptFileError(p, f"'data' must be an (N, C) array, got shape {arr.shape}")
        names = _channel_names(point_format, point_fields, arr.shape[1], p)
        if len(names) != arr.shape[1]:
            raise CorruptFileError(
                p, f"'data' has {arr.shape[1]} columns but the point format names {len(names)}: {names}"
            )
        for i, n in enumerate(names):
            cols[n] = arr[:, i]
    missing = [c for c in ("X", "Y", "Z") if c not in cols]
    if missing:
        raise CorruptFileError(p, f"point cloud has no {', '.join(missing)} column (has: {', '.join(cols)})")
    try:
        xyz = np.stack([cols[c].astype(np.float64) for c in ("X", "Y", "Z")], axis=1)
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(p, f"coordinates are not numbers: {exc}") from None
    bad = ~np.all(np.isfinite(xyz), axis=1)
    if bad.any():
        raise CorruptFileError(p, f"{int(bad.sum())} of {len(xyz)} points have NaN or infinite coordinates")
    fields: dict[str, NDArray[Any]] = {}
    for name, v in cols.items():
        if name in ("X", "Y", "Z", "R", "G", "B"):
            continue
        if name == "INTENSITY":
            fields["intensity"] = v.astype(np.float32)
        elif name == "RING":
            fields["ring"] = v.astype(np.uint16)
        elif name == "TIMESTAMP":
            if sweep_time_utc_ns is not None:
                fields["time"] = (v.astype(np.float64) * 1e3 - float(sweep_time_utc_ns)) * 1e-9
        else:
            fields[name.lower()] = v
    if all(c in cols for c in ("R", "G", "B")):
        fields["rgb"] = np.stack([cols[c] for c in ("R", "G", "B")], axis=1).astype(np.uint8)
    return PointCloud(xyz.astype(np.float32), fields, frame_id, timestamp_ns)


def dgp_boxes_to_ego(center: ArrayLike, wlh: ArrayLike, q_wxyz: ArrayLike, T_ego_sensor: Transform) -> Boxes:
    """DGP ``BoundingBox3D`` boxes (sensor frame) -> our upright boxes in the ego frame.

    Parameters
    ----------
    center : (N, 3) metres, ``pose.translation``: the box centre in the sensor frame
    wlh : (N, 3) metres, ``(width, length, height)``; length is along the box's local +x
    q_wxyz : (N, 4) ``pose.rotation`` quaternions ``(qw, qx, qy, qz)``, box -> sensor
    T_ego_sensor : the sensor's extrinsic (DGP calibration: sensor -> vehicle)

    Returns
    -------
    Boxes, ego frame::

        R_ego_box = R_ego_sensor R_q
        center    = T_ego_sensor c
        size      = (length, width, height)
        yaw       = atan2(R_ego_box[1, 0], R_ego_box[0, 0])

    Example
    -------
    >>> b = dgp_boxes_to_ego([[10, 0, 0]], [[2, 4, 1.5]], [[0.7071068, 0, 0, 0.7071068]], Transform.identity())
    >>> b.size.tolist(), round(float(b.yaw[0]), 4)
    ([[4.0, 2.0, 1.5]], 1.5708)
    """
    c = np.asarray(center, dtype=np.float64).reshape(-1, 3)
    s = np.asarray(wlh, dtype=np.float64).reshape(-1, 3)
    q = np.asarray(q_wxyz, dtype=np.float64).reshape(-1, 4)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    # first column of R_q: the box +x axis in the sensor frame
    ex = np.stack([1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y)], axis=1)
    fwd = T_ego_sensor.apply_vectors(ex)  # R_ego_sensor R_q e_x
    yaw = np.arctan2(fwd[:, 1], fwd[:, 0])
    return Boxes(T_ego_sensor.apply(c), s[:, [1, 0, 2]], yaw)


@dataclass(frozen=True)
class DGPBoxes:
    """The boxes of one ``bounding_box_3d`` file, converted (see :func:`read_boxes`).

    instance_ids : (N,) int64 DGP instance ids
    class_names : N ontology names
    boxes : N boxes, ego frame
    attributes : N dicts (``num_points``, ``occlusion``, ``truncation``, ``class_id``,
        ``attributes``)
    """

    instance_ids: NDArray[np.int64]
    class_names: tuple[str, ...]
    boxes: Boxes
    attributes: tuple[dict[str, Any], ...]


def read_boxes(path: str | Path, ontology: Mapping[int, str], T_ego_sensor: Transform) -> DGPBoxes:
    """Read a ``BoundingBox3DAnnotations`` JSON and convert its boxes to the ego frame.

    Raises
    ------
    CorruptFileError naming the file : no ``annotations`` list, a box without ``box``, a
        non-positive or non-finite size, a non-unit quaternion, a class id the ontology lacks,
        an instance id twice
    """
    p = Path(path)
    d = _mapping(_read_json(p, "DGP 3D box annotations"), "annotations file", p)
    anns = d.get("annotations", [])  # an empty list is the protobuf default: a frame without boxes
    if not isinstance(anns, list):
        raise CorruptFileError(p, "'annotations' must be a list")
    ids, names, attrs = [], [], []
    centers, wlh, quats = [], [], []
    for i, a in enumerate(anns):
        where = f"annotations[{i}]"
        a = _mapping(a, where, p)
        box = _mapping(a.get("box"), f"{where}.box", p)
        q, c = _pose_parts(box.get("pose"), f"{where}.box.pose", p)
        _check_unit(q, f"{where}.box.pose", p)
        size = [_float(box, k, f"{where}.box", p) for k in ("width", "length", "height")]
        if min(size) <= 0:
            raise CorruptFileError(p, f"{where}.box: width, length, height {size} must be positive")
        cid = _int(a, "class_id", where, p)
        if cid not in ontology:
            raise CorruptFileError(p, f"{where}: class_id {cid} is not in the ontology (ids: {sorted(ontology)})")
        extra = _mapping(a.get("attributes"), f"{where}.attributes", p, required=False)
        ids.append(_int(a, "instance_id", where, p))
        names.append(ontology[cid])
        centers.append(c)
        wlh.append(size)
        quats.append(q)
        attrs.append(
            {
                "class_id": cid,
                "num_points": _int(a, "num_points", where, p),
                "occlusion": _int(box, "occlusion", f"{where}.box", p),
                "truncation": _float(box, "truncation", f"{where}.box", p),
                "attributes": {str(k): str(v) for k, v in extra.items()},
            }
        )
    iid = np.array(ids, dtype=np.int64)
    uniq, counts = np.unique(iid, return_counts=True)
    if np.any(counts > 1):
        raise CorruptFileError(p, f"instance_id {int(uniq[counts > 1][0])} appears {int(counts.max())} times")
    if not ids:
        return DGPBoxes(iid, (), Boxes.empty(), ())
    boxes = dgp_boxes_to_ego(np.array(centers), np.array(wlh), np.array(quats), T_ego_sensor)
    return DGPBoxes(iid, tuple(names), boxes, tuple(attrs))


def canonical_category(name: str) -> str:
    """Canonical category of a DGP class name (unknown names pass through)."""
    return CATEGORY_MAP.get(name, name)


# -- the recording --------------------------------------------------------------------------


@dataclass
class DGPRecording(Recording):
    """One DGP scene (see the module docstring).

    Extra attributes
    ----------------
    scene_json : the scene file
    scene_name : the scene's ``name`` (the folder name where that is empty)
    time_origin_utc : the absolute time (RFC 3339) that timestamp 0 stands for
    files : stream -> (K,) datum files, index-aligned with the stream's timestamps
    keyframe_assoc : frame index -> {stream: sample index} from the scene's samples
    frame_poses : frame index -> ``T_world_ego`` of the frame's reference datum
    """

    scene_json: Path = field(default_factory=Path)
    scene_name: str = ""
    time_origin_utc: str = ""
    files: dict[str, list[Path]] = field(default_factory=dict, repr=False)
    point_formats: dict[str, tuple[list[Any], list[Any]]] = field(default_factory=dict, repr=False)
    keyframe_assoc: dict[int, dict[str, int]] = field(default_factory=dict, repr=False)
    frame_poses: dict[int, Transform] = field(default_factory=dict, repr=False)
    box_files: dict[int, Path] = field(default_factory=dict, repr=False)
    ontology_path: Path | None = field(default=None, repr=False)
    _origin_ns: int = field(default=0, repr=False)
    _labels_cache: LabelSet | None = field(default=None, init=False, repr=False)

    def _load_frame(self, index: int) -> Frame:
        t_ref = int(self.timestamps_ns[index])
        lidar: dict[str, PointCloud] = {}
        images: dict[str, ImageRef] = {}
        stamps: dict[str, int] = {}
        for name, i in self.keyframe_assoc.get(index, {}).items():
            s = self.streams[name]
            t = int(s.timestamps_ns[i])
            p = self.files[name][i]
            if not p.is_file():
                raise DataError(p, f"{name} file of frame {index} is missing: {self.scene_json.name} references it")
            stamps[name] = t
            if s.kind == "lidar":
                fmt, fields = self.point_formats.get(name, ([], []))
                lidar[name] = read_point_cloud_npz(p, fmt, fields, name, t, self._origin_ns + t)
            else:
                images[name] = ImageRef.from_file(p, t)
        return Frame(index, t_ref, dict(sorted(lidar.items())), {}, images, self.frame_poses.get(index), stamps)

    def labels(self) -> LabelSet | None:
        """The reference datums' ``bounding_box_3d`` boxes as tracks (ego frame), or None without any."""
        if not self.box_files:
            return None
        if self._labels_cache is None:
            self._labels_cache = self._read_labels()
        return self._labels_cache

    def _read_labels(self) -> LabelSet:
        if self.ontology_path is None:
            raise CorruptFileError(self.scene_json, "3D boxes but no bounding_box_3d ontology in 'ontologies'")
        ontology = read_ontology(self.ontology_path)
        T = self.rig.T_ego_sensor(self.reference)
        per_frame = {f: read_boxes(p, ontology, T) for f, p in sorted(self.box_files.items())}
        first: dict[int, tuple[int, int]] = {}
        for f, b in per_frame.items():
            for iid in b.instance_ids.tolist():
                first.setdefault(iid, (f, iid))
        track_of = {iid: k + 1 for k, iid in enumerate(sorted(first, key=lambda i: first[i]))}
        frames: dict[int, FrameLabels] = {}
        for f, b in per_frame.items():
            if not len(b.instance_ids):
                continue
            order = np.argsort([track_of[i] for i in b.instance_ids.tolist()], kind="stable")
            frames[f] = FrameLabels(
                np.array([track_of[int(b.instance_ids[k])] for k in order], dtype=np.int64),
                tuple(canonical_category(b.class_names[k]) for k in order),
                b.boxes[order],
                None,
                tuple(
                    {"source_category": b.class_names[k], "instance_id": int(b.instance_ids[k]), **b.attributes[k]}
                    for k in order
                ),
            )
        return LabelSet(frames)


_DATUM_KINDS: dict[str, SensorKind] = {"point_cloud": "lidar", "image": "camera"}


def _resolve(p: Path, scene: str | None) -> Path:
    """The scene JSON to open for ``p`` (scene file, scene folder, dataset file or folder)."""
    if p.is_file() and _is_scene_json(p):
        return p
    if p.is_dir():
        scenes = _scene_jsons(p)
        if len(scenes) == 1:
            return scenes[0]
        if len(scenes) > 1:
            raise DataError(
                p, f"{len(scenes)} scene JSONs in one folder ({', '.join(s.name for s in scenes)}): open one of them"
            )
    if (p.is_file() and _DATASET_NAME.match(p.name)) or _dataset_jsons(p):
        listed = scene_files(p)
        if scene is not None:
            hit = [s for s in listed if scene in (s.parent.name, s.name, s.stem)]
            if len(hit) != 1:
                raise DataError(
                    p, f"no scene {scene!r} in the dataset (scenes: {', '.join(s.parent.name for s in listed)})"
                )
            return hit[0]
        if len(listed) == 1:
            return listed[0]
        names = ", ".join(s.parent.name for s in listed)
        raise DataError(
            p,
            f"a DGP scene dataset with {len(listed)} scenes ({names}); open one scene folder, e.g. {listed[0].parent}"
            if listed
            else "a DGP scene dataset that lists no scenes",
        )
    raise UnsupportedFormatError(p, "not a DGP scene (needs scene_<hash>.json) or scene dataset (scene_dataset*.json)")


def open_dgp(path: str | Path, scene: str | None = None) -> DGPRecording:
    """Open one DGP scene as a recording. Reads the scene and calibration JSONs; data load per frame.

    Parameters
    ----------
    path : a scene folder, a scene JSON, or a dataset folder / ``scene_dataset*.json``
    scene : with a dataset, the scene to open (its folder name or JSON name); a dataset of
        several scenes without it raises a DataError listing them

    Raises
    ------
    UnsupportedFormatError : not DGP
    DataError : naming the file: a malformed scene JSON (missing ``samples``/``data``, a sample
        naming a datum that is not there, a datum without timestamp or file, reference times
        that do not increase), a missing or malformed calibration, several scenes
    """
    sj = _resolve(Path(path), scene)
    root = sj.parent
    doc = _mapping(_read_json(sj, "DGP scene"), "scene", sj)
    problems: list[DataError] = []
    sample_datums, calib_keys = _read_scene_index(doc, sj, problems)

    # calibration: the first sample's; others must agree
    calib = read_calibration(root / "calibration" / f"{calib_keys[0]}.json")
    for ck in sorted(set(calib_keys) - {calib_keys[0]}):
        try:
            other = read_calibration(root / "calibration" / f"{ck}.json")
        except DataError as exc:
            problems.append(exc)
            continue
        same = set(other.extrinsics) == set(calib.extrinsics) and all(
            other.extrinsics[n].allclose(calib.extrinsics[n], atol=1e-6) and other.intrinsics[n] == calib.intrinsics[n]
            for n in calib.extrinsics
        )
        if not same:
            problems.append(CalibrationError(other.path, f"differs from {calib.path.name}, used for the whole scene"))

    kind_of = {d.name: d.kind for sd in sample_datums for d in sd.values()}
    lidar_names = sorted(n for n, k in kind_of.items() if k == "lidar")
    if not lidar_names:
        raise CorruptFileError(sj, "the samples hold no point_cloud datum to use as the reference")
    reference = "LIDAR" if "LIDAR" in lidar_names else lidar_names[0]
    rig = _rig(calib, reference, sample_datums, problems)
    # the reference first, then the other sensors by name
    used = [reference, *sorted(n for n in kind_of if n != reference and n in rig.sensor_names)]

    # frames: the samples with a reference datum; the other streams come from the same sample
    frame_samples = [i for i, sd in enumerate(sample_datums) if reference in sd]
    if len(frame_samples) < len(sample_datums):
        missing = len(sample_datums) - len(frame_samples)
        problems.append(CorruptFileError(sj, f"{missing} sample(s) have no {reference} datum; not shown"))
    ref = [sample_datums[i][reference] for i in frame_samples]
    if any(b.t_abs <= a.t_abs for a, b in itertools.pairwise(ref)):
        raise CorruptFileError(sj, f"{reference} timestamps do not increase from sample to sample")
    origin = min(sample_datums[i][n].t_abs for i in frame_samples for n in sample_datums[i] if n in used)

    streams: dict[str, Stream] = {}
    files: dict[str, list[Path]] = {}
    formats: dict[str, tuple[list[Any], list[Any]]] = {}
    assoc: dict[int, dict[str, int]] = {f: {} for f in range(len(frame_samples))}
    for n in used:
        ts: list[int] = []
        for f, i in enumerate(frame_samples):
            d = sample_datums[i].get(n)
            if d is not None:
                assoc[f][n] = len(ts)
                ts.append(d.t_abs - origin)
                files.setdefault(n, []).append(root / d.filename)
                formats.setdefault(n, d.point_format)
        streams[n] = Stream(n, kind_of[n], np.array(ts, dtype=np.int64))

    # ego poses: T_world_ego = T_world_sensor @ inv(T_ego_sensor) of the reference datums
    T_sensor_ego = rig.T_ego_sensor(reference).inverse()
    frame_poses = {f: d.pose @ T_sensor_ego for f, d in enumerate(ref) if d.pose is not None}
    ego_poses: PoseTrack | None = None
    if len(frame_poses) == len(ref):
        ego_poses = PoseTrack(streams[reference].timestamps_ns, tuple(frame_poses[f] for f in range(len(ref))))
    elif frame_poses:
        problems.append(CorruptFileError(sj, f"only some {reference} datums have a pose; ego poses not used"))
        frame_poses = {}

    # labels: the reference datums' bounding_box_3d files
    box_files = {f: root / d.box3d for f, d in enumerate(ref) if d.box3d}
    onto = _mapping(doc.get("ontologies"), "ontologies", sj, required=False).get(str(BOUNDING_BOX_3D))
    ontology_path = root / "ontology" / f"{onto}.json" if isinstance(onto, str) and onto else None
    if box_files and ontology_path is not None and not ontology_path.is_file():
        problems.append(DataError(ontology_path, "bounding_box_3d ontology is missing; labels cannot be read"))

    rate = streams[reference].rate_hz
    origin_s, origin_frac = divmod(origin, 1_000_000_000)
    origin_day = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=origin_s)
    scene_name = doc.get("name")
    return DGPRecording(
        path=root,
        format="dgp",
        rig=rig,
        streams=streams,
        reference=reference,
        tolerance_ns=max(DEFAULT_TOLERANCE_NS, int(0.5e9 / rate) if rate > 0 else 0),
        ego_poses=ego_poses,
        problems=problems,
        scene_json=sj,
        scene_name=scene_name if isinstance(scene_name, str) and scene_name else root.name,
        time_origin_utc=f"{origin_day:%Y-%m-%dT%H:%M:%S}.{origin_frac:09d}Z",
        files=files,
        point_formats=formats,
        keyframe_assoc=assoc,
        frame_poses=frame_poses,
        box_files=box_files,
        ontology_path=ontology_path,
        _origin_ns=origin,
    )


@dataclass(frozen=True)
class _Datum:
    """What the reader keeps of one scene ``data`` entry (an image or point-cloud datum)."""

    name: str
    kind: SensorKind
    t_abs: int  # ns since the Unix epoch (may exceed int64)
    filename: str
    pose: Transform | None  # T_world_sensor
    box3d: str | None  # bounding_box_3d annotation file, relative to the scene folder
    size: tuple[int, int]  # image (width, height)
    point_format: tuple[list[Any], list[Any]]  # (point_format, point_fields)


def _read_datum(raw: Any, where: str, sj: Path) -> tuple[str, _Datum | str]:
    """``(key, datum)`` of one ``data`` entry, or ``(key, kind)`` for a kind this reader skips."""
    d = _mapping(raw, where, sj)
    key = d.get("key")
    if not isinstance(key, str) or not key:
        raise CorruptFileError(sj, f"{where}: missing 'key'")
    ident = _mapping(d.get("id"), f"{where}.id", sj)
    sensor = ident.get("name")
    if not isinstance(sensor, str) or not sensor:
        raise CorruptFileError(sj, f"{where}.id: missing 'name'")
    if "timestamp" not in ident:
        raise CorruptFileError(sj, f"{where}.id: missing 'timestamp'")
    try:
        t_abs = parse_timestamp_ns(ident["timestamp"])
    except ValueError as exc:
        raise CorruptFileError(sj, f"{where}.id: {exc}") from None
    value = _mapping(d.get("datum"), f"{where}.datum", sj)
    kinds = [k for k in value if value[k] is not None]
    if len(kinds) != 1:
        raise CorruptFileError(sj, f"{where}.datum: expected one datum type, got {kinds or 'none'}")
    kind = kinds[0]
    if kind not in _DATUM_KINDS:
        return key, kind
    at = f"{where}.datum.{kind}"
    body = _mapping(value[kind], at, sj)
    fname = body.get("filename")
    if not isinstance(fname, str) or not fname:
        raise CorruptFileError(sj, f"{at}: missing 'filename'")
    box3d = _mapping(body.get("annotations"), f"{at}.annotations", sj, required=False).get(str(BOUNDING_BOX_3D))
    if box3d is not None and (not isinstance(box3d, str) or not box3d):
        raise CorruptFileError(sj, f"{at}.annotations: bad bounding_box_3d file {box3d!r}")
    return key, _Datum(
        name=sensor,
        kind=_DATUM_KINDS[kind],
        t_abs=t_abs,
        filename=fname,
        pose=_pose(body.get("pose"), f"{at}.pose", sj, allow_empty=True),
        box3d=box3d,
        size=(_int(body, "width", at, sj), _int(body, "height", at, sj)),
        point_format=(list(body.get("point_format") or []), list(body.get("point_fields") or [])),
    )


def _read_scene_index(
    doc: Mapping[str, Any], sj: Path, problems: list[DataError]
) -> tuple[list[dict[str, _Datum]], list[str]]:
    """Each sample's datums by sensor name, and each sample's calibration key."""
    for part in ("samples", "data"):
        if not isinstance(doc.get(part), list):
            raise CorruptFileError(sj, f"missing list '{part}' (a DGP Scene has samples and data)")
    if not doc["samples"]:
        raise CorruptFileError(sj, "the scene has no samples")
    datums: dict[str, _Datum] = {}
    skipped: dict[str, str] = {}
    for i, raw in enumerate(doc["data"]):
        key, d = _read_datum(raw, f"data[{i}]", sj)
        if key in datums or key in skipped:
            raise CorruptFileError(sj, f"data[{i}]: datum key {key} appears twice")
        if isinstance(d, str):
            skipped[key] = d
        else:
            datums[key] = d
    for kind in sorted(set(skipped.values())):
        count = sum(1 for k in skipped.values() if k == kind)
        problems.append(UnsupportedFormatError(sj, f"{count} '{kind}' datum(s) are not read by FusionLabel"))

    sample_datums: list[dict[str, _Datum]] = []
    calib_keys: list[str] = []
    for i, raw in enumerate(doc["samples"]):
        where = f"samples[{i}]"
        s = _mapping(raw, where, sj)
        keys = s.get("datum_keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise CorruptFileError(sj, f"{where}: missing list 'datum_keys'")
        by_name: dict[str, _Datum] = {}
        for k in keys:
            if k in skipped:
                continue
            if k not in datums:
                raise CorruptFileError(sj, f"{where}: datum key {k} is not in 'data' (broken reference)")
            if datums[k].name in by_name:
                raise CorruptFileError(sj, f"{where}: two datums named {datums[k].name}")
            by_name[datums[k].name] = datums[k]
        sample_datums.append(by_name)
        ck = s.get("calibration_key")
        if not isinstance(ck, str) or not ck:
            raise CorruptFileError(sj, f"{where}: missing 'calibration_key'")
        calib_keys.append(ck)
    return sample_datums, calib_keys


def _rig(calib: Calibration, reference: str, sample_datums: list[dict[str, _Datum]], problems: list[DataError]) -> Rig:
    """Cameras and LiDARs of the sensors the samples use; an uncalibrated sensor is reported, not shown."""
    cameras: dict[str, Camera] = {}
    lidars: dict[str, Lidar] = {}
    first: dict[str, _Datum] = {}
    for sd in sample_datums:
        for n, d in sd.items():
            first.setdefault(n, d)
    for n, d in sorted(first.items()):
        hit = [c for c in calib.extrinsics if c == n] or [c for c in calib.extrinsics if c.lower() == n.lower()]
        if len(hit) != 1:
            err = CalibrationError(calib.path, f"sensor {n} has no calibration entry; its datums are not shown")
            if n == reference:
                raise err
            problems.append(err)
        elif d.kind == "lidar":
            lidars[n] = Lidar(n, calib.extrinsics[hit[0]])
        else:
            try:
                cameras[n] = _camera(
                    n, calib.intrinsics[hit[0]], calib.extrinsics[hit[0]], d.size, f"intrinsics of {hit[0]}", calib.path
                )
            except CalibrationError as exc:
                problems.append(CalibrationError(exc.path, f"{exc.reason}; camera {n} not shown"))
    return Rig(cameras, lidars, {})
