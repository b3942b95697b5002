"""nuScenes classes and attributes, both ways: dataset names to our categories, our labels to nuScenes.

**Reading** (:func:`canonical_category`): nuScenes, Lyft Level 5 and mmdetection3d class names map
onto :data:`~fusionlabel.core.labels.CATEGORIES` through :data:`CATEGORY_MAP` (``vehicle.car`` ->
``Car``, ``human.pedestrian.*`` -> ``Pedestrian``, ``vehicle.bicycle`` -> ``Cyclist`` ...);
FusionLabel's own ``fusionlabel.<name>`` (classes its export writes outside the nuScenes taxonomy)
become ``<name>``; other names pass through unchanged.

**Writing** (:func:`nuscenes_category`, the table in ``docs/label_formats.md``): ``Car`` and
``Van`` -> ``vehicle.car`` (nuScenes counts vans as cars), ``Truck`` -> ``vehicle.truck``, ``Bus`` ->
``vehicle.bus.rigid``, ``Pedestrian`` -> ``human.pedestrian.adult``, ``Cyclist`` ->
``vehicle.bicycle`` (with ``cycle.with_rider``), ``Motorcycle`` -> ``vehicle.motorcycle``. A label
imported from a dataset keeps that dataset's finer class where it agrees with the label's category
(``human.pedestrian.child``, Argoverse's ``ARTICULATED_BUS`` -> ``vehicle.bus.bendy`` ...). Classes
nuScenes lacks (``Tram``, ``Misc``, others) are written as ``fusionlabel.<name>``: the devkit loads
them, its evaluation ignores them. :func:`tracking_name` gives the tracking class of a nuScenes
category (the devkit's ``category_to_tracking_name``).

**Attributes** (:func:`nuscenes_attribute`): speed ``|v_xy|`` from the devkit's own
``box_velocity`` rule (centred difference of the neighbouring annotations of the instance, at most
1.5 s apart, 3 s centred; :mod:`fusionlabel.io.nuscenes_scene`). Vehicles: ``vehicle.moving`` at
>= 0.5 m/s, else ``vehicle.stopped`` if the instance moves at some time, else ``vehicle.parked``.
Pedestrians: ``pedestrian.moving`` / ``pedestrian.standing`` (sitting cannot be told from a box).
Bicycles and motorcycles: ``cycle.with_rider`` for cyclists and moving motorcycles, else
``cycle.without_rider``. No attribute where the speed cannot be estimated (an instance with one
annotation).

Example
-------
>>> canonical_category("vehicle.bus.bendy"), canonical_category(nuscenes_category("Tram"))
('Bus', 'Tram')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: dataset category name -> canonical name (nuScenes full names, Lyft and mmdet3d short names)
CATEGORY_MAP: dict[str, str] = {
    # nuScenes
    "vehicle.car": "Car",
    "vehicle.truck": "Truck",
    "vehicle.bus.bendy": "Bus",
    "vehicle.bus.rigid": "Bus",
    "vehicle.trailer": "Misc",
    "vehicle.construction": "Misc",
    "vehicle.emergency.ambulance": "Van",
    "vehicle.emergency.police": "Car",
    "vehicle.bicycle": "Cyclist",
    "vehicle.motorcycle": "Motorcycle",
    "human.pedestrian.adult": "Pedestrian",
    "human.pedestrian.child": "Pedestrian",
    "human.pedestrian.construction_worker": "Pedestrian",
    "human.pedestrian.police_officer": "Pedestrian",
    "human.pedestrian.wheelchair": "Pedestrian",
    "human.pedestrian.stroller": "Pedestrian",
    "human.pedestrian.personal_mobility": "Pedestrian",
    # Lyft Level 5 and mmdet3d's nuScenes detection classes
    "car": "Car",
    "truck": "Truck",
    "bus": "Bus",
    "trailer": "Misc",
    "construction_vehicle": "Misc",
    "other_vehicle": "Misc",
    "emergency_vehicle": "Misc",
    "bicycle": "Cyclist",
    "motorcycle": "Motorcycle",
    "pedestrian": "Pedestrian",
}
#: category prefix for classes nuScenes has no name for
FOREIGN_PREFIX = "fusionlabel."
#: speed at or above which a box is "moving", m/s
MOVING_SPEED_MPS = 0.5

#: the nuScenes v1.0 taxonomy: name -> description
NUSCENES_CATEGORIES: dict[str, str] = {
    "animal": "All animals, e.g. cats, rats, dogs, deer, birds.",
    "human.pedestrian.adult": "Adult subcategory.",
    "human.pedestrian.child": "Child subcategory.",
    "human.pedestrian.construction_worker": "Construction worker.",
    "human.pedestrian.personal_mobility": "A small electric or self-propelled vehicle, e.g. skateboard, segway.",
    "human.pedestrian.police_officer": "Police officer.",
    "human.pedestrian.stroller": "Strollers.",
    "human.pedestrian.wheelchair": "Wheelchairs.",
    "movable_object.barrier": "Temporary road barrier placed in the scene in order to redirect traffic.",
    "movable_object.debris": "Movable object that is left on the driveable surface.",
    "movable_object.pushable_pullable": "Objects that a pedestrian may push or pull, e.g. dolleys, wheel barrows.",
    "movable_object.trafficcone": "All types of traffic cone.",
    "static_object.bicycle_rack": "Area or device intended to park or secure the bicycles in a row.",
    "vehicle.bicycle": "Human or electric powered 2-wheeled vehicle designed to travel at lower speeds.",
    "vehicle.bus.bendy": "Bendy bus subcategory. Annotate each section of the bendy bus individually.",
    "vehicle.bus.rigid": "Rigid bus subcategory.",
    "vehicle.car": "Vehicle designed primarily for personal use, e.g. sedans, hatch-backs, wagons, vans, "
    "mini-vans, SUVs and jeeps.",
    "vehicle.construction": "Vehicles primarily designed for construction. Typically very slow moving or stationary.",
    "vehicle.emergency.ambulance": "All types of ambulances.",
    "vehicle.emergency.police": "All types of police vehicles.",
    "vehicle.motorcycle": "Gasoline or electric powered 2-wheeled vehicle designed to move rapidly.",
    "vehicle.trailer": "Any vehicle trailer, both for trucks, cars and bikes.",
    "vehicle.truck": "Vehicles primarily designed to haul cargo including pick-ups, lorrys, trucks and semi-tractors.",
}

#: the nuScenes attributes: name -> description
NUSCENES_ATTRIBUTES: dict[str, str] = {
    "vehicle.moving": "Vehicle is moving.",
    "vehicle.stopped": "Vehicle, with a driver/rider in/on it, is currently stationary but has an intent to move.",
    "vehicle.parked": "Vehicle is stationary (usually for longer duration) with no immediate intent to move.",
    "cycle.with_rider": "There is a rider on the bicycle or motorcycle.",
    "cycle.without_rider": "There is NO rider on the bicycle or motorcycle.",
    "pedestrian.sitting_lying_down": "The human is sitting or lying down.",
    "pedestrian.standing": "The human is standing.",
    "pedestrian.moving": "The human is moving.",
}

#: our canonical categories -> nuScenes
CATEGORY_TO_NUSCENES: dict[str, str] = {
    "Car": "vehicle.car",
    "Van": "vehicle.car",
    "Truck": "vehicle.truck",
    "Bus": "vehicle.bus.rigid",
    "Pedestrian": "human.pedestrian.adult",
    "Cyclist": "vehicle.bicycle",
    "Motorcycle": "vehicle.motorcycle",
}

#: finer source-dataset classes (a label's ``attributes["source_category"]``) -> (nuScenes, attribute)
SOURCE_CATEGORY_HINTS: dict[str, tuple[str, str | None]] = {
    # Argoverse 2
    "ARTICULATED_BUS": ("vehicle.bus.bendy", None),
    "SCHOOL_BUS": ("vehicle.bus.rigid", None),
    "BICYCLE": ("vehicle.bicycle", "cycle.without_rider"),
    "BICYCLIST": ("vehicle.bicycle", "cycle.with_rider"),
    "MOTORCYCLE": ("vehicle.motorcycle", "cycle.without_rider"),
    "MOTORCYCLIST": ("vehicle.motorcycle", "cycle.with_rider"),
    "VEHICULAR_TRAILER": ("vehicle.trailer", None),
    "OFFICIAL_SIGNALER": ("human.pedestrian.police_officer", None),
    "STROLLER": ("human.pedestrian.stroller", None),
    "WHEELCHAIR": ("human.pedestrian.wheelchair", None),
    "CONSTRUCTION_CONE": ("movable_object.trafficcone", None),
    "DOG": ("animal", None),
    # Lyft Level 5 / mmdet3d short names without a canonical FusionLabel class
    "trailer": ("vehicle.trailer", None),
    "construction_vehicle": ("vehicle.construction", None),
    "barrier": ("movable_object.barrier", None),
    "traffic_cone": ("movable_object.trafficcone", None),
}

#: nuScenes category -> tracking class (the devkit's ``category_to_tracking_name``)
TRACKING_CLASSES: dict[str, str] = {
    "vehicle.bicycle": "bicycle",
    "vehicle.bus.bendy": "bus",
    "vehicle.bus.rigid": "bus",
    "vehicle.car": "car",
    "vehicle.motorcycle": "motorcycle",
    "human.pedestrian.adult": "pedestrian",
    "human.pedestrian.child": "pedestrian",
    "human.pedestrian.construction_worker": "pedestrian",
    "human.pedestrian.police_officer": "pedestrian",
    "vehicle.trailer": "trailer",
    "vehicle.truck": "truck",
}


def canonical_category(name: str) -> str:
    """Canonical category of a nuScenes / Lyft / mmdet3d class name (unknown names pass through).

    ``fusionlabel.<name>``, how FusionLabel's nuScenes export writes classes nuScenes has no name
    for (:mod:`fusionlabel.io.nuscenes_export`), maps back to ``<name>``.
    """
    if name in CATEGORY_MAP:
        return CATEGORY_MAP[name]
    if name.startswith("human.pedestrian."):
        return "Pedestrian"
    if name.startswith("fusionlabel.") and len(name) > len("fusionlabel."):
        return name[len("fusionlabel.") :]
    return name


def nuscenes_category(category: str, attributes: Mapping[str, Any] | None = None) -> str:
    """The nuScenes category name of one of our labels.

    Parameters
    ----------
    category : our category (``"Car"``, ``"Pedestrian"`` ... or a dataset name passed through)
    attributes : the label's attributes; ``source_category`` (set by the dataset readers) picks a
        finer nuScenes class where it agrees with ``category``

    Returns
    -------
    a name of :data:`NUSCENES_CATEGORIES`, or ``"fusionlabel.<category>"`` for classes nuScenes lacks

    Example
    -------
    >>> nuscenes_category("Van"), nuscenes_category("Pedestrian", {"source_category": "human.pedestrian.child"})
    ('vehicle.car', 'human.pedestrian.child')
    >>> nuscenes_category("Tram")
    'fusionlabel.Tram'
    """
    src = (attributes or {}).get("source_category")
    if isinstance(src, str) and src:
        if src in NUSCENES_CATEGORIES and canonical_category(src) == category:
            return src
        hint = SOURCE_CATEGORY_HINTS.get(src)
        if hint is not None and (canonical_category(hint[0]) == category or src == category):
            return hint[0]
    if category in CATEGORY_TO_NUSCENES:
        return CATEGORY_TO_NUSCENES[category]
    if category in NUSCENES_CATEGORIES:
        return category
    hint = SOURCE_CATEGORY_HINTS.get(category)
    if hint is not None:
        return hint[0]
    if category.startswith(FOREIGN_PREFIX):
        return category
    return FOREIGN_PREFIX + category


def tracking_name(nuscenes_name: str) -> str | None:
    """The nuScenes tracking class of a nuScenes category, or None (the devkit ignores the class)."""
    return TRACKING_CLASSES.get(nuscenes_name)


def nuscenes_attribute(
    nuscenes_name: str,
    category: str,
    speed: float,
    track_max_speed: float,
    attributes: Mapping[str, Any] | None = None,
) -> str | None:
    """The one nuScenes attribute of an annotation (None where the rule gives none).

    Parameters
    ----------
    nuscenes_name : the instance's nuScenes category
    category : our category of the box
    speed : ``|v_xy|`` of the box, m/s (NaN when it cannot be estimated)
    track_max_speed : the largest finite speed of the instance, m/s (NaN when none)
    attributes : the label's attributes: nuScenes attribute names in ``attributes["attributes"]``
        (imported nuScenes labels) and the ``source_category`` hint win over the speed rule

    Rules (``MOVING_SPEED_MPS = 0.5``): vehicles ``moving`` / ``stopped`` (the instance moves at
    another time) / ``parked``; pedestrians ``moving`` / ``standing``; bicycles and motorcycles
    ``with_rider`` (cyclists, moving motorcycles) / ``without_rider``.
    """
    if nuscenes_name.startswith(("vehicle.bicycle", "vehicle.motorcycle")):
        group = "cycle."
    elif nuscenes_name.startswith("vehicle."):
        group = "vehicle."
    elif nuscenes_name.startswith("human.pedestrian."):
        group = "pedestrian."
    else:
        return None
    attrs = attributes or {}
    given = attrs.get("attributes")
    if isinstance(given, (list, tuple)):
        for a in given:
            if isinstance(a, str) and a in NUSCENES_ATTRIBUTES and a.startswith(group):
                return a
    src = attrs.get("source_category")
    hint = SOURCE_CATEGORY_HINTS.get(src) if isinstance(src, str) else None
    if group == "cycle." and hint is not None and hint[1] is not None and hint[0] == nuscenes_name:
        return hint[1]
    if group == "cycle." and category == "Cyclist":
        return "cycle.with_rider"
    if not math.isfinite(speed):
        return None
    moving = speed >= MOVING_SPEED_MPS
    ever = math.isfinite(track_max_speed) and track_max_speed >= MOVING_SPEED_MPS
    if group == "vehicle.":
        return "vehicle.moving" if moving else ("vehicle.stopped" if ever else "vehicle.parked")
    if group == "pedestrian.":
        return "pedestrian.moving" if moving else "pedestrian.standing"
    return "cycle.with_rider" if ever else "cycle.without_rider"
