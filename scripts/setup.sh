#!/usr/bin/env bash
# Create a venv with rsmmvp, lmms-eval and the test tools, at the tested versions, without pulling a CUDA torch.
#
#   bash scripts/setup.sh                  # .venv, every package at the version in requirements/lock-cpu.txt
#   bash scripts/setup.sh --latest         # resolve fresh (newest releases allowed by setup.cfg); also RSMMVP_LATEST=1
#   bash scripts/setup.sh --editable       # development install (combine with --latest if wanted)
#   VENV=.venv-x bash scripts/setup.sh     # another venv folder
#   EXTRAS="" bash scripts/setup.sh        # the package alone, as `pip install .` gives users (default EXTRAS=test)
#   TORCH_SPEC="torch==2.x.y" / TORCH_SPEC=""   # another torch, or keep the one already in the venv (a CUDA build)
#   RSMMVP_NO_BROWSER=1 bash scripts/setup.sh   # do not install headless Chromium for the browser tests
#
# The browser tests need headless Chromium and its driver (Debian's chromium and chromium-driver). With the test
# extras, setup installs them through apt when it runs as root with apt-get available; otherwise it prints one line
# saying so, and those tests are skipped (with a summary line) -- except under CI, where a missing browser fails.
#
# Why the lock: upstream releases move under us (filelock 4.3.1 removed filelock._api, which lmms-eval 0.7.3 imports,
# and every new install broke with no change of ours). The lock pins every package of a venv that passed the tests
# (written by scripts/lock.py), so the README's commands give the same versions on every machine until the lock is
# moved deliberately. .ci/run also smoke-tests a fresh resolution, so drift is seen before users hit it.
#
# Why the torch dance: lmms-eval requires torchvision, and pip resolves the newest torchvision, which pins the newest
# torch with several GB of CUDA wheels. So torch goes in FIRST (TORCH_SPEC, default torch==2.13.0: a local CPU build on
# our CI machines), then everything else is installed under a constraints file that pins that torch and its matching
# torchvision. If that torchvision cannot load beside this torch (CPU torch + CUDA torchvision: "operator
# torchvision::nms does not exist"), it is removed: transformers then uses its PIL image processors, which is all
# rsmmvp needs.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
EXTRAS=${EXTRAS-test}
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC-torch==2.13.0}
LOCK=requirements/lock-cpu.txt
latest=${RSMMVP_LATEST:-}
editable=""
for arg in "$@"; do
  case "$arg" in
    --editable) editable="-e" ;;
    --latest) latest=1 ;;
    *) echo "setup.sh: unknown option $arg (use --latest, --editable)" >&2; exit 2 ;;
  esac
done

start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q --upgrade pip
if [ -n "$TORCH_SPEC" ]; then
  echo "[setup] installing $TORCH_SPEC first"
  pip install -q "$TORCH_SPEC"
fi
torch_version=$("$VENV/bin/python" -c "import torch; print(torch.__version__.split('+')[0])")
minor=$(echo "$torch_version" | cut -d. -f2)
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
# torchvision 0.(N+15) is the release built against torch 2.N
printf 'torch==%s\ntorchvision==0.%s.*\n' "$torch_version" "$((minor + 15))" > "$constraints"
lock_args=()
if [ -z "$latest" ]; then
  if [ "$torch_version" != "$(grep -E '^torch==' "$LOCK" | cut -d= -f3)" ]; then
    # the lock was tested with its own torch; with another one (a CUDA build, say), the lock's torch pin is dropped
    echo "[setup] torch $torch_version is not the lock's; pinning everything else"
    grep -vE '^torch==' "$LOCK" > "$constraints.lock"
  else
    cp "$LOCK" "$constraints.lock"
  fi
  trap 'rm -f "$constraints" "$constraints.lock"' EXIT
  lock_args=(-c "$constraints.lock")
  echo "[setup] installing rsmmvp and its dependencies at the tested versions ($LOCK)"
else
  echo "[setup] installing rsmmvp and its dependencies, resolved fresh (--latest)"
fi
target="."
[ -n "$EXTRAS" ] && target=".[$EXTRAS]"
pip install -q -c "$constraints" "${lock_args[@]}" $editable "$target"
if ! "$VENV/bin/python" -c "import torchvision" >/dev/null 2>&1; then
  echo "[setup] torchvision does not load beside torch $torch_version here: removing it (transformers falls back to PIL image processors)"
  pip uninstall -q -y torchvision
fi
"$VENV/bin/rsmmvp" tasks-path >/dev/null
if [ -n "$EXTRAS" ] && [ -z "${RSMMVP_NO_BROWSER:-}" ]; then
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    :
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing headless Chromium for the browser tests (apt-get install chromium chromium-driver)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }; then
      echo "[setup] could not install chromium/chromium-driver with apt-get: the browser tests will be skipped" >&2
    fi
  else
    echo "[setup] no headless Chromium, and not root with apt-get to install it: the browser tests will be skipped" \
         "(as root: apt-get install -y chromium chromium-driver)" >&2
  fi
fi
echo "[setup] done in $(( $(date +%s) - start )) s: $("$VENV/bin/python" -c 'import torch, lmms_eval, transformers, datasets; print(f"torch {torch.__version__}, transformers {transformers.__version__}, datasets {datasets.__version__}")')"
