"""SUSTechPOINTS labels: one JSON file per frame, ``label/<frame>.json`` in a scene folder.

Followed: naurril/SUSTechPOINTS ``doc/install_from_source.md`` (the scene layout ``lidar/``,
``camera/<NAME>/``, ``calib/camera/<NAME>.json``, ``label/``), ``data/example/label/*.json`` and
``tools/check_labels.py`` / ``tools/convert_to_kitti.py`` (how the tool's own scripts read a label)::

    [{"obj_id": "4", "obj_type": "Car", "obj_attr": "occluded",
      "psr": {"position": {"x": 5.58, "y": -48.75, "z": 1.42},
              "scale": {"x": 4.5, "y": 1.71, "z": 1.70},
              "rotation": {"x": 0.0, "y": 0.0, "z": -0.168}}}, ...]

Newer versions wrap the list as ``{"objs": [...], ...}``; both are read, the list is written.

Conventions: boxes in the frame of the scene's point clouds (the LiDAR), ``position`` the box
centre, ``scale`` the full extent along the box's own x, y, z (our ``l, w, h``), ``rotation``
three.js Euler angles ``XYZ`` in radians (:mod:`fusionlabel.io.tools.common`); ``obj_id`` the
track identity (numbers keep their value, other text gets a new id and stays in ``source_id``,
an empty id is a box without identity), ``obj_type`` the class, unchanged. ``vertices`` is
derived from ``psr`` and not read. Other keys of an object become its attributes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.io.pointcloud import SUFFIXES
from fusionlabel.io.tools.common import (
    ToolBox,
    ToolContext,
    boxes_in_sensor,
    build_labelset,
    extra_attributes,
    fail,
    field_of,
    heading_xyz,
    json_files,
    json_head,
    load_json,
    natural_key,
    number,
    tilt_attributes,
    tilt_of,
    vector,
    write_json,
    z_for_heading_xyz,
)

#: keys of an object that are not attributes
OWN_KEYS = ("psr", "obj_id", "obj_type", "vertices", "score")


def label_folder(path: Path) -> Path:
    """The folder of label files: ``path/label`` for a scene folder, else ``path``."""
    return path / "label" if (path / "label").is_dir() or (path / "lidar").is_dir() else path


def scene_frame_names(scene: Path) -> list[str]:
    """The frame names of a scene folder: the stems of ``lidar/*`` point clouds, natural order."""
    lidar = scene / "lidar"
    names = (
        [p.name[: -len(s)] for p in lidar.iterdir() if p.is_file() for s in SUFFIXES if p.name.lower().endswith(s)]
        if lidar.is_dir()
        else []
    )
    return sorted(dict.fromkeys(names), key=natural_key)


def sniff(path: Path) -> bool:
    files = [path] if path.is_file() else json_files(label_folder(path)) if path.is_dir() else []
    return bool(files) and files[0].suffix == ".json" and b'"psr"' in json_head(files[0])


def _objects(doc: Any, path: Path) -> list[Any]:
    if isinstance(doc, dict) and "objs" in doc:
        doc = doc["objs"]
    if not isinstance(doc, list):
        raise CorruptFileError(path, 'a SUSTechPOINTS label file is a list of objects (or {"objs": [...]})')
    return doc


def read_sustechpoints(path: str | Path, ctx: ToolContext | None = None) -> LabelSet:
    """Read a scene folder, its ``label/`` folder or one label file (see the module docstring).

    Frames are matched by name: the recording's (``ctx.frame_names``), else the scene's ``lidar/``
    files, else the label files' natural order. Everything is read and checked before anything
    is returned; the first problem raises :class:`CorruptFileError` naming file, frame and field.
    """
    path = Path(path)
    ctx = ctx or ToolContext()
    if not path.exists():
        raise DataError(path, "no such file or folder")
    files = [path] if path.is_file() else json_files(label_folder(path))
    if not files:
        raise DataError(path, "no SUSTechPOINTS label files (label/*.json)")
    if not ctx.frame_names and path.is_dir():
        scene = label_folder(path).parent
        names = scene_frame_names(scene)
        if names:
            ctx = ToolContext(ctx.T_ego_sensor, dict(enumerate(names)), ctx.timestamps_ns, ctx.name)
    index = ctx.indices([f.stem for f in files], path)
    boxes: list[ToolBox] = []
    for f in files:
        k = index[f.stem]
        for j, o in enumerate(_objects(load_json(f, "SUSTechPOINTS label file"), f)):
            where = f"frame {f.stem}, object {j}"
            if not isinstance(o, dict):
                raise fail(f, where, f"an object must be a JSON object, got {type(o).__name__}")
            c = vector(o, "psr.position", f, where)
            s = vector(o, "psr.scale", f, where, positive=True)
            r = vector(o, "psr.rotation", f, where)
            cat = field_of(o, "obj_type", f, where)
            if not isinstance(cat, str) or not cat:
                raise fail(f, where, f"'obj_type' must be a non-empty string, got {cat!r}")
            oid = o.get("obj_id", "")
            if isinstance(oid, bool) or not isinstance(oid, (str, int)):
                raise fail(f, where, f"'obj_id' must be text or an integer, got {oid!r}")
            key = str(oid).strip() or None
            score = number(o, "score", f, where) if "score" in o else 1.0
            attrs = {k2: v for k2, v in o.items() if k2 not in OWN_KEYS}
            attrs.update(tilt_attributes(r[0], r[1]))
            boxes.append(ToolBox(k, key, cat, [*c, *s, heading_xyz(*r)], attrs, score, where))
    return build_labelset(boxes, ctx.T_ego_sensor, path)


def write_sustechpoints(path: str | Path, labels: LabelSet, ctx: ToolContext | None = None) -> None:
    """Write ``labels`` as SUSTechPOINTS label files: ``path/label/<frame>.json`` when ``path`` is a
    scene folder (it has ``lidar/``), else ``path/<frame>.json``; frames named by ``ctx.frame_names``."""
    path = Path(path)
    ctx = ctx or ToolContext()
    folder = label_folder(path)
    docs = {}
    for k, rows in boxes_in_sensor(labels, ctx.T_ego_sensor).items():
        objs = []
        for b in rows:
            rx, ry = tilt_of(b.attributes)
            x, y, z, l, w, h, yaw = b.box
            o: dict[str, Any] = {
                "obj_id": str(b.track_id),
                "obj_type": b.category,
                "psr": {
                    "position": {"x": x, "y": y, "z": z},
                    "scale": {"x": l, "y": w, "z": h},
                    "rotation": {"x": rx, "y": ry, "z": z_for_heading_xyz(rx, ry, yaw)},
                },
            }
            if b.score != 1.0:
                o["score"] = b.score
            o.update({k2: v for k2, v in extra_attributes(b.attributes).items() if k2 not in OWN_KEYS})
            objs.append(o)
        docs[ctx.name_of(k)] = objs
    for name, objs in docs.items():
        write_json(folder / f"{name}.json", objs)
