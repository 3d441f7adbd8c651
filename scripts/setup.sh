#!/usr/bin/env bash
# Create .venv with rsmmvp, lmms-eval and the test tools, without pulling a CUDA torch on CPU boxes.
#
#   bash scripts/setup.sh              # non-editable install (what users get; what CI tests)
#   bash scripts/setup.sh --editable   # for development
#
# Why the dance: lmms-eval requires torchvision, and pip resolves the newest torchvision, which pins
# the newest torch with several GB of CUDA wheels. So torch goes in FIRST (TORCH_SPEC, default
# torch==2.13.0: a local CPU build on our CI machines; set TORCH_SPEC="torch==2.x.y" or
# TORCH_SPEC="" to keep the torch already in the venv, e.g. a CUDA build on a GPU box), then
# everything else is installed under a constraints file that pins that torch and its matching
# torchvision. If that torchvision cannot load beside this torch (CPU torch + CUDA torchvision),
# it is removed: transformers then uses its PIL image processors, which is all rsmmvp needs.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC-torch==2.13.0}
editable=""
[ "${1:-}" = "--editable" ] && editable="-e"

[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip "$@"; }
pip install -q --upgrade pip
if [ -n "$TORCH_SPEC" ]; then
  echo "[setup] installing $TORCH_SPEC first"
  pip install -q "$TORCH_SPEC"
fi
torch_version=$(.venv/bin/python -c "import torch; print(torch.__version__.split('+')[0])")
minor=$(echo "$torch_version" | cut -d. -f2)
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
# torchvision 0.(N+15) is the release built against torch 2.N
printf 'torch==%s\ntorchvision==0.%s.*\n' "$torch_version" "$((minor + 15))" > "$constraints"
echo "[setup] installing rsmmvp and its dependencies under: $(tr '\n' ' ' < "$constraints")"
pip install -q -c "$constraints" $editable ".[test]"
if ! .venv/bin/python -c "import torchvision" >/dev/null 2>&1; then
  echo "[setup] torchvision does not load beside torch $torch_version here: removing it (transformers falls back to PIL image processors)"
  pip uninstall -q -y torchvision
fi
.venv/bin/rsmmvp tasks-path >/dev/null
echo "[setup] done: $(.venv/bin/python -c 'import torch, lmms_eval, transformers, datasets; print(f"torch {torch.__version__}, transformers {transformers.__version__}, datasets {datasets.__version__}")')"
