"""A 77 GHz front radar: point detections with range, azimuth, Doppler and RCS.

Model (2D radar, elevation not measured: detections lie in the radar's z = 0 plane):

* **agents**: a fan of rays (7 for vehicles, 3 for others) at the object's mid height across its
  angular extent; rays whose first hit is the object are candidate reflection points; up to
  1-5 of them (by class) are reported, each with probability ``Pd(class) (1 - 0.4 (r / r_max)^2)``.
  Occluded objects give no detections.
* **Doppler**: the range rate of the reflection point ``p``::

      v_p     = v_agent + omega_agent x (p - c_agent)          (rigid body, road frame)
      v_radar = v_ego   + omega_ego   x (p_radar - p_ego)
      v_r     = (v_p - v_radar) . (p - p_radar) / |p - p_radar|    positive = moving away

* **clutter**: stationary returns from structures hit by a horizontal fan of rays (each kept
  with probability ``clutter_prob``), ``v_r = -v_radar . u``; plus Poisson(``ghost_rate``)
  ghost detections (multipath) away from every actor, with a noisy stationary Doppler.
* **noise**: Gaussian on range (0.15 m), azimuth (0.3 deg) and ``v_r`` (0.1 m/s); RCS in dBsm by
  class (car 10, van 12, truck 20, bus 22, cyclist 0, pedestrian -5) +- 2.5 dB.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.frames import RadarDetections
from fusionlabel.core.labels import VEHICLES
from fusionlabel.core.transforms import Transform
from fusionlabel.synth.geometry import BUILDING, CONCRETE, FOLIAGE, METAL, WOOD, Snapshot, cast, surface
from fusionlabel.synth.world import Actor, Scenario, State

RCS_DBSM = {"Car": 10.0, "Van": 12.0, "Truck": 20.0, "Bus": 22.0, "Pedestrian": -5.0, "Cyclist": 0.0}
MAX_DETECTIONS = {"Car": 3, "Van": 3, "Truck": 4, "Bus": 5, "Pedestrian": 1, "Cyclist": 2}
P_DETECT = {"Car": 0.95, "Van": 0.95, "Truck": 0.97, "Bus": 0.98, "Pedestrian": 0.75, "Cyclist": 0.85}
#: categories that get the wide fan of rays
STATIC_RCS = {BUILDING: 12.0, CONCRETE: 10.0, METAL: 8.0, WOOD: 0.0, FOLIAGE: -3.0}


@dataclass(frozen=True)
class RadarModel:
    """Field of view, range and noise; angles in radians."""

    fov: float = math.radians(60.0)
    min_range: float = 0.5
    max_range: float = 150.0
    range_noise_m: float = 0.15
    azimuth_noise: float = math.radians(0.3)
    velocity_noise: float = 0.1
    clutter_rays: int = 90
    clutter_prob: float = 0.12
    ghost_rate: float = 1.0


def point_velocity(state: State, p: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N, 3) road-frame velocity of points ``p`` (N, 3) rigidly attached to a body in ``state``."""
    w = state.yaw_rate
    return np.stack([state.vx - w * (p[:, 1] - state.y), state.vy + w * (p[:, 0] - state.x), np.zeros(len(p))], axis=1)


def radial_velocity(
    p: NDArray[np.float64], v_p: NDArray[np.float64], radar_pos: NDArray[np.float64], v_radar: NDArray[np.float64]
) -> NDArray[np.float64]:
    """(N,) range rate ``(v_p - v_radar) . u``, ``u`` the unit line of sight from the radar to ``p``."""
    u = p - radar_pos[None, :]
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return np.sum((v_p - v_radar[None, :]) * u, axis=1)


