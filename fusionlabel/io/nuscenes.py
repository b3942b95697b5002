"""nuScenes-schema recordings (nuScenes, Lyft Level 5) and mmdetection3d nuScenes info files.

Two inputs are read here.

**Tables** (:func:`open_nuscenes`). A *dataroot* holds a version folder (``v1.0-mini``,
``v1.01-train`` ...) with the JSON tables ``sample``, ``sample_data``, ``ego_pose``,
``calibrated_sensor``, ``sensor``, ``scene``, ``sample_annotation``, ``instance`` and
``category`` (``attribute``, ``visibility``, ``log`` and ``map`` are optional), and the sensor
blobs under the paths that ``sample_data.filename`` gives relative to the dataroot.

* One scene is one :class:`~fusionlabel.core.recording.Recording`. With several scenes in the
  tables, ``scene=`` (a scene name or token) is required and the error lists the names: there
  is no silent "first scene".
* One stream per sensor channel, holding every ``sample_data`` row of the scene (key frames and
  sweeps). Timestamps are microseconds in the tables, nanoseconds here:
  ``t_ns = floor(t_us) * 1000 + round(frac(t_us) * 1000)`` (exact for nuScenes' integer
  microseconds; Lyft's fractional timestamps keep their float precision, 0.25 us).
* The reference stream is ``LIDAR_TOP`` (else the first lidar channel by name). Every
  reference ``sample_data`` row is a frame (20 Hz on nuScenes, sweeps included). On a key
  frame the other channels are taken from the same ``sample`` (the tables' own association);
  on a sweep they are matched by nearest timestamp (:attr:`Recording.sync`).
* Rig: ``calibrated_sensor`` gives ``T_ego_sensor`` (``rotation`` is a w, x, y, z quaternion)
  and, for cameras, ``camera_intrinsic``; the camera frame is already the OpenCV optical frame
  and nuScenes images are undistorted (``D`` empty). Image sizes come from ``sample_data``.
* Ego poses: ``ego_pose`` rows, keyed by the timestamp of the ``sample_data`` row that points
  at them (Lyft's ``ego_pose.timestamp`` column is unreliable: every row of the trimmed tables
  carries the same value). A frame's ``ego_pose`` is the reference row's own pose.
* Labels: ``sample_annotation`` rows (global frame; ``size`` is ``w, l, h``; ``rotation`` a
  w, x, y, z quaternion) are expressed in the ego frame of their key frame's reference
  ``sample_data`` (its own ego pose, as the devkit does) with
  :func:`fusionlabel.core.conventions.nuscenes_global_to_boxes`.
* Track ids: instance tokens are numbered ``1, 2, ...`` in order of first appearance in the
  scene (key-frame time, then token), so the ids are deterministic for given tables. The token
  is kept in ``attributes["instance_token"]`` (and the annotation's in ``"annotation_token"``).
* Categories map onto :data:`~fusionlabel.core.labels.CATEGORIES` through
  :data:`CATEGORY_MAP` (``vehicle.car`` -> ``Car``, ``human.pedestrian.*`` -> ``Pedestrian``,
  ``vehicle.bicycle`` -> ``Cyclist`` ...); FusionLabel's own ``fusionlabel.<name>`` (classes its
  export writes outside the nuScenes taxonomy) become ``<name>``; other names pass through
  unchanged. The dataset's name is kept in ``attributes["source_category"]``.
* Blobs need not exist: tables without blobs (like the Lyft sample) open; loading a frame whose
  file is missing raises :class:`DataError` naming the file.
* A broken reference (a token that is not in the table it points to) raises
  :class:`CorruptFileError` naming the table file that holds the dangling token.

**mmdetection3d info files** (:func:`open_mmdet3d_info`): the JSON form of mmdet3d's
``nuscenes_infos_*.pkl`` (info version 1.1): per sample ``lidar_points.lidar2ego``,
``images[CAM].cam2img`` (K), ``cam2ego`` (or ``lidar2cam``), ``ego2global`` and ``instances``
with ``bbox_3d = [x, y, z, l, w, h, yaw]`` in the LIDAR_TOP frame, gravity centre. Each
``data_list`` entry is one frame; boxes are converted to the ego frame; these files carry no
instance tokens, so track ids are the row index within the frame (``0 .. N-1``). Blobs are
looked up under ``<dataroot>/samples/<CHANNEL>/<file>`` then ``<dataroot>/<file>``.
:func:`sniff` and :func:`open_nuscenes` also accept a folder holding one such JSON and a
``samples/`` folder.

Example
-------
>>> rec = open_nuscenes("real_data/lyft_nuscenes_schema")          # doctest: +SKIP
>>> rec.reference, len(rec), rec.labels().num_boxes()                # doctest: +SKIP
('LIDAR_TOP', 1, 4)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera, Lidar, Radar, Rig
from fusionlabel.core.conventions import (
    MMDET3D_GRAVITY,
    heading_to_frame,
    mmdet3d_lidar_to_boxes,
    nuscenes_global_to_boxes,
)
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import Frame, ImageRef, PointCloud, RadarDetections
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import DEFAULT_TOLERANCE_NS, Recording, SensorKind, Stream
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform

REQUIRED_TABLES = (
    "sample",
    "sample_data",
    "ego_pose",
    "calibrated_sensor",
    "sensor",
    "scene",
    "sample_annotation",
    "instance",
    "category",
)
OPTIONAL_TABLES = ("attribute", "visibility", "log", "map")

#: dataset category name -> canonical name (nuScenes full names, Lyft and mmdet3d short names)
CATEGORY_MAP: dict[str, str] = {
    # nuScenes
    "vehicle.car": "Car",
    "vehicle.truck": "Truck",
    "vehicle.bus.bendy": "Bus",
    "vehicle.bus.rigid": "Bus",
    "vehicle.trailer": "Misc",
    "vehicle.construction": "Misc",
    "vehicle.emergency.ambulance": "Van",
    "vehicle.emergency.police": "Car",
    "vehicle.bicycle": "Cyclist",
    "vehicle.motorcycle": "Motorcycle",
    "human.pedestrian.adult": "Pedestrian",
    "human.pedestrian.child": "Pedestrian",
    "human.pedestrian.construction_worker": "Pedestrian",
    "human.pedestrian.police_officer": "Pedestrian",
    "human.pedestrian.wheelchair": "Pedestrian",
    "human.pedestrian.stroller": "Pedestrian",
    "human.pedestrian.personal_mobility": "Pedestrian",
    # Lyft Level 5 and mmdet3d's nuScenes detection classes
    "car": "Car",
    "truck": "Truck",
    "bus": "Bus",
    "trailer": "Misc",
    "construction_vehicle": "Misc",
    "other_vehicle": "Misc",
    "emergency_vehicle": "Misc",
    "bicycle": "Cyclist",
    "motorcycle": "Motorcycle",
    "pedestrian": "Pedestrian",
}

_MODALITY_KIND: dict[str, SensorKind] = {"lidar": "lidar", "camera": "camera", "radar": "radar"}


def _finite_list(v: Any) -> list[float] | None:
    """A list of finite floats, or None when absent or any value is unknown (NaN / inf)."""
    if v is None:
        return None
    out = [float(x) for x in v]
    return out if out and all(math.isfinite(x) for x in out) else None


def canonical_category(name: str) -> str:
    """Canonical category of a nuScenes / Lyft / mmdet3d class name (unknown names pass through).

    ``fusionlabel.<name>``, how FusionLabel's nuScenes export writes classes nuScenes has no name
    for (:mod:`fusionlabel.io.nuscenes_export`), maps back to ``<name>``.
    """
    if name in CATEGORY_MAP:
        return CATEGORY_MAP[name]
    if name.startswith("human.pedestrian."):
        return "Pedestrian"
    if name.startswith("fusionlabel.") and len(name) > len("fusionlabel."):
        return name[len("fusionlabel.") :]
    return name


def us_to_ns(t_us: float) -> int:
    """Table timestamp (microseconds, int or float) -> int nanoseconds, without float rounding of the integer part."""
    if isinstance(t_us, bool) or not isinstance(t_us, (int, float)) or not math.isfinite(t_us):
        raise ValueError(f"timestamp {t_us!r} is not a finite number")
    if isinstance(t_us, int):
        return t_us * 1000
    whole = math.floor(t_us)
    return whole * 1000 + round((t_us - whole) * 1000.0)


def seconds_to_ns(t_s: float) -> int:
    """mmdet3d info timestamps (float seconds of microsecond stamps) -> int ns, rounded to the microsecond."""
    return round(float(t_s) * 1e6) * 1000


# -- sniffing ---------------------------------------------------------------------------------


def _is_version_dir(p: Path) -> bool:
    return p.is_dir() and (p / "sample_data.json").is_file() and (p / "scene.json").is_file()


def _version_dirs(root: Path) -> list[Path]:
    if _is_version_dir(root):
        return [root]
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if _is_version_dir(d))


def _is_info_json(p: Path) -> bool:
    """Cheap: a .json whose first 64 KiB mention mmdet3d's ``data_list`` or ``metainfo`` keys."""
    if not (p.is_file() and p.suffix == ".json"):
        return False
    try:
        with p.open("rb") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    return b'"data_list"' in head or b'"metainfo"' in head


