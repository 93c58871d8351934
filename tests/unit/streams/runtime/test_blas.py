"""The worker runs BLAS on one thread (streams.runtime.blas)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from streams.runtime.blas import limit_blas_threads


def _blas_threads() -> list[int]:
    return [int(pool["num_threads"]) for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def restored_blas() -> Iterator[None]:
    before = max(_blas_threads(), default=1)
    yield
    threadpool_limits(before, user_api="blas")


@pytest.mark.usefixtures("restored_blas")
def test_every_loaded_blas_runs_on_one_thread() -> None:
    threadpool_limits(2, user_api="blas")
    assert np.dot(np.ones(3), np.ones(3)) == 3.0  # numpy's BLAS is loaded
    if max(_blas_threads(), default=1) < 2:
        pytest.skip("BLAS runs on one thread here anyway (one core)")
    limit_blas_threads()
    assert set(_blas_threads()) == {1}


def test_a_fresh_process_limits_numpy_and_scipy_whatever_it_imported_before() -> None:
    code = ("from streams.runtime.blas import limit_blas_threads; limit_blas_threads(); "
            "from threadpoolctl import threadpool_info; import json; "
            "print(json.dumps([p['num_threads'] for p in threadpool_info() "
            "if p['user_api'] == 'blas']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    threads = json.loads(done.stdout)
    assert len(threads) >= 2  # numpy's and scipy's own
    assert set(threads) == {1}
