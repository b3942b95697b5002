"""The label schema file (``label_schema.yaml``): read with line numbers, write, find, export.

A project keeps its classes and attributes in one small YAML file (layout:
:mod:`fusionlabel.core.schema`, documented in ``docs/app.md``). :func:`read_schema` parses it
keeping the line of every key, so a typo is refused as ``<file>: line 12: unknown key 'colour'
in class 'Car' (did you mean 'color'?)``. :func:`find_schema` looks for the file beside the
label file, then in the recording's folder; without one the app uses :func:`default_schema`.

:func:`labels_for_export` puts the schema's attribute values where a format has a place for
them: KITTI's ``occluded`` / ``truncated`` columns, nuScenes' attribute table (a box's
``attributes["attributes"]``, which the nuScenes export prefers over its speed rule).
OpenLABEL keeps every attribute (per-box ``attributes`` of the cuboid; per-track ones in the
object's static ``object_data``, :func:`track_attributes`).

Example
-------
>>> s = parse_schema_text("classes:\\n  Car: {}\\nattributes:\\n  parked: {type: bool, scope: track}\\n")
>>> s.class_names, s.attribute("parked").scope
(('Car',), 'track')
>>> parse_schema_text("classes:\\n  Car: {colour: red}\\n", "s.yaml")
Traceback (most recent call last):
...
fusionlabel.core.schema.SchemaError: s.yaml: line 2: unknown key 'colour' in class 'Car' (did you mean 'color'?); allowed: color, size, min, max, description
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.schema import Key, LabelSchema, SchemaError, schema_from_dict

#: the schema's file name in a project (beside the label file or in the recording's folder)
SCHEMA_FILE = "label_schema.yaml"

#: the schema a project without its own file gets (also what "Edit schema" starts from)
DEFAULT_SCHEMA_YAML = """\
# FusionLabel label schema (docs/app.md, "The label schema")
version: 1
classes:
  Car:        {color: "#3a86ff", size: [4.2, 1.8, 1.55], min: [3.2, 1.4, 1.2], max: [5.6, 2.2, 2.1]}
  Van:        {color: "#8338ec", size: [5.1, 1.95, 2.15], min: [4.2, 1.7, 1.8], max: [6.5, 2.3, 2.8]}
  Truck:      {color: "#fb5607", size: [8.0, 2.5, 3.2], min: [5.5, 2.0, 2.3], max: [12.5, 2.9, 4.2]}
  Bus:        {color: "#ffbe0b", size: [11.0, 2.8, 3.3], min: [8.0, 2.4, 2.7], max: [14.0, 3.0, 4.0]}
  Pedestrian: {color: "#ff006e", size: [0.7, 0.6, 1.75], min: [0.3, 0.3, 1.0], max: [1.1, 0.9, 2.1]}
  Cyclist:    {color: "#06d6a0", size: [1.8, 0.6, 1.7], min: [1.3, 0.4, 1.1], max: [2.1, 0.9, 2.1]}
  Motorcycle: {color: "#118ab2", size: [2.1, 0.8, 1.5], min: [1.5, 0.5, 1.0], max: [2.6, 1.1, 1.9]}
  Tram:       {color: "#ef476f", size: [25.0, 2.6, 3.5], min: [10.0, 2.2, 2.8], max: [40.0, 3.0, 4.0]}
  Misc:       {color: "#a0a0a0", size: [1.0, 1.0, 1.0], min: [0.2, 0.2, 0.2], max: [12.0, 4.0, 4.5]}
