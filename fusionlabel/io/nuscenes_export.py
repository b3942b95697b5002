"""nuScenes export: a complete version folder the nuScenes devkit loads, tracking results, and import.

:mod:`fusionlabel.io.nuscenes` reads nuScenes-schema recordings. This module writes one recording's
labels as a nuScenes **dataroot** that ``nuscenes.NuScenes(version=..., dataroot=OUT)`` loads, writes
pre-labels as a nuScenes **tracking-results** JSON that the devkit's ``TrackingEval`` accepts, and
reads both back::

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

**One scene, every frame a sample.** Each frame of the recording (each reference timestamp with an
ego pose) is a key-frame ``sample``; a sensor sample the recording matches to a frame is a key-frame
``sample_data`` of that sample (a sample matched to two frames belongs to the nearer one; samples no
frame uses, e.g. a 13 Hz radar's extra sweeps, are left out). The reference LiDAR's channel is
``LIDAR_TOP`` (the devkit's evaluation looks it up by that name); every other sensor's channel is its
name upper-cased (``cam_front`` -> ``CAM_FRONT``), the original name kept in ``sensor.fusionlabel_name``.

**Boxes** are in the global frame through each frame's ego pose ``T_world_ego``
(:func:`fusionlabel.core.conventions.boxes_to_nuscenes_global`): ``translation = T_world_ego c``,
``size = (w, l, h)``, ``rotation`` the upright quaternion ``(cos(psi/2), 0, 0, sin(psi/2))`` of the
global heading ``psi``; the devkit's ``get_box`` returns exactly these. A frame without an ego pose
is refused (naming the frame) unless ``identity_pose=True`` says the recording has no poses at all;
then ``T_world_ego = I`` for every frame (the "global" frame is each frame's ego frame, so velocities
and attributes describe motion relative to the ego).

**Categories** (:func:`nuscenes_category`, the table in ``docs/label_formats.md``): ``Car`` and
``Van`` -> ``vehicle.car`` (nuScenes counts vans as cars), ``Truck`` -> ``vehicle.truck``, ``Bus`` ->
``vehicle.bus.rigid``, ``Pedestrian`` -> ``human.pedestrian.adult``, ``Cyclist`` ->
``vehicle.bicycle`` (with ``cycle.with_rider``), ``Motorcycle`` -> ``vehicle.motorcycle``. A label
imported from a dataset keeps that dataset's finer class where it agrees with the label's category
(``human.pedestrian.child``, Argoverse's ``ARTICULATED_BUS`` -> ``vehicle.bus.bendy`` ...). Classes
nuScenes lacks (``Tram``, ``Misc``, others) are written as ``fusionlabel.<name>``: the devkit loads
them, its evaluation ignores them. Import maps back with
:func:`fusionlabel.io.nuscenes.canonical_category`.

**Attributes** (:func:`nuscenes_attribute`): speed ``|v_xy|`` from the devkit's own
``box_velocity`` rule (centred difference of the neighbouring annotations of the instance, at most
1.5 s apart, 3 s centred). Vehicles: ``vehicle.moving`` at >= 0.5 m/s, else ``vehicle.stopped``
if the instance moves at some time, else ``vehicle.parked``. Pedestrians: ``pedestrian.moving`` /
``pedestrian.standing`` (sitting cannot be told from a box). Bicycles and motorcycles:
``cycle.with_rider`` for cyclists and moving motorcycles, else ``cycle.without_rider``. No
attribute where the speed cannot be estimated (an instance with one annotation).

**Visibility** (:func:`visibility_tokens`): of a 4 x 4 x 4 grid of points inside the box, the
fraction that projects into at least one camera image with the line of sight not passing through
another labelled box; binned into nuScenes' levels ``1`` (0-40 %), ``2`` (40-60 %), ``3`` (60-80 %),
``4`` (80-100 %). Scenery and unlabelled objects do not occlude. Without cameras: ``""``.

**Point counts**: ``num_lidar_pts`` / ``num_radar_pts`` count the points of the sample's LiDAR /
radar ``sample_data`` files (exactly the float32 values written) inside the exported box, each file
taken to the global frame through its own calibration and ego pose, as the devkit does. Where the
recording's data cannot be read the count a source dataset gave the label is used (its attribute
``num_lidar_pts``, ``num_lidar_points`` or Argoverse's ``num_interior_pts``), else ``-1``
("not counted"; the devkit keeps such boxes in its evaluation, it drops boxes with 0 points); a
recording without radar gives ``num_radar_pts = 0``. ``fusionlabel_num_lidar_pts_from`` /
``fusionlabel_num_radar_pts_from`` say which (``recording``, ``labels``, ``none``).

Keys starting with ``fusionlabel_`` are extensions the devkit ignores; they keep what the schema has
no column for (frame indices, exact nanosecond times, track ids, scores, our category and
attributes), so the export reads back exactly. Tokens are deterministic UUID5s of the scene name
and the object: exporting twice gives identical files, and the tracking results of the same
recording name use the same sample tokens.

Import (:func:`read_nuscenes_tables`) reads this layout, the version folder itself, and the older
flat folder of six tables (``scene``, ``sample``, ``ego_pose``, ``category``, ``instance``,
``sample_annotation``); tables written by another tool import too (poses from ``sample_data`` or
the caller, frames in time order, track ids numbered by first appearance).

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
import io
import itertools
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.atomic import atomic_write_bytes, atomic_write_text
from fusionlabel.core.boxes import Boxes, points_in_boxes
from fusionlabel.core.calibration import Camera, Rig
from fusionlabel.core.conventions import boxes_to_nuscenes_global, nuscenes_global_to_boxes
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.frames import ImageRef, PointCloud
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform
from fusionlabel.io.nuscenes import _load_table, _number, _pose, canonical_category, us_to_ns
from fusionlabel.io.pointcloud import write_bin

#: the 13 tables of the nuScenes schema, all written
TABLES = (
    "attribute",
    "calibrated_sensor",
    "category",
    "ego_pose",
    "instance",
    "log",
    "map",
    "sample",
    "sample_annotation",
    "sample_data",
    "scene",
    "sensor",
    "visibility",
)
#: the six tables of the older flat layout (still read)
LEGACY_TABLES = ("scene", "sample", "ego_pose", "category", "instance", "sample_annotation")
DEFAULT_VERSION = "v1.0-fusionlabel"
#: the custom split in ``<version>/splits.json`` holding the exported scene (devkit ``eval_set``)
SPLIT_NAME = "fusionlabel"
#: category prefix for classes nuScenes has no name for
FOREIGN_PREFIX = "fusionlabel."
#: the channel of the reference LiDAR (the devkit's evaluation looks it up by this name)
REFERENCE_CHANNEL = "LIDAR_TOP"
#: speed at or above which a box is "moving", m/s
MOVING_SPEED_MPS = 0.5
#: the devkit's ``box_velocity(max_time_diff)``: neighbours further apart give no velocity, seconds
MAX_VELOCITY_DT_S = 1.5

_NS = uuid.UUID("6f1c2d0e-5b7a-4c1e-9a53-0f3e8d2b7c41")  # FusionLabel's UUID5 namespace

#: the nuScenes v1.0 taxonomy: name -> description
NUSCENES_CATEGORIES: dict[str, str] = {
    "animal": "All animals, e.g. cats, rats, dogs, deer, birds.",
    "human.pedestrian.adult": "Adult subcategory.",
    "human.pedestrian.child": "Child subcategory.",
    "human.pedestrian.construction_worker": "Construction worker.",
    "human.pedestrian.personal_mobility": "A small electric or self-propelled vehicle, e.g. skateboard, segway.",
    "human.pedestrian.police_officer": "Police officer.",
    "human.pedestrian.stroller": "Strollers.",
    "human.pedestrian.wheelchair": "Wheelchairs.",
    "movable_object.barrier": "Temporary road barrier placed in the scene in order to redirect traffic.",
    "movable_object.debris": "Movable object that is left on the driveable surface.",
    "movable_object.pushable_pullable": "Objects that a pedestrian may push or pull, e.g. dolleys, wheel barrows.",
    "movable_object.trafficcone": "All types of traffic cone.",
    "static_object.bicycle_rack": "Area or device intended to park or secure the bicycles in a row.",
    "vehicle.bicycle": "Human or electric powered 2-wheeled vehicle designed to travel at lower speeds.",
    "vehicle.bus.bendy": "Bendy bus subcategory. Annotate each section of the bendy bus individually.",
    "vehicle.bus.rigid": "Rigid bus subcategory.",
    "vehicle.car": "Vehicle designed primarily for personal use, e.g. sedans, hatch-backs, wagons, vans, "
    "mini-vans, SUVs and jeeps.",
    "vehicle.construction": "Vehicles primarily designed for construction. Typically very slow moving or stationary.",
    "vehicle.emergency.ambulance": "All types of ambulances.",
    "vehicle.emergency.police": "All types of police vehicles.",
    "vehicle.motorcycle": "Gasoline or electric powered 2-wheeled vehicle designed to move rapidly.",
    "vehicle.trailer": "Any vehicle trailer, both for trucks, cars and bikes.",
    "vehicle.truck": "Vehicles primarily designed to haul cargo including pick-ups, lorrys, trucks and semi-tractors.",
}

#: the nuScenes attributes: name -> description
NUSCENES_ATTRIBUTES: dict[str, str] = {
    "vehicle.moving": "Vehicle is moving.",
    "vehicle.stopped": "Vehicle, with a driver/rider in/on it, is currently stationary but has an intent to move.",
    "vehicle.parked": "Vehicle is stationary (usually for longer duration) with no immediate intent to move.",
    "cycle.with_rider": "There is a rider on the bicycle or motorcycle.",
    "cycle.without_rider": "There is NO rider on the bicycle or motorcycle.",
    "pedestrian.sitting_lying_down": "The human is sitting or lying down.",
    "pedestrian.standing": "The human is standing.",
    "pedestrian.moving": "The human is moving.",
}

#: nuScenes visibility levels: (token, level, description)
VISIBILITY_LEVELS: tuple[tuple[str, str, str], ...] = (
    ("1", "v0-40", "visibility of whole object is between 0 and 40%"),
    ("2", "v40-60", "visibility of whole object is between 40 and 60%"),
    ("3", "v60-80", "visibility of whole object is between 60 and 80%"),
    ("4", "v80-100", "visibility of whole object is between 80 and 100%"),
)

#: our canonical categories -> nuScenes
CATEGORY_TO_NUSCENES: dict[str, str] = {
    "Car": "vehicle.car",
    "Van": "vehicle.car",
    "Truck": "vehicle.truck",
    "Bus": "vehicle.bus.rigid",
    "Pedestrian": "human.pedestrian.adult",
    "Cyclist": "vehicle.bicycle",
    "Motorcycle": "vehicle.motorcycle",
}

#: finer source-dataset classes (a label's ``attributes["source_category"]``) -> (nuScenes, attribute)
SOURCE_CATEGORY_HINTS: dict[str, tuple[str, str | None]] = {
    # Argoverse 2
    "ARTICULATED_BUS": ("vehicle.bus.bendy", None),
    "SCHOOL_BUS": ("vehicle.bus.rigid", None),
    "BICYCLE": ("vehicle.bicycle", "cycle.without_rider"),
    "BICYCLIST": ("vehicle.bicycle", "cycle.with_rider"),
    "MOTORCYCLE": ("vehicle.motorcycle", "cycle.without_rider"),
    "MOTORCYCLIST": ("vehicle.motorcycle", "cycle.with_rider"),
    "VEHICULAR_TRAILER": ("vehicle.trailer", None),
    "OFFICIAL_SIGNALER": ("human.pedestrian.police_officer", None),
    "STROLLER": ("human.pedestrian.stroller", None),
    "WHEELCHAIR": ("human.pedestrian.wheelchair", None),
    "CONSTRUCTION_CONE": ("movable_object.trafficcone", None),
    "DOG": ("animal", None),
    # Lyft Level 5 / mmdet3d short names without a canonical FusionLabel class
    "trailer": ("vehicle.trailer", None),
    "construction_vehicle": ("vehicle.construction", None),
    "barrier": ("movable_object.barrier", None),
    "traffic_cone": ("movable_object.trafficcone", None),
}

#: nuScenes category -> tracking class (the devkit's ``category_to_tracking_name``)
TRACKING_CLASSES: dict[str, str] = {
    "vehicle.bicycle": "bicycle",
    "vehicle.bus.bendy": "bus",
    "vehicle.bus.rigid": "bus",
    "vehicle.car": "car",
    "vehicle.motorcycle": "motorcycle",
    "human.pedestrian.adult": "pedestrian",
    "human.pedestrian.child": "pedestrian",
    "human.pedestrian.construction_worker": "pedestrian",
    "human.pedestrian.police_officer": "pedestrian",
    "vehicle.trailer": "trailer",
    "vehicle.truck": "truck",
}

#: label attributes holding a source dataset's point counts
_SOURCE_LIDAR_KEYS = ("num_lidar_pts", "num_lidar_points", "num_interior_pts")
_SOURCE_RADAR_KEYS = ("num_radar_pts", "num_radar_points")
#: nuScenes radar PCD layout (what ``RadarPointCloud.from_file`` reads)
_RADAR_DTYPE = np.dtype(
    [
        ("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("dyn_prop", "i1"), ("id", "<i2"), ("rcs", "<f4"),
        ("vx", "<f4"), ("vy", "<f4"), ("vx_comp", "<f4"), ("vy_comp", "<f4"), ("is_quality_valid", "i1"),
        ("ambig_state", "i1"), ("x_rms", "i1"), ("y_rms", "i1"), ("invalid_state", "i1"), ("pdh0", "i1"),
        ("vx_rms", "i1"), ("vy_rms", "i1"),
    ]
)  # fmt: skip


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


def _quat_wxyz(R: NDArray[np.float64]) -> list[float]:
    """(3, 3) rotation -> unit quaternion ``[w, x, y, z]`` with ``w >= 0``.

    The matrix is first made orthonormal (``U V'`` of its SVD: KITTI's rectification is not
    exactly), then Shepperd's method picks the largest of ``w, x, y, z`` to divide by.
    """
    U, _, Vt = np.linalg.svd(np.asarray(R, dtype=np.float64))
    M = U @ Vt
    if np.linalg.det(M) < 0:
        M = U @ np.diag([1.0, 1.0, -1.0]) @ Vt
    t = np.trace(M)
    cands = np.array([t, M[0, 0], M[1, 1], M[2, 2]])
    i = int(np.argmax(cands))
    if i == 0:
        s = 2.0 * math.sqrt(1.0 + t)
        q = [s / 4, (M[2, 1] - M[1, 2]) / s, (M[0, 2] - M[2, 0]) / s, (M[1, 0] - M[0, 1]) / s]
    elif i == 1:
        s = 2.0 * math.sqrt(1.0 + M[0, 0] - M[1, 1] - M[2, 2])
        q = [(M[2, 1] - M[1, 2]) / s, s / 4, (M[0, 1] + M[1, 0]) / s, (M[0, 2] + M[2, 0]) / s]
    elif i == 2:
        s = 2.0 * math.sqrt(1.0 + M[1, 1] - M[0, 0] - M[2, 2])
        q = [(M[0, 2] - M[2, 0]) / s, (M[0, 1] + M[1, 0]) / s, s / 4, (M[1, 2] + M[2, 1]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + M[2, 2] - M[0, 0] - M[1, 1])
        q = [(M[1, 0] - M[0, 1]) / s, (M[0, 2] + M[2, 0]) / s, (M[1, 2] + M[2, 1]) / s, s / 4]
    qa = np.asarray(q, dtype=np.float64)
    qa /= np.linalg.norm(qa)
    if qa[0] < 0:
        qa = -qa
    return [float(v) for v in qa]


def _as_written(T: Transform) -> Transform:
    """``T`` as a reader of the tables rebuilds it from the written quaternion and translation."""
    return Transform.from_quaternion(_quat_wxyz(T.rotation), T.translation)


def _pose_row(token: str, t_ns: int, T: Transform) -> dict[str, Any]:
    return {
        "token": token,
        "timestamp": _ns_to_us(t_ns),
        "rotation": _quat_wxyz(T.rotation),
        "translation": [float(v) for v in T.translation],
    }


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "scene"


def channel_name(sensor: str) -> str:
    """nuScenes channel of a (non-reference) sensor: ``"cam_front"`` -> ``"CAM_FRONT"``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", sensor).strip("_").upper() or "SENSOR"


