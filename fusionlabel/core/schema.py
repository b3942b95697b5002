"""A project's label schema: its classes (colour, size prior) and attributes (type, values, scope).

The schema is a small YAML file per project (read by :mod:`fusionlabel.io.label_schema`, which
gives this module the parsed mapping and the line of every key); this module builds the
:class:`LabelSchema` value from it, refusing any mistake with a :class:`SchemaError` that names
the file, the line and, for a misspelt key or class, the nearest valid spelling. It also checks
labels against a schema (:func:`validate_labels`): classes outside it, attribute values outside
their type or list, a per-track attribute that changes along its track.

Attribute values live in each box's ``attributes`` under the attribute's name; a ``track``
attribute has the same value on every box of the track (the editor writes them all at once,
:func:`fusionlabel.core.edits.set_track_attribute`), a ``frame`` attribute may change per box.

Schema layout (the mapping :func:`schema_from_dict` takes)::

    version: 1
    classes:
      Car: {color: "#3a86ff", size: [4.2, 1.8, 1.55], min: [3.2, 1.4, 1.2], max: [5.6, 2.2, 2.1]}
      Pedestrian: {}                # a known class: its colour and sizes default
    attributes:
      occlusion:
        type: enum                  # enum, bool, int, float or text
        values: [visible, partly, largely, unknown]
        default: visible
        scope: frame                # frame (per box) or track (one value per track)
        classes: [Car, Pedestrian]  # which classes have it (default: all)
        export: {kitti: {occluded: {visible: 0, partly: 1, largely: 2, unknown: 3}}}

Example
-------
>>> s = schema_from_dict({"classes": {"Car": {}}, "attributes": {"parked": {"type": "bool", "scope": "track"}}})
>>> s.class_names, s.size_class("Car").prior, s.attribute("parked").check("yes")
(('Car',), (4.2, 1.8, 1.55), "'yes' is not true or false")
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionlabel.core.errors import DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.size_priors import SIZE_PRIORS, SizeClass, size_class

SCHEMA_VERSION = 1
ATTRIBUTE_TYPES = ("enum", "bool", "int", "float", "text")
SCOPES = ("frame", "track")
#: box attributes the editor itself keeps: a schema may not define them
RESERVED = ("state", "keyframe", "interpolated")
#: the formats with a place for a schema attribute, and where it goes (see ``docs/app.md``)
EXPORT_TARGETS = {"kitti": ("occluded", "truncated"), "nuscenes": ()}
_TOP_KEYS = ("version", "classes", "attributes")
_CLASS_KEYS = ("color", "size", "min", "max", "description")
_ATTR_KEYS = ("type", "values", "default", "scope", "classes", "range", "export", "description")
#: colours of classes that give none (RGB 0..255), in order
PALETTE = (
    (58, 134, 255),
    (255, 190, 11),
    (251, 86, 7),
    (131, 56, 236),
    (255, 0, 110),
    (6, 214, 160),
    (239, 71, 111),
    (17, 138, 178),
    (160, 160, 160),
)

Key = tuple[str | int, ...]


class SchemaError(DataError):
    """A label schema file that cannot be used: names the file, the line and what is wrong."""

    def __init__(self, path: str | Path, reason: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(path, f"line {line}: {reason}" if line else reason)


@dataclass(frozen=True)
class ClassSpec:
    """One class: ``name``, display ``color`` (RGB 0..255) and sizes (:class:`SizeClass`)."""

    name: str
    color: tuple[int, int, int]
    size: SizeClass
    description: str = ""


@dataclass(frozen=True)
class AttributeSpec:
    """One attribute.

    name : the key in a box's ``attributes``; type : one of :data:`ATTRIBUTE_TYPES`
    values : the allowed values of an ``enum`` (strings or numbers), in display order
    default : the value a new box gets (None: unset); scope : ``frame`` or ``track``
    classes : the classes that have it (empty: all); range : ``(lo, hi)`` of an int/float
    export : format -> where it goes (``{"kitti": {"occluded": {value: level}}}``,
        ``{"nuscenes": {value: nuScenes attribute}}``)
    """

    name: str
    type: str
    values: tuple[Any, ...] = ()
    default: Any = None
    scope: str = "frame"
    classes: tuple[str, ...] = ()
    range: tuple[float, float] | None = None
    export: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def applies_to(self, category: str) -> bool:
        return not self.classes or category in self.classes

    def check(self, value: Any) -> str | None:
        """None when ``value`` is valid, else the reason (one line)."""
        if self.type == "enum":
            if not any(_same_value(value, v) for v in self.values):
                return f"{value!r} is not one of {list(self.values)}"
            return None
        if self.type == "bool":
            return None if isinstance(value, bool) else f"{value!r} is not true or false"
        if self.type == "text":
            return None if isinstance(value, str) else f"{value!r} is not text"
        is_num = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.type == "int" and not (is_num and float(value).is_integer()):
            return f"{value!r} is not a whole number"
        if self.type == "float" and not (is_num and math.isfinite(float(value))):
            return f"{value!r} is not a finite number"
        if self.range is not None and not (self.range[0] <= float(value) <= self.range[1]):
            return f"{value!r} is outside [{self.range[0]:g}, {self.range[1]:g}]"
        return None

    def coerce(self, value: Any) -> Any:
        """``value`` (e.g. typed text) as this attribute's type; ValueError with the reason when invalid."""
        v = value
        if isinstance(value, str) and self.type != "text":
            s = value.strip()
            if self.type == "bool":
                low = s.lower()
                if low in ("true", "yes", "1"):
                    v = True
                elif low in ("false", "no", "0"):
                    v = False
            elif self.type == "int":
                try:
                    v = int(s)
                except ValueError:
                    pass
            elif self.type == "float":
                try:
                    v = float(s)
                except ValueError:
                    pass
            elif self.type == "enum":
                for allowed in self.values:
                    if str(allowed) == s:
                        v = allowed
                        break
        if self.type == "float" and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        reason = self.check(v)
        if reason is not None:
            raise ValueError(f"attribute {self.name!r}: {reason}")
        return v


