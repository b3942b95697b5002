"""Random but reproducible street scenarios: the ego path, the street and the agents by role.

:func:`make_scenario` draws, from one seeded generator and in this order (the order of the
random draws is part of a seed's output: the same seed gives byte-identical recordings):

1. the ego's path (:class:`~fusionlabel.synth.world.EgoMotion`);
2. the street: side streets, crosswalks and static structures (:mod:`fusionlabel.synth.street`);
3. per time window, the designed occlusion: a pedestrian walking behind a parked truck that
   hides them completely for part of the recording (the pair is re-drawn until the truck alone
   occludes the pedestrian at some LiDAR frame and leaves them visible at another);
4. parked cars and trucks along the right kerb;
5. per time window, moving agents by role, so that every seed contains overtaking, oncoming,
   leading, crossing and turning traffic, pedestrians on both sidewalks and crossing the street,
   and cyclists along both kerbs; then more agents until there are ``min_agents``;
6. the road frame's pose in the world frame and the sun.

``vehicle_classes=True`` (opt-in; off, a seed draws exactly what it drew before the option
existed) adds vans and buses and moving trucks: each moving vehicle of the car roles becomes a
Van (15 %), Truck (7 %) or Bus (5 %), else a Car (one extra draw per try; a long Truck or Bus in
the tight ``turning`` role becomes a Car), and the parked vehicles are Car 62 %, Van 18 %,
Truck 13 %, Bus 7 % instead of Car 80 %, Truck 20 %. The designed truck/pedestrian occlusion
pair is unchanged.

Agents never overlap each other, the ego, or a structure (rejection sampling on their footprints
every 0.1 s: :class:`~fusionlabel.synth.placement.Placer`). All coordinates are in the road frame
(:mod:`fusionlabel.synth.world`).

Example
-------
>>> sc = make_scenario(seed=3, frame_times_s=np.arange(20) / 10.0)       # doctest: +SKIP
>>> len([a for a in sc.actors if not a.parked]) >= 12                      # doctest: +SKIP
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.transforms import Transform
from fusionlabel.synth.geometry import visibility_in
from fusionlabel.synth.placement import Placer
from fusionlabel.synth.street import StreetLayout, draw_layout, draw_structures
from fusionlabel.synth.world import (
    BUS_COLOURS,
    CAR_COLOURS,
    CLOTH_COLOURS,
    CROSSWALK_HALF_W,
    EGO_LANE_Y,
    LEFT_BIKE_Y,
    LEFT_LANE_Y,
    ONCOMING_LANE_Y,
    PARKING_Y,
    RIGHT_BIKE_Y,
    Actor,
    EgoMotion,
    Motion,
    Scenario,
    sample_size,
)

#: structures that agents must keep clear of (a tree's crown hangs over the sidewalk)
_SOLID_KINDS = ("building", "pole", "trunk", "shelter")


@dataclass(frozen=True)
class _RoleMix:
    """The moving agents of one category: the roles they are drawn from and how many per window.

    mandatory : roles placed in every time window
    roles, weights : the other agents' roles are drawn with these relative weights
    count : ``[low, high)`` of the number of agents per window, mandatory ones included
    """

    category: str
    mandatory: tuple[str, ...]
    roles: tuple[str, ...]
    weights: tuple[float, ...]
    count: tuple[int, int]


_CARS = _RoleMix(
    "Car",
    ("overtaking", "oncoming"),
    ("overtaking", "oncoming", "leading", "following", "turning", "crossing_side"),
    (3, 3, 2, 1, 1.5, 1.0),
    (5, 8),
)
_PEDESTRIANS = _RoleMix("Pedestrian", ("crossing", "sidewalk"), ("sidewalk", "crossing"), (2.0, 1.0), (4, 8))
_CYCLISTS = _RoleMix(
    "Cyclist", ("kerb", "oncoming_kerb"), ("kerb", "oncoming_kerb", "crossing_bike"), (2.0, 1.0, 0.6), (2, 4)
)
#: the categories drawn in each window, in order
_PER_WINDOW = (_CARS, _PEDESTRIANS, _CYCLISTS)
#: the categories that top up the agents to ``min_agents``, in turn
_TOP_UP = (_PEDESTRIANS, _CARS, _CYCLISTS)

#: with ``vehicle_classes``: the class of a moving vehicle of the car roles and of a parked one,
#: ``(category, probability)`` drawn with one uniform number against the cumulative sums
_MOVING_VEHICLES = (("Van", 0.15), ("Truck", 0.07), ("Bus", 0.05), ("Car", 0.73))
_PARKED_VEHICLES = (("Car", 0.62), ("Van", 0.18), ("Truck", 0.13), ("Bus", 0.07))
#: vehicle categories whose paint comes from CAR_COLOURS (trucks: mostly white)
_PAINTED = ("Car", "Truck", "Van")
#: roles a long vehicle cannot drive (a 5.5-7 m turn radius): Truck or Bus there becomes a Car
_SHORT_VEHICLE_ROLES = ("turning",)
_LONG_VEHICLES = ("Truck", "Bus")


def _pick(mix: tuple[tuple[str, float], ...], u: float) -> str:
    """The category of ``mix`` whose cumulative probability interval holds ``u`` in [0, 1)."""
    acc = 0.0
    for cat, p in mix:
        acc += p
        if u < acc:
            return cat
    return mix[-1][0]


def make_scenario(
    seed: int,
    frame_times_s: Sequence[float] | NDArray[np.float64],
    lidar_mount: tuple[float, float, float] = (1.3, 0.0, 1.84),
    min_agents: int = 12,
    *,
    vehicle_classes: bool = False,
) -> Scenario:
    """Draw a scenario for LiDAR frames at ``frame_times_s`` (seconds from the recording start).

    Parameters
    ----------
    seed : any int; the same seed and frame times give the same scenario
    frame_times_s : (M,) the reference (LiDAR) times, used to place agents where the sensors
        see them and to design the occlusion by a parked truck
    lidar_mount : LiDAR position in the ego frame (metres), for the occlusion design
    min_agents : lower bound on the number of moving agents
    vehicle_classes : also draw vans, buses and moving trucks (see the module docstring); off,
        the scenario is exactly that of earlier versions (no extra random draw)
    """
    times = np.asarray(frame_times_s, dtype=np.float64)
    if times.size == 0:
        raise ValueError("a scenario needs at least one frame time")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5C3]))
    builder = _ScenarioBuilder(rng, times, _draw_ego(rng), lidar_mount, vehicle_classes)
    for w0, w1 in builder.layout.windows:
        builder.add_occlusion_pair(w0, w1)
    builder.add_parked_vehicles()
    builder.add_moving_agents(min_agents)
    return builder.finish(int(seed))


def _draw_ego(rng: np.random.Generator) -> EgoMotion:
    """The ego's path: 8-12 m/s, a sway of 0.1-0.45 m with a wavelength of 80-160 m."""
    return EgoMotion(
        x0=0.0,
        speed=float(rng.uniform(8.0, 12.0)),
        amplitude=float(rng.uniform(0.1, 0.45)),
        wavenumber=float(2 * np.pi / rng.uniform(80.0, 160.0)),
        phase=float(rng.uniform(0, 2 * np.pi)),
    )


