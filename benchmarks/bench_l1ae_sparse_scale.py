"""Training time per epoch and peak memory of L1AEEncoder on sparse one-hot data (d ~ 8,000).

The data are the one-hot NYC flights of ``skunroll.datasets.load_flights_onehot``
(needs ``pip install -e ".[benchmarks]"``). Each mode runs in its own
process so its peak resident memory is its own:

- ``sparse``: the CSR matrix is handed to ``fit`` (only batches are densified);
- ``dense``: the same rows as a dense float64 array (the baseline, same run).

Timing: one epoch over ``--n-samples`` rows at m=100 with the paper's recipe
for the (similar) Amazon one-hot data: T=60, batch 256, SGD with learning rate
0.01. The time for an epoch over all 336,776 rows is extrapolated linearly.
(With T=10 this data diverges at learning rate 0.01: the first subgradient
steps leave a residual that grows with d, and T=60 damps it.)

    python benchmarks/bench_l1ae_sparse_scale.py --n-samples 10000

``--throughput`` instead trains on the CSR input on the CPU and, when there is
one, on a CUDA GPU, and prints training samples per second for each (the ratio
is measured in the same run).

``--depth-memory`` compares, on the CSR input, the unrolled steps' own backward
(``reversible``, the default: one int8 sign pattern kept per step) with plain
autograd (``autograd``: several (batch, d) float tensors per step), each in its
own process: peak RSS and time per epoch, and the training flop rate (12 T
batch d m flops per step) against a plain float32 GEMM of the step's shapes
measured in the same run. Issue 18's targets: peak RSS <= 1/4 of autograd's at
<= 1.3x its time, >= 75% of the GEMM rate.

    nice python benchmarks/bench_l1ae_sparse_scale.py --depth-memory --n-samples 5120
"""

import argparse
import functools
import json
import resource
import subprocess
import sys
import time
import warnings


