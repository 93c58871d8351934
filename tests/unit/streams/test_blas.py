"""The worker runs BLAS on one thread (streams.blas)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from streams.blas import limit_blas_threads


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
