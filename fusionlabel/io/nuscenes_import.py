"""Labels from nuScenes tables: FusionLabel's own export, its older flat layout, or other tools' tables.

:func:`read_nuscenes_tables` reads the dataroot that
:func:`~fusionlabel.io.nuscenes_export.write_nuscenes_tables` writes, its version folder itself,
and the older flat folder of six tables (:data:`LEGACY_TABLES`); tables written by another tool
import too (poses from ``sample_data`` or the caller, frames in time order, track ids numbered by
first appearance). The export's
``fusionlabel_*`` extension keys (frame indices, exact nanosecond times, track ids, scores, our
category and attributes) make the export read back exactly.

Unlike :func:`fusionlabel.io.nuscenes.open_nuscenes`, which opens a scene as a recording with its
sensor data, this reads only the labels and their frame times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.conventions import nuscenes_global_to_boxes
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.transforms import Transform
from fusionlabel.io.nuscenes_schema import REFERENCE_CHANNEL, _load_table, _number, _pose, us_to_ns
from fusionlabel.io.nuscenes_taxonomy import canonical_category

#: the six tables of the older flat layout (still read)
LEGACY_TABLES = ("scene", "sample", "ego_pose", "category", "instance", "sample_annotation")


def _has_tables(p: Path) -> bool:
    return p.is_dir() and (p / "sample_annotation.json").is_file() and (p / "instance.json").is_file()


def tables_dir(path: str | Path, version: str | None = None) -> Path:
    """The folder holding the tables: ``path`` itself (a version folder, or the older flat layout)
    or its one version subfolder (``version`` picks one where there are several).

    Raises
    ------
    DataError : naming ``path``: no tables, or several version folders and no ``version``
    """
    p = Path(path)
    if version is not None:
        if _has_tables(p / version):
            return p / version
        raise DataError(p, f"no nuScenes version folder {version!r} with tables here")
    if _has_tables(p):
        return p
    subs = sorted(d for d in p.iterdir() if _has_tables(d)) if p.is_dir() else []
    if len(subs) == 1:
        return subs[0]
    if subs:
        raise DataError(p, f"several nuScenes versions here ({', '.join(d.name for d in subs)}): choose one")
    raise DataError(p, "no nuScenes tables here (sample_annotation.json, instance.json ...)")


def sniff_nuscenes_tables(path: Path) -> bool:
    """A folder holding ``sample_annotation.json`` and ``instance.json``, or one version folder that does."""
    try:
        tables_dir(path)
    except (DataError, OSError):
        return False
    return True


def _sample_poses(
    folder: Path, samples: Sequence[Mapping[str, Any]], pose_rows: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """sample token -> ego_pose token: the sample's own ``ego_pose_token`` (our extension), else its
    key-frame LIDAR_TOP ``sample_data`` row's (the first LiDAR, else any channel)."""
    out = {
        s["token"]: s["ego_pose_token"]
        for s in samples
        if isinstance(s.get("ego_pose_token"), str) and s["ego_pose_token"]
    }
    if len(out) == len(samples):
        return out
    sd = _load_table(folder, "sample_data", required=False)
    if not sd:
        return out
    cs = {r["token"]: r for r in _load_table(folder, "calibrated_sensor", required=False)}
    sensors = {r["token"]: r for r in _load_table(folder, "sensor", required=False)}
    best: dict[str, tuple[int, str]] = {}
    for r in sd:
        st = r.get("sample_token")
        if (
            not isinstance(st, str)
            or st in out
            or not r.get("is_key_frame")
            or not isinstance(r.get("ego_pose_token"), str)
        ):
            continue
        sensor = sensors.get(cs.get(r.get("calibrated_sensor_token"), {}).get("sensor_token"), {})
        rank = 0 if sensor.get("channel") == REFERENCE_CHANNEL else (1 if sensor.get("modality") == "lidar" else 2)
        if st not in best or rank < best[st][0]:
            best[st] = (rank, r["ego_pose_token"])
    out.update({st: tok for st, (_, tok) in best.items()})
    return out


