# The two commands of the README: `make serve` and `make test`. Both set up what they need.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
HOST    ?= 127.0.0.1
PORT    ?= 8000

.PHONY: serve test lint bench chromium nginx

# torch first, pinned to the CPU build: a bare `torch` requirement would pull CUDA packages.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/gandyn serve --host $(HOST) --port $(PORT)

# Browser tests drive Debian's chromium (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }

# The replica test (tests/deploy/test_nginx.py) runs Debian's nginx in front of two servers.
nginx:
	@test -x /usr/sbin/nginx || { apt-get update -qq && apt-get install -y -qq nginx; }

# Two test processes (pytest-xdist), each test file in one of them (its module fixtures: one
# browser page, one server); the tests wait on events, never on time, so they hold on a busy
# machine, and two is what this 2-core machine runs best (10:01 serial, 6:41 with two).
TEST_JOBS ?= 2
test: $(STAMP) chromium nginx
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/gandyn bench
