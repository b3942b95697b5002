"""Importers and exporters of the labelling tools teams use (one module per tool).

Each module reads its tool's own label files into a :class:`~fusionlabel.core.labels.LabelSet`
in the ego frame and writes them back where the tool can read ours; the
:class:`~fusionlabel.io.label_formats.LabelFormat` strategies registered in
:data:`fusionlabel.io.label_formats.FORMATS` call them. Shared parsing, error and geometry
helpers live in :mod:`fusionlabel.io.tools.common`. Conventions per tool:
``docs/label_formats.md``.
"""
