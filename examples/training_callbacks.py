"""
Watching and steering training with callbacks
=============================================

Every trained estimator takes ``callbacks``: callables called after each
epoch (and each ``partial_fit`` call) with a record of the epoch, the
training and validation losses, the learning rate, the seconds it took and
the optimiser steps so far. Here one callback appends the curve to a CSV
file (what a TensorBoard ``SummaryWriter.add_scalar`` or ``mlflow.log_metric``
call would do in its place), and a second stops training once the validation
loss falls below a target: returning True ends the fit there, keeping the
best weights. ``verbose=1`` also reports each epoch through
``logging.getLogger("skunroll")``.
"""

import csv
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning

from skunroll import L1AEEncoder
from skunroll.datasets import make_block_sparse

X = make_block_sparse(n_samples=3000, n_features=200, random_state=0)
log_path = Path("l1ae_training_curve.csv")
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


log_path.unlink(missing_ok=True)
encoder = L1AEEncoder(n_components=40, max_epochs=200, random_state=0,
                      callbacks=[append_to_csv, stop_below(0.05)])
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    encoder.fit(X)

with log_path.open() as f:
    rows = list(csv.DictReader(f))
print(f"{len(rows)} epochs logged to {log_path}; stopped after epoch {encoder.n_iter_}, "
      f"last validation loss {float(rows[-1]['validation_loss']):.4f}")
