"""Class size priors: the one owner of "how big is a car" for detectors, box fitting and the app.

A :class:`SizeClass` gives a class's plausible full extents ``(lo, hi)`` along length, width
and height and its typical size ``prior = (l, w, h)``, in metres. The geometric detector
recognises classes by them (:data:`DEFAULT_CLASSES`); the app's box fitting completes a
partly seen object to at least the class minimum ``(length[0], width[0], height[0])`` and starts
new boxes at the prior; a project's label schema (:mod:`fusionlabel.core.schema`) may override
them per class.

Example
-------
>>> sc = size_class("car")
>>> sc.name, sc.prior, sc.minimum
('Car', (4.2, 1.8, 1.55), (3.2, 1.4, 1.2))
>>> at_least_minimum([0.3, 0.3, 0.3], sc).tolist()
[3.2, 1.4, 1.2]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class SizeClass:
    """A class recognised by its size.

    Attributes
    ----------
    name : class name (a :data:`fusionlabel.core.labels.CATEGORIES` name)
    length, width, height : (lo, hi) plausible full extents, metres (length >= width)
    prior : (l, w, h) typical size, metres, used to complete partly seen objects
    bias : added to the cost (a rarer class needs a better fit to win)
    """

    name: str
    length: tuple[float, float]
    width: tuple[float, float]
    height: tuple[float, float]
    prior: tuple[float, float, float]
    bias: float = 0.0

    @property
    def minimum(self) -> tuple[float, float, float]:
        """(l, w, h) the smallest plausible full size, metres: no fitted box is smaller."""
        return (self.length[0], self.width[0], self.height[0])

    @property
    def maximum(self) -> tuple[float, float, float]:
        """(l, w, h) the largest plausible full size, metres."""
        return (self.length[1], self.width[1], self.height[1])


#: Car, Van, Truck, Bus, Pedestrian, Cyclist; extents from the KITTI, nuScenes and Argoverse 2
#: label statistics (5th-95th percentiles, rounded outwards), priors near their means. The larger
#: vehicles carry a bias: a partly seen car must not become a van or a truck without evidence
#: (its height, or a long visible side)
DEFAULT_CLASSES: tuple[SizeClass, ...] = (
    SizeClass("Car", (3.2, 5.6), (1.4, 2.2), (1.2, 2.1), (4.2, 1.8, 1.55)),
    SizeClass("Van", (4.2, 6.5), (1.7, 2.3), (1.8, 2.8), (5.1, 1.95, 2.15), bias=1.0),
    SizeClass("Truck", (5.5, 12.5), (2.0, 2.9), (2.3, 4.2), (8.0, 2.5, 3.2), bias=0.6),
    SizeClass("Bus", (8.0, 14.0), (2.4, 3.0), (2.7, 4.0), (11.0, 2.8, 3.3), bias=0.8),
    SizeClass("Pedestrian", (0.3, 1.1), (0.3, 0.9), (1.0, 2.1), (0.7, 0.6, 1.75), bias=0.3),
    SizeClass("Cyclist", (1.3, 2.1), (0.4, 0.9), (1.1, 2.1), (1.8, 0.6, 1.7), bias=0.5),
)

#: every canonical category (:data:`fusionlabel.core.labels.CATEGORIES`): the detector's classes
#: plus motorcycles, trams and a permissive ``Misc``
SIZE_PRIORS: tuple[SizeClass, ...] = DEFAULT_CLASSES + (
    SizeClass("Motorcycle", (1.5, 2.6), (0.5, 1.1), (1.0, 1.9), (2.1, 0.8, 1.5)),
    SizeClass("Tram", (10.0, 40.0), (2.2, 3.0), (2.8, 4.0), (25.0, 2.6, 3.5)),
    SizeClass("Misc", (0.2, 12.0), (0.2, 4.0), (0.2, 4.5), (1.0, 1.0, 1.0)),
)


def size_class(name: str, classes: Iterable[SizeClass] = SIZE_PRIORS) -> SizeClass | None:
    """The size class named ``name`` (case-insensitive) among ``classes``; None when unknown."""
    key = str(name).strip().lower()
    for sc in classes:
        if sc.name.lower() == key:
            return sc
    return None


def at_least_minimum(size: ArrayLike, sc: SizeClass) -> NDArray[np.float64]:
    """(3,) ``(l, w, h)`` grown element-wise to at least the class minimum, metres."""
    return np.maximum(np.asarray(size, dtype=np.float64).reshape(3), np.asarray(sc.minimum))


def best_observed_size(
    sizes: ArrayLike, counts: ArrayLike, well_covered: float = 0.5, min_points: int = 5
) -> NDArray[np.float64]:
    """The size a track was seen best at: the largest box among its well-covered views.

    Parameters
    ----------
    sizes : (N, 3) ``(l, w, h)`` of the track's boxes, metres
    counts : (N,) LiDAR points inside each box (how well that view covers the object)
    well_covered : a view is well covered when it has at least this fraction of the best
        view's points (and at least ``min_points``)
    min_points : fewer points never count as well covered

    Returns
    -------
    (3,) float64 the size of the largest-volume well-covered view (of the largest view when
    none is well covered). A sparse far view under-estimates the object (a LiDAR sees the near
    faces); the nearest, densest views see most of it, and among them the largest is the one
    least cut by occlusion.

    Example
    -------
    >>> best_observed_size([[4.1, 1.7, 1.5], [2.0, 1.0, 1.2], [4.4, 1.8, 1.5]], [300, 12, 250]).tolist()
    [4.4, 1.8, 1.5]
    """
    s = np.asarray(sizes, dtype=np.float64).reshape(-1, 3)
    c = np.asarray(counts, dtype=np.float64).reshape(-1)
    if len(s) == 0:
        raise ValueError("no sizes given")
    if len(c) != len(s):
        raise ValueError("sizes and counts differ in length")
    ok = (c >= well_covered * c.max()) & (c >= min_points)
    cand = np.flatnonzero(ok) if ok.any() else np.arange(len(s))
    vol = np.prod(s[cand], axis=1)
    return s[cand[int(np.argmax(vol))]].copy()