attributes:
  occlusion:
    type: enum
    values: [visible, partly, largely, unknown]
    scope: frame
    description: how much of the object other objects hide (KITTI's occluded levels 0-3)
    export: {kitti: {occluded: {visible: 0, partly: 1, largely: 2, unknown: 3}}}
  truncation:
    type: float
    range: [0, 1]
    scope: frame
    description: the fraction of the object outside the image
    export: {kitti: truncated}
  motion:
    type: enum
    values: [moving, stopped, parked]
    scope: frame
    classes: [Car, Van, Truck, Bus, Motorcycle, Tram]
    export: {nuscenes: {moving: vehicle.moving, stopped: vehicle.stopped, parked: vehicle.parked}}
  rider:
    type: enum
    values: [with_rider, without_rider]
    scope: track
    classes: [Cyclist, Motorcycle]
    export: {nuscenes: {with_rider: cycle.with_rider, without_rider: cycle.without_rider}}
  pose:
    type: enum
    values: [moving, standing, sitting_lying_down]
    scope: frame
    classes: [Pedestrian]
    export:
      nuscenes: {moving: pedestrian.moving, standing: pedestrian.standing, sitting_lying_down: pedestrian.sitting_lying_down}
"""


def _line_map(node: yaml.Node, prefix: Key, out: dict[tuple[str, ...], int]) -> None:
    """key path (as strings) -> 1-based line of the key (mappings) or item (sequences)."""
    if isinstance(node, yaml.MappingNode):
        for kn, vn in node.value:
            key = (*prefix, str(kn.value))
            out[tuple(str(k) for k in key)] = kn.start_mark.line + 1
            _line_map(vn, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = (*prefix, i)
            out[tuple(str(k) for k in key)] = item.start_mark.line + 1
            _line_map(item, key, out)


def parse_schema_text(text: str, path: str | Path = "<schema>") -> LabelSchema:
    """A schema from YAML text; :class:`SchemaError` naming ``path`` and the line of any mistake."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SchemaError(path, f"not valid YAML: {problem}", mark.line + 1 if mark is not None else None) from None
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _line_map(node, (), lines)

    def line_of(key: Key) -> int | None:
        return lines.get(tuple(str(k) for k in key))

    schema = schema_from_dict(data, path, line_of)
    _check_nuscenes_names(schema, path, line_of)
    return schema


def _check_nuscenes_names(schema: LabelSchema, path: str | Path, line_of: Any) -> None:
    from fusionlabel.io.nuscenes_taxonomy import NUSCENES_ATTRIBUTES

    for a in schema.attributes:
        for value, name in (a.export.get("nuscenes") or {}).items():
            if name not in NUSCENES_ATTRIBUTES:
                import difflib

                close = difflib.get_close_matches(name, list(NUSCENES_ATTRIBUTES), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise SchemaError(
                    path,
                    f"attribute {a.name!r}: {name!r} is not a nuScenes attribute{hint}",
                    line_of(("attributes", a.name, "export", "nuscenes", value))
                    or line_of(("attributes", a.name, "export")),
                )


def read_schema(path: str | Path) -> LabelSchema:
    """Read a ``label_schema.yaml``; :class:`SchemaError` (a DataError) naming the file and line."""
    from fusionlabel.core.textfile import read_text

    p = Path(path)
    return parse_schema_text(read_text(p, "label schema", SchemaError), p)


def default_schema() -> LabelSchema:
    """The built-in schema (:data:`DEFAULT_SCHEMA_YAML`)."""
    return parse_schema_text(DEFAULT_SCHEMA_YAML, "<built-in schema>")


def schema_to_yaml(schema: LabelSchema) -> str:
    """YAML text that :func:`parse_schema_text` reads back to an equal schema."""
    return "# FusionLabel label schema (docs/app.md)\n" + yaml.safe_dump(
        schema.to_dict(), sort_keys=False, default_flow_style=None, allow_unicode=True
    )


def write_schema_text(path: str | Path, text: str) -> LabelSchema:
    """Check ``text`` and write it atomically at ``path``; nothing is written when it is invalid.

    Returns the schema read from it; raises :class:`SchemaError` (naming ``path`` and the line)
    or a :class:`fusionlabel.core.errors.WriteError`/``OSError`` when the folder is not writable.
    """
    from fusionlabel.core.atomic import atomic_write_text

    p = Path(path)
    schema = parse_schema_text(text, p)
    atomic_write_text(p, text if text.endswith("\n") else text + "\n")
    return replace(schema, source=p)


def find_schema(folders: Iterable[str | Path | None]) -> Path | None:
    """The first ``label_schema.yaml`` in ``folders`` (None entries skipped), or None."""
    for f in folders:
        if f is None:
            continue
        p = Path(f) / SCHEMA_FILE
        if p.is_file():
            return p
    return None


# -- export ---------------------------------------------------------------------------------------
def labels_for_export(labels: LabelSet, schema: LabelSchema | None, fmt: str) -> LabelSet:
    """``labels`` with the schema's attributes put where format ``fmt`` has a place for them.

    * ``kitti``: an attribute exported as ``occluded`` / ``truncated`` sets that KITTI column
      (through its value map, e.g. ``partly -> 1``), instead of the one computed from the geometry;
    * ``nuscenes`` / ``nuscenes-tracking``: an attribute with a nuScenes map gives the box its
      nuScenes attribute (``attributes["attributes"]``, preferred by the export over the speed rule);
    * other formats keep every attribute as it is.

    Boxes without a value keep what the format computes. ``labels`` itself is not changed.
    """
    if schema is None or not schema.attributes:
        return labels
    key = "nuscenes" if fmt.startswith("nuscenes") else fmt
    specs = [a for a in schema.attributes if key in a.export]
    if not specs:
        return labels
    frames: dict[int, FrameLabels] = {}
    for k, fl in labels.frames.items():
        attrs = []
        for j, a in enumerate(fl.attributes):
            d = dict(a)
            for spec in specs:
                if spec.name not in a or not spec.applies_to(fl.categories[j]):
                    continue
                v = a[spec.name]
                target = spec.export[key]
                if key == "kitti":
                    ((fld, vmap),) = target.items()
                    out = v if vmap is None else _lookup(vmap, v)
                    if out is not None:
                        d[fld] = int(out) if fld == "occluded" else float(out)
                else:
                    name = _lookup(target, v)
                    if name is not None:
                        given = [x for x in (d.get("attributes") or []) if x != name]
                        d["attributes"] = [name, *given]
            attrs.append(d)
        frames[k] = replace(fl, attributes=tuple(attrs))
    return LabelSet(frames)


def _lookup(mapping: Any, value: Any) -> Any:
    for k, v in mapping.items():
        if k == value or str(k) == str(value):
            return v
    return None


def track_attributes(labels: LabelSet, schema: LabelSchema | None) -> dict[int, dict[str, Any]]:
    """track id -> the values of the schema's ``track`` attributes (from the track's first box
    that has each): what OpenLABEL stores once per object, as static ``object_data``."""
    if schema is None:
        return {}
    names = [a.name for a in schema.attributes if a.scope == "track"]
    out: dict[int, dict[str, Any]] = {}
    if not names:
        return out
    for fl in labels.frames.values():
        for j, tid in enumerate(fl.track_ids):
            a = fl.attributes[j]
            for n in names:
                if n in a:
                    out.setdefault(int(tid), {}).setdefault(n, a[n])
    return out