# -- categories and attributes -------------------------------------------------------------------
def nuscenes_category(category: str, attributes: Mapping[str, Any] | None = None) -> str:
    """The nuScenes category name of one of our labels.

    Parameters
    ----------
    category : our category (``"Car"``, ``"Pedestrian"`` ... or a dataset name passed through)
    attributes : the label's attributes; ``source_category`` (set by the dataset readers) picks a
        finer nuScenes class where it agrees with ``category``

    Returns
    -------
    a name of :data:`NUSCENES_CATEGORIES`, or ``"fusionlabel.<category>"`` for classes nuScenes lacks

    Example
    -------
    >>> nuscenes_category("Van"), nuscenes_category("Pedestrian", {"source_category": "human.pedestrian.child"})
    ('vehicle.car', 'human.pedestrian.child')
    >>> nuscenes_category("Tram")
    'fusionlabel.Tram'
    """
    src = (attributes or {}).get("source_category")
    if isinstance(src, str) and src:
        if src in NUSCENES_CATEGORIES and canonical_category(src) == category:
            return src
        hint = SOURCE_CATEGORY_HINTS.get(src)
        if hint is not None and (canonical_category(hint[0]) == category or src == category):
            return hint[0]
    if category in CATEGORY_TO_NUSCENES:
        return CATEGORY_TO_NUSCENES[category]
    if category in NUSCENES_CATEGORIES:
        return category
    hint = SOURCE_CATEGORY_HINTS.get(category)
    if hint is not None:
        return hint[0]
    if category.startswith(FOREIGN_PREFIX):
        return category
    return FOREIGN_PREFIX + category


