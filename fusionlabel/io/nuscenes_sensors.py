"""The sensor side of a nuScenes export: channels, calibrations, sensor files and point counts.

The recording's sensor data of each exported frame becomes the dataroot's ``samples/`` folder and
the ``sample_data`` rows that point at it (:func:`_sensor_pass`)::

    samples/<CHANNEL>/<scene>__<CHANNEL>__<t_us>.pcd.bin   LiDAR: float32 x y z intensity ring, sensor frame
    samples/<CHANNEL>/<scene>__<CHANNEL>__<t_us>.pcd       radar: nuScenes' 18-field binary PCD, sensor frame
    samples/<CHANNEL>/<scene>__<CHANNEL>__<t_us>.<ext>     camera: a symbolic link to the recording's image
                                                           (a copy with ``copy_images=True``)

A sensor sample the recording matches to a frame is a key-frame ``sample_data`` of that frame's
sample (a sample matched to two frames belongs to the nearer one; samples no frame uses, e.g. a
13 Hz radar's extra sweeps, are left out). The reference LiDAR's channel is ``LIDAR_TOP`` (the
devkit's evaluation looks it up by that name); every other sensor's channel is its name
upper-cased (:func:`channel_name`: ``cam_front`` -> ``CAM_FRONT``).

**Point counts**: ``num_lidar_pts`` / ``num_radar_pts`` count the points of the sample's LiDAR /
radar ``sample_data`` files (exactly the float32 values written) inside the exported box, each file
taken to the global frame through its own calibration and ego pose, as the devkit does. Where the
recording's data cannot be read the export falls back on the labels' own counts
(:func:`fusionlabel.io.nuscenes_export.build_nuscenes_tables`).

Example
-------
>>> channel_name("cam_front"), channel_name("radar front-left")
('CAM_FRONT', 'RADAR_FRONT_LEFT')
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.atomic import atomic_write_bytes
from fusionlabel.core.boxes import Boxes, points_in_boxes
from fusionlabel.core.calibration import Camera, Rig
from fusionlabel.core.errors import DataError
from fusionlabel.core.frames import ImageRef, PointCloud
from fusionlabel.core.recording import Recording
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform
from fusionlabel.io.nuscenes_scene import _as_written, _ns_to_us, _pose_row, _Scene, _token
from fusionlabel.io.nuscenes_schema import REFERENCE_CHANNEL
from fusionlabel.io.pointcloud import write_bin

#: nuScenes radar PCD layout (what ``RadarPointCloud.from_file`` reads)
_RADAR_DTYPE = np.dtype(
    [
        ("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("dyn_prop", "i1"), ("id", "<i2"), ("rcs", "<f4"),
        ("vx", "<f4"), ("vy", "<f4"), ("vx_comp", "<f4"), ("vy_comp", "<f4"), ("is_quality_valid", "i1"),
        ("ambig_state", "i1"), ("x_rms", "i1"), ("y_rms", "i1"), ("invalid_state", "i1"), ("pdh0", "i1"),
        ("vx_rms", "i1"), ("vy_rms", "i1"),
    ]
)  # fmt: skip


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "scene"


def channel_name(sensor: str) -> str:
    """nuScenes channel of a (non-reference) sensor: ``"cam_front"`` -> ``"CAM_FRONT"``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", sensor).strip("_").upper() or "SENSOR"


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