def _info_jsons(root: Path) -> list[Path]:
    if root.is_file():
        return [root] if _is_info_json(root) else []
    if not (root.is_dir() and (root / "samples").is_dir()):
        return []
    return sorted(p for p in root.glob("*.json") if _is_info_json(p))


def sniff(path: Path) -> bool:
    """True for a nuScenes/Lyft dataroot or version folder, or an mmdet3d info JSON (or its folder)."""
    path = Path(path)
    return bool(_version_dirs(path)) or bool(_info_jsons(path))


sniff_nuscenes = sniff


# -- table loading ----------------------------------------------------------------------------


def _load_table(version_dir: Path, name: str, required: bool = True) -> list[dict[str, Any]]:
    p = version_dir / f"{name}.json"
    if not p.is_file():
        if required:
            raise DataError(p, f"required nuScenes table '{name}.json' is missing")
        return []
    try:
        rows = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(p, f"cannot read table: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptFileError(p, f"table is not valid JSON: {exc}") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("token"), str) for r in rows):
        raise CorruptFileError(p, "a nuScenes table must be a JSON list of objects, each with a string 'token'")
    return rows


@dataclass
class _Tables:
    dir: Path
    rows: dict[str, dict[str, dict[str, Any]]]  # table -> token -> row

    def path(self, table: str) -> Path:
        return self.dir / f"{table}.json"

    def ref(self, table: str, row: Mapping[str, Any], key: str, target: str) -> dict[str, Any]:
        """Follow ``row[key]`` into ``target``; a dangling token raises naming ``table``'s file."""
        tok = row.get(key)
        hit = self.rows[target].get(tok) if isinstance(tok, str) else None
        if hit is None:
            raise CorruptFileError(
                self.path(table),
                f"row {row.get('token', '?')!s}: {key} {tok!r} is not a token of {target}.json (broken reference)",
            )
        return hit


def _load_tables(version_dir: Path) -> _Tables:
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    for name in REQUIRED_TABLES:
        rows[name] = {r["token"]: r for r in _load_table(version_dir, name)}
    for name in OPTIONAL_TABLES:
        rows[name] = {r["token"]: r for r in _load_table(version_dir, name, required=False)}
    return _Tables(version_dir, rows)


def _number(table: Path, row: Mapping[str, Any], key: str, shape: tuple[int, ...]) -> NDArray[np.float64]:
    try:
        a = np.asarray(row[key], dtype=np.float64)
        if a.shape != shape or not np.all(np.isfinite(a)):
            raise ValueError(f"expected shape {shape}")
    except (KeyError, ValueError, TypeError) as exc:
        raise CorruptFileError(table, f"row {row.get('token', '?')!s}: bad '{key}' ({exc})") from None
    return a


def _pose(table: Path, row: Mapping[str, Any]) -> Transform:
    q = _number(table, row, "rotation", (4,))
    t = _number(table, row, "translation", (3,))
    if abs(float(np.linalg.norm(q)) - 1.0) > 1e-3:
        raise CorruptFileError(
            table, f"row {row.get('token', '?')!s}: rotation quaternion is not unit (|q| = {np.linalg.norm(q):.4f})"
        )
    return Transform.from_quaternion(q, t)


# -- the recording ----------------------------------------------------------------------------


@dataclass
class NuScenesRecording(Recording):
    """A nuScenes-schema scene (or an mmdet3d info file). See the module docstring.

    Extra attributes
    ----------------
    dataroot : folder the blob paths are relative to
    scene_name : the scene's name (``""`` for info files)
    files : stream -> (K,) blob paths, index-aligned with the stream's timestamps
    keyframe_assoc : reference frame index -> {stream: sample index} from the tables
    """

    dataroot: Path = field(default_factory=Path)
    scene_name: str = ""
    files: dict[str, list[Path]] = field(default_factory=dict, repr=False)
    keyframe_assoc: dict[int, dict[str, int]] = field(default_factory=dict, repr=False)
    frame_poses: dict[int, Transform] = field(default_factory=dict, repr=False)
    _labels_fn: Any = field(default=None, repr=False)
    _labels_cache: LabelSet | None = field(default=None, init=False, repr=False)

    def _load_frame(self, index: int) -> Frame:
        from fusionlabel.io.pointcloud import NUSCENES_BIN_COLUMNS, read_bin, read_point_cloud, read_radar_pcd

        t_ref = int(self.timestamps_ns[index])
        assoc = self.keyframe_assoc.get(index, {})
        lidar: dict[str, PointCloud] = {}
        radar: dict[str, RadarDetections] = {}
        images: dict[str, ImageRef] = {}
        stamps: dict[str, int] = {}
        names = [self.reference, *(n for n in self.streams if n != self.reference)]
        for name in names:
            s = self.streams[name]
            if name == self.reference:
                i = index
            elif name in assoc:
                i = assoc[name]
            else:
                i = int(self.sync[name].index[index])
            if i < 0:
                continue
            t = int(s.timestamps_ns[i])
            p = self.files[name][i]
            if not p.is_file():
                raise DataError(
                    p,
                    f"sensor file of {name} (frame {index}) is missing: the tables reference it but it is not on disk",
                )
            stamps[name] = t
            if s.kind == "lidar" and p.name.lower().endswith(".bin"):
                # nuScenes .pcd.bin and Lyft .bin: float32 (x, y, z, intensity, ring) records
                lidar[name] = read_bin(p, NUSCENES_BIN_COLUMNS, frame_id=name, timestamp_ns=t)
            elif s.kind == "lidar":
                lidar[name] = read_point_cloud(p, frame_id=name, timestamp_ns=t)
            elif s.kind == "radar":
                radar[name] = read_radar_pcd(p, frame_id=name, timestamp_ns=t)
            else:
                images[name] = ImageRef.from_file(p, t)
        pose = self.frame_poses[index] if index in self.frame_poses else self.ego_pose_at(t_ref)
        return Frame(index, t_ref, dict(sorted(lidar.items())), radar, images, pose, stamps)

    def labels(self) -> LabelSet | None:
        if self._labels_fn is None:
            return None
        if self._labels_cache is None:
            self._labels_cache = self._labels_fn()
        return self._labels_cache


def _pick_scene(tables: _Tables, scene: str | None) -> dict[str, Any]:
    scenes = list(tables.rows["scene"].values())
    names = [str(s.get("name", s["token"])) for s in scenes]
    if scene is not None:
        for s in scenes:
            if scene in (s.get("name"), s["token"]):
                return s
        raise DataError(tables.path("scene"), f"no scene named {scene!r}; have: {', '.join(names) or 'none'}")
    if len(scenes) == 1:
        return scenes[0]
    if not scenes:
        raise CorruptFileError(tables.path("scene"), "the scene table is empty")
    raise DataError(
        tables.path("scene"),
        f"{len(scenes)} scenes in these tables: choose one with scene=<name or token> ({', '.join(names)})",
    )


def open_nuscenes(path: str | Path, scene: str | None = None, version: str | None = None) -> NuScenesRecording:
    """Open one scene of nuScenes-schema tables (or an mmdet3d info JSON folder).

    Parameters
    ----------
    path : the dataroot (holding the version folder), the version folder itself, an mmdet3d
        info JSON, or a folder holding one info JSON and ``samples/``
    scene : scene name or token; required when the tables hold several scenes
    version : version folder name (``"v1.0-mini"``) when the dataroot holds several

    Raises
    ------
    DataError : naming the table / folder (missing table, unknown scene, broken reference ...)
    """
    path = Path(path)
    vdirs = _version_dirs(path)
    if not vdirs:
        infos = _info_jsons(path)
        if len(infos) == 1:
            return open_mmdet3d_info(infos[0], infos[0].parent)
        if len(infos) > 1:
            raise DataError(
                path,
                f"several mmdet3d info files here ({', '.join(p.name for p in infos)}): open one with open_mmdet3d_info",
            )
        raise UnsupportedFormatError(
            path, "not a nuScenes dataroot (no version folder with sample_data.json and scene.json)"
        )
    if version is not None:
        vdirs = [d for d in vdirs if d.name == version]
        if not vdirs:
            raise DataError(path, f"no version folder {version!r} here")
    if len(vdirs) > 1:
        raise DataError(path, f"several versions here ({', '.join(d.name for d in vdirs)}): choose one with version=")
    vdir = vdirs[0]
    dataroot = vdir.parent  # blob paths in sample_data are relative to the folder above the tables
    tables = _load_tables(vdir)
    return _open_scene(tables, _pick_scene(tables, scene), dataroot)


def _open_scene(tables: _Tables, scene: dict[str, Any], dataroot: Path) -> NuScenesRecording:
    problems: list[DataError] = []
    scene_tok = scene["token"]
    samples = {t: s for t, s in tables.rows["sample"].items() if s.get("scene_token") == scene_tok}
    if not samples:
        raise CorruptFileError(tables.path("sample"), f"scene {scene.get('name', scene_tok)!r} has no samples")

    # sample_data of the scene, resolved to channel / calibration / ego pose
    per_channel: dict[str, list[dict[str, Any]]] = {}
    channel_info: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}  # modality, calib, first sd
    sd_path = tables.path("sample_data")
    for sd in tables.rows["sample_data"].values():
        if sd.get("sample_token") not in samples:
            continue
        cs = tables.ref("sample_data", sd, "calibrated_sensor_token", "calibrated_sensor")
        sensor = tables.ref("calibrated_sensor", cs, "sensor_token", "sensor")
        tables.ref("sample_data", sd, "ego_pose_token", "ego_pose")
        ch = str(sensor.get("channel", sensor["token"]))
        modality = str(sensor.get("modality", "")).lower()
        if modality not in _MODALITY_KIND:
            raise CorruptFileError(tables.path("sensor"), f"sensor {ch}: unknown modality {modality!r}")
        try:
            sd["_t_ns"] = us_to_ns(sd.get("timestamp"))  # type: ignore[arg-type]
        except ValueError as exc:
            raise CorruptFileError(sd_path, f"row {sd['token']}: {exc}") from None
        if not isinstance(sd.get("filename"), str):
            raise CorruptFileError(sd_path, f"row {sd['token']}: missing 'filename'")
        per_channel.setdefault(ch, []).append(sd)
        if ch not in channel_info:
            channel_info[ch] = (modality, cs, sd)
        elif channel_info[ch][1]["token"] != cs["token"]:
            problems.append(
                CalibrationError(
                    tables.path("calibrated_sensor"),
                    f"{ch} has several calibrations in scene {scene.get('name')}; using {channel_info[ch][1]['token']}",
                )
            )
    if not per_channel:
        raise CorruptFileError(sd_path, f"scene {scene.get('name', scene_tok)!r} has no sample_data rows")

    # rig
    cameras: dict[str, Camera] = {}
    lidars: dict[str, Lidar] = {}
    radars: dict[str, Radar] = {}
    cs_path = tables.path("calibrated_sensor")
    for ch in sorted(channel_info):
        modality, cs, sd = channel_info[ch]
        T = _pose(cs_path, cs)
        if modality == "camera":
            try:
                K = _number(cs_path, cs, "camera_intrinsic", (3, 3))
                cameras[ch] = Camera(
                    ch, K=K, width=int(sd.get("width") or 0), height=int(sd.get("height") or 0), T_ego_cam=T
                )
            except (CorruptFileError, ValueError, TypeError) as exc:
                problems.append(CalibrationError(cs_path, f"camera {ch}: {getattr(exc, 'reason', exc)}"))
            if ch in cameras and (cameras[ch].width <= 0 or cameras[ch].height <= 0):
                problems.append(CalibrationError(sd_path, f"camera {ch}: sample_data gives no image size"))
        elif modality == "lidar":
            lidars[ch] = Lidar(ch, T)
        else:
            radars[ch] = Radar(ch, T)
    rig = Rig(cameras, lidars, radars)

    # streams (sorted by time) and blob paths
    streams: dict[str, Stream] = {}
    files: dict[str, list[Path]] = {}
    order: dict[str, dict[str, int]] = {}  # channel -> sample_data token -> index
    for ch, rows in sorted(per_channel.items()):
        rows.sort(key=lambda r: (r["_t_ns"], r["token"]))
        streams[ch] = Stream(
            ch, _MODALITY_KIND[channel_info[ch][0]], np.array([r["_t_ns"] for r in rows], dtype=np.int64)
        )
        files[ch] = [dataroot / r["filename"] for r in rows]
        order[ch] = {r["token"]: i for i, r in enumerate(rows)}
    lidar_channels = sorted(ch for ch in streams if streams[ch].kind == "lidar")
    reference = "LIDAR_TOP" if "LIDAR_TOP" in streams else (lidar_channels[0] if lidar_channels else min(streams))

    # key-frame association: frame index of each sample, and the other channels' key frames
    ref_rows = per_channel[reference]
    frame_of_sample: dict[str, int] = {}
    for i, r in enumerate(ref_rows):
        if r.get("is_key_frame"):
            frame_of_sample[r["sample_token"]] = i
    keyframe_assoc: dict[int, dict[str, int]] = {}
    for ch, rows in per_channel.items():
        if ch == reference:
            continue
        for r in rows:
            f = frame_of_sample.get(r["sample_token"])
            if r.get("is_key_frame") and f is not None:
                keyframe_assoc.setdefault(f, {})[ch] = order[ch][r["token"]]

    # ego poses keyed by sample_data timestamps
    ep_path = tables.path("ego_pose")
    by_time: dict[int, Transform] = {}
    pose_tok_at: dict[int, str] = {}
    for rows in per_channel.values():
        for r in rows:
            T = _pose(ep_path, tables.rows["ego_pose"][r["ego_pose_token"]])
            t = r["_t_ns"]
            if t in by_time:
                if pose_tok_at[t] != r["ego_pose_token"] and not np.allclose(
                    by_time[t].translation, T.translation, atol=0.01
                ):
                    problems.append(
                        CorruptFileError(
                            ep_path,
                            f"two different ego poses at t={t} ns ({pose_tok_at[t]}, {r['ego_pose_token']}); keeping the first",
                        )
                    )
                continue
            by_time[t] = T
            pose_tok_at[t] = r["ego_pose_token"]
    ts_sorted = sorted(by_time)
    ego_poses = PoseTrack(np.array(ts_sorted, dtype=np.int64), tuple(by_time[t] for t in ts_sorted))
    frame_poses = {i: _pose(ep_path, tables.rows["ego_pose"][r["ego_pose_token"]]) for i, r in enumerate(ref_rows)}

    missing = [s for s in samples if s not in frame_of_sample]
    if missing:
        problems.append(
            DataError(
                sd_path,
                f"{len(missing)} sample(s) of the scene have no {reference} key frame; their annotations are not shown",
            )
        )

    # the tolerance: half the reference period, at least the default
    rate = streams[reference].rate_hz
    tol = max(DEFAULT_TOLERANCE_NS, int(0.5e9 / rate) if rate > 0 else 0)

    def build_labels() -> LabelSet:
        return _table_labels(tables, samples, frame_of_sample, frame_poses)

    return NuScenesRecording(
        path=tables.dir.parent,
        format="nuscenes",
        rig=rig,
        streams=streams,
        reference=reference,
        tolerance_ns=tol,
        ego_poses=ego_poses,
        problems=problems,
        dataroot=dataroot,
        scene_name=str(scene.get("name", scene_tok)),
        files=files,
        keyframe_assoc=keyframe_assoc,
        frame_poses=frame_poses,
        _labels_fn=build_labels,
    )


