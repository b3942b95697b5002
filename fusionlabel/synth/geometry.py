"""Triangle meshes of the synthetic world and ray casting through them (open3d, Embree).

Every object is a union of boxes (cars: wheels, body and glasshouse; pedestrians: legs, torso,
arms and head; ...), each part strictly inside the object's labelled cuboid, so a LiDAR return
on an object lies inside its ground-truth box up to the range noise. A :class:`Snapshot` is the
world at one instant: the ground quad (geometry 0), all static structures (geometry 1) and one
geometry per actor, with a material and an RGB colour per triangle. The ground's material
(asphalt, lane markings, zebra crossings, sidewalk, gravel) is a function of the hit position.

All coordinates are in the road frame (see :mod:`fusionlabel.synth.world`), metres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.synth.world import (
    CROSSWALK_HALF_W,
    LEFT_KERB_Y,
    LEFT_SIDEWALK,
    RIGHT_KERB_Y,
    RIGHT_SIDEWALK,
    SIDE_STREET_HALF_W,
    Actor,
    EgoMotion,
    Scenario,
    Structure,
)

# -- materials: LiDAR reflectivity (0..1), radar RCS offset (dBsm), default colour (RGB 0..1) --
MATERIALS = (
    "asphalt",
    "marking",
    "sidewalk",
    "gravel",
    "building",
    "glass",
    "paint",
    "tyre",
    "metal",
    "cloth",
    "cloth_dark",
    "skin",
    "foliage",
    "wood",
    "concrete",
)
(
    ASPHALT,
    MARKING,
    SIDEWALK,
    GRAVEL,
    BUILDING,
    GLASS,
    PAINT,
    TYRE,
    METAL,
    CLOTH,
    CLOTH_DARK,
    SKIN,
    FOLIAGE,
    WOOD,
    CONCRETE,
) = range(len(MATERIALS))
REFLECTIVITY = np.array([0.08, 0.6, 0.25, 0.18, 0.3, 0.05, 0.35, 0.04, 0.5, 0.15, 0.1, 0.2, 0.3, 0.2, 0.3])
MATERIAL_RGB = np.array(
    [
        (0.32, 0.32, 0.34),
        (0.92, 0.92, 0.88),
        (0.62, 0.6, 0.57),
        (0.45, 0.42, 0.35),
        (0.7, 0.6, 0.5),
        (0.12, 0.15, 0.2),
        (0.6, 0.6, 0.6),
        (0.05, 0.05, 0.05),
        (0.45, 0.47, 0.5),
        (0.6, 0.3, 0.3),
        (0.15, 0.15, 0.2),
        (0.85, 0.65, 0.5),
        (0.25, 0.5, 0.2),
        (0.4, 0.28, 0.18),
        (0.6, 0.6, 0.6),
    ]
)

GROUND_ID, STATIC_ID = 0, 1


def rotate(R: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    """``v @ R.T`` for (N, 3) vectors, column by column (much faster than a BLAS call for N >> 3)."""
    return v[:, 0:1] * R[:, 0] + v[:, 1:2] * R[:, 1] + v[:, 2:3] * R[:, 2]


def dot3(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row-wise dot product of (N, 3) arrays (``b`` may be a (3,) vector)."""
    b2 = np.broadcast_to(b, a.shape)
    return a[:, 0] * b2[:, 0] + a[:, 1] * b2[:, 1] + a[:, 2] * b2[:, 2]


# the 12 triangles of a box over its corners i = ix + 2 iy + 4 iz (ix, iy, iz in {0: -, 1: +});
# faces -x, +x, -y, +y, -z, +z, two triangles each: the top face is triangles 10 and 11
_BOX_TRIS = np.array(
    [
        [0, 4, 6],
        [0, 6, 2],
        [1, 3, 7],
        [1, 7, 5],
        [0, 1, 5],
        [0, 5, 4],
        [2, 6, 7],
        [2, 7, 3],
        [0, 2, 3],
        [0, 3, 1],
        [4, 5, 7],
        [4, 7, 6],
    ],
    dtype=np.int64,
)
_BOX_SIGNS = np.array(
    [[(i & 1) * 2 - 1, ((i >> 1) & 1) * 2 - 1, ((i >> 2) & 1) * 2 - 1] for i in range(8)], dtype=np.float64
)


