"""L1AEEncoder trained on RCV1-scale rows streamed through partial_fit: speed, memory, recovery.

The rows come from ``skunroll.datasets.make_power_law_chunks`` (d = 47,236,
the l1-AE paper's power-law model of RCV1, about 65 nonzeros per row), one
CSR chunk at a time: the data set is never in memory. For each m (the paper's
RCV1 range: 200, 600, 1,200) and each number of streamed rows, a fresh
process trains with T = 10, batch 256, the default ("stable") recipe (the
paper's SGD at learning rate 0.01 diverges at T = 10 on data this wide) and
reports training samples per second and its peak resident memory
(flat in the number of rows is the target: < 3 GB at 50k and 200k rows).
Then exact recovery and RMSE of ``--n-test`` held-out rows decoded by
l1-min-pos, against a Gaussian matrix of the same m (same run).

    nice python benchmarks/bench_l1ae_streaming.py --m 200 --rows 50000 200000
    nice python benchmarks/bench_l1ae_streaming.py --m 200 --rows 2560 10240 --n-test 50
    nice python benchmarks/bench_l1ae_streaming.py --m 200 --rows 50000 200000 --one-stream

One epoch over 800,000 rows at m = 1,200 is about 5e15 flops (12 T batch d m
per step): hours on two CPU cores, minutes on a GPU (``--device cuda``).
"""

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stream(m, n_rows, chunk_size, n_test, device, marks=(), seed=0):
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    from skunroll import L1AEEncoder
    from skunroll.datasets import make_power_law_chunks
    from skunroll.metrics import exact_recovery_fraction, recovery_rmse
    from skunroll.sensing import GaussianMeasurement

    # The default ("stable") recipe: the paper's SGD at 0.01 diverges at T = 10 on d this large.
    encoder = L1AEEncoder(m, n_steps=10, batch_size=256, shuffle=False, device=device,
                          random_state=seed)
    start = time.perf_counter()
    rows_seen, peak_at_marks = 0, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for index, chunk in enumerate(make_power_law_chunks(n_rows, chunk_size=chunk_size,
                                                            random_state=seed)):
            encoder.partial_fit(chunk)
            rows_seen += chunk.shape[0]
            # Peak RSS only grows, so its value once a mark is passed is that stream's peak.
            peak_at_marks.update({mark: _peak_rss_mb() for mark in marks
                                  if rows_seen >= mark and mark not in peak_at_marks})
            if index == 0:  # the first call also initialises (QR, starting-step search)
                first_rows, first_seconds = chunk.shape[0], time.perf_counter() - start
            print(f"m={m}: chunk {index + 1}, {encoder.n_optimizer_steps_} steps, training loss "
                  f"{encoder.loss_curve_[-1]:.4g}, {time.perf_counter() - start:.0f} s, "
                  f"peak RSS {_peak_rss_mb():.0f} MB",
                  file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    peak_mb = _peak_rss_mb()
    row = {"m": m, "rows": n_rows, "seconds": seconds, "samples_per_second": n_rows / seconds,
           "first_chunk_seconds": first_seconds, "peak_rss_mb": peak_mb,
           "steps": int(encoder.n_optimizer_steps_),
           "peak_rss_mb_after_rows": {str(mark): peak_at_marks[mark]
                                      for mark in sorted(peak_at_marks)}}
    if n_rows > first_rows:
        row["samples_per_second_after_first_chunk"] = (
            (n_rows - first_rows) / (seconds - first_seconds))
    if n_test:
        test = next(make_power_law_chunks(n_test, chunk_size=n_test, random_state=seed + 1))
        for name, model in (("l1-AE", encoder),
                            ("Gaussian", GaussianMeasurement(m, random_state=seed).fit(test))):
            decode_start = time.perf_counter()
            decoded = model.inverse_transform(model.transform(test))
            row[f"{name} decode seconds"] = time.perf_counter() - decode_start
            decoded = np.where(np.isnan(decoded).any(axis=1, keepdims=True), 0.0, decoded)
            row[f"{name} exact"] = exact_recovery_fraction(test, decoded)
            row[f"{name} rmse"] = recovery_rmse(test, decoded)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, nargs="+", default=[200, 600, 1200])
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 200_000])
    parser.add_argument("--chunk-size", type=int, default=10_240)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--one-stream", action="store_true",
                        help="one process per m streams max(--rows) rows and reports its peak "
                             "RSS once each smaller --rows count has been passed (the same "
                             "figure as a separate stream of that many rows, at a fraction "
                             "of the time)")
    parser.add_argument("--child", nargs=2, type=int, metavar=("M", "ROWS"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.child:
        m, rows = args.child
        # Recovery is measured once per m, after the longest stream.
        n_test = args.n_test if rows == max(args.rows) else 0
        marks = args.rows if args.one_stream else ()
        print(json.dumps(run_stream(m, rows, args.chunk_size, n_test, args.device, marks)))
        return
    results = []
    for m in args.m:
        for rows in [max(args.rows)] if args.one_stream else args.rows:
            command = [sys.executable, __file__, "--child", str(m), str(rows), "--rows",
                       *map(str, args.rows), "--chunk-size", str(args.chunk_size), "--n-test",
                       str(args.n_test), "--device", args.device,
                       *(["--one-stream"] if args.one_stream else [])]
            # The child's per-chunk lines and any error go straight to stderr.
            out = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(row)
            recovery = "".join(f", {key} {value:.3f}" for key, value in row.items()
                               if key.endswith(("exact", "rmse", "seconds")) and " " in key)
            steady = row.get("samples_per_second_after_first_chunk")
            steady = "" if steady is None else f" ({steady:.0f} after the first chunk)"
            print(f"m={m} rows={rows}: {row['samples_per_second']:.0f} samples/s{steady}, "
                  f"peak RSS {row['peak_rss_mb']:.0f} MB, {row['steps']} steps{recovery}",
                  flush=True)
            for mark, peak in row["peak_rss_mb_after_rows"].items():
                print(f"m={m}: peak RSS {peak:.0f} MB after {mark} rows", flush=True)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
