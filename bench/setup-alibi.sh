#!/usr/bin/env bash
# Create bench/.venv-alibi with the pins of bench/requirements-alibi.txt.
# Called by bench/power.py when that venv is missing; safe to run again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-alibi"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements-alibi.txt"
# Mark the venv complete only when every install step succeeded.
touch "$venv/.installed"
