"""ReLUDictionaryAutoencoder: a tied-weight ReLU autoencoder that learns a dictionary."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_array, gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._training import BaseTorchEstimator, to_numpy
from ..utils._dead_units import report_rows, warn_if_dead
from ..utils._device import torch_generator
from ..utils._mixins import SparseCodesMixin
from ..utils._validation import as_csr_or_array
from ._modules import TiedReLUAutoencoder, relu_autoencoder_loss
from ._relu_theory import auto_bias, data_coherence, rms_coherence, support_bias_scale


class ReLUDictionaryAutoencoder(SparseCodesMixin, BaseTorchEstimator):
    """Dictionary learning with a tied-weight ReLU autoencoder (Rangamani et al., 2018).

    One hidden layer of ``n_components`` ReLU units with a shared threshold
    ``eps`` and tied weights ``W`` (``n_components x n_features``, the
    dictionary atoms as rows)::

        r = ReLU(W y - eps)        (the sparse code)
        y_hat = W^T r              (the reconstruction)

    trained by minibatch gradient descent on the squared loss
    ``||y - y_hat||^2`` (the shared training loop), with every atom projected
    back to unit norm after each step, as the theory assumes. Near the
    generating dictionary of the paper's model (nonnegative sparse codes,
    incoherent unit-norm atoms), the ReLU layer recovers the support of the
    code and the expected gradient is small, so gradient descent can recover
    the dictionary.

    Parameters
    ----------
    n_components : int or None, default=None
        Number of atoms h (hidden units); ``n_features`` if None. The
        model is meant for overcomplete dictionaries (h > n_features).
    bias : float >= 0, "auto", "support" or "learned", default="auto"
        The threshold ``eps``. A number is used as is. The others derive it
        from ``sigma = mu * sqrt(mean ||y||^2)`` over the training data, the
        typical pre-activation of an atom outside the support of ``y``
        (``mu`` is ``coherence``; ``||y|| ~ ||x*||`` carries the sparsity and
        the scale of the codes; see the user guide):

        - ``"auto"``: ``eps = 1.2 sigma``, the threshold for learning: it
          keeps (nearly) every true unit on and most others off;
        - ``"support"``: ``eps = sqrt(2 ln h) sigma``, the support-recovery
          threshold of Theorem 3.1 (every off-support unit off with high
          probability), for encoding with a known dictionary; too high to
          learn from a random start;
        - ``"learned"``: starts from the ``"auto"`` value and trains ``eps``
          with ``W`` (kept >= 0).

        The value used is ``bias_``.
    coherence : float in [0, 1] or None, default=None
        Typical absolute cosine ``mu`` between distinct atoms, for the string biases.
        If None: the root-mean-square coherence of ``dictionary`` when one
        is given, else the coherence of the training data
        (:func:`~skunroll.sparse_coding.data_coherence`): ``1 / sqrt(r)`` for
        data spread over ``r`` effective directions, ``1 / sqrt(n_features)``
        (that of random atoms) for isotropic data, larger for data such as
        image patches whose energy sits in a few directions.
    init : {"random", "data"}, default="random"
        Starting atoms when ``dictionary`` is None: normalised Gaussian
        vectors, or normalised training samples drawn at random.
    dictionary : array-like of shape (n_components, n_features), default=None
        Starting atoms (normalised if ``unit_norm_atoms``); overrides ``init``.
    unit_norm_atoms : bool, default=True
        Project every atom onto the unit sphere after each optimiser step.
    dead_atoms : {"resample", "keep"}, default="resample"
        What to do with an atom whose unit was off for every sample of an
        epoch: such an atom gets no gradient and would never learn.
        ``"resample"`` restarts it, before the next epoch, from the
        (normalised) reconstruction residual of one of the worst-reconstructed
        samples of the last batch, as K-SVD restarts unused atoms; ``"keep"``
        leaves it, which is the paper's plain gradient descent.
    {training_parameters}

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The learned atoms (unit norm if ``unit_norm_atoms``), float32.
    bias_ : float
        The threshold ``eps`` used (learned, for ``bias="learned"``).
    {training_attributes}

    See Also
    --------
    sklearn.decomposition.DictionaryLearning : Alternating minimisation with exact sparse codes.
    sklearn.decomposition.MiniBatchDictionaryLearning : Its online version.
    skunroll.datasets.make_nonnegative_sparse_code : Data from the paper's model.
    skunroll.metrics.dictionary_recovery_error : Distance between dictionaries.

    Notes
    -----
    ``bias="learned"`` trains ``eps`` on the reconstruction loss alone, which
    favours no threshold at all (dense codes reconstruct better), so ``eps``
    tends to 0 and the codes lose their sparsity; a fixed threshold is what
    the theory studies.

    References
    ----------
    A. Rangamani, A. Mukherjee, A. Basu, T. Ganapathy, A. Arora, S. Chin,
    T. D. Tran. "Sparse coding and autoencoders", ISIT 2018 (arXiv 1708.03735).

    Examples
    --------
    >>> from skunroll.datasets import make_nonnegative_sparse_code
    >>> from skunroll.metrics import dictionary_recovery_error
    >>> from skunroll.sparse_coding import ReLUDictionaryAutoencoder
    >>> Y, D, codes = make_nonnegative_sparse_code(4000, 60, 120, random_state=0)
    >>> model = ReLUDictionaryAutoencoder(n_components=120, random_state=0).fit(Y)
    >>> model.components_.shape
    (120, 60)
    >>> bool(dictionary_recovery_error(D, model.components_) < 0.1)
    True
    >>> model.transform(Y[:2]).shape
    (2, 120)
    """

    def __init__(self, n_components=None, *, bias="auto", coherence=None, init="random",
                 dictionary=None, unit_norm_atoms=True, dead_atoms="resample", optimizer="adam",
                 learning_rate=1e-2, batch_size=256, shuffle=True, max_epochs="auto",
                 early_stopping=True, validation_fraction=0.1, n_iter_no_change="auto", tol=0.0,
                 lr_schedule="constant", max_time=None, warm_start=False, device="auto",
                 random_state=None, verbose=0,
                 callbacks=None):
        self._set_init_arguments(locals())

    _training_parameter_notes = {
        "max_epochs": "0 keeps the starting atoms without training: with ``dictionary``, an "
                      "encoder for a known dictionary.",
        "warm_start": "It keeps the fitted atoms and ``bias_``.",
        "random_state": "It seeds the initial atoms.",
    }

    _parameter_constraints = {
        **BaseTorchEstimator._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "bias": [Interval(Real, 0, None, closed="left"),
                 StrOptions({"auto", "support", "learned"})],
        "coherence": [Interval(Real, 0, 1, closed="both"), None],
        "init": [StrOptions({"random", "data"})],
        "dictionary": ["array-like", None],
        "unit_norm_atoms": ["boolean"],
        "dead_atoms": [StrOptions({"resample", "keep"})],
        # 0: no training, the starting atoms are kept.
        "max_epochs": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
    }

    # ------------------------------------------------------------ helpers
    def _n_atoms(self, n_features):
        if self.n_components is not None:
            return self.n_components
        if self.dictionary is not None:
            return len(self.dictionary)
        return n_features

    def _structure(self):
        # A warm start keeps bias_, so it must keep the bias setting too.
        return {"n_components": self._n_atoms(getattr(self, "n_features_in_", None)),
                "bias": self.bias}

    def _given_dictionary(self, n_features):
        D = check_array(self.dictionary, dtype=np.float64)
        expected = (self._n_atoms(n_features), n_features)
        if D.shape != expected:
            raise ValueError(f"dictionary has shape {D.shape}; expected (n_components, "
                             f"n_features) = {expected}.")
        if self.unit_norm_atoms and np.any(np.linalg.norm(D, axis=1) == 0):
            raise ValueError("dictionary has an all-zero atom, which cannot be normalised to "
                             "unit norm; give nonzero atoms or set unit_norm_atoms=False.")
        return D

    def _initial_atoms(self, X, generator):
        n_samples, n_features = X.shape
        h = self._n_atoms(n_features)
        if self.dictionary is not None:
            D = torch.as_tensor(self._given_dictionary(n_features), dtype=torch.float32)
        else:
            D = torch.randn(h, n_features, generator=generator)
            if self.init == "data":
                rows = torch.randint(n_samples, (h,), generator=generator).numpy()
                # Only the h chosen rows are densified.
                chosen = X[rows].toarray() if sp.issparse(X) else X[rows]
                chosen = torch.as_tensor(chosen, dtype=torch.float32)
                # Zero samples cannot give a direction; those atoms stay random.
                nonzero = chosen.norm(dim=1) > 0
                D[nonzero] = chosen[nonzero]
        if self.unit_norm_atoms:
            D = D / D.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return D

    def _auto_coherence(self, X):
        if self.coherence is not None:
            return float(self.coherence)
        if self.dictionary is not None:
            return rms_coherence(self._given_dictionary(X.shape[1]))
        return data_coherence(X)

    # ------------------------------------------------------------- training
    def _fit(self, X, y=None, *, incremental=None, classes=None):
        warm = self._is_warm(incremental)
        X = as_csr_or_array(self._validate_X(X, reset=not warm))
        if self.max_epochs == 0:
            # No training: an encoder with the starting atoms (e.g. a known dictionary).
            if not warm:
                generator, _ = torch_generator(self.random_state)
                module = self._build_module(X, generator)
                self._store_untrained(self._attributes_from_module(module))
            return self
        self._train(X, incremental=incremental)
        warn_if_dead(self, self._codes(report_rows(X)),
                     f"bias_={self.bias_:.3g} is above every unit's response to the data"
                     + (" and dead atoms are kept" if self.dead_atoms == "keep" else ""),
                     "Use bias='auto', which scales the threshold to the data, a smaller bias, "
                     "or dead_atoms='resample'.")
        return self

    def _build_module(self, X, generator, y=None, side=None):
        weight = self._initial_atoms(X, generator)
        if self.bias in ("auto", "learned"):
            bias = auto_bias(X, self._auto_coherence(X))
        elif self.bias == "support":
            bias = auto_bias(X, self._auto_coherence(X),
                             scale=support_bias_scale(weight.shape[0]))
        else:
            bias = float(self.bias)
        return TiedReLUAutoencoder(weight, bias, learn_bias=self.bias == "learned")

    def _module_from_attributes(self):
        return TiedReLUAutoencoder(torch.from_numpy(self.components_), self.bias_,
                                   learn_bias=self._fitted_structure["bias"] == "learned")

    def _batch_loss(self, module, X_batch, y_batch, side_batch):
        if not (module.training and self.dead_atoms == "resample"):
            return relu_autoencoder_loss(module.weight, X_batch, module.bias)
        codes = module.encode(X_batch)
        residuals = X_batch - codes @ module.weight
        module.record_activity(codes, residuals)
        return torch.sum(residuals**2, dim=1).mean()

    def _on_epoch_start(self, module, epoch):
        if self.dead_atoms != "resample":
            return
        module.restart_dead_atoms()

    def _after_step(self, module):
        if self.unit_norm_atoms:
            module.normalize_atoms()
        if isinstance(module.bias, torch.nn.Parameter):
            module.bias.clamp_(min=0.0)

    def _attributes_from_module(self, module):
        # A fixed threshold is stored as given (float64), not as the float32 buffer.
        bias = float(module.bias.detach()) if module.learn_bias else module.initial_bias
        return {"components_": to_numpy(module.weight), "bias_": bias}

    # ------------------------------------------------------------ inference
    def _codes(self, X):
        """Codes of validated ``X`` (ndarray or sparse), in its dtype."""
        W = self.components_.astype(X.dtype, copy=False)
        codes = np.asarray(X @ W.T)
        codes -= codes.dtype.type(self.bias_)
        np.maximum(codes, 0, out=codes)
        return codes

    def transform(self, X):
        """Sparse codes ``ReLU(X @ components_.T - bias_)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            Nonnegative, in the dtype of ``X``.
        """
        check_is_fitted(self)
        return self._codes(self._validate_X(X, reset=False))

    def score(self, X, y=None):
        """Minus the mean squared reconstruction error ``||y - y_hat||^2`` per sample.

        The training loss, negated so that higher is better (for
        :class:`~sklearn.model_selection.GridSearchCV`). More atoms and a lower
        threshold always score higher, so it cannot choose ``n_components``
        or ``bias``; use it to compare other settings at a fixed size.

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
        W = self.components_.astype(np.float64)
        total = 0.0
        # Chunks of rows keep the dense codes and residuals small (and X sparse).
        for rows in gen_batches(X.shape[0], 1024):
            chunk = X[rows]
            chunk = chunk.toarray() if sp.issparse(chunk) else chunk
            chunk = chunk.astype(np.float64, copy=False)
            residual = chunk - self._codes(chunk) @ W
            total += float(np.einsum("ij,ij->", residual, residual))
        return -total / X.shape[0]

