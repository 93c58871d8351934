"""One BLAS thread in the worker process.

numpy's OpenBLAS runs a vector product of more than a few thousand values on a
thread per core (``np.dot`` in ``detectors.stats.ecdf_distances`` multiplies
about 50,000 values per numeric column of every closed window), and its threads
spin while they wait for the next product. On a machine with few cores that
spinning takes the CPU the consume loop, the decode threads and the broker
need: in the bench's ingest pipeline one BLAS thread cut the process's CPU time
markedly, and the products themselves take about as long either way (bench/README.md,
"Streaming" and "Figures behind decisions in the code"). It also makes the sums' last
bits independent of the machine's core count (OpenBLAS splits a product
between its threads and adds the parts in another order).
"""

from __future__ import annotations

# Imported for their BLAS libraries: threadpoolctl limits only those already loaded.
import numpy  # noqa: F401
import scipy.linalg  # noqa: F401
from threadpoolctl import threadpool_limits


def limit_blas_threads() -> None:
    """Run numpy's and scipy's BLAS (every BLAS loaded) on one thread from now on."""
    threadpool_limits(1, user_api="blas")
