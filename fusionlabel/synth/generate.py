"""Write a synthetic native recording with exact ground truth.

Streams (each with its own int64 nanosecond timestamps, from ``START_NS``):

* ``lidar_top``: the reference, at ``rate_hz``: ``t_k = START_NS + round(k 1e9 / rate_hz)``;
* cameras (``cam_front`` by default): ``t_k + offset + jitter``, a fixed per-camera offset of a
  few ms (+4 ms for ``cam_front``) and a uniform +-1 ms jitter per frame;
* ``radar_front`` at ``radar_rate_hz`` (13 Hz by default, so it drifts against the LiDAR), starting
  11 ms after ``START_NS``, covering the LiDAR span +- 60 ms;
* ``ego_poses.csv``: ``T_world_ego`` at 100 Hz over every stream's span (+- 0.2 s).

Every sensor sample is simulated at its own timestamp (agents and ego where they are then).

Ground truth (``labels.json``): for every LiDAR frame, every actor (moving agent or parked
vehicle) whose centre lies within ``label_range_m`` of the ego, with a persistent track id,
its category as class (``Car``/``Pedestrian``/``Cyclist``, parked trucks ``Truck``; with
``vehicle_classes`` also ``Van``, ``Truck`` and ``Bus``, moving and parked), its box in the ego
frame at the LiDAR timestamp (gravity centre, l w h, yaw; values rounded to 0.1 mm / 1e-4 rad)
and attributes:

* ``num_lidar_points``: LiDAR points of that frame inside the box, counted exactly as a user
  would: ``points_in_boxes(T_ego_lidar.apply(cloud.xyz), boxes)`` on the stored float32 cloud
  (so it includes ground returns inside the box footprint, as KITTI / nuScenes counts do);
* ``visibility``: fraction of the object's silhouette seen from the LiDAR (ray casting, 0 =
  fully occluded, see :func:`fusionlabel.synth.geometry.visibility`);
* ``velocity``: ``[vx, vy]`` m/s, the absolute velocity expressed in the ego frame (nuScenes
  style); ``role``: how the agent was placed (``overtaking``, ``behind_truck``, ``parked`` ...).

Boxes with ``num_lidar_points == 0`` (fully occluded or between beams) are **kept**, so tracks stay
continuous and occlusion can be evaluated; filter on ``num_lidar_points > 0`` (as the nuScenes
evaluation does) when scoring a LiDAR detector.

Determinism: every random draw comes from ``numpy.random.default_rng`` seeded with
``(seed, stream, index)``, ray casting is per-ray deterministic and JPEG quality is fixed, so the
same arguments give byte-identical files on the same software stack. (Across CPUs or library
versions the Embree and libjpeg builds may differ in the last bit; compare those with tolerances.)

Example
-------
>>> from fusionlabel.synth import generate
>>> path = generate("sample_data/synth_seed0", frames=20, seed=0)     # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.boxes import Boxes, points_in_boxes, wrap_angle
from fusionlabel.core.calibration import Lidar, Radar, Rig
from fusionlabel.core.frames import PointCloud
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.transforms import Transform
from fusionlabel.io.native import SYNTH_INFO
from fusionlabel.synth.camera import encode_jpeg, make_camera, pixel_rays, render
from fusionlabel.synth.geometry import build_snapshot, static_mesh, visibility
from fusionlabel.synth.lidar import LidarModel, simulate_sweep
from fusionlabel.synth.radar import RadarModel, simulate_scan
from fusionlabel.synth.scenario import make_scenario
from fusionlabel.synth.world import Scenario

START_NS = 1_700_000_000_000_000_000
LIDAR_NAME = "lidar_top"
RADAR_NAME = "radar_front"
#: sensor mounts in the ego frame (origin: rear axle centre on the ground), metres
LIDAR_MOUNT = (1.3, 0.0, 1.84)
RADAR_MOUNT = (3.7, 0.0, 0.55)
CAMERA_OFFSET_NS = {
    "cam_front": 4_000_000,
    "cam_front_left": 6_000_000,
    "cam_front_right": 7_000_000,
    "cam_back": -3_000_000,
}
RADAR_START_OFFSET_NS = 11_000_000
POSE_RATE_HZ = 100.0


def make_rig(cameras: Sequence[str] = ("cam_front",), image_size: tuple[int, int] = (640, 360)) -> Rig:
    """The synthetic vehicle's rig: roof LiDAR, the named cameras, a front radar."""
    return Rig(
        cameras={c: make_camera(c, image_size) for c in cameras},
        lidars={LIDAR_NAME: Lidar(LIDAR_NAME, Transform.from_rt(np.eye(3), LIDAR_MOUNT))},
        radars={RADAR_NAME: Radar(RADAR_NAME, Transform.from_rt(np.eye(3), RADAR_MOUNT))},
    )


