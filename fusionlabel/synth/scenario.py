"""Random but reproducible street scenarios: layout, static structures, ego path and agents.

Everything here is expressed in the **road frame**: x along the street (the ego drives towards
+x), y to the left, z up, metres; the ground is the plane z = 0. The world frame of the written
recording is the road frame moved by a per-seed rigid transform ``T_world_road`` (a random yaw
and offset), so nothing downstream may assume the world axes follow the street.

Street cross-section (y, metres)::

    14.5 ..  buildings (left)          facades with gaps, a side street at ``side_street_x``
    10.25 .. 14.25  sidewalk (left)    poles, trees
     8.75 .. 10.25  bike lane (left)   oncoming cyclists
     5.25 ..  8.75  oncoming lane      centre line (double) at 5.25
     1.75 ..  5.25  left lane          overtaking traffic, dashed line at 1.75
    -1.75 ..  1.75  ego lane           the ego, lead and following cars
    -3.25 .. -1.75  bike lane (right)  cyclists along the kerb
    -5.75 .. -3.25  parking strip      parked cars and trucks (occluders)
    -9.75 .. -5.75  sidewalk (right)   pedestrians, poles, shelters
   -10.0 ..  buildings (right)

Motion model
------------
Agents move at constant speed with a piecewise-constant yaw rate (CTRV): straight stretches and
turns (lane changes, turns at the side street, pedestrians turning to cross). A :class:`Motion`
is anchored at a time ``t_anchor`` and integrated analytically forwards or backwards::

    omega = 0:   x += v cos(yaw) dt,                        y += v sin(yaw) dt
    omega != 0:  x += v/omega (sin(yaw + omega dt) - sin yaw), y += v/omega (cos yaw - cos(yaw + omega dt))
                 yaw += omega dt

The ego follows the ego lane with a gentle lateral sway ``y = A sin(k x + phi)`` at constant
forward speed (8-12 m/s).

Scenarios are sampled by role, so that every seed contains overtaking, oncoming, leading,
crossing and parked traffic, pedestrians on both sidewalks and crossing the street, cyclists
along both kerbs, and at least one pedestrian walking behind a parked truck that hides them
completely for part of the recording (the pair is re-drawn until the truck alone occludes the
pedestrian at some LiDAR frame and leaves them visible at another). Agents never overlap each
other, the ego, or a structure (rejection sampling on their footprints every 0.1 s).

Example
-------
>>> sc = make_scenario(seed=3, frame_times_s=np.arange(20) / 10.0)       # doctest: +SKIP
>>> len([a for a in sc.actors if not a.parked]) >= 12                      # doctest: +SKIP
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.transforms import Transform

# -- street layout (road frame, metres) ------------------------------------------------------------
LANE_W = 3.5
EGO_LANE_Y = 0.0
LEFT_LANE_Y = 3.5
ONCOMING_LANE_Y = 7.0
RIGHT_BIKE_Y = -2.5
PARKING_Y = -4.5
RIGHT_KERB_Y = -5.75
RIGHT_SIDEWALK = (-9.75, -5.75)
RIGHT_FACADE_Y = -10.0
LEFT_BIKE_Y = 9.5
LEFT_KERB_Y = 10.25
LEFT_SIDEWALK = (10.25, 14.25)
LEFT_FACADE_Y = 14.5
SIDE_STREET_HALF_W = 5.0
CROSSWALK_HALF_W = 2.0

#: the ego vehicle's footprint in the ego frame (origin: rear axle centre on the ground)
EGO_BOX = (1.4, 0.0, 4.8, 1.95)  # centre x, centre y, length, width

#: label categories of the agents
CATEGORIES = ("Car", "Pedestrian", "Cyclist", "Truck")


class State(NamedTuple):
    """Kinematic state in the road frame at one time.

    x, y : position of the box's ground-plane centre, metres
    yaw : heading, radians, 0 = +x
    vx, vy : velocity of that point, m/s
    yaw_rate : rad/s
    """

    x: float
    y: float
    yaw: float
    vx: float
    vy: float
    yaw_rate: float


def _ctrv(x: float, y: float, yaw: float, v: float, w: float, dt: float) -> tuple[float, float, float]:
    if abs(w) < 1e-12:
        return x + v * math.cos(yaw) * dt, y + v * math.sin(yaw) * dt, yaw
    y2 = yaw + w * dt
    return x + v / w * (math.sin(y2) - math.sin(yaw)), y + v / w * (math.cos(yaw) - math.cos(y2)), y2


@dataclass(frozen=True)
class Motion:
    """Constant speed, piecewise-constant yaw rate, anchored at ``t_anchor``.

    Attributes
    ----------
    t_anchor : s, the time at which the pose below holds
    x, y, yaw : road-frame pose at ``t_anchor`` (metres, radians)
    speed : m/s, >= 0
    turns : ``(t_start, t_end, yaw_rate)`` triples in absolute seconds, non-overlapping; the yaw
        rate is 0 outside them
    """

    t_anchor: float
    x: float
    y: float
    yaw: float
    speed: float = 0.0
    turns: tuple[tuple[float, float, float], ...] = ()

    def yaw_rate_at(self, t: float) -> float:
        for a, b, w in self.turns:
            if a <= t < b:
                return w
        return 0.0

    def state(self, t: float) -> State:
        """The state at time ``t`` (s), integrated from the anchor across the turn boundaries."""
        x, y, yaw = self.x, self.y, self.yaw
        if self.speed > 0.0 or self.turns:
            edges = sorted({e for a, b, _ in self.turns for e in (a, b) if min(t, self.t_anchor) < e < max(t, self.t_anchor)})
            pts = [self.t_anchor, *(edges if t >= self.t_anchor else edges[::-1]), t]
            for t0, t1 in pairwise(pts):
                w = self.yaw_rate_at(0.5 * (t0 + t1))
                x, y, yaw = _ctrv(x, y, yaw, self.speed, w, t1 - t0)
        w = self.yaw_rate_at(t)
        return State(x, y, yaw, self.speed * math.cos(yaw), self.speed * math.sin(yaw), w)


@dataclass(frozen=True)
class EgoMotion:
    """The ego: ``x = x0 + v t``, ``y = A sin(k x + phi)``, heading along the path tangent.

    The state refers to the ego frame origin (rear axle centre on the ground).
    """

    x0: float
    speed: float
    amplitude: float
    wavenumber: float
    phase: float

    def state(self, t: float) -> State:
        x = self.x0 + self.speed * t
        a, k = self.amplitude, self.wavenumber
        s, c = math.sin(k * x + self.phase), math.cos(k * x + self.phase)
        y = a * s
        slope = a * k * c  # dy/dx
        yaw = math.atan(slope)
        # d(yaw)/dt = d(atan(slope))/dx * dx/dt = (-a k^2 s) / (1 + slope^2) * v
        yaw_rate = -a * k * k * s / (1.0 + slope * slope) * self.speed
        return State(x, y, yaw, self.speed, slope * self.speed, yaw_rate)

    def T_road_ego(self, t: float) -> Transform:
        st = self.state(t)
        return Transform.from_yaw(st.yaw, (st.x, st.y, 0.0))


@dataclass(frozen=True)
class Actor:
    """A labelled object: a moving agent or a parked vehicle.

    track_id : persistent id (>= 1) used in the labels
    category : ``Car``, ``Pedestrian``, ``Cyclist`` or ``Truck``
    size : (l, w, h) metres, the tight box around the object's geometry
    motion : its trajectory (speed 0 for parked vehicles)
    role : how it was placed (``overtaking``, ``oncoming``, ``behind_truck``, ``parked`` ...)
    colour : RGB in [0, 1] of its paint or clothing (camera rendering)
    phase : s, gait phase offset (pedestrian legs)
    """

    track_id: int
    category: str
    size: tuple[float, float, float]
    motion: Motion
    role: str
    colour: tuple[float, float, float]
    phase: float = 0.0

    @property
    def parked(self) -> bool:
        return self.role == "parked"

    def state(self, t: float) -> State:
        return self.motion.state(t)

    def box(self, t: float) -> NDArray[np.float64]:
        """(7,) road-frame box ``[x, y, z, l, w, h, yaw]`` at ``t``, gravity centre on z = h / 2."""
        s = self.state(t)
        l, w, h = self.size
        return np.array([s.x, s.y, h / 2.0, l, w, h, s.yaw])


@dataclass(frozen=True)
class Structure:
    """A static, unlabelled box: building, pole, tree trunk or crown, shelter, wall.

    center : (3,) road frame, metres (gravity centre); size : (l, w, h); yaw : radians
    """

    kind: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float = 0.0
    colour: tuple[float, float, float] = (0.6, 0.6, 0.6)


@dataclass(frozen=True)
class Scenario:
    """A complete synthetic street scene.

    seed : the seed it was drawn from
    ego : the ego trajectory
    actors : labelled agents and parked vehicles (track ids 1..N)
    structures : static unlabelled boxes
    side_street_x : road-frame x of the side streets' centres
    crosswalk_x : road-frame x of the zebra crossings' centres
    extent_x : (x_min, x_max) of the built street
    T_world_road : the road frame in the recording's world frame
    sun : (3,) unit vector towards the sun, road frame (camera shading)
    """

    seed: int
    ego: EgoMotion
    actors: tuple[Actor, ...]
    structures: tuple[Structure, ...]
    side_street_x: tuple[float, ...]
    crosswalk_x: tuple[float, ...]
    extent_x: tuple[float, float]
    T_world_road: Transform = field(default_factory=Transform.identity)
    sun: tuple[float, float, float] = (0.5, 0.3, 0.81)

    @property
    def agents(self) -> tuple[Actor, ...]:
        """The moving agents (parked vehicles excluded)."""
        return tuple(a for a in self.actors if not a.parked)


# -- sizes and colours ----------------------------------------------------------------------------
CAR_COLOURS = (
    (0.85, 0.85, 0.87), (0.1, 0.1, 0.12), (0.55, 0.57, 0.6), (0.6, 0.08, 0.08), (0.1, 0.2, 0.5),
    (0.75, 0.75, 0.78), (0.2, 0.35, 0.25), (0.9, 0.75, 0.2), (0.35, 0.2, 0.12), (0.25, 0.45, 0.7),
)
CLOTH_COLOURS = (
    (0.8, 0.2, 0.2), (0.2, 0.4, 0.8), (0.9, 0.8, 0.2), (0.2, 0.6, 0.3), (0.9, 0.5, 0.1),
    (0.6, 0.2, 0.6), (0.95, 0.95, 0.95), (0.15, 0.15, 0.15), (0.3, 0.7, 0.8), (0.9, 0.4, 0.6),
)
BUILDING_COLOURS = ((0.72, 0.62, 0.5), (0.65, 0.4, 0.32), (0.8, 0.78, 0.72), (0.55, 0.55, 0.58), (0.85, 0.8, 0.62))


def sample_size(category: str, rng: np.random.Generator) -> tuple[float, float, float]:
    """A realistic (l, w, h) in metres for ``category``."""
    if category == "Car":
        return (
            float(np.clip(rng.normal(4.55, 0.35), 3.7, 5.4)),
            float(np.clip(rng.normal(1.84, 0.08), 1.65, 2.05)),
            float(np.clip(rng.normal(1.55, 0.12), 1.35, 1.95)),
        )
    if category == "Truck":
        return float(rng.uniform(6.5, 8.5)), float(rng.uniform(2.3, 2.5)), float(rng.uniform(2.9, 3.5))
    if category == "Pedestrian":
        return (
            float(rng.uniform(0.5, 0.8)),
            float(rng.uniform(0.55, 0.75)),
            float(np.clip(rng.normal(1.72, 0.1), 1.45, 1.95)),
        )
    if category == "Cyclist":
        return float(rng.uniform(1.65, 1.85)), float(rng.uniform(0.55, 0.7)), float(rng.uniform(1.6, 1.9))
    raise ValueError(f"unknown category {category!r}")


# -- footprints for collision checks --------------------------------------------------------------
def _rect(cx: NDArray[np.float64], cy: NDArray[np.float64], l: float, w: float, yaw: NDArray[np.float64]):
    import shapely

    c, s = np.cos(yaw), np.sin(yaw)
    hl, hw = l / 2.0, w / 2.0
    loc = np.array([[hl, hw], [-hl, hw], [-hl, -hw], [hl, -hw]])
    xs = cx[:, None] + loc[None, :, 0] * c[:, None] - loc[None, :, 1] * s[:, None]
    ys = cy[:, None] + loc[None, :, 0] * s[:, None] + loc[None, :, 1] * c[:, None]
    return shapely.polygons(np.stack([xs, ys], axis=-1))


class _Placer:
    """Keeps the footprints over time of everything placed so far and rejects overlaps."""

    def __init__(self, times: NDArray[np.float64], ego: EgoMotion, margin: float = 0.4) -> None:
        import shapely

        self.times = times
        self.margin = margin
        self.static: list[object] = []
        self.tracks: list[NDArray[np.object_]] = []
        ego_states = [ego.state(float(t)) for t in times]
        cx0, _, l, w = EGO_BOX
        yaw = np.array([s.yaw for s in ego_states])
        cx = np.array([s.x + cx0 * math.cos(s.yaw) for s in ego_states])
        cy = np.array([s.y + cx0 * math.sin(s.yaw) for s in ego_states])
        self.tracks.append(_rect(cx, cy, l + 1.0, w + 0.4, yaw))  # keep clear of the ego
        self._shapely = shapely
        self._tree: Any = None

    def footprints(self, actor: Actor) -> NDArray[np.object_]:
        st = [actor.state(float(t)) for t in self.times]
        l, w, _ = actor.size
        return _rect(
            np.array([s.x for s in st]), np.array([s.y for s in st]), l + self.margin, w + self.margin,
            np.array([s.yaw for s in st]),
        )

    def add_structure(self, s: Structure) -> None:
        poly = _rect(np.array([s.center[0]]), np.array([s.center[1]]), s.size[0], s.size[1], np.array([s.yaw]))[0]
        self.static.append(poly)
        self._tree = None

    def free(self, actor: Actor, avoid_structures: bool = True) -> bool:
        shapely = self._shapely
        fp = self.footprints(actor)
        for other in self.tracks:
            if np.any(shapely.intersects(fp, other)):
                return False
        if avoid_structures and self.static:
            if self._tree is None:
                self._tree = shapely.STRtree(self.static)
            hits = self._tree.query(fp if not actor.parked else fp[:1], predicate="intersects")
            if hits.size:
                return False
        return True

    def add(self, actor: Actor) -> None:
        self.tracks.append(self.footprints(actor))


# -- the generator --------------------------------------------------------------------------------
def make_scenario(
    seed: int,
    frame_times_s: Sequence[float] | NDArray[np.float64],
    lidar_mount: tuple[float, float, float] = (1.3, 0.0, 1.84),
    min_agents: int = 12,
) -> Scenario:
    """Draw a scenario for LiDAR frames at ``frame_times_s`` (seconds from the recording start).

    Parameters
    ----------
    seed : any int; the same seed and frame times give the same scenario
    frame_times_s : (M,) the reference (LiDAR) times, used to place agents where the sensors
        see them and to design the occlusion by a parked truck
    lidar_mount : LiDAR position in the ego frame (metres), for the occlusion design
    min_agents : lower bound on the number of moving agents
    """
    times = np.asarray(frame_times_s, dtype=np.float64)
    if times.size == 0:
        raise ValueError("a scenario needs at least one frame time")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5C3]))
    T = float(times[-1] - times[0])
    t_lo, t_hi = float(times[0]), float(times[-1])
    ego = EgoMotion(
        x0=0.0,
        speed=float(rng.uniform(8.0, 12.0)),
        amplitude=float(rng.uniform(0.1, 0.45)),
        wavenumber=float(2 * np.pi / rng.uniform(80.0, 160.0)),
        phase=float(rng.uniform(0, 2 * np.pi)),
    )
    ex = lambda t: ego.state(t).x
    x_min, x_max = ex(t_lo) - 90.0, ex(t_hi) + 130.0
    dist = ex(t_hi) - ex(t_lo)
    n_blocks = max(1, math.ceil(dist / 60.0))
    windows = [(t_lo + T * b / n_blocks, t_lo + T * (b + 1) / n_blocks) for b in range(n_blocks)]

    # side streets and crosswalks ahead of the ego in each block
    side = tuple(float(ex(w1) + rng.uniform(25.0, 45.0)) for _, w1 in windows)
    cross = tuple(float(ex(w1) + rng.uniform(10.0, 22.0)) for _, w1 in windows)
    cross = tuple(c for c in cross if all(abs(c - s) > SIDE_STREET_HALF_W + CROSSWALK_HALF_W + 1 for s in side))

    def in_side_street(x0: float, x1: float, pad: float = 0.0) -> bool:
        return any(x1 > s - SIDE_STREET_HALF_W - pad and x0 < s + SIDE_STREET_HALF_W + pad for s in side)

    structures: list[Structure] = []
    # buildings on both sides, with gaps, none across a side street
    for facade, sign in ((RIGHT_FACADE_Y, -1.0), (LEFT_FACADE_Y, 1.0)):
        x = x_min
        while x < x_max:
            length = float(rng.uniform(10.0, 30.0))
            x0, x1 = x, x + length
            if in_side_street(x0, x1, 1.0):
                s = min(side, key=lambda s: abs(s - 0.5 * (x0 + x1)))
                x = s + SIDE_STREET_HALF_W + 1.0
                continue
            depth, height = float(rng.uniform(8.0, 14.0)), float(rng.uniform(5.0, 18.0))
            setback = float(rng.uniform(0.0, 1.0))
            cy = facade + sign * (setback + depth / 2.0)
            colour = BUILDING_COLOURS[int(rng.integers(len(BUILDING_COLOURS)))]
            structures.append(Structure("building", (0.5 * (x0 + x1), cy, height / 2.0), (length, depth, height), 0.0, colour))
            x = x1 + (0.0 if rng.random() < 0.5 else float(rng.uniform(2.0, 6.0)))
    # street lights on both sidewalks
    for y_pole in (RIGHT_KERB_Y - 0.5, LEFT_KERB_Y + 0.5):
        x = x_min + float(rng.uniform(0, 20))
        while x < x_max:
            if not in_side_street(x - 0.2, x + 0.2, 0.5):
                h = float(rng.uniform(5.0, 8.0))
                structures.append(Structure("pole", (x, y_pole, h / 2.0), (0.2, 0.2, h), 0.0, (0.45, 0.47, 0.5)))
            x += float(rng.uniform(18.0, 32.0))
    # trees on the left sidewalk
    x = x_min + float(rng.uniform(0, 10))
    while x < x_max:
        if not in_side_street(x - 2, x + 2, 0.5) and rng.random() < 0.7:
            trunk_h, crown = float(rng.uniform(2.4, 3.0)), float(rng.uniform(2.5, 4.0))
            structures.append(Structure("trunk", (x, 12.6, trunk_h / 2), (0.35, 0.35, trunk_h), 0.0, (0.4, 0.28, 0.18)))
            structures.append(
                Structure("crown", (x, 12.6, trunk_h + crown / 2), (crown, crown, crown), float(rng.uniform(0, 1.5)), (0.25, 0.5, 0.2))
            )
        x += float(rng.uniform(10.0, 22.0))
    # a bus shelter or kiosk per block on the right sidewalk (occluder for pedestrians)
    for w0, w1 in windows:
        xs = ex(0.5 * (w0 + w1)) + float(rng.uniform(-10.0, 40.0))
        if not in_side_street(xs - 3, xs + 3, 1.0):
            L = float(rng.uniform(3.0, 5.0))
            structures.append(Structure("shelter", (xs, -8.9, 1.3), (L, 1.4, 2.6), 0.0, (0.55, 0.6, 0.62)))

    frame_grid = np.arange(t_lo - 0.5, t_hi + 0.5 + 1e-9, 0.1)
    placer = _Placer(frame_grid, ego)
    for struct in structures:
        if struct.kind in ("building", "pole", "trunk", "shelter"):
            placer.add_structure(struct)

    actors: list[Actor] = []  # track ids assigned at the end

    def put(cat: str, role: str, motion: Motion, size: tuple[float, float, float], avoid: bool = True) -> Actor | None:
        colours = CAR_COLOURS if cat in ("Car", "Truck") else CLOTH_COLOURS
        colour = colours[int(rng.integers(len(colours)))]
        if cat == "Truck":
            colour = (0.9, 0.9, 0.88) if rng.random() < 0.6 else colour
        a = Actor(0, cat, size, motion, role, colour, float(rng.uniform(0, 2)))
        if not placer.free(a, avoid_structures=avoid):
            return None
        placer.add(a)
        actors.append(a)
        return a

    # 1. the designed occlusion: a pedestrian walking behind a parked truck
    for w0, w1 in windows:
        block_times = times[(times >= w0 - 1e-9) & (times <= w1 + 1e-9)]
        for _ in range(40):
            t_a = float(rng.uniform(w0, w1)) if w1 > w0 else w0
            truck_size = sample_size("Truck", rng)
            x_tr = ex(t_a) + float(rng.uniform(-2.0, 14.0))
            truck = Actor(0, "Truck", truck_size, Motion(t_a, x_tr, PARKING_Y + float(rng.normal(0, 0.1)), float(rng.normal(0, 0.02))), "parked", (0.9, 0.9, 0.88))
            ped_size = sample_size("Pedestrian", rng)
            heading = 0.0 if rng.random() < 0.5 else math.pi
            ped = Actor(
                0, "Pedestrian", ped_size,
                Motion(t_a, x_tr + float(rng.uniform(-0.4, 0.4)) * truck_size[0], float(rng.uniform(-8.6, -7.0)), heading, float(rng.uniform(0.8, 1.5))),
                "behind_truck", CLOTH_COLOURS[int(rng.integers(len(CLOTH_COLOURS)))], float(rng.uniform(0, 2)),
            )
            if in_side_street(x_tr - 6, x_tr + 6) or not (placer.free(truck) and placer.free(ped)):
                continue
            if len(block_times) >= 2:
                from fusionlabel.synth.geometry import visibility_in

                vis = visibility_in([truck, ped], 1, ego, block_times, lidar_mount)
                if not (vis.min() == 0.0 and vis.max() > 0.3):
                    continue
            placer.add(truck)
            placer.add(ped)
            actors.extend([truck, ped])
            break

    # 2. parked vehicles along the right kerb
    x = x_min + float(rng.uniform(0, 5))
    while x < x_max:
        cat = "Truck" if rng.random() < 0.2 else "Car"
        size = sample_size(cat, rng)
        cx = x + size[0] / 2
        if not in_side_street(cx - size[0] / 2, cx + size[0] / 2, 1.0) and not any(abs(cx - c) < CROSSWALK_HALF_W + size[0] / 2 + 1 for c in cross):
            put(cat, "parked", Motion(0.0, cx, PARKING_Y + float(rng.normal(0, 0.12)), float(rng.normal(0, 0.03))), size)
        x += size[0] + (float(rng.uniform(0.8, 3.0)) if rng.random() < 0.7 else float(rng.uniform(6.0, 20.0)))

    # 3. moving agents by role
    v_e = ego.speed

    def sample_role(cat: str, role: str, w0: float, w1: float) -> Actor | None:
        t_a = float(rng.uniform(w0, w1)) if w1 > w0 else w0
        size = sample_size(cat, rng)
        xa = ex(t_a)
        s_near = min(side, key=lambda s: abs(s - xa))
        if role == "overtaking":
            v = v_e + float(rng.uniform(2.5, 6.0))
            x0 = xa + float(rng.uniform(-3.0, 3.0))
            turns: tuple[tuple[float, float, float], ...] = ()
            if rng.random() < 0.5:  # cut into the ego lane once well ahead
                t_lc = t_a + float(rng.uniform(12.0, 20.0)) / (v - v_e)
                tau = float(rng.uniform(1.2, 1.8))
                w = -(LEFT_LANE_Y - EGO_LANE_Y) / (v * tau * tau)
                turns = ((t_lc, t_lc + tau, w), (t_lc + tau, t_lc + 2 * tau, -w))
            m = Motion(t_a, x0, LEFT_LANE_Y + float(rng.normal(0, 0.15)), 0.0, v, turns)
        elif role == "oncoming":
            m = Motion(t_a, xa + float(rng.uniform(-8.0, 8.0)), ONCOMING_LANE_Y + float(rng.normal(0, 0.2)), math.pi, float(rng.uniform(8.0, 14.0)))
        elif role == "leading":
            m = Motion(t_lo, ex(t_lo) + float(rng.uniform(12.0, 40.0)), EGO_LANE_Y + float(rng.normal(0, 0.15)), 0.0, v_e + float(rng.uniform(-1.5, 1.5)))
        elif role == "following":
            m = Motion(t_lo, ex(t_lo) - float(rng.uniform(10.0, 25.0)), EGO_LANE_Y + float(rng.normal(0, 0.15)), 0.0, v_e + float(rng.uniform(-1.0, 1.0)))
        elif role == "turning":  # from the right side street, left turn into the oncoming lane
            v, R = float(rng.uniform(4.0, 7.0)), float(rng.uniform(5.5, 7.0))
            w = v / R
            y_s = ONCOMING_LANE_Y - R
            m = Motion(t_a, s_near + 2.5, y_s, math.pi / 2, v, ((t_a, t_a + (math.pi / 2) / w, w),))
        elif role == "crossing_side":  # straight across along the side street
            heading = math.pi / 2 if rng.random() < 0.5 else -math.pi / 2
            lane_x = s_near + (2.5 if heading > 0 else -2.5)
            m = Motion(t_a, lane_x, float(rng.uniform(-25.0, 30.0)), heading, float(rng.uniform(5.0, 10.0)))
        elif role == "sidewalk":
            y = float(rng.uniform(-9.3, -6.6)) if rng.random() < 0.5 else float(rng.uniform(11.0, 13.9))
            heading = 0.0 if rng.random() < 0.5 else math.pi
            m = Motion(t_a, xa + float(rng.uniform(-25.0, 45.0)), y, heading, float(rng.uniform(0.8, 1.7)))
        elif role == "crossing":
            heading = math.pi / 2 if rng.random() < 0.5 else -math.pi / 2
            if cross and rng.random() < 0.7:
                xc = min(cross, key=lambda c: abs(c - xa)) + float(rng.uniform(-1.5, 1.5))
            else:
                xc = ex(t_hi) + float(rng.uniform(10.0, 45.0))
            turns = ()
            t_turn = t_a - float(rng.uniform(0.0, 3.0))
            if rng.random() < 0.4:  # came along the sidewalk and turned onto the street
                w = float(rng.choice([-1.0, 1.0])) * float(rng.uniform(1.0, 1.6))
                turns = ((t_turn - (math.pi / 2) / abs(w), t_turn, w),)
            m = Motion(t_a, xc, float(rng.uniform(-6.0, 10.0)), heading, float(rng.uniform(1.0, 1.8)), turns)
        elif role == "kerb":
            v = float(rng.uniform(3.5, 7.0))
            turns = ()
            if rng.random() < 0.5:  # a small swerve
                ts, tau = t_a + float(rng.uniform(-1.0, 1.0)), float(rng.uniform(0.8, 1.5))
                w = float(rng.choice([-1.0, 1.0])) * 0.4 / (v * tau * tau)
                turns = ((ts, ts + tau, w), (ts + tau, ts + 2 * tau, -w))
            m = Motion(t_a, xa + float(rng.uniform(-5.0, 25.0)), RIGHT_BIKE_Y + float(rng.normal(0, 0.12)), 0.0, v, turns)
        elif role == "oncoming_kerb":
            m = Motion(t_a, xa + float(rng.uniform(-10.0, 40.0)), LEFT_BIKE_Y + float(rng.normal(0, 0.12)), math.pi, float(rng.uniform(3.5, 7.0)))
        elif role == "crossing_bike":
            heading = math.pi / 2 if rng.random() < 0.5 else -math.pi / 2
            m = Motion(t_a, s_near + (1.5 if heading > 0 else -1.5), float(rng.uniform(-20.0, 25.0)), heading, float(rng.uniform(3.5, 6.0)))
        else:  # pragma: no cover - programming error
            raise ValueError(role)
        return put(cat, role, m, size)

    car_roles = ("overtaking", "oncoming", "leading", "following", "turning", "crossing_side")
    car_w = np.array([3, 3, 2, 1, 1.5, 1.0])
    ped_roles, ped_w = ("sidewalk", "crossing"), np.array([2.0, 1.0])
    cyc_roles, cyc_w = ("kerb", "oncoming_kerb", "crossing_bike"), np.array([2.0, 1.0, 0.6])

    def fill(cat: str, mandatory: Sequence[str], roles: Sequence[str], weights: NDArray[np.float64], n: int, w0: float, w1: float) -> int:
        made = 0
        wanted = list(mandatory) + [str(rng.choice(roles, p=weights / weights.sum())) for _ in range(max(0, n - len(mandatory)))]
        for role in wanted:
            for _ in range(12):
                if sample_role(cat, role, w0, w1) is not None:
                    made += 1
                    break
        return made

    for w0, w1 in windows:
        fill("Car", ("overtaking", "oncoming"), car_roles, car_w, int(rng.integers(5, 8)), w0, w1)
        fill("Pedestrian", ("crossing", "sidewalk"), ped_roles, ped_w, int(rng.integers(4, 8)), w0, w1)
        fill("Cyclist", ("kerb", "oncoming_kerb"), cyc_roles, cyc_w, int(rng.integers(2, 4)), w0, w1)
    top_up: tuple[tuple[str, Sequence[str], NDArray[np.float64]], ...] = (
        ("Pedestrian", ped_roles, ped_w), ("Car", car_roles, car_w), ("Cyclist", cyc_roles, cyc_w)
    )
    for k in range(60):
        if sum(not a.parked for a in actors) >= min_agents:
            break
        cat, roles, weights = top_up[k % 3]
        w0, w1 = windows[k % len(windows)]
        fill(cat, (), roles, weights, 1, w0, w1)

    # stable ids: parked vehicles first by x, then agents in creation order
    parked = sorted((a for a in actors if a.parked), key=lambda a: a.motion.x)
    moving = [a for a in actors if not a.parked]
    final = tuple(
        Actor(i + 1, a.category, a.size, a.motion, a.role, a.colour, a.phase) for i, a in enumerate(moving + parked)
    )
    psi = float(rng.uniform(-np.pi, np.pi))
    T_world_road = Transform.from_yaw(psi, (float(rng.uniform(-500, 500)), float(rng.uniform(-500, 500)), 0.0))
    az, el = float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0.5, 1.1))
    sun = (math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el))
    return Scenario(int(seed), ego, final, tuple(structures), side, cross, (x_min, x_max), T_world_road, sun)

