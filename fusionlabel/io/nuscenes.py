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

**mmdetection3d info files** (:func:`open_mmdet3d_info`, :mod:`fusionlabel.io.nuscenes_mmdet3d`):
a folder holding one such JSON and a ``samples/`` folder is accepted by :func:`sniff` and
:func:`open_nuscenes` too.

The schema (table names, units, loading) is :mod:`fusionlabel.io.nuscenes_schema`, the category
mapping :mod:`fusionlabel.io.nuscenes_taxonomy`, the recording class
:mod:`fusionlabel.io.nuscenes_recording`; their public names are re-exported here.

Example
-------
>>> rec = open_nuscenes("real_data/lyft_nuscenes_schema")          # doctest: +SKIP
>>> rec.reference, len(rec), rec.labels.num_boxes                # doctest: +SKIP
('LIDAR_TOP', 1, 4)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.calibration import Camera, Lidar, Radar, Rig
from fusionlabel.core.conventions import nuscenes_global_to_boxes
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import DEFAULT_TOLERANCE_NS, SensorKind, Stream
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform
from fusionlabel.io.nuscenes_mmdet3d import NUSCENES_IMAGE_SIZE, _info_jsons, open_mmdet3d_info, seconds_to_ns
from fusionlabel.io.nuscenes_recording import NuScenesRecording
from fusionlabel.io.nuscenes_schema import (
    OPTIONAL_TABLES,
    REQUIRED_TABLES,
    _load_table,
    _load_tables,
    _number,
    _pose,
    _Tables,
    us_to_ns,
)
from fusionlabel.io.nuscenes_taxonomy import CATEGORY_MAP, canonical_category

_MODALITY_KIND: dict[str, SensorKind] = {"lidar": "lidar", "camera": "camera", "radar": "radar"}


# -- sniffing ---------------------------------------------------------------------------------


def _is_version_dir(p: Path) -> bool:
    return p.is_dir() and (p / "sample_data.json").is_file() and (p / "scene.json").is_file()


def _version_dirs(root: Path) -> list[Path]:
    if _is_version_dir(root):
        return [root]
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if _is_version_dir(d))


def sniff(path: Path) -> bool:
    """True for a nuScenes/Lyft dataroot or version folder, or an mmdet3d info JSON (or its folder)."""
    path = Path(path)
    return bool(_version_dirs(path)) or bool(_info_jsons(path))


sniff_nuscenes = sniff


# -- the scene ------------------------------------------------------------------------------


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
            except (CorruptFileError, ValueError, TypeError, OverflowError) as exc:
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


def scene_names(path: str | Path, version: str | None = None) -> list[str]:
    """Names of the scenes in a dataroot's tables (reads only ``scene.json``)."""
    vdirs = [d for d in _version_dirs(Path(path)) if version is None or d.name == version]
    if len(vdirs) != 1:
        raise DataError(Path(path), "expected exactly one version folder (pass version=)")
    return [str(r.get("name", r["token"])) for r in _load_table(vdirs[0], "scene")]


__all__: Sequence[str] = (
    "CATEGORY_MAP",
    "NUSCENES_IMAGE_SIZE",
    "OPTIONAL_TABLES",
    "REQUIRED_TABLES",
    "NuScenesRecording",
    "canonical_category",
    "open_mmdet3d_info",
    "open_nuscenes",
    "scene_names",
    "seconds_to_ns",
    "sniff",
    "sniff_nuscenes",
    "us_to_ns",
)
