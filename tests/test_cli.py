import pytest

from skunroll.__main__ import main


@pytest.mark.filterwarnings("ignore::skunroll.exceptions.DecodingWarning")
def test_main_prints_the_recovery_table(capsys):
    assert main(["-m", "10", "60", "--n-samples", "600", "--n-test", "20", "--max-epochs", "2",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("skunroll ") and "synthetic1" in out[0]
    rows = {}
    for line in out[-2:]:
        m, l1ae_exact, l1ae_rmse, gauss_exact, gauss_rmse, epochs, _ = line.split()
        rows[int(m)] = (float(l1ae_exact.rstrip("%")), float(l1ae_rmse),
                        float(gauss_exact.rstrip("%")), float(gauss_rmse), int(epochs))
    assert sorted(rows) == [10, 60]
    # The numbers are measured, not formatted placeholders: Gaussian measurements
    # recover Synthetic1's 10-sparse blocks at m = 60 and almost never at m = 10,
    # with the RMSE falling accordingly; the l1-AE ran the 2 epochs asked for.
    assert rows[60][2] > 50.0 > rows[10][2]
    assert rows[60][3] < rows[10][3]
    assert rows[10][4] == rows[60][4] == 2
    for l1ae_exact, l1ae_rmse, *_ in rows.values():
        assert 0.0 <= l1ae_exact <= 100.0 and l1ae_rmse >= 0.0


def test_main_rejects_unknown_dataset():
    with pytest.raises(SystemExit):
        main(["--dataset", "nope"])


@pytest.mark.filterwarnings("ignore::skunroll.exceptions.DecodingWarning")
def test_sweep_over_m_through_joblib_equals_the_sequential_sweep():
    from joblib import parallel_config
    from threadpoolctl import threadpool_limits

    from skunroll.reproduce import recovery_table

    settings = dict(n_samples=400, n_test=20, max_epochs=2, device="cpu")
    # Thread-pool workers run torch on one thread; equal results need the same count.
    with threadpool_limits(1):
        sequential = recovery_table("synthetic1", [10, 20], **settings)
    with parallel_config(backend="threading"):
        parallel = recovery_table("synthetic1", [10, 20], sweep_n_jobs=2, **settings)
    for a, b in zip(sequential, parallel, strict=False):
        a.pop("l1ae_train_seconds"), b.pop("l1ae_train_seconds")
        assert a == b