def simulate_scan(
    snap: Snapshot,
    scenario: Scenario,
    actors: Sequence[Actor],
    t: float,
    T_road_radar: Transform,
    ego_state: State,
    model: RadarModel,
    rng: np.random.Generator,
    frame_id: str = "radar_front",
    timestamp_ns: int | None = None,
) -> RadarDetections:
    """One radar scan at time ``t`` (s) from the pose ``T_road_radar``; detections in the radar frame."""
    pos = T_road_radar.translation
    v_radar = point_velocity(ego_state, pos[None, :])[0]
    T_radar_road = T_road_radar.inverse()
    P: list[NDArray[np.float64]] = []
    VR: list[NDArray[np.float64]] = []
    RCS: list[NDArray[np.float64]] = []

    for i, a in enumerate(actors):
        box = a.box(t)
        c = T_radar_road.apply(box[None, :3])[0]
        rng_c = math.hypot(c[0], c[1])
        if rng_c > model.max_range + 5 or c[0] <= 0 or abs(math.atan2(c[1], c[0])) > model.fov + 0.2:
            continue
        l, w, h = box[3:6]
        cs, sn = math.cos(box[6]), math.sin(box[6])
        corners = np.array(
            [
                [box[0] + cs * x - sn * y, box[1] + sn * x + cs * y, h / 2]
                for x in (-l / 2, l / 2)
                for y in (-w / 2, w / 2)
            ]
        )
        cr = T_radar_road.apply(corners)
        az = np.arctan2(cr[:, 1], cr[:, 0])
        n_rays = 7 if a.category in VEHICLES else 3
        span = np.linspace(az.min(), az.max(), n_rays + 2)[1:-1]
        el = math.atan2(h / 2 - pos[2], rng_c)
        d_radar = np.stack(
            [np.cos(el) * np.cos(span), np.cos(el) * np.sin(span), np.full(n_rays, math.sin(el))], axis=1
        )
        d_road = T_road_radar.apply_vectors(d_radar)
        hits = cast(snap, pos, d_road)
        cand = np.flatnonzero(hits.actor == i)
        k = int(rng.integers(1, MAX_DETECTIONS[a.category] + 1))
        order = rng.permutation(len(cand))
        u = rng.random(len(cand))
        rcs = RCS_DBSM[a.category] + rng.normal(0.0, 2.5, len(cand))
        if len(cand) == 0:
            continue
        pd = P_DETECT[a.category] * (1.0 - 0.4 * (rng_c / model.max_range) ** 2)
        pick = cand[order[:k]]
        keep = u[: len(pick)] < pd
        pick = pick[keep]
        if len(pick) == 0:
            continue
        p = pos[None, :] + d_road[pick] * hits.t[pick, None]
        P.append(p)
        VR.append(radial_velocity(p, point_velocity(a.state(t), p), pos, v_radar))
        RCS.append(rcs[: len(keep)][keep])

    # stationary clutter from structures
    az = np.linspace(-model.fov, model.fov, model.clutter_rays)
    d_road = T_road_radar.apply_vectors(np.stack([np.cos(az), np.sin(az), np.zeros_like(az)], axis=1))
    hits = cast(snap, pos, d_road)
    u = rng.random(len(az))
    jitter = rng.normal(0.0, 3.0, len(az))
    sel = np.flatnonzero((hits.actor == -2) & (hits.t <= model.max_range) & (u < model.clutter_prob))
    if len(sel):
        p = pos[None, :] + d_road[sel] * hits.t[sel, None]
        mat, _ = surface(
            snap, hits, pos[None, :] + d_road * np.where(np.isfinite(hits.t), hits.t, 0)[:, None], scenario
        )
        P.append(p)
        VR.append(radial_velocity(p, np.zeros_like(p), pos, v_radar))
        RCS.append(np.array([STATIC_RCS.get(int(m), 5.0) for m in mat[sel]]) + jitter[sel])

    # ghosts (multipath), never on top of an actor
    n_ghost = int(rng.poisson(model.ghost_rate))
    g_r = rng.uniform(5.0, 100.0, n_ghost)
    g_az = rng.uniform(-model.fov, model.fov, n_ghost)
    g_v = rng.normal(0.0, 1.5, n_ghost)
    g_rcs = rng.normal(-12.0, 3.0, n_ghost)
    if n_ghost:
        p = T_road_radar.apply(np.stack([g_r * np.cos(g_az), g_r * np.sin(g_az), np.zeros(n_ghost)], axis=1))
        centres = np.array([a.box(t)[:2] for a in actors]).reshape(-1, 2)
        far = (
            np.all(np.linalg.norm(p[:, None, :2] - centres[None, :, :], axis=2) > 6.0, axis=1)
            if len(centres)
            else np.ones(n_ghost, bool)
        )
        if far.any():
            P.append(p[far])
            VR.append(radial_velocity(p[far], np.zeros_like(p[far]), pos, v_radar) + g_v[far])
            RCS.append(g_rcs[far])

    if not P:
        return RadarDetections(np.zeros((0, 3)), np.zeros(0), np.zeros(0), frame_id, timestamp_ns)
    p_road = np.vstack(P)
    vr = np.concatenate(VR)
    rcs_all = np.concatenate(RCS)
    q = T_radar_road.apply(p_road)
    n = len(q)
    r = np.hypot(q[:, 0], q[:, 1]) + rng.normal(0.0, model.range_noise_m, n)
    a_m = np.arctan2(q[:, 1], q[:, 0]) + rng.normal(0.0, model.azimuth_noise, n)
    vr = vr + rng.normal(0.0, model.velocity_noise, n)
    ok = (r >= model.min_range) & (r <= model.max_range) & (np.abs(a_m) <= model.fov)
    order = np.argsort(r[ok], kind="stable")
    return RadarDetections.from_polar(
        r[ok][order], a_m[ok][order], None, vr[ok][order], rcs_all[ok][order], frame_id, timestamp_ns
    )
