"""nuScenes export: a complete version folder the nuScenes devkit loads, tracking results, and import.

:mod:`fusionlabel.io.nuscenes` reads nuScenes-schema recordings. This module writes one recording's
labels as a nuScenes **dataroot** that ``nuscenes.NuScenes(version=..., dataroot=OUT)`` loads
(:func:`write_nuscenes_tables`), and is the public face of the modules that write pre-labels as a
nuScenes **tracking-results** JSON that the devkit's ``TrackingEval`` accepts and read both back::

    OUT/                                   the dataroot
      <version>/                           default "v1.0-fusionlabel" (DEFAULT_VERSION)
        attribute.json  calibrated_sensor.json  category.json  ego_pose.json  instance.json
        log.json  map.json  sample.json  sample_annotation.json  sample_data.json  scene.json
        sensor.json  visibility.json       the 13 tables of the nuScenes schema
        splits.json                        {"fusionlabel": [scene name]}: a custom split (the devkit's eval_set)
      maps/<token>.png                     an all-background 8x8 map mask (no semantic map is known)
      samples/<CHANNEL>/<scene>__<CHANNEL>__<t_us>.pcd.bin   LiDAR: float32 x y z intensity ring, sensor frame
      samples/<CHANNEL>/<scene>__<CHANNEL>__<t_us>.pcd       radar: nuScenes' 18-field binary PCD, sensor frame
      samples/<CHANNEL>/<scene>__<CHANNEL>__<t_us>.<ext>     camera: a symbolic link to the recording's image
                                                             (a copy with ``copy_images=True``)

One concept per module; their public names are re-exported here:

* :mod:`~fusionlabel.io.nuscenes_schema`: the tables, their units, loading them.
* :mod:`~fusionlabel.io.nuscenes_scene`: one scene, every frame a key-frame ``sample``; boxes in
  the global frame through each frame's ego pose (``identity_pose=True`` for a recording without
  poses); velocities by the devkit's ``box_velocity``; deterministic tokens.
* :mod:`~fusionlabel.io.nuscenes_taxonomy`: categories (:func:`nuscenes_category`) and attributes
  (:func:`nuscenes_attribute`), and back (:func:`~fusionlabel.io.nuscenes.canonical_category`).
* :mod:`~fusionlabel.io.nuscenes_visibility`: the visibility level of each box
  (:func:`visibility_tokens`).
* :mod:`~fusionlabel.io.nuscenes_sensors`: channels, calibrations, the sensor files under
  ``samples/`` and the points counted inside each box.
* :mod:`~fusionlabel.io.nuscenes_tracking`: tracking results (:func:`write_nuscenes_tracking`,
  :func:`read_nuscenes_tracking`).
* :mod:`~fusionlabel.io.nuscenes_import`: import (:func:`read_nuscenes_tables`) of this layout,
  the version folder itself, the older flat folder of six tables (:data:`LEGACY_TABLES`) and
  tables written by another tool.

**Point counts**: ``num_lidar_pts`` / ``num_radar_pts`` count the points of the sample's LiDAR /
radar ``sample_data`` files inside the exported box (:mod:`~fusionlabel.io.nuscenes_sensors`).
Where the recording's data cannot be read the count a source dataset gave the label is used (its
attribute ``num_lidar_pts``, ``num_lidar_points`` or Argoverse's ``num_interior_pts``), else ``-1``
("not counted"; the devkit keeps such boxes in its evaluation, it drops boxes with 0 points); a
recording without radar gives ``num_radar_pts = 0``. ``fusionlabel_num_lidar_pts_from`` /
``fusionlabel_num_radar_pts_from`` say which (``recording``, ``labels``, ``none``).

Keys starting with ``fusionlabel_`` are extensions the devkit ignores; they keep what the schema has
no column for (frame indices, exact nanosecond times, track ids, scores, our category and
attributes), so the export reads back exactly. Tokens are deterministic UUID5s of the scene name
and the object: exporting twice gives identical files, and the tracking results of the same
recording name use the same sample tokens.

Example
-------
>>> import numpy as np, tempfile
>>> from fusionlabel.core.boxes import Boxes
>>> from fusionlabel.core.labels import FrameLabels, LabelSet
>>> from fusionlabel.core.transforms import Transform
>>> fl = FrameLabels(np.array([7]), ("Car",), Boxes.from_array([[5, 0, 0.8, 4, 1.8, 1.6, 0.3]]))
>>> out = Path(tempfile.mkdtemp())
>>> rep = write_nuscenes_tables(out, LabelSet({0: fl}), {0: 1_000_000_000}, {0: Transform.from_yaw(1.0, (10, 0, 0))})
>>> rep.version_dir.name, sorted(p.stem for p in rep.version_dir.glob("*.json"))[:3]
('v1.0-fusionlabel', ['attribute', 'calibrated_sensor', 'category'])
>>> labels, t = read_nuscenes_tables(out)
>>> np.allclose(labels.get(0).boxes.to_array(), fl.boxes.to_array()), t
(True, {0: 1000000000})
"""