def tracking_name(nuscenes_name: str) -> str | None:
    """The nuScenes tracking class of a nuScenes category, or None (the devkit ignores the class)."""
    return TRACKING_CLASSES.get(nuscenes_name)


def nuscenes_attribute(
    nuscenes_name: str,
    category: str,
    speed: float,
    track_max_speed: float,
    attributes: Mapping[str, Any] | None = None,
) -> str | None:
    """The one nuScenes attribute of an annotation (None where the rule gives none).

    Parameters
    ----------
    nuscenes_name : the instance's nuScenes category
    category : our category of the box
    speed : ``|v_xy|`` of the box, m/s (NaN when it cannot be estimated)
    track_max_speed : the largest finite speed of the instance, m/s (NaN when none)
    attributes : the label's attributes: nuScenes attribute names in ``attributes["attributes"]``
        (imported nuScenes labels) and the ``source_category`` hint win over the speed rule

    Rules (``MOVING_SPEED_MPS = 0.5``): vehicles ``moving`` / ``stopped`` (the instance moves at
    another time) / ``parked``; pedestrians ``moving`` / ``standing``; bicycles and motorcycles
    ``with_rider`` (cyclists, moving motorcycles) / ``without_rider``.
    """
    if nuscenes_name.startswith(("vehicle.bicycle", "vehicle.motorcycle")):
        group = "cycle."
    elif nuscenes_name.startswith("vehicle."):
        group = "vehicle."
    elif nuscenes_name.startswith("human.pedestrian."):
        group = "pedestrian."
    else:
        return None
    attrs = attributes or {}
    given = attrs.get("attributes")
    if isinstance(given, (list, tuple)):
        for a in given:
            if isinstance(a, str) and a in NUSCENES_ATTRIBUTES and a.startswith(group):
                return a
    src = attrs.get("source_category")
    hint = SOURCE_CATEGORY_HINTS.get(src) if isinstance(src, str) else None
    if group == "cycle." and hint is not None and hint[1] is not None and hint[0] == nuscenes_name:
        return hint[1]
    if group == "cycle." and category == "Cyclist":
        return "cycle.with_rider"
    if not math.isfinite(speed):
        return None
    moving = speed >= MOVING_SPEED_MPS
    ever = math.isfinite(track_max_speed) and track_max_speed >= MOVING_SPEED_MPS
    if group == "vehicle.":
        return "vehicle.moving" if moving else ("vehicle.stopped" if ever else "vehicle.parked")
    if group == "pedestrian.":
        return "pedestrian.moving" if moving else "pedestrian.standing"
    return "cycle.with_rider" if ever else "cycle.without_rider"