def run_mode(mode, n_samples, n_components, n_steps, learning_rate, device):
    from sklearn.exceptions import ConvergenceWarning

    from skunroll import L1AEEncoder
    from skunroll.datasets import load_flights_onehot
    from skunroll.sensing import _l1ae, _modules

    if mode == "autograd":  # the unrolled steps as plain torch code, for comparison
        _l1ae.L1AENetwork = functools.partial(_modules.L1AENetwork, reversible=False)
    X = load_flights_onehot(n_samples, random_state=0)
    if mode == "dense":
        X = X.toarray()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    encoder = L1AEEncoder(n_components, n_steps=n_steps, batch_size=256, max_epochs=1,
                          recipe="paper", early_stopping=False, learning_rate=learning_rate,
                          device=device, random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder.fit(X)
    seconds = time.perf_counter() - start
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    flops = 12 * n_steps * X.shape[0] * X.shape[1] * n_components
    return {"mode": mode, "n_samples": X.shape[0], "n_features": X.shape[1],
            "epoch_seconds": seconds, "peak_rss_mb": rss_peak / 1024,
            "rss_before_fit_mb": rss_before / 1024, "gflops": flops / seconds / 1e9}


def gemm_rate(n_features, n_components, batch=256, seconds=3.0):
    """GFLOP/s of plain float32 GEMMs of the three product shapes a training step does.

    Per step the l1-AE does two of each: (batch x d) @ (d x m) (``s W``, ``g W``),
    (d x m) @ (m x batch) (``W (s W)^T`` into the feature-major x, forward and
    rebuild) and (d x batch) @ (batch x m) (W's gradient), all contiguous here.
    """
    import torch

    rows = torch.randn(batch, n_features)
    features = torch.randn(n_features, batch)
    w = torch.randn(n_features, n_components)
    small = torch.randn(n_components, batch)
    small_t = torch.randn(batch, n_components)

    def products():
        rows @ w
        w @ small
        features @ small_t

    products()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        products()
        count += 3
    return 2 * batch * n_features * n_components * count / (time.perf_counter() - start) / 1e9


def _in_process(mode, args):
    out = subprocess.run([sys.executable, __file__, "--mode", mode, "--n-samples",
                          str(args.n_samples), "-m", str(args.n_components), "-T",
                          str(args.n_steps), "--learning-rate", str(args.learning_rate),
                          "--device", args.device], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def depth_memory(args):
    autograd, reversible = _in_process("autograd", args), _in_process("sparse", args)
    gemm = gemm_rate(reversible["n_features"], args.n_components)
    print(f"flights one-hot: {reversible['n_samples']} rows x {reversible['n_features']}, "
          f"m={args.n_components}, T={args.n_steps}, batch 256, device={args.device}")
    for name, r in (("autograd", autograd), ("reversible", reversible)):
        print(f"  {name:>10}: {r['epoch_seconds']:.1f} s/epoch, "
              f"{r['n_samples'] / r['epoch_seconds']:.0f} samples/s, {r['gflops']:.1f} GFLOP/s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB (before fit {r['rss_before_fit_mb']:.0f} MB)")
    print(f"  plain GEMM of the step's shapes: {gemm:.1f} GFLOP/s")
    print(f"  reversible / autograd: peak RSS "
          f"{reversible['peak_rss_mb'] / autograd['peak_rss_mb']:.2f}, time "
          f"{reversible['epoch_seconds'] / autograd['epoch_seconds']:.2f}; training / GEMM rate "
          f"{reversible['gflops'] / gemm:.2f} (autograd {autograd['gflops'] / gemm:.2f})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=10000)
    parser.add_argument("-m", "--n-components", type=int, default=100)
    parser.add_argument("-T", "--n-steps", type=int, default=60)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mode", choices=["sparse", "dense", "autograd"])
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument("--depth-memory", action="store_true")
    args = parser.parse_args(argv)
    if args.depth_memory:
        return depth_memory(args)
    if args.throughput:
        import torch

        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        rates = {}
        for device in devices:
            r = run_mode("sparse", args.n_samples, args.n_components, args.n_steps,
                         args.learning_rate, device)
            rates[device] = r["n_samples"] / r["epoch_seconds"]
            print(f"{device}: {rates[device]:.0f} samples/s (m={args.n_components}, "
                  f"T={args.n_steps}, batch 256, {r['n_samples']} x {r['n_features']} CSR)",
                  flush=True)
        if "cuda" in rates:
            print(f"GPU / CPU: {rates['cuda'] / rates['cpu']:.1f}x")
        else:
            print("no CUDA device here: GPU throughput not measured")
        return
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.n_samples, args.n_components, args.n_steps,
                                  args.learning_rate, args.device)))
        return
    results = {mode: _in_process(mode, args) for mode in ("sparse", "dense")}
    sparse, dense = results["sparse"], results["dense"]
    full_rows = 336776
    dense_full_gb = full_rows * sparse["n_features"] * 4 / 1e9
    print(f"flights one-hot: {sparse['n_samples']} rows x {sparse['n_features']} features, "
          f"m={args.n_components}, T={args.n_steps}, batch 256, lr {args.learning_rate}, "
          f"device={args.device}")
    for r in (sparse, dense):
        print(f"  {r['mode']:>6}: {r['epoch_seconds']:.1f} s/epoch "
              f"({r['epoch_seconds'] / r['n_samples'] * full_rows:.0f} s extrapolated to all "
              f"{full_rows} rows), peak RSS {r['peak_rss_mb']:.0f} MB "
              f"(before fit {r['rss_before_fit_mb']:.0f} MB)")
    print(f"  ratios sparse/dense: time {sparse['epoch_seconds'] / dense['epoch_seconds']:.2f}, "
          f"peak memory {sparse['peak_rss_mb'] / dense['peak_rss_mb']:.2f}")
    print(f"  (the full data set densified as float32 would take {dense_full_gb:.1f} GB)")


if __name__ == "__main__":
    main()
