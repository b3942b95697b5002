"""Typed errors of detector plugins.

Every error names the detector and says why, in one line: ``str(err)`` is
``"detector '<name>': <reason>"``. They derive from :class:`PluginError` (itself a
:class:`~fusionlabel.core.errors.FusionLabelError`, so the CLI prints the line and exits 1 when a
command cannot go on without the detector).

Which error means what
----------------------
=========================  ==========================================================================
``PluginImportError``      the entry point's module does not import, its attribute is missing, or the
                           factory raised / returned something that is not a detector
``PluginRuntimeError``     ``detect`` / ``detect_batch`` raised
``PluginTimeoutError``     a call did not return within its deadline (the detector is then disabled)
``PluginOutputError``      the call returned malformed output (wrong type or shape, NaN, size <= 0,
                           score outside [0, 1], an undeclared class)
``DetectorInputError``     the frame lacks a sensor the detector requires (not the plugin's fault)
``UnknownDetectorError``   no detector of that name is registered
=========================  ==========================================================================

Example
-------
>>> str(PluginTimeoutError("slow", "detect took longer than 2.0 s"))
"detector 'slow': detect took longer than 2.0 s"
"""

from __future__ import annotations

from fusionlabel.core.errors import FusionLabelError


class PluginError(FusionLabelError):
    """A detector plugin could not be used.

    Parameters
    ----------
    name
        The detector's registered name (the entry-point name).
    reason
        One line, for a human: what went wrong.
    """

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"detector {name!r}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # picklable across process pools
        return (type(self), (self.name, self.reason))


class PluginImportError(PluginError):
    """The plugin's module, attribute or factory failed (``fusionlabel plugins``: "failed to import")."""


class PluginRuntimeError(PluginError):
    """``detect`` or ``detect_batch`` raised an exception."""


class PluginTimeoutError(PluginError):
    """A call ran past its deadline. The runner disables the detector afterwards."""


class PluginOutputError(PluginError):
    """The detector returned malformed output."""


class DetectorInputError(PluginError):
    """The frame does not hold the sensor data the detector declares it needs."""


class UnknownDetectorError(PluginError):
    """No detector of this name is registered in the ``fusionlabel.detectors`` group."""
