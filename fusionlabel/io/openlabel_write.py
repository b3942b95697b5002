"""OpenLABEL 1.0 export: ego-frame labels, the rig and the ego poses as a schema-valid document.

:func:`labels_to_openlabel` builds the document (layout, coordinate systems, intrinsics and
conventions: :mod:`fusionlabel.io.openlabel`); :func:`write_openlabel` validates it and writes it
atomically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel import __version__
from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera, Rig
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.transforms import Transform
from fusionlabel.io.openlabel_schema import (
    BOX_CONVENTION,
    CUBOID_NAME,
    EGO_CS,
    RESERVED_CS,
    SCHEMA_VERSION,
    WORLD_CS,
    encode_attributes,
    validate_openlabel,
)


# -- helpers ------------------------------------------------------------------------------------
def _intervals(frames: list[int]) -> list[dict[str, int]]:
    """Sorted frame numbers -> maximal runs ``[{"frame_start": a, "frame_end": b}]``."""
    runs: list[dict[str, int]] = []
    for f in frames:
        if runs and f == runs[-1]["frame_end"] + 1:
            runs[-1]["frame_end"] = f
        else:
            runs.append({"frame_start": f, "frame_end": f})
    return runs


def _matrix16(T: Transform) -> list[float]:
    return [float(v) for v in np.asarray(T.matrix, dtype=np.float64).reshape(-1)]


def _cuboid_val(boxes: Boxes) -> list[list[float]]:
    q = boxes.quaternions()  # (N, 4) w x y z
    vals = np.hstack([boxes.center, q[:, [1, 2, 3, 0]], boxes.size])
    return [[float(v) for v in row] for row in vals]


def _pinhole_intrinsics(cam: Camera) -> dict[str, Any]:
    """``intrinsics_pinhole`` of ``cam`` in both spellings (schema and ``vcd``)."""
    P = [float(v) for v in np.hstack([cam.K, np.zeros((3, 1))]).reshape(-1)]  # [K | 0], row-major
    D = [float(v) for v in cam.D] + [0.0] * max(0, 5 - len(cam.D))  # (k1 k2 p1 p2 k3 [k4 k5 k6])
    return {
        "width_px": cam.width,
        "height_px": cam.height,
        "camera_matrix_3x4": P,
        "distortion_coeffs_1xN": D,
        "camera_matrix": list(P),
        "distortion_coeffs": list(D),
    }


def _fisheye_intrinsics(cam: Camera) -> dict[str, Any]:
    """``intrinsics_fisheye`` of an OpenCV-fisheye ``cam`` as the Kannala polynomial.

    OpenCV: ``theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8)``;
    Kannala (``vcd``): ``r = c1 theta + c2 theta^3 + c3 theta^5 + c4 theta^7 + c5 theta^9``, so
    ``c = (1, k1, k2, k3, k4)``; pixels ``u = fx r cos(phi) + cx``, ``v = fy r sin(phi) + cy``.
    """
    if abs(float(cam.K[0, 1])) > 0.0:
        raise ValueError(f"camera {cam.name}: a fisheye camera with skew has no OpenLABEL lens model")
    c = [1.0, *(float(v) for v in cam.D)]
    fx, fy, cx, cy = (float(cam.K[0, 0]), float(cam.K[1, 1]), float(cam.K[0, 2]), float(cam.K[1, 2]))
    return {
        "width_px": cam.width,
        "height_px": cam.height,
        "focal_length_x": fx,
        "focal_length_y": fy,
        "center_x": cx,
        "center_y": cy,
        "center_x_px": cx,
        "center_y_px": cy,
        "model": "kannala",
        "lens_coeffs_1xN": c,
        "lens_coeffs": list(c),
    }


def _camera_stream_properties(cam: Camera) -> dict[str, Any]:
    """The stream properties ``vcd.scl`` builds ``cam`` from (see :mod:`fusionlabel.io.openlabel`)."""
    if cam.model == "fisheye" and np.any(cam.D):
        return {"intrinsics_fisheye": _fisheye_intrinsics(cam)}
    # our projection treats a fisheye without coefficients as a pinhole (projection.distort)
    return {"intrinsics_pinhole": _pinhole_intrinsics(cam)}


def _streams_and_cs(rig: Rig | None, with_world: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """``streams`` and the static ``coordinate_systems`` tree (see :mod:`fusionlabel.io.openlabel`).

    Raises
    ------
    ValueError : a sensor takes a reserved name, or a camera cannot be described
    """
    cs: dict[str, Any] = {}
    if with_world:
        cs[WORLD_CS] = {"type": "scene_cs", "parent": "", "children": [EGO_CS]}
    cs[EGO_CS] = {"type": "local_cs", "parent": WORLD_CS if with_world else "", "children": []}
    streams: dict[str, Any] = {}
    if rig is None:
        return streams, cs
    sensors: list[tuple[str, str, Transform]] = []
    sensors += [(n, "lidar", s.T_ego_lidar) for n, s in rig.lidars.items()]
    sensors += [(n, "camera", c.T_ego_cam) for n, c in rig.cameras.items()]
    sensors += [(n, "radar", r.T_ego_radar) for n, r in rig.radars.items()]
    for name, kind, T in sensors:
        if name in RESERVED_CS:
            raise ValueError(f"sensor name {name!r} clashes with a reserved coordinate system name")
        cs[EGO_CS]["children"].append(name)
        cs[name] = {
            "type": "sensor_cs",
            "parent": EGO_CS,
            "children": [],
            "pose_wrt_parent": {"matrix4x4": _matrix16(T)},  # T_ego_sensor: X_ego = M X_sensor
        }
        st: dict[str, Any] = {"type": kind, "uri": name}
        if kind == "camera":
            cam = rig.cameras[name]
            props = _camera_stream_properties(cam)
            model = "pinhole" if "intrinsics_pinhole" in props else "fisheye (Kannala)"
            st["description"] = (
                f"camera {name}: {model}, {cam.width}x{cam.height} px, optical frame x right, y down, z forward"
            )
            st["stream_properties"] = props
        else:
            st["description"] = f"{kind} {name}: x forward, y left, z up"
        streams[name] = st
    return streams, cs


# -- export -------------------------------------------------------------------------------------
def labels_to_openlabel(
    labels: LabelSet,
    timestamps_ns: Mapping[int, int] | None = None,
    rig: Rig | None = None,
    ego_poses: Mapping[int, Transform] | None = None,
    name: str = "",
    object_attributes: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build an OpenLABEL 1.0 document (a JSON-ready dict) from ego-frame labels.

    Parameters
    ----------
    labels : boxes in each frame's ego frame, written in ``vehicle-iso8855``
    timestamps_ns : frame index -> int nanoseconds (frames without one get no timestamp)
    rig : sensors, written as ``streams`` (cameras with the intrinsics ``vcd.scl`` builds its
        camera models from) and ``sensor_cs`` children of ``vehicle-iso8855`` (optional)
    ego_poses : frame index -> ``T_world_ego``, written as per-frame
        ``vehicle-iso8855_to_odom`` transforms under an ``odom`` root
    name : ``metadata.name``
    object_attributes : track id -> attributes that hold for the whole track (a label schema's
        ``track`` attributes), written once per object as its static ``object_data`` (each box
        keeps them in its cuboid's ``attributes`` too, which is what the reader reads back)

    Returns
    -------
    dict : ``{"openlabel": {...}}``, schema-valid (:mod:`fusionlabel.io.openlabel` shows its layout)

    Raises
    ------
    ValueError : an attribute cannot be encoded (a non-finite number), a sensor takes a
        reserved coordinate-system name, or a camera has no OpenLABEL model (a skewed fisheye)
    """
    timestamps_ns = timestamps_ns or {}
    ego_poses = ego_poses or {}
    streams, cs = _streams_and_cs(rig, bool(ego_poses))
    objects: dict[str, Any] = {}
    frames: dict[str, Any] = {}
    obj_frames: dict[int, list[int]] = {}
    obj_attr_kinds: dict[int, dict[str, str]] = {}
    objects_first_type: dict[int, str] = {}
    all_frames = sorted(set(labels.frames) | set(timestamps_ns) | set(ego_poses))
    for k in all_frames:
        fl = labels.get(k)
        fobjs: dict[str, Any] = {}
        vals = _cuboid_val(fl.boxes)
        for j in range(len(fl)):
            tid = int(fl.track_ids[j])
            uid = str(tid)
            cat = fl.categories[j]
            if tid not in objects_first_type:
                objects_first_type[tid] = cat
            cub: dict[str, Any] = {"name": CUBOID_NAME, "val": vals[j], "coordinate_system": EGO_CS}
            try:
                attrs = encode_attributes(fl.attributes[j])
            except ValueError as exc:
                raise ValueError(f"frame {k}, track {tid}: {exc}") from None
            if attrs:
                cub["attributes"] = attrs
                kinds = obj_attr_kinds.setdefault(tid, {})
                for kind, entries in attrs.items():
                    for e in entries:
                        kinds[e["name"]] = kind
            od: dict[str, Any] = {"cuboid": [cub], "num": [{"name": "score", "val": float(fl.scores[j])}]}
            if cat != objects_first_type[tid]:
                od["text"] = [{"name": "category", "val": cat}]
            fobjs[uid] = {"object_data": od}
            obj_frames.setdefault(tid, []).append(k)
        entry: dict[str, Any] = {}
        props: dict[str, Any] = {}
        if k in timestamps_ns:
            t = int(timestamps_ns[k])
            props["timestamp"] = t / 1e9
            props["timestamp_ns"] = t
        if k in ego_poses:
            props["transforms"] = {
                f"{EGO_CS}_to_{WORLD_CS}": {
                    "src": EGO_CS,
                    "dst": WORLD_CS,
                    "transform_src_to_dst": {"matrix4x4": _matrix16(ego_poses[k])},
                }
            }
        if props:
            entry["frame_properties"] = props
        if fobjs:
            entry["objects"] = fobjs
        frames[str(int(k))] = entry
    for tid in sorted(obj_frames):
        fi = _intervals(obj_frames[tid])
        ptr: dict[str, Any] = {
            CUBOID_NAME: {"type": "cuboid", "frame_intervals": fi},
            "score": {"type": "num", "frame_intervals": fi},
        }
        if tid in obj_attr_kinds:
            ptr[CUBOID_NAME]["attribute_pointers"] = dict(sorted(obj_attr_kinds[tid].items()))
        objects[str(tid)] = {
            "name": f"{objects_first_type[tid]} {tid}",
            "type": objects_first_type[tid],
            "coordinate_system": EGO_CS,
            "frame_intervals": fi,
            "object_data_pointers": ptr,
        }
        static = (object_attributes or {}).get(tid)
        if static:
            try:
                objects[str(tid)]["object_data"] = encode_attributes(static)
            except ValueError as exc:
                raise ValueError(f"track {tid}: {exc}") from None
    ol: dict[str, Any] = {
        "metadata": {
            "schema_version": SCHEMA_VERSION,
            "annotator": f"fusionlabel {__version__}",
            "name": name,
            "fusionlabel_box_convention": BOX_CONVENTION,
        },
        "coordinate_systems": cs,
    }
    if streams:
        ol["streams"] = streams
    ol["objects"] = objects
    ol["frames"] = frames
    if all_frames:
        ol["frame_intervals"] = _intervals(all_frames)
    return {"openlabel": ol}


def write_openlabel(
    path: str | Path,
    labels: LabelSet,
    timestamps_ns: Mapping[int, int] | None = None,
    rig: Rig | None = None,
    ego_poses: Mapping[int, Transform] | None = None,
    name: str = "",
    object_attributes: Mapping[int, Mapping[str, Any]] | None = None,
) -> None:
    """Write an OpenLABEL 1.0 file atomically, after validating it against the schema
    (``object_attributes``: :func:`labels_to_openlabel`).

    Raises
    ------
    CorruptFileError : the document we built does not validate (a bug: nothing is written)
    """
    path = Path(path)
    d = labels_to_openlabel(labels, timestamps_ns, rig, ego_poses, name or path.stem, object_attributes)
    validate_openlabel(d, path)
    atomic_write_text(path, json.dumps(d, indent=1, allow_nan=False))
