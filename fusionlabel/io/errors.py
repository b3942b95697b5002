"""Re-export of the typed errors for I/O code (defined in :mod:`fusionlabel.core.errors`)."""

from fusionlabel.core.errors import (
    CalibrationError,
    CorruptFileError,
    DataError,
    FusionLabelError,
    ManifestError,
    UnsupportedFormatError,
)

__all__ = [
    "CalibrationError",
    "CorruptFileError",
    "DataError",
    "FusionLabelError",
    "ManifestError",
    "UnsupportedFormatError",
]