class _ScenarioBuilder:
    """The state of one :func:`make_scenario` call: the generator, the street and the actors so far.

    Made with the ego's path, it draws the street at once; each ``add_*`` step then draws and
    places actors (their track ids are assigned by :meth:`finish`).
    """

    def __init__(
        self,
        rng: np.random.Generator,
        times: NDArray[np.float64],
        ego: EgoMotion,
        lidar_mount: tuple[float, float, float],
        vehicle_classes: bool = False,
    ) -> None:
        self.rng = rng
        self.vehicle_classes = vehicle_classes
        self.times = times
        self.t_lo, self.t_hi = float(times[0]), float(times[-1])
        self.ego = ego
        self.lidar_mount = lidar_mount
        self.layout: StreetLayout = draw_layout(rng, ego, self.t_lo, self.t_hi)
        self.structures = draw_structures(rng, self.layout, ego)
        self.placer = Placer(np.arange(self.t_lo - 0.5, self.t_hi + 0.5 + 1e-9, 0.1), ego)
        for struct in self.structures:
            if struct.kind in _SOLID_KINDS:
                self.placer.add_structure(struct)
        self.actors: list[Actor] = []

    def ego_x(self, t: float) -> float:
        """The ego's road-frame x (m) at time ``t`` (s)."""
        return self.ego.state(t).x

    def _anchor_time(self, w0: float, w1: float) -> float:
        """A time drawn in the window ``[w0, w1]`` (s)."""
        return float(self.rng.uniform(w0, w1)) if w1 > w0 else w0

    def _put(self, cat: str, role: str, motion: Motion, size: tuple[float, float, float]) -> Actor | None:
        """Draw a colour and gait phase, and keep the actor if its footprints are free."""
        rng = self.rng
        colours = CAR_COLOURS if cat in _PAINTED else BUS_COLOURS if cat == "Bus" else CLOTH_COLOURS
        colour = colours[int(rng.integers(len(colours)))]
        if cat == "Truck":
            colour = (0.9, 0.9, 0.88) if rng.random() < 0.6 else colour
        a = Actor(0, cat, size, motion, role, colour, float(rng.uniform(0, 2)))
        if not self.placer.free(a):
            return None
        self.placer.add(a)
        self.actors.append(a)
        return a

    # -- 1. the designed occlusion ----------------------------------------------------------------
    def add_occlusion_pair(self, w0: float, w1: float) -> None:
        """A pedestrian walking behind a parked truck in the window ``[w0, w1]`` (up to 40 tries).

        A pair is kept when both are free and, with two or more LiDAR frames in the window, the
        truck hides the pedestrian completely at one of them and leaves > 30 % visible at another.
        """
        times = self.times
        block_times = times[(times >= w0 - 1e-9) & (times <= w1 + 1e-9)]
        for _ in range(40):
            truck, ped = self._draw_truck_and_pedestrian(self._anchor_time(w0, w1))
            x_tr = truck.motion.x
            if self.layout.in_side_street(x_tr - 6, x_tr + 6):
                continue
            if not (self.placer.free(truck) and self.placer.free(ped)):
                continue
            if len(block_times) >= 2:
                vis = visibility_in([truck, ped], 1, self.ego, block_times, self.lidar_mount)
                if not (vis.min() == 0.0 and vis.max() > 0.3):
                    continue
            self.placer.add(truck)
            self.placer.add(ped)
            self.actors.extend([truck, ped])
            return

    def _draw_truck_and_pedestrian(self, t_a: float) -> tuple[Actor, Actor]:
        """A parked truck near the ego's position at ``t_a`` and a pedestrian on the sidewalk behind it."""
        rng = self.rng
        truck_size = sample_size("Truck", rng)
        x_tr = self.ego_x(t_a) + float(rng.uniform(-2.0, 14.0))
        y_tr = PARKING_Y + float(rng.normal(0, 0.1))
        yaw_tr = float(rng.normal(0, 0.02))
        truck = Actor(0, "Truck", truck_size, Motion(t_a, x_tr, y_tr, yaw_tr), "parked", (0.9, 0.9, 0.88))
        ped_size = sample_size("Pedestrian", rng)
        heading = 0.0 if rng.random() < 0.5 else math.pi
        x_ped = x_tr + float(rng.uniform(-0.4, 0.4)) * truck_size[0]
        y_ped = float(rng.uniform(-8.6, -7.0))
        walk = Motion(t_a, x_ped, y_ped, heading, float(rng.uniform(0.8, 1.5)))
        colour = CLOTH_COLOURS[int(rng.integers(len(CLOTH_COLOURS)))]
        ped = Actor(0, "Pedestrian", ped_size, walk, "behind_truck", colour, float(rng.uniform(0, 2)))
        return truck, ped

    # -- 2. parked vehicles -----------------------------------------------------------------------
    def add_parked_vehicles(self) -> None:
        """Cars and trucks (20 %) along the right kerb, bumper to bumper or with gaps, none in a
        side street or on a crosswalk (with ``vehicle_classes``: cars, vans, trucks and buses)."""
        rng = self.rng
        x_min, x_max = self.layout.extent_x
        cross = self.layout.crosswalk_x
        x = x_min + float(rng.uniform(0, 5))
        while x < x_max:
            if self.vehicle_classes:
                cat = _pick(_PARKED_VEHICLES, float(rng.random()))
            else:
                cat = "Truck" if rng.random() < 0.2 else "Car"
            size = sample_size(cat, rng)
            cx = x + size[0] / 2
            on_crosswalk = any(abs(cx - c) < CROSSWALK_HALF_W + size[0] / 2 + 1 for c in cross)
            if not self.layout.in_side_street(cx - size[0] / 2, cx + size[0] / 2, 1.0) and not on_crosswalk:
                y = PARKING_Y + float(rng.normal(0, 0.12))
                self._put(cat, "parked", Motion(0.0, cx, y, float(rng.normal(0, 0.03))), size)
            x += size[0] + (float(rng.uniform(0.8, 3.0)) if rng.random() < 0.7 else float(rng.uniform(6.0, 20.0)))

    # -- 3. moving agents by role -----------------------------------------------------------------
    def add_moving_agents(self, min_agents: int) -> None:
        """Each window's cars, pedestrians and cyclists, then more in turn until ``min_agents`` move."""
        for w0, w1 in self.layout.windows:
            for mix in _PER_WINDOW:
                self._fill(mix, mix.mandatory, int(self.rng.integers(*mix.count)), w0, w1)
        windows = self.layout.windows
        for k in range(60):
            if sum(not a.parked for a in self.actors) >= min_agents:
                break
            w0, w1 = windows[k % len(windows)]
            self._fill(_TOP_UP[k % 3], (), 1, w0, w1)

    def _fill(self, mix: _RoleMix, mandatory: Sequence[str], n: int, w0: float, w1: float) -> int:
        """Place ``n`` agents of ``mix`` in the window (the mandatory roles, the rest drawn; 12
        tries each); returns how many were placed."""
        rng = self.rng
        weights = np.asarray(mix.weights, dtype=np.float64)
        made = 0
        wanted = list(mandatory) + [
            str(rng.choice(mix.roles, p=weights / weights.sum())) for _ in range(max(0, n - len(mandatory)))
        ]
        for role in wanted:
            for _ in range(12):
                if self._add_agent(mix.category, role, w0, w1) is not None:
                    made += 1
                    break
        return made

    def _add_agent(self, cat: str, role: str, w0: float, w1: float) -> Actor | None:
        """Draw one agent of ``role`` anchored in the window; it is kept if its footprints are free.

        With ``vehicle_classes`` a ``Car`` first becomes a Van, Truck or Bus by :data:`_MOVING_VEHICLES`
        (a long one in a role it cannot drive stays a Car)."""
        if cat == "Car" and self.vehicle_classes:
            cat = _pick(_MOVING_VEHICLES, float(self.rng.random()))
            if cat in _LONG_VEHICLES and role in _SHORT_VEHICLE_ROLES:
                cat = "Car"
        t_a = self._anchor_time(w0, w1)
        size = sample_size(cat, self.rng)
        motions: dict[str, Callable[[float], Motion]] = {
            "overtaking": self._overtaking,
            "oncoming": self._oncoming,
            "leading": self._leading,
            "following": self._following,
            "turning": self._turning,
            "crossing_side": self._crossing_side,
            "sidewalk": self._sidewalk,
            "crossing": self._crossing,
            "kerb": self._kerb,
            "oncoming_kerb": self._oncoming_kerb,
            "crossing_bike": self._crossing_bike,
        }
        if role not in motions:  # pragma: no cover - programming error
            raise ValueError(role)
        return self._put(cat, role, motions[role](t_a), size)

    # the motion of each role, anchored at t_a (s); cars:
    def _overtaking(self, t_a: float) -> Motion:
        """Faster in the left lane; half of them cut into the ego lane once well ahead."""
        rng, v_e = self.rng, self.ego.speed
        v = v_e + float(rng.uniform(2.5, 6.0))
        x0 = self.ego_x(t_a) + float(rng.uniform(-3.0, 3.0))
        turns: tuple[tuple[float, float, float], ...] = ()
        if rng.random() < 0.5:  # cut into the ego lane once well ahead
            t_lc = t_a + float(rng.uniform(12.0, 20.0)) / (v - v_e)
            tau = float(rng.uniform(1.2, 1.8))
            w = -(LEFT_LANE_Y - EGO_LANE_Y) / (v * tau * tau)
            turns = ((t_lc, t_lc + tau, w), (t_lc + tau, t_lc + 2 * tau, -w))
        return Motion(t_a, x0, LEFT_LANE_Y + float(rng.normal(0, 0.15)), 0.0, v, turns)

    def _oncoming(self, t_a: float) -> Motion:
        """8-14 m/s in the oncoming lane, near the ego at ``t_a``."""
        rng = self.rng
        x = self.ego_x(t_a) + float(rng.uniform(-8.0, 8.0))
        y = ONCOMING_LANE_Y + float(rng.normal(0, 0.2))
        return Motion(t_a, x, y, math.pi, float(rng.uniform(8.0, 14.0)))

    def _leading(self, t_a: float) -> Motion:
        """12-40 m ahead of the ego in its lane at the start, at about its speed."""
        rng, t_lo = self.rng, self.t_lo
        x = self.ego_x(t_lo) + float(rng.uniform(12.0, 40.0))
        y = EGO_LANE_Y + float(rng.normal(0, 0.15))
        return Motion(t_lo, x, y, 0.0, self.ego.speed + float(rng.uniform(-1.5, 1.5)))

    def _following(self, t_a: float) -> Motion:
        """10-25 m behind the ego in its lane at the start, at about its speed."""
        rng, t_lo = self.rng, self.t_lo
        x = self.ego_x(t_lo) - float(rng.uniform(10.0, 25.0))
        y = EGO_LANE_Y + float(rng.normal(0, 0.15))
        return Motion(t_lo, x, y, 0.0, self.ego.speed + float(rng.uniform(-1.0, 1.0)))

    def _turning(self, t_a: float) -> Motion:
        """From the right side street, a left turn into the oncoming lane."""
        rng = self.rng
        v, R = float(rng.uniform(4.0, 7.0)), float(rng.uniform(5.5, 7.0))
        w = v / R
        y_s = ONCOMING_LANE_Y - R
        s_near = self.layout.nearest_side_street(self.ego_x(t_a))
        return Motion(t_a, s_near + 2.5, y_s, math.pi / 2, v, ((t_a, t_a + (math.pi / 2) / w, w),))

    def _crossing_side(self, t_a: float) -> Motion:
        """Straight across the street along the side street."""
        rng = self.rng
        heading = math.pi / 2 if rng.random() < 0.5 else -math.pi / 2
        lane_x = self.layout.nearest_side_street(self.ego_x(t_a)) + (2.5 if heading > 0 else -2.5)
        return Motion(t_a, lane_x, float(rng.uniform(-25.0, 30.0)), heading, float(rng.uniform(5.0, 10.0)))

    # pedestrians:
    def _sidewalk(self, t_a: float) -> Motion:
        """Walking along either sidewalk, either way."""
        rng = self.rng
        y = float(rng.uniform(-9.3, -6.6)) if rng.random() < 0.5 else float(rng.uniform(11.0, 13.9))
        heading = 0.0 if rng.random() < 0.5 else math.pi
        return Motion(t_a, self.ego_x(t_a) + float(rng.uniform(-25.0, 45.0)), y, heading, float(rng.uniform(0.8, 1.7)))

    def _crossing(self, t_a: float) -> Motion:
        """Crossing the street, mostly at a crosswalk; some turned onto it from the sidewalk."""
        rng = self.rng
        cross = self.layout.crosswalk_x
        heading = math.pi / 2 if rng.random() < 0.5 else -math.pi / 2
        xa = self.ego_x(t_a)
        if cross and rng.random() < 0.7:
            xc = min(cross, key=lambda c: abs(c - xa)) + float(rng.uniform(-1.5, 1.5))
        else:
            xc = self.ego_x(self.t_hi) + float(rng.uniform(10.0, 45.0))
        turns: tuple[tuple[float, float, float], ...] = ()
        t_turn = t_a - float(rng.uniform(0.0, 3.0))
        if rng.random() < 0.4:  # came along the sidewalk and turned onto the street
            w = float(rng.choice([-1.0, 1.0])) * float(rng.uniform(1.0, 1.6))
            turns = ((t_turn - (math.pi / 2) / abs(w), t_turn, w),)
        return Motion(t_a, xc, float(rng.uniform(-6.0, 10.0)), heading, float(rng.uniform(1.0, 1.8)), turns)

    # cyclists:
    def _kerb(self, t_a: float) -> Motion:
        """Along the right kerb in the bike lane; half of them swerve a little."""
        rng = self.rng
        v = float(rng.uniform(3.5, 7.0))
        turns: tuple[tuple[float, float, float], ...] = ()
        if rng.random() < 0.5:  # a small swerve
            ts, tau = t_a + float(rng.uniform(-1.0, 1.0)), float(rng.uniform(0.8, 1.5))
            w = float(rng.choice([-1.0, 1.0])) * 0.4 / (v * tau * tau)
            turns = ((ts, ts + tau, w), (ts + tau, ts + 2 * tau, -w))
        x = self.ego_x(t_a) + float(rng.uniform(-5.0, 25.0))
        return Motion(t_a, x, RIGHT_BIKE_Y + float(rng.normal(0, 0.12)), 0.0, v, turns)

    def _oncoming_kerb(self, t_a: float) -> Motion:
        """Oncoming in the left bike lane."""
        rng = self.rng
        x = self.ego_x(t_a) + float(rng.uniform(-10.0, 40.0))
        y = LEFT_BIKE_Y + float(rng.normal(0, 0.12))
        return Motion(t_a, x, y, math.pi, float(rng.uniform(3.5, 7.0)))

    def _crossing_bike(self, t_a: float) -> Motion:
        """Straight across the street along the side street."""
        rng = self.rng
        heading = math.pi / 2 if rng.random() < 0.5 else -math.pi / 2
        x = self.layout.nearest_side_street(self.ego_x(t_a)) + (1.5 if heading > 0 else -1.5)
        return Motion(t_a, x, float(rng.uniform(-20.0, 25.0)), heading, float(rng.uniform(3.5, 6.0)))

    # -- the end ----------------------------------------------------------------------------------
    def finish(self, seed: int) -> Scenario:
        """Assign stable track ids (moving agents in creation order, then parked vehicles by x),
        and draw the road frame's pose in the world frame and the sun's direction."""
        rng = self.rng
        parked = sorted((a for a in self.actors if a.parked), key=lambda a: a.motion.x)
        moving = [a for a in self.actors if not a.parked]
        final = tuple(
            Actor(i + 1, a.category, a.size, a.motion, a.role, a.colour, a.phase) for i, a in enumerate(moving + parked)
        )
        psi = float(rng.uniform(-np.pi, np.pi))
        T_world_road = Transform.from_yaw(psi, (float(rng.uniform(-500, 500)), float(rng.uniform(-500, 500)), 0.0))
        az, el = float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0.5, 1.1))
        sun = (math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el))
        street = self.layout
        return Scenario(
            seed,
            self.ego,
            final,
            self.structures,
            street.side_street_x,
            street.crosswalk_x,
            street.extent_x,
            T_world_road,
            sun,
        )
