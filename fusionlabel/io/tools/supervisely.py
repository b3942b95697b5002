"""Supervisely point-cloud episodes: ``annotation.json`` + ``frame_pointcloud_map.json`` per episode.

Followed: supervisely/docs ``data-organization/Annotation-format`` (point-cloud episodes: the
project layout with ``meta.json``, optional ``key_id_map.json`` and one folder per episode) and
the SDK's ``supervisely/pointcloud_annotation/pointcloud_episode_annotation.py`` /
``pointcloud_figure.py`` (``to_json`` of an episode, a frame and a ``cuboid_3d`` figure)::

    {"description": "", "key": "e9f0...", "tags": [],
     "objects": [{"key": "6663...", "classTitle": "car", "tags": [{"name": "parked", "value": null}]}],
     "framesCount": 48,
     "frames": [{"index": 0, "figures": [{"key": "cb8e...", "objectKey": "6663...",
                 "geometryType": "cuboid_3d",
                 "geometry": {"position": {"x": -10.8, "y": -93.5, "z": -4.5},
                              "rotation": {"x": 0, "y": 0, "z": 3.25},
                              "dimensions": {"x": 1.97, "y": 4.60, "z": 1.55}}}]}]}

    frame_pointcloud_map.json: {"0": "scene_1.pcd", "1": "scene_2.pcd", ...}

Conventions: boxes in the point cloud's frame (the LiDAR), ``position`` the centre,
``dimensions`` the full extent along the box's own x, y, z (our ``l, w, h``: a car drawn with its
long side on y arrives as a box turned by 90 degrees, exactly the same cuboid), ``rotation``
Euler ``XYZ`` radians. An object is a track: its id from ``key_id_map.json`` when given, else
numbered by first appearance (the object key kept as ``source_id``); ``classTitle`` the class;
object tags become attributes (``value`` null: ``true``; a tag with ``frameRange`` only in those
frames). Frames: the episode's frame index, or, with a recording, the frame whose name is the
mapped point cloud's. Figures of other geometry types are ignored.
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
    json_head,
    load_json,
    text,
    tilt_attributes,
    tilt_of,
    vector,
    write_json,
    z_for_heading_xyz,
)

ANNOTATION = "annotation.json"
FRAME_MAP = "frame_pointcloud_map.json"


def _episodes(path: Path) -> list[Path]:
    if path.is_file():
        return [path.parent]
    if (path / ANNOTATION).is_file():
        return [path]
    return sorted(p for p in path.iterdir() if (p / ANNOTATION).is_file()) if path.is_dir() else []


def sniff(path: Path) -> bool:
    if path.is_file() and path.name != ANNOTATION:
        return False
    eps = _episodes(path)
    return bool(eps) and (b'"framesCount"' in json_head(eps[0] / ANNOTATION) or (eps[0] / FRAME_MAP).is_file())


def read_supervisely(path: str | Path, ctx: ToolContext | None = None) -> LabelSet:
    """Read a project (with one episode), an episode folder or its ``annotation.json``."""
    path = Path(path)
    ctx = ctx or ToolContext()
    if not path.exists():
        raise DataError(path, "no such file or folder")
    eps = _episodes(path)
    if not eps:
        raise DataError(path, f"no Supervisely episode ({ANNOTATION}) here")
    if len(eps) > 1:
        raise DataError(
            path, f"{len(eps)} episodes ({', '.join(e.name for e in eps)}): import one episode folder at a time"
        )
    ep = eps[0]
    f = ep / ANNOTATION
    doc = load_json(f, "Supervisely annotation")
    if not isinstance(doc, dict):
        raise fail(f, "", "an episode annotation is a JSON object")
    frame_map: dict[int, str] = {}
    if (ep / FRAME_MAP).is_file():
        fm = load_json(ep / FRAME_MAP, "frame map")
        if not isinstance(fm, dict):
            raise fail(ep / FRAME_MAP, "", 'expected {"<frame index>": "<point cloud file>"}')
        for k, v in fm.items():
            if not str(k).isdigit() or not isinstance(v, str):
                raise fail(ep / FRAME_MAP, f"entry {k!r}", "expected a frame index and a point-cloud file name")
            frame_map[int(k)] = Path(v).name.rsplit(".", 1)[0] if "." in Path(v).name else Path(v).name
    ids: dict[str, int] = {}
    kid = ep.parent / "key_id_map.json"
    if kid.is_file():
        km = load_json(kid, "key_id_map")
        objs_map = km.get("objects", {}) if isinstance(km, dict) else {}
        ids = {str(k): int(v) for k, v in objs_map.items() if isinstance(v, int) and not isinstance(v, bool)}
    objects: dict[str, tuple[str, list[Any]]] = {}
    for j, o in enumerate(items(doc, "objects", f, "")):
        where = f"object {j}"
        key = text(o, "key", f, where)
        tags = o.get("tags") or []
        if not isinstance(tags, list):
            raise fail(f, where, "'tags' must be a list")
        objects[key] = (text(o, "classTitle", f, where), tags)
    if ctx.frame_names and frame_map:
        index = ctx.indices(list(frame_map.values()), f)
    boxes: list[ToolBox] = []
    for fr in items(doc, "frames", f, ""):
        if not isinstance(fr, dict) or isinstance(fr.get("index"), bool) or not isinstance(fr.get("index"), int):
            raise fail(f, "frames", "a frame needs an integer 'index'")
        k = fr["index"]
        if ctx.frame_names and frame_map:
            if k not in frame_map:
                raise fail(f, f"frame {k}", f"not in {FRAME_MAP}")
            k_out = index[frame_map[k]]
        else:
            k_out = k
        for g_i, fig in enumerate(fr.get("figures") or []):
            where = f"frame {k}, figure {g_i}"
            if not isinstance(fig, dict) or fig.get("geometryType") != "cuboid_3d":
                continue
            okey = text(fig, "objectKey", f, where)
            if okey not in objects:
                raise fail(f, where, f"'objectKey' {okey!r} is not one of the episode's objects")
            cat, tags = objects[okey]
            c = vector(fig, "geometry.position", f, where)
            s = vector(fig, "geometry.dimensions", f, where, positive=True)
            r = vector(fig, "geometry.rotation", f, where)
            attrs: dict[str, Any] = {}
            for t_i, t in enumerate(tags):
                if not isinstance(t, dict) or not isinstance(t.get("name"), str):
                    raise fail(f, f"object {okey}, tag {t_i}", "a tag needs a 'name'")
                rng = t.get("frameRange")
                if rng is not None and not (isinstance(rng, list) and len(rng) == 2 and rng[0] <= k <= rng[1]):
                    continue
                attrs[t["name"]] = True if t.get("value") is None else t["value"]
            attrs.update(tilt_attributes(r[0], r[1]))
            key = str(ids[okey]) if okey in ids else okey
            boxes.append(ToolBox(k_out, key, cat, [*c, *s, heading_xyz(*r)], attrs, 1.0, where))
    return build_labelset(boxes, ctx.T_ego_sensor, f)


def _tags(per_frame: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Object tags for per-frame attributes: one tag per attribute and run of frames with one value
    (no ``frameRange`` when one value holds in all of the object's frames)."""
    names = dict.fromkeys(n for _, a in per_frame for n in a)
    out = []
    for n in names:
        runs: list[list[Any]] = []
        for k, a in per_frame:
            if n not in a:
                continue
            if runs and runs[-1][2] == a[n] and runs[-1][1] == k - 1:
                runs[-1][1] = k
            else:
                runs.append([k, k, a[n]])
        whole = len(runs) == 1 and sum(1 for _, a in per_frame if n in a) == len(per_frame)
        for k0, k1, v in runs:
            tag: dict[str, Any] = {"name": n, "value": None if v is True else v}
            if not whole:
                tag["frameRange"] = [k0, k1]
            out.append(tag)
    return out


