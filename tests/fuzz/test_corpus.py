"""The fuzz corpus: every broken file the fuzzer found (tests/fuzz_corpus/<target>/), read again.

Each case once raised something other than the project's own error (or hung); each must now read
or be refused with a :class:`~fusionlabel.core.errors.DataError` naming the file. Add a case by
copying the file ``make fuzz`` wrote to ``out/fuzz_found/<target>/`` into the corpus folder of
the same name (a short name saying what it breaks).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.harness import Seeds, outcome
from tests.fuzz.targets import BY_NAME

CORPUS = Path(__file__).resolve().parents[1] / "fuzz_corpus"
CASES = sorted(p for p in CORPUS.glob("*/*") if p.is_file())


def test_the_corpus_holds_cases_of_known_targets() -> None:
    assert CASES, "the corpus is empty"
    assert {p.parent.name for p in CASES} <= set(BY_NAME)


@pytest.mark.parametrize("case", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_a_found_case_reads_or_is_refused_naming_the_file(seeds: Seeds, case: Path) -> None:
    t = BY_NAME[case.parent.name]
    folder, root, member, original = seeds.get(t)
    try:
        bad = outcome(t, folder, root, member, case.read_bytes())
        assert bad is None, f"{case}: {bad}"
    finally:
        member.write_bytes(original)
