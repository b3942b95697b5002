"""The synthetic world's values: the road frame, the street's layout, motion models and objects.

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
forward speed (8-12 m/s): :class:`EgoMotion`.

This module holds values only (no sampling of a scene: :mod:`fusionlabel.synth.scenario` does
that) and imports no other module of :mod:`fusionlabel.synth`.

Example
-------
>>> m = Motion(t_anchor=0.0, x=0.0, y=0.0, yaw=0.0, speed=2.0)
>>> m.state(1.5).x, m.state(1.5).vx
(3.0, 2.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple

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

#: label categories of the agents (Van and Bus only with ``make_scenario(..., vehicle_classes=True)``)
CATEGORIES = ("Car", "Pedestrian", "Cyclist", "Truck", "Van", "Bus")


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
    """Pose ``(x, y, yaw)`` after ``dt`` s at speed ``v`` (m/s) and yaw rate ``w`` (rad/s): the CTRV step above."""
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
        """The yaw rate (rad/s) at time ``t`` (s): that of the turn containing ``t``, else 0."""
        for a, b, w in self.turns:
            if a <= t < b:
                return w
        return 0.0

    def state(self, t: float) -> State:
        """The state at time ``t`` (s), integrated from the anchor across the turn boundaries."""
        x, y, yaw = self.x, self.y, self.yaw
        if self.speed > 0.0 or self.turns:
            edges = sorted(
                {e for a, b, _ in self.turns for e in (a, b) if min(t, self.t_anchor) < e < max(t, self.t_anchor)}
            )
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
        """The ego frame origin's state at time ``t`` (s)."""
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
        """The ego frame in the road frame at time ``t`` (s)."""
        st = self.state(t)
        return Transform.from_yaw(st.yaw, (st.x, st.y, 0.0))


@dataclass(frozen=True)
class Actor:
    """A labelled object: a moving agent or a parked vehicle.

    track_id : persistent id (>= 1) used in the labels
    category : ``Car``, ``Pedestrian``, ``Cyclist``, ``Truck``, ``Van`` or ``Bus``
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
        """Whether this is a parked vehicle (it never moves)."""
        return self.role == "parked"

    def state(self, t: float) -> State:
        """The state at time ``t`` (s)."""
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
    (0.85, 0.85, 0.87),
    (0.1, 0.1, 0.12),
    (0.55, 0.57, 0.6),
    (0.6, 0.08, 0.08),
    (0.1, 0.2, 0.5),
    (0.75, 0.75, 0.78),
    (0.2, 0.35, 0.25),
    (0.9, 0.75, 0.2),
    (0.35, 0.2, 0.12),
    (0.25, 0.45, 0.7),
)
CLOTH_COLOURS = (
    (0.8, 0.2, 0.2),
    (0.2, 0.4, 0.8),
    (0.9, 0.8, 0.2),
    (0.2, 0.6, 0.3),
    (0.9, 0.5, 0.1),
    (0.6, 0.2, 0.6),
    (0.95, 0.95, 0.95),
    (0.15, 0.15, 0.15),
    (0.3, 0.7, 0.8),
    (0.9, 0.4, 0.6),
)
#: bus liveries: white, city yellow, red, blue, green, silver
BUS_COLOURS = (
    (0.92, 0.92, 0.9),
    (0.95, 0.75, 0.1),
    (0.75, 0.12, 0.1),
    (0.15, 0.3, 0.65),
    (0.2, 0.55, 0.3),
    (0.7, 0.72, 0.75),
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
    if category == "Van":
        return float(rng.uniform(4.6, 5.6)), float(rng.uniform(1.85, 2.05)), float(rng.uniform(1.9, 2.5))
    if category == "Bus":
        return float(rng.uniform(10.5, 12.5)), float(rng.uniform(2.45, 2.6)), float(rng.uniform(3.0, 3.4))
    if category == "Pedestrian":
        return (
            float(rng.uniform(0.5, 0.8)),
            float(rng.uniform(0.55, 0.75)),
            float(np.clip(rng.normal(1.72, 0.1), 1.45, 1.95)),
        )
    if category == "Cyclist":
        return float(rng.uniform(1.65, 1.85)), float(rng.uniform(0.55, 0.7)), float(rng.uniform(1.6, 1.9))
    raise ValueError(f"unknown category {category!r}")
