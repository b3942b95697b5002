"""CVAT 3D labels exported in the Datumaro format (point-cloud tasks): ``annotations/<subset>.json``.

Followed: openvinotoolkit/datumaro ``src/datumaro/plugins/data_formats/datumaro/base.py``
(``JsonReader``: ``categories.label.labels``, ``items[].annotations[]`` of ``type`` ``cuboid_3d``
with ``position``, ``rotation``, ``scale``, ``label_id``, ``attributes``) and cvat-ai/cvat
``cvat/apps/dataset_manager/bindings.py`` (a CVAT cuboid's points ``[0:3]`` position, ``[3:6]``
rotation, ``[6:9]`` scale; tracked shapes carry ``attributes.track_id`` and ``keyframe``)::

    {"dm_format_version": "1.0", "media_type": 6,
     "categories": {"label": {"labels": [{"name": "Car", "parent": "", "attributes": []}], "attributes": []}},
     "items": [{"id": "000000", "attr": {"frame": 0}, "point_cloud": {"path": "000000.pcd"},
                "annotations": [{"id": 0, "type": "cuboid_3d", "label_id": 0, "group": 0,
                                 "position": [5.0, 0.0, 0.8], "rotation": [0.0, 0.0, 0.3],
                                 "scale": [4.0, 1.8, 1.6],
                                 "attributes": {"track_id": 0, "keyframe": true, "occluded": false}}]}]}

Conventions: boxes in the point cloud's frame (the LiDAR), ``position`` the centre, ``scale`` the
full extent along the box's own x, y, z (our ``l, w, h``), ``rotation`` three.js Euler ``XYZ``
radians (CVAT's 3D canvas). ``attributes.track_id`` is the identity (a shape without one is its
own track), ``label_id`` the class; the other attributes are kept (``outside`` boxes are not boxes
in that frame and are skipped). Frames: the recording's frame of the item's name when a recording
is given, else ``attr.frame``, else the item's position. Annotations of other types are ignored.
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
    items,
    json_files,
    json_head,
    load_json,
    tilt_attributes,
    tilt_of,
    vector,
    write_json,
    z_for_heading_xyz,
)

#: Datumaro's MediaType.POINT_CLOUD
POINT_CLOUD_MEDIA = 6


def annotation_file(path: Path) -> Path | None:
    """The annotation JSON of an export folder (``annotations/*.json``, the only one) or ``path``."""
    if path.is_file():
        return path
    files = json_files(path / "annotations") if (path / "annotations").is_dir() else []
    return files[0] if len(files) == 1 else None


def sniff(path: Path) -> bool:
    f = annotation_file(path)
    if f is None or f.suffix != ".json":
        return False
    head = json_head(f, 2048)
    return b'"dm_format_version"' in head or (b'"categories"' in head and b'"items"' in head)


def read_cvat_datumaro(path: str | Path, ctx: ToolContext | None = None) -> LabelSet:
    """Read a Datumaro export folder or its annotation file (see the module docstring)."""
    path = Path(path)
    ctx = ctx or ToolContext()
    if not path.exists():
        raise DataError(path, "no such file or folder")
    f = annotation_file(path)
    if f is None:
        raise DataError(path, "no Datumaro annotation file (annotations/<subset>.json, exactly one)")
    doc = load_json(f, "Datumaro annotation file")
    labels = items(doc, "categories.label.labels", f, "categories") if "categories" in doc else []
    names = []
    for i, lab in enumerate(labels):
        if not isinstance(lab, dict) or not isinstance(lab.get("name"), str) or not lab["name"]:
            raise fail(f, f"categories.label.labels[{i}]", "a label needs a non-empty 'name'")
        names.append(lab["name"])
    its = items(doc, "items", f, "")
    item_names = []
    for j, it in enumerate(its):
        if not isinstance(it, dict) or not isinstance(it.get("id"), (str, int)):
            raise fail(f, f"item {j}", "an item needs an 'id'")
        item_names.append(Path(str(it["id"])).name)
    if ctx.frame_names:
        index = ctx.indices(item_names, f)
        frame_of = [index[n] for n in item_names]
    else:
        frame_of = []
        for j, it in enumerate(its):
            fr = (it.get("attr") or {}).get("frame", j)
            if isinstance(fr, bool) or not isinstance(fr, int) or fr < 0:
                raise fail(f, f"item {item_names[j]!r}", f"'attr.frame' must be a non-negative integer, got {fr!r}")
            frame_of.append(fr)
    boxes: list[ToolBox] = []
    for j, it in enumerate(its):
        for a_i, ann in enumerate(it.get("annotations") or []):
            where = f"frame {item_names[j]}, annotation {a_i}"
            if not isinstance(ann, dict) or ann.get("type") != "cuboid_3d":
                continue
            attrs: dict[str, Any] = dict(ann.get("attributes") or {})
            if attrs.get("outside") is True:
                continue
            lid = ann.get("label_id")
            if isinstance(lid, bool) or not isinstance(lid, int) or not 0 <= lid < len(names):
                raise fail(f, where, f"'label_id' {lid!r} is not one of the {len(names)} labels in 'categories'")
            c = vector(ann, "position", f, where)
            s = vector(ann, "scale", f, where, positive=True)
            r = vector(ann, "rotation", f, where)
            tid = attrs.pop("track_id", None)
            if tid is not None and (isinstance(tid, bool) or not isinstance(tid, int) or tid < 0):
                raise fail(f, where, f"'attributes.track_id' must be a non-negative integer, got {tid!r}")
            attrs.update(tilt_attributes(r[0], r[1]))
            boxes.append(
                ToolBox(
                    frame_of[j],
                    None if tid is None else str(tid),
                    names[lid],
                    [*c, *s, heading_xyz(*r)],
                    attrs,
                    1.0,
                    where,
                )
            )
    return build_labelset(boxes, ctx.T_ego_sensor, f)


def write_cvat_datumaro(
    path: str | Path, labels: LabelSet, ctx: ToolContext | None = None, subset: str = "default"
) -> None:
    """Write ``path/annotations/<subset>.json``: one item per labelled frame (named by ``ctx``),
    every box a tracked ``cuboid_3d`` with ``attributes.track_id``."""
    path = Path(path)
    ctx = ctx or ToolContext()
    rows = boxes_in_sensor(labels, ctx.T_ego_sensor)
    cats = sorted({b.category for bs in rows.values() for b in bs})
    label_id = {c: i for i, c in enumerate(cats)}
    out_items = []
    for k, bs in rows.items():
        anns = []
        for b in bs:
            rx, ry = tilt_of(b.attributes)
            x, y, z, l, w, h, yaw = b.box
            attrs = {**extra_attributes(b.attributes), "track_id": b.track_id}
            anns.append(
                {
                    "id": b.track_id,
                    "type": "cuboid_3d",
                    "attributes": attrs,
                    "group": 0,
                    "label_id": label_id[b.category],
                    "position": [x, y, z],
                    "rotation": [rx, ry, z_for_heading_xyz(rx, ry, yaw)],
                    "scale": [l, w, h],
                }
            )
        name = ctx.name_of(k)
        out_items.append(
            {"id": name, "annotations": anns, "attr": {"frame": k}, "point_cloud": {"path": f"{name}.pcd"}}
        )
    doc = {
        "dm_format_version": "1.0",
        "media_type": POINT_CLOUD_MEDIA,
        "infos": {},
        "categories": {
            "label": {"labels": [{"name": c, "parent": "", "attributes": []} for c in cats], "attributes": ["occluded"]}
        },
        "items": out_items,
    }
    write_json(path / "annotations" / f"{subset}.json", doc)