# -- visibility ------------------------------------------------------------------------------------
#: box-frame offsets of the visibility grid, in units of the box size: 4 x 4 x 4 cell centres
_GRID = np.stack(np.meshgrid(*([(np.arange(4) + 0.5) / 4 - 0.5] * 3), indexing="ij"), axis=-1).reshape(-1, 3)


def _box_grid(boxes: Boxes) -> NDArray[np.float64]:
    """(N, 64, 3) grid points inside each box, same frame as the boxes: ``c + Rz(yaw) (g * size)``."""
    local = _GRID[None, :, :] * boxes.size[:, None, :]
    c, s = np.cos(boxes.yaw)[:, None], np.sin(boxes.yaw)[:, None]
    x = c * local[..., 0] - s * local[..., 1]
    y = s * local[..., 0] + c * local[..., 1]
    return np.stack([x, y, local[..., 2]], axis=-1) + boxes.center[:, None, :]


def _occluded(
    origin: NDArray[np.float64], flat: NDArray[np.float64], owner: NDArray[np.int64], boxes: Boxes
) -> NDArray[np.bool_]:
    """(M,) whether the segment ``origin -> flat[m]`` passes through a box other than ``owner[m]``.

    Slab test in each box ``j``'s frame: ``q = Rz(-yaw_j)(p - c_j)``; the segment
    ``q_o + t (q_p - q_o)``, ``t in [0, 1)``, meets the box where the per-axis intervals
    ``[(-h - q_o) / d, (h - q_o) / d]`` overlap.
    """
    out = np.zeros(len(flat), dtype=bool)
    for j in range(len(boxes)):
        c, s = math.cos(boxes.yaw[j]), math.sin(boxes.yaw[j])
        R = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # Rz(-yaw_j)
        qo = R @ (origin - boxes.center[j])
        qp = (flat - boxes.center[j]) @ R.T
        d = qp - qo
        d = np.where(np.abs(d) < 1e-12, 1e-12, d)
        half = boxes.size[j] / 2.0
        t1 = (-half - qo) / d
        t2 = (half - qo) / d
        tmin = np.minimum(t1, t2).max(axis=1)
        tmax = np.maximum(t1, t2).min(axis=1)
        out |= (tmin <= tmax) & (tmax > 0.0) & (tmin < 1.0) & (owner != j)
    return out


def visibility_tokens(boxes: Boxes, cameras: Sequence[Camera]) -> list[str]:
    """nuScenes visibility token of each box (ego frame) seen by ``cameras`` (see the module docstring).

    Returns
    -------
    N tokens ``"1"`` .. ``"4"``; all ``""`` when no camera has an image size.
    """
    from fusionlabel.core.projection import project_points

    cams = [c for c in cameras if c.width > 0 and c.height > 0]
    n = len(boxes)
    if not cams or n == 0:
        return [""] * n
    flat = _box_grid(boxes).reshape(-1, 3)
    owner = np.repeat(np.arange(n), len(_GRID))
    seen = np.zeros(len(flat), dtype=bool)
    for cam in cams:
        idx = np.flatnonzero(project_points(flat, cam, cam.T_ego_cam.inverse()).valid & ~seen)
        if len(idx) and n > 1:
            idx = idx[~_occluded(cam.T_ego_cam.translation, flat[idx], owner[idx], boxes)]
        seen[idx] = True
    frac = seen.reshape(n, -1).mean(axis=1)
    # levels: [0, 0.4) -> 1, [0.4, 0.6) -> 2, [0.6, 0.8) -> 3, [0.8, 1] -> 4
    return [str(1 + int(np.searchsorted([0.4, 0.6, 0.8], f, side="right"))) for f in frac]


# -- the scene: frames, poses, global boxes --------------------------------------------------------
@dataclass(frozen=True)
class _Ann:
    """One annotation: a box of frame ``frame`` in the global frame, with its identity."""

    frame: int
    tid: int
    category: str
    attributes: Mapping[str, Any]
    score: float
    box_ego: Boxes  # one box, ego frame
    center: NDArray[np.float64]  # (3,) global, m
    wlh: NDArray[np.float64]  # (3,) m
    rotation: list[float]  # w x y z, box -> global
    psi: float  # global heading, rad
    token: str
    instance: str


@dataclass(frozen=True)
class _Scene:
    name: str
    frames: list[int]
    times_ns: dict[int, int]
    poses: dict[int, Transform]
    sample_token: dict[int, str]
    anns: dict[int, list[_Ann]]  # frame -> annotations in track-id order
    tracks: dict[int, list[_Ann]]  # track id -> annotations in frame order
    instance_category: dict[int, str]  # track id -> nuScenes category
    velocity: dict[str, NDArray[np.float64]]  # annotation token -> (3,) global m/s, NaN when unknown

    @property
    def token(self) -> str:
        return _token(self.name, "scene")


