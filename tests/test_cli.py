import pytest

from skunroll.__main__ import main


@pytest.mark.filterwarnings("ignore::skunroll.exceptions.DecodingWarning")
def test_main_prints_the_recovery_table(capsys):
    assert main(["-m", "20", "--n-samples", "600", "--n-test", "20", "--max-epochs", "2",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("skunroll ") and "synthetic1" in out[0]
    row = out[-1].split()
    assert row[0] == "20" and row[1].endswith("%") and row[3].endswith("%")


def test_main_rejects_unknown_dataset():
    with pytest.raises(SystemExit):
        main(["--dataset", "nope"])


@pytest.mark.filterwarnings("ignore::skunroll.exceptions.DecodingWarning")
def test_sweep_over_m_through_joblib_equals_the_sequential_sweep():
    from joblib import parallel_config

    from skunroll._reproduce import recovery_table

    from threadpoolctl import threadpool_limits

    settings = dict(n_samples=400, n_test=20, max_epochs=2, device="cpu")
    # Thread-pool workers run torch on one thread; equal results need the same count.
    with threadpool_limits(1):
        sequential = recovery_table("synthetic1", [10, 20], **settings)
    with parallel_config(backend="threading"):
        parallel = recovery_table("synthetic1", [10, 20], sweep_n_jobs=2, **settings)
    for a, b in zip(sequential, parallel):
        a.pop("l1ae_train_seconds"), b.pop("l1ae_train_seconds")
        assert a == b
