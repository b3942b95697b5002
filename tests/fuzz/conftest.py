"""Hypothesis profiles of the fuzz tests (docs/reliability.md).

``ci`` (the default, what ``make test`` runs): a short slice, the same examples every run
(``derandomize``), no example database written. ``fuzz`` (``make fuzz``: ``HYPOTHESIS_PROFILE=fuzz``):
``FUZZ_EXAMPLES`` (default 2000) random examples per reader; a failing input is also written to
``$FUSIONLABEL_FUZZ_FOUND/<target>/`` to be added to ``tests/fuzz_corpus/``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.fuzz.harness import Seeds

_COMMON = {
    "deadline": None,  # no timing assertions: a hang is caught by the watchdog, slowness is not a bug here
    "database": None,  # nothing written into the repository; found cases go to the corpus by hand
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=12, derandomize=True, **_COMMON)
settings.register_profile("fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")), **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    """Every target's seed, built on first use."""
    return Seeds(tmp_path_factory.mktemp("fuzz_seeds"))
