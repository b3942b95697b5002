"""The street a scenario is built on: its extent, side streets, crosswalks and static structures.

The street runs along the road frame's x axis (:mod:`fusionlabel.synth.world`) from 90 m behind
the ego's first position to 130 m beyond its last. The recording is split into time windows, one
per ~60 m of ego travel; each window has a side street 25-45 m and a zebra crossing 10-22 m ahead
of where the ego is at the window's end (a crossing too close to a side street is dropped).

Static structures, drawn in this order (the order of the random draws is part of a seed's
output): buildings along both facades with gaps (none across a side street), street lights on
both sidewalks, trees (trunk and crown) on the left sidewalk, and a bus shelter per window on the
right sidewalk (an occluder for pedestrians).

Example
-------
>>> import numpy as np
>>> from fusionlabel.synth.world import EgoMotion
>>> ego = EgoMotion(x0=0.0, speed=10.0, amplitude=0.2, wavenumber=0.05, phase=0.0)
>>> rng = np.random.default_rng(0)
>>> layout = draw_layout(rng, ego, 0.0, 10.0)
>>> layout.extent_x, len(layout.windows)
((-90.0, 230.0), 2)
>>> structures = draw_structures(rng, layout, ego)
>>> {s.kind for s in structures} >= {"building", "pole", "trunk", "crown"}
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fusionlabel.synth.world import (
    BUILDING_COLOURS,
    CROSSWALK_HALF_W,
    LEFT_FACADE_Y,
    LEFT_KERB_Y,
    RIGHT_FACADE_Y,
    RIGHT_KERB_Y,
    SIDE_STREET_HALF_W,
    EgoMotion,
    Structure,
)


@dataclass(frozen=True)
class StreetLayout:
    """Where the street is built and where it opens (road frame x, metres; times in seconds).

    extent_x : (x_min, x_max) of the built street
    windows : ``(t_start, t_end)`` per block of ~60 m of ego travel, covering the recording
    side_street_x : x of each side street's centre, one per window
    crosswalk_x : x of each zebra crossing's centre (at most one per window)
    """

    extent_x: tuple[float, float]
    windows: tuple[tuple[float, float], ...]
    side_street_x: tuple[float, ...]
    crosswalk_x: tuple[float, ...]

    def in_side_street(self, x0: float, x1: float, pad: float = 0.0) -> bool:
        """Whether ``[x0, x1]`` meets a side street widened by ``pad`` metres on each side."""
        return any(x1 > s - SIDE_STREET_HALF_W - pad and x0 < s + SIDE_STREET_HALF_W + pad for s in self.side_street_x)

    def nearest_side_street(self, x: float) -> float:
        """The x of the side street nearest to ``x``."""
        return min(self.side_street_x, key=lambda s: abs(s - x))


def draw_layout(rng: np.random.Generator, ego: EgoMotion, t_lo: float, t_hi: float) -> StreetLayout:
    """Draw the side streets and crosswalks for a recording from ``t_lo`` to ``t_hi`` (s)."""
    T = t_hi - t_lo
    x_lo, x_hi = ego.state(t_lo).x, ego.state(t_hi).x
    n_blocks = max(1, math.ceil((x_hi - x_lo) / 60.0))
    windows = tuple((t_lo + T * b / n_blocks, t_lo + T * (b + 1) / n_blocks) for b in range(n_blocks))
    # side streets and crosswalks ahead of the ego in each block
    side = tuple(float(ego.state(w1).x + rng.uniform(25.0, 45.0)) for _, w1 in windows)
    cross = tuple(float(ego.state(w1).x + rng.uniform(10.0, 22.0)) for _, w1 in windows)
    cross = tuple(c for c in cross if all(abs(c - s) > SIDE_STREET_HALF_W + CROSSWALK_HALF_W + 1 for s in side))
    return StreetLayout((x_lo - 90.0, x_hi + 130.0), windows, side, cross)


def draw_structures(rng: np.random.Generator, layout: StreetLayout, ego: EgoMotion) -> tuple[Structure, ...]:
    """Draw the static structures along ``layout``: buildings, street lights, trees, shelters."""
    return (
        *_buildings(rng, layout),
        *_street_lights(rng, layout),
        *_trees(rng, layout),
        *_shelters(rng, layout, ego),
    )


def _buildings(rng: np.random.Generator, layout: StreetLayout) -> list[Structure]:
    """Buildings 10-30 m long on both sides (right first), with gaps, none across a side street."""
    x_min, x_max = layout.extent_x
    out: list[Structure] = []
    for facade, sign in ((RIGHT_FACADE_Y, -1.0), (LEFT_FACADE_Y, 1.0)):
        x = x_min
        while x < x_max:
            length = float(rng.uniform(10.0, 30.0))
            x0, x1 = x, x + length
            if layout.in_side_street(x0, x1, 1.0):
                x = layout.nearest_side_street(0.5 * (x0 + x1)) + SIDE_STREET_HALF_W + 1.0
                continue
            depth, height = float(rng.uniform(8.0, 14.0)), float(rng.uniform(5.0, 18.0))
            setback = float(rng.uniform(0.0, 1.0))
            cy = facade + sign * (setback + depth / 2.0)
            colour = BUILDING_COLOURS[int(rng.integers(len(BUILDING_COLOURS)))]
            out.append(Structure("building", (0.5 * (x0 + x1), cy, height / 2.0), (length, depth, height), 0.0, colour))
            x = x1 + (0.0 if rng.random() < 0.5 else float(rng.uniform(2.0, 6.0)))
    return out


def _street_lights(rng: np.random.Generator, layout: StreetLayout) -> list[Structure]:
    """Poles 5-8 m high every 18-32 m along both kerbs (right first), none in a side street."""
    x_min, x_max = layout.extent_x
    out: list[Structure] = []
    for y_pole in (RIGHT_KERB_Y - 0.5, LEFT_KERB_Y + 0.5):
        x = x_min + float(rng.uniform(0, 20))
        while x < x_max:
            if not layout.in_side_street(x - 0.2, x + 0.2, 0.5):
                h = float(rng.uniform(5.0, 8.0))
                out.append(Structure("pole", (x, y_pole, h / 2.0), (0.2, 0.2, h), 0.0, (0.45, 0.47, 0.5)))
            x += float(rng.uniform(18.0, 32.0))
    return out


def _trees(rng: np.random.Generator, layout: StreetLayout) -> list[Structure]:
    """Trees (a trunk and a crown each) every 10-22 m on the left sidewalk, 70 % of the slots filled."""
    x_min, x_max = layout.extent_x
    out: list[Structure] = []
    x = x_min + float(rng.uniform(0, 10))
    while x < x_max:
        if not layout.in_side_street(x - 2, x + 2, 0.5) and rng.random() < 0.7:
            trunk_h, crown = float(rng.uniform(2.4, 3.0)), float(rng.uniform(2.5, 4.0))
            out.append(Structure("trunk", (x, 12.6, trunk_h / 2), (0.35, 0.35, trunk_h), 0.0, (0.4, 0.28, 0.18)))
            crown_yaw = float(rng.uniform(0, 1.5))
            crown_centre = (x, 12.6, trunk_h + crown / 2)
            out.append(Structure("crown", crown_centre, (crown, crown, crown), crown_yaw, (0.25, 0.5, 0.2)))
        x += float(rng.uniform(10.0, 22.0))
    return out


def _shelters(rng: np.random.Generator, layout: StreetLayout, ego: EgoMotion) -> list[Structure]:
    """A bus shelter or kiosk per window on the right sidewalk, near where the ego passes."""
    out: list[Structure] = []
    for w0, w1 in layout.windows:
        xs = ego.state(0.5 * (w0 + w1)).x + float(rng.uniform(-10.0, 40.0))
        if not layout.in_side_street(xs - 3, xs + 3, 1.0):
            L = float(rng.uniform(3.0, 5.0))
            out.append(Structure("shelter", (xs, -8.9, 1.3), (L, 1.4, 2.6), 0.0, (0.55, 0.6, 0.62)))
    return out
