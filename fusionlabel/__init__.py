"""FusionLabel: label 3D sensor-fusion recordings with persistent-ID cuboid tracks.

The package is layered (see ``docs/architecture.md``)::

    core/   data model, geometry, calibration, projection, sync (numpy/scipy only)
    io/     one reader/writer module per format
    synth/  synthetic recordings with exact ground truth
    app/    the PySide6/vispy desktop application (the only Qt importer)
"""

__version__ = "0.1.0"
