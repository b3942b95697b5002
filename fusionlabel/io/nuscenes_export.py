"""nuScenes-style tables: export of labels, and import of the tables we (or others) write.

:mod:`fusionlabel.io.nuscenes` reads whole nuScenes dataroots (sensor data included). This module
writes the *annotation* part of the schema for one scene, so a label set can be handed to
nuScenes-based tooling, and reads it back::

    OUT/
      scene.json              1 row: token, name, nbr_samples, first/last_sample_token, log_token ""
      sample.json             1 row per frame: token, timestamp (us), scene_token, prev, next, data {}
                              + ego_pose_token, fusionlabel_frame, fusionlabel_timestamp_ns
      ego_pose.json           1 row per frame: token, timestamp (us), rotation (w x y z), translation
      category.json           token, name (our category names, e.g. "Car"), description
      instance.json           token, category_token, nbr_annotations, first/last_annotation_token
                              + fusionlabel_track_id
      sample_annotation.json  token, sample_token, instance_token, translation (global, m),
                              size (w, l, h), rotation (w x y z), prev, next, attribute_tokens [],
                              visibility_token "", num_lidar_pts, num_radar_pts
                              + fusionlabel_score, fusionlabel_category, fusionlabel_attributes

Boxes go to the **global** frame through each frame's ego pose ``T_world_ego``
(:func:`fusionlabel.core.conventions.boxes_to_nuscenes_global`: ``c_g = T_world_ego c``, size
``(w, l, h)``, upright quaternion) and come back exactly
(:func:`~fusionlabel.core.conventions.nuscenes_global_to_boxes`). Keys starting with
``fusionlabel_`` are extensions the nuScenes devkit ignores; they keep what the schema has no
column for (exact nanosecond times, our track ids, scores, free-form attributes). Tokens are
deterministic (UUID5 of the scene name and the object), so exporting the same labels twice gives
identical files.

Importing tables written by another tool works too: without ``ego_pose_token`` on the sample
rows the poses must be given (``ego_poses``, frame -> ``T_world_ego``), frames are the samples
in time order, and track ids number the instances by first appearance.

Example
-------
>>> import numpy as np, tempfile
>>> from fusionlabel.core.boxes import Boxes
>>> from fusionlabel.core.labels import FrameLabels, LabelSet
>>> from fusionlabel.core.transforms import Transform
>>> fl = FrameLabels(np.array([7]), ("Car",), Boxes.from_array([[5, 0, 0.8, 4, 1.8, 1.6, 0.3]]))
>>> out = Path(tempfile.mkdtemp())
>>> write_nuscenes_tables(out, LabelSet({0: fl}), {0: 1_000_000_000}, {0: Transform.from_yaw(1.0, (10, 0, 0))})
>>> labels, t = read_nuscenes_tables(out)
>>> np.allclose(labels.get(0).boxes.to_array(), fl.boxes.to_array()), t
(True, {0: 1000000000})
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.conventions import boxes_to_nuscenes_global, nuscenes_global_to_boxes
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.transforms import Transform
from fusionlabel.io.nuscenes import _load_table, _number, _pose, us_to_ns

TABLES = ("scene", "sample", "ego_pose", "category", "instance", "sample_annotation")
_NS = uuid.UUID("6f1c2d0e-5b7a-4c1e-9a53-0f3e8d2b7c41")  # FusionLabel's UUID5 namespace


def _token(*parts: object) -> str:
    return uuid.uuid5(_NS, "/".join(str(p) for p in parts)).hex


def _ns_to_us(t_ns: int) -> int:
    """nanoseconds -> integer microseconds (nuScenes' unit), rounded half up."""
    return (int(t_ns) + 500) // 1000


def _json(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def labels_to_nuscenes_tables(
    labels: LabelSet,
    timestamps_ns: Mapping[int, int],
    ego_poses: Mapping[int, Transform],
    scene_name: str = "fusionlabel-scene",
) -> dict[str, list[dict[str, Any]]]:
    """Build the six tables (name -> rows) for one scene.

    Parameters
    ----------
    labels : boxes in each frame's ego frame
    timestamps_ns : frame -> int ns; every labelled frame needs one
    ego_poses : frame -> ``T_world_ego``; every labelled frame needs one
    scene_name : ``scene.name`` and the seed of the tokens

    Raises
    ------
    ValueError : a labelled frame has no timestamp or no ego pose (naming the frame)
    """
    frames = sorted(set(labels.frames) | (set(timestamps_ns) & set(ego_poses)))
    for k in labels.frames:
        if k not in timestamps_ns:
            raise ValueError(f"frame {k} has labels but no timestamp")
        if k not in ego_poses:
            raise ValueError(f"frame {k} has labels but no ego pose: nuScenes boxes are in the global frame")
    scene_tok = _token(scene_name, "scene")
    sample_tok = {k: _token(scene_name, "sample", k) for k in frames}
    samples, poses = [], []
    for i, k in enumerate(frames):
        t = int(timestamps_ns[k])
        T = ego_poses[k]
        q = T.quaternion
        pose_tok = _token(scene_name, "ego_pose", k)
        poses.append(
            {
                "token": pose_tok,
                "timestamp": _ns_to_us(t),
                "rotation": [float(q.w), float(q.x), float(q.y), float(q.z)],
                "translation": [float(v) for v in T.translation],
            }
        )
        samples.append(
            {
                "token": sample_tok[k],
                "timestamp": _ns_to_us(t),
                "scene_token": scene_tok,
                "prev": sample_tok[frames[i - 1]] if i > 0 else "",
                "next": sample_tok[frames[i + 1]] if i + 1 < len(frames) else "",
                "data": {},
                "ego_pose_token": pose_tok,
                "fusionlabel_frame": int(k),
                "fusionlabel_timestamp_ns": t,
            }
        )
    cats: dict[str, str] = {}
    inst_anns: dict[int, list[str]] = {}
    inst_cat: dict[int, str] = {}
    anns: list[dict[str, Any]] = []
    for k, fl in labels.frames.items():
        center, wlh, q = boxes_to_nuscenes_global(fl.boxes, ego_poses[k])
        for j in range(len(fl)):
            tid = int(fl.track_ids[j])
            cat = fl.categories[j]
            cats.setdefault(cat, _token(scene_name, "category", cat))
            inst_cat.setdefault(tid, cat)
            a = dict(fl.attributes[j])
            tok = _token(scene_name, "annotation", k, tid)
            inst_anns.setdefault(tid, []).append(tok)
            anns.append(
                {
                    "token": tok,
                    "sample_token": sample_tok[k],
                    "instance_token": _token(scene_name, "instance", tid),
                    "attribute_tokens": [],
                    "visibility_token": "",
                    "translation": [float(v) for v in center[j]],
                    "size": [float(v) for v in wlh[j]],
                    "rotation": [float(v) for v in q[j]],
                    "num_lidar_pts": int(a.get("num_lidar_points", 0)) if _intlike(a.get("num_lidar_points")) else 0,
                    "num_radar_pts": int(a.get("num_radar_points", 0)) if _intlike(a.get("num_radar_points")) else 0,
                    "prev": "",
                    "next": "",
                    "fusionlabel_score": float(fl.scores[j]),
                    "fusionlabel_category": cat,
                    "fusionlabel_attributes": a,
                }
            )
    by_tok = {a["token"]: a for a in anns}
    for toks in inst_anns.values():  # annotations of an instance are in frame order: link them
        for p, n in zip(toks, toks[1:]):
            by_tok[p]["next"] = n
            by_tok[n]["prev"] = p
    instances = [
        {
            "token": _token(scene_name, "instance", tid),
            "category_token": cats[inst_cat[tid]],
            "nbr_annotations": len(toks),
            "first_annotation_token": toks[0],
            "last_annotation_token": toks[-1],
            "fusionlabel_track_id": tid,
        }
        for tid, toks in sorted(inst_anns.items())
    ]
    scene = {
        "token": scene_tok,
        "name": scene_name,
        "description": "exported by FusionLabel",
        "log_token": "",
        "nbr_samples": len(samples),
        "first_sample_token": samples[0]["token"] if samples else "",
        "last_sample_token": samples[-1]["token"] if samples else "",
    }
    category = [{"token": t, "name": c, "description": ""} for c, t in cats.items()]
    return {
        "scene": [scene],
        "sample": samples,
        "ego_pose": poses,
        "category": category,
        "instance": instances,
        "sample_annotation": anns,
    }


def _intlike(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def write_nuscenes_tables(
    out: str | Path,
    labels: LabelSet,
    timestamps_ns: Mapping[int, int],
    ego_poses: Mapping[int, Transform],
    scene_name: str = "fusionlabel-scene",
) -> None:
    """Write the tables of :func:`labels_to_nuscenes_tables` into folder ``out`` (each file atomically).

    All tables are built (and serialised) before the first file is written.
    """
    out = Path(out)
    tables = labels_to_nuscenes_tables(labels, timestamps_ns, ego_poses, scene_name)
    texts = {n: json.dumps(rows, indent=1, allow_nan=False, default=_json) for n, rows in tables.items()}
    out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        atomic_write_text(out / f"{name}.json", text)


def sniff_nuscenes_tables(path: Path) -> bool:
    """A folder holding ``sample_annotation.json`` and ``instance.json``."""
    return path.is_dir() and (path / "sample_annotation.json").is_file() and (path / "instance.json").is_file()


def read_nuscenes_tables(
    folder: str | Path, ego_poses: Mapping[int, Transform] | None = None
) -> tuple[LabelSet, dict[int, int]]:
    """Read ``sample``, ``sample_annotation``, ``instance`` and ``category`` (+ ``ego_pose``) tables.

    Parameters
    ----------
    folder : the folder holding the tables (a nuScenes version folder works as well)
    ego_poses : frame -> ``T_world_ego``, used where a sample row has no ``ego_pose_token``

    Returns
    -------
    labels in each frame's ego frame; frame -> timestamp ns

    Raises
    ------
    DataError / CorruptFileError : naming the table (missing, not JSON, dangling token, no pose)
    """
    folder = Path(folder)
    rows = {n: _load_table(folder, n) for n in ("sample", "sample_annotation", "instance", "category")}
    pose_rows = {r["token"]: r for r in _load_table(folder, "ego_pose", required=False)}
    cat_by = {r["token"]: r for r in rows["category"]}
    inst_by = {r["token"]: r for r in rows["instance"]}
    samples = rows["sample"]
    sp = folder / "sample.json"
    try:
        if all("fusionlabel_frame" in s for s in samples):
            frame_of = {s["token"]: int(s["fusionlabel_frame"]) for s in samples}
        else:
            order = sorted(samples, key=lambda s: (us_to_ns(s["timestamp"]), s["token"]))
            frame_of = {s["token"]: i for i, s in enumerate(order)}
        times = {
            frame_of[s["token"]]: int(s["fusionlabel_timestamp_ns"])
            if "fusionlabel_timestamp_ns" in s
            else us_to_ns(s["timestamp"])
            for s in samples
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(sp, f"bad sample row: {type(exc).__name__}: {exc}") from None
    if len(set(frame_of.values())) != len(frame_of):
        raise CorruptFileError(sp, "two samples have the same fusionlabel_frame")
    sample_by = {s["token"]: s for s in samples}
    poses: dict[int, Transform] = {}
    for s in samples:
        k = frame_of[s["token"]]
        ptok = s.get("ego_pose_token")
        if isinstance(ptok, str) and ptok:
            if ptok not in pose_rows:
                raise CorruptFileError(sp, f"row {s['token']}: ego_pose_token {ptok!r} is not in ego_pose.json")
            poses[k] = _pose(folder / "ego_pose.json", pose_rows[ptok])
        elif ego_poses is not None and k in ego_poses:
            poses[k] = ego_poses[k]
    # instances -> track ids
    ap = folder / "sample_annotation.json"
    anns = rows["sample_annotation"]
    for a in anns:
        if a.get("sample_token") not in sample_by:
            raise CorruptFileError(ap, f"row {a['token']}: sample_token {a.get('sample_token')!r} is not in sample.json")
        if a.get("instance_token") not in inst_by:
            raise CorruptFileError(
                ap, f"row {a['token']}: instance_token {a.get('instance_token')!r} is not in instance.json"
            )
    tid_of: dict[str, int] = {}
    if all("fusionlabel_track_id" in r for r in rows["instance"]):
        tid_of = {r["token"]: int(r["fusionlabel_track_id"]) for r in rows["instance"]}
    else:
        first = sorted(anns, key=lambda a: (frame_of[a["sample_token"]], a["instance_token"]))
        for a in first:
            tid_of.setdefault(a["instance_token"], len(tid_of) + 1)
    per_frame: dict[int, list[dict[str, Any]]] = {}
    for a in anns:
        per_frame.setdefault(frame_of[a["sample_token"]], []).append(a)
    out: dict[int, FrameLabels] = {}
    for k in sorted(per_frame):
        if k not in poses:
            raise DataError(sp, f"frame {k}: no ego pose (no ego_pose_token and none given): boxes are global")
        fa = sorted(per_frame[k], key=lambda a: tid_of[a["instance_token"]])
        c = np.array([_number(ap, a, "translation", (3,)) for a in fa]).reshape(-1, 3)
        wlh = np.array([_number(ap, a, "size", (3,)) for a in fa]).reshape(-1, 3)
        q = np.array([_number(ap, a, "rotation", (4,)) for a in fa]).reshape(-1, 4)
        cats = []
        for a in fa:
            inst = inst_by[a["instance_token"]]
            ctok = inst.get("category_token")
            if "fusionlabel_category" in a:
                cats.append(str(a["fusionlabel_category"]))
            elif ctok in cat_by:
                cats.append(str(cat_by[ctok]["name"]))
            else:
                raise CorruptFileError(
                    folder / "instance.json", f"row {inst['token']}: category_token {ctok!r} is not in category.json"
                )
        try:
            boxes = nuscenes_global_to_boxes(c, wlh, q, poses[k])
            out[k] = FrameLabels(
                np.array([tid_of[a["instance_token"]] for a in fa], np.int64),
                tuple(cats),
                boxes,
                np.array([float(a.get("fusionlabel_score", 1.0)) for a in fa]),
                tuple(dict(a.get("fusionlabel_attributes") or {}) for a in fa),
            )
        except (ValueError, TypeError) as exc:
            raise CorruptFileError(ap, f"frame {k}: {exc}") from None
    return LabelSet(out), times