@dataclass(frozen=True)
class LabelSchema:
    """Classes and attributes of a project (see the module docstring); ``source`` is its file."""

    classes: tuple[ClassSpec, ...]
    attributes: tuple[AttributeSpec, ...] = ()
    source: Path | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    def class_spec(self, name: str) -> ClassSpec | None:
        for c in self.classes:
            if c.name == name:
                return c
        return None

    def size_class(self, name: str) -> SizeClass:
        """The class's sizes: the schema's, else the built-in prior, else ``Misc``'s."""
        spec = self.class_spec(name)
        if spec is not None:
            return spec.size
        sc = size_class(name) or size_class("Misc")
        assert sc is not None  # Misc is always a built-in prior
        return sc

    def color(self, name: str) -> tuple[int, int, int] | None:
        spec = self.class_spec(name)
        return spec.color if spec is not None else None

    def attribute(self, name: str) -> AttributeSpec | None:
        for a in self.attributes:
            if a.name == name:
                return a
        return None

    def attributes_for(self, category: str) -> tuple[AttributeSpec, ...]:
        return tuple(a for a in self.attributes if a.applies_to(category))

    def defaults_for(self, category: str) -> dict[str, Any]:
        """The attribute values a new box of ``category`` starts with."""
        return {a.name: a.default for a in self.attributes_for(category) if a.default is not None}

    def to_dict(self) -> dict[str, Any]:
        """The mapping :func:`schema_from_dict` reads back to an equal schema (``source`` aside)."""
        classes: dict[str, Any] = {}
        for c in self.classes:
            s = c.size
            classes[c.name] = {
                "color": "#{:02x}{:02x}{:02x}".format(*c.color),
                "size": list(s.prior),
                "min": list(s.minimum),
                "max": list(s.maximum),
            }
            if c.description:
                classes[c.name]["description"] = c.description
        attrs: dict[str, Any] = {}
        for a in self.attributes:
            d: dict[str, Any] = {"type": a.type}
            if a.values:
                d["values"] = list(a.values)
            if a.default is not None:
                d["default"] = a.default
            d["scope"] = a.scope
            if a.classes:
                d["classes"] = list(a.classes)
            if a.range is not None:
                d["range"] = list(a.range)
            if a.export:
                exp = _plain(a.export)
                kitti = exp.get("kitti")
                if isinstance(kitti, dict) and len(kitti) == 1 and next(iter(kitti.values())) is None:
                    exp["kitti"] = next(iter(kitti))  # {"truncated": None} is written as "truncated"
                d["export"] = exp
            if a.description:
                d["description"] = a.description
            attrs[a.name] = d
        return {"version": SCHEMA_VERSION, "classes": classes, "attributes": attrs}


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _same_value(a: Any, b: Any) -> bool:
    """Equal and of the same kind (``True`` is not ``1``, ``"1"`` is not ``1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def _suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Reader:
    """Walks the mapping, raising :class:`SchemaError` with the line of the offending key."""

    def __init__(self, path: Path, line_of: Callable[[Key], int | None] | None) -> None:
        self.path = path
        self.line_of = line_of or (lambda _k: None)

    def fail(self, key: Key, reason: str) -> SchemaError:
        line = None
        k = key
        while line is None and k:  # the key itself, else its nearest parent with a line
            line = self.line_of(k)
            k = k[:-1]
        return SchemaError(self.path, reason, line)

    def mapping(self, v: Any, key: Key, what: str) -> Mapping[str, Any]:
        if v is None:
            return {}
        if not isinstance(v, Mapping):
            raise self.fail(key, f"{what} must be a mapping (name: value), got {type(v).__name__}")
        return v

    def keys(self, m: Mapping[str, Any], allowed: Sequence[str], key: Key, what: str) -> None:
        for k in m:
            if k not in allowed:
                raise self.fail(
                    (*key, k), f"unknown key {k!r} in {what}{_suggest(k, allowed)}; allowed: {', '.join(allowed)}"
                )

    def triple(self, v: Any, key: Key, what: str) -> tuple[float, float, float]:
        ok = isinstance(v, (list, tuple)) and len(v) == 3
        vals: list[float] = []
        if ok:
            for x in v:
                if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
                    ok = False
                    break
                vals.append(float(x))
        if not ok:
            raise self.fail(key, f"{what} must be three positive numbers [length, width, height] in metres, got {v!r}")
        return (vals[0], vals[1], vals[2])

    def color(self, v: Any, key: Key) -> tuple[int, int, int]:
        if isinstance(v, str):
            s = v.strip().lstrip("#")
            if len(s) == 6:
                try:
                    return (int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16))
                except ValueError:
                    pass
        elif isinstance(v, (list, tuple)) and len(v) == 3 and all(isinstance(x, int) and 0 <= x <= 255 for x in v):
            return (int(v[0]), int(v[1]), int(v[2]))
        raise self.fail(key, f"color must be '#rrggbb' or [r, g, b] with 0..255, got {v!r}")


def schema_from_dict(
    d: Any, path: str | Path = "<schema>", line_of: Callable[[Key], int | None] | None = None
) -> LabelSchema:
    """Build and check a :class:`LabelSchema` from its parsed YAML/JSON mapping.

    Parameters
    ----------
    d : the mapping (module docstring)
    path : the file, for errors
    line_of : ``key path -> 1-based line`` of the file (``("attributes", "motion", "values")``),
        so errors name the line; None: errors name no line

    Raises
    ------
    SchemaError : anything wrong, naming the file, the line and the nearest valid spelling
    """
    r = _Reader(Path(path), line_of)
    top = r.mapping(d, (), "the schema")
    r.keys(top, _TOP_KEYS, (), "the schema")
    version = top.get("version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise r.fail(("version",), f"schema version {version!r} is not supported (this FusionLabel reads 1)")
    raw_classes = r.mapping(top.get("classes"), ("classes",), "classes")
    if not raw_classes:
        raise r.fail(("classes",), "the schema names no classes")
    classes: list[ClassSpec] = []
    for i, (name, body) in enumerate(raw_classes.items()):
        name = str(name)
        key: Key = ("classes", name)
        m = r.mapping(body, key, f"class {name!r}")
        r.keys(m, _CLASS_KEYS, key, f"class {name!r}")
        known = size_class(name)
        if "size" in m:
            prior = r.triple(m["size"], (*key, "size"), f"class {name!r}: size")
        elif known is not None:
            prior = known.prior
        else:
            raise r.fail(key, f"class {name!r} is not a built-in class: give its size [length, width, height]")
        lo = r.triple(m["min"], (*key, "min"), f"class {name!r}: min") if "min" in m else None
        hi = r.triple(m["max"], (*key, "max"), f"class {name!r}: max") if "max" in m else None
        if lo is None:
            lo = known.minimum if known is not None and "size" not in m else tuple(0.5 * p for p in prior)  # type: ignore[assignment]
        if hi is None:
            hi = known.maximum if known is not None and "size" not in m else tuple(2.0 * p for p in prior)  # type: ignore[assignment]
        assert lo is not None and hi is not None
        for j, axis in enumerate(("length", "width", "height")):
            if not lo[j] <= prior[j] <= hi[j]:
                raise r.fail(
                    key, f"class {name!r}: {axis} needs min <= size <= max, got {lo[j]:g}, {prior[j]:g}, {hi[j]:g}"
                )
        sc = SizeClass(
            name,
            (lo[0], hi[0]),
            (lo[1], hi[1]),
            (lo[2], hi[2]),
            prior,
            known.bias if known is not None else 0.0,
        )
        color = r.color(m["color"], (*key, "color")) if "color" in m else PALETTE[i % len(PALETTE)]
        classes.append(ClassSpec(name, color, sc, str(m.get("description", ""))))
    names = tuple(c.name for c in classes)
    attrs = [
        _attribute(r, str(name), body, names)
        for name, body in r.mapping(top.get("attributes"), ("attributes",), "attributes").items()
    ]
    return LabelSchema(tuple(classes), tuple(attrs), Path(path) if str(path) != "<schema>" else None)


def _attribute(r: _Reader, name: str, body: Any, class_names: tuple[str, ...]) -> AttributeSpec:
    key: Key = ("attributes", name)
    if name in RESERVED:
        raise r.fail(key, f"attribute name {name!r} is reserved by the editor ({', '.join(RESERVED)})")
    m = r.mapping(body, key, f"attribute {name!r}")
    r.keys(m, _ATTR_KEYS, key, f"attribute {name!r}")
    typ = m.get("type")
    if typ not in ATTRIBUTE_TYPES:
        raise r.fail(
            (*key, "type") if "type" in m else key,
            f"attribute {name!r}: type must be one of {', '.join(ATTRIBUTE_TYPES)}, got {typ!r}"
            + (_suggest(str(typ), ATTRIBUTE_TYPES) if typ is not None else ""),
        )
    values: tuple[Any, ...] = ()
    if typ == "enum":
        raw = m.get("values")
        if not isinstance(raw, (list, tuple)) or not raw:
            raise r.fail(
                (*key, "values") if "values" in m else key, f"attribute {name!r}: an enum needs a list of values"
            )
        for j, v in enumerate(raw):
            if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                raise r.fail((*key, "values", j), f"attribute {name!r}: value {v!r} must be text or a number")
        values = tuple(raw)
        if len({(type(v).__name__, v) for v in values}) != len(values):
            raise r.fail((*key, "values"), f"attribute {name!r}: a value is listed twice")
    elif "values" in m:
        raise r.fail((*key, "values"), f"attribute {name!r}: only an enum has values (type is {typ})")
    scope = m.get("scope", "frame")
    if scope not in SCOPES:
        raise r.fail(
            (*key, "scope"),
            f"attribute {name!r}: scope must be frame or track, got {scope!r}{_suggest(str(scope), SCOPES)}",
        )
    cls = m.get("classes", ())
    if isinstance(cls, str):
        cls = (cls,)
    if not isinstance(cls, (list, tuple)):
        raise r.fail((*key, "classes"), f"attribute {name!r}: classes must be a list of class names")
    for j, c in enumerate(cls):
        if c not in class_names:
            raise r.fail(
                (*key, "classes", j), f"attribute {name!r}: unknown class {c!r}{_suggest(str(c), class_names)}"
            )
    rng: tuple[float, float] | None = None
    if "range" in m:
        v = m["range"]
        if typ not in ("int", "float"):
            raise r.fail((*key, "range"), f"attribute {name!r}: only an int or float has a range")
        if (
            not isinstance(v, (list, tuple))
            or len(v) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
            or v[0] > v[1]
        ):
            raise r.fail((*key, "range"), f"attribute {name!r}: range must be [low, high], got {v!r}")
        rng = (float(v[0]), float(v[1]))
    export = _export(r, name, m.get("export"), (*key, "export"), typ, values)
    spec = AttributeSpec(
        name, str(typ), values, None, str(scope), tuple(str(c) for c in cls), rng, export, str(m.get("description", ""))
    )
    if "default" in m and m["default"] is not None:
        reason = spec.check(m["default"] if typ != "float" or isinstance(m["default"], bool) else _num(m["default"]))
        if reason is not None:
            raise r.fail((*key, "default"), f"attribute {name!r}: default {reason}")
        default = float(m["default"]) if typ == "float" else m["default"]
        spec = AttributeSpec(
            spec.name,
            spec.type,
            spec.values,
            default,
            spec.scope,
            spec.classes,
            spec.range,
            spec.export,
            spec.description,
        )
    return spec


def _num(v: Any) -> Any:
    return float(v) if isinstance(v, int) else v


def _export(r: _Reader, name: str, raw: Any, key: Key, typ: Any, values: tuple[Any, ...]) -> dict[str, Any]:
    m = r.mapping(raw, key, f"attribute {name!r}: export")
    r.keys(m, tuple(EXPORT_TARGETS), key, f"attribute {name!r}: export")
    out: dict[str, Any] = {}
    for fmt, target in m.items():
        k = (*key, fmt)
        if fmt == "kitti":
            fields = EXPORT_TARGETS["kitti"]
            if isinstance(target, str):
                if target not in fields:
                    raise r.fail(
                        k,
                        f"attribute {name!r}: KITTI has {' and '.join(fields)}, not {target!r}{_suggest(target, fields)}",
                    )
                out[fmt] = {target: None}
            elif isinstance(target, Mapping) and len(target) == 1:
                ((fld, vmap),) = target.items()
                if fld not in fields:
                    raise r.fail(
                        k,
                        f"attribute {name!r}: KITTI has {' and '.join(fields)}, not {fld!r}{_suggest(str(fld), fields)}",
                    )
                vm = r.mapping(vmap, (*k, fld), f"attribute {name!r}: KITTI {fld} values")
                _check_mapped_values(r, name, vm, (*k, fld), values)
                out[fmt] = {fld: dict(vm)}
            else:
                raise r.fail(
                    k, f"attribute {name!r}: kitti export is 'occluded', 'truncated' or {{field: {{value: number}}}}"
                )
        else:  # nuscenes: value -> nuScenes attribute name
            vm = r.mapping(target, k, f"attribute {name!r}: nuScenes attributes")
            _check_mapped_values(r, name, vm, k, values)
            for v, n in vm.items():
                if not isinstance(n, str):
                    raise r.fail((*k, v), f"attribute {name!r}: the nuScenes attribute for {v!r} must be a name")
            out[fmt] = dict(vm)
    return out


def _check_mapped_values(r: _Reader, name: str, vm: Mapping[Any, Any], key: Key, values: tuple[Any, ...]) -> None:
    if not values:
        return
    for v in vm:
        if not any(_same_value(v, a) or str(v) == str(a) for a in values):
            raise r.fail(
                (*key, v),
                f"attribute {name!r}: {v!r} is not one of its values {list(values)}{_suggest(str(v), [str(a) for a in values])}",
            )


@dataclass(frozen=True)
class SchemaIssue:
    """A label that breaks the schema: ``frame`` (0-based index), ``track_id``, the reason."""

    frame: int | None
    track_id: int | None
    message: str

    def text(self, frame_base: int = 1) -> str:
        """One line for a person; frames counted from ``frame_base`` (the window shows 1-based)."""
        where = []
        if self.frame is not None:
            where.append(f"frame {self.frame + frame_base}")
        if self.track_id is not None:
            where.append(f"track {self.track_id}")
        return (", ".join(where) + ": " if where else "") + self.message


def validate_labels(schema: LabelSchema, labels: LabelSet, limit: int = 1000) -> list[SchemaIssue]:
    """Every label that breaks ``schema`` (at most ``limit``), in frame order.

    Checks: a class not in the schema; an attribute of the schema with a value outside its
    type, list or range; a ``track`` attribute with two values along one track. Attributes the
    schema does not name (the editor's own, a dataset's) are not checked; a missing value is
    not an error (not yet set).
    """
    out: list[SchemaIssue] = []
    names = schema.class_names
    seen_class: set[tuple[int, str]] = set()
    track_vals: dict[tuple[int, str], tuple[Any, int]] = {}
    for k, fl in labels.frames.items():
        for j, tid in enumerate(fl.track_ids):
            t = int(tid)
            cat = fl.categories[j]
            if cat not in names and (t, cat) not in seen_class:
                seen_class.add((t, cat))
                out.append(SchemaIssue(k, t, f"class {cat!r} is not in the schema{_suggest(cat, names)}"))
            attrs = fl.attributes[j]
            for spec in schema.attributes:
                if spec.name not in attrs:
                    continue
                v = attrs[spec.name]
                reason = spec.check(v)
                if reason is not None:
                    out.append(SchemaIssue(k, t, f"attribute {spec.name!r}: {reason}"))
                elif spec.scope == "track":
                    prev = track_vals.setdefault((t, spec.name), (v, k))
                    if not _same_value(prev[0], v):
                        out.append(
                            SchemaIssue(
                                k,
                                t,
                                f"track attribute {spec.name!r} is {v!r} here but {prev[0]!r} in frame {prev[1] + 1}",
                            )
                        )
                        track_vals[(t, spec.name)] = (v, k)
            if len(out) >= limit:
                return out[:limit]
    return out


def default_class_specs() -> tuple[ClassSpec, ...]:
    """The built-in classes (:data:`fusionlabel.core.size_priors.SIZE_PRIORS`) in palette colours."""
    return tuple(ClassSpec(sc.name, PALETTE[i % len(PALETTE)], sc) for i, sc in enumerate(SIZE_PRIORS))
