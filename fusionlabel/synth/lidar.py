"""A spinning multi-beam LiDAR simulated by ray casting.

One sweep casts ``beams x azimuth_steps`` rays from the sensor origin (the sweep is treated as
instantaneous at its timestamp: no rolling-shutter skew). For each first hit at range ``r``:

* range noise: ``r' = r + N(0, range_noise_m)``; returns outside ``[min_range, max_range]`` drop;
* dropout: a return is lost with probability
  ``p = dropout + 0.5 [rho < 0.06] + 0.3 (r / max_range)^3`` (``rho`` = material reflectivity:
  dark tyres and glass often return nothing, far returns are weaker);
* intensity (0..255, integer-valued like a Velodyne): ``255 clip(rho (0.3 + 0.7 |cos i|) (1 + N(0, 0.05)), 0, 1)``
  with ``i`` the angle between the ray and the surface normal.

Points are returned in the LiDAR frame (x forward, y left, z up) as ``d_lidar * r'``, ordered
azimuth-major (for each azimuth step, all beams bottom to top), as a real sensor's packets are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.transforms import Transform
from fusionlabel.synth.geometry import REFLECTIVITY, Snapshot, cast, dot3, rotate, surface
from fusionlabel.synth.world import Scenario

#: beam elevation tables, degrees
LIDAR_MODELS: dict[str, tuple[float, ...]] = {
    # Velodyne HDL-32E: 32 beams, -30.67 .. +10.67 deg, 1.33 deg apart
    "hdl32e": tuple(float(v) for v in np.linspace(-30.67, 10.67, 32)),
    # Velodyne VLP-16: 16 beams, -15 .. +15 deg, 2 deg apart
    "vlp16": tuple(float(v) for v in np.linspace(-15.0, 15.0, 16)),
    # Velodyne HDL-64E (KITTI's): a lower block of 32 beams -24.33 .. -8.83 deg (1/2 deg apart),
    # an upper one -8.33 .. +2.0 deg (1/3 deg apart)
    "hdl64e": tuple(float(v) for v in np.concatenate([np.linspace(-24.33, -8.83, 32), np.linspace(-8.33, 2.0, 32)])),
}


@dataclass(frozen=True)
class LidarModel:
    """Beam pattern and error model.

    elevations_deg : per-beam elevation, degrees (degrees only here, at the configuration edge)
    azimuth_steps : rays per revolution per beam
    min_range, max_range : metres
    range_noise_m : standard deviation of the Gaussian range noise, metres
    dropout : base probability of a lost return
    """

    name: str
    elevations_deg: tuple[float, ...]
    azimuth_steps: int = 1024
    min_range: float = 1.0
    max_range: float = 100.0
    range_noise_m: float = 0.02
    dropout: float = 0.02

    @classmethod
    def named(cls, name: str, azimuth_steps: int = 1024) -> LidarModel:
        if name not in LIDAR_MODELS:
            raise ValueError(f"unknown LiDAR model {name!r}; known: {', '.join(LIDAR_MODELS)}")
        if azimuth_steps < 16:
            raise ValueError("azimuth_steps must be at least 16")
        return cls(name, LIDAR_MODELS[name], int(azimuth_steps))

    def directions(self) -> NDArray[np.float64]:
        """(azimuth_steps * beams, 3) unit ray directions in the LiDAR frame, azimuth-major."""
        el = np.radians(np.asarray(self.elevations_deg))
        az = np.arange(self.azimuth_steps) * (2 * np.pi / self.azimuth_steps)
        A, E = np.meshgrid(az, el, indexing="ij")
        return np.stack([np.cos(E) * np.cos(A), np.cos(E) * np.sin(A), np.sin(E)], axis=-1).reshape(-1, 3)


@dataclass(frozen=True)
class Sweep:
    """One simulated sweep.

    xyz : (N, 3) float32, LiDAR frame, metres; intensity : (N,) float32, 0..255;
    actor : (N,) int64 index of the actor hit (-1 ground, -2 static structure)
    """

    xyz: NDArray[np.float32]
    intensity: NDArray[np.float32]
    actor: NDArray[np.int64]


def simulate_sweep(
    snap: Snapshot,
    scenario: Scenario,
    T_road_lidar: Transform,
    model: LidarModel,
    rng: np.random.Generator,
    dirs_lidar: NDArray[np.float64] | None = None,
) -> Sweep:
    """Cast one sweep from the LiDAR pose ``T_road_lidar`` into ``snap``."""
    d_l = model.directions() if dirs_lidar is None else dirs_lidar
    d_r = rotate(T_road_lidar.rotation, d_l)
    origin = T_road_lidar.translation
    h = cast(snap, origin, d_r)
    n = len(d_l)
    noise = rng.normal(0.0, model.range_noise_m, n)
    u_drop = rng.random(n)
    u_int = rng.normal(0.0, 0.05, n)
    hit = np.isfinite(h.t)
    r = np.where(hit, h.t, 0.0) + noise
    pts_road = origin[None, :] + d_r * np.where(hit, h.t, 0.0)[:, None]
    mat, _ = surface(snap, h, pts_road, scenario)
    rho = np.where(hit, REFLECTIVITY[np.clip(mat, 0, None)], 0.0)
    p_drop = model.dropout + 0.5 * (rho < 0.06) + 0.3 * (np.clip(r, 0, None) / model.max_range) ** 3
    keep = hit & (r >= model.min_range) & (r <= model.max_range) & (u_drop >= p_drop)
    cos_i = np.abs(dot3(h.normal, d_r))
    inten = np.round(255.0 * np.clip(rho * (0.3 + 0.7 * cos_i) * (1.0 + u_int), 0.0, 1.0))
    xyz = (d_l[keep] * r[keep, None]).astype(np.float32)
    return Sweep(xyz, inten[keep].astype(np.float32), h.actor[keep])
