"""Collision-free placement: the footprints over time of everything placed so far.

An object's footprint at a time is the rectangle under its box in the road frame's ground plane
(x, y, metres), grown by a margin; an actor is sampled at a fixed time grid (every 0.1 s over the
recording and half a second either side). A new actor is accepted when none of its footprints
meets the footprint of another actor (or of the ego) at the same time, nor a static structure
(rejection sampling: the caller draws again). shapely is imported only when a :class:`Placer`
is made.

Example
-------
>>> import numpy as np
>>> from fusionlabel.synth.world import Actor, EgoMotion, Motion
>>> ego = EgoMotion(x0=0.0, speed=10.0, amplitude=0.0, wavenumber=0.1, phase=0.0)
>>> placer = Placer(np.arange(0.0, 1.0, 0.1), ego)
>>> car = Actor(1, "Car", (4.5, 1.8, 1.5), Motion(0.0, 20.0, 3.5, 0.0, 10.0), "overtaking", (1.0, 0.0, 0.0))
>>> placer.free(car)
True
>>> placer.add(car)
>>> placer.free(car)                    # the same car again overlaps the first
False
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.synth.world import EGO_BOX, Actor, EgoMotion, Structure


def rectangles(
    cx: NDArray[np.float64], cy: NDArray[np.float64], l: float, w: float, yaw: NDArray[np.float64]
) -> NDArray[np.object_]:
    """(N,) shapely polygons: rectangles of length ``l`` and width ``w`` (m) centred at ``(cx, cy)``
    (each (N,), metres) with headings ``yaw`` ((N,), radians)."""
    import shapely

    c, s = np.cos(yaw), np.sin(yaw)
    hl, hw = l / 2.0, w / 2.0
    loc = np.array([[hl, hw], [-hl, hw], [-hl, -hw], [hl, -hw]])
    # corner = centre + R(yaw) @ local corner
    xs = cx[:, None] + loc[None, :, 0] * c[:, None] - loc[None, :, 1] * s[:, None]
    ys = cy[:, None] + loc[None, :, 0] * s[:, None] + loc[None, :, 1] * c[:, None]
    polygons: NDArray[np.object_] = shapely.polygons(np.stack([xs, ys], axis=-1))
    return polygons


class Placer:
    """Keeps the footprints over time of everything placed so far and rejects overlaps.

    Parameters
    ----------
    times : (T,) seconds, the instants at which footprints are compared
    ego : the ego trajectory; its footprint (grown by 1.0 m in length, 0.4 m in width) is kept clear
    margin : metres added to every actor's length and width
    """

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
        self.tracks.append(rectangles(cx, cy, l + 1.0, w + 0.4, yaw))  # keep clear of the ego
        self._shapely = shapely
        self._tree: Any = None

    def footprints(self, actor: Actor) -> NDArray[np.object_]:
        """(T,) the actor's footprints (grown by the margin) at :attr:`times`."""
        st = [actor.state(float(t)) for t in self.times]
        l, w, _ = actor.size
        return rectangles(
            np.array([s.x for s in st]),
            np.array([s.y for s in st]),
            l + self.margin,
            w + self.margin,
            np.array([s.yaw for s in st]),
        )

    def add_structure(self, s: Structure) -> None:
        """Keep clear of a static structure's footprint from now on."""
        poly = rectangles(np.array([s.center[0]]), np.array([s.center[1]]), s.size[0], s.size[1], np.array([s.yaw]))[0]
        self.static.append(poly)
        self._tree = None

    def free(self, actor: Actor, avoid_structures: bool = True) -> bool:
        """Whether ``actor`` meets nothing placed so far (a parked one: structures at its first footprint)."""
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
        """Keep clear of ``actor`` from now on."""
        self.tracks.append(self.footprints(actor))
