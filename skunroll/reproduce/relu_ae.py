"""``python -m skunroll reproduce relu-ae``: Rangamani et al. (ISIT 2018), Table 1, Figures 1/3/5.

On data from the paper's model (``make_nonnegative_sparse_code``: h Gaussian
unit-norm atoms in R^n, n = h / 2, codes with round(h^0.3) nonzeros uniform
in [1, 2]):

- Table 1: the mean column norm of the gradient of the squared loss at
  ``W = A*^T`` and at columnwise perturbations of norm delta (atoms
  renormalised), as h grows, bias ``"support"``; both the plain gradient
  (the paper's) and its part tangent to each atom's unit sphere (what
  unit-norm training follows). Printed next to the paper's values with the
  ratio.
- Figures 1, 3, 5: the loss along random directions around A*, and where
  along each direction it is lowest.

Plots are saved as PNG (with matplotlib). ``--quick``: h = 128, 256, fewer
signals and directions, in seconds. No estimator is fitted: ``--device`` is
where the float64 tensors of the gradients and losses live (random directions
are drawn on the CPU, so every device sees the same ones).
"""

from pathlib import Path

import numpy as np
import torch

from ..datasets import make_nonnegative_sparse_code
from ..sparse_coding import auto_bias, data_coherence, relu_autoencoder_loss, support_bias_scale
from ._common import device_name, progress, save_results

#: The paper's Table 1: mean gradient column norm, h -> values at delta = 0.01, 0.02, 0.05, 0.1.
PAPER_DELTAS = (0.01, 0.02, 0.05, 0.1)
PAPER_TABLE1 = {256: (0.0137, 0.0138, 0.0126, 0.0095), 512: (0.0058, 0.0058, 0.0054, 0.0071),
                1024: (0.0025, 0.0024, 0.0026, 0.0079), 2048: (0.0011, 0.0012, 0.0025, 0.0031),
                4096: (0.0006, 0.0012, 0.0013, 0.0026)}


def mean_gradient_column_norms(W, Y, bias):
    """Mean atom-wise norm of the gradient, plain and tangent to the unit spheres."""
    W = W.clone().requires_grad_(True)
    loss = relu_autoencoder_loss(W, Y, bias)
    (grad,) = torch.autograd.grad(loss, W)
    W = W.detach()
    tangent = grad - (grad * W).sum(dim=1, keepdim=True) * W / (W * W).sum(dim=1, keepdim=True)
    return float(grad.norm(dim=1).mean()), float(tangent.norm(dim=1).mean())


def columnwise_perturbation(D, delta, generator):
    noise = torch.randn(D.shape, generator=generator, dtype=D.dtype).to(D.device)
    W = D + delta * noise / noise.norm(dim=1, keepdim=True)
    return W / W.norm(dim=1, keepdim=True)


def gradient(hs, deltas, n_samples, n_draws, seed, log=progress, device="cpu"):
    rows = []
    generator = torch.Generator().manual_seed(seed)
    for h in hs:
        n = h // 2
        Y, D, _ = make_nonnegative_sparse_code(n_samples, n, h, random_state=seed)
        bias = auto_bias(Y, 1 / np.sqrt(n), scale=support_bias_scale(h))
        Yt, Dt = torch.as_tensor(Y, device=device), torch.as_tensor(D, device=device)
        plain, tangent = mean_gradient_column_norms(Dt, Yt, bias)
        row = {"h": h, "n": n, "bias": bias, "plain": {"at_truth": plain},
               "tangent": {"at_truth": tangent}}
        for delta in deltas:
            norms = np.array([
                mean_gradient_column_norms(columnwise_perturbation(Dt, delta, generator), Yt, bias)
                for _ in range(n_draws)])
            row["plain"][str(delta)], row["tangent"][str(delta)] = norms.mean(axis=0).tolist()
        rows.append(row)
        for kind in ("plain", "tangent"):
            log(f"gradient ({kind}) h={h} n={n}: "
                  + ", ".join(f"{key}: {value:.4g}" for key, value in row[kind].items()),
)
    return rows


def landscape(sizes, n_samples, n_directions, seed, steps=41, radius=0.5, log=progress,
              device="cpu"):
    curves = []
    generator = torch.Generator().manual_seed(seed)
    ts = np.linspace(-radius, radius, steps)
    for size in sizes:
        n, h = (int(v) for v in size.split("x"))
        Y, D, _ = make_nonnegative_sparse_code(n_samples, n, h, random_state=seed)
        bias = auto_bias(Y, data_coherence(Y))  # the "auto" threshold
        Yt, Dt = torch.as_tensor(Y, device=device), torch.as_tensor(D, device=device)
        for _ in range(n_directions):
            direction = torch.randn(Dt.shape, generator=generator, dtype=Dt.dtype).to(device)
            direction /= direction.norm(dim=1, keepdim=True)  # unit change per atom
            losses = [float(relu_autoencoder_loss(Dt + t * direction, Yt, bias)) for t in ts]
            curves.append({"size": size, "t": ts.tolist(), "loss": losses,
                           "argmin_t": float(ts[int(np.argmin(losses))])})
        worst = max(abs(c["argmin_t"]) for c in curves if c["size"] == size)
        log(f"landscape {size}: largest |t| of a minimum along {n_directions} directions: "
              f"{worst:.3f} (grid step {ts[1] - ts[0]:.3f})")
    return curves


