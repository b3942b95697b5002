"""The synthetic recording generator: determinism, format, and ground truth that agrees with the data.

Every check compares the written files (read back through the public readers) with either the
core geometry (points_in_boxes, project_boxes) or an independent computation from the scenario's
exact states; nothing is compared with numbers copied from a previous run.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import points_in_boxes
from fusionlabel.core.projection import project_boxes
from fusionlabel.core.sync import match_nearest
from fusionlabel.io.native import open_native
from fusionlabel.io.open import open_recording
from fusionlabel.synth import generate, make_scenario
from fusionlabel.synth.camera import pixel_rays, render
from fusionlabel.synth.generate import (
    LIDAR_MOUNT,
    LIDAR_NAME,
    RADAR_NAME,
    lidar_times_ns,
    scenario_of,
    to_seconds,
)
from fusionlabel.synth.geometry import build_snapshot, static_mesh

SEED = 1
FRAMES = 20


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("synth") / "rec", frames=FRAMES, seed=SEED)


@pytest.fixture(scope="module")
def rec(rec_path: Path):
    return open_recording(rec_path)


# -- determinism ----------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    a = _files(generate(tmp_path / "a" / "rec", frames=2, seed=7))
    b = _files(generate(tmp_path / "b" / "rec", frames=2, seed=7))
    c = _files(generate(tmp_path / "c" / "rec", frames=2, seed=8))
    assert a.keys() == b.keys()
    assert {
        "recording.json",
        "calib.yaml",
        "labels.json",
        "ego_poses.csv",
        "lidar/lidar_top/000001.bin",
        "radar/radar_front/000001.csv",
    } <= a.keys()
    for name in a:
        assert a[name] == b[name], f"{name} differs between two runs with the same seed"
    assert a["labels.json"] != c["labels.json"]
    assert a["lidar/lidar_top/000000.bin"] != c["lidar/lidar_top/000000.bin"]
    assert a["camera/cam_front/000000.jpg"] != c["camera/cam_front/000000.jpg"]


def test_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    generate(out, frames=1, seed=0, azimuth_steps=64, image_size=(64, 36))
    with pytest.raises(FileExistsError, match="not empty"):
        generate(out, frames=1, seed=0, azimuth_steps=64, image_size=(64, 36))
    generate(out, frames=2, seed=0, overwrite=True, azimuth_steps=64, image_size=(64, 36))
    assert len(open_native(out)) == 2
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a FusionLabel recording"):
        generate(other, frames=1, seed=0, overwrite=True, azimuth_steps=64, image_size=(64, 36))
    assert (other / "keep.txt").read_text() == "mine"


# -- scenario content -----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 2, 3, 11, 12345])
def test_every_seed_has_a_dozen_agents_of_all_classes_and_varies(seed: int) -> None:
    times = np.arange(FRAMES) / 10.0
    sc = make_scenario(seed, times, LIDAR_MOUNT)
    cats = Counter(a.category for a in sc.agents)
    assert len(sc.agents) >= 12
    assert cats["Car"] >= 2 and cats["Pedestrian"] >= 2 and cats["Cyclist"] >= 1
    roles = {a.role for a in sc.agents}
    assert {"overtaking", "oncoming", "behind_truck", "kerb", "crossing"} <= roles
    assert 8.0 <= sc.ego.speed <= 12.0
    # realistic sizes
    for a in sc.actors:
        l, w, h = a.size
        lo, hi = {
            "Car": ((3.5, 1.6, 1.3), (5.5, 2.1, 2.0)),
            "Truck": ((6, 2.2, 2.8), (9, 2.6, 3.6)),
            "Pedestrian": ((0.4, 0.5, 1.4), (0.9, 0.8, 2.0)),
            "Cyclist": ((1.6, 0.5, 1.5), (1.9, 0.75, 2.0)),
        }[a.category]
        assert all(lo[i] <= (l, w, h)[i] <= hi[i] for i in range(3)), (a.category, a.size)
    other = make_scenario(seed + 1, times, LIDAR_MOUNT)
    assert sc.ego.speed != other.ego.speed
    assert [a.motion.x for a in sc.agents] != [a.motion.x for a in other.agents]
    # the same seed draws the same scenario
    again = make_scenario(seed, times, LIDAR_MOUNT)
    assert again.actors == sc.actors and again.ego == sc.ego and again.structures == sc.structures


def test_agents_never_overlap_each_other() -> None:
    from fusionlabel.core.boxes import Boxes, bev_iou

    sc = make_scenario(5, np.arange(FRAMES) / 10.0, LIDAR_MOUNT)
    for t in np.linspace(0, 1.9, 8):
        b = Boxes.from_array(np.array([a.box(float(t)) for a in sc.actors]))
        iou = bev_iou(b, b)
        np.fill_diagonal(iou, 0.0)
        assert iou.max() == 0.0


# -- the recording --------------------------------------------------------------------------------
def test_recording_has_frames_sensors_rates_and_sync(rec) -> None:
    assert rec.format == "native" and rec.problems == []
    assert len(rec) == FRAMES
    assert set(rec.streams) == {LIDAR_NAME, "cam_front", RADAR_NAME}
    assert rec.reference == LIDAR_NAME
    assert {n: s.kind for n, s in rec.streams.items()} == {
        LIDAR_NAME: "lidar",
        "cam_front": "camera",
        RADAR_NAME: "radar",
    }
    assert rec.streams[LIDAR_NAME].rate_hz == pytest.approx(10.0)
    assert rec.streams[RADAR_NAME].rate_hz == pytest.approx(13.0, abs=0.01)
    assert rec.streams["cam_front"].rate_hz == pytest.approx(10.0, abs=0.3)
    assert all(s.timestamps_ns.dtype == np.int64 for s in rec.streams.values())
    np.testing.assert_array_equal(rec.timestamps_ns, lidar_times_ns(FRAMES, 10.0))
    cam = rec.sync["cam_front"]
    assert cam.matched == FRAMES
    assert np.all((cam.offset_ns >= 2_900_000) & (cam.offset_ns <= 5_100_000))  # +4 ms +- 1 ms
    assert len(np.unique(cam.offset_ns)) > 1  # jitter
    radar = rec.sync[RADAR_NAME]
    assert radar.matched == FRAMES and radar.max_abs_offset_ns <= 50_000_000
    assert len(radar.unused) > 0 and len(np.unique(radar.offset_ns)) > 5  # a different rate drifts
    # the rig and its conventions
    assert set(rec.rig.sensor_names) == {LIDAR_NAME, "cam_front", RADAR_NAME}
    c = rec.rig.cameras["cam_front"]
    assert (c.width, c.height) == (640, 360) and len(c.D) == 5 and np.any(c.D)
    fwd = c.T_ego_cam.rotation @ np.array([0.0, 0.0, 1.0])  # optical z looks forward
    assert fwd[0] > 0.99
    assert rec.rig.T_ego_sensor(LIDAR_NAME).translation[2] == pytest.approx(1.84)
    # frames load with every stream and the ego pose
    f = rec.frame(7)
    assert set(f.lidar) == {LIDAR_NAME} and set(f.radar) == {RADAR_NAME} and set(f.images) == {"cam_front"}
    assert f.image("cam_front").shape == (360, 640, 3)
    assert f.ego_pose is not None


def test_ego_poses_follow_the_scenario(rec) -> None:
    sc = scenario_of(FRAMES, SEED)
    speeds = []
    for k in (0, 9, 19):
        t = int(rec.timestamps_ns[k])
        pose = rec.ego_pose_at(t)
        truth = sc.T_world_road @ sc.ego.T_road_ego(to_seconds(t))
        assert pose.allclose(truth, atol=1e-4)
    for k in range(1, FRAMES):
        p0 = rec.ego_pose_at(int(rec.timestamps_ns[k - 1])).translation
        p1 = rec.ego_pose_at(int(rec.timestamps_ns[k])).translation
        speeds.append(np.linalg.norm(p1 - p0) / 0.1)
    assert 8.0 <= np.mean(speeds) <= 12.1


def test_lidar_is_in_the_sensor_frame_with_realistic_values(rec) -> None:
    f = rec.frame(3)
    cloud = f.lidar[LIDAR_NAME]
    assert 8_000 < len(cloud) < 16_384  # 32 x 512 rays minus sky, range limits and dropout
    r = np.linalg.norm(cloud.xyz, axis=1)
    assert r.min() >= 0.9 and r.max() <= 100.5
    inten = cloud.intensity
    assert inten.min() >= 0 and inten.max() <= 255 and np.all(inten == np.round(inten)) and inten.std() > 5
    # the ground (z = 0 in the ego frame) lies 1.84 m below the sensor: near, low points
    el = np.degrees(np.arcsin(cloud.xyz[:, 2] / r))
    ground = (el < -20) & (r < 6)
    assert ground.sum() > 500
    assert np.median(cloud.xyz[ground, 2]) == pytest.approx(-LIDAR_MOUNT[2], abs=0.02)
    z = cloud.xyz[ground, 2]
    assert np.median(np.abs(z - np.median(z))) < 0.03  # cm-level range noise (cars near the ego aside)
    # elevation angles of the HDL-32E pattern
    assert el.min() > -31.0 and el.max() < 11.0


def test_num_lidar_points_are_exact(rec) -> None:
    labels = rec.labels
    assert len(labels) == FRAMES
    T = rec.rig.T_ego_sensor(LIDAR_NAME)
    with_points = 0
    for k in range(FRAMES):
        fl = labels.get(k)
        pts = T.apply(rec.frame(k).lidar[LIDAR_NAME].xyz)
        counts = points_in_boxes(pts, fl.boxes).sum(axis=0)
        claimed = np.array([a["num_lidar_points"] for a in fl.attributes])
        np.testing.assert_array_equal(counts, claimed)
        with_points += int(np.sum(claimed > 20))
    assert with_points > 5 * FRAMES


def test_tracks_are_persistent_and_move_physically(rec) -> None:
    labels = rec.labels
    cats = set()
    for tid in labels.track_ids:
        frames, boxes, categories = labels.track(int(tid))
        assert len(set(categories)) == 1
        cats.add(categories[0])
        world = [
            rec.ego_pose_at(int(rec.timestamps_ns[k])).apply(boxes.center[i : i + 1])[0] for i, k in enumerate(frames)
        ]
        for i in range(1, len(frames)):
            if frames[i] == frames[i - 1] + 1:
                assert np.linalg.norm(world[i][:2] - world[i - 1][:2]) < 2.0  # < 20 m/s
        assert np.allclose(boxes.size, boxes.size[0])
    assert {"Car", "Pedestrian", "Cyclist"} <= cats


def test_an_agent_is_fully_occluded_at_some_frame_and_visible_at_others(rec) -> None:
    labels = rec.labels
    vis: dict[int, list[tuple[float, int]]] = {}
    for fl in labels.frames.values():
        for tid, a in zip(fl.track_ids, fl.attributes):
            vis.setdefault(int(tid), []).append((a["visibility"], a["num_lidar_points"]))
    both = [t for t, v in vis.items() if min(x[0] for x in v) == 0.0 and max(x[0] for x in v) > 0.3]
    assert both, "no agent is hidden in one frame and seen in another"
    # fully occluded: almost nothing of it in the cloud (a few ground returns in its footprint at most),
    # visible: clearly more
    for t in both:
        hidden = [n for v, n in vis[t] if v == 0.0]
        seen = [n for v, n in vis[t] if v > 0.5]
        if seen:
            assert max(hidden) <= 5 < max(seen)


def test_the_occluder_design_holds_for_other_seeds(tmp_path: Path) -> None:
    from fusionlabel.synth.geometry import visibility

    for seed in (0, 4):
        sc = make_scenario(seed, np.arange(FRAMES) / 10.0, LIDAR_MOUNT)
        ped = [i for i, a in enumerate(sc.actors) if a.role == "behind_truck"]
        assert ped
        static = static_mesh(sc.structures)
        v = []
        for t in np.arange(FRAMES) / 10.0:
            snap = build_snapshot(sc.actors, float(t), static)
            origin = sc.ego.T_road_ego(float(t)).apply(np.array([LIDAR_MOUNT]))[0]
            v.append(visibility(snap, ped, np.array([sc.actors[ped[0]].box(float(t))]), origin)[0])
        assert min(v) == 0.0 and max(v) > 0.3


# -- camera ---------------------------------------------------------------------------------------
def test_projected_boxes_line_up_with_the_rendered_objects(rec) -> None:
    sc = scenario_of(FRAMES, SEED)
    static = static_mesh(sc.structures)
    cam = rec.rig.cameras["cam_front"]
    rays = pixel_rays(cam)
    labels = rec.labels
    checked = contained = 0
    ious = []
    on_object = []
    for k in (0, 8, 16):
        f = rec.frame(k)
        tc = to_seconds(f.sensor_timestamps["cam_front"])
        rgb, inst = render(
            build_snapshot(sc.actors, tc, static, 400.0, sc.ego.state(tc).x),
            sc,
            cam,
            sc.ego.T_road_ego(tc) @ cam.T_ego_cam,
            rays,
        )
        bg, _ = render(
            build_snapshot([], tc, static, 400.0, sc.ego.state(tc).x),
            sc,
            cam,
            sc.ego.T_road_ego(tc) @ cam.T_ego_cam,
            rays,
        )
        jpeg = f.image("cam_front")
        # the stored JPEG is this render (up to compression)
        assert np.mean(np.abs(jpeg.astype(int) - rgb.astype(int))) < 3.0
        fl = labels.get(k)
        pr = project_boxes(fl.boxes, cam, cam.T_ego_cam.inverse())
        index = {a.track_id: i for i, a in enumerate(sc.actors)}
        for j, tid in enumerate(fl.track_ids):
            mask = inst == index[int(tid)]
            n = int(mask.sum())
            if n < 30:
                continue
            x1, y1, x2, y2 = pr.bbox[j]
            assert np.isfinite(x1), "a rendered object has no projected box"
            vv, uu = np.nonzero(mask)
            inside = (uu >= x1 - 2) & (uu <= x2 + 2) & (vv >= y1 - 2) & (vv <= y2 + 2)
            checked += 1
            contained += int(inside.mean() > 0.99)
            mb = np.array([uu.min(), vv.min(), uu.max() + 1, vv.max() + 1], dtype=float)
            iw = max(0.0, min(x2, mb[2]) - max(x1, mb[0]))
            ih = max(0.0, min(y2, mb[3]) - max(y1, mb[1]))
            inter = iw * ih
            ious.append(inter / ((x2 - x1) * (y2 - y1) + (mb[2] - mb[0]) * (mb[3] - mb[1]) - inter))
            # the projected box falls on object pixels of the stored image, not on background
            if fl.attributes[j]["visibility"] == 1.0 and n > 200:
                xa, ya, xb, yb = (round(float(v)) for v in (x1, y1, x2, y2))
                diff = np.abs(jpeg[ya:yb, xa:xb].astype(int) - bg[ya:yb, xa:xb].astype(int)).sum(axis=2)
                on_object.append(float(np.mean(diff > 30)))
    assert checked >= 10
    assert contained == checked
    assert np.median(ious) > 0.6
    assert on_object and min(on_object) > 0.08 and np.median(on_object) > 0.3


# -- radar ----------------------------------------------------------------------------------------
def _inside(p: np.ndarray, cx: float, cy: float, l: float, w: float, yaw: float, margin: float) -> bool:
    c, s = math.cos(yaw), math.sin(yaw)
    dx, dy = p[0] - cx, p[1] - cy
    return abs(c * dx + s * dy) <= l / 2 + margin and abs(-s * dx + c * dy) <= w / 2 + margin


def test_radar_doppler_matches_the_agents_motion(rec) -> None:
    from fusionlabel.io.native import read_radar_csv

    sc = scenario_of(FRAMES, SEED)
    T_ego_radar = rec.rig.T_ego_sensor(RADAR_NAME)
    ts = rec.streams[RADAR_NAME].timestamps_ns
    associated = moving = 0
    errors, tolerance = [], []
    for j, t_ns in enumerate(ts):
        det = read_radar_csv(rec.path / f"radar/{RADAR_NAME}/{j:06d}.csv")
        assert np.all(np.abs(det.azimuth) <= math.radians(60.0) + 1e-6)
        assert np.all((det.range >= 0.5) & (det.range <= 150.0))
        t = to_seconds(int(t_ns))
        T_road_radar = sc.ego.T_road_ego(t) @ T_ego_radar
        p = T_road_radar.apply(det.xyz)
        radar_pos = T_road_radar.translation
        e = sc.ego.state(t)
        # the radar's own velocity: v_ego + omega x r
        v_radar = np.array([e.vx - e.yaw_rate * (radar_pos[1] - e.y), e.vy + e.yaw_rate * (radar_pos[0] - e.x)])
        for i in range(len(det)):
            near_structure = any(
                _inside(p[i], s.center[0], s.center[1], s.size[0], s.size[1], s.yaw, 1.0) for s in sc.structures
            )
            boxes = [a.box(t) for a in sc.actors]
            owners = [a for a, b in zip(sc.actors, boxes) if _inside(p[i], b[0], b[1], b[3], b[4], b[6], 0.5)]
            if near_structure or len(owners) != 1:
                continue  # clutter on a pole beside a pedestrian, or two agents side by side
            a = owners[0]
            st = a.state(t)
            # range rate of a point on a rigid body: (v + omega x r - v_radar) . line of sight
            v_pt = np.array([st.vx - st.yaw_rate * (p[i, 1] - st.y), st.vy + st.yaw_rate * (p[i, 0] - st.x)])
            los = (p[i, :2] - radar_pos[:2]) / np.linalg.norm(p[i, :2] - radar_pos[:2])
            err = abs(det.radial_velocity[i] - float((v_pt - v_radar) @ los))
            # noise: 0.1 m/s Doppler; the measured point is off by range / azimuth noise (<= ~0.6 m),
            # which matters through omega x r for a turning agent
            errors.append(err)
            tolerance.append(0.45 + 0.6 * abs(st.yaw_rate))
            associated += 1
            moving += int(not a.parked)
    assert associated >= 40 and moving >= 20
    assert np.all(np.array(errors) < np.array(tolerance))
    assert np.mean(errors) < 0.15


def test_radar_sync_uses_its_own_clock(rec) -> None:
    ts = rec.streams[RADAR_NAME].timestamps_ns
    assert np.all(np.diff(ts) > 0)
    period = np.diff(ts)
    assert np.all(np.abs(period - 1e9 / 13.0) <= 1)
    s = match_nearest(rec.timestamps_ns, ts, 50_000_000)
    assert s.matched == FRAMES


def test_ego_height_moves_only_the_frame_the_recording_is_written_in(tmp_path: Path) -> None:
    """A domain shift for detectors: the ego origin at the LiDAR (ground at z = -1.84), same world."""
    from fusionlabel.core.points import lidar_points_ego

    a = open_recording(generate(tmp_path / "a", frames=2, seed=3, cameras=(), radar_rate_hz=0))
    b = open_recording(generate(tmp_path / "b", frames=2, seed=3, cameras=(), radar_rate_hz=0, ego_height=1.84))
    la, lb = a.labels.get(1), b.labels.get(1)
    assert np.allclose(lb.boxes.to_array()[:, 2], la.boxes.to_array()[:, 2] - 1.84, atol=1e-4)
    assert np.array_equal(lb.boxes.to_array()[:, [0, 1, 3, 4, 5, 6]], la.boxes.to_array()[:, [0, 1, 3, 4, 5, 6]])
    assert b.rig.T_ego_sensor("lidar_top").translation[2] == pytest.approx(0.0)
    xyz = lidar_points_ego(b.frame(1), b.rig).xyz
    counts = points_in_boxes(xyz, lb.boxes).sum(axis=0)
    assert counts.tolist() == [a_["num_lidar_points"] for a_ in lb.attributes]
    t = int(b.timestamps_ns[1])
    pa, pb = a.ego_pose_at(t), b.ego_pose_at(t)
    assert np.allclose(pb.apply(np.zeros((1, 3))), pa.apply(np.array([[0.0, 0.0, 1.84]])), atol=1e-6)