def _scene(
    labels: LabelSet,
    timestamps_ns: Mapping[int, int],
    ego_poses: Mapping[int, Transform],
    scene_name: str,
    identity_pose: bool,
) -> _Scene:
    """Validate frames and poses, and put every box into the global frame.

    Raises
    ------
    ValueError : a labelled frame has no time or no pose (naming the frame); ``identity_pose``
        with poses given; two frames in the same microsecond; a non-finite score
    """
    for k in labels.frames:
        if k not in timestamps_ns:
            raise ValueError(f"frame {k} has labels but no timestamp")
    if identity_pose:
        if ego_poses:
            raise ValueError(
                f"identity_pose is for recordings without ego poses, but {len(ego_poses)} frame(s) have one"
            )
        frames = sorted(set(labels.frames) | set(timestamps_ns))
        poses = {k: Transform.identity() for k in frames}
    else:
        for k in labels.frames:
            if k not in ego_poses:
                raise ValueError(
                    f"frame {k} has labels but no ego pose: nuScenes boxes are in the global frame "
                    "(a recording without any poses can be exported with identity_pose=True)"
                )
        frames = sorted(set(labels.frames) | (set(timestamps_ns) & set(ego_poses)))
        poses = {k: ego_poses[k] for k in frames}
    times = {k: int(timestamps_ns[k]) for k in frames}
    us = [_ns_to_us(times[k]) for k in frames]
    if len(set(us)) != len(us):
        raise ValueError("two frames fall in the same microsecond: nuScenes samples need distinct timestamps")
    sample_tok = {k: _token(scene_name, "sample", k) for k in frames}
    anns: dict[int, list[_Ann]] = {}
    tracks: dict[int, list[_Ann]] = {}
    for k, fl in labels.frames.items():
        center, wlh, q = boxes_to_nuscenes_global(fl.boxes, poses[k])
        rows = []
        for j in np.argsort(fl.track_ids, kind="stable"):
            tid = int(fl.track_ids[j])
            score = float(fl.scores[j])
            if not math.isfinite(score):
                raise ValueError(f"frame {k}, track {tid}: score {score} is not finite")
            a = _Ann(
                frame=k,
                tid=tid,
                category=fl.categories[j],
                attributes=dict(fl.attributes[j]),
                score=score,
                box_ego=fl.boxes[np.array([j])],
                center=center[j],
                wlh=wlh[j],
                rotation=[float(v) for v in q[j]],
                psi=float(2.0 * math.atan2(q[j, 3], q[j, 0])),
                token=_token(scene_name, "annotation", k, tid),
                instance=_token(scene_name, "instance", tid),
            )
            rows.append(a)
            tracks.setdefault(tid, []).append(a)
        anns[k] = rows
    # velocities: the devkit's box_velocity on the sample timestamps (microseconds):
    # v = (c_next - c_prev) / (t_next - t_prev), one-sided at the ends, none beyond 1.5 s (3 s centred)
    velocity: dict[str, NDArray[np.float64]] = {}
    for track in tracks.values():
        for i, a in enumerate(track):
            prev = track[i - 1] if i > 0 else None
            nxt = track[i + 1] if i + 1 < len(track) else None
            velocity[a.token] = np.full(3, np.nan)
            if prev is None and nxt is None:
                continue
            first, last = prev or a, nxt or a
            dt = 1e-6 * (_ns_to_us(times[last.frame]) - _ns_to_us(times[first.frame]))
            limit = MAX_VELOCITY_DT_S * (2 if prev is not None and nxt is not None else 1)
            if 0 < dt <= limit:
                velocity[a.token] = (last.center - first.center) / dt
    inst_cat = {tid: nuscenes_category(t[0].category, t[0].attributes) for tid, t in tracks.items()}
    return _Scene(scene_name, frames, times, poses, sample_tok, anns, dict(sorted(tracks.items())), inst_cat, velocity)


# -- sensors and their files -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Sensor:
    name: str
    channel: str
    modality: str  # "lidar" | "camera" | "radar"
    T_ego_sensor: Transform
    camera: Camera | None
    has_stream: bool


def _sensors(rec: Recording | None, rig: Rig | None, problems: list[str]) -> dict[str, _Sensor]:
    """The recording's streams (and the rig's other sensors, calibration only) with nuScenes channels."""
    kinds: dict[str, str] = {}
    if rec is not None:
        kinds.update({n: s.kind for n, s in rec.streams.items()})
    rig = rig if rig is not None else (rec.rig if rec is not None else None)
    if rig is not None:
        for n in rig.lidars:
            kinds.setdefault(n, "lidar")
        for n in rig.cameras:
            kinds.setdefault(n, "camera")
        for n in rig.radars:
            kinds.setdefault(n, "radar")
    lidars = sorted(n for n, k in kinds.items() if k == "lidar" and rec is not None and n in rec.streams)
    ref = None
    if rec is not None and kinds.get(rec.reference) == "lidar":
        ref = rec.reference
    elif lidars:
        ref = lidars[0]
    out: dict[str, _Sensor] = {}
    used: dict[str, str] = {}
    for n in sorted(kinds, key=lambda s: (s != ref, s)):
        ch = REFERENCE_CHANNEL if n == ref else channel_name(n)
        if ch in used:
            raise ValueError(f"sensors {used[ch]!r} and {n!r} both map to nuScenes channel {ch!r}")
        used[ch] = n
        try:
            T = rig.T_ego_sensor(n) if rig is not None else Transform.identity()
        except KeyError:
            problems.append(f"sensor {n}: not in the rig, written with an identity calibration")
            T = Transform.identity()
        cam = rig.cameras.get(n) if rig is not None else None
        out[n] = _Sensor(n, ch, kinds[n], T, cam, rec is not None and n in rec.streams)
    return out


