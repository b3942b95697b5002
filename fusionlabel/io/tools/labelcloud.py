"""labelCloud labels: one JSON file per point cloud, in its *centroid* or *vertices* format.

Followed: ch-sa/labelCloud ``labelCloud/io/labels/centroid.py``, ``vertices.py``, ``base.py``
(``abs2rel_rotation``), ``labelCloud/model/bbox.py`` (vertex order, rotation order) and
``docs/documentation.md``::

    {"folder": "pointclouds", "filename": "000001.pcd", "path": "pointclouds/000001.pcd",
     "objects": [{"name": "Car",
                  "centroid": {"x": 5.0, "y": 0.0, "z": 0.8},
                  "dimensions": {"length": 4.0, "width": 1.8, "height": 1.6},
                  "rotations": {"x": 0.0, "y": 0.0, "z": 90.0}}]}

    {"objects": [{"name": "Car", "vertices": [[x, y, z], ... 8 corners]}]}

Conventions: boxes in the point cloud's frame (the LiDAR), ``centroid`` the box centre,
``length`` along the box's own x axis, ``width`` y, ``height`` z. ``rotations`` are applied
x first, then y, then z about fixed axes (``R = Rz Ry Rx``), so the z rotation is the yaw. They
are degrees in ``0..360`` in the ``centroid_abs`` format (labelCloud's default) and radians in
``-pi..pi`` in ``centroid_rel``; the file does not say which: a negative angle means radians, any
other file is read as degrees unless the reader is told (``LabelCloudFormat(rotation_unit=...)``).
Vertices: ``0..3`` the bottom face, ``4..7`` the top, vertex 0 at ``(-l/2, -w/2, -h/2)``,
``1`` at ``(-l/2, +w/2)``, ``2`` at ``(+l/2, +w/2)``, ``3`` at ``(+l/2, -w/2)`` in box axes.

labelCloud has no object identity and no attributes: every box is its own track unless the file
carries ``fusionlabel_track_id`` / ``fusionlabel_attributes``, which our export writes beside the
fields labelCloud reads (labelCloud ignores them), so our own round trip keeps both.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fusionlabel.core.errors import DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.io.tools.common import (
    ToolBox,
    ToolContext,
    boxes_in_sensor,
    build_labelset,
    extra_attributes,
    fail,
    items,
    json_files,
    json_head,
    load_json,
    text,
    tilt_attributes,
    tilt_of,
    vector,
    write_json,
)

RotationUnit = Literal["auto", "degrees", "radians"]


def _files(path: Path) -> list[Path]:
    return [path] if path.is_file() else json_files(path) if path.is_dir() else []


def sniff(path: Path) -> bool:
    files = _files(path)
    if not files or files[0].suffix != ".json":
        return False
    head = json_head(files[0])
    return b'"objects"' in head and (b'"centroid"' in head or b'"vertices"' in head) and b'"psr"' not in head


def _box_from_vertices(v: list[list[float]], f: Path, where: str) -> tuple[list[float], float, float]:
    """``[x, y, z, l, w, h, yaw]`` and the tilt ``(x, y)`` (radians, ``R = Rz Ry Rx``) of 8 vertices."""
    P = np.asarray(v, dtype=np.float64)
    centre = (P[2] + P[4]) / 2.0
    ex, ey, ez = P[3] - P[0], P[1] - P[0], P[4] - P[0]
    l, w, h = (float(np.linalg.norm(e)) for e in (ex, ey, ez))
    if min(l, w, h) <= 0:
        raise fail(f, where, "'vertices' do not span a box (an edge has zero length)")
    R = np.stack([ex / l, ey / w, ez / h], axis=1)
    if not np.allclose(R.T @ R, np.eye(3), atol=1e-3) or np.linalg.det(R) <= 0:
        raise fail(f, where, "'vertices' are not the corners of a box in labelCloud's order (0-3 bottom, 4-7 top)")
    if not np.allclose(P[1] + ex, P[2], atol=1e-3 * max(l, w, h)):
        raise fail(f, where, "'vertices' are not the corners of a box in labelCloud's order (0-3 bottom, 4-7 top)")
    yaw = math.atan2(R[1, 0], R[0, 0])
    ry = -math.asin(max(-1.0, min(1.0, R[2, 0])))
    rx = math.atan2(R[2, 1], R[2, 2])
    tilt = (rx if abs(rx) > 1e-12 else 0.0, ry if abs(ry) > 1e-12 else 0.0)
    return [*centre.tolist(), l, w, h, yaw], *tilt


def read_labelcloud(path: str | Path, ctx: ToolContext | None = None, rotation_unit: RotationUnit = "auto") -> LabelSet:
    """Read a labelCloud label folder (or one label file); frames by file name (see the module docstring).

    ``rotation_unit``: ``"degrees"`` (``centroid_abs``), ``"radians"`` (``centroid_rel``) or
    ``"auto"`` (radians if any angle of the input is negative, else degrees).
    """
    path = Path(path)
    ctx = ctx or ToolContext()
    if not path.exists():
        raise DataError(path, "no such file or folder")
    files = _files(path)
    if not files:
        raise DataError(path, "no labelCloud label files (*.json)")
    docs = []
    for f in files:
        doc = load_json(f, "labelCloud label file")
        objs = items(doc, "objects", f, f"frame {f.stem}")
        docs.append((f, objs))
    unit = rotation_unit
    if unit == "auto":
        neg = any(
            isinstance(o, dict)
            and isinstance(o.get("rotations"), dict)
            and any(isinstance(a, (int, float)) and a < 0 for a in o["rotations"].values())
            for _, objs in docs
            for o in objs
        )
        unit = "radians" if neg else "degrees"
    scale = math.pi / 180.0 if unit == "degrees" else 1.0
    index = ctx.indices([f.stem for f, _ in docs], path)
    boxes: list[ToolBox] = []
    for f, objs in docs:
        k = index[f.stem]
        for j, o in enumerate(objs):
            where = f"frame {f.stem}, object {j}"
            if not isinstance(o, dict):
                raise fail(f, where, f"an object must be a JSON object, got {type(o).__name__}")
            cat = text(o, "name", f, where)
            if "vertices" in o:
                vs = items(o, "vertices", f, where)
                if len(vs) != 8:
                    raise fail(f, where, f"'vertices' must list 8 corners, got {len(vs)}")
                corners = [vector({f"vertices[{i}]": p}, f"vertices[{i}]", f, where) for i, p in enumerate(vs)]
                box, rx, ry = _box_from_vertices(corners, f, where)
            else:
                c = vector(o, "centroid", f, where)
                d = vector(o, "dimensions", f, where, keys=("length", "width", "height"), positive=True)
                r = [a * scale for a in vector(o, "rotations", f, where)]
                rx, ry = (math.atan2(math.sin(a), math.cos(a)) for a in r[:2])
                box = [*c, *d, r[2]]
            key = o.get("fusionlabel_track_id")
            if key is not None and (isinstance(key, bool) or not isinstance(key, int) or key < 0):
                raise fail(f, where, f"'fusionlabel_track_id' must be a non-negative integer, got {key!r}")
            attrs: dict[str, Any] = dict(o.get("fusionlabel_attributes") or {})
            attrs.update(tilt_attributes(rx, ry))
            boxes.append(ToolBox(k, None if key is None else str(key), cat, box, attrs, 1.0, where))
    return build_labelset(boxes, ctx.T_ego_sensor, path)


def write_labelcloud(
    path: str | Path, labels: LabelSet, ctx: ToolContext | None = None, rotation_unit: RotationUnit = "degrees"
) -> None:
    """Write ``path/<frame>.json`` per labelled frame in the centroid format (``centroid_abs``:
    degrees ``0..360``, labelCloud's default; ``rotation_unit="radians"``: ``centroid_rel``)."""
    path = Path(path)
    ctx = ctx or ToolContext()
    deg = rotation_unit != "radians"

    def angle(a: float) -> float:
        return math.degrees(a) % 360.0 if deg else math.atan2(math.sin(a), math.cos(a))

    for k, rows in boxes_in_sensor(labels, ctx.T_ego_sensor).items():
        name = ctx.name_of(k)
        objs = []
        for b in rows:
            rx, ry = tilt_of(b.attributes)
            x, y, z, l, w, h, yaw = b.box
            o: dict[str, Any] = {
                "name": b.category,
                "centroid": {"x": x, "y": y, "z": z},
                "dimensions": {"length": l, "width": w, "height": h},
                "rotations": {"x": angle(rx), "y": angle(ry), "z": angle(yaw)},
                "fusionlabel_track_id": b.track_id,
            }
            extra = extra_attributes(b.attributes)
            if extra:
                o["fusionlabel_attributes"] = extra
            objs.append(o)
        doc = {"folder": "pointclouds", "filename": f"{name}.pcd", "path": f"pointclouds/{name}.pcd", "objects": objs}
        write_json(path / f"{name}.json", doc)
