"""Dictionary recovery with the tied ReLU autoencoder vs scikit-learn's dictionary learning.

Rangamani et al. (ISIT 2018) on data from their model (``make_nonnegative_sparse_code``:
Gaussian unit-norm atoms, codes with round(h^0.3) nonzeros uniform in [1, 2]),
6,000 samples per size. Three parts:

1. ``recovery``: for each (n, h), ReLUDictionaryAutoencoder with default
   settings vs ``DictionaryLearning(fit_algorithm="cd", positive_code=True,
   max_iter=30)`` (default alpha = 1, and alpha = 0.1) and
   ``MiniBatchDictionaryLearning(max_iter=50, fit_algorithm="cd",
   positive_code=True)``: dictionary recovery error (mean 1 - |cos| of matched
   atoms), support precision / recall of the codes each method computes
   (its own ``transform``, columns matched to the true atoms), fit wall time,
   and ratios to DictionaryLearning.
2. ``gradient``: the paper's Table 1: average column norm of the gradient of
   the squared loss at W = A*^T + columnwise perturbations of norm delta
   (atoms renormalised), as h grows (n = h / 2), bias ``"support"``; both the
   plain gradient and its part tangent to the unit sphere of each atom (what
   the unit-norm training sees); plot saved.
3. ``landscape``: the loss along random directions around A* (the paper's
   Figures 1, 3, 5); plot saved.
4. ``support``: support recovery of the ReLU layer at W = A*^T with the
   ``"auto"`` and ``"support"`` biases (exact support, precision, recall).
5. ``bias``: recovery error after training from random atoms with
   eps = c * sigma for several c (sigma from the data's coherence, as the
   defaults compute it: ``"auto"`` is c = 1.2, ``"support"`` is
   c = sqrt(2 ln h)) and with ``bias="learned"``.

    python benchmarks/bench_relu_autoencoder.py
    python benchmarks/bench_relu_autoencoder.py --parts recovery \
        --sizes 60x120 100x400

Results go to ``benchmarks/results/relu_autoencoder.json`` and the two PNGs.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import DictionaryLearning, MiniBatchDictionaryLearning
from sklearn.exceptions import ConvergenceWarning

from skunroll.datasets import make_nonnegative_sparse_code
from skunroll.metrics import dictionary_recovery_error, support_precision_recall
from skunroll.reproduce.relu_ae import gradient, landscape, plot
from skunroll.sparse_coding import (
    ReLUDictionaryAutoencoder,
    auto_bias,
    data_coherence,
    support_bias_scale,
)

RESULTS = Path(__file__).parent / "results"
DEFAULT_SIZES = ["60x120", "50x100", "50x150", "50x200", "100x200", "100x300", "100x400",
                 "200x400"]


def timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def scores(D, codes_true, dictionary, codes):
    error, matching, _ = dictionary_recovery_error(D, dictionary, return_matching=True)
    precision, recall = support_precision_recall(codes_true, codes[:, matching])
    return {"error": error, "support_precision": precision, "support_recall": recall}


def recovery(sizes, n_samples, seed):
    # One small fit first, so torch's one-time start-up is not timed.
    ReLUDictionaryAutoencoder(4, max_epochs=1, device="cpu").fit(np.ones((8, 4)))
    rows = []
    for size in sizes:
        n, h = (int(v) for v in size.split("x"))
        Y, D, codes = make_nonnegative_sparse_code(n_samples, n, h, random_state=seed)
        k = int((codes[0] > 0).sum())
        row = {"n": n, "h": h, "k": k, "methods": {}}
        methods = {
            "relu_autoencoder": lambda: ReLUDictionaryAutoencoder(
                h, device="cpu", random_state=seed).fit(Y),
            "dictionary_learning": lambda: DictionaryLearning(
                h, fit_algorithm="cd", positive_code=True, max_iter=30,
                transform_algorithm="lasso_cd", random_state=seed).fit(Y),
            # alpha = 0.1 instead of the default 1: less shrinkage of codes in [1, 2].
            "dictionary_learning_alpha0.1": lambda: DictionaryLearning(
                h, alpha=0.1, fit_algorithm="cd", positive_code=True, max_iter=30,
                transform_algorithm="lasso_cd", random_state=seed).fit(Y),
            "minibatch_dictionary_learning": lambda: MiniBatchDictionaryLearning(
                h, max_iter=50, fit_algorithm="cd", positive_code=True,
                transform_algorithm="lasso_cd", random_state=seed).fit(Y),
        }
        for name, fit in methods.items():
            model, seconds = timed(fit)
            result = scores(D, codes, model.components_, model.transform(Y))
            result["fit_seconds"] = seconds
            if name == "relu_autoencoder":
                result["epochs"] = model.n_iter_
                result["bias"] = model.bias_
            row["methods"][name] = result
            print(f"{n}x{h} k={k} {name}: error {result['error']:.4f}, support P/R "
                  f"{result['support_precision']:.3f}/{result['support_recall']:.3f}, "
                  f"{seconds:.1f}s", flush=True)
        ours, dl = row["methods"]["relu_autoencoder"], row["methods"]["dictionary_learning"]
        row["error_ratio_to_dl"] = ours["error"] / dl["error"]
        row["time_ratio_to_dl"] = ours["fit_seconds"] / dl["fit_seconds"]
        rows.append(row)
    return rows


def support(sizes, n_samples, seed):
    rows = []
    for size in sizes:
        n, h = (int(v) for v in size.split("x"))
        Y, D, codes = make_nonnegative_sparse_code(n_samples, n, h, random_state=seed)
        row = {"n": n, "h": h}
        for bias in ("auto", "support"):
            hidden = ReLUDictionaryAutoencoder(h, bias=bias, dictionary=D, max_epochs=0).fit(Y)
            active = hidden.transform(Y) > 0
            precision, recall = support_precision_recall(codes, active.astype(float))
            row[bias] = {"exact": float(np.mean(np.all(active == (codes > 0), axis=1))),
                         "precision": precision, "recall": recall}
            print(f"support {size} bias {bias}: exact {row[bias]['exact']:.3f}, "
                  f"precision {precision:.3f}, recall {recall:.3f}", flush=True)
        rows.append(row)
    return rows


def bias_sweep(sizes, n_samples, seed, scales=(0.8, 1.0, 1.2, 1.4, 1.6)):
    rows = []
    for size in sizes:
        n, h = (int(v) for v in size.split("x"))
        Y, D, _ = make_nonnegative_sparse_code(n_samples, n, h, random_state=seed)
        # sigma of the defaults: the data's coherence (auto = 1.2 sigma).
        sigma = auto_bias(Y, data_coherence(Y), scale=1.0)
        settings = {f"{c:g} sigma": c * sigma for c in scales}
        settings[f"support ({support_bias_scale(h):.2f} sigma)"] = "support"
        settings["learned"] = "learned"
        row = {"n": n, "h": h, "sigma": sigma, "errors": {}}
        for name, bias in settings.items():
            model = ReLUDictionaryAutoencoder(h, bias=bias, device="cpu",
                                              random_state=seed).fit(Y)
            row["errors"][name] = dictionary_recovery_error(D, model.components_)
        rows.append(row)
        print(f"bias {size}: " + ", ".join(f"{k}: {v:.4f}" for k, v in row["errors"].items()),
              flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="+",
                        default=["recovery", "gradient", "landscape", "support", "bias"])
    parser.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES, help="n x h pairs")
    parser.add_argument("--n-samples", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gradient-h", nargs="+", type=int, default=[256, 512, 1024, 2048])
    parser.add_argument("--deltas", nargs="+", type=float, default=[0.01, 0.02, 0.05, 0.1])
    parser.add_argument("--landscape-sizes", nargs="+", default=["60x120", "256x512"])
    parser.add_argument("--support-sizes", nargs="+",
                        default=["60x120", "200x400", "400x800", "1000x2000"])
    parser.add_argument("--bias-sizes", nargs="+",
                        default=["60x120", "50x200", "100x300", "200x400"])
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    torch.manual_seed(args.seed)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "relu_autoencoder.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    if "recovery" in args.parts:
        results["recovery"] = recovery(args.sizes, args.n_samples, args.seed)
    if "gradient" in args.parts:
        results["gradient"] = gradient(args.gradient_h, args.deltas, args.n_samples, 5, args.seed)
    if "landscape" in args.parts:
        results["landscape"] = landscape(args.landscape_sizes, args.n_samples, 10, args.seed)
        results["landscape_order"] = args.landscape_sizes
    if "support" in args.parts:
        results["support"] = support(args.support_sizes, 2000, args.seed)
    if "bias" in args.parts:
        results["bias"] = bias_sweep(args.bias_sizes, args.n_samples, args.seed)
    path.write_text(json.dumps(results, indent=1))
    plot(results, RESULTS)


if __name__ == "__main__":
    main()
