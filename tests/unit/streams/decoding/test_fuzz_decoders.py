"""A short, seeded coverage-guided campaign over the event decoders (``tests/fuzz/decoders.py``)
on every ``make test``, starting from the committed corpus, plus the corpus replayed as plain
inputs. A longer hunt is a command in that module's docstring."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
HARNESS = ROOT / "tests" / "fuzz" / "decoders.py"
CORPUS = ROOT / "tests" / "fuzz" / "corpus" / "decoders"
RUNS = 3_000

pytest.importorskip("atheris", reason="atheris installs on x86-64 Linux only")


def test_the_corpus_decodes_the_same_both_ways() -> None:
    spec = importlib.util.spec_from_file_location("fuzz_decoders", HARNESS)
    assert spec is not None
    assert spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    seeds = sorted(CORPUS.iterdir())
    assert len(seeds) >= 9
    for seed in seeds:
        harness.check(seed.read_bytes())


def test_a_short_fuzzing_campaign_finds_nothing(tmp_path: Path) -> None:
    found = tmp_path / "new"
    found.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(HARNESS), str(found), str(CORPUS), f"-runs={RUNS}", "-seed=1",
         "-max_len=4096", "-timeout=20", f"-artifact_prefix={tmp_path}/"],
        capture_output=True, text=True, env=env, timeout=240, check=False)
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name != "new")
    assert (result.returncode, crashes) == (0, []), result.stderr[-3000:]
    assert f"Done {RUNS} runs" in result.stderr