def lidar_times_ns(frames: int, rate_hz: float) -> np.ndarray:
    """(frames,) int64 reference timestamps."""
    return START_NS + np.round(np.arange(frames) * (1e9 / rate_hz)).astype(np.int64)


def radar_times_ns(lidar_ns: np.ndarray, radar_rate_hz: float) -> np.ndarray:
    """int64 radar timestamps covering the LiDAR span +- 60 ms."""
    period = 1e9 / radar_rate_hz
    t0 = START_NS + RADAR_START_OFFSET_NS
    lo, hi = int(lidar_ns[0]) - 60_000_000, int(lidar_ns[-1]) + 60_000_000
    j = np.arange(int(np.ceil((lo - t0) / period)), int(np.floor((hi - t0) / period)) + 1)
    return t0 + np.round(j * period).astype(np.int64)


def to_seconds(t_ns: int) -> float:
    """Simulation time (s) of a recording timestamp (ns)."""
    return (int(t_ns) - START_NS) / 1e9


def scenario_of(frames: int, seed: int, rate_hz: float = 10.0, *, vehicle_classes: bool = False) -> Scenario:
    """The scenario :func:`generate` draws for these arguments (road frame, exact states at any time)."""
    times = [to_seconds(t) for t in lidar_times_ns(frames, rate_hz)]
    return make_scenario(seed, times, LIDAR_MOUNT, vehicle_classes=vehicle_classes)


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise FileExistsError(f"{out}: exists and is not empty (pass overwrite=True to replace a recording)")
        if not (out / "recording.json").is_file():
            raise FileExistsError(f"{out}: exists and is not a FusionLabel recording; refusing to delete it")
        shutil.rmtree(out)


