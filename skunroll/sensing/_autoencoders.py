"""The l1-AE paper's autoencoder baselines: the simple AE (+ l1-min) and a 4-layer ReLU AE."""

from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_non_negative

from .._training import BaseTorchEstimator, to_numpy
from ..decoding import DECODERS
from ..utils._docstrings import fill_doc
from ..utils._linalg import squared_frobenius
from ..utils._losses import squared_error_loss
from ..utils._mixins import DtypePreservingTransformerMixin
from ..utils._validation import as_csr_or_array, check_inverse_input, check_n_components
from ._base import DECODER_PIECES, MeasurementMixin
from ._modules import FeedForwardAutoencoder, LinearReLUAutoencoder


@fill_doc(**DECODER_PIECES)
class SimpleAEEncoder(MeasurementMixin, BaseTorchEstimator):
    """The l1-AE paper's "simple AE": a linear encoder learned with a ReLU(linear) decoder.

    ``y = A x`` with ``A`` (``components_``) trained jointly with a one-layer
    decoder ``x_hat = ReLU(W_d^T y)`` on the squared reconstruction error
    (Wu et al., 2019, section 5; both weights start truncated-normal with
    standard deviation ``1 / sqrt(n_features)``, no biases, plain SGD, as the
    authors' code, whose learning rate of 0.01 trained for thousands of
    epochs: in the default budget of about 3,000 steps it barely moves the
    weights (0% exact recovery on Synthetic1 at m = 20, where 0.1 gives 54%
    and the paper reports 35%), hence the default 0.1). At test time the
    measurements are decoded by l1-min with the learned ``A`` (the paper's
    "simple AE + l1-min") or, with ``decoder="network"``, by the trained
    decoder itself.

    Parameters
    ----------
    n_components : int, default=20
        Number of measurements m; at most n_features.
    nonnegative : bool, default=True
        The data are nonnegative: reject negative input, decode with
        ``"l1-min-pos"`` under ``decoder="auto"``.
    decoder : {"auto", "l1-min-pos", "l1-min", "lasso-pos", "lasso", "bpdn-pos", "bpdn", \
"network"}, default="auto"
        {decoder_doc}
        ``"network"`` runs the trained ReLU decoder.
    noise_level : float >= 0 or "auto", default="auto"
        {noise_level_doc}
    solver : {"auto", "batched", "highs"}, default="auto"
        How the l1-min decoders solve their LPs; see :func:`l1_min_decode`.
    n_jobs : int, default=None
        Joblib workers for the LP decoders.
    {training_parameters}

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The learned measurement matrix A.
    decoder_weights_ : ndarray of shape (n_components, n_features)
        The trained decoder's weights ``W_d``.
    data_scale_ : float
        Mean squared norm of the training rows; SGD steps by
        ``learning_rate / data_scale_`` (the same trajectory at any scale of
        the data, ``learning_rate`` itself for unit-norm rows).
    {training_attributes}

    See Also
    --------
    L1AEEncoder : The learned encoder with an unrolled l1-min decoder.

    Examples
    --------
    >>> from skunroll.datasets import make_block_sparse
    >>> from skunroll.sensing import SimpleAEEncoder
    >>> X = make_block_sparse(n_samples=300, n_features=100, random_state=0)
    >>> encoder = SimpleAEEncoder(n_components=20, max_epochs=3, random_state=0).fit(X)
    >>> encoder.inverse_transform(encoder.transform(X[:2])).shape
    (2, 100)
    """

    _training_parameter_notes = {
        "learning_rate": "The authors' code used 0.01 (see above).",
        "random_state": "It seeds both weight matrices.",
    }

    _parameter_constraints = {
        **BaseTorchEstimator._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "nonnegative": ["boolean"],
        "decoder": [StrOptions({"auto", *DECODERS, "network"})],
        "noise_level": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "solver": [StrOptions({"auto", "batched", "highs"})],
        "n_jobs": [Integral, None],
    }

    def __init__(self, n_components=20, *, nonnegative=True, decoder="auto", noise_level="auto",
                 solver="auto", n_jobs=None, optimizer="sgd", learning_rate=0.1, batch_size=128,
                 shuffle=True, max_epochs="auto", early_stopping=True, validation_fraction=0.2,
                 n_iter_no_change="auto", tol=0.0, lr_schedule="auto", max_time=None,
                 warm_start=False, device="auto", random_state=None, verbose=0,
                 callbacks=None):
        self._set_init_arguments(locals())

    def _fit(self, X, y=None, *, incremental=None, classes=None):
        X = as_csr_or_array(self._validate_X(X, reset=not self._is_warm(incremental)))
        check_n_components(self.n_components, X.shape[1])
        self._check_decoder()
        if incremental != "continue":
            # A stream keeps the step size of its first chunk.
            mean_squared_norm = squared_frobenius(X) / X.shape[0]
            self.data_scale_ = mean_squared_norm if mean_squared_norm > 0 else 1.0
        return self._train(X, incremental=incremental)

    def _training_plan(self, n_train):
        # The model is positively homogeneous in x, so its gradients grow with
        # ||x||^2: dividing the step by the data's mean squared norm makes SGD
        # behave the same at any scale (unchanged for unit-norm rows, the paper's).
        plan = super()._training_plan(n_train)
        return replace(plan, learning_rate=plan.learning_rate / self.data_scale_)

    def _structure(self):
        return {"n_components": self.n_components}

    def _build_module(self, X, generator, y=None, side=None):
        n_features = X.shape[1]
        std = 1.0 / np.sqrt(n_features)
        weights = [torch.empty(n_features, self.n_components),
                   torch.empty(self.n_components, n_features)]
        for weight in weights:
            torch.nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std,
                                        generator=generator)
        return LinearReLUAutoencoder(*weights)

    def _module_from_attributes(self):
        return LinearReLUAutoencoder(torch.from_numpy(self.components_.T.copy()),
                                     torch.from_numpy(self.decoder_weights_))

    def _batch_loss(self, module, X_batch, y_batch, side_batch):
        return squared_error_loss(module(X_batch), X_batch)

    def _attributes_from_module(self, module):
        return {"components_": to_numpy(module.weight).T.copy(),
                "decoder_weights_": to_numpy(module.decoder_weight)}

    def _decode_network(self, Y):
        return self._forward(Y, self.components_.shape[1], method="decode", dtype=Y.dtype)


