"""A vehicle detector built on FusionLabel's geometric pipeline with its own class map.

It shows the whole plugin contract in ~80 lines:

* ``info``: a :class:`~fusionlabel.detect.api.DetectorInfo` (name, classes, sensors, device);
* ``detect(frame, rig)``: :class:`~fusionlabel.detect.api.Detections` in the ego frame;
* ``detect_batch(frames, rig)``: the optional batched form (here a loop; a GPU model would stack
  the frames into one tensor);
* ``create(**options)``: the factory the entry point names, cheap to call.

Classes (canonical FusionLabel names): ``Car`` (3.2-5.6 m), ``Van`` (4.2-6.2 m, taller), ``Truck``
(6-12 m) and ``Bus`` (9-14 m), recognised by size; people and bikes are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fusionlabel.core.calibration import Rig
from fusionlabel.core.frames import Frame
from fusionlabel.detect.api import Detections, DetectorInfo
from fusionlabel.detect.geometric import GeometricConfig, GeometricDetector, SizeClass

VEHICLE_CLASSES: tuple[SizeClass, ...] = (
    SizeClass("Car", (3.2, 5.6), (1.4, 2.2), (1.2, 2.0), (4.2, 1.8, 1.55)),
    SizeClass("Van", (4.2, 6.2), (1.7, 2.3), (1.9, 2.8), (5.2, 2.0, 2.2), bias=0.3),
    SizeClass("Truck", (6.0, 12.0), (2.2, 2.8), (2.5, 4.0), (8.0, 2.5, 3.2), bias=0.5),
    SizeClass("Bus", (9.0, 14.0), (2.4, 2.9), (2.8, 3.8), (12.0, 2.55, 3.2), bias=0.5),
)


class VehicleDetector:
    """Vehicles from LiDAR geometry (CPU).

    Parameters
    ----------
    range_m : half-width of the square around the ego that is searched, metres
    min_score : detections below this confidence are dropped
    """

    def __init__(self, range_m: float = 60.0, min_score: float = 0.1) -> None:
        # tall vehicles need the clustered height band to reach 4 m
        config = GeometricConfig(
            range_m=range_m, classes=VEHICLE_CLASSES, max_height=4.2, min_score=min_score, merge_extent=15.0
        )
        self._impl = GeometricDetector(config, name="example-vehicles")
        self._info = DetectorInfo(
            "example-vehicles",
            tuple(c.name for c in VEHICLE_CLASSES),
            ("lidar",),
            "cpu",
            version="0.1.0",
            description="example plugin: vehicles by size (Car, Van, Truck, Bus)",
        )

    @property
    def info(self) -> DetectorInfo:
        return self._info

    def detect(self, frame: Frame, rig: Rig) -> Detections:
        return self._impl.detect(frame, rig)

    def detect_batch(self, frames: Sequence[Frame], rig: Rig) -> list[Detections]:
        return [self.detect(f, rig) for f in frames]


def create(**options: Any) -> VehicleDetector:
    """The entry-point factory: ``create(range_m=60.0, min_score=0.1)``."""
    return VehicleDetector(**options)