def _write_radar_pcd(
    path: Path, xyz: NDArray[np.float32], radial_velocity: NDArray[np.float64], rcs: NDArray[np.float64]
) -> None:
    """A nuScenes radar PCD (binary, the 18 fields of ``RadarPointCloud``) from our detections.

    ``vx, vy`` and ``vx_comp, vy_comp`` both carry the recorded radial velocity ``v_r`` along the
    line of sight, scaled so that ``(x vx + y vy) / |p| = v_r`` (how
    :func:`fusionlabel.io.pcd.read_radar_pcd` reads it back); ``dyn_prop = 4`` (unknown),
    ``ambig_state = 3``, ``invalid_state = 0`` (kept by the devkit's default filters); unknown RCS
    is written as 0. No detections: one all-NaN point, nuScenes' marker of an empty sweep. A
    newline follows the binary data: the devkit's parser asserts that bytes follow every field.
    """
    n = len(xyz)
    rec = np.zeros(max(n, 1), dtype=_RADAR_DTYPE)
    if n == 0:
        for f in ("x", "y", "z", "rcs", "vx", "vy", "vx_comp", "vy_comp"):
            rec[f] = np.nan
    else:
        p = xyz.astype(np.float64)
        r = np.linalg.norm(p, axis=1)
        rxy2 = p[:, 0] ** 2 + p[:, 1] ** 2
        # (vx, vy) = v_r |p| (x, y) / |p_xy|^2  =>  (x vx + y vy) / |p| = v_r
        scale = np.divide(radial_velocity * r, rxy2, out=np.zeros(n), where=rxy2 > 0)
        rec["x"], rec["y"], rec["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
        rec["vx"] = rec["vx_comp"] = scale * p[:, 0]
        rec["vy"] = rec["vy_comp"] = scale * p[:, 1]
        rec["rcs"] = np.where(np.isfinite(rcs), rcs, 0.0)
        rec["id"] = np.arange(n) % 32768
        rec["dyn_prop"] = 4
        rec["is_quality_valid"] = 1
        rec["ambig_state"] = 3
        rec["pdh0"] = 1
    m = len(rec)
    header = (
        "# .PCD v0.7 - Point Cloud Data file format\n"
        "VERSION 0.7\n"
        f"FIELDS {' '.join(_RADAR_DTYPE.names or ())}\n"
        "SIZE 4 4 4 1 2 4 4 4 4 4 1 1 1 1 1 1 1 1\n"
        "TYPE F F F I I F F F F F I I I I I I I I\n"
        "COUNT 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n"
        f"WIDTH {m}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {m}\nDATA binary\n"
    )
    atomic_write_bytes(path, header.encode("ascii") + rec.tobytes() + b"\n")


def _place_image(src: ImageRef, dst: Path, copy: bool) -> Path:
    """Put an :class:`~fusionlabel.core.frames.ImageRef` at ``dst``: a symlink to (or copy of) its file;
    an image from a container (no file) is encoded as PNG. Returns the path written."""
    p = Path(src.source)
    if p.is_file():
        if copy:
            atomic_write_bytes(dst, p.read_bytes())
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.{os.getpid()}.lnk")
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            os.symlink(p.resolve(), tmp)
            os.replace(tmp, dst)
        return dst
    import cv2  # heavy import kept local

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(src.load()[:, :, ::-1]))
    if not ok:
        raise DataError(dst, f"cannot encode the image of {src.source} as PNG")
    dst = dst.with_suffix(".png")
    atomic_write_bytes(dst, buf.tobytes())
    return dst


@dataclass
class _SensorPass:
    """What the pass over the recording's sensor data produced."""

    sample_data: list[dict[str, Any]] = field(default_factory=list)
    ego_poses: list[dict[str, Any]] = field(default_factory=list)
    lidar_counts: dict[str, int] = field(default_factory=dict)  # annotation token -> points
    radar_counts: dict[str, int] = field(default_factory=dict)
    files: int = 0
    missing: int = 0


def _pose_lookup(rec: Recording | None, scene: _Scene, identity_pose: bool) -> Callable[[int], Transform]:
    """``T_world_ego`` at any sensor time: the recording's pose track where it agrees with the
    frames' poses, else the frames' poses interpolated (clamped at the ends)."""
    ts = np.array([scene.times_ns[k] for k in scene.frames], dtype=np.int64)
    track = PoseTrack(ts, tuple(scene.poses[k] for k in scene.frames)) if len(ts) else None
    use_rec = rec is not None and rec.ego_poses is not None and not identity_pose
    if use_rec and rec is not None:
        for k in scene.frames:
            T = rec.ego_pose_at(scene.times_ns[k])
            if T is None or not T.allclose(scene.poses[k], atol=1e-6):
                use_rec = False
                break

    def at(t_ns: int) -> Transform:
        if use_rec and rec is not None:
            T = rec.ego_pose_at(t_ns)
            if T is not None:
                return T
        if track is None:
            return Transform.identity()
        return track.at(int(t_ns), max_extrapolation_ns=2**62)

    return at


def _matched(rec: Recording, k: int) -> dict[str, int]:
    """sensor -> time (ns) of the sample each stream has in frame ``k`` (the reference: its own).

    Like :meth:`Recording.matched_samples`, but a recording whose frames outnumber its reference
    stream's samples (KITTI tracking labels beyond the images on disk) gives the reference sample
    only where the frame's time is one of them, rather than an error. A recording's own key-frame
    association (nuScenes tables: ``keyframe_assoc``) wins over matching by time, as its frames do.
    """
    out: dict[str, int] = {}
    assoc: Mapping[str, int] = (getattr(rec, "keyframe_assoc", None) or {}).get(k, {})
    for name, s in rec.streams.items():
        if name in assoc and name != rec.reference:
            i = int(assoc[name])
        elif name == rec.reference and len(s.timestamps_ns) == len(rec):
            i = k
        elif name == rec.reference:
            t = int(rec.timestamps_ns[k])
            i = int(np.searchsorted(s.timestamps_ns, t))
            i = i if i < len(s.timestamps_ns) and int(s.timestamps_ns[i]) == t else -1
        else:
            idx = rec.sync[name].index
            i = int(idx[k]) if k < len(idx) else -1
        if 0 <= i < len(s.timestamps_ns):
            out[name] = int(s.timestamps_ns[i])
    return out


