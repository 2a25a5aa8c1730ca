"""
Watching and steering training with callbacks
=============================================

Every trained skunroll estimator takes ``callbacks``: callables run after
each epoch (and after each ``partial_fit`` call) with a record of that epoch:
its number, the training and validation losses, the learning rate, the
seconds it took and the optimiser steps so far. Here one callback appends the
record to a CSV file, as a TensorBoard ``SummaryWriter.add_scalar`` or an
``mlflow.log_metric`` call would in its place, and a second one stops
training once the validation loss falls below a target: a callback that
returns True ends the fit, and the best weights are kept. We then draw the
curves the first callback logged.
"""

import csv
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from skunroll import L1AEEncoder
from skunroll.datasets import make_block_sparse

X = make_block_sparse(n_samples=3000, n_features=200, random_state=0)

# %%
# Two callbacks
# -------------
#
# A callback receives a copy of the record, so it may keep it. The CSV writer
# opens the file on every call: a crash mid-fit still leaves the epochs so far.
# The file goes to a temporary folder, not next to the script.
log_dir = tempfile.TemporaryDirectory()
log_path = Path(log_dir.name) / "l1ae_training_curve.csv"
fields = ["epoch", "train_loss", "validation_loss", "learning_rate", "seconds"]


def append_to_csv(record):
    new = not log_path.exists()
    with log_path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(record)


def stop_below(target):
    def stop(record):
        return record["validation_loss"] is not None and record["validation_loss"] < target
    return stop


# %%
# Training with both
# ------------------
#
# ``max_epochs`` is a cap; the second callback is what ends this fit.
target = 0.05
encoder = L1AEEncoder(n_components=40, max_epochs=60, random_state=0,
                      callbacks=[append_to_csv, stop_below(target)])
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # a capped fit may still be improving
    encoder.fit(X)

with log_path.open() as f:
    rows = list(csv.DictReader(f))
print(f"{len(rows)} epochs logged to {log_path.name}; stopped after epoch {encoder.n_iter_}, "
      f"last validation loss {float(rows[-1]['validation_loss']):.4f}")

# %%
# The logged curves
# -----------------
#
# Read back from the CSV file, as a dashboard would. The loss is the l1-AE
# training loss (squared error of the unrolled decoder); the run ends at the
# first epoch whose validation loss is under the target.
epochs = [int(row["epoch"]) for row in rows]
fig, (ax_loss, ax_lr) = plt.subplots(1, 2, figsize=(9, 3.5))
ax_loss.plot(epochs, [float(row["train_loss"]) for row in rows], "o-", label="training loss")
ax_loss.plot(epochs, [float(row["validation_loss"]) for row in rows], "s-",
             label="validation loss")
ax_loss.axhline(target, color="gray", linestyle=":", label=f"stop target {target}")
ax_loss.set_yscale("log")
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("loss (log scale)")
ax_loss.set_title("Losses logged by the CSV callback")
ax_loss.legend()
ax_lr.plot(epochs, [float(row["learning_rate"]) for row in rows], "o-", color="C2")
ax_lr.set_xlabel("epoch")
ax_lr.set_ylabel("learning rate")
ax_lr.set_title("Learning rate of each epoch")
fig.tight_layout()
plt.show()

log_dir.cleanup()
