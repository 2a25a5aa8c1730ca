"""Training steps of the deep l0 networks: thresholds by float masks vs ``torch.where``.

The unrolled networks threshold by float arithmetic (``skunroll/sparse_coding/
_modules.py``: a mask from ``sign(v - b)``, then a product) rather than by a
comparison and ``torch.where``, whose CPU kernels read or write bool tensors
and are not vectorised. This script times one training step (forward, cross-
entropy, backward) of ``DeepL0Classifier``'s network with the library's
thresholds and with the ``torch.where`` form, interleaved in one process
(``--rounds`` rounds of 100 steps each), for the exact HELU (most of training)
and HELU_sigma (the first epochs), on digits, the MNIST subset and LFW faces. It checks
that both forms give the same gradients first. Real images matter: the
``torch.where`` form's scalar loops branch on the mask, so its cost depends on
how unpredictable the codes' support is (on uniform random inputs it is level).

Run::

    nice python benchmarks/bench_thresholds.py            # 1 thread
    python benchmarks/bench_thresholds.py --device cuda   # the same on a GPU

``gpu_suite.py`` runs the digits rows on the CPU and the GPU (section
``thresholds``): on CUDA ``where`` is vectorised, and the masks' few more
kernels may cost more than they save.
"""

import argparse
import time
import types

import numpy as np
import torch
import torch.nn.functional as F
from _data import image_sets

from skunroll.sparse_coding import DeepL0Classifier


def where_threshold(self, u, theta=None):
    """The thresholds of ``UnrolledThresholdingNetwork`` written with ``torch.where``."""
    if theta is None:
        theta = self._thresholds_in_use()
    if self.training and self.sigma is not None:
        v = u / theta
        magnitude = v.abs()
        ramp = torch.sign(v) * (magnitude - 1 + self.sigma) / self.sigma
        inner = torch.where(magnitude > 1 - self.sigma, ramp, torch.zeros_like(v))
        return theta * torch.where(magnitude >= 1, v, inner)
    return torch.where(u.abs() >= theta, u, 0.0)


def network(X, y, seed=0):
    """The network of a one-epoch fit, and a batch of 128 rows."""
    X = X.astype(np.float32)
    fitted = DeepL0Classifier(max_epochs=1, random_state=seed).fit(X, y)
    net = fitted._module_from_attributes()
    net.train()
    return net, torch.from_numpy(X[:128]), torch.from_numpy(y[:128]).long()


def step_seconds(net, X, y, n_steps):
    synchronize = torch.cuda.synchronize if X.is_cuda else (lambda: None)
    synchronize()
    start = time.perf_counter()
    for _ in range(n_steps):
        net.zero_grad(set_to_none=True)
        F.cross_entropy(net(X), y).backward()
    synchronize()
    return (time.perf_counter() - start) / n_steps


def gradients(net, X, y):
    net.zero_grad(set_to_none=True)
    F.cross_entropy(net(X), y).backward()
    return [p.grad.clone() for p in net.parameters() if p.grad is not None]


def compare_forms(net, X, y, rounds):
    """Rows of median step seconds, ``torch.where`` form vs float masks, per threshold kind.

    Each row also says whether the two forms gave the same gradients.
    """
    encoder = net.encoder
    forms = {"where": types.MethodType(where_threshold, encoder), "masks": encoder.threshold}
    rows = []
    try:
        for label, sigma in (("exact HELU", None), ("HELU_sigma", 0.2)):
            encoder.sigma = sigma
            results = {}
            for form, threshold in forms.items():
                encoder.threshold = threshold
                results[form] = gradients(net, X, y)
            pairs = zip(results["where"], results["masks"], strict=True)
            same = all(torch.equal(a, b) for a, b in pairs)
            times = {form: [] for form in forms}
            for _ in range(rounds):
                for form, threshold in forms.items():
                    encoder.threshold = threshold
                    step_seconds(net, X, y, 10)  # warm
                    times[form].append(step_seconds(net, X, y, 100))
            rows.append({"thresholds": label, "same_gradients": same,
                         **{f"{form}_us": 1e6 * float(np.median(times[form])) for form in forms}})
    finally:
        encoder.threshold = forms["masks"]
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| data | thresholds | torch.where, median us | float masks, median us | ratio |")
    print("|---|---|---|---|---|")
    for name, X, y in image_sets():
        net, X, y = network(X, y)
        net, X, y = net.to(args.device), X.to(args.device), y.to(args.device)
        for row in compare_forms(net, X, y, args.rounds):
            if not row["same_gradients"]:
                raise AssertionError("the two threshold forms give different gradients")
            print(f"| {name} | {row['thresholds']} | {row['where_us']:.0f} | "
                  f"{row['masks_us']:.0f} | {row['masks_us'] / row['where_us']:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