class MLPAutoencoder(ClassNamePrefixFeaturesOutMixin, DtypePreservingTransformerMixin,
                     BaseTorchEstimator):
    """A 4-layer ReLU autoencoder: the l1-AE paper's nonlinear baseline.

    ``n_features -> hidden_size -> n_components`` (ReLU after the first
    layer) and back (ReLU after the hidden layer), trained on the squared
    reconstruction error. For nonnegative data the reconstruction is clipped
    at 0 after training (trained through that ReLU, the output units die and
    the network stalls at the mean: RMSE 0.98 instead of 0.59 on Synthetic1
    at m = 20). Its codes are
    not linear measurements, so no l1 decoder applies: ``inverse_transform``
    is the trained decoder (Wu et al., 2019, Table 1: "4-layer AE",
    hidden width 100).

    Parameters
    ----------
    n_components : int, default=20
        Code size m.
    hidden_size : int, default=100
    nonnegative : bool, default=True
        The data are nonnegative: reject negative input and clip the
        reconstructions at 0.
    {training_parameters}

    Attributes
    ----------
    network_state_ : dict of str to ndarray
        The trained weights and biases, as CPU arrays.
    {training_attributes}

    Examples
    --------
    >>> from skunroll.datasets import make_block_sparse
    >>> from skunroll.sensing import MLPAutoencoder
    >>> X = make_block_sparse(n_samples=300, n_features=100, random_state=0)
    >>> ae = MLPAutoencoder(n_components=20, max_epochs=3, random_state=0).fit(X)
    >>> ae.transform(X[:2]).shape, ae.inverse_transform(ae.transform(X[:2])).shape
    ((2, 20), (2, 100))
    """

    _training_parameter_notes = {"random_state": "It seeds the initial weights."}

    _parameter_constraints = {
        **BaseTorchEstimator._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "nonnegative": ["boolean"],
    }

    def __init__(self, n_components=20, *, hidden_size=100, nonnegative=True, optimizer="adam",
                 learning_rate=1e-3, batch_size=128, shuffle=True, max_epochs="auto",
                 early_stopping=True,
                 validation_fraction=0.2, n_iter_no_change="auto", tol=0.0, lr_schedule="auto",
                 max_time=None, warm_start=False, device="auto", random_state=None, verbose=0,
                 callbacks=None):
        self._set_init_arguments(locals())

    @property
    def _n_features_out(self):
        return self._fitted_structure["n_components"]

    def _validate_X(self, X, reset):
        X = super()._validate_X(X, reset)
        if self.nonnegative:
            check_non_negative(X, f"{type(self).__name__} (nonnegative=True)")
        return X

    def _fit(self, X, y=None, *, incremental=None, classes=None):
        X = self._validate_X(X, reset=not self._is_warm(incremental))
        return self._train(as_csr_or_array(X), incremental=incremental)

    def _structure(self):
        return {"n_components": self.n_components, "hidden_size": self.hidden_size,
                "nonnegative": self.nonnegative}

    def _network(self, n_features, structure):
        return FeedForwardAutoencoder(n_features, structure["n_components"],
                                      structure["hidden_size"],
                                      nonnegative=structure["nonnegative"])

    def _build_module(self, X, generator, y=None, side=None):
        # torch's default Linear initialisation, drawn from this fit's generator.
        module = self._network(X.shape[1], self._structure())
        with torch.no_grad():
            for layer in (*module.encoder, *module.decoder):
                if isinstance(layer, torch.nn.Linear):
                    bound = 1.0 / np.sqrt(layer.in_features)
                    layer.weight.uniform_(-bound, bound, generator=generator)
                    layer.bias.uniform_(-bound, bound, generator=generator)
        return module

    def _module_from_attributes(self):
        module = self._network(self.n_features_in_, self._fitted_structure)
        module.load_state_dict({name: torch.from_numpy(value)
                                for name, value in self.network_state_.items()})
        return module

    def _batch_loss(self, module, X_batch, y_batch, side_batch):
        return squared_error_loss(module(X_batch), X_batch)

    def _attributes_from_module(self, module):
        return {"network_state_": {name: to_numpy(value)
                                   for name, value in module.state_dict().items()}}

    def transform(self, X):
        """Codes of ``X``: the encoder's output.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            In the dtype of ``X``.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._forward(X, self._n_features_out, method="encode", dtype=X.dtype)

    def inverse_transform(self, X):
        """Reconstructions from codes: the decoder's output.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        codes = check_inverse_input(self, X, self._n_features_out, "codes")
        return self._forward(codes, self.n_features_in_, method="decode", dtype=codes.dtype)

    def score(self, X, y=None):
        """Minus the mean squared reconstruction error ``||x - x_hat||^2`` per sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        X = as_csr_or_array(self._validate_X(X, reset=False))
        total = 0.0
        # Row chunks: only one chunk of a sparse X is ever densified.
        for rows in gen_batches(X.shape[0], 1024):
            chunk = X[rows]
            reconstruction = self.inverse_transform(self.transform(chunk))
            chunk = chunk.toarray() if sp.issparse(chunk) else chunk
            total += float(np.sum((chunk - reconstruction) ** 2))
        return -total / X.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self.nonnegative
        return tags
