# The README's two commands: `make demo` (the main job on the sample recording: pre-label it,
# list its review queue, score the pre-labels against its ground truth, open them for review)
# and `make test`.
# Both create .venv on first use (scripts/setup.sh).
SAMPLE ?= sample_data/synth_seed0
XVFB := $(shell command -v xvfb-run >/dev/null 2>&1 && echo 'xvfb-run -a -s "-screen 0 1920x1080x24"')

.PHONY: setup demo test fuzz bench
setup:
	@bash scripts/setup.sh

DEMO_OUT ?= out/demo

demo: setup
	.venv/bin/fusionlabel prelabel $(SAMPLE) --detector pillars --out $(DEMO_OUT)
	.venv/bin/fusionlabel review $(DEMO_OUT)/$(notdir $(SAMPLE))
	.venv/bin/fusionlabel eval --format native --gt $(SAMPLE) --results $(DEMO_OUT)/$(notdir $(SAMPLE))/labels.json
	.venv/bin/fusionlabel open $(DEMO_OUT)/$(notdir $(SAMPLE))

test: setup
	$(XVFB) .venv/bin/python -m pytest -q

# The long fuzz run (docs/reliability.md): FUZZ_EXAMPLES random broken files per reader (the
# suite runs a fixed slice of 12), and the kill -9 loops 40 times; failing inputs land in
# out/fuzz_found/<target>/ to be added to tests/fuzz_corpus/.
FUZZ_EXAMPLES ?= 2000
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUSIONLABEL_FAULT_ROUNDS=40 \
	FUSIONLABEL_FUZZ_FOUND=out/fuzz_found $(XVFB) .venv/bin/python -m pytest -q tests/fuzz tests/io/test_fault_injection.py

bench: setup
	$(XVFB) .venv/bin/python benchmarks/run_all.py