@dataclass(frozen=True)
class Mesh:
    """Triangles with per-triangle material and colour.

    vertices : (V, 3) float32, road frame; triangles : (F, 3) uint32;
    material : (F,) int16 index into :data:`MATERIALS`; rgb : (F, 3) float32 in [0, 1]
    """

    vertices: NDArray[np.float32]
    triangles: NDArray[np.uint32]
    material: NDArray[np.int16]
    rgb: NDArray[np.float32]


def boxes_mesh(
    centers: NDArray[np.float64],
    sizes: NDArray[np.float64],
    yaws: NDArray[np.float64],
    side_mat: NDArray[np.int64],
    top_mat: NDArray[np.int64],
    rgb_side: NDArray[np.float64],
    rgb_top: NDArray[np.float64],
) -> Mesh:
    """Mesh of P boxes (gravity ``centers`` (P, 3), ``sizes`` (P, 3) l w h, ``yaws`` (P,))."""
    P = len(centers)
    local = _BOX_SIGNS[None, :, :] * (sizes[:, None, :] / 2.0)  # (P, 8, 3)
    c, s = np.cos(yaws)[:, None], np.sin(yaws)[:, None]
    x = local[..., 0] * c - local[..., 1] * s + centers[:, None, 0]
    y = local[..., 0] * s + local[..., 1] * c + centers[:, None, 1]
    z = local[..., 2] + centers[:, None, 2]
    verts = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    tris = (_BOX_TRIS[None, :, :] + 8 * np.arange(P)[:, None, None]).reshape(-1, 3)
    mat = np.repeat(np.asarray(side_mat)[:, None], 12, axis=1)
    mat[:, 10:12] = np.asarray(top_mat)[:, None]
    rgb = np.repeat(np.asarray(rgb_side, dtype=np.float64)[:, None, :], 12, axis=1)
    rgb[:, 10:12] = np.asarray(rgb_top, dtype=np.float64)[:, None, :]
    return Mesh(
        verts.astype(np.float32),
        tris.astype(np.uint32),
        mat.reshape(-1).astype(np.int16),
        rgb.reshape(-1, 3).astype(np.float32),
    )


def _merge(meshes: Sequence[Mesh]) -> Mesh:
    offs = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    return Mesh(
        np.vstack([m.vertices for m in meshes]),
        np.vstack([m.triangles + np.uint32(o) for m, o in zip(meshes, offs)]).astype(np.uint32),
        np.concatenate([m.material for m in meshes]),
        np.vstack([m.rgb for m in meshes]),
    )


