#!/usr/bin/env bash
# Create bench/.venv-evidently with Evidently (bench/requirements-evidently.txt).
# Called by bench/run.py when that venv is missing; safe to run again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-evidently"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements-evidently.txt"
# Mark the venv complete only when every install step succeeded.
touch "$venv/.installed"
