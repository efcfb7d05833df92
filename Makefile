# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv if it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SPEED  ?= 4

.PHONY: venv test demo bench bench-gate evaluate mosquitto clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,plot]'
	@touch $(STAMP)

venv: $(STAMP)

# The MQTT tests start a real broker; install it from Debian's packages when we can.
mosquitto:
	@if command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing mosquitto from Debian's packages"; \
	    (apt-get install -y -qq mosquitto mosquitto-clients >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null && apt-get install -y -qq mosquitto mosquitto-clients >/dev/null)); \
	    systemctl disable --now mosquitto >/dev/null 2>&1 || true; \
	else \
	    echo "mosquitto is missing; install it with: sudo apt-get install -y mosquitto mosquitto-clients" >&2; exit 1; \
	fi

# Two workers, each given whole files (module fixtures made once; tests/conftest.py puts the slow files first).
# Most of the suite waits on real time (brokers, daemon processes, Home Assistant), so two overlap well on two
# cores. One test file by hand: .venv/bin/python -m pytest tests/firmware/test_alerts.py
test: venv mosquitto
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

demo: venv
	$(BIN)/retrowalk demo --speed $(SPEED)

bench: venv
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# CI gates on benchmark targets (figures printed, thresholds checked by the gate script).
bench-gate: venv
	$(BIN)/python scripts/bench_gate.py

# Detection measured on SisFall, when ../shared is there (it is not ours to copy, so it is exported
# to a scratch folder and read from there, as a user would).
evaluate: venv
	bash scripts/evaluate_sisfall.sh

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
