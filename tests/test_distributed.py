"""Scale-out: the joblib-parallel parts run on a dask.distributed cluster unchanged.

Needs the optional ``distributed`` extra (``pip install skunroll[distributed]``).
"""

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skunroll.datasets import make_block_sparse
from skunroll.sensing import GaussianMeasurement, l1_min_decode

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        yield client


def test_batched_decode_and_grid_search_on_a_local_cluster(client):
    X = make_block_sparse(n_samples=60, n_features=200, random_state=0)
    A = np.random.RandomState(0).normal(size=(50, 200)) / np.sqrt(50)
    Y = X @ A.T
    search = GridSearchCV(
        GaussianMeasurement(random_state=0, n_jobs=2), {"n_components": [30, 50]}, cv=2, n_jobs=2
    )
    decoded_here = l1_min_decode(A, Y, positive=True, n_jobs=2)
    searched_here = clone(search).fit(X)

    with parallel_config(backend="dask"):
        # The work really goes to the cluster's workers.
        with distributed.get_task_stream(client) as decode_tasks:
            decoded_there = l1_min_decode(A, Y, positive=True, n_jobs=2)
        with distributed.get_task_stream(client) as search_tasks:
            searched_there = clone(search).fit(X)
    assert len(decode_tasks.data) >= 2 and len(search_tasks.data) >= 4
    np.testing.assert_allclose(decoded_there, decoded_here, atol=1e-13)
    np.testing.assert_allclose(
        searched_there.cv_results_["mean_test_score"],
        searched_here.cv_results_["mean_test_score"],
        rtol=1e-12,
    )
    assert searched_there.best_params_ == searched_here.best_params_