def _table_labels(
    tables: _Tables,
    samples: Mapping[str, dict[str, Any]],
    frame_of_sample: Mapping[str, int],
    frame_poses: Mapping[int, Transform],
) -> LabelSet:
    """sample_annotation rows of the scene -> LabelSet in each key frame's ego frame."""
    sa_path = tables.path("sample_annotation")
    anns: list[dict[str, Any]] = []
    for a in tables.rows["sample_annotation"].values():
        tables.ref("sample_annotation", a, "sample_token", "sample")
        if a["sample_token"] in samples:
            anns.append(a)
    # persistent ids: first appearance (sample time, then token)
    first: dict[str, tuple[int, str]] = {}
    for a in anns:
        inst = tables.ref("sample_annotation", a, "instance_token", "instance")
        t = us_to_ns(samples[a["sample_token"]].get("timestamp", 0))
        key = (t, inst["token"])
        if inst["token"] not in first or key < first[inst["token"]]:
            first[inst["token"]] = key
    ids = {tok: i + 1 for i, tok in enumerate(sorted(first, key=lambda k: first[k]))}

    per_frame: dict[int, list[dict[str, Any]]] = {}
    for a in anns:
        f = frame_of_sample.get(a["sample_token"])
        if f is not None:
            per_frame.setdefault(f, []).append(a)
    frames: dict[int, FrameLabels] = {}
    for f, rows in per_frame.items():
        rows.sort(key=lambda r: ids[r["instance_token"]])
        centers, sizes, quats, cats, attrs, tids = [], [], [], [], [], []
        for a in rows:
            inst = tables.rows["instance"][a["instance_token"]]
            cat = tables.ref("instance", inst, "category_token", "category")
            size_wlh = _number(sa_path, a, "size", (3,))
            if np.any(size_wlh <= 0):
                raise CorruptFileError(sa_path, f"row {a['token']}: box size {size_wlh.tolist()} is not positive")
            _pose(sa_path, a)  # validates rotation (unit quaternion) and translation
            centers.append(a["translation"])
            sizes.append(size_wlh)
            quats.append(a["rotation"])
            name = str(cat.get("name", ""))
            cats.append(canonical_category(name))
            attr_names = [
                str(tables.rows["attribute"][t].get("name", t)) if t in tables.rows["attribute"] else str(t)
                for t in (a.get("attribute_tokens") or [])
            ]
            vis = a.get("visibility_token")
            attrs.append(
                {
                    "source_category": name,
                    "instance_token": inst["token"],
                    "annotation_token": a["token"],
                    "attributes": attr_names,
                    "visibility": str(tables.rows["visibility"].get(str(vis), {}).get("level", vis or "")),
                    "num_lidar_pts": int(a.get("num_lidar_pts", -1)),
                    "num_radar_pts": int(a.get("num_radar_pts", -1)),
                }
            )
            tids.append(ids[inst["token"]])
        # global (w, l, h, quaternion) -> ego (l, w, h, heading): see core.conventions
        boxes = nuscenes_global_to_boxes(centers, sizes, quats, frame_poses[f])
        try:
            frames[f] = FrameLabels(np.array(tids, dtype=np.int64), tuple(cats), boxes, None, tuple(attrs))
        except ValueError as exc:
            raise CorruptFileError(sa_path, f"sample {rows[0]['sample_token']}: {exc}") from None
    return LabelSet(frames)


