"""The papers' comparisons, with their baselines, next to the papers' figures.

One module per paper, each with ``main(args)`` (the parsed command line of
``python -m skunroll reproduce PAPER``, whose ``device`` every estimator it
builds receives); :data:`REPRODUCTIONS` is the one registry the command line
reads. The l1-AE recovery experiment behind the main job (``python -m
skunroll``) is :func:`recovery_table`.
"""

import importlib

from ._common import DATASETS, DEVICE_TYPES, HEADER, device_name, format_row, recovery_table

#: The optional flags each paper reads; any other one given is an error naming the paper.
OPTIONS = {"l1ae": {"data", "m", "n_samples"}, "deep-l0": set(), "relu-ae": set(),
           "sketch": {"data"}, "xml": {"data"}}

#: paper name -> (module of this package, what it reproduces)
REPRODUCTIONS = {
    "l1ae": ("l1ae", "Wu et al., ICML 2019: l1-AE and every baseline of its comparison"),
    "deep-l0": ("deep_l0", "Wang et al., AAAI 2016: Tables 1-3, deep l0 encoders vs IHT and an "
                           "MLP"),
    "relu-ae": ("relu_ae", "Rangamani et al., ISIT 2018: gradient norms near A* (Table 1), loss "
                           "landscape"),
    "sketch": ("sketch", "Indyk et al., NeurIPS 2019 and Li et al., ICLR 2023: learned vs random "
                         "sketches"),
    "xml": ("xml", "Wu et al., ICML 2019, section 6: compressed labels vs one-vs-rest, ridge, "
                   "kNN"),
}


def run(paper, args):
    """Run the reproduction of ``paper`` with the parsed command-line ``args``."""
    module, _ = REPRODUCTIONS[paper]
    return importlib.import_module(f".{module}", __name__).main(args)


__all__ = ["DATASETS", "DEVICE_TYPES", "HEADER", "OPTIONS", "REPRODUCTIONS", "device_name",
           "format_row", "recovery_table", "run"]
