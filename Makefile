# pyimapd: the two commands of the quick start, and the helpers around them.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DATA   ?= ./data
LISTEN ?= 127.0.0.1:1143

.PHONY: run test lint venv clean

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

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy --strict src/pyimapd/protocol

clean:
	rm -rf $(VENV) .pytest_cache
