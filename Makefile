# The two commands the README gives: `make lab` (set up, open the kit) and
# `make test` (set up, run every check). Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab test install lint format links notebooks clean

$(STAMP): pyproject.toml scripts/jupyterlab_overrides.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	# JupyterLab shows Markdown files rendered (the start page), not as source.
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp scripts/jupyterlab_overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

install: $(STAMP)

# `make lab` opens JupyterLab on notebooks/, showing its start page, notebooks/README.md.
# - As root (a container's usual user) jupyter refuses to start without --allow-root.
# - In a container (Docker's /.dockerenv, Podman's /run/.containerenv) it listens on every
#   interface, so a published port (docker run -p 8888:8888) reaches it; elsewhere on
#   localhost only. `make lab LAB_IP=127.0.0.1` overrides.
# - The port is jupyter_server's own choice: 8888, or JUPYTER_PORT when set, and the next
#   free one when that is taken (it prints the URL it uses).
# - LAB_ARGS: extra `jupyter lab` arguments; tests/e2e and scripts/make_screenshots.py start
#   JupyterLab through this recipe, adding theirs here (loopback, token, a browser stand-in),
#   and NOTEBOOKS (a temporary copy of notebooks/).
NOTEBOOKS ?= notebooks
LAB_IP ?= $(if $(wildcard /.dockerenv /run/.containerenv),0.0.0.0)
LAB_ALLOW_ROOT ?= $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS ?=

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=$(NOTEBOOKS) $(NOTEBOOKS)/README.md $(LAB_ALLOW_ROOT) $(if $(LAB_IP),--ip=$(LAB_IP)) $(LAB_ARGS)

test: $(STAMP)
	bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

# Restamp every notebook badge, install cell and README link from pyproject.toml's [project.urls].
links: $(STAMP)
	$(BIN)/python scripts/stamp_links.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
