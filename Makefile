# pyimapd: the two commands of the quick start, and the helpers around them.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DATA   ?= ./data
LISTEN ?= 127.0.0.1:1143

.PHONY: run test lint venv clean bench bench-quick bench-roundcube bench-deps

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

## make run: serve IMAP on 127.0.0.1:1143 from ./data, with a demo account demo/demo.
run: $(VENV)/.installed
	@$(PY) -m pyimapd user list --data-dir $(DATA) | grep -qx demo || \
		(printf 'demo' | $(PY) -m pyimapd user add demo --password-stdin --data-dir $(DATA))
	@echo "pyimapd: serving IMAP on $(LISTEN) (data in $(DATA)); log in as demo / demo, e.g."
	@echo "  curl imap://demo:demo@$(LISTEN)/INBOX"
	$(PY) -m pyimapd serve --data-dir $(DATA) --listen $(LISTEN)

## make test: install the test extras and run the whole suite.
test: $(VENV)/.installed-test
	$(PY) -m pytest -q

## make bench / bench-quick: pyimapd side by side with Dovecot and pymap (bench/compare).
PYMAP_VENV := bench/.venvs/pymap
bench-deps: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[bench]'
	command -v dovecot >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd
	test -x $(PYMAP_VENV)/bin/pymap || ($(PYTHON) -m venv $(PYMAP_VENV) && \
		$(PYMAP_VENV)/bin/pip install -q pymap==0.36.7 'passlib~=1.7' argon2-cffi)

bench: bench-deps
	$(PY) -m bench.compare

bench-quick: bench-deps
	$(PY) -m bench.compare --quick

## make bench-roundcube: Roundcube's pages timed against pyimapd and Dovecot (bench/roundcube).
bench-roundcube: bench-deps
	$(PY) -m bench.roundcube

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy --strict src/pyimapd/protocol

clean:
	rm -rf $(VENV) .pytest_cache
