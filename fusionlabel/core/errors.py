"""Typed errors. Every error about a file names the file and the reason."""

from __future__ import annotations

from pathlib import Path


class FusionLabelError(Exception):
    """Base class of all errors FusionLabel raises on purpose."""


class DataError(FusionLabelError):
    """A file (or folder) could not be used.

    Parameters
    ----------
    path
        The offending file.
    reason
        One line, for a human: what is wrong with it.

    ``str(err)`` is ``"<path>: <reason>"``, the line the CLI prints.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class CorruptFileError(DataError):
    """The file exists but its content is malformed, truncated or undecodable."""


class CalibrationError(DataError):
    """A calibration is missing, incomplete or inconsistent."""


class TimeOrderError(DataError):
    """A recording's frames are not in strictly increasing time order (samples out of order, or
    two frames with the same timestamp): whatever follows the order of frames (tracking) refuses it."""


class UnsupportedFormatError(DataError):
    """No reader recognises this path, or a record type cannot be decoded."""


class ManifestError(DataError):
    """A recording manifest is invalid (bad schema, paths escaping the folder...)."""


class WriteError(DataError, OSError):
    """A file could not be written: no space left, permission denied, a read-only folder.

    Raised by :mod:`fusionlabel.core.atomic` after it has removed its temp file: the file it was
    replacing is left as it was. It is also an :class:`OSError` (``errno`` set), so code that
    catches either keeps working.
    """

    def __init__(self, path: str | Path, reason: str, errno: int | None = None) -> None:
        super().__init__(path, reason)
        self.errno = errno


class ConcurrentEditError(DataError):
    """A file changed on disk since it was read (another session or a pre-label run wrote it):
    writing now would silently drop that writer's work, so nothing is written."""


class EditingElsewhereError(DataError):
    """The label file is open for editing in another FusionLabel window (one at a time: two
    sessions on one file would each journal over the other's unsaved work)."""
