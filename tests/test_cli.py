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


def test_show_versions_and_the_record_of_a_reproduction(tmp_path, capsys):
    import json

    import torch

    import skunroll
    from skunroll.utils._show_versions import get_versions

    skunroll.show_versions()
    printed = capsys.readouterr().out
    info = get_versions()
    assert info["skunroll"]["version"] == skunroll.__version__
    for name in ("numpy", "scipy", "sklearn", "torch", "joblib"):
        assert info["dependencies"][name] and f"{name}: {info['dependencies'][name]}" in printed
    main(["reproduce", "relu-ae", "--quick", "--out", str(tmp_path), "--seed", "3"])
    run = json.loads((tmp_path / "relu_ae.run.json").read_text())
    assert run["arguments"]["seed"] == 3 and run["arguments"]["paper"] == "relu-ae"
    assert run["environment"]["dependencies"]["torch"] == info["dependencies"]["torch"]
    used = "cuda" if torch.cuda.is_available() else "cpu"
    assert run["device"]["requested"] == "auto" and run["device"]["used"] == used


def test_license_and_citation_files_are_complete():
    from pathlib import Path

    yaml = pytest.importorskip("yaml")
    root = Path(__file__).resolve().parent.parent
    assert "BSD 3-Clause License" in (root / "LICENSE").read_text()
    citation = yaml.safe_load((root / "CITATION.cff").read_text())
    assert citation["cff-version"] and citation["license"] == "BSD-3-Clause"
    titles = " ".join(reference["title"] for reference in citation["references"])
    for paper in ("Gradient Unrolling", "Deep l0 Encoders", "Low-Rank Approximations",
                  "Sparse Coding and Autoencoders", "Sparse Coding", "CountSketch", "Few-Shot"):
        assert paper in titles


def test_a_flag_that_does_not_apply_to_the_paper_is_an_error(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "deep-l0", "--quick", "--m", "10"])
    assert "--m does not apply to 'deep-l0' (it applies to l1ae)" in capsys.readouterr().err


def test_a_missing_matplotlib_is_said_once(monkeypatch, capsys):
    import sys

    from skunroll.reproduce import _common

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(_common._SAID, "no matplotlib", False)
    assert _common.pyplot() is None and _common.pyplot() is None
    assert capsys.readouterr().out.count("matplotlib is not installed") == 1