# -- object models --------------------------------------------------------------------------------
def actor_parts(actor: Actor, t: float) -> list[tuple[float, float, float, float, float, float, int, int]]:
    """Boxes ``(cx, cy, z0, l, w, h, side_material, top_material)`` in the actor frame.

    The actor frame has its origin on the ground under the box centre, x forward; every part
    lies inside ``|x| <= l/2, |y| <= w/2, 0 <= z <= h``.
    """
    l, w, h = actor.size
    cat = actor.category
    if cat == "Car":
        wx, wy, r = l / 2 - 0.78, w / 2 - 0.12, 0.32
        parts = [(sx * wx, sy * wy, 0.0, 2 * r, 0.22, 2 * r, TYRE, TYRE) for sx in (-1, 1) for sy in (-1, 1)]
        hb = 0.6 * h
        parts.append((0.0, 0.0, 0.28, l, w, hb - 0.28, PAINT, PAINT))
        parts.append((-0.06 * l, 0.0, hb, 0.5 * l, 0.86 * w, h - hb, GLASS, PAINT))
        return parts
    if cat == "Truck":
        cab = 2.1
        parts = [
            (sx * (l / 2 - 0.9), sy * (w / 2 - 0.15), 0.0, 1.0, 0.28, 1.0, TYRE, TYRE)
            for sx in (-1, 1)
            for sy in (-1, 1)
        ]
        parts.append((-cab / 2, 0.0, 0.3, l - cab, 0.96 * w, 0.65, METAL, METAL))
        parts.append((-cab / 2, 0.0, 0.95, l - cab, w, h - 0.95, PAINT, PAINT))
        parts.append((l / 2 - cab / 2, 0.0, 0.4, cab, w, 0.5 * h - 0.4, PAINT, PAINT))
        parts.append((l / 2 - cab / 2, 0.0, 0.5 * h, cab, w, 0.28 * h, GLASS, PAINT))
        return parts
    if cat == "Van":
        # one-box van: wheels, a body from 0.3 m to the roof, a short bonnet and a windscreen
        # stepped back from it (the slope), glass between the bonnet and the roof
        wx, wy, r = l / 2 - 0.75, w / 2 - 0.12, 0.34
        parts = [(sx * wx, sy * wy, 0.0, 2 * r, 0.24, 2 * r, TYRE, TYRE) for sx in (-1, 1) for sy in (-1, 1)]
        hb, nose = 0.5 * h, 0.75  # bonnet height, bonnet length (m)
        parts.append((0.0, 0.0, 0.3, l, w, hb - 0.3, PAINT, PAINT))
        parts.append((-nose / 2, 0.0, hb, l - nose, w, h - hb, PAINT, PAINT))
        parts.append((l / 2 - nose + 0.25, 0.0, hb, 0.5, 0.94 * w, 0.9 * (h - hb), GLASS, GLASS))
        return parts
    if cat == "Bus":
        # a long box from 0.35 m to the roof: a painted skirt, a band of windows along the sides
        # in the upper half (ending in the windscreen; a painted rear end), a painted roof strip;
        # 4 or 6 wheels
        r, rear = 0.5, 0.4
        axles = [l / 2 - 2.6, -l / 2 + 3.0] + ([-l / 2 + 1.7] if l > 11.5 else [])
        parts = [(ax, sy * (w / 2 - 0.15), 0.0, 2 * r, 0.3, 2 * r, TYRE, TYRE) for ax in axles for sy in (-1, 1)]
        z_w0, z_w1 = 0.5 * h, 0.88 * h
        parts.append((0.0, 0.0, 0.35, l, w, z_w0 - 0.35, PAINT, PAINT))
        parts.append((rear / 2, 0.0, z_w0, l - rear, w, z_w1 - z_w0, GLASS, GLASS))
        parts.append(((rear - l) / 2, 0.0, z_w0, rear, w, z_w1 - z_w0, PAINT, PAINT))
        parts.append((0.0, 0.0, z_w1, l, w, h - z_w1, PAINT, PAINT))
        return parts
    if cat == "Pedestrian":
        v = actor.motion.speed
        swing = math.sin(2 * math.pi * (0.7 * v + 0.4) * (t + actor.phase)) * min(1.0, v / 1.2) if v > 0 else 0.0
        leg_x = (l / 2 - 0.08) * swing
        arm_x = (l / 2 - 0.06) * swing
        lw = 0.16
        parts = [
            (leg_x, 0.17 * w, 0.0, lw, lw, 0.47 * h, CLOTH_DARK, CLOTH_DARK),
            (-leg_x, -0.17 * w, 0.0, lw, lw, 0.47 * h, CLOTH_DARK, CLOTH_DARK),
            (0.0, 0.0, 0.47 * h, min(0.28, l), 0.62 * w, 0.33 * h, CLOTH, CLOTH),
            (-arm_x, w / 2 - 0.05, 0.5 * h, 0.12, 0.1, 0.3 * h, CLOTH, CLOTH),
            (arm_x, -(w / 2 - 0.05), 0.5 * h, 0.12, 0.1, 0.3 * h, CLOTH, CLOTH),
            (0.0, 0.0, 0.86 * h, 0.22, 0.18, 0.14 * h, SKIN, CLOTH_DARK),
        ]
        return parts
    if cat == "Cyclist":
        r = 0.33
        parts = [(sx * (l / 2 - r), 0.0, 0.0, 2 * r, 0.05, 2 * r, TYRE, TYRE) for sx in (-1, 1)]
        parts.append((0.0, 0.0, 0.5, l - 4 * r + 0.3, 0.06, 0.12, METAL, METAL))
        parts.append((l / 2 - r - 0.05, 0.0, 0.95, 0.06, w, 0.05, METAL, METAL))
        parts += [(-0.05, sy * 0.12, 0.4, 0.28, 0.13, 0.55, CLOTH_DARK, CLOTH_DARK) for sy in (-1, 1)]
        parts.append((0.05, 0.0, 0.95, 0.42, 0.38, h - 0.27 - 0.95, CLOTH, CLOTH))
        parts.append((0.1, 0.0, h - 0.25, 0.22, 0.18, 0.25, SKIN, CLOTH_DARK))
        return parts
    raise ValueError(f"no model for category {cat!r}")


