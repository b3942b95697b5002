"""Ground estimation for LiDAR point clouds: a BEV height map, or one RANSAC plane.

Both give a :class:`GroundModel` whose :meth:`~GroundModel.height` is each point's height above
the ground (metres, ego frame, +z up); points lower than ``~0.2 m`` are ground.

Grid (:func:`estimate_ground_grid`, the default of the geometric detector)
    Cells of ``cell`` metres; per cell the lowest point ``z_min(c)``; the ground under a cell is
    the minimum over a ``(2k+1)^2`` neighbourhood, ``g(c) = min_{|c'-c|<=k} z_min(c')``, so cells
    covered by a car (whose lowest return is its body, not the road) take the road height of the
    cells around it. Follows slopes and curbs; a local minimum below the road (a sensor artefact)
    lowers the ground within ``k`` cells, which :func:`_reject_low_outliers` limits first. Where
    no road is visible for metres (a facade whose foot is hidden behind parked cars), ``g`` is
    capped at the lowest ground within ``wide_reach`` cells plus ``max_step``.
Patchwork++ (:func:`estimate_ground_patchwork`; the ``patchwork`` extra installs ``pypatchworkpp``)
    Lim et al.'s concentric-zone ground segmentation (the ``pypatchworkpp`` library, run in the
    LiDAR's frame: slopes, ramps and kerbs per zone, no single plane) labels the ground returns;
    the height map is then the median z of the ground returns per cell, empty cells taking their
    nearest filled cell. A car's low body is not ground to it, so no min filter is needed and a
    distant hill keeps its own height.
RANSAC (:func:`estimate_ground_ransac`)
    ``open3d``'s ``segment_plane`` on the lowest points of each coarse cell (the candidates, so
    walls cannot win), keeping a plane whose normal is within 25 degrees of +z:
    ``height = n . p + d`` with ``n_z > 0``. One plane: exact on flat roads, biased where the
    road bends or climbs away from the ego.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> road = np.c_[rng.uniform(-20, 20, (5000, 2)), rng.normal(-1.7, 0.02, 5000)]
>>> box = np.c_[rng.uniform(5, 9, (500, 1)), rng.uniform(1, 3, (500, 1)), rng.uniform(-1.4, -0.2, (500, 1))]
>>> g = estimate_ground_grid(np.vstack([road, box]))
>>> h = g.height(box)
>>> bool(np.all(h > 0.2))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage


@dataclass(frozen=True)
class GroundModel:
    """Ground height, either a height map or a plane.

    Attributes
    ----------
    origin : (2,) float64, metres: ego x, y of the grid's cell (0, 0) lower corner (height map)
    cell : cell size, metres (height map)
    z : (nx, ny) float32 ground z per cell, metres, ego frame (height map); ``+inf`` where no
        point was near (far from any return)
    plane : (4,) float64 ``(a, b, c, d)`` with ``a x + b y + c z + d = 0``, ``c > 0``, unit normal
        (plane model), else None
    """

    origin: NDArray[np.float64]
    cell: float
    z: NDArray[np.float32] | None
    plane: NDArray[np.float64] | None = None

    def ground_z(self, xy: NDArray[np.floating]) -> NDArray[np.float32]:
        """(N,) ground z below each (N, 2) ego-frame position, metres."""
        xy = np.asarray(xy)
        if self.plane is not None:
            a, b, c, d = self.plane
            return (-(a * xy[:, 0] + b * xy[:, 1] + d) / c).astype(np.float32)
        assert self.z is not None
        ij = np.floor((xy[:, :2] - self.origin) / self.cell).astype(np.int64)
        i = np.clip(ij[:, 0], 0, self.z.shape[0] - 1)
        j = np.clip(ij[:, 1], 0, self.z.shape[1] - 1)
        return self.z[i, j]

    def height(self, xyz: NDArray[np.floating]) -> NDArray[np.float32]:
        """(N,) height of each (N, 3) ego-frame point above the ground, metres (vertical)."""
        xyz = np.asarray(xyz)
        return (xyz[:, 2] - self.ground_z(xyz[:, :2])).astype(np.float32)


def _cell_min(
    xyz: NDArray[np.floating], origin: NDArray[np.float64], cell: float, shape: tuple[int, int]
) -> NDArray[np.float32]:
    """(nx, ny) lowest z per cell (+inf for empty cells); points outside the grid are ignored."""
    ij = np.floor((xyz[:, :2] - origin) / cell).astype(np.int64)
    ok = (ij[:, 0] >= 0) & (ij[:, 0] < shape[0]) & (ij[:, 1] >= 0) & (ij[:, 1] < shape[1])
    flat = ij[ok, 0] * shape[1] + ij[ok, 1]
    zmin = np.full(shape[0] * shape[1], np.inf, dtype=np.float32)
    np.minimum.at(zmin, flat, xyz[ok, 2].astype(np.float32))
    return zmin.reshape(shape)


def _reject_low_outliers(zmin: NDArray[np.float32], max_drop: float, reach: int = 2) -> NDArray[np.float32]:
    """Cells more than ``max_drop`` below their neighbourhood are set empty (+inf).

    A single return far below the road (multipath, a reflection in a puddle) would otherwise pull
    the ground down for every cell within the min filter's reach. The reference of a cell is the
    30th percentile of the non-empty cells in its ``(2 reach + 1)^2`` neighbourhood (itself
    included); cells with fewer than 3 non-empty neighbours are kept as they are.
    """
    finite = np.isfinite(zmin)
    if finite.sum() < 3:
        return zmin
    k = 2 * reach + 1
    padded = np.pad(zmin, reach, mode="constant", constant_values=np.inf)
    nx, ny = zmin.shape
    # (nx, ny, k*k) stack of the neighbourhood values, then sorted: +inf (empty) sorts last
    stack = np.stack([padded[i : i + nx, j : j + ny] for i in range(k) for j in range(k)], axis=-1)
    stack.sort(axis=-1)
    count = np.isfinite(stack).sum(axis=-1)
    pick = np.clip(np.floor(0.3 * (count - 1)).astype(np.int64), 0, k * k - 1)
    ref = np.take_along_axis(stack, pick[..., None], axis=-1)[..., 0]
    bad = finite & (count >= 3) & (zmin < ref - max_drop)
    out = zmin.copy()
    out[bad] = np.inf
    return out


def estimate_ground_grid(
    xyz: NDArray[np.floating],
    cell: float = 1.0,
    reach: int = 2,
    range_m: float | None = None,
    max_drop: float = 0.6,
    max_step: float | None = 0.5,
    wide_reach: int = 8,
) -> GroundModel:
    """Height-map ground (see the module docstring).

    Parameters
    ----------
    xyz : (N, 3) points, ego frame, metres
    cell : height-map cell size, metres
    reach : neighbourhood half-width k in cells (the min filter spans ``(2k+1) cell`` metres: it
        must exceed half an object's footprint so covered cells see road)
    range_m : grid half-extent; default: the points' extent
    max_drop : a cell lower than this below its neighbourhood is an outlier (metres)
    max_step : the ground may rise at most this much above the lowest ground within
        ``wide_reach`` cells (metres; None: no limit). Slopes steeper than
        ``max_step / (wide_reach cell)`` (6 % by default) are cut off
    """
    xyz = np.asarray(xyz)
    if range_m is None:
        lo = xyz[:, :2].min(axis=0) if len(xyz) else np.zeros(2)
        hi = xyz[:, :2].max(axis=0) if len(xyz) else np.ones(2)
    else:
        lo, hi = np.array([-range_m, -range_m]), np.array([range_m, range_m])
    origin = np.floor(np.asarray(lo, dtype=np.float64) / cell) * cell
    shape = tuple(int(v) for v in np.maximum(np.ceil((np.asarray(hi) - origin) / cell).astype(int) + 1, 1))
    zmin = _cell_min(xyz, origin, cell, (shape[0], shape[1]))
    zmin = _reject_low_outliers(zmin, max_drop, reach)
    # g(c) = min over the (2k+1)^2 neighbourhood; +inf stays where nothing is near
    ground = ndimage.minimum_filter(zmin, size=2 * reach + 1, mode="nearest")
    if max_step is not None:
        # a facade, wall or roof whose foot is hidden has no road near it: its cells' minimum is
        # metres up. Limit g to the wide-area ground + max_step: g = min(g, g_wide + max_step)
        wide = ndimage.minimum_filter(zmin, size=2 * wide_reach + 1, mode="nearest")
        ground = np.minimum(ground, wide + max_step)
    return GroundModel(origin, float(cell), ground.astype(np.float32))


def estimate_ground_ransac(
    xyz: NDArray[np.floating],
    distance: float = 0.15,
    iterations: int = 200,
    candidate_cell: float = 2.0,
    candidate_band: float = 0.3,
    seed: int = 0,
) -> GroundModel:
    """One ground plane by RANSAC (open3d ``segment_plane``) on low candidate points.

    Parameters
    ----------
    xyz : (N, 3) points, ego frame, metres
    distance : inlier distance to the plane, metres
    iterations : RANSAC iterations
    candidate_cell, candidate_band : candidates are the points within ``candidate_band`` of their
        ``candidate_cell`` cell's lowest point (so walls and car sides cannot win)
    seed : open3d's random seed (results are reproducible)

    Raises
    ------
    ValueError
        fewer than 3 candidates, or no near-horizontal plane found.
    """
    import open3d as o3d  # heavy import kept local

    xyz = np.asarray(xyz, dtype=np.float64)
    lo = xyz[:, :2].min(axis=0)
    origin = np.floor(lo / candidate_cell) * candidate_cell
    shape_np = np.ceil((xyz[:, :2].max(axis=0) - origin) / candidate_cell).astype(int) + 1
    shape = (int(shape_np[0]), int(shape_np[1]))
    zmin = _cell_min(xyz, origin, candidate_cell, shape)
    ij = np.floor((xyz[:, :2] - origin) / candidate_cell).astype(np.int64)
    cand = xyz[xyz[:, 2] <= zmin[ij[:, 0], ij[:, 1]] + candidate_band]
    if len(cand) < 3:
        raise ValueError("too few points to fit a ground plane")
    o3d.utility.random.seed(seed)
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cand))
    plane = None
    for _ in range(3):
        model, inliers = pc.segment_plane(distance, 3, iterations)
        m = np.asarray(model, dtype=np.float64)
        m /= np.linalg.norm(m[:3])
        if m[2] < 0:
            m = -m
        if m[2] >= np.cos(np.deg2rad(25.0)):
            plane = m
            break
        pc = pc.select_by_index(inliers, invert=True)  # a wall won: drop it and retry
        if len(pc.points) < 3:
            break
    if plane is None:
        raise ValueError("no near-horizontal ground plane found")
    return GroundModel(np.zeros(2), 1.0, None, plane)


def patchwork_available() -> bool:
    """Whether the ``pypatchworkpp`` library (Patchwork++) can be imported."""
    try:
        import pypatchworkpp  # noqa: F401
    except ImportError:
        return False
    return True


def estimate_ground_patchwork(
    xyz: NDArray[np.floating],
    sensor_xyz: NDArray[np.floating],
    cell: float = 1.0,
    range_m: float = 100.0,
) -> GroundModel:
    """Height-map ground from Patchwork++'s ground returns (see the module docstring).

    Parameters
    ----------
    xyz : (N, 3) points, ego frame, metres
    sensor_xyz : (3,) the LiDAR's position in the ego frame: Patchwork++ works around the sensor,
        its ``sensor_height`` is the sensor's height above the ground (estimated here from the
        returns near the sensor)
    cell : height-map cell size, metres; range_m : grid half-extent and Patchwork's max range

    Raises
    ------
    ImportError : pypatchworkpp is not installed (use :func:`estimate_ground_grid`)
    """
    import pypatchworkpp

    xyz = np.asarray(xyz, dtype=np.float64)
    s = np.asarray(sensor_xyz, dtype=np.float64).reshape(3)
    local = xyz - s
    # the sensor's height above the road: the low returns within 3-15 m around it
    r = np.hypot(local[:, 0], local[:, 1])
    near = local[(r > 3.0) & (r < 15.0), 2]
    height = float(-np.percentile(near, 5)) if len(near) > 50 else float(s[2])
    params = pypatchworkpp.Parameters()
    params.sensor_height = height if np.isfinite(height) and height > 0.2 else 1.7
    params.max_range = float(range_m) * 1.5
    params.verbose = False
    pw = pypatchworkpp.patchworkpp(params)
    pw.estimateGround(np.c_[local, np.zeros(len(local))])
    ground = np.asarray(pw.getGround(), dtype=np.float64)[:, :3] + s
    lo = np.array([-range_m, -range_m])
    origin = np.floor(lo / cell) * cell
    n = int(np.ceil(2 * range_m / cell)) + 1
    z = np.full((n, n), np.nan, dtype=np.float64)
    if len(ground):
        ij = np.floor((ground[:, :2] - origin) / cell).astype(np.int64)
        ok = (ij >= 0).all(axis=1) & (ij < n).all(axis=1)
        flat = ij[ok, 0] * n + ij[ok, 1]
        order = np.lexsort((ground[ok, 2], flat))
        f, zz = flat[order], ground[ok, 2][order]
        starts = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
        ends = np.r_[starts[1:], len(f)]
        med = zz[(starts + ends - 1) // 2]  # the median return of each cell
        z.reshape(-1)[f[starts]] = med
    filled = np.isfinite(z)
    if not filled.any():  # no ground seen at all: fall back to the height map of every point
        return estimate_ground_grid(xyz, cell, range_m=range_m)
    # empty cells take their nearest filled cell
    idx = ndimage.distance_transform_edt(~filled, return_distances=False, return_indices=True)
    z = z[idx[0], idx[1]]
    return GroundModel(origin, float(cell), z.astype(np.float32))