from __future__ import annotations

import datetime
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.atomic import atomic_write_bytes, atomic_write_text
from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Rig
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.transforms import Transform
from fusionlabel.io.nuscenes_import import LEGACY_TABLES, read_nuscenes_tables, sniff_nuscenes_tables, tables_dir
from fusionlabel.io.nuscenes_scene import MAX_VELOCITY_DT_S, _json, _ns_to_us, _pose_row, _quat_wxyz, _scene, _token
from fusionlabel.io.nuscenes_schema import REFERENCE_CHANNEL, TABLES, _is_int
from fusionlabel.io.nuscenes_sensors import _pose_lookup, _sensor_pass, _SensorPass, _sensors, channel_name
from fusionlabel.io.nuscenes_taxonomy import (
    CATEGORY_TO_NUSCENES,
    FOREIGN_PREFIX,
    MOVING_SPEED_MPS,
    NUSCENES_ATTRIBUTES,
    NUSCENES_CATEGORIES,
    SOURCE_CATEGORY_HINTS,
    TRACKING_CLASSES,
    nuscenes_attribute,
    nuscenes_category,
    tracking_name,
)
from fusionlabel.io.nuscenes_tracking import (
    labels_to_nuscenes_tracking,
    read_nuscenes_tracking,
    sniff_nuscenes_tracking,
    write_nuscenes_tracking,
)
from fusionlabel.io.nuscenes_visibility import VISIBILITY_LEVELS, visibility_tokens

__all__ = [
    "CATEGORY_TO_NUSCENES",
    "DEFAULT_VERSION",
    "FOREIGN_PREFIX",
    "LEGACY_TABLES",
    "MAX_VELOCITY_DT_S",
    "MOVING_SPEED_MPS",
    "NUSCENES_ATTRIBUTES",
    "NUSCENES_CATEGORIES",
    "REFERENCE_CHANNEL",
    "SOURCE_CATEGORY_HINTS",
    "SPLIT_NAME",
    "TABLES",
    "TRACKING_CLASSES",
    "VISIBILITY_LEVELS",
    "NuScenesExportReport",
    "NuScenesTables",
    "build_nuscenes_tables",
    "channel_name",
    "labels_to_nuscenes_tracking",
    "nuscenes_attribute",
    "nuscenes_category",
    "read_nuscenes_tables",
    "read_nuscenes_tracking",
    "sniff_nuscenes_tables",
    "sniff_nuscenes_tracking",
    "tables_dir",
    "tracking_name",
    "visibility_tokens",
    "write_nuscenes_tables",
    "write_nuscenes_tracking",
]

DEFAULT_VERSION = "v1.0-fusionlabel"
#: the custom split in ``<version>/splits.json`` holding the exported scene (devkit ``eval_set``)
SPLIT_NAME = "fusionlabel"

#: label attributes holding a source dataset's point counts
_SOURCE_LIDAR_KEYS = ("num_lidar_pts", "num_lidar_points", "num_interior_pts")
_SOURCE_RADAR_KEYS = ("num_radar_pts", "num_radar_points")


def _source_count(attrs: Mapping[str, Any], keys: Sequence[str]) -> int | None:
    for key in keys:
        v: Any = attrs.get(key)
        if _is_int(v) and int(v) >= 0:
            return int(v)
    return None