def actor_mesh(actor: Actor, t: float) -> Mesh:
    """The actor's mesh at time ``t``, road frame (cached for parked vehicles, which never move)."""
    if actor.motion.speed == 0.0 and not actor.motion.turns:
        return _still_mesh(actor)
    return _actor_mesh(actor, t)


@lru_cache(maxsize=4096)
def _still_mesh(actor: Actor) -> Mesh:
    return _actor_mesh(actor, 0.0)


def _actor_mesh(actor: Actor, t: float) -> Mesh:
    st = actor.state(t)
    parts = actor_parts(actor, t)
    p = np.array([q[:6] for q in parts], dtype=np.float64)
    side = np.array([q[6] for q in parts], dtype=np.int64)
    top = np.array([q[7] for q in parts], dtype=np.int64)
    c, s = math.cos(st.yaw), math.sin(st.yaw)
    centers = np.stack(
        [st.x + c * p[:, 0] - s * p[:, 1], st.y + s * p[:, 0] + c * p[:, 1], p[:, 2] + p[:, 5] / 2], axis=1
    )
    own = np.asarray(actor.colour, dtype=np.float64)

    def colours(m: NDArray[np.int64]) -> NDArray[np.float64]:
        rgb = MATERIAL_RGB[m].copy()
        rgb[(m == PAINT) | (m == CLOTH)] = own
        return rgb

    return boxes_mesh(centers, p[:, 3:6], np.full(len(p), st.yaw), side, top, colours(side), colours(top))


_STRUCTURE_MATS = {
    "building": (BUILDING, CONCRETE),
    "pole": (METAL, METAL),
    "trunk": (WOOD, WOOD),
    "crown": (FOLIAGE, FOLIAGE),
    "shelter": (CONCRETE, CONCRETE),
    "wall": (CONCRETE, CONCRETE),
}


def static_mesh(structures: Sequence[Structure]) -> Mesh:
    """All static structures as one mesh (road frame)."""
    mats = np.array([_STRUCTURE_MATS[s.kind] for s in structures], dtype=np.int64).reshape(-1, 2)
    col = np.array([s.colour for s in structures], dtype=np.float64).reshape(-1, 3)
    top_col = np.where((mats[:, 1] == CONCRETE)[:, None], MATERIAL_RGB[CONCRETE] * 0.8, col)
    return boxes_mesh(
        np.array([s.center for s in structures], dtype=np.float64).reshape(-1, 3),
        np.array([s.size for s in structures], dtype=np.float64).reshape(-1, 3),
        np.array([s.yaw for s in structures], dtype=np.float64),
        mats[:, 0],
        mats[:, 1],
        col,
        top_col,
    )


def ground_surface(
    x: NDArray[np.float64], y: NDArray[np.float64], scenario: Scenario
) -> tuple[NDArray[np.int16], NDArray[np.float32]]:
    """Material (N,) and colour (N, 3) of the ground at road-frame points (x, y)."""
    n = len(x)
    in_side = np.zeros(n, dtype=bool)
    for s in scenario.side_street_x:
        in_side |= np.abs(x - s) < SIDE_STREET_HALF_W
    road = ((y >= RIGHT_KERB_Y) & (y <= LEFT_KERB_Y)) | in_side
    walk = ~road & (((y >= RIGHT_SIDEWALK[0]) & (y < RIGHT_KERB_Y)) | ((y > LEFT_KERB_Y) & (y <= LEFT_SIDEWALK[1])))
    mat = np.full(n, GRAVEL, dtype=np.int16)
    mat[road] = ASPHALT
    mat[walk] = SIDEWALK
    lines = (
        (
            ((np.abs(y - 1.75) < 0.075) & (np.mod(x, 9.0) < 3.0))
            | (np.abs(y - 5.1) < 0.07)
            | (np.abs(y - 5.4) < 0.07)
            | (np.abs(y + 1.75) < 0.075)
            | (np.abs(y - 8.75) < 0.075)
        )
        & ~in_side
        & road
    )
    zebra = np.zeros(n, dtype=bool)
    for c in scenario.crosswalk_x:
        zebra |= (np.abs(x - c) < CROSSWALK_HALF_W) & (np.mod(y, 1.0) < 0.5)
    mat[(lines | zebra) & road] = MARKING
    rgb = MATERIAL_RGB[mat].astype(np.float32)
    return mat, rgb