def _sensor_pass(
    out: Path,
    scene: _Scene,
    rec: Recording,
    sensors: Mapping[str, _Sensor],
    pose_at: Callable[[int], Transform],
    copy_images: bool,
    problems: list[str],
) -> _SensorPass:
    """Write each frame's sensor files and count the points in its boxes (see the module docstring)."""
    res = _SensorPass()
    stem = _safe_name(scene.name)
    n_rec = len(rec)
    # a sensor sample matched to several frames belongs to the nearest one
    owner: dict[tuple[str, int], tuple[int, int]] = {}
    for k in scene.frames:
        if not 0 <= k < n_rec:
            continue
        for name, t in _matched(rec, k).items():
            d = abs(int(t) - scene.times_ns[k])
            if (name, t) not in owner or d < owner[(name, t)][1]:
                owner[(name, t)] = (k, d)
    emitted: set[tuple[str, int]] = set()
    prev_row: dict[str, dict[str, Any]] = {}
    has_lidar = any(s.modality == "lidar" and s.has_stream for s in sensors.values())
    has_radar = any(s.modality == "radar" and s.has_stream for s in sensors.values())
    beyond = [k for k in scene.frames if not 0 <= k < n_rec]
    if beyond:
        problems.append(
            f"{len(beyond)} frame(s) (first {beyond[0]}) are beyond the recording's {n_rec} frames: no sensor data"
        )
    failed = 0
    for k in scene.frames:
        if not 0 <= k < n_rec:
            continue
        try:
            frame = rec.frame(k)
            stamps = {n: int(t) for n, t in frame.sensor_timestamps.items()}
        except DataError as exc:
            failed += 1
            if failed <= 3:
                problems.append(
                    f"frame {k}: sensor data not readable ({exc}); point counts from the labels where they have one, else -1"
                )
            frame = None
            stamps = _matched(rec, k)
        anns = scene.anns.get(k, [])
        boxes = Boxes(
            np.array([a.center for a in anns]).reshape(-1, 3),
            np.array([a.wlh[[1, 0, 2]] for a in anns]).reshape(-1, 3),
            np.array([a.psi for a in anns]),
        )
        lidar_world: list[NDArray[np.float64]] = []
        radar_world: list[NDArray[np.float64]] = []
        for name in sorted(stamps, key=lambda n: (n != rec.reference, n)):
            s = sensors.get(name)
            if s is None:
                continue
            t = scene.times_ns[k] if name == rec.reference else stamps[name]
            if (name, t) in emitted or (name != rec.reference and owner.get((name, t), (k, 0))[0] != k):
                continue
            emitted.add((name, t))
            T_world_ego = scene.poses[k] if name == rec.reference else pose_at(t)
            # points go to the global frame as a reader of the tables takes them: through the
            # written (unit) quaternions, so the counts are what the devkit counts
            T_world_sensor = _as_written(T_world_ego) @ _as_written(s.T_ego_sensor)
            ext = {"lidar": ".pcd.bin", "radar": ".pcd"}.get(s.modality, ".jpg")
            path = out / "samples" / s.channel / f"{stem}__{s.channel}__{_ns_to_us(t)}{ext}"
            written: Path | None = None
            if frame is not None and s.modality == "lidar" and name in frame.lidar:
                cloud = frame.lidar[name]
                xyz = cloud.xyz
                if cloud.frame_id == "ego":
                    xyz = s.T_ego_sensor.inverse().apply(xyz).astype(np.float32)
                write_bin(
                    path,
                    PointCloud(xyz, {f: v for f, v in cloud.fields.items() if f in ("intensity", "ring")}, s.channel),
                )
                # count on exactly the float32 values written: sensor -> ego -> global
                lidar_world.append(T_world_sensor.apply(np.asarray(xyz, np.float64)))
                written = path
            elif frame is not None and s.modality == "radar" and name in frame.radar:
                det = frame.radar[name]
                xyz_s = s.T_ego_sensor.inverse().apply(det.xyz) if det.frame_id == "ego" else det.xyz
                xyz32 = np.asarray(xyz_s, dtype=np.float32)
                _write_radar_pcd(path, xyz32, det.radial_velocity, det.rcs)
                radar_world.append(T_world_sensor.apply(xyz32.astype(np.float64)))
                written = path
            elif frame is not None and s.modality == "camera" and name in frame.images:
                ref = frame.images[name]
                src_ext = "".join(Path(ref.source).suffixes[-1:]).lower() or ".jpg"
                written = _place_image(ref, path.with_suffix(src_ext), copy_images)
                path = written
            if written is None:
                res.missing += 1
            else:
                res.files += 1
            pose_tok = (
                _token(scene.name, "ego_pose", k)
                if name == rec.reference
                else _token(scene.name, "ego_pose", s.channel, t)
            )
            if name != rec.reference:
                res.ego_poses.append(_pose_row(pose_tok, t, T_world_ego))
            cam = s.camera
            row = {
                "token": _token(scene.name, "sample_data", s.channel, t),
                "sample_token": scene.sample_token[k],
                "ego_pose_token": pose_tok,
                "calibrated_sensor_token": _token(scene.name, "calibrated_sensor", s.channel),
                "timestamp": _ns_to_us(t),
                "fileformat": "pcd" if s.modality in ("lidar", "radar") else path.suffix.lstrip(".").lower(),
                "is_key_frame": True,
                "height": int(cam.height) if cam is not None and s.modality == "camera" else 0,
                "width": int(cam.width) if cam is not None and s.modality == "camera" else 0,
                "filename": path.relative_to(out).as_posix(),
                "prev": "",
                "next": "",
                "fusionlabel_timestamp_ns": int(t),
            }
            p = prev_row.get(s.channel)
            if p is not None:
                p["next"] = row["token"]
                row["prev"] = p["token"]
            prev_row[s.channel] = row
            res.sample_data.append(row)
        # counts: points of this sample's files; a sample without a file of the kind has 0; a frame
        # whose data did not load, or a recording without LiDAR, has none (-> the labels' count)
        if anns and has_lidar and frame is not None:
            n_l = points_in_boxes(np.concatenate(lidar_world), boxes).sum(axis=0) if lidar_world else [0] * len(anns)
            res.lidar_counts.update({a.token: int(c) for a, c in zip(anns, n_l)})
        if anns and (frame is not None or not has_radar):
            n_r = points_in_boxes(np.concatenate(radar_world), boxes).sum(axis=0) if radar_world else [0] * len(anns)
            res.radar_counts.update({a.token: int(c) for a, c in zip(anns, n_r)})
    if failed > 3:
        problems.append(f"... sensor data of {failed} frame(s) in all was not readable")
    if res.missing:
        problems.append(
            f"{res.missing} sensor sample(s) have no data to write (file missing or not readable): "
            "their sample_data rows name a file that is not there"
        )
    # order: by channel, then time (prev/next already link each channel's chain)
    res.sample_data.sort(key=lambda r: (r["calibrated_sensor_token"], r["timestamp"]))
    return res


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _source_count(attrs: Mapping[str, Any], keys: Sequence[str]) -> int | None:
    for key in keys:
        v: Any = attrs.get(key)
        if _is_int(v) and int(v) >= 0:
            return int(v)
    return None


