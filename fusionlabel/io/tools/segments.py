"""Segments.ai releases of ``pointcloud-cuboid-sequence`` datasets: one release JSON file.

Followed: segments-ai/segments-ai ``src/segments/typing.py`` (``Release``, ``Dataset``,
``PointcloudSequenceCuboidLabelAttributes``, ``PointcloudSequenceCuboidFrame``,
``PointcloudSequenceCuboidAnnotation``: ``id``, ``category_id``, ``position``, ``dimensions``,
``yaw``, optional ``rotation`` quaternion ``qx qy qz qw``, ``track_id``, ``is_keyframe``,
``attributes``) and docs.segments.ai "Structure of the release file" / "Sample formats"::

    {"name": "v0.1", "dataset": {"name": "drive", "task_type": "pointcloud-cuboid-sequence",
      "task_attributes": {"categories": [{"id": 1, "name": "Car"}]},
      "samples": [{"name": "seq-1", "attributes": {"frames": [{"name": "000000", "timestamp": 1700000000000000000,
                                                              "pcd": {"url": "...", "type": "pcd"}}]},
                   "labels": {"ground-truth": {"label_status": "LABELED", "attributes": {"format_version": "0.2",
                     "frames": [{"timestamp": 1700000000000000000, "annotations": [
                       {"id": 1, "category_id": 1, "type": "cuboid", "track_id": 1, "is_keyframe": true,
                        "position": {"x": 5.0, "y": 0.0, "z": 0.8}, "dimensions": {"x": 4.0, "y": 1.8, "z": 1.6},
                        "yaw": 0.3, "attributes": {}}]}]}}}}]}}

Conventions: boxes in the frame of the sample's point clouds (the LiDAR), ``position`` the centre,
``dimensions`` the extent along the box's x (heading), y and z, ``yaw`` radians about +z (the
``rotation`` quaternion, when present, is the full rotation: its heading is the yaw and its tilt is
kept as three.js ``rotation_x``/``rotation_y``). When the sample's frames carry an ``ego_pose``
(the sensor's pose), Segments.ai shows the sequence in that world frame and its cuboids are
there: each box is moved into its frame's sensor frame with the inverse pose. ``track_id`` is the
identity, ``category_id`` the class (the dataset's categories), ``attributes`` are kept
(and ``is_keyframe`` where it is false); frame ``timestamp`` (nanoseconds) becomes the frame time. A release
with several samples is refused unless one is named (``sample=``); the label set is
``ground-truth`` or, when there is only one, that one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.errors import DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.transforms import Transform, quaternions_to_matrices
from fusionlabel.io.tools.common import (
    ToolBox,
    ToolContext,
    boxes_in_sensor,
    build_labelset,
    euler_xyz,
    extra_attributes,
    fail,
    field_of,
    items,
    json_head,
    load_json,
    matrix_xyz,
    number,
    tilt_attributes,
    tilt_of,
    vector,
    write_json,
    z_for_heading_xyz,
)

TASK_TYPE = "pointcloud-cuboid-sequence"


def sniff(path: Path) -> bool:
    head = json_head(path, 16384) if path.is_file() else b""
    return b'"dataset"' in head and b"pointcloud-cuboid" in head


def _time(v: Any) -> int | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v)
    return None


def read_segments(
    path: str | Path, ctx: ToolContext | None = None, sample: str | None = None
) -> tuple[LabelSet, dict[int, int]]:
    """Read a release file: the labels and the frame times it gives (see the module docstring)."""
    path = Path(path)
    ctx = ctx or ToolContext()
    if not path.is_file():
        raise DataError(path, "no such release file")
    doc = load_json(path, "Segments.ai release file")
    ds = field_of(doc, "dataset", path, "")
    task = ds.get("task_type") if isinstance(ds, dict) else None
    if task != TASK_TYPE:
        raise fail(path, "dataset.task_type", f"expected {TASK_TYPE!r}, got {task!r}")
    cats = {}
    for i, c in enumerate(items(ds, "task_attributes.categories", path, "dataset")):
        if (
            not isinstance(c, dict)
            or isinstance(c.get("id"), bool)
            or not isinstance(c.get("id"), int)
            or not isinstance(c.get("name"), str)
        ):
            raise fail(
                path, f"dataset.task_attributes.categories[{i}]", "a category needs an integer 'id' and a 'name'"
            )
        cats[c["id"]] = c["name"]
    samples = items(ds, "samples", path, "dataset")
    names = [str(s.get("name")) if isinstance(s, dict) else "?" for s in samples]
    if sample is not None:
        samples = [s for s, n in zip(samples, names) if n == sample]
        if not samples:
            raise DataError(path, f"no sample {sample!r}; the release has {', '.join(names)}")
    if len(samples) != 1:
        raise DataError(path, f"the release has {len(samples)} samples ({', '.join(names)}): name one (sample=)")
    s = samples[0]
    sname = str(s.get("name"))
    labelsets = items(s, "labels", path, f"sample {sname}", dict)
    ls_name = (
        "ground-truth" if "ground-truth" in labelsets else next(iter(labelsets), None) if len(labelsets) == 1 else None
    )
    if ls_name is None:
        raise fail(path, f"sample {sname}", f"no 'ground-truth' label set among {sorted(labelsets)}")
    label = labelsets[ls_name]
    frames = items(label, "attributes.frames", path, f"sample {sname}, labels {ls_name}") if label else []
    sframes = (s.get("attributes") or {}).get("frames") or []
    if sframes and len(sframes) != len(frames):
        raise fail(path, f"sample {sname}", f"{len(sframes)} sample frames but {len(frames)} label frames")
    fnames = []
    for i in range(len(frames)):
        n = sframes[i].get("name") if i < len(sframes) and isinstance(sframes[i], dict) else None
        fnames.append(Path(str(n)).name.split(".")[0] if n else f"{i:06d}")
    index = ctx.indices(fnames, path) if ctx.frame_names else {n: i for i, n in enumerate(fnames)}
    boxes: list[ToolBox] = []
    times: dict[int, int] = {}
    for i, fr in enumerate(frames):
        k = index[fnames[i]]
        fw = f"frame {fnames[i]}"
        if not isinstance(fr, dict):
            raise fail(path, fw, "a frame must be a JSON object")
        sf = sframes[i] if i < len(sframes) and isinstance(sframes[i], dict) else {}
        t = _time(fr.get("timestamp", sf.get("timestamp")))
        if t is not None:
            times[k] = t
        T_sensor_world = Transform.identity()
        if sf.get("ego_pose") is not None:
            pos = vector(sf, "ego_pose.position", path, fw)
            q = vector(sf, "ego_pose.heading", path, fw, keys=("qx", "qy", "qz", "qw"))
            try:
                R = quaternions_to_matrices([q[3], q[0], q[1], q[2]])[0]
            except ValueError as exc:
                raise fail(path, fw, f"'ego_pose.heading': {exc}") from None
            T_sensor_world = Transform.from_rt(R, pos).inverse()
        for a_i, ann in enumerate(fr.get("annotations") or []):
            where = f"{fw}, annotation {a_i}"
            if not isinstance(ann, dict) or ann.get("type") not in ("cuboid", "cuboid-sync"):
                continue
            cid = ann.get("category_id")
            if cid not in cats:
                raise fail(path, where, f"'category_id' {cid!r} is not one of the dataset's categories {sorted(cats)}")
            tid = ann.get("track_id", ann.get("id"))
            if isinstance(tid, bool) or not isinstance(tid, int) or tid < 0:
                raise fail(path, where, f"'track_id' must be a non-negative integer, got {tid!r}")
            c = np.array(vector(ann, "position", path, where))
            d = vector(ann, "dimensions", path, where, positive=True)
            if ann.get("rotation") is not None:
                q = vector(ann, "rotation", path, where, keys=("qx", "qy", "qz", "qw"))
                try:
                    R = quaternions_to_matrices([q[3], q[0], q[1], q[2]])[0]
                except ValueError as exc:
                    raise fail(path, where, f"'rotation': {exc}") from None
            else:
                R = matrix_xyz(0.0, 0.0, number(ann, "yaw", path, where))
            R = T_sensor_world.rotation @ R
            c = T_sensor_world.apply(c[None])[0]
            rx, ry, _rz = euler_xyz(R)
            attrs: dict[str, Any] = dict(ann.get("attributes") or {})
            if ann.get("is_keyframe") is False:
                attrs["is_keyframe"] = False
            attrs.update(tilt_attributes(*(a if abs(a) > 1e-12 else 0.0 for a in (rx, ry))))
            yaw = math.atan2(R[1, 0], R[0, 0])
            boxes.append(ToolBox(k, str(tid), cats[cid], [*c.tolist(), *d, yaw], attrs, 1.0, where))
    return build_labelset(boxes, ctx.T_ego_sensor, path), times


def write_segments(path: str | Path, labels: LabelSet, ctx: ToolContext | None = None) -> None:
    """Write a release file with one sample (``ctx.name``) holding every frame of ``ctx`` (or of
    the labels), boxes in the sensor frame, no ego poses."""
    path = Path(path)
    ctx = ctx or ToolContext()
    rows = boxes_in_sensor(labels, ctx.T_ego_sensor)
    cats = sorted({b.category for bs in rows.values() for b in bs})
    cid = {c: i + 1 for i, c in enumerate(cats)}
    n = max(max(rows, default=-1), max(ctx.frame_names, default=-1)) + 1
    sframes, lframes = [], []
    for k in range(n):
        sf: dict[str, Any] = {"name": ctx.name_of(k), "pcd": {"url": f"{ctx.name_of(k)}.pcd", "type": "pcd"}}
        lf: dict[str, Any] = {"format_version": "0.2", "annotations": []}
        if k in ctx.timestamps_ns:
            sf["timestamp"] = lf["timestamp"] = int(ctx.timestamps_ns[k])
        for b in rows.get(k, []):
            rx, ry = tilt_of(b.attributes)
            x, y, z, l, w, h, yaw = b.box
            a: dict[str, Any] = {
                "id": b.track_id,
                "category_id": cid[b.category],
                "type": "cuboid",
                "position": {"x": x, "y": y, "z": z},
                "dimensions": {"x": l, "y": w, "z": h},
                "yaw": yaw,
                "track_id": b.track_id,
                "is_keyframe": b.attributes.get("is_keyframe", True) is not False,
                "attributes": extra_attributes(b.attributes, drop=("is_keyframe",)),
            }
            if rx or ry:
                qw, qx, qy, qz = Transform.from_rt(
                    matrix_xyz(rx, ry, z_for_heading_xyz(rx, ry, yaw)), [0, 0, 0]
                ).quaternion.elements
                a["rotation"] = {"qx": qx, "qy": qy, "qz": qz, "qw": qw}
            lf["annotations"].append(a)
        sframes.append(sf)
        lframes.append(lf)
    doc = {
        "name": "fusionlabel",
        "description": f"exported by FusionLabel from {ctx.name}",
        "dataset": {
            "name": ctx.name,
            "task_type": TASK_TYPE,
            "task_attributes": {"format_version": "0.1", "categories": [{"id": cid[c], "name": c} for c in cats]},
            "samples": [
                {
                    "name": ctx.name,
                    "attributes": {"frames": sframes},
                    "labels": {
                        "ground-truth": {
                            "label_status": "LABELED",
                            "attributes": {"format_version": "0.2", "frames": lframes},
                        }
                    },
                }
            ],
        },
    }
    write_json(path, doc)
