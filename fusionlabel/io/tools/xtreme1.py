"""Xtreme1 exports of LiDAR (and LiDAR-camera fusion) datasets: ``result/<data>.json`` per frame.

Followed: xtreme1-io/docs ``export-data/data-annotation-result.md`` (the result JSON),
``export-data/folder-structure.md`` (``point_cloud/``, ``camera_config/``, ``image<i>/``,
``result/`` with one file per data item of the same name) and
``product-guides/lidar-annotation-tool/coordinate-system.md`` (boxes in the point cloud's
coordinate system, z up), and xtreme1-io/xtreme1 ``DataResultObjectExportBO.java`` (the exported
object's fields)::

    [{"version": "Xtreme1 V0.6", "dataId": 3091870, "sourceName": "Ground Truth",
      "objects": [{"id": "033D...", "type": "3D_BOX", "classId": 45, "className": "car",
                   "trackId": "-COOq29Lf0S8XAvD", "trackName": "2",
                   "classValues": [{"name": "type", "value": "suv", "isLeaf": true}],
                   "contour": {"center3D": {"x": -3.48, "y": -9.45, "z": 0.56},
                               "size3D": {"x": 4.78, "y": 3.03, "z": 1.58},
                               "rotation3D": {"x": 0, "y": 0, "z": 0.58}, "pointN": 1606},
                   "modelConfidence": null}]}]

A file holds a list of such results (or one); every ``3D_BOX`` object of every result is a box of
the file's frame; 2D objects (``2D_BOX``, ``2D_RECT``, polygons) are ignored.

Conventions: boxes in the point cloud's frame (the LiDAR), ``center3D`` the centre, ``size3D`` the
extent along the box's x (heading), y and z, ``rotation3D`` three.js Euler ``XYZ`` radians.
``trackId`` is the identity (``trackName`` kept as an attribute), ``className`` the class,
``classValues`` become attributes (``name: value``), ``modelConfidence`` the score (1 when null).
Frames are the result files' names, matched to the recording's frames when one is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fusionlabel.core.errors import DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.io.tools.common import (
    ToolBox,
    ToolContext,
    boxes_in_sensor,
    build_labelset,
    extra_attributes,
    fail,
    heading_xyz,
    json_files,
    json_head,
    load_json,
    text,
    tilt_attributes,
    tilt_of,
    vector,
    write_json,
    z_for_heading_xyz,
)

BOX_TYPES = ("3D_BOX", "THREE_D_BOX")


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    folder = path / "result" if (path / "result").is_dir() else path
    return json_files(folder) if folder.is_dir() else []


def sniff(path: Path) -> bool:
    files = _files(path)
    if not files:
        return False
    head = json_head(files[0])
    return b'"objects"' in head and (b'"contour"' in head or b'"trackId"' in head or b"3D_BOX" in head)


def read_xtreme1(path: str | Path, ctx: ToolContext | None = None) -> LabelSet:
    """Read an export folder (``result/``), the result folder or one result file."""
    path = Path(path)
    ctx = ctx or ToolContext()
    if not path.exists():
        raise DataError(path, "no such file or folder")
    files = _files(path)
    if not files:
        raise DataError(path, "no Xtreme1 result files (result/*.json)")
    index = ctx.indices([f.stem for f in files], path)
    boxes: list[ToolBox] = []
    for f in files:
        doc = load_json(f, "Xtreme1 result file")
        results = doc if isinstance(doc, list) else [doc]
        for r_i, res in enumerate(results):
            objs = res.get("objects") if isinstance(res, dict) else None
            if not isinstance(objs, list):
                raise fail(f, f"frame {f.stem}, result {r_i}", "a result needs an 'objects' list")
            for j, o in enumerate(objs):
                where = f"frame {f.stem}, object {j}"
                if not isinstance(o, dict):
                    raise fail(f, where, "an object must be a JSON object")
                if o.get("type") not in BOX_TYPES:
                    continue
                cat = text(o, "className", f, where)
                c = vector(o, "contour.center3D", f, where)
                s = vector(o, "contour.size3D", f, where, positive=True)
                r = vector(o, "contour.rotation3D", f, where)
                tid = o.get("trackId")
                if tid is not None and not isinstance(tid, (str, int)):
                    raise fail(f, where, f"'trackId' must be text, got {tid!r}")
                attrs: dict[str, Any] = {}
                for v_i, cv in enumerate(o.get("classValues") or []):
                    if not isinstance(cv, dict) or not isinstance(cv.get("name"), str):
                        raise fail(f, f"{where}, classValues[{v_i}]", "needs a 'name'")
                    attrs[cv["name"]] = cv.get("value")
                if o.get("trackName") not in (None, "", tid, str(tid)):
                    attrs["track_name"] = o["trackName"]
                score = o.get("modelConfidence")
                if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
                    raise fail(f, where, f"'modelConfidence' must be a number or null, got {score!r}")
                attrs.update(tilt_attributes(r[0], r[1]))
                key = None if tid in (None, "") else str(tid)
                boxes.append(
                    ToolBox(
                        index[f.stem],
                        key,
                        cat,
                        [*c, *s, heading_xyz(*r)],
                        attrs,
                        1.0 if score is None else float(score),
                        where,
                    )
                )
    return build_labelset(boxes, ctx.T_ego_sensor, path)


def write_xtreme1(path: str | Path, labels: LabelSet, ctx: ToolContext | None = None) -> None:
    """Write ``path/result/<frame>.json`` per labelled frame (frames named by ``ctx``)."""
    path = Path(path)
    ctx = ctx or ToolContext()
    for k, rows in boxes_in_sensor(labels, ctx.T_ego_sensor).items():
        objs = []
        for b in rows:
            rx, ry = tilt_of(b.attributes)
            x, y, z, l, w, h, yaw = b.box
            extra = extra_attributes(b.attributes, drop=("track_name",))
            objs.append(
                {
                    "id": f"{k:08d}-{b.track_id}",
                    "type": "3D_BOX",
                    "className": b.category,
                    "trackId": str(b.track_id),
                    "trackName": str(b.attributes.get("track_name", b.track_id)),
                    "classValues": [{"name": n, "value": v, "isLeaf": True} for n, v in extra.items()],
                    "contour": {
                        "center3D": {"x": x, "y": y, "z": z},
                        "size3D": {"x": l, "y": w, "z": h},
                        "rotation3D": {"x": rx, "y": ry, "z": z_for_heading_xyz(rx, ry, yaw)},
                    },
                    "modelConfidence": None if b.score == 1.0 else b.score,
                }
            )
        write_json(
            path / "result" / f"{ctx.name_of(k)}.json",
            [{"version": "Xtreme1 V0.6", "sourceName": "FusionLabel", "objects": objs}],
        )