def read_nuscenes_tables(
    folder: str | Path, ego_poses: Mapping[int, Transform] | None = None, version: str | None = None
) -> tuple[LabelSet, dict[int, int]]:
    """Read the labels of nuScenes tables: this module's export, its older flat layout, or other tools'.

    Parameters
    ----------
    folder : the dataroot (one version folder inside), the version folder, or a flat table folder
    ego_poses : frame -> ``T_world_ego``, used where the tables give a sample no pose
    version : the version folder, where the dataroot holds several

    Returns
    -------
    labels in each frame's ego frame; frame -> timestamp ns. Our extension keys restore frames,
    times, track ids, categories, scores and attributes exactly; without them frames are the
    samples in time order, track ids number the instances by first appearance, categories map back
    through :func:`fusionlabel.io.nuscenes.canonical_category` and the attributes hold the
    nuScenes fields (``source_category``, ``attributes``, ``visibility``, point counts, tokens).

    Raises
    ------
    DataError / CorruptFileError : naming the table (missing, not JSON, dangling token, no pose)
    """
    folder = tables_dir(folder, version)
    rows = {n: _load_table(folder, n) for n in ("sample", "sample_annotation", "instance", "category")}
    pose_rows = {r["token"]: r for r in _load_table(folder, "ego_pose", required=False)}
    attr_rows = {r["token"]: r for r in _load_table(folder, "attribute", required=False)}
    vis_rows = {r["token"]: r for r in _load_table(folder, "visibility", required=False)}
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
    pose_of = _sample_poses(folder, samples, pose_rows)
    poses: dict[int, Transform] = {}
    for s in samples:
        k = frame_of[s["token"]]
        ptok = pose_of.get(s["token"])
        if ptok is not None:
            if ptok not in pose_rows:
                raise CorruptFileError(sp, f"row {s['token']}: ego_pose_token {ptok!r} is not in ego_pose.json")
            poses[k] = _pose(folder / "ego_pose.json", pose_rows[ptok])
        elif ego_poses is not None and k in ego_poses:
            poses[k] = ego_poses[k]
    ap = folder / "sample_annotation.json"
    anns = rows["sample_annotation"]
    for a in anns:
        if a.get("sample_token") not in sample_by:
            raise CorruptFileError(
                ap, f"row {a['token']}: sample_token {a.get('sample_token')!r} is not in sample.json"
            )
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
            raise DataError(sp, f"frame {k}: no ego pose (none in the tables and none given): boxes are global")
        fa = sorted(per_frame[k], key=lambda a: tid_of[a["instance_token"]])
        c = np.array([_number(ap, a, "translation", (3,)) for a in fa]).reshape(-1, 3)
        wlh = np.array([_number(ap, a, "size", (3,)) for a in fa]).reshape(-1, 3)
        q = np.array([_number(ap, a, "rotation", (4,)) for a in fa]).reshape(-1, 4)
        cats: list[str] = []
        attrs: list[dict[str, Any]] = []
        for a in fa:
            inst = inst_by[a["instance_token"]]
            ctok = inst.get("category_token")
            if ctok not in cat_by:
                raise CorruptFileError(
                    folder / "instance.json", f"row {inst['token']}: category_token {ctok!r} is not in category.json"
                )
            name = str(cat_by[ctok].get("name", ""))
            cats.append(str(a["fusionlabel_category"]) if "fusionlabel_category" in a else canonical_category(name))
            if "fusionlabel_attributes" in a:
                attrs.append(dict(a.get("fusionlabel_attributes") or {}))
                continue
            vis = a.get("visibility_token")
            attrs.append(
                {
                    "source_category": name,
                    "instance_token": inst["token"],
                    "annotation_token": a["token"],
                    "attributes": [
                        str(attr_rows[t].get("name", t)) if t in attr_rows else str(t)
                        for t in (a.get("attribute_tokens") or [])
                    ],
                    "visibility": str(vis_rows.get(str(vis), {}).get("level", vis or "")),
                    "num_lidar_pts": int(a.get("num_lidar_pts", -1)),
                    "num_radar_pts": int(a.get("num_radar_pts", -1)),
                }
            )
        try:
            boxes = nuscenes_global_to_boxes(c, wlh, q, poses[k])
            out[k] = FrameLabels(
                np.array([tid_of[a["instance_token"]] for a in fa], np.int64),
                tuple(cats),
                boxes,
                np.array([float(a.get("fusionlabel_score", 1.0)) for a in fa]),
                tuple(attrs),
            )
        except (ValueError, TypeError) as exc:
            raise CorruptFileError(ap, f"frame {k}: {exc}") from None
    return LabelSet(out), times
