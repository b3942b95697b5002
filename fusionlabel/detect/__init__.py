"""Detectors: the plugin protocol, the entry-point registry, the safe runner, the built-ins.

Public API (light imports only: no torch, no open3d at import time)::

    from fusionlabel.detect import (
        Detector, BatchDetector, DetectorInfo, Detections,        # the protocol and its values
        discover, list_detectors, create_detector,                # the registry
        DetectorRunner, load_detectors, run_detectors,            # safe invocation
        PluginError, ...                                          # typed errors
    )

Built-ins register through the same ``fusionlabel.detectors`` entry-point group as plugins:
``geometric`` (:mod:`fusionlabel.detect.geometric`) and ``pillars``.
"""

from __future__ import annotations

from fusionlabel.core.points import lidar_points_ego
from fusionlabel.detect.api import (
    ENTRY_POINT_GROUP,
    BatchDetector,
    Detections,
    Detector,
    DetectorFactory,
    DetectorInfo,
    frame_has,
    validate_detections,
)
from fusionlabel.detect.errors import (
    DetectorInputError,
    PluginError,
    PluginImportError,
    PluginOutputError,
    PluginRuntimeError,
    PluginTimeoutError,
    UnknownDetectorError,
)
from fusionlabel.detect.registry import (
    DetectorEntry,
    DetectorStatus,
    create_detector,
    discover,
    list_detectors,
    load_factory,
)
from fusionlabel.detect.runner import DEFAULT_TIMEOUT_S, DetectorRunner, FrameResult, load_detectors, run_detectors

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "ENTRY_POINT_GROUP",
    "BatchDetector",
    "Detections",
    "Detector",
    "DetectorEntry",
    "DetectorFactory",
    "DetectorInfo",
    "DetectorInputError",
    "DetectorRunner",
    "DetectorStatus",
    "FrameResult",
    "PluginError",
    "PluginImportError",
    "PluginOutputError",
    "PluginRuntimeError",
    "PluginTimeoutError",
    "UnknownDetectorError",
    "create_detector",
    "discover",
    "frame_has",
    "lidar_points_ego",
    "list_detectors",
    "load_detectors",
    "load_factory",
    "run_detectors",
    "validate_detections",
]
