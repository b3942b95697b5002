"""One-click box fitting: the cuboid around the object under the cursor (numpy/scipy, no Qt).

Given a click on the ground plane at ``(x, y)`` (ego frame):

1. take the points within ``reach`` metres (horizontally) of the click; the local ground height is
   their 5th height percentile;
2. keep the points between 0.2 m and 4 m above that ground (drops the road, keeps the object);
3. grow a cluster from the kept point nearest the click through neighbours closer than
   ``link`` metres (``scipy.sparse.csgraph.connected_components`` on a k-d tree radius graph);
4. fit an oriented rectangle to its bird's-eye view (closeness criterion,
   :func:`fusionlabel.detect.boxfit.fit_rectangle`); height = top of the cluster - ground;
5. with a class ``prior`` (:class:`~fusionlabel.core.size_priors.SizeClass`), complete the box to
   the class's sizes (:func:`fusionlabel.detect.image_fit.complete_to_prior`): a seen extent under
   the class minimum is a partial view and takes the class's typical size, growing away from the
   sensor, so the result is never smaller than the class minimum (a sparse car stays a car).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> car = rng.uniform([8, -1, 0.2], [12, 1, 1.6], (400, 3))
>>> road = np.column_stack([rng.uniform(0, 20, 2000), rng.uniform(-8, 8, 2000), np.zeros(2000)])
>>> box, cat = fit_box_at(np.vstack([car, road]).astype(np.float32), 10.0, 0.0)
>>> np.round(box.center[0], 1).tolist() == [10.0, 0.0, 0.8], cat
(True, 'Car')
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.edits import EditError
from fusionlabel.core.size_priors import SizeClass


def guess_category(length: float, width: float, height: float) -> str:
    """A class from the box size (metres): a starting point the annotator can change."""
    if length >= 6.0:
        return "Truck"
    if length >= 2.6:
        return "Car"
    if length <= 1.2 and width <= 1.2:
        return "Pedestrian"
    return "Cyclist"


def fit_box_at(
    points: NDArray[np.floating],
    x: float,
    y: float,
    reach: float = 6.0,
    link: float = 0.6,
    max_points: int = 20000,
    prior: SizeClass | None = None,
    yaw_hint: float | None = None,
    sensor_xy: tuple[float, float] = (0.0, 0.0),
) -> tuple[Boxes, str]:
    """Fit a cuboid to the object whose points lie under ``(x, y)`` (ego frame, metres).

    Parameters
    ----------
    points : (N, 3) ego-frame points, metres
    x, y : the click on the ground, ego frame, metres
    reach : horizontal radius considered around the click, metres
    link : neighbour distance that joins points into one object, metres
    prior : the class's sizes: complete the box to them (step 5) and return its name
    yaw_hint : keep this heading (refitting a box whose heading the annotator set)
    sensor_xy : the LiDAR's ego position (the side the hidden faces are away from)

    Returns
    -------
    (one box, the prior's class, or without a prior a category guessed from its size). Raises :class:`EditError` when there are no
    object points within 1.5 m of the click.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    p = np.asarray(points, dtype=np.float64)
    d = np.hypot(p[:, 0] - x, p[:, 1] - y)
    near = p[d < reach]
    if len(near) < 3:
        raise EditError(f"no points within {reach:g} m of ({x:.1f}, {y:.1f})")
    ground = float(np.percentile(near[:, 2], 5))
    obj = near[(near[:, 2] > ground + 0.2) & (near[:, 2] < ground + 4.0)]
    if len(obj) > max_points:
        obj = obj[:: int(np.ceil(len(obj) / max_points))]
    if not len(obj):
        raise EditError(f"nothing above the ground near ({x:.1f}, {y:.1f})")
    dc = np.hypot(obj[:, 0] - x, obj[:, 1] - y)
    seed = int(np.argmin(dc))
    if dc[seed] > 1.5:
        raise EditError(f"no object under the cursor at ({x:.1f}, {y:.1f}) (nearest point {dc[seed]:.1f} m away)")
    pairs = cKDTree(obj).query_pairs(link, output_type="ndarray")
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(obj), len(obj)))
    _, comp = connected_components(g, directed=False)
    cl = obj[comp == comp[seed]]
    if prior is not None:
        from fusionlabel.detect.image_fit import fit_cluster_box

        return fit_cluster_box(cl, ground, prior, np.asarray(sensor_xy), yaw_hint), prior.name
    from fusionlabel.detect.boxfit import fit_rectangle

    r = fit_rectangle(cl[:, :2])
    length, width = max(r.length, 0.3), max(r.width, 0.3)
    height = max(float(cl[:, 2].max()) - ground, 0.3)
    box = Boxes.from_array([[r.center[0], r.center[1], ground + height / 2, length, width, height, r.yaw]])
    return box, guess_category(length, width, height)