# -- snapshots and ray casting --------------------------------------------------------------------
@dataclass
class Snapshot:
    """The world at one instant, ready for ray casting.

    scene : open3d ``RaycastingScene``
    geom_actor : (G,) int64, for each geometry id the index into ``actors`` (-1 ground, -2 static)
    tri_offset : (G,) int64, first triangle of each geometry in ``material`` / ``rgb``
    material, rgb : per triangle over all geometries (ground entries unused: procedural)
    actor_geom : (A,) int64, geometry id of each actor
    """

    scene: Any
    geom_actor: NDArray[np.int64]
    tri_offset: NDArray[np.int64]
    material: NDArray[np.int16]
    rgb: NDArray[np.float32]
    actor_geom: NDArray[np.int64]


def build_snapshot(
    actors: Sequence[Actor],
    t: float,
    static: Mesh | None = None,
    ground_half: float | None = 400.0,
    center_x: float = 0.0,
) -> Snapshot:
    """Build the ray-casting scene of ``actors`` at time ``t`` plus the static mesh and ground."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    geom_actor: list[int] = []
    meshes: list[Mesh] = []

    def add(m: Mesh, who: int) -> int:
        gid = int(scene.add_triangles(o3d.core.Tensor.from_numpy(m.vertices), o3d.core.Tensor.from_numpy(m.triangles)))
        assert gid == len(geom_actor)
        geom_actor.append(who)
        meshes.append(m)
        return gid

    empty = Mesh(
        np.zeros((3, 3), np.float32),
        np.array([[0, 1, 2]], np.uint32),
        np.zeros(1, np.int16),
        np.zeros((1, 3), np.float32),
    )
    if ground_half is not None:
        g = ground_half
        v = np.array(
            [[center_x - g, -g, 0], [center_x + g, -g, 0], [center_x + g, g, 0], [center_x - g, g, 0]], np.float32
        )
        add(
            Mesh(v, np.array([[0, 1, 2], [0, 2, 3]], np.uint32), np.zeros(2, np.int16), np.zeros((2, 3), np.float32)),
            -1,
        )
    else:
        add(empty, -1)  # keep geometry ids stable: 0 = ground, 1 = static
    add(static if static is not None and len(static.triangles) else empty, -2)
    actor_geom = np.array([add(actor_mesh(a, t), i) for i, a in enumerate(actors)], dtype=np.int64)
    counts = [len(m.triangles) for m in meshes]
    return Snapshot(
        scene,
        np.array(geom_actor, dtype=np.int64),
        np.cumsum([0] + counts[:-1]).astype(np.int64),
        np.concatenate([m.material for m in meshes]),
        np.vstack([m.rgb for m in meshes]),
        actor_geom,
    )


@dataclass(frozen=True)
class Hits:
    """First hits of N rays.

    t : (N,) float64 distance along the unit direction (inf: no hit); geom : (N,) int64 geometry
    id (-1: none); prim : (N,) int64 triangle within the geometry; normal : (N, 3) float64 unit
    normal facing the ray origin; actor : (N,) int64 actor index (-1 ground, -2 static, -3 none)
    """

    t: NDArray[np.float64]
    geom: NDArray[np.int64]
    prim: NDArray[np.int64]
    normal: NDArray[np.float64]
    actor: NDArray[np.int64]


def cast(snap: Snapshot, origins: NDArray[np.float64], dirs: NDArray[np.float64]) -> Hits:
    """Cast rays (origins (N, 3) or (3,), unit directions (N, 3)) and return the first hits."""
    import open3d as o3d

    o = np.broadcast_to(np.asarray(origins, dtype=np.float64), dirs.shape)
    rays = np.hstack([o, dirs]).astype(np.float32)
    r = snap.scene.cast_rays(o3d.core.Tensor.from_numpy(rays))
    t = r["t_hit"].numpy().astype(np.float64)
    geom = r["geometry_ids"].numpy().astype(np.int64)
    hit = np.isfinite(t)
    geom = np.where(hit, geom, -1)
    n = r["primitive_normals"].numpy().astype(np.float64)
    n = n * np.where(dot3(n, dirs) > 0, -1.0, 1.0)[:, None]
    actor = np.where(hit, snap.geom_actor[np.clip(geom, 0, None)], -3)
    prim = np.where(hit, r["primitive_ids"].numpy().astype(np.int64), -1)
    return Hits(t, geom, prim, n, actor)


def surface(
    snap: Snapshot, hits: Hits, points: NDArray[np.float64], scenario: Scenario
) -> tuple[NDArray[np.int16], NDArray[np.float32]]:
    """Material (N,) and colour (N, 3) at the hit points (undefined where nothing was hit)."""
    ok = hits.geom >= 0
    idx = np.where(ok, snap.tri_offset[np.clip(hits.geom, 0, None)] + np.clip(hits.prim, 0, None), 0)
    mat = snap.material[idx].copy()
    rgb = snap.rgb[idx].copy()
    g = hits.geom == GROUND_ID
    if np.any(g):
        mat[g], rgb[g] = ground_surface(points[g, 0], points[g, 1], scenario)
    return mat, rgb


def box_sample_points(box: NDArray[np.float64], n: tuple[int, int, int] = (5, 4, 5)) -> NDArray[np.float64]:
    """(n_l n_w n_h, 3) points on a grid inside a road-frame box ``[x, y, z, l, w, h, yaw]``."""
    u = np.linspace(-0.4, 0.4, n[0])
    v = np.linspace(-0.4, 0.4, n[1])
    w = np.linspace(-0.4, 0.4, n[2])
    g = np.stack(np.meshgrid(u, v, w, indexing="ij"), axis=-1).reshape(-1, 3) * box[3:6]
    c, s = math.cos(box[6]), math.sin(box[6])
    return np.stack([box[0] + c * g[:, 0] - s * g[:, 1], box[1] + s * g[:, 0] + c * g[:, 1], box[2] + g[:, 2]], axis=1)


def visibility(
    snap: Snapshot, actors: Sequence[int], boxes: NDArray[np.float64], origin: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Fraction of each actor's silhouette seen from ``origin`` (0 = fully occluded).

    Rays go from ``origin`` to a grid of points inside each box. Of the rays that intersect the
    actor's own mesh at all, the visible fraction is those whose *first* hit is that mesh:
    ``visibility = #(first hit is the actor) / #(ray meets the actor)``; 0 when no ray meets it.
    """
    import open3d as o3d

    if len(actors) == 0:
        return np.zeros(0)
    pts = [box_sample_points(b) for b in boxes]
    owner = np.concatenate([np.full(len(p), i) for i, p in enumerate(pts)])
    P = np.vstack(pts)
    d = P - origin[None, :]
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    rays = np.hstack([np.broadcast_to(origin, d.shape), d]).astype(np.float32)
    r = snap.scene.list_intersections(o3d.core.Tensor.from_numpy(rays))
    rid = r["ray_ids"].numpy().astype(np.int64)
    gid = r["geometry_ids"].numpy().astype(np.int64)
    th = r["t_hit"].numpy().astype(np.float64)
    target = snap.actor_geom[np.asarray(actors, dtype=np.int64)][owner]  # (R,) geometry per ray
    meets = np.zeros(len(P), dtype=bool)
    meets[rid[gid == target[rid]]] = True
    order = np.lexsort((gid, th, rid))  # by ray, then distance (ties: lowest id)
    rid_s = rid[order]
    first = np.ones(len(rid_s), dtype=bool)
    first[1:] = rid_s[1:] != rid_s[:-1]
    first_geom = np.full(len(P), -1, dtype=np.int64)
    first_geom[rid_s[first]] = gid[order][first]
    seen = meets & (first_geom == target)
    n_meet = np.bincount(owner, weights=meets, minlength=len(actors))
    n_seen = np.bincount(owner, weights=seen, minlength=len(actors))
    return np.where(n_meet > 0, n_seen / np.maximum(n_meet, 1), 0.0)


def visibility_in(
    actors: Sequence[Actor],
    target: int,
    ego: EgoMotion,
    times: NDArray[np.float64],
    lidar_mount: tuple[float, float, float],
) -> NDArray[np.float64]:
    """Visibility of ``actors[target]`` from the LiDAR at each time, with only ``actors`` in the scene."""
    out = np.empty(len(times))
    for k, t in enumerate(times):
        snap = build_snapshot(actors, float(t), None, None)
        origin = ego.T_road_ego(float(t)).apply(np.array([lidar_mount]))[0]
        out[k] = visibility(snap, [target], actors[target].box(float(t))[None, :], origin)[0]
    return out