def generate(
    out_dir: str | Path,
    frames: int = 20,
    seed: int = 0,
    *,
    rate_hz: float = 10.0,
    lidar: str = "hdl32e",
    azimuth_steps: int = 512,
    cameras: Sequence[str] = ("cam_front",),
    image_size: tuple[int, int] = (640, 360),
    radar_rate_hz: float = 13.0,
    jpeg_quality: int = 90,
    label_range_m: float = 80.0,
    ego_height: float = 0.0,
    vehicle_classes: bool = False,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Generate a synthetic recording into ``out_dir`` (native format) and return its path.

    Parameters
    ----------
    out_dir : folder to create; must be absent or empty unless ``overwrite`` (which replaces
        an existing FusionLabel recording, and refuses to delete anything else)
    frames : number of LiDAR frames (>= 1)
    seed : scenario and noise seed; the same arguments give byte-identical files
    rate_hz : LiDAR (reference) rate
    lidar : beam pattern, ``"hdl32e"`` (32 beams), ``"vlp16"`` or ``"hdl64e"``
    azimuth_steps : rays per revolution per beam
    cameras : camera names from :data:`fusionlabel.synth.camera.CAMERA_PRESETS`
    image_size : (width, height) pixels
    radar_rate_hz : front radar rate (0 disables the radar)
    jpeg_quality : OpenCV JPEG quality
    label_range_m : actors farther than this from the ego are not labelled in a frame
    ego_height : height (m) of the written ego frame's origin above the ground: 0 (default) puts
        it on the ground under the rear axle; 1.84 puts it at the LiDAR, as KITTI's Velodyne
        frame does (ground at z = -1.84). The world is simulated the same; only the frame the
        rig, the labels and the ego poses are written in moves (a domain shift for detectors
        trained on the default, see :func:`shift_ego`)
    vehicle_classes : also draw vans, buses and moving trucks, moving and parked
        (:func:`fusionlabel.synth.scenario.make_scenario`); off (default), every seed gives the
        same files as before the option existed. Recorded in ``synth.json`` only when on
    progress : called as ``progress(done, total)`` after each sensor sample

    Returns
    -------
    Path of the recording folder (open it with :func:`fusionlabel.io.open.open_recording`).
    """
    from fusionlabel.io.native import NativeWriter

    if frames < 1:
        raise ValueError("frames must be >= 1")
    if rate_hz <= 0:
        raise ValueError("rate_hz must be positive")
    out = Path(out_dir)
    _prepare_out(out, overwrite)
    model = LidarModel.named(lidar, azimuth_steps)
    rig = make_rig(tuple(cameras), image_size)
    t_lidar = lidar_times_ns(frames, rate_hz)
    t_radar = radar_times_ns(t_lidar, radar_rate_hz) if radar_rate_hz > 0 else np.zeros(0, np.int64)
    sc = scenario_of(frames, seed, rate_hz, vehicle_classes=vehicle_classes)
    static = static_mesh(sc.structures)
    actors = sc.actors
    T_ego_lidar = rig.lidars[LIDAR_NAME].T_ego_lidar
    T_ego_radar = rig.radars[RADAR_NAME].T_ego_radar
    dirs_lidar = model.directions()
    cam_rays = {c: pixel_rays(rig.cameras[c]) for c in cameras}
    total = frames * (1 + len(cameras)) + len(t_radar)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    def snapshot(t: float):
        return build_snapshot(actors, t, static, 400.0, center_x=sc.ego.state(t).x)

    writer = NativeWriter(out, shift_ego(rig, ego_height), reference=LIDAR_NAME, name=out.name)
    frame_labels: dict[int, FrameLabels] = {}
    cam_t: dict[str, list[int]] = {c: [] for c in cameras}
    for k, t_ns in enumerate(t_lidar):
        t = to_seconds(t_ns)
        snap = snapshot(t)
        T_road_ego = sc.ego.T_road_ego(t)
        sweep = simulate_sweep(
            snap, sc, T_road_ego @ T_ego_lidar, model, np.random.default_rng([seed, 1, k]), dirs_lidar
        )
        writer.add_lidar(
            LIDAR_NAME, int(t_ns), PointCloud(sweep.xyz, {"intensity": sweep.intensity}, LIDAR_NAME, int(t_ns))
        )
        frame_labels[k] = _labels(sc, snap, t, T_road_ego, T_ego_lidar, sweep.xyz, label_range_m, ego_height)
        tick()
        for ci, c in enumerate(cameras):
            jitter = int(np.random.default_rng([seed, 2, ci, k]).integers(-1_000_000, 1_000_001))
            tc_ns = int(t_ns) + CAMERA_OFFSET_NS.get(c, 5_000_000) + jitter
            tc = to_seconds(tc_ns)
            cam = rig.cameras[c]
            rgb, _ = render(snapshot(tc), sc, cam, sc.ego.T_road_ego(tc) @ cam.T_ego_cam, cam_rays[c])
            writer.add_image(c, tc_ns, encode_jpeg(rgb, jpeg_quality), ".jpg")
            cam_t[c].append(tc_ns)
            tick()
    radar_model = RadarModel()
    for j, tr_ns in enumerate(t_radar):
        tr = to_seconds(tr_ns)
        det = simulate_scan(
            snapshot(tr),
            sc,
            actors,
            tr,
            sc.ego.T_road_ego(tr) @ T_ego_radar,
            sc.ego.state(tr),
            radar_model,
            np.random.default_rng([seed, 3, j]),
            RADAR_NAME,
            int(tr_ns),
        )
        writer.add_radar(RADAR_NAME, int(tr_ns), det)
        tick()

    all_t = np.concatenate([t_lidar, t_radar, *[np.asarray(v, np.int64) for v in cam_t.values()]])
    t_pose = np.arange(
        int(all_t.min()) - 200_000_000, int(all_t.max()) + 200_000_001, round(1e9 / POSE_RATE_HZ), dtype=np.int64
    )
    T_ego_written = Transform.from_rt(np.eye(3), (0.0, 0.0, float(ego_height)))  # written ego -> ground ego
    poses = [sc.T_world_road @ sc.ego.T_road_ego(to_seconds(int(t))) @ T_ego_written for t in t_pose]
    info = {
        "generator": "fusionlabel.synth.generate",
        "arguments": {
            "frames": frames,
            "seed": seed,
            "rate_hz": rate_hz,
            "lidar": lidar,
            "azimuth_steps": azimuth_steps,
            "cameras": list(cameras),
            "image_size": list(image_size),
            "radar_rate_hz": radar_rate_hz,
            "jpeg_quality": jpeg_quality,
            "label_range_m": label_range_m,
            **({"ego_height": ego_height} if ego_height else {}),
            **({"vehicle_classes": True} if vehicle_classes else {}),
        },
        "agents": len(sc.agents),
        "parked_vehicles": len(sc.actors) - len(sc.agents),
        "ego_speed_mps": round(sc.ego.speed, 3),
    }
    atomic_write_text(out / SYNTH_INFO, json.dumps(info, indent=1))
    return writer.finish(ego_poses=(t_pose, poses), labels=LabelSet(frame_labels))


def shift_ego(rig: Rig, ego_height: float) -> Rig:
    """``rig`` with its ego frame's origin raised by ``ego_height`` metres (every extrinsic moves
    down by it: ``T_ego'_sensor = T_ego'_ego T_ego_sensor`` with ``T_ego'_ego`` a translation by
    ``(0, 0, -ego_height)``)."""
    if not ego_height:
        return rig
    from dataclasses import replace

    T = Transform.from_rt(np.eye(3), (0.0, 0.0, -float(ego_height)))
    return Rig(
        cameras={n: replace(c, T_ego_cam=T @ c.T_ego_cam) for n, c in rig.cameras.items()},
        lidars={n: replace(li, T_ego_lidar=T @ li.T_ego_lidar) for n, li in rig.lidars.items()},
        radars={n: replace(r, T_ego_radar=T @ r.T_ego_radar) for n, r in rig.radars.items()},
    )


def _labels(
    sc: Scenario,
    snap,
    t: float,
    T_road_ego: Transform,
    T_ego_lidar: Transform,
    xyz_lidar: np.ndarray,
    label_range_m: float,
    ego_height: float = 0.0,
) -> FrameLabels:
    """Ground truth of one LiDAR frame (see the module docstring for the attributes)."""
    ego = sc.ego.state(t)
    boxes = np.array([a.box(t) for a in sc.actors]).reshape(-1, 7)
    near = np.flatnonzero(np.hypot(boxes[:, 0] - ego.x, boxes[:, 1] - ego.y) <= label_range_m)
    if len(near) == 0:
        return FrameLabels.empty()
    T_ego_road = T_road_ego.inverse()
    b = boxes[near]
    c_ego = T_ego_road.apply(b[:, :3])
    arr = np.round(np.hstack([c_ego, b[:, 3:6], wrap_angle(b[:, 6] - ego.yaw)[:, None]]), 4)
    ego_boxes = Boxes.from_array(arr)
    pts_ego = T_ego_lidar.apply(xyz_lidar)
    counts = points_in_boxes(pts_ego, ego_boxes).sum(axis=0)
    if ego_height:  # written in the raised ego frame (the counts do not depend on the frame)
        arr = arr.copy()
        arr[:, 2] = np.round(arr[:, 2] - ego_height, 4)
        ego_boxes = Boxes.from_array(arr)
    origin = (T_road_ego @ T_ego_lidar).translation
    vis = visibility(snap, [int(i) for i in near], b, origin)
    attrs = []
    for j, i in enumerate(near):
        a = sc.actors[int(i)]
        st = a.state(t)
        v_ego = T_ego_road.apply_vectors(np.array([[st.vx, st.vy, 0.0]]))[0]
        attrs.append(
            {
                "num_lidar_points": int(counts[j]),
                "visibility": round(float(vis[j]), 3),
                "velocity": [round(float(v_ego[0]), 3), round(float(v_ego[1]), 3)],
                "role": a.role,
            }
        )
    return FrameLabels(
        np.array([sc.actors[int(i)].track_id for i in near], dtype=np.int64),
        tuple(sc.actors[int(i)].category for i in near),
        ego_boxes,
        np.ones(len(near)),
        tuple(attrs),
    )