def _map_png() -> bytes:
    """An 8 x 8 all-background map mask (PNG, 8-bit grey)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (8, 8), 0).save(buf, format="PNG")
    return buf.getvalue()


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


# -- tracking results ------------------------------------------------------------------------------
def labels_to_nuscenes_tracking(
    labels: LabelSet,
    timestamps_ns: Mapping[int, int],
    ego_poses: Mapping[int, Transform],
    scene_name: str = "fusionlabel-scene",
    *,
    identity_pose: bool = False,
    meta: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], int]:
    """Labels (pre-labels) as a nuScenes tracking-results document.

    ``{"meta": {...}, "results": {sample_token: [sample_result, ...]}}`` with every sample of the
    scene (empty lists included, as the devkit requires) and the sample tokens of
    :func:`write_nuscenes_tables` for the same ``scene_name`` and frames. Each ``sample_result``:
    ``translation``, ``size`` (w, l, h), ``rotation`` (w, x, y, z) in the global frame as in the
    tables; ``velocity`` ``(vx, vy)`` m/s by the devkit's ``box_velocity`` rule (``[0, 0]`` where a
    track has one box); ``tracking_id`` the instance token of the tables; ``tracking_name`` the
    tracking class of the track's nuScenes category (one per track, from its first box); and
    ``tracking_score`` the box score. Tracks whose category has no tracking class are left out.
    Extension keys (the devkit ignores them) keep our track id and category:
    ``fusionlabel_track_id``, ``fusionlabel_category``; ``meta.fusionlabel`` names the scene.

    Parameters
    ----------
    meta : the ``meta`` block (default: ``use_lidar`` True, the other ``use_*`` False); extra keys pass

    Returns
    -------
    the document; the number of boxes left out (no tracking class)

    Raises
    ------
    ValueError : as :func:`build_nuscenes_tables`; a score outside [0, 1]
    """
    scene = _scene(labels, timestamps_ns, ego_poses, scene_name, identity_pose)
    results: dict[str, list[dict[str, Any]]] = {scene.sample_token[k]: [] for k in scene.frames}
    left_out = 0
    for tid, track in scene.tracks.items():
        tname = tracking_name(scene.instance_category[tid])
        if tname is None:
            left_out += len(track)
            continue
        for a in track:
            if not 0.0 <= a.score <= 1.0:
                raise ValueError(
                    f"frame {a.frame}, track {tid}: score {a.score} is outside [0, 1] (nuScenes tracking_score)"
                )
            v = scene.velocity[a.token][:2]
            v = v if np.all(np.isfinite(v)) else np.zeros(2)
            results[scene.sample_token[a.frame]].append(
                {
                    "sample_token": scene.sample_token[a.frame],
                    "translation": [float(x) for x in a.center],
                    "size": [float(x) for x in a.wlh],
                    "rotation": a.rotation,
                    "velocity": [float(x) for x in v],
                    "tracking_id": a.instance,
                    "tracking_name": tname,
                    "tracking_score": float(a.score),
                    "fusionlabel_track_id": tid,
                    "fusionlabel_category": a.category,
                }
            )
    m: dict[str, Any] = {
        "use_camera": False,
        "use_lidar": True,
        "use_radar": False,
        "use_map": False,
        "use_external": False,
    }
    m.update(dict(meta or {}))
    m.setdefault("fusionlabel", {"scene": scene_name, "frames": len(scene.frames)})
    return {"meta": m, "results": results}, left_out


def write_nuscenes_tracking(
    path: str | Path,
    labels: LabelSet,
    timestamps_ns: Mapping[int, int],
    ego_poses: Mapping[int, Transform],
    scene_name: str = "fusionlabel-scene",
    *,
    identity_pose: bool = False,
    meta: Mapping[str, Any] | None = None,
) -> int:
    """Write :func:`labels_to_nuscenes_tracking` to ``path`` atomically; returns the boxes left out."""
    doc, left_out = labels_to_nuscenes_tracking(
        labels, timestamps_ns, ego_poses, scene_name, identity_pose=identity_pose, meta=meta
    )
    atomic_write_text(Path(path), json.dumps(doc, allow_nan=False, default=_json))
    return left_out


def sniff_nuscenes_tracking(path: Path) -> bool:
    """A JSON file whose first 4 KiB hold ``"results"`` and ``"meta"`` or ``"tracking_name"``."""
    if not (path.is_file() and path.suffix.lower() == ".json"):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b'"results"' in head and (b'"tracking_name"' in head or b'"use_lidar"' in head)


def read_nuscenes_tracking(
    path: str | Path,
    timestamps_ns: Mapping[int, int],
    ego_poses: Mapping[int, Transform],
    scene_name: str,
) -> tuple[LabelSet, dict[int, int]]:
    """Read a tracking-results JSON back into labels (ego frame) of the recording it was written for.

    Sample tokens are placed by recomputing the tokens of ``scene_name``'s frames; track ids and categories are our extension
    keys where present, else tracking ids are numbered 1, 2, ... by first appearance and
    categories map back from ``tracking_name``; ``attributes["tracking_id"]`` keeps the id as
    written; scores are ``tracking_score``.

    Raises
    ------
    DataError / CorruptFileError : naming the file (not JSON, a sample token of another scene, no pose)
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(path, f"cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise CorruptFileError(path, "a nuScenes results file needs a 'results' object (sample_token -> list)")
    frame_of = {_token(scene_name, "sample", k): k for k in timestamps_ns}
    fl_meta = (doc.get("meta") or {}).get("fusionlabel") if isinstance(doc.get("meta"), dict) else None
    written_for = fl_meta.get("scene") if isinstance(fl_meta, dict) else None
    if isinstance(written_for, str) and written_for != scene_name:
        raise DataError(
            path, f"written for recording {written_for!r}, not {scene_name!r}: its sample tokens are that scene's"
        )
    ids: dict[str, int] = {}
    per_frame: dict[int, list[dict[str, Any]]] = {}
    for tok, rows in doc["results"].items():
        if tok not in frame_of:
            raise DataError(
                path, f"sample token {tok!r} is not a sample of {scene_name!r}: give the recording it was written for"
            )
        if not isinstance(rows, list):
            raise CorruptFileError(path, f"results[{tok!r}] is not a list")
        per_frame.setdefault(frame_of[tok], []).extend(rows)
    own = all(_is_int(r.get("fusionlabel_track_id")) for rows in per_frame.values() for r in rows)
    for k in sorted(per_frame):
        for r in per_frame[k]:
            tid = str(r.get("tracking_id", ""))
            if own:
                ids[tid] = int(r["fusionlabel_track_id"])
            else:
                ids.setdefault(tid, len(ids) + 1)
    out: dict[int, FrameLabels] = {}
    for k, rows in sorted(per_frame.items()):
        if not rows:
            continue
        if k not in ego_poses:
            raise DataError(path, f"frame {k}: no ego pose to bring the global boxes into the ego frame")
        try:
            c = np.array([_number(path, r, "translation", (3,)) for r in rows]).reshape(-1, 3)
            wlh = np.array([_number(path, r, "size", (3,)) for r in rows]).reshape(-1, 3)
            q = np.array([_number(path, r, "rotation", (4,)) for r in rows]).reshape(-1, 4)
            names = [str(r["tracking_name"]) for r in rows]
            out[k] = FrameLabels(
                np.array([ids[str(r.get("tracking_id", ""))] for r in rows], np.int64),
                tuple(str(r.get("fusionlabel_category") or canonical_category(n)) for r, n in zip(rows, names)),
                nuscenes_global_to_boxes(c, wlh, q, ego_poses[k]),
                np.array([float(r["tracking_score"]) for r in rows]),
                tuple({"tracking_id": str(r.get("tracking_id", "")), "tracking_name": n} for r, n in zip(rows, names)),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CorruptFileError(path, f"frame {k}: bad sample_result ({type(exc).__name__}: {exc})") from None
    times = {k: int(timestamps_ns[k]) for k in out if k in timestamps_ns}
    return LabelSet(out), times


# -- import ----------------------------------------------------------------------------------------
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
