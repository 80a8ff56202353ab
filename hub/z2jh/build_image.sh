#!/usr/bin/env bash
# The students' image for Zero to JupyterHub, built from binder/ by repo2docker (Binder's builder):
# Python 3.11, the kit's pins with the CPU build of torch, the kit itself, JupyterHub's single-user
# server (the same version as the hub: check your chart's), nbgitpuller, and the JupyterLab settings.
# Needs Docker and `pip install jupyter-repo2docker`. Usage, from the kit's checkout:
#   hub/z2jh/build_image.sh registry.example.edu/mtl-teach 2026-fall
# then set singleuser.image.name/tag in hub/z2jh/values.yaml and push the image.
set -euo pipefail
image="${1:?give the image name, e.g. registry.example.edu/mtl-teach}"
tag="${2:?give a tag, e.g. 2026-fall (never reuse one: nodes cache images by tag)}"
cd "$(dirname "$0")/../.."
repo2docker --no-run --user-name jovyan --user-id 1000 --image-name "$image:$tag" .
echo "built $image:$tag; now: docker push $image:$tag"
