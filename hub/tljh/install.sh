#!/usr/bin/env bash
# The Littlest JupyterHub (TLJH) for a class of up to about 100 students on one Ubuntu server, with the kit.
# Run it as root on the server, from a checkout of the kit:
#   git clone https://github.com/mtl-teach/mtl-teach /opt/mtl-teach && sudo bash /opt/mtl-teach/hub/tljh/install.sh INSTRUCTOR
# TLJH makes a system user (jupyter-<name>) per student and runs each server under systemd with the
# limits below, so students are kept apart by the operating system. Size the server with the README's
# table (memory and cores for the students working at once); the limits come from measured figures
# (benchmarks/results/hub_budgets.json; tests/test_deploy.py checks them).
set -euo pipefail
admin="${1:?give the hub user name of the instructor}"
kit="$(cd "$(dirname "$0")/../.." && pwd)"

# 1. TLJH itself, with the instructor as admin (https://tljh.jupyter.org, "Installing on your own server").
curl -fsSL https://tljh.jupyter.org/bootstrap.py | python3 - --admin "$admin"

# 2. The students' environment: the kit's pins (CPU torch), nbgitpuller and the kit, from binder/ as
#    Binder and the Kubernetes image do, but not its jupyterhub pin: TLJH's hub brings its own.
cd "$kit"
grep -v '^jupyterhub==' binder/requirements.txt > /tmp/mtl-teach-requirements.txt
/opt/tljh/user/bin/pip install -r /tmp/mtl-teach-requirements.txt
NB_PYTHON_PREFIX=/opt/tljh/user binder/postBuild  # JupyterLab opens Markdown rendered (the start page)

# 3. One student's limits, from the measured figures (the server + two of the heaviest notebook's kernels).
tljh-config set limits.memory 1216M
tljh-config set limits.cpu 1
# Idle servers stop after an hour (TLJH's culler), so only the students working hold memory.
tljh-config set services.cull.timeout 3600
tljh-config set user_environment.default_app jupyterlab

# 4. The kit's additions: nbgitpuller start page, a private hand-in dropbox per student, one torch thread.
install -m 0644 hub/tljh/mtl_teach_config.py /opt/tljh/config/jupyterhub_config.d/mtl_teach_config.py
install -d -m 0711 /srv/mtl-teach/handin
tljh-config reload

echo "The hub runs on this server's port 80; add HTTPS: tljh-config set https.enabled true (README)."
echo "Collect hand-ins: sudo /opt/tljh/user/bin/mtl-teach collect 04_your_turn --root /srv/mtl-teach/handin"
