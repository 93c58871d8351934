#!/usr/bin/env bash
# Create bench/.venv-NAME with the pins of bench/requirements-NAME.txt, for a peer the
# benchmarks run beside driftline (evidently, nannyml, alibi). Called by bench/run.py and
# bench/power.py when that venv is missing; safe to run again.
set -euo pipefail
name="${1:?usage: setup-peer.sh NAME (evidently, nannyml or alibi)}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-$name"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements-$name.txt"
# Mark the venv complete only when every install step succeeded.
touch "$venv/.installed"
