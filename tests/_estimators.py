"""Small, fast instances of every public estimator, for the shared tests."""

from skunroll.utils import all_estimators

# Settings that keep one fit to a fraction of a second; anything an
# estimator does not take is skipped.
FAST_PARAMS = {
    "n_components": 2,
    "max_epochs": 3,
    "batch_size": 16,
    "device": "cpu",
    "random_state": 0,
}


# Where FAST_PARAMS are too few to learn what a check demands (scikit-learn's
# check_classifiers_train wants > 83% accuracy on blobs).
OVERRIDES = {
    "DeepL0Classifier": {"n_components": 8, "max_epochs": 30, "learning_rate": 0.01},
    # Samples are matrices. scikit-learn's checks pass 2-D data with any number
    # of features p, read here as p x 1 matrices: the only flattened form that
    # fits every p. (Rank-1 matrices are approximated exactly; what the sketch
    # learns is tested in test_learned_sketch.py.)
    "LearnedSketchLowRank": {"n_components": 1, "sketch_size": 2, "matrix_shape": (-1, 1)},
}


def _gaussian_encoder():
    from skunroll.sensing import GaussianMeasurement

    return GaussianMeasurement(n_components=2, nonnegative=False, random_state=0)


# Meta-estimators get small parts (a callable, so every instance gets its own).
# scikit-learn's checks give 1-D targets with 2-3 classes, i.e. 2-3 labels:
# the Gaussian encoder is checked with them; the default (learned, L1AEEncoder
# with its default training, seeded by the classifier) runs as a variant.
PART_OVERRIDES = {
    # m = 2 measurements of 3 classes: exact signed l1-min here; the default
    # decoder (the lasso, its noise level chosen on held-out rows) runs in the
    # variant with the default encoder, which keeps one measurement per class.
    "CompressedLabelClassifier": lambda: {"encoder": _gaussian_encoder(), "decoder": "l1-min"},
}


def fast_instance(estimator_class, **overrides):
    accepted = estimator_class().get_params()
    params = {key: value for key, value in FAST_PARAMS.items() if key in accepted}
    params.update(OVERRIDES.get(estimator_class.__name__, {}))
    params.update(PART_OVERRIDES.get(estimator_class.__name__, dict)())
    params.update(overrides)
    return estimator_class(**params)


# Variants worth their own run through the checks and the battery.
VARIANTS = {
    "DeepL0Encoder": [{"sparsity": "M", "n_nonzero_coefs": 1}],
    # The untrained (gaussian), two-block (mixed-separate) and closed-form (tensor) code paths.
    "LearnedSketchLowRank": [{"sketch": "gaussian"}, {"sketch": "mixed-separate"},
                             {"sketch": "tensor"}, {"init": "random"},
                             {"init": "few-shot", "objective": "few-shot"}],
    "CompressedLabelClassifier": [{"encoder": None}],
    # The trainable threshold and the start from training samples.
    "ReLUDictionaryAutoencoder": [{"bias": "learned"}, {"init": "data"}],
}


def fast_instances():
    instances = []
    for name, cls in all_estimators():
        instances.append(fast_instance(cls))
        instances.extend(fast_instance(cls, **variant) for variant in VARIANTS.get(name, []))
    return instances


# Our battery always uses make_data's 12 features, so a learned sketch can read
# each row as a 4 x 3 matrix: its rank-1 approximation then depends on the
# sketch (for p x 1 matrices it is the matrix itself, whatever the sketch).
BATTERY_OVERRIDES = {
    "LearnedSketchLowRank": {"matrix_shape": (-1, 3)},
}


def battery_instances():
    return [instance.set_params(**BATTERY_OVERRIDES.get(type(instance).__name__, {}))
            for instance in fast_instances()]


def estimator_id(estimator):
    variant = "-M" if getattr(estimator, "sparsity", None) == "M" else ""
    if getattr(estimator, "sketch", "learned") != "learned":
        variant += "-" + estimator.sketch
    if "encoder" in estimator.get_params() and estimator.encoder is None:
        variant += "-default-l1ae"
    if getattr(estimator, "bias", None) == "learned":
        variant += "-learned-bias"
    if getattr(estimator, "init", None) == "data":
        variant += "-data-init"
    if type(estimator).__name__ == "LearnedSketchLowRank" and estimator.init != "greedy":
        variant += f"-{estimator.init}-init"
    if getattr(estimator, "objective", "scw") != "scw":
        variant += f"-{estimator.objective}-objective"
    return type(estimator).__name__ + variant


def make_data(n_samples=40, n_features=12, random_state=0):
    """Nonnegative, sparse-ish data every estimator accepts."""
    import numpy as np

    rng = np.random.RandomState(random_state)
    X = rng.uniform(size=(n_samples, n_features))
    X[X < 0.6] = 0.0
    return X