def plot(results, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "gradient" in results:
        rows = results["gradient"]
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
        hs = [r["h"] for r in rows]
        for ax, kind in zip(axes, ("plain", "tangent"), strict=False):
            for key in rows[0][kind]:
                label = "W = A*" if key == "at_truth" else f"delta = {key}"
                ax.loglog(hs, [r[kind][key] for r in rows], marker="o", label=label)
            ax.set_xlabel("h (n = h / 2)")
            ax.set_title(f"{kind} gradient")
        axes[0].set_ylabel("mean column norm of the gradient")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(Path(out_dir) / "relu_autoencoder_gradient_norm.png", dpi=120)
    if "landscape" in results:
        sizes = results["landscape_order"]
        fig, axes = plt.subplots(1, len(sizes), figsize=(4.5 * len(sizes), 3.5), squeeze=False)
        for ax, size in zip(axes[0], sizes, strict=False):
            for curve in (c for c in results["landscape"] if c["size"] == size):
                ax.plot(curve["t"], curve["loss"], lw=1)
            ax.axvline(0, color="k", lw=0.5)
            ax.set_title(f"n x h = {size}")
            ax.set_xlabel("t (W = A* + t * direction)")
        axes[0][0].set_ylabel("squared loss")
        fig.tight_layout()
        fig.savefig(Path(out_dir) / "relu_autoencoder_loss_landscape.png", dpi=120)


def summary(gradient_rows, curves):
    """Markdown: Table 1 next to the paper's, the landscape's minima."""
    deltas = [key for key in gradient_rows[0]["plain"] if key != "at_truth"]
    lines = ["### Table 1: mean column norm of the gradient (plain; ours / paper = ratio)", "",
             "| h | at A* | " + " | ".join(f"delta {d}" for d in deltas) + " | tangent at A* |",
             "|---|---|" + "---|" * len(deltas) + "---|"]
    for row in gradient_rows:
        cells = []
        for key in deltas:
            ours = row["plain"][key]
            paper = dict(zip(PAPER_DELTAS, PAPER_TABLE1.get(row["h"], ()), strict=False)).get(
                float(key))
            cells.append(f"{ours:.4f}" if paper is None
                         else f"{ours:.4f} / {paper:.4f} = {ours / paper:.1f}")
        lines.append(f"| {row['h']} | {row['plain']['at_truth']:.4f} | " + " | ".join(cells)
                     + f" | {row['tangent']['at_truth']:.4f} |")
    hs = [row["h"] for row in gradient_rows]
    at_truth = [row["plain"]["at_truth"] for row in gradient_rows]
    if len(hs) > 1:
        slope = np.polyfit(np.log(hs), np.log(at_truth), 1)[0]
        paper_hs = sorted(PAPER_TABLE1)
        paper_slope = np.polyfit(np.log(paper_hs),
                                 np.log([PAPER_TABLE1[h][0] for h in paper_hs]), 1)[0]
        lines += ["", f"The gradient at A* falls as h^{slope:.2f} (Theorem 3.2: it vanishes as h "
                      f"grows; the paper's column for delta = 0.01 falls as h^{paper_slope:.2f})."]
    lines += ["", "### Figures 1, 3, 5: loss along random directions around A*", ""]
    for size in dict.fromkeys(curve["size"] for curve in curves):
        minima = [abs(curve["argmin_t"]) for curve in curves if curve["size"] == size]
        step = curves[0]["t"][1] - curves[0]["t"][0]
        lines.append(f"- {size}: the lowest loss along each of {len(minima)} directions is at "
                     f"|t| <= {max(minima):.3f} (grid step {step:.3f}).")
    return "\n".join(lines)


def main(args):
    if args.quick:
        hs, deltas, n_samples, n_draws = [128, 256], [0.01, 0.1], 2000, 2
        sizes, n_directions, steps = ["60x120"], 4, 21
    else:
        hs, deltas, n_samples, n_draws = [256, 512, 1024, 2048], list(PAPER_DELTAS), 6000, 5
        sizes, n_directions, steps = ["60x120", "256x512"], 10, 41
    device = device_name(args.device)
    if device.startswith("mps"):
        raise SystemExit("reproduce relu-ae: --device mps: the gradients are computed in "
                         "float64, which MPS does not support; use cpu or cuda.")
    torch.manual_seed(args.seed)
    rows = gradient(hs, deltas, n_samples, n_draws, args.seed, device=device)
    curves = landscape(sizes, n_samples, n_directions, args.seed, steps=steps, device=device)
    text = summary(rows, curves)
    print(text)
    results = {"gradient": rows, "landscape": curves, "landscape_order": sizes}
    out = save_results(args.out, "relu_ae", results, text, args)
    if out is not None:
        try:
            plot(results, out)
            print(f"saved {out / 'relu_autoencoder_gradient_norm.png'}, "
                  f"{out / 'relu_autoencoder_loss_landscape.png'}")
        except ImportError:
            print("matplotlib is not installed: no plots (pip install skunroll[benchmarks]).")
    return 0