def _map_png() -> bytes:
    """An 8 x 8 all-background map mask (PNG, 8-bit grey)."""
    import cv2

    ok, png = cv2.imencode(".png", np.zeros((8, 8), np.uint8))
    if not ok:  # pragma: no cover - OpenCV always encodes a PNG
        raise RuntimeError("OpenCV could not encode a PNG")
    return png.tobytes()


# -- the tables ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NuScenesExportReport:
    """What :func:`write_nuscenes_tables` wrote.

    root : the dataroot (``OUT``)
    version_dir : ``OUT/<version>``
    samples, annotations, sample_data : table sizes
    files : sensor files written (LiDAR and radar converted, images linked or copied)
    num_lidar_pts_from : ``{"recording": n, "labels": n, "none": n}``: where the counts came from
    problems : one line each: what could not be exported as asked (missing sensor files ...)
    """

    root: Path
    version_dir: Path
    samples: int
    annotations: int
    sample_data: int
    files: int
    num_lidar_pts_from: Mapping[str, int]
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class NuScenesTables:
    """The tables of one export (name -> rows), the sensor files written, and the count sources."""

    tables: dict[str, list[dict[str, Any]]]
    files: int = 0
    num_lidar_pts_from: Mapping[str, int] = field(default_factory=dict)


def build_nuscenes_tables(
    out: Path,
    labels: LabelSet,
    timestamps_ns: Mapping[int, int],
    ego_poses: Mapping[int, Transform],
    scene_name: str = "fusionlabel-scene",
    *,
    recording: Recording | None = None,
    rig: Rig | None = None,
    identity_pose: bool = False,
    copy_images: bool = False,
    problems: list[str] | None = None,
) -> NuScenesTables:
    """Build the 13 tables (name -> rows); with a recording, write its sensor files under ``out``.

    All checks come before the first sensor file is written (a refused export leaves ``out`` as it was).

    Parameters
    ----------
    out : the dataroot sensor files go to (``samples/<CHANNEL>/...``)
    labels : boxes in each frame's ego frame
    timestamps_ns : frame -> int ns; every labelled frame needs one
    ego_poses : frame -> ``T_world_ego``; every labelled frame needs one (unless ``identity_pose``)
    scene_name : ``scene.name`` and the seed of the tokens
    recording : the recording the labels belong to: sensor files, point counts, channels
    rig : the sensors (default: the recording's); cameras give the visibility
    identity_pose : the recording has no ego poses: use ``T_world_ego = I`` for every frame
    copy_images : copy camera images instead of linking them
    problems : a list that collects one line per problem

    Returns
    -------
    the tables, the number of sensor files written and where the LiDAR counts came from

    Raises
    ------
    ValueError : a labelled frame has no timestamp or no ego pose, two sensors share a channel ...
    """
    problems = problems if problems is not None else []
    scene = _scene(labels, timestamps_ns, ego_poses, scene_name, identity_pose)
    rig = rig if rig is not None else (recording.rig if recording is not None else None)
    sensors = _sensors(recording, rig, problems)
    sp = _SensorPass()
    if recording is None:
        problems.append(
            "no recording given: tables only (no sample_data rows or sensor files; point counts from the labels)"
        )
    else:
        out.mkdir(parents=True, exist_ok=True)
        sp = _sensor_pass(
            out, scene, recording, sensors, _pose_lookup(recording, scene, identity_pose), copy_images, problems
        )
    log_tok = _token(scene_name, "log")
    map_tok = _token(scene_name, "map")
    cams = [s.camera for s in sensors.values() if s.camera is not None]

    # ego poses: one per sample (the reference sample_data's), one per other sample_data
    poses = [_pose_row(_token(scene_name, "ego_pose", k), scene.times_ns[k], scene.poses[k]) for k in scene.frames]
    poses += sp.ego_poses
    samples = [
        {
            "token": scene.sample_token[k],
            "timestamp": _ns_to_us(scene.times_ns[k]),
            "scene_token": scene.token,
            "prev": scene.sample_token[scene.frames[i - 1]] if i > 0 else "",
            "next": scene.sample_token[scene.frames[i + 1]] if i + 1 < len(scene.frames) else "",
            "ego_pose_token": _token(scene_name, "ego_pose", k),
            "fusionlabel_frame": int(k),
            "fusionlabel_timestamp_ns": scene.times_ns[k],
        }
        for i, k in enumerate(scene.frames)
    ]
    # annotations
    attr_tok = {n: _token("attribute", n) for n in NUSCENES_ATTRIBUTES}
    speed = {tok: float(np.hypot(v[0], v[1])) for tok, v in scene.velocity.items()}
    track_max: dict[int, float] = {}
    for tid, t in scene.tracks.items():
        finite = [speed[a.token] for a in t if math.isfinite(speed[a.token])]
        track_max[tid] = max(finite) if finite else math.nan
    pts_from = {"recording": 0, "labels": 0, "none": 0}
    anns: list[dict[str, Any]] = []
    for k in scene.frames:
        frame_anns = scene.anns.get(k, [])
        ego = Boxes(
            np.array([a.box_ego.center[0] for a in frame_anns]).reshape(-1, 3),
            np.array([a.box_ego.size[0] for a in frame_anns]).reshape(-1, 3),
            np.array([a.box_ego.yaw[0] for a in frame_anns]),
        )
        vis = visibility_tokens(ego, cams)
        for a, v in zip(frame_anns, vis):
            ncat = scene.instance_category[a.tid]
            attr = nuscenes_attribute(ncat, a.category, speed[a.token], track_max[a.tid], a.attributes)
            n_l, from_l = sp.lidar_counts.get(a.token), "recording"
            if n_l is None:
                n_l, from_l = _source_count(a.attributes, _SOURCE_LIDAR_KEYS), "labels"
            if n_l is None:
                n_l, from_l = -1, "none"
            n_r, from_r = sp.radar_counts.get(a.token), "recording"
            if n_r is None:
                n_r, from_r = _source_count(a.attributes, _SOURCE_RADAR_KEYS), "labels"
            if n_r is None:
                n_r, from_r = -1, "none"
            pts_from[from_l] += 1
            anns.append(
                {
                    "token": a.token,
                    "sample_token": scene.sample_token[k],
                    "instance_token": a.instance,
                    "visibility_token": v,
                    "attribute_tokens": [attr_tok[attr]] if attr is not None else [],
                    "translation": [float(x) for x in a.center],
                    "size": [float(x) for x in a.wlh],
                    "rotation": a.rotation,
                    "prev": "",
                    "next": "",
                    "num_lidar_pts": int(n_l),
                    "num_radar_pts": int(n_r),
                    "fusionlabel_num_lidar_pts_from": from_l,
                    "fusionlabel_num_radar_pts_from": from_r,
                    "fusionlabel_score": a.score,
                    "fusionlabel_category": a.category,
                    "fusionlabel_attributes": dict(a.attributes),
                }
            )
    by_tok = {r["token"]: r for r in anns}
    for t in scene.tracks.values():  # an instance's annotations in frame order: link them
        for p, n in itertools.pairwise(t):
            by_tok[p.token]["next"] = n.token
            by_tok[n.token]["prev"] = p.token
    instances = [
        {
            "token": t[0].instance,
            "category_token": _token("category", scene.instance_category[tid]),
            "nbr_annotations": len(t),
            "first_annotation_token": t[0].token,
            "last_annotation_token": t[-1].token,
            "fusionlabel_track_id": tid,
        }
        for tid, t in scene.tracks.items()
    ]
    cat_names = list(NUSCENES_CATEGORIES) + sorted(
        {c for c in scene.instance_category.values() if c not in NUSCENES_CATEGORIES}
    )
    category = [
        {
            "token": _token("category", c),
            "name": c,
            "description": NUSCENES_CATEGORIES.get(
                c, f"FusionLabel category {c[len(FOREIGN_PREFIX) :]!r}: no nuScenes class"
            ),
        }
        for c in cat_names
    ]
    t0 = scene.times_ns[scene.frames[0]] if scene.frames else 0
    date = datetime.datetime.fromtimestamp(t0 / 1e9, tz=datetime.timezone.utc).strftime("%Y-%m-%d")
    sensor_rows = [
        {
            "token": _token("sensor", s.channel, s.modality),
            "channel": s.channel,
            "modality": s.modality,
            "fusionlabel_name": s.name,
        }
        for s in sensors.values()
    ]
    calib_rows = []
    for s in sensors.values():
        row: dict[str, Any] = {
            "token": _token(scene_name, "calibrated_sensor", s.channel),
            "sensor_token": _token("sensor", s.channel, s.modality),
            "translation": [float(v) for v in s.T_ego_sensor.translation],
            "rotation": _quat_wxyz(s.T_ego_sensor.rotation),
            "camera_intrinsic": s.camera.K.tolist() if s.camera is not None and s.modality == "camera" else [],
        }
        if s.camera is not None and len(s.camera.D):
            row["fusionlabel_distortion"] = {"model": s.camera.model, "D": s.camera.D.tolist()}
        calib_rows.append(row)
    tables: dict[str, list[dict[str, Any]]] = {
        "attribute": [{"token": attr_tok[n], "name": n, "description": d} for n, d in NUSCENES_ATTRIBUTES.items()],
        "calibrated_sensor": calib_rows,
        "category": category,
        "ego_pose": poses,
        "instance": instances,
        "log": [
            {
                "token": log_tok,
                "logfile": scene_name,
                "vehicle": "fusionlabel",
                "date_captured": date,
                "location": "unknown",
            }
        ],
        "map": [
            {
                "token": map_tok,
                "log_tokens": [log_tok],
                "category": "semantic_prior",
                "filename": f"maps/{map_tok}.png",
            }
        ],
        "sample": samples,
        "sample_annotation": anns,
        "sample_data": sp.sample_data,
        "scene": [
            {
                "token": scene.token,
                "log_token": log_tok,
                "nbr_samples": len(samples),
                "first_sample_token": samples[0]["token"] if samples else "",
                "last_sample_token": samples[-1]["token"] if samples else "",
                "name": scene_name,
                "description": "exported by FusionLabel",
            }
        ],
        "sensor": sensor_rows,
        "visibility": [{"token": t, "level": lv, "description": d} for t, lv, d in VISIBILITY_LEVELS],
    }
    return NuScenesTables(tables, sp.files, pts_from)


