"""``python -m skunroll reproduce``: the quick versions run and say what they measured."""

import json

import pytest

from skunroll.__main__ import main
from skunroll.reproduce.l1ae import OURS, measurements_needed, summary


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.slow
def test_reproduce_l1ae_quick(tmp_path, capsys):
    assert main(["reproduce", "l1ae", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = json.loads((tmp_path / "l1ae.json").read_text())
    methods = {row["method"] for row in rows}
    assert len(methods) == 10 and {row["m"] for row in rows} == {10, 20}
    exact = {row["method"]: row["exact"] for row in rows if row["m"] == 20}
    # Measured, not formatted: model-based CoSaMP uses the block structure that
    # plain l1-min cannot, and PCA alone never reconstructs a vector exactly.
    assert exact["Gaussian + CoSaMP-pos"] > 0.5 > exact["Gaussian + l1-min-pos"]
    assert exact["PCA"] == 0.0
    assert exact[OURS] > exact["Gaussian + l1-min-pos"]
    # The paper's figures printed beside ours, with the ratio.
    assert "| l1-AE + l1-min-pos |" in out and "96.4%" in out and "paper: exact" in out
    assert (tmp_path / "l1ae.md").read_text().startswith("### synthetic1")
    matplotlib = pytest.importorskip("matplotlib")
    assert matplotlib and (tmp_path / "l1ae_synthetic1.png").stat().st_size > 0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.slow
def test_reproduce_l1ae_rcv1_scale_quick(tmp_path):
    assert main(["reproduce", "l1ae", "--data", "rcv1-scale", "--quick", "--out",
                 str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "l1ae.json").read_text())
    assert {row["data"] for row in rows} == {"rcv1-scale"}
    assert {row["method"] for row in rows} == {OURS, "Gaussian + l1-min-pos"}
    rmse = {(row["method"], row["m"]): row["rmse"] for row in rows}
    # Every test row decoded (a row given up on would count as 0, RMSE 1), and the
    # learned matrix ahead of the Gaussian one at the larger m.
    assert max(rmse.values()) < 1.2
    assert rmse[OURS, 120] < rmse["Gaussian + l1-min-pos", 120]


def test_measurement_factor_against_the_best_baseline():
    rows = [{"data": "d", "m": m, "method": method, "exact": exact, "rmse": 0.0}
            for method, curve in {OURS: [0.5, 0.96, 1.0],
                                  "Gaussian + CoSaMP-pos": [0.0, 0.8, 0.97],
                                  "PCA": [0.0, 0.0, 0.0]}.items()
            for m, exact in zip([10, 20, 30], curve, strict=False)]
    assert measurements_needed(rows, OURS, "d") == 20
    assert measurements_needed(rows, "PCA", "d") is None
    assert "best baseline (Gaussian + CoSaMP-pos) m = 30: 1.50x fewer" in summary(rows)


def test_reproduce_relu_ae_quick(tmp_path, capsys):
    assert main(["reproduce", "relu-ae", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "relu_ae.json").read_text())
    at_truth = [row["plain"]["at_truth"] for row in results["gradient"]]
    # Theorem 3.2 in small: the gradient at A* falls as h grows.
    assert at_truth[1] < at_truth[0]
    # A* is (close to) a minimum along every random direction.
    assert max(abs(curve["argmin_t"]) for curve in results["landscape"]) <= 0.1
    assert "/ 0.0137 =" in out  # the paper's Table 1 value beside ours


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_reproduce_sketch_quick(tmp_path, capsys):
    assert main(["reproduce", "sketch", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = json.loads((tmp_path / "sketch.json").read_text())
    ratio = {row["sketch"]: row["ratio_to_random"] for row in rows}
    assert ratio["random CountSketch"] == 1.0 and len(ratio) == 13
    # The cached test errors are minus the estimator's own score.
    from skunroll.reproduce.sketch import _data, _TestMatrices
    from skunroll.sketching import LearnedSketchLowRank

    train, test = _data("synthetic", True, 0)
    random = LearnedSketchLowRank(10, sketch_size=20, sketch="random", random_state=0).fit(train)
    cached = _TestMatrices(test).excess(random, 10)
    assert cached == pytest.approx(-random.score(test), rel=1e-12)
    # On frames of one scene, learned values beat a random hash ...
    assert ratio["IVY (SGD values)"] < 0.5
    # ... the greedy positions beat learned values, in a fraction of the time ...
    assert ratio["greedy positions"] < ratio["IVY (SGD values)"]
    assert ratio["greedy + SGD (default)"] < ratio["IVY (SGD values)"]
    # ... and the frames share their column space, which the dense closed-form sketch captures.
    assert ratio["tensor (dense)"] < ratio["greedy + SGD (default)"]
    assert "seed Table 1, (10, 20): learned 0.042-0.369x" in out


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.slow
def test_reproduce_xml_quick(tmp_path, capsys):
    assert main(["reproduce", "xml", "--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "xml.json").read_text())
    p_at_1 = {(row["method"], row["m"]): row["P@1"] for row in results["synthetic-xml"]}
    # The exact decoders beat A^T z on the same embedding; every compressed model
    # is far above chance (4 labels of 200).
    assert p_at_1["Gaussian, LP", 20] > p_at_1["Gaussian, linear", 20]
    assert min(value for (method, m), value in p_at_1.items() if m is not None) > 0.5
    assert "Best P@1 per family" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.slow
def test_reproduce_deep_l0_quick(tmp_path, capsys):
    assert main(["reproduce", "deep-l0", "--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "deep_l0.json").read_text())
    error = {(row["dictionary"], row["sparsity"], row["method"]): row["error"]
             for row in results["codes"]}
    for dictionary in ("learned", "paper regime"):
        for sparsity in ("l0", "M"):
            # More iterations get closer, and the optimal codes' own start is far closer
            # than zero.
            assert error[dictionary, sparsity, "IHT-10"] < error[dictionary, sparsity, "IHT-2"]
            assert (error[dictionary, sparsity, "IHT-10 from l1"]
                    < 0.7 * error[dictionary, sparsity, "IHT-10"])
    # The dictionary moved toward a tight frame is the easier problem the paper's IHT-2 row
    # describes (17.5% after two steps; the learned one: over 60%).
    assert error["learned", "l0", "IHT-2"] > 60
    assert 10 < error["paper regime", "l0", "IHT-2"] < 30
    out = capsys.readouterr().out
    assert "Table 3" in out and "Table 4" in out
    classification = {row["method"]: row["error"] for row in results["classification"]}
    # 10 classes: 90% is chance.
    assert len(classification) == 7 and max(classification.values()) < 30


def test_reproduce_l1ae_passes_the_grid_and_size(monkeypatch):
    from skunroll.reproduce import l1ae as _reproduce_l1ae

    seen = {}

    def fake_run(data_sets, **options):
        seen.update(options, data_sets=data_sets)
        return []

    monkeypatch.setattr(_reproduce_l1ae, "run", fake_run)
    monkeypatch.setattr(_reproduce_l1ae, "summary", lambda rows: "")
    main(["reproduce", "l1ae", "--data", "synthetic2", "--m", "25", "35", "--n-samples", "3000"])
    assert seen["data_sets"] == ["synthetic2"] and seen["m_grid"] == [25, 35]
    assert seen["n_samples"] == 3000


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_paper_regime_dictionary_matches_the_iht2_row():
    import numpy as np

    from skunroll.metrics import normalized_code_error
    from skunroll.reproduce.deep_l0 import _toward_tight_frame, paper_regime_dictionary
    from skunroll.sparse_coding import iht, optimal_codes

    rng = np.random.RandomState(0)
    # Coherent atoms: all near one direction, as atoms learned on digits crowd together.
    D = rng.normal(size=(12, 16)) + 3 * rng.normal(size=16)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    np.testing.assert_allclose(_toward_tight_frame(D, 0.0), D)
    frame = _toward_tight_frame(D, 1.0)
    np.testing.assert_allclose(frame @ frame.T, np.eye(12), atol=1e-10)
    X = rng.normal(size=(200, 16))
    regime, t = paper_regime_dictionary(D, X, target=20.0, n_bisections=10)
    assert 0 < t < 1 and np.linalg.norm(regime, 2) < np.linalg.norm(D, 2)
    step = 1 / np.linalg.norm(regime, 2) ** 2
    error = normalized_code_error(optimal_codes(X, regime, step_size=step),
                                  iht(X, regime, n_iter=2, step_size=step))
    assert abs(error - 20.0) < 3.0


def test_one_vs_rest_baseline_ranks_labels_absent_from_training_last():
    import numpy as np

    from skunroll.reproduce.xml import OneVsRestLogistic

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5))
    Y = np.zeros((60, 3), dtype=int)
    Y[:, 0] = X[:, 0] > 0
    Y[:, 1] = X[:, 1] > 0  # label 2 never occurs in training
    scores = OneVsRestLogistic(C=1.0, n_jobs=1).fit(X, Y).decision_function(X)
    assert (scores[:, 2] < scores[:, :2].min(axis=1)).all()
