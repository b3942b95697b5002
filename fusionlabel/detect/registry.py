"""Detector discovery through the ``fusionlabel.detectors`` entry-point group.

A distribution (this project for the built-ins, or any installed plugin package) declares::

    [project.entry-points."fusionlabel.detectors"]
    geometric = "fusionlabel.detect.geometric:create"

:func:`discover` lists the entry points **without importing anything**; a factory's module is
imported only by :func:`load_factory` / :func:`create_detector`, i.e. when that detector is
used (or listed with its details by :func:`list_detectors`). Every failure (module does not
import, attribute missing, factory raises or hangs, returns something that is not a detector)
becomes a :class:`~fusionlabel.detect.errors.PluginImportError` naming the detector and the
reason; :func:`list_detectors` collects them instead of stopping.

Example
-------
>>> [e.name for e in discover() if e.name == "geometric"]
['geometric']
>>> det = create_detector("geometric")
>>> det.info.classes
('Car', 'Van', 'Truck', 'Bus', 'Pedestrian', 'Cyclist')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal

from fusionlabel.detect.api import ENTRY_POINT_GROUP, Detector, DetectorFactory, DetectorInfo
from fusionlabel.detect.deadline import CallTimedOut, call_with_deadline
from fusionlabel.detect.errors import PluginError, PluginImportError, UnknownDetectorError

#: seconds allowed for importing a plugin's module and calling its factory
DEFAULT_LOAD_TIMEOUT_S = 60.0

# Entry-point values whose import timed out in this process. The worker thread still holds the
# module's import lock, so importing it again would block forever: fail fast instead. This is a
# fact about the running interpreter, not configuration.
_HUNG_IMPORTS: set[str] = set()


@dataclass(frozen=True)
class DetectorEntry:
    """One registered detector, known from metadata only (nothing imported).

    Attributes
    ----------
    name : the entry-point name, the detector's registered name
    value : ``"module:attribute"`` of its factory
    distribution : the installed distribution declaring it (None when unknown)
    version : that distribution's version
    """

    name: str
    value: str
    distribution: str | None = None
    version: str | None = None
    entry_point: metadata.EntryPoint | None = field(default=None, compare=False, repr=False)

    @property
    def module(self) -> str:
        return self.value.split(":", 1)[0].strip()


def discover(group: str = ENTRY_POINT_GROUP) -> list[DetectorEntry]:
    """All detectors registered in ``group``, sorted by name; imports no plugin.

    When two distributions register the same name, the first found wins (importlib.metadata's
    ``sys.path`` order), as Python itself resolves modules; :func:`duplicate_names` reports them.
    """
    seen: dict[str, DetectorEntry] = {}
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        dname = dist.metadata["Name"] if dist is not None else None
        entry = DetectorEntry(ep.name, ep.value, dname, dist.version if dist is not None else None, ep)
        seen.setdefault(ep.name, entry)
    return sorted(seen.values(), key=lambda e: e.name)


def duplicate_names(group: str = ENTRY_POINT_GROUP) -> dict[str, list[str]]:
    """Names registered more than once: name -> declaring distributions (first one is used)."""
    by: dict[str, list[str]] = {}
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        by.setdefault(ep.name, []).append(dist.metadata["Name"] if dist is not None else "?")
    return {k: v for k, v in by.items() if len(v) > 1}


def find_entry(name: str, group: str = ENTRY_POINT_GROUP) -> DetectorEntry:
    """The entry named ``name``; :class:`UnknownDetectorError` listing the known names otherwise."""
    entries = discover(group)
    for e in entries:
        if e.name == name:
            return e
    known = ", ".join(e.name for e in entries) or "none"
    raise UnknownDetectorError(name, f"no such detector registered in {group!r} (known: {known})")


def _describe(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0]}" if msg else type(exc).__name__


def load_factory(entry: DetectorEntry, timeout_s: float | None = DEFAULT_LOAD_TIMEOUT_S) -> DetectorFactory:
    """Import ``entry``'s module and return its factory (a callable).

    Raises
    ------
    PluginImportError
        the module raises on import (any exception, ``SystemExit`` included), the attribute is
        missing, the import hangs past ``timeout_s``, or the object is not callable.
    """
    if entry.value in _HUNG_IMPORTS:
        raise PluginImportError(entry.name, f"failed to import {entry.value}: an earlier import hung in this process")
    ep = entry.entry_point or metadata.EntryPoint(entry.name, entry.value, ENTRY_POINT_GROUP)
    try:
        obj = call_with_deadline(ep.load, timeout_s)
    except CallTimedOut as exc:
        _HUNG_IMPORTS.add(entry.value)
        raise PluginImportError(
            entry.name, f"failed to import {entry.value}: import took longer than {exc.timeout_s:g} s"
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise PluginImportError(entry.name, f"failed to import {entry.value}: {_describe(exc)}") from None
    if not callable(obj):
        raise PluginImportError(entry.name, f"{entry.value} is a {type(obj).__name__}, not a factory callable")
    return obj  # type: ignore[no-any-return]


def check_detector(name: str, obj: object) -> DetectorInfo:
    """Check ``obj`` satisfies the :class:`~fusionlabel.detect.api.Detector` protocol; return its info."""
    if not hasattr(type(obj), "info") and "info" not in getattr(obj, "__dict__", {}):
        raise PluginImportError(
            name, f"factory returned a {type(obj).__name__} without an 'info' attribute (a DetectorInfo)"
        )
    try:
        info = obj.info  # type: ignore[attr-defined]
    except Exception as exc:
        raise PluginImportError(name, f"reading info failed: {_describe(exc)}") from None
    if not isinstance(info, DetectorInfo):
        raise PluginImportError(
            name, f"factory returned a {type(obj).__name__} whose info is a {type(info).__name__}, not a DetectorInfo"
        )
    if not callable(getattr(obj, "detect", None)):
        raise PluginImportError(name, f"factory returned a {type(obj).__name__} without a detect(frame, rig) method")
    return info


def create_detector(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    group: str = ENTRY_POINT_GROUP,
    timeout_s: float | None = DEFAULT_LOAD_TIMEOUT_S,
) -> Detector:
    """Import and build the detector registered as ``name``: ``factory(**options)``.

    Raises
    ------
    UnknownDetectorError
        no such name in ``group``.
    PluginImportError
        import, factory or protocol check failed (reason says which).
    """
    entry = find_entry(name, group)
    return create_from_entry(entry, options, timeout_s=timeout_s)


def create_from_entry(
    entry: DetectorEntry, options: Mapping[str, Any] | None = None, *, timeout_s: float | None = DEFAULT_LOAD_TIMEOUT_S
) -> Detector:
    """As :func:`create_detector` for an already discovered entry."""
    factory = load_factory(entry, timeout_s)
    try:
        det = call_with_deadline(factory, timeout_s, **dict(options or {}))
    except CallTimedOut as exc:
        raise PluginImportError(entry.name, f"factory {entry.value} took longer than {exc.timeout_s:g} s") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise PluginImportError(entry.name, f"factory {entry.value} raised {_describe(exc)}") from None
    check_detector(entry.name, det)
    return det  # type: ignore[no-any-return]


@dataclass(frozen=True)
class DetectorStatus:
    """A line of ``fusionlabel plugins``.

    status : ``"ok"`` or ``"failed to import"`` (``reason`` says why; ``info`` is then None)
    """

    entry: DetectorEntry
    status: Literal["ok", "failed to import"]
    reason: str = ""
    info: DetectorInfo | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.entry.name,
            "status": self.status,
            "entry_point": self.entry.value,
            "distribution": self.entry.distribution,
            "version": self.entry.version,
        }
        if self.info is not None:
            d.update({k: v for k, v in self.info.to_dict().items() if k != "name"})
            d["detector_version"] = d.pop("version")
            d["version"] = self.entry.version
        if self.reason:
            d["reason"] = self.reason
        return d


def list_detectors(
    group: str = ENTRY_POINT_GROUP, timeout_s: float | None = DEFAULT_LOAD_TIMEOUT_S
) -> list[DetectorStatus]:
    """Every registered detector with its status; a broken plugin is a status line, never a raise.

    Each detector's factory is imported and called with no options to read its ``info``
    (factories must be cheap: see :mod:`fusionlabel.detect.api`).
    """
    out: list[DetectorStatus] = []
    dups = duplicate_names(group)
    for entry in discover(group):
        try:
            det = create_from_entry(entry, timeout_s=timeout_s)
            info = check_detector(entry.name, det)
        except PluginError as exc:
            out.append(DetectorStatus(entry, "failed to import", exc.reason))
            continue
        note = ""
        if entry.name in dups:
            note = f"name registered by {', '.join(dups[entry.name])}; using {entry.distribution}"
        out.append(DetectorStatus(entry, "ok", note, info))
    return out


def factory_accepts(name: str, option: str, group: str = ENTRY_POINT_GROUP) -> bool:
    """Whether the factory of the detector registered as ``name`` names the keyword ``option`` in
    its signature (a ``**kwargs`` factory may reject it: False); imports the factory's module.
    False when it cannot be inspected."""
    import inspect

    try:
        params = inspect.signature(load_factory(find_entry(name, group))).parameters
    except (PluginError, TypeError, ValueError):
        return False
    return option in params
