"""Multi-label classification through compressed label spaces: Yeast and a synthetic XML set.

For each data set, P@1/3/5 (skunroll.metrics.precision_at_k) and training /
predict wall time of:

- CompressedLabelClassifier (Ridge regressor) with a learned l1-AE encoder
  (the default noise-aware lasso decoder, the exact LP decoder l1-min-pos, and
  the linear decoder A^T z), a Gaussian encoder (the same three) and a
  PCA-like encoder (TruncatedSVD), at several m;
- one-vs-rest logistic regression (liblinear, C=10 and C=1, n_jobs=2), and ridge
  regression on the full label matrix (no compression);
- a kNN-on-embedding baseline in the spirit of SLEEC: the same Ridge predicts
  a TruncatedSVD embedding of the labels, and a sample's label scores are the
  summed label vectors of its 10 nearest training samples in that space
  (cosine).

Data: Yeast (MULAN, via river; the first 1,500 genes train, the other 917
test, MULAN's split) and a synthetic XML set with 2,000 power-law labels
(``skunroll.datasets.make_linear_xml``: 4 labels per sample, 300 dense features that are a
noisy sum of the labels' random prototypes; 5,000 train / 1,000 test).
(``make_multilabel_classification`` with 1,500 labels was tried first: with
~13 samples per label every method, one-vs-rest included, stayed near chance.)

    python benchmarks/bench_compressed_labels.py
    python benchmarks/bench_compressed_labels.py --datasets yeast
"""

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skunroll.reproduce.xml import data_sets, run

RESULTS = Path(__file__).parent / "results"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["yeast", "synthetic-xml"])
    # Per-vector HiGHS LPs take ~0.1 s each at m = 100, L = 2,000 (issue 7's batched decoder).
    parser.add_argument("--lp-max-m", type=int, default=100,
                        help="skip the LP decoders above this m")
    # The README's figures were measured with the paper recipe for 30 epochs.
    parser.add_argument("--recipe", choices=["paper", "stable"], default="paper")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    RESULTS.mkdir(exist_ok=True)
    results = {}
    for name, split, ms in data_sets(args.datasets):
        print(f"{name}: {split[0].shape[0]} train / {split[1].shape[0]} test, "
              f"{split[2].shape[1]} labels, {np.asarray(split[2].sum(axis=1)).mean():.2f} "
              "per sample", flush=True)
        results[name] = run(name, split, ms, args.lp_max_m, recipe=args.recipe)
    (RESULTS / "compressed_labels.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
