"""Scale-out: the joblib-parallel parts run on a dask.distributed cluster unchanged,
training streams through ``partial_fit`` with dask-ml's ``Incremental``, and
transform / predict of a dask collection run on the workers with
``ParallelPostFit``.

Needs the optional ``distributed`` extra (``pip install skunroll[distributed]``).
"""

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skunroll.datasets import make_block_sparse
from skunroll.decoding import l1_min_decode
from skunroll.sensing import GaussianMeasurement

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.mark.slow
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


def _workers(tasks):
    return {task["worker"] for task in tasks.data}


@pytest.mark.slow
def test_incremental_training_and_parallel_transform_on_the_cluster(client):
    """A stream of dask blocks trains as one in-order epoch here; transform runs there."""
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    from skunroll import L1AEEncoder

    X = make_block_sparse(n_samples=512, n_features=100, random_state=0).astype(np.float32)
    params = dict(n_components=20, batch_size=64, max_epochs=1, early_stopping=False,
                  shuffle=False, lr_schedule="constant", device="cpu", random_state=0)
    local = L1AEEncoder(**params).fit(X)
    blocks = da.from_array(X, chunks=(128, 100))
    incremental = wrappers.Incremental(L1AEEncoder(**params), shuffle_blocks=False)
    with distributed.get_task_stream(client) as fit_tasks:
        incremental.fit(blocks)
    streamed = incremental.estimator_
    assert streamed.n_iter_ == 4 and streamed.n_optimizer_steps_ == local.n_optimizer_steps_ == 8
    np.testing.assert_allclose(streamed.components_, local.components_, rtol=1e-5, atol=1e-6)
    post_fit = wrappers.ParallelPostFit(local)
    with distributed.get_task_stream(client) as transform_tasks:
        codes = post_fit.transform(blocks).compute()
    np.testing.assert_allclose(codes, local.transform(X), rtol=1e-6)
    # The work ran on the cluster's two workers, block by block.
    assert len(_workers(fit_tasks)) >= 1 and len(fit_tasks.data) >= 4
    assert len(_workers(transform_tasks)) == 2 and len(transform_tasks.data) >= 4


def test_a_dask_dataframe_streams_into_a_classifier(client):
    dd = pytest.importorskip("dask.dataframe")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    pandas = pytest.importorskip("pandas")
    from skunroll.sparse_coding import DeepL0Classifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(256, 12)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    frame = pandas.DataFrame(X, columns=[f"f{i}" for i in range(12)])
    params = dict(n_components=6, alpha=0.5, batch_size=32, max_epochs=1, early_stopping=False,
                  shuffle=False, lr_schedule="constant", device="cpu", random_state=0,
                  dictionary=rng.normal(size=(6, 12)))
    frames = dd.from_pandas(frame, npartitions=4)
    labels = dd.from_pandas(pandas.Series(y), npartitions=4)
    incremental = wrappers.Incremental(DeepL0Classifier(**params), shuffle_blocks=False)
    with distributed.get_task_stream(client) as fit_tasks:
        incremental.fit(frames, labels, classes=[0, 1])
    local = DeepL0Classifier(**params).fit(frame, y)
    streamed = incremental.estimator_
    for name in ("input_weights_", "recurrent_weights_", "coef_"):
        np.testing.assert_allclose(getattr(streamed, name), getattr(local, name), rtol=1e-4,
                                   atol=1e-6, err_msg=name)
    assert list(streamed.feature_names_in_) == list(frame.columns)
    with distributed.get_task_stream(client) as predict_tasks:
        predicted = wrappers.ParallelPostFit(local).predict(frames).compute()
    np.testing.assert_array_equal(predicted, local.predict(frame))
    assert len(fit_tasks.data) >= 4 and len(_workers(predict_tasks)) == 2
