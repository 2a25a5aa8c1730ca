"""Peak memory and time of deep l0 training with and without checkpointed stages, vs depth.

``UnrolledThresholdingNetwork`` (the deep l0 encoders and LISTA) recomputes
each stage in the backward pass when autograd would keep more than
``CHECKPOINT_ABOVE_BYTES`` for the stages (``checkpoint_steps="auto"``).
This benchmark trains ``DeepL0Classifier`` (both forms: hard thresholds and
max-M pooling; the classifier needs no optimal codes, so the fit is the
training loop alone) for one epoch on random data of a wide code
(p = 2,048 atoms, 784 features, batch 1,024) at several depths K, each
(form, K, mode) in its own process so its peak resident memory is its own:

- ``autograd``: stages never checkpointed (the byte budget set to infinity);
- ``checkpointed``: stages always checkpointed (budget 0).

Issue 18's aim: activation memory that does not grow by several
(batch, p) tensors per stage. The time ratio is the price of the rerun.

Peak RSS also counts memory glibc keeps after it was freed: (batch, p) tensors
of a few MB fall under its adaptive mmap threshold and are reused from a
fragmented heap. ``--malloc-mmap-threshold 65536`` runs the children with
``MALLOC_MMAP_THRESHOLD_`` fixed, so every large tensor is returned to the
system when freed and peak RSS follows the live tensors.

    nice python benchmarks/bench_unrolled_depth_memory.py
    nice python benchmarks/bench_unrolled_depth_memory.py --depths 2 10 --n-samples 2048
    nice python benchmarks/bench_unrolled_depth_memory.py --malloc-mmap-threshold 65536
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings


def run_child(sparsity, n_steps, mode, n_samples, n_components, batch_size):
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    from skunroll.sparse_coding import DeepL0Classifier, _modules

    _modules.CHECKPOINT_ABOVE_BYTES = 0 if mode == "checkpointed" else float("inf")
    rng = np.random.RandomState(0)
    n_features = 784
    X = rng.rand(n_samples, n_features).astype(np.float32)
    y = rng.randint(10, size=n_samples)
    dictionary = rng.randn(n_components, n_features)
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    classifier = DeepL0Classifier(n_components, sparsity=sparsity, n_steps=n_steps,
                                  dictionary=dictionary, batch_size=batch_size, max_epochs=1,
                                  early_stopping=False, device="cpu", random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(X, y)
    seconds = time.perf_counter() - start
    return {"sparsity": sparsity, "K": n_steps, "mode": mode, "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_fit_mb": rss_before / 1024}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 5, 10, 20])
    parser.add_argument("--sparsity", nargs="+", default=["l0", "M"])
    parser.add_argument("--n-samples", type=int, default=4096)
    parser.add_argument("--n-components", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--malloc-mmap-threshold", type=int, default=None, metavar="BYTES",
                        help="run the children with MALLOC_MMAP_THRESHOLD_=BYTES (glibc)")
    parser.add_argument("--child", nargs=3, metavar=("SPARSITY", "K", "MODE"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    sizes = (args.n_samples, args.n_components, args.batch_size)
    if args.child:
        sparsity, n_steps, mode = args.child
        print(json.dumps(run_child(sparsity, int(n_steps), mode, *sizes)))
        return
    print(f"DeepL0Classifier, p={args.n_components}, 784 features, batch {args.batch_size}, "
          f"one epoch over {args.n_samples} rows")
    environment = dict(os.environ)
    if args.malloc_mmap_threshold is not None:
        environment["MALLOC_MMAP_THRESHOLD_"] = str(args.malloc_mmap_threshold)
        print(f"children run with MALLOC_MMAP_THRESHOLD_={args.malloc_mmap_threshold}")
    rows = []
    for sparsity in args.sparsity:
        for n_steps in args.depths:
            pair = {}
            for mode in ("autograd", "checkpointed"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", sparsity, str(n_steps), mode,
                     "--n-samples", str(args.n_samples), "--n-components",
                     str(args.n_components), "--batch-size", str(args.batch_size)],
                    capture_output=True, text=True, check=True, env=environment)
                pair[mode] = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(pair[mode])
            base, ckpt = pair["autograd"], pair["checkpointed"]
            print(f"  {sparsity:>2} K={n_steps:>2}: peak RSS {base['peak_rss_mb']:.0f} -> "
                  f"{ckpt['peak_rss_mb']:.0f} MB (before fit {base['rss_before_fit_mb']:.0f}), "
                  f"time {base['seconds']:.1f} -> {ckpt['seconds']:.1f} s "
                  f"({ckpt['seconds'] / base['seconds']:.2f}x)", flush=True)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
