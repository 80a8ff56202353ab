# The two commands the README gives: `make lab` (set up, open the kit) and
# `make test` (set up, run every check). Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab hub test install lint format links notebooks clean

# The [hub] extra (JupyterHub, nbgitpuller) is for `make hub` and its tests; a student's
# `pip install mtl-teach` (Colab, a laptop) stays without it.
$(STAMP): pyproject.toml scripts/jupyterlab_overrides.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,hub]"
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

# `make hub`: a real JupyterHub for a class on this machine, from hub/jupyterhub_config.py
# (README, "In a classroom", explains it line by line). Ctrl+C stops it, with every student's
# server and the proxy. Settings (the config checks each one and says how to fix it):
# - HUB_PORT (8000); HUB_IP: loopback unless set (e.g. HUB_IP=0.0.0.0 behind a firewall/TLS proxy);
# - HUB_AUTH: pam (default: system accounts; run as root) or dummy (a DEMO: any name, one
#   HUB_PASSWORD; not for a real class); HUB_GROUP: with pam, only this group's members log in;
# - HUB_SPAWNER: local (each student's server as their own system user; root) or simple (all
#   as the hub's user: a demo, the default with HUB_AUTH=dummy);
# - HUB_REPO, HUB_BRANCH: what nbgitpuller pulls when a server opens (the project's home, main);
# - HUB_STATE (.hub: database, cookie secret, hand-ins), HUB_HANDIN, HUB_ADMINS, HUB_PYTHON;
# - HUB_CONFIG: your own config file, which loads this one (load_subconfig) and adds to it (OAuth).
HUB_CONFIG ?= hub/jupyterhub_config.py
HUB_STATE ?= $(CURDIR)/.hub
PROXY := node_modules/.bin/configurable-http-proxy
export HUB_PROXY := $(CURDIR)/$(PROXY)
export HUB_PORT HUB_IP HUB_AUTH HUB_PASSWORD HUB_GROUP HUB_SPAWNER HUB_REPO HUB_BRANCH HUB_STATE HUB_HANDIN HUB_ADMINS HUB_PYTHON

# configurable-http-proxy, exactly as package-lock.json pins it (Node and npm are needed).
$(PROXY): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

hub: $(STAMP) $(PROXY)
	$(BIN)/jupyterhub -f $(HUB_CONFIG)

test: $(STAMP) $(PROXY)
	bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

# Restamp every notebook badge, install cell and README link from pyproject.toml's [project.urls].
links: $(STAMP)
	$(BIN)/python scripts/stamp_links.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts node_modules
