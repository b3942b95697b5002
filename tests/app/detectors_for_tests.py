"""Detectors the app tests send to the pre-labelling worker process (module level, so they pickle)."""

from __future__ import annotations

import time

import numpy as np

from fusionlabel.detect.api import Detections, DetectorInfo


class Broken:
    """Fails on every frame, like a plugin running out of GPU memory."""

    info = DetectorInfo("broken", ("Car",))

    def detect(self, frame, rig):
        raise RuntimeError("CUDA out of memory (simulated)")


class Slow:
    """Finds nothing, slowly: time to cancel it."""

    info = DetectorInfo("slow", ("Car",))

    def detect(self, frame, rig):
        time.sleep(0.4)
        return Detections.from_arrays(np.zeros((0, 7)), [], [])
