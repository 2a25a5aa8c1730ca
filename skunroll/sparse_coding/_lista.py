"""LISTAEncoder: learned ISTA (Gregor and LeCun, 2010) on the shared unrolled network."""

from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions

from ..utils._docstrings import fill_doc, parameter_blocks
from ._deep_l0 import DeepL0Encoder
from ._deep_l0_base import PARAMETER_DOCS


@fill_doc(n_components_doc=parameter_blocks(PARAMETER_DOCS, "n_components"),
          more_parameters_doc=parameter_blocks(PARAMETER_DOCS, "n_steps", "dictionary",
                                               "step_size", "dictionary_max_iter"))
class LISTAEncoder(DeepL0Encoder):
    """Learned ISTA: unrolled soft thresholding trained to predict lasso codes.

    The network of :class:`DeepL0Encoder` with the soft threshold
    ``sign(u) max(|u| - theta, 0)``: ``n_steps`` stages ``a <- h(W x + S a)``
    with ``W``, ``S`` and ``theta`` shared and learned, initialised as ISTA
    (``W = mu D``, ``S = I - mu D D^T``, ``theta = alpha mu``). ``fit(X)`` learns
    ``D`` (unless given), computes the lasso codes
    ``min_a 0.5 ||x - D^T a||^2 + alpha ||a||_1`` of ``X`` (ISTA to
    convergence) and trains the network to predict them (squared error), as
    Gregor and LeCun (2010) do; "tuned LISTA" is a baseline of Wang et al.
    (2016), Table 4.

    Parameters
    ----------
    {n_components_doc}
    alpha : float or "auto", default="auto"
        l1 penalty of the target codes; thresholds start at
        ``alpha * step_size``. ``"auto"``: scaled to the data and the
        dictionary as :class:`DeepL0Encoder`'s (``alpha_``); Gregor and
        LeCun's recipe sets a number.
    {more_parameters_doc}
    {training_parameters}

    Attributes
    ----------
    The attributes of :class:`DeepL0Encoder` (``thresholds_`` are the learned ``theta``).

    References
    ----------
    K. Gregor, Y. LeCun. "Learning Fast Approximations of Sparse Coding", ICML 2010.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skunroll.sparse_coding import LISTAEncoder
    >>> X = load_digits().data[:300] / 16
    >>> encoder = LISTAEncoder(n_components=32, max_epochs=3, random_state=0).fit(X)
    >>> encoder.transform(X[:4]).shape
    (4, 32)
    """

    # Fixed for LISTA: read by the shared network and target code.
    sparsity, n_nonzero_coefs = "l1", None

    _parameter_constraints = {
        **{name: constraint for name, constraint in DeepL0Encoder._parameter_constraints.items()
           if name not in ("sparsity", "n_nonzero_coefs", "sigma", "sigma_decay")},
        "alpha": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    }

    def __init__(self, n_components=128, *, alpha="auto", n_steps=2, dictionary=None,
                 step_size=None, dictionary_max_iter=5, optimizer="adam", learning_rate=1e-3,
                 batch_size=128, shuffle=True, max_epochs="auto", early_stopping=True,
                 validation_fraction=0.1, n_iter_no_change="auto", tol=0.0, lr_schedule="auto",
                 max_time=None, warm_start=False, device="auto", random_state=None, verbose=0,
                 callbacks=None):
        self._set_init_arguments(locals())

    def _on_epoch_start(self, module, epoch):
        """Soft thresholding is continuous: no HELU_sigma schedule."""