def write_supervisely(path: str | Path, labels: LabelSet, ctx: ToolContext | None = None) -> None:
    """Write a project folder: ``meta.json``, ``key_id_map.json`` and ``<ctx.name>/`` with
    ``annotation.json`` and ``frame_pointcloud_map.json`` (frames named by ``ctx``)."""
    path = Path(path)
    ctx = ctx or ToolContext()
    rows = boxes_in_sensor(labels, ctx.T_ego_sensor)
    okey = {tid: f"{tid:032x}" for tid in (b.track_id for bs in rows.values() for b in bs)}
    cls: dict[int, str] = {}
    per_obj: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    frames = []
    for k in sorted(rows):
        figs = []
        for b in rows[k]:
            cls.setdefault(b.track_id, b.category)
            per_obj.setdefault(b.track_id, []).append((k, extra_attributes(b.attributes)))
            rx, ry = tilt_of(b.attributes)
            x, y, z, l, w, h, yaw = b.box
            figs.append(
                {
                    "key": f"{k:016x}{b.track_id:016x}",
                    "objectKey": okey[b.track_id],
                    "geometryType": "cuboid_3d",
                    "geometry": {
                        "position": {"x": x, "y": y, "z": z},
                        "rotation": {"x": rx, "y": ry, "z": z_for_heading_xyz(rx, ry, yaw)},
                        "dimensions": {"x": l, "y": w, "z": h},
                    },
                }
            )
        frames.append({"index": k, "figures": figs})
    objects = [{"key": okey[t], "classTitle": cls[t], "tags": _tags(per_obj[t])} for t in sorted(cls)]
    n_frames = max(max(rows, default=-1) + 1, max(ctx.frame_names, default=-1) + 1)
    doc = {
        "description": "",
        "key": f"{0:032x}",
        "tags": [],
        "objects": objects,
        "framesCount": n_frames,
        "frames": frames,
    }
    ep = path / ctx.name
    write_json(ep / ANNOTATION, doc)
    write_json(ep / FRAME_MAP, {str(k): f"{ctx.name_of(k)}.pcd" for k in range(n_frames)})
    classes = sorted(set(cls.values()))
    write_json(
        path / "meta.json",
        {
            "classes": [{"title": c, "shape": "cuboid_3d", "color": "#FF8000"} for c in classes],
            "tags": [],
            "projectType": "point_cloud_episodes",
        },
    )
    write_json(
        path / "key_id_map.json",
        {"tags": {}, "objects": {okey[t]: t for t in sorted(cls)}, "figures": {}, "videos": {}},
    )
