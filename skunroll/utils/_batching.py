"""Mini-batches from dense arrays and scipy.sparse matrices.

Only the rows of one batch are ever densified: a sparse data set stays sparse
in host memory, and the device sees one dense ``(batch_size, n_features)``
block at a time.
"""

import numpy as np
import scipy.sparse as sp
import torch


class BatchSource:
    """Row batches of a 2-D data set as torch tensors on one device.

    Dense input is converted to a tensor on ``device`` once. Sparse input is
    kept as a CSR matrix on the host; :meth:`batch` densifies the requested
    rows only.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features) or (n_samples,)
    device : torch.device
    dtype : torch.dtype
    sparse_batches : bool, default=False
        Give batches of sparse input as torch sparse COO tensors (the
        nonzeros only) instead of densifying them.
    """

    def __init__(self, X, device, dtype=torch.float32, sparse_batches=False):
        self.device = device
        self.sparse_batches = sparse_batches
        self.dtype = dtype
        self.n_samples = X.shape[0]
        self.width = X.shape[1] if X.ndim > 1 else 1
        np_dtype = torch.empty((), dtype=dtype).numpy().dtype
        if sp.issparse(X):
            self._csr = sp.csr_matrix(X, dtype=np_dtype)
            self._dense = None
        else:
            self._csr = None
            self._dense = torch.as_tensor(np.ascontiguousarray(X, dtype=np_dtype), device=device)

    @property
    def is_dense(self):
        """True when the data are a tensor on the device (indices may be a device tensor)."""
        return self._csr is None

    def batch(self, indices):
        """Rows ``indices`` as a dense tensor (or sparse COO, see ``sparse_batches``).

        ``indices`` is an integer array, or for dense data a tensor on the device.
        """
        if self._csr is None:
            index = torch.as_tensor(indices, device=self.device)
            return self._dense.index_select(0, index)
        rows = self._csr[indices]
        if self.sparse_batches:
            rows.sum_duplicates()  # canonical: sorted, no duplicates, hence coalesced
            coo = rows.tocoo()
            index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
            values = torch.from_numpy(coo.data)
            return torch.sparse_coo_tensor(
                index, values, rows.shape, is_coalesced=True, check_invariants=False
            ).to(self.device, non_blocking=True)
        rows = rows.toarray()
        return torch.from_numpy(rows).to(self.device, non_blocking=True)

    def iter_batches(self, batch_size, order=None):
        """Yield ``(n_rows, tensor)`` over all rows, in ``order`` if given."""
        if order is None:
            order = np.arange(self.n_samples)
        for start in range(0, self.n_samples, batch_size):
            indices = order[start : start + batch_size]
            yield len(indices), self.batch(indices)
