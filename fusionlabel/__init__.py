"""FusionLabel: label 3D sensor-fusion recordings with persistent-ID cuboid tracks.

The package is layered (see ``docs/architecture.md``)::

    core/   data model, geometry, calibration, projection, sync (numpy/scipy only)
    io/     one reader/writer module per format
    synth/  synthetic recordings with exact ground truth
    app/    the PySide6/vispy desktop application (the only Qt importer)

Python API
----------
``import fusionlabel`` stays light: the names below load their modules on first use (PEP 562).

* :func:`open_recording` (``fusionlabel.io.open.open_recording``): any supported recording
  (native, KITTI, nuScenes, Argoverse 2, DGP, bags, a folder of point clouds, a SUSTechPOINTS
  scene) as a :class:`Recording`: ``len(rec)``, ``rec.frame(k)``, ``rec.labels``, ``rec.rig``.
* :func:`load_labels` / :func:`save_labels` (:mod:`fusionlabel.io.api`): labels in any format.
* :class:`LabelSet`, :class:`FrameLabels`, :class:`Boxes`, :class:`Recording`: the core types;
  ``labels.to_dataframe()`` gives one row per box (pandas, the optional ``pandas`` extra).
* :data:`SAMPLE`: the small synthetic recording bundled with a source checkout.

>>> import fusionlabel as fl
>>> rec = fl.open_recording(fl.SAMPLE)
>>> rec.format, len(rec), rec.labels.num_boxes
('native', 20, 482)
>>> df = rec.labels.to_dataframe()
>>> len(df), list(df.columns[:6])
(482, ['frame', 'track_id', 'category', 'x', 'y', 'z'])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> (module, attribute), imported on first access
_LAZY: dict[str, tuple[str, str]] = {
    "open_recording": ("fusionlabel.io.open", "open_recording"),
    "load_labels": ("fusionlabel.io.api", "load_labels"),
    "save_labels": ("fusionlabel.io.api", "save_labels"),
    "SAMPLE": ("fusionlabel.io.open", "SAMPLE"),
    "LabelSet": ("fusionlabel.core.labels", "LabelSet"),
    "FrameLabels": ("fusionlabel.core.labels", "FrameLabels"),
    "Boxes": ("fusionlabel.core.boxes", "Boxes"),
    "Recording": ("fusionlabel.core.recording", "Recording"),
}

__all__ = [
    "SAMPLE",
    "Boxes",
    "FrameLabels",
    "LabelSet",
    "Recording",
    "__version__",
    "load_labels",
    "open_recording",
    "save_labels",
]

if TYPE_CHECKING:
    from fusionlabel.core.boxes import Boxes
    from fusionlabel.core.labels import FrameLabels, LabelSet
    from fusionlabel.core.recording import Recording
    from fusionlabel.io.api import load_labels, save_labels
    from fusionlabel.io.open import SAMPLE, open_recording


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'fusionlabel' has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
