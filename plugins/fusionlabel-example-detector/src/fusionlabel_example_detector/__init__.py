"""Example FusionLabel detector plugin (see README.md): vehicles of every size from LiDAR geometry.

The entry point ``example-vehicles`` names :func:`create`. Importing this module is cheap: it
imports only FusionLabel's light modules (numpy, scipy), never torch.
"""

from __future__ import annotations

from fusionlabel_example_detector.detector import VehicleDetector, create

__all__ = ["VehicleDetector", "create"]
