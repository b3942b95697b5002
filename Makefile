# The README's two commands: `make demo` (open the sample recording) and `make test`.
# Both create .venv on first use (scripts/setup.sh).
SAMPLE ?= sample_data/synth_seed0
XVFB := $(shell command -v xvfb-run >/dev/null 2>&1 && echo 'xvfb-run -a -s "-screen 0 1920x1080x24"')

.PHONY: setup demo test bench
setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/fusionlabel open $(SAMPLE)

test: setup
	$(XVFB) .venv/bin/python -m pytest -q

bench: setup
	$(XVFB) .venv/bin/python benchmarks/run_all.py
