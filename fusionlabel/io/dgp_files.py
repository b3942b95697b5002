"""The single DGP files of a scene: calibration, ontology, point clouds and 3D boxes.

Each reader takes one file (conventions in :mod:`fusionlabel.io.dgp`; sources:
``dgp/proto/*.proto`` and ``dgp/datasets/base_dataset.py`` of TRI-ML/dgp) and knows nothing about
scenes or recordings:

* :func:`read_calibration`: ``calibration/<key>.json``, ``extrinsics[i]`` is sensor ``names[i]``
  in the vehicle (ego) frame, ``T_ego_sensor``; pinhole intrinsics with Brown-Conrady distortion
  (other lens models raise :class:`CalibrationError`).
* :func:`read_ontology`: ``ontology/<hash>.json``, class id -> name (mapped to our categories by
  :data:`CATEGORY_MAP`, :func:`canonical_category`).
* :func:`read_point_cloud_npz`: ``point_cloud/<SENSOR>/*.npz``, points in the LiDAR's frame.
* :func:`read_boxes`: ``bounding_box_3d/<SENSOR>/*.json``, boxes converted to the ego frame by
  :func:`dgp_boxes_to_ego`.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError
from fusionlabel.core.frames import PointCloud
from fusionlabel.core.transforms import Transform
from fusionlabel.io.dgp_json import _check_unit, _float, _int, _mapping, _pose, _pose_parts, _read_json

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
    """Upper-case column names of a point-cloud array; see :mod:`fusionlabel.io.dgp`."""
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
