"""Pillar-network checkpoints: a plain state_dict plus a JSON config, loadable with ``weights_only``.

File layout: a ``torch.save`` zip archive holding the dict ::

    {"format": "fusionlabel.pillars", "format_version": 1,
     "config": "<PillarsConfig JSON>", "meta": "<JSON: training arguments, versions, figures>",
     "state_dict": {name: tensor}}

which ``torch.load(path, weights_only=True)`` reads (only str / int / tensors: no pickled
classes). A copy of ``config`` and ``meta`` is also stored as the archive member
``<archive>/fusionlabel.json`` so :func:`read_header` can read a checkpoint's classes and grid
**without importing torch** (``fusionlabel plugins`` must stay light). Files are written
atomically (temporary file + rename).

Every failure to use a checkpoint raises :class:`~fusionlabel.core.errors.DataError` (or its
subclass ``CorruptFileError``) naming the file: missing, not a torch archive, truncated, another
format, a newer format version, or weights that do not fit the stored config.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionlabel.core.atomic import atomic_write_bytes
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.detect.pillars.config import CONFIG_VERSION, PillarsConfig

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

FORMAT = "fusionlabel.pillars"
FORMAT_VERSION = 1
HEADER_NAME = "fusionlabel.json"


@dataclass(frozen=True)
class Header:
    """What :func:`read_header` learns without torch: the config and the free-form metadata."""

    config: PillarsConfig
    meta: Mapping[str, Any]


def _header_json(config: PillarsConfig, meta: Mapping[str, Any]) -> str:
    return json.dumps(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config_version": CONFIG_VERSION,
            "config": config.to_dict(),
            "meta": dict(meta),
        },
        indent=1,
        sort_keys=True,
    )


def _parse_header(path: Path, text: str) -> Header:
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(path, f"checkpoint header is not JSON: {exc}") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise DataError(
            path, f"not a {FORMAT} checkpoint (format {d.get('format') if isinstance(d, dict) else None!r})"
        )
    if int(d.get("format_version", -1)) > FORMAT_VERSION:
        raise DataError(
            path,
            f"checkpoint format version {d['format_version']} is newer than this FusionLabel reads ({FORMAT_VERSION})",
        )
    if int(d.get("config_version", -1)) != CONFIG_VERSION:
        raise DataError(
            path, f"checkpoint config version {d.get('config_version')} does not match this network ({CONFIG_VERSION})"
        )
    try:
        config = PillarsConfig.from_dict(d.get("config", {}))
    except (TypeError, ValueError) as exc:
        raise DataError(path, f"checkpoint config is invalid: {exc}") from None
    meta = d.get("meta", {})
    return Header(config, meta if isinstance(meta, dict) else {})


def save_checkpoint(
    path: str | Path, state_dict: Mapping[str, Tensor], config: PillarsConfig, meta: Mapping[str, Any] | None = None
) -> Path:
    """Write a checkpoint atomically; returns its path.

    Parameters
    ----------
    path : destination ``.pt`` file
    state_dict : the network's ``state_dict()`` (tensors are copied to the CPU)
    config : the network's config
    meta : JSON-serialisable extras (training arguments, figures, fusionlabel version)
    """
    import torch

    p = Path(path)
    meta = dict(meta or {})
    header = _header_json(config, meta)  # raises TypeError early if meta is not JSON-serialisable
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.dumps({"config_version": CONFIG_VERSION, **config.to_dict()}, sort_keys=True),
        "meta": json.dumps(meta, sort_keys=True),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in state_dict.items()},
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    with zipfile.ZipFile(buf, "a") as z:
        root = z.namelist()[0].split("/", 1)[0]
        z.writestr(f"{root}/{HEADER_NAME}", header)
    atomic_write_bytes(p, buf.getvalue())
    return p


def read_header(path: str | Path) -> Header:
    """Config and metadata of a checkpoint, read without torch.

    Raises
    ------
    DataError
        the file is missing, not a zip archive, lacks the header, or is another format / version.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(p, "no such checkpoint file")
    try:
        with zipfile.ZipFile(p) as z:
            names = [n for n in z.namelist() if n.endswith("/" + HEADER_NAME)]
            if not names:
                raise DataError(
                    p, f"not a {FORMAT} checkpoint (no {HEADER_NAME} header; write it with `fusionlabel train`)"
                )
            text = z.read(names[0]).decode("utf-8")
    except (zipfile.BadZipFile, EOFError, UnicodeDecodeError, OSError) as exc:
        raise CorruptFileError(p, f"not a readable torch checkpoint: {exc}") from None
    return _parse_header(p, text)


def load_checkpoint(
    path: str | Path, map_location: str = "cpu"
) -> tuple[PillarsConfig, dict[str, Tensor], dict[str, Any]]:
    """Load ``(config, state_dict, meta)`` with ``torch.load(..., weights_only=True)``.

    Raises
    ------
    DataError / CorruptFileError
        naming the file: unreadable, truncated, another format, or header and payload disagree.
    """
    import torch

    p = Path(path)
    header = read_header(p)
    try:
        payload = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptFileError(p, f"cannot load checkpoint: {msg}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(p, f"not a {FORMAT} checkpoint")
    try:
        cfg = json.loads(payload["config"])
        cfg.pop("config_version", None)
        config = PillarsConfig.from_dict(cfg)
        meta = json.loads(payload.get("meta", "{}"))
        state = payload["state_dict"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(p, f"checkpoint payload is malformed: {exc}") from None
    if config != header.config:
        raise CorruptFileError(p, "checkpoint header and payload configs differ")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CorruptFileError(p, "checkpoint state_dict is not a mapping of tensors")
    return config, state, meta


def build_network(path: str | Path, device: str = "cpu") -> tuple[Any, PillarsConfig, dict[str, Any]]:
    """Load a checkpoint into a new :class:`~fusionlabel.detect.pillars.model.PillarNet` in eval mode.

    Returns ``(net, config, meta)``. A state_dict that does not fit the config (missing or extra
    keys, wrong shapes) raises :class:`DataError` naming the file and the first mismatch.
    """
    from fusionlabel.detect.pillars.model import PillarNet

    p = Path(path)
    config, state, meta = load_checkpoint(p)
    net = PillarNet(config)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = "; ".join(lines[1:3]) if len(lines) > 1 else (lines[0] if lines else "")
        raise DataError(p, f"weights do not match the network in the checkpoint's config: {detail}") from None
    return net.to(device).eval(), config, meta