def write_nuscenes_tables(
    out: str | Path,
    labels: LabelSet,
    timestamps_ns: Mapping[int, int],
    ego_poses: Mapping[int, Transform],
    scene_name: str = "fusionlabel-scene",
    *,
    version: str = DEFAULT_VERSION,
    recording: Recording | None = None,
    rig: Rig | None = None,
    identity_pose: bool = False,
    copy_images: bool = False,
) -> NuScenesExportReport:
    """Write a nuScenes dataroot ``out`` (``out/<version>/`` with the 13 tables, ``maps/``, ``samples/``).

    Everything is checked before the first file is written (a refused export leaves ``out``
    untouched); the sensor files come next, the tables last, each file atomically. Parameters as
    :func:`build_nuscenes_tables`; ``version`` names the version folder (``NuScenes(version=...)``).

    Raises
    ------
    ValueError : as :func:`build_nuscenes_tables`, or a bad ``version`` name
    """
    out = Path(out)
    if not version or version != Path(version).name or version in (".", "..", "samples", "maps", "sweeps"):
        raise ValueError(f"bad nuScenes version name {version!r}: a plain folder name like {DEFAULT_VERSION!r}")
    problems: list[str] = []
    built = build_nuscenes_tables(
        out,
        labels,
        timestamps_ns,
        ego_poses,
        scene_name,
        recording=recording,
        rig=rig,
        identity_pose=identity_pose,
        copy_images=copy_images,
        problems=problems,
    )
    tables = built.tables
    texts = {n: json.dumps(rows, indent=1, allow_nan=False, default=_json) for n, rows in tables.items()}
    vdir = out / version
    vdir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / tables["map"][0]["filename"], _map_png())
    atomic_write_text(vdir / "splits.json", json.dumps({SPLIT_NAME: [scene_name]}, indent=1))
    for name in TABLES:
        atomic_write_text(vdir / f"{name}.json", texts[name])
    return NuScenesExportReport(
        root=out,
        version_dir=vdir,
        samples=len(tables["sample"]),
        annotations=len(tables["sample_annotation"]),
        sample_data=len(tables["sample_data"]),
        files=built.files,
        num_lidar_pts_from=built.num_lidar_pts_from,
        problems=tuple(problems),
    )
