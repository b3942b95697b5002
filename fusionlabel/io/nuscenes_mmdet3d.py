"""mmdetection3d nuScenes info files (the JSON form of ``nuscenes_infos_*.pkl``) as recordings.

**mmdetection3d info files** (:func:`open_mmdet3d_info`): the JSON form of mmdet3d's
``nuscenes_infos_*.pkl`` (info version 1.1): per sample ``lidar_points.lidar2ego``,
``images[CAM].cam2img`` (K), ``cam2ego`` (or ``lidar2cam``), ``ego2global`` and ``instances``
with ``bbox_3d = [x, y, z, l, w, h, yaw]`` in the LIDAR_TOP frame, gravity centre. Each
``data_list`` entry is one frame; boxes are converted to the ego frame; these files carry no
instance tokens, so track ids are the row index within the frame (``0 .. N-1``). Blobs are
looked up under ``<dataroot>/samples/<CHANNEL>/<file>`` then ``<dataroot>/<file>``.
:func:`fusionlabel.io.nuscenes.sniff` and :func:`fusionlabel.io.nuscenes.open_nuscenes` also
accept a folder holding one such JSON and a ``samples/`` folder (:func:`_info_jsons`).

Example
-------
>>> seconds_to_ns(1532402927.647951)
1532402927647951000
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera, Lidar, Rig
from fusionlabel.core.conventions import MMDET3D_GRAVITY, heading_to_frame, mmdet3d_lidar_to_boxes
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import DEFAULT_TOLERANCE_NS, Stream
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform
from fusionlabel.io.nuscenes_recording import NuScenesRecording
from fusionlabel.io.nuscenes_taxonomy import canonical_category


def _finite_list(v: Any) -> list[float] | None:
    """A list of finite floats, or None when absent or any value is unknown (NaN / inf)."""
    if v is None:
        return None
    out = [float(x) for x in v]
    return out if out and all(math.isfinite(x) for x in out) else None


def seconds_to_ns(t_s: float) -> int:
    """mmdet3d info timestamps (float seconds of microsecond stamps) -> int ns, rounded to the microsecond."""
    return round(float(t_s) * 1e6) * 1000


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
    """(width, height) of an image file (decoded once with OpenCV, the project's image library);
    None when it cannot be read."""
    import cv2

    try:
        img = cv2.imdecode(np.fromfile(str(p), dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except (OSError, ValueError, cv2.error):
        return None
    return None if img is None else (int(img.shape[1]), int(img.shape[0]))


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
