"""The numpydoc text of the shared training parameters and fitted attributes, written once.

Every estimator trained by :class:`~skunroll._training.BaseTorchEstimator`
writes ``{training_parameters}`` where these parameters belong in its
docstring and ``{training_attributes}`` where the loop's fitted attributes
belong. When the class is created, the placeholders are filled from the
texts below: each parameter's type line carries the default of *that*
estimator's ``__init__`` (read from its signature, so the docs cannot drift
from the code), and an estimator adds what is its own through
``_training_parameter_notes`` (``{name: text}``, appended to the generic text).
"""

import inspect

from ..utils._docstrings import fill_doc, parameter_block, parameter_blocks

#: name -> (type, generic description); in the order they are listed.
TRAINING_PARAMETERS = {
    "optimizer": ('{"sgd", "adam"}', "Torch optimiser."),
    "learning_rate": ("float", "Learning rate of the optimiser (its starting value under a "
                               "schedule)."),
    "batch_size": ("int", "Samples per optimiser step. Sparse input is densified one batch at a "
                          "time."),
    "shuffle": ("bool", "Visit the training samples in a new random order every epoch. False "
                        "keeps their order, so :meth:`partial_fit` on consecutive chunks takes "
                        "the steps of one ``fit`` epoch on their concatenation."),
    "max_epochs": ('int or "auto"', 'Maximum number of passes over the training data. '
                                    '``"auto"``: enough epochs for about {auto_steps:,} '
                                    'optimiser steps (between 5 and 1000), so small data sets '
                                    'train as long as large ones.'),
    "early_stopping": ("bool", "Hold out ``validation_fraction`` of the samples, stop when their "
                               "loss has not improved by ``tol`` for ``n_iter_no_change`` epochs "
                               "and restore the best weights. If False, the training loss is "
                               "watched instead."),
    "validation_fraction": ("float", "Share of the training samples held out for early "
                                     "stopping."),
    "n_iter_no_change": ('int or "auto"', 'Patience, in epochs. ``"auto"``: about 500 optimiser '
                                          'steps (between 3 and 50 epochs).'),
    "tol": ("float", "Minimum decrease of the watched loss that counts as an improvement."),
    "lr_schedule": ('{"auto", "constant", "plateau", "cosine"}',
                    'Learning-rate schedule. ``"plateau"`` multiplies the rate by 0.3 whenever '
                    'the watched loss has not improved for half of ``n_iter_no_change`` epochs; '
                    '``"cosine"`` anneals it to 0 over ``max_epochs`` (the fit then ends there by '
                    'design, with no ConvergenceWarning). ``"auto"``: the estimator\'s choice, '
                    '``"constant"`` unless noted here.'),
    "max_time": ("float", "Stop training after this many seconds (checked after every step); "
                          "the best weights seen so far are kept."),
    "warm_start": ("bool", "Continue from the fitted state on the next ``fit`` instead of "
                           "starting anew (the optimiser state starts afresh)."),
    "device": ("str or torch.device", 'Torch device; ``"auto"`` is CUDA when available, else '
                                      'the CPU. The fitted state is stored as NumPy arrays '
                                      'whatever the device.'),
    "random_state": ("int, RandomState instance or None",
                     "Seeds the initial state, the validation split and the batch order. With a "
                     "fixed seed, results on CPU are identical run to run."),
    "verbose": ("int", "Report one line per epoch (losses, learning rate, time) when positive, "
                       "and one per ``partial_fit`` call, through ``logging.getLogger("
                       "\"skunroll\")`` (printed to stdout unless logging is configured). 2 "
                       "or more also shows a progress bar over each epoch's steps, with rate "
                       "and time left (tqdm, the ``progress`` extra; plain lines without it)."),
    "callbacks": ("list of callables or None",
                  "Called after each epoch (and each ``partial_fit`` call) with a dict: "
                  "``epoch``, ``train_loss``, ``validation_loss`` (None without validation), "
                  "``learning_rate``, ``seconds``, ``n_optimizer_steps`` and ``estimator``. A "
                  "callback that returns True stops training there, keeping the best weights "
                  "so far. For logging curves to TensorBoard, MLflow or a CSV file."),
}

#: name -> (type, description) of what the shared loop sets after ``fit``.
TRAINING_ATTRIBUTES = {
    "n_features_in_": ("int", "Number of features seen during fit."),
    "feature_names_in_": ("ndarray of shape (`n_features_in_`,)",
                          "Names of features seen during fit, when X has string column names."),
    "loss_curve_": ("list of float", "Mean per-sample training loss after each epoch."),
    "validation_scores_": ("list of float or None",
                           "Minus the validation loss after each epoch (None without early "
                           "stopping)."),
    "best_validation_score_": ("float or None",
                               "Minus the validation loss of the weights kept (the best seen; "
                               "with ``warm_start``, possibly the weights the fit started "
                               "from)."),
    "best_loss_": ("float or None", "Lowest training loss (without early stopping)."),
    "n_iter_": ("int", "Number of epochs run (summed over warm starts), or of "
                       ":meth:`partial_fit` calls."),
    "n_optimizer_steps_": ("int", "Number of optimiser steps taken (summed over warm starts and "
                        ":meth:`partial_fit` calls)."),
    "learning_rate_curve_": ("list of float",
                             "Learning rate at the end of each epoch (schedule and rescues)."),
    "n_rescues_": ("int", "Number of diverging epochs undone by the rescue."),
}

def training_parameters_doc(cls):
    """The numpydoc blocks of the shared parameters that ``cls.__init__`` takes."""
    signature = inspect.signature(cls.__init__).parameters
    notes = getattr(cls, "_training_parameter_notes", {})
    blocks = {}
    for name, (kind, text) in TRAINING_PARAMETERS.items():
        if name not in signature:
            continue
        if name == "max_epochs":
            text = text.format(auto_steps=cls._auto_steps)
        if name in notes:
            text = f"{text} {notes[name]}"
        blocks[name] = parameter_block(name, kind, text, signature[name].default)
    return parameter_blocks(blocks, *blocks)


def training_attributes_doc():
    """The numpydoc blocks of the attributes the shared loop sets."""
    blocks = {name: parameter_block(name, kind, text)
              for name, (kind, text) in TRAINING_ATTRIBUTES.items()}
    return parameter_blocks(blocks, *blocks)


def fill_training_docs(cls):
    """Fill ``{training_parameters}`` and ``{training_attributes}`` in ``cls.__doc__``."""
    fill_doc(training_parameters=training_parameters_doc(cls),
             training_attributes=training_attributes_doc())(cls)
