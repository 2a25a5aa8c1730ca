"""Command line: ``python -m skunroll`` (or ``skunroll``).

``python -m skunroll [options]`` runs the main experiment on built-in data:
learned (l1-AE) vs Gaussian measurements on the synthetic data of Wu et al.
(ICML 2019), both decoded by exact l1-min-pos, and prints the exact-recovery
table. ``python -m skunroll reproduce PAPER [--quick] [--out DIR]`` runs a
paper's whole comparison with its baselines, next to the paper's figures.
Both take ``--device auto|cpu|cuda|cuda:N|mps``: every estimator they build
trains and decodes there.
"""

import argparse
import sys

from . import __version__
from .reproduce import (
    DATASETS,
    HEADER,
    OPTIONS,
    REPRODUCTIONS,
    device_name,
    format_row,
    recovery_table,
)
from .reproduce import run as run_reproduction

DEVICE_HELP = ("torch device of every estimator: auto (cuda where available, else cpu), cpu, "
               "cuda, cuda:N or mps (default: auto)")


def _check_device(parser, device):
    # Before any data are made: a typo or a missing GPU would otherwise surface
    # minutes later, inside the first fit.
    try:
        device_name(device)
    except ValueError as exc:
        parser.error(f"argument --device: {exc}")


def reproduce(argv):
    parser = argparse.ArgumentParser(
        prog="skunroll reproduce",
        description="Reproduce a paper's comparison, with its baselines, next to its figures.",
    )
    parser.add_argument("paper", choices=sorted(REPRODUCTIONS),
                        help="; ".join(f"{k}: {v}" for k, (_, v) in REPRODUCTIONS.items()))
    parser.add_argument("--quick", action="store_true",
                        help="a small version that runs in about a minute")
    parser.add_argument("--out", default=None,
                        help="folder for the results (JSON, Markdown table, PNG plots)")
    parser.add_argument("--data", nargs="+", default=None,
                        help="data sets (default: the paper's; l1ae: synthetic1 synthetic2 "
                        "power-law, sketch: video faces, xml: yeast synthetic-xml)")
    parser.add_argument("--m", type=int, nargs="+", default=None,
                        help="l1ae: the numbers of measurements to run (default: each data "
                        "set's grid), e.g. a finer grid around where recovery reaches 95%%")
    parser.add_argument("--n-samples", type=int, default=None,
                        help="l1ae: rows generated or loaded per data set (default: 10,000)")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    _check_device(parser, args.device)
    for option in ("data", "m", "n_samples"):
        if getattr(args, option) is not None and option not in OPTIONS[args.paper]:
            papers = sorted(p for p, options in OPTIONS.items() if option in options)
            parser.error(f"--{option.replace('_', '-')} does not apply to {args.paper!r} "
                         f"(it applies to {', '.join(papers)}).")
    return run_reproduction(args.paper, args)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["reproduce"]:
        return reproduce(argv[1:])
    parser = argparse.ArgumentParser(
        prog="skunroll",
        description="Learned vs Gaussian compressed-sensing measurements on synthetic sparse "
        "data (Wu et al., ICML 2019): exact recovery by l1-min-pos decoding.",
    )
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="synthetic1")
    parser.add_argument("-m", "--n-components", type=int, nargs="+", default=[10, 20, 30],
                        help="numbers of measurements to compare (default: 10 20 30)")
    parser.add_argument("--n-samples", type=int, default=10000,
                        help="rows generated; 60/20/20 train/validation/test (default: 10000)")
    parser.add_argument("--n-test", type=int, default=1000,
                        help="test rows decoded per method (default: 1000)")
    parser.add_argument("--recipe", choices=["stable", "paper"], default="stable",
                        help="L1AEEncoder's training recipe (default: stable; paper: the "
                        "reference code, trained until early stopping)")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="l1-AE training epochs at most (default: the recipe's: about "
                        "3,000 SGD steps for stable, 1,000 epochs for paper)")
    parser.add_argument("--n-jobs", type=int, default=None, help="joblib workers for the LPs")
    parser.add_argument("--sweep-jobs", type=int, default=None,
                        help="joblib workers over the values of m (default: one at a time)")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--version", action="version", version=f"skunroll {__version__}")
    args = parser.parse_args(argv)
    _check_device(parser, args.device)

    print(f"skunroll {__version__}: {args.dataset}, d=1000, n={args.n_samples}, "
          f"test rows={args.n_test}, l1-AE recipe={args.recipe}, "
          f"max_epochs={args.max_epochs or 'auto'}")
    print(HEADER, flush=True)
    recovery_table(
        args.dataset, args.n_components, n_samples=args.n_samples, n_test=args.n_test,
        max_epochs=args.max_epochs or "auto", recipe=args.recipe, n_jobs=args.n_jobs,
        sweep_n_jobs=args.sweep_jobs,
        device=args.device,
        random_state=args.seed, verbose=args.verbose,
        log=lambda row: print(format_row(row), flush=True),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
