"""Tracking: linking per-frame detections into persistent-ID cuboid tracks, and the review queue.

* :mod:`.types` -- the tracker's input (:class:`FrameDetections`, :class:`RadarMeasurements`),
  configuration (:class:`TrackerConfig`) and output (:class:`TrackingResult`, :class:`TrackTable`);
* :mod:`.tracker` -- the algorithm (:class:`Tracker`: Kalman prediction, Hungarian association,
  birth, death, RTS smoothing, the labelled view);
* :mod:`.kalman`, :mod:`.association`, :mod:`.smoother`, :mod:`.birth_prior`, :mod:`.egomotion` --
  its parts; :mod:`.ambiguity` and :mod:`.review` -- where it is unsure, and the review queue
  built from that (the queue's model is :mod:`fusionlabel.core.review`);
* :mod:`.kitti` -- tracking KITTI-format detections (what ``fusionlabel track`` runs).
"""

from fusionlabel.track.tracker import BACKENDS, Tracker, track_sequence
from fusionlabel.track.types import (
    OUTPUT_BOXES,
    FrameDetections,
    RadarMeasurements,
    TrackerConfig,
    TrackingResult,
    TrackRows,
    TrackTable,
    radar_from_arrays,
)

__all__ = [
    "BACKENDS",
    "OUTPUT_BOXES",
    "FrameDetections",
    "RadarMeasurements",
    "TrackRows",
    "TrackTable",
    "Tracker",
    "TrackerConfig",
    "TrackingResult",
    "radar_from_arrays",
    "track_sequence",
]