# -- mmdetection3d info files -----------------------------------------------------------------


def _matrix(
    src: Path, d: Mapping[str, Any], key: str, where: str, shape: tuple[int, int] = (4, 4)
) -> NDArray[np.float64]:
    try:
        m = np.asarray(d[key], dtype=np.float64)
        if m.shape != shape or not np.all(np.isfinite(m)):
            raise ValueError(f"expected a {shape[0]}x{shape[1]} matrix, got shape {m.shape}")
    except (KeyError, ValueError, TypeError) as exc:
        raise CalibrationError(src, f"{where}.{key}: {exc}") from None
    return m


def _stamp_from_name(name: str) -> int | None:
    """nuScenes blob names end in ``__<CHANNEL>__<t_us>.<ext>``: the microsecond stamp, in ns."""
    stem = name.split("__")[-1].split(".")[0]
    return int(stem) * 1000 if stem.isdigit() else None


def _find_blob(dataroot: Path, channel: str, name: str) -> Path:
    for cand in (dataroot / "samples" / channel / name, dataroot / name, dataroot / "sweeps" / channel / name):
        if cand.is_file():
            return cand
    return dataroot / "samples" / channel / name


def _image_size(p: Path) -> tuple[int, int] | None:
    """(width, height) from the image header (PIL reads only the header); None when unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            return int(im.size[0]), int(im.size[1])
    except (OSError, UnidentifiedImageError):
        return None


#: nuScenes camera resolution, used only when no image is on disk to read it from
NUSCENES_IMAGE_SIZE = (1600, 900)


def open_mmdet3d_info(json_path: str | Path, dataroot: str | Path | None = None) -> NuScenesRecording:
    """Open an mmdet3d nuScenes info file (JSON form, info version 1.x) as a recording.

    Parameters
    ----------
    json_path : the info JSON (``{"metainfo": ..., "data_list": [...]}``)
    dataroot : where the blobs are (``samples/<CHANNEL>/<file>`` or ``<file>``); default: the
        JSON's folder

    Each ``data_list`` entry is one frame of stream ``LIDAR_TOP`` (the reference) and of one
    stream per camera. Boxes ``[x, y, z, l, w, h, yaw]`` (LIDAR_TOP frame, gravity centre) are
    converted to the ego frame with ``lidar2ego``; track ids are row indices (no tokens).
    """
    src = Path(json_path)
    root = Path(dataroot) if dataroot is not None else src.parent
    try:
        d = json.loads(src.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(src, f"cannot read info file: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptFileError(src, f"info file is not valid JSON: {exc}") from None
    if not isinstance(d, dict) or not isinstance(d.get("data_list"), list) or not d["data_list"]:
        raise UnsupportedFormatError(src, "not an mmdet3d info file: expects a non-empty 'data_list'")
    classes = (d.get("metainfo") or {}).get("categories") or {}
    label_names = {int(v): str(k) for k, v in classes.items()} if isinstance(classes, dict) else {}
    entries = list(d["data_list"])
    problems: list[DataError] = []

    # per-entry timestamps and files
    lidar_t: list[int] = []
    lidar_files: list[Path] = []
    cam_t: dict[str, list[int]] = {}
    cam_files: dict[str, list[Path]] = {}
    rig_cams: dict[str, Camera] = {}
    T_ego_lidar: Transform | None = None
    poses: list[Transform] = []
    for k, e in enumerate(entries):
        where = f"data_list[{k}]"
        if not isinstance(e, dict) or not isinstance(e.get("lidar_points"), dict):
            raise CorruptFileError(src, f"{where}: missing 'lidar_points'")
        lp = e["lidar_points"]
        T_l = Transform(_matrix(src, lp, "lidar2ego", f"{where}.lidar_points"))
        if T_ego_lidar is None:
            T_ego_lidar = T_l
        name = str(lp.get("lidar_path", ""))
        if not name:
            raise CorruptFileError(src, f"{where}.lidar_points: missing 'lidar_path'")
        p = _find_blob(root, "LIDAR_TOP", Path(name).name)
        t = _stamp_from_name(Path(name).name)
        if t is None:
            if "timestamp" not in e:
                raise CorruptFileError(src, f"{where}: no timestamp")
            t = seconds_to_ns(e["timestamp"])
        lidar_t.append(t)
        lidar_files.append(p)
        poses.append(Transform(_matrix(src, e, "ego2global", where)))
        for cam, c in (e.get("images") or {}).items():
            cw = f"{where}.images.{cam}"
            if not isinstance(c, dict) or not c.get("img_path"):
                continue
            ip = _find_blob(root, cam, Path(str(c["img_path"])).name)
            ct = _stamp_from_name(ip.name)
            if ct is None:
                ct = seconds_to_ns(c["timestamp"]) if "timestamp" in c else t
            cam_t.setdefault(cam, []).append(ct)
            cam_files.setdefault(cam, []).append(ip)
            if cam in rig_cams:
                continue
            K = (
                _matrix(src, c, "cam2img", cw, (3, 3))
                if np.asarray(c.get("cam2img", [])).shape == (3, 3)
                else _matrix(src, c, "cam2img", cw)[:3, :3]
            )
            # prefer cam2ego: mmdet3d's lidar2cam folds in the ego motion between the lidar and
            # camera timestamps (lidar -> global at t_lidar -> camera at t_cam), not a calibration
            if "cam2ego" in c:
                T_ego_cam = Transform(_matrix(src, c, "cam2ego", cw))
            else:
                T_ego_cam = T_l @ Transform(_matrix(src, c, "lidar2cam", cw)).inverse()
            size = _image_size(ip) if ip.is_file() else None
            if size is None:
                size = NUSCENES_IMAGE_SIZE
                problems.append(
                    CalibrationError(
                        ip, f"camera {cam}: image not readable; assuming nuScenes size {size[0]}x{size[1]}"
                    )
                )
            try:
                rig_cams[cam] = Camera(cam, K=K, width=size[0], height=size[1], T_ego_cam=T_ego_cam)
            except ValueError as exc:
                raise CalibrationError(src, f"{cw}: {exc}") from None
    assert T_ego_lidar is not None
    streams: dict[str, Stream] = {"LIDAR_TOP": Stream("LIDAR_TOP", "lidar", np.array(lidar_t, dtype=np.int64))}
    files: dict[str, list[Path]] = {"LIDAR_TOP": lidar_files}
    for cam in sorted(cam_t):
        streams[cam] = Stream(cam, "camera", np.array(cam_t[cam], dtype=np.int64))
        files[cam] = cam_files[cam]
    rig = Rig(rig_cams, {"LIDAR_TOP": Lidar("LIDAR_TOP", T_ego_lidar)}, {})
    # every camera appears once per entry: associate by entry when the counts agree
    assoc = {i: {cam: i for cam in cam_t if len(cam_t[cam]) == len(entries)} for i in range(len(entries))}
    uniq, first_idx = np.unique(np.array(lidar_t, dtype=np.int64), return_index=True)
    ego_poses = PoseTrack(uniq, tuple(poses[i] for i in first_idx))
    frame_poses = dict(enumerate(poses))

    def build_labels() -> LabelSet:
        frames: dict[int, FrameLabels] = {}
        for k, e in enumerate(entries):
            inst = e.get("instances") or []
            if not inst:
                continue
            try:
                arr = np.array([r["bbox_3d"] for r in inst], dtype=np.float64).reshape(-1, 7)
                labels = [int(r.get("bbox_label_3d", r.get("bbox_label", -1))) for r in inst]
                boxes_lidar = mmdet3d_lidar_to_boxes(arr, origin=MMDET3D_GRAVITY)
            except (KeyError, ValueError, TypeError) as exc:
                raise CorruptFileError(src, f"data_list[{k}].instances: bad bbox_3d ({exc})") from None
            # LIDAR_TOP -> ego: centres as points, headings carried through R_ego_lidar
            centers = T_ego_lidar.apply(boxes_lidar.center)
            yaws = heading_to_frame(boxes_lidar.yaw, T_ego_lidar.rotation)
            # -1: a nuScenes class outside mmdet3d's 10 detection classes (animal, debris ...)
            names = [label_names.get(lab, "ignored" if lab < 0 else str(lab)) for lab in labels]
            attrs = tuple(
                {
                    "source_category": names[i],
                    "num_lidar_pts": int(r.get("num_lidar_pts", -1)),
                    "num_radar_pts": int(r.get("num_radar_pts", -1)),
                    "valid": bool(r.get("bbox_3d_isvalid", True)),
                    # nuScenes leaves a velocity unknown (NaN) where an object was seen once
                    "velocity_lidar": _finite_list(r.get("velocity")),
                }
                for i, r in enumerate(inst)
            )
            frames[k] = FrameLabels(
                np.arange(len(inst), dtype=np.int64),
                tuple("Misc" if n == "ignored" else canonical_category(n) for n in names),
                Boxes(centers, boxes_lidar.size, yaws),
                None,
                attrs,
            )
        return LabelSet(frames)

    return NuScenesRecording(
        path=src,
        format="nuscenes-mmdet3d-info",
        rig=rig,
        streams=streams,
        reference="LIDAR_TOP",
        tolerance_ns=DEFAULT_TOLERANCE_NS,
        ego_poses=ego_poses,
        problems=problems,
        dataroot=root,
        scene_name="",
        files=files,
        keyframe_assoc=assoc,
        frame_poses=frame_poses,
        _labels_fn=build_labels,
    )


def scene_names(path: str | Path, version: str | None = None) -> list[str]:
    """Names of the scenes in a dataroot's tables (reads only ``scene.json``)."""
    vdirs = [d for d in _version_dirs(Path(path)) if version is None or d.name == version]
    if len(vdirs) != 1:
        raise DataError(Path(path), "expected exactly one version folder (pass version=)")
    return [str(r.get("name", r["token"])) for r in _load_table(vdirs[0], "scene")]


__all__: Sequence[str] = (
    "CATEGORY_MAP",
    "NuScenesRecording",
    "canonical_category",
    "open_mmdet3d_info",
    "open_nuscenes",
    "scene_names",
    "sniff",
)
