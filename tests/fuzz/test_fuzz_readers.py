"""Property-based fuzzing of every reader (tests/fuzz/targets.py): a seed file broken by random
truncation, bit flips, spliced bytes, lying header numbers, extreme values and (JSON) structural
edits must read or raise the project's own :class:`~fusionlabel.core.errors.DataError` naming a
file of the seed: never another exception, a hang or a crash.

``make test`` runs the ``ci`` profile (a few fixed examples per reader); ``make fuzz`` the long
random run (tests/fuzz/conftest.py). Cases it finds go to ``tests/fuzz_corpus/`` (test_corpus.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import Seeds, outcome, save_found
from tests.fuzz.targets import BY_NAME, TARGETS

EXTREMES = [
    b"0", b"-1", b"1", b"2", b"255", b"65536", b"2147483647", b"-2147483649", b"4294967296",
    b"9223372036854775807", b"18446744073709551616", b"100000000000000000000000", b"1e308",
    b"-1e308", b"1e-320", b"nan", b"NaN", b"inf", b"-inf", b"0.5", b"-0",
]  # fmt: skip
JSON_EXTREMES: list[Any] = [
    None, True, 0, -1, 2**31, 2**63, 2**64, -(2**63) - 1, 1e308, -1e308, float("nan"), float("inf"),
    "", "x" * 300, "../../etc/passwd", [], {}, [[]], {"": None}, [0] * 50, 0.5,
]  # fmt: skip
NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


# -- mutations -----------------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, data: bytes, is_json: bool) -> bytes:
    kinds = ["truncate", "flip", "splice", "number", "number", "repeat"] + (["json"] * 3 if is_json else [])
    kind = draw(st.sampled_from(kinds))
    n = len(data)
    if kind == "truncate":
        return data[: draw(st.integers(0, max(n - 1, 0)))]
    if kind == "flip":
        out = bytearray(data)
        for pos, bit in draw(
            st.lists(st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, 7)), min_size=1, max_size=8)
        ):
            if out:
                out[pos] ^= 1 << bit
        return bytes(out)
    if kind == "splice":
        pos = draw(st.integers(0, n))
        cut = draw(st.integers(0, 16))
        return data[:pos] + draw(st.binary(max_size=32)) + data[pos + cut :]
    if kind == "repeat":  # more data than a header declares
        start = draw(st.integers(0, max(n - 1, 0)))
        return data + data[start:] * draw(st.integers(1, 3))
    if kind == "number":  # a lying header / count / value
        head = data[: 1 << 16]
        found = list(NUMBER.finditer(head))
        if not found:
            return data
        m = found[draw(st.integers(0, len(found) - 1))]
        try:
            v = int(m.group())
            near = [str(x).encode() for x in (v + 1, v - 1, v * 2, v // 2, v * 1000)]
        except ValueError:
            near = []
        new = draw(st.sampled_from(EXTREMES + near))
        return data[: m.start()] + new + data[m.end() :]
    return _json_mutation(draw, data)


def _json_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    try:
        doc = json.loads(data)
    except ValueError:
        return data
    paths: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if len(paths) > 3000:
            return
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for k, v in items:
            paths.append((node, k))
            walk(v)

    walk(doc)
    if not paths:
        return json.dumps(draw(st.sampled_from(JSON_EXTREMES))).encode()
    parent, key = paths[draw(st.integers(0, len(paths) - 1))]
    op = draw(st.sampled_from(["replace", "replace", "delete", "duplicate", "wrap"]))
    if op == "delete":
        del parent[key]
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, parent[key])
    elif op == "wrap":
        parent[key] = [parent[key]]
    else:
        parent[key] = draw(st.sampled_from(JSON_EXTREMES))
    return json.dumps(doc).encode()


@pytest.mark.parametrize("name", [t.name for t in TARGETS])
@given(data=st.data())
def test_a_broken_file_reads_or_is_refused_naming_it(seeds: Seeds, name: str, data: st.DataObject) -> None:
    t = BY_NAME[name]
    folder, root, member, original = seeds.get(t)
    broken = data.draw(mutated(original, t.json), label="mutated")
    try:
        bad = outcome(t, folder, root, member, broken)
        if bad is not None:
            save_found(t, member, broken)
        assert bad is None, f"{t.name}: {member.name} ({len(broken)} bytes): {bad}"
    finally:
        member.write_bytes(original)
        for stray in folder.rglob("*.tmp"):  # nothing is written by a reader, but be sure
            stray.unlink()


def test_every_reader_is_a_target() -> None:
    """Each recording reader and user-file format has a fuzz target (the list grows with them)."""
    from fusionlabel.io.open import READERS

    covered = {
        "native", "kitti-tracking", "kitti-raw", "kitti-object", "nuscenes", "argoverse2", "dgp", "rosbag",
        "continental-radar", "pointcloud", "folder",
    }  # fmt: skip
    names = {r[0] for r in READERS}
    assert names == covered, f"readers without a fuzz target: {sorted(names - covered)}"
    assert {"native-labels", "review", "autosave", "journal", "calibration", "openlabel"} <= set(BY_NAME)
