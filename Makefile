# The two newcomer commands: `make demo` and `make test`. Both install first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test browser-test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -c 'from rnnkit.nn.native import rnn_ops; rnn_ops()'  # build the compiled GRU/LSTM loops once
	touch $(STAMP)

demo: install
	$(BIN)/rnnkit train imdb --out models/imdb

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The page in a real headless Chromium: Debian's chromium and chromium-driver (root, or sudo), then
# the browser test (make test runs it too wherever both are installed, and skips it otherwise).
browser-test: install
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y --no-install-recommends chromium chromium-driver
	$(BIN)/python -m pytest tests/test_serve_page.py -v

clean:
	rm -rf $(VENV) models build src/*.egg-info .pytest_cache .ruff_cache test-artifacts
