"""Choosing the noise level of predicted embeddings on held-out rows."""

import numpy as np
from sklearn.base import clone

#: ``noise_level="auto"``: candidates, as multiples of the held-out residual's
#: root mean square, for the noise level of predicted embeddings, scanned from
#: the largest down; 0 is the exact limit (l1-min, or the nearest fit of an
#: infeasible embedding).
NOISE_LEVEL_GRID = tuple(2.0**k for k in range(2, -7, -1)) + (0.0,)
#: At most this many held-out rows are decoded per candidate noise level.
MAX_SELECTION_ROWS = 1000


def held_out_predictions(X, embedding, regressor, validation_fraction, rng):
    """Held-out rows and their predicted embeddings, out of fold.

    With at least ``MAX_SELECTION_ROWS`` rows in ``validation_fraction`` of
    the data, one split; with fewer, folds of that size in turn (as
    ``cross_val_predict``) until that many rows are predicted or all are,
    so that a small data set's choice does not rest on one split.
    """
    n_samples = X.shape[0]
    n_held = int(round(validation_fraction * n_samples))
    if n_held < 1 or n_held >= n_samples:
        raise ValueError(f"validation_fraction={validation_fraction} of {n_samples} "
                         "samples leaves no rows to hold out or to train on; give more "
                         "samples or a fixed noise_level.")
    order = rng.permutation(n_samples)
    n_folds = max(2, int(round(1 / validation_fraction)))
    folds = (np.array_split(order, n_folds) if n_held < MAX_SELECTION_ROWS
             else [order[:n_held]])
    held_rows, predictions = [], []
    for held in folds:
        if sum(map(len, held_rows)) >= MAX_SELECTION_ROWS:
            break
        train = np.setdiff1d(order, held, assume_unique=True)
        predicted = clone(regressor).fit(X[train], embedding[train]).predict(X[held])
        held_rows.append(held)
        predictions.append(np.asarray(predicted, dtype=np.float64).reshape(len(held), -1))
    held = np.concatenate(held_rows)[:MAX_SELECTION_ROWS]
    return held, np.vstack(predictions)[:MAX_SELECTION_ROWS]


def scan_noise_levels(held_out_score, residual_rms):
    """The best of the candidate noise levels and of the linear decoder.

    ``held_out_score(level)`` returns the held-out score of decoding at
    ``level`` (None: the linear decoder) and whether any label was selected.

    Returns
    -------
    chosen : float or None
        The chosen level, None when the linear decoder scores best.
    scores : dict
        Every candidate level's score (NaN where the scan stopped before it)
        and the linear decoder's under ``"linear"``.
    """
    levels = [multiple * residual_rms for multiple in NOISE_LEVEL_GRID]
    scores = dict.fromkeys(levels, np.nan)
    # From the largest level down: smaller levels mean longer homotopy paths,
    # so the scan stops once two levels that select labels have not improved
    # on the best. Levels that select nothing tie at the fallback ranking and
    # say nothing about the decoder, so the scan goes on through them.
    best, misses, decoding = -np.inf, 0, []
    for level in levels:
        if misses == 2:
            break
        scores[level], selected = held_out_score(level)
        if not selected:
            continue
        decoding.append(level)
        misses = 0 if scores[level] > best else misses + 1
        best = max(best, scores[level])
    scores["linear"], _ = held_out_score(None)
    if not decoding or scores["linear"] > best:
        return None, scores
    # On ties the larger level (a shorter path).
    return max(level for level in decoding if scores[level] == best), scores
