"""The fuzz tests' harness: seeds built once per session, the oracle, the hang watchdog."""

from __future__ import annotations

import hashlib
import os
import signal
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fusionlabel.core.errors import DataError
from tests.conftest import shared_dir
from tests.fuzz.targets import Target, member_path

#: a read of a small broken file that runs this long is a hang (a watchdog, not a speed test)
HANG_S = 120


class Seeds:
    """Each target's seed, built once per session in a temp folder: (folder, root, member, bytes)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.built: dict[str, tuple[Path, Path, Path, bytes]] = {}

    def get(self, t: Target) -> tuple[Path, Path, Path, bytes]:
        if t.name not in self.built:
            if t.needs is not None and not (shared_dir() / "real_data" / t.needs).exists():
                pytest.skip(f"real data {t.needs} not found under {shared_dir()}; CI provides it")
            d = self.base / t.name
            d.mkdir()
            root = t.build(d)
            m = member_path(t, root)
            self.built[t.name] = (d, root, m, m.read_bytes())
        return self.built[t.name]


class Hang(Exception):
    pass


@contextmanager
def watchdog(seconds: int) -> Iterator[None]:
    def alarm(*_: object) -> None:
        raise Hang(f"no answer in {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def outcome(t: Target, folder: Path, root: Path, member: Path, data: bytes) -> str | None:
    """Write ``data`` as the member, read; None when the outcome is allowed, else what went wrong."""
    member.write_bytes(data)
    try:
        with watchdog(HANG_S):
            t.read(root)
    except DataError as exc:
        where = exc.path if exc.path.is_absolute() else (root.parent / exc.path)
        if not str(where.resolve()).startswith(str(folder.resolve())) or str(exc.path) not in str(exc):
            return f"DataError naming {exc.path}, not a file of the seed: {exc}"
        return None
    except Exception as exc:  # anything else, a hang (Hang) or MemoryError included
        tb = "".join(traceback.format_exception(exc)[-6:])
        return f"{type(exc).__name__}: {exc}\n{tb}"
    return None


def save_found(t: Target, member: Path, data: bytes) -> None:
    found = os.environ.get("FUSIONLABEL_FUZZ_FOUND")
    if found:
        out = Path(found) / t.name
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{hashlib.sha1(data).hexdigest()[:12]}{''.join(member.suffixes[-1:])}").write_bytes(data)
