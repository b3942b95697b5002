"""Synthetic recordings with exact ground truth.

:func:`generate` writes a native recording (LiDAR, cameras, radar, ego poses, labels) of a random
but reproducible street scene: the same arguments give byte-identical files.

Modules: :mod:`.world` (the road frame, motion models, actors and structures: values only),
:mod:`.street` (layout and static structures), :mod:`.placement` (collision-free placement),
:mod:`.scenario` (the scene generator: ego, street, agents by role), :mod:`.geometry` (meshes,
ray casting, visibility), :mod:`.lidar`, :mod:`.camera`, :mod:`.radar` (sensor models),
:mod:`.generate` (the recording writer).

Example
-------
>>> from fusionlabel.synth import generate
>>> generate("/tmp/synth_seed0", frames=20, seed=0)                     # doctest: +SKIP
PosixPath('/tmp/synth_seed0')
"""

from __future__ import annotations

from fusionlabel.synth.generate import generate, make_rig
from fusionlabel.synth.scenario import make_scenario
from fusionlabel.synth.world import Scenario

__all__ = ["Scenario", "generate", "make_rig", "make_scenario"]
