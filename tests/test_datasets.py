import numpy as np
import pytest
import scipy.sparse as sp

from skunroll.datasets import make_block_sparse, make_power_law_chunks, make_power_law_sparse


@pytest.mark.parametrize("block_size, n_blocks", [(10, 1), (5, 2)])
def test_block_sparse_structure(block_size, n_blocks):
    X = make_block_sparse(300, 1000, block_size=block_size, n_blocks=n_blocks, random_state=0)
    assert sp.issparse(X) and X.shape == (300, 1000)
    np.testing.assert_allclose(sp.linalg.norm(X, axis=1), 1.0)
    assert X.min() >= 0
    for row in X:
        blocks = np.unique(row.indices // block_size)
        assert len(blocks) == n_blocks  # aligned, non-overlapping blocks
        assert row.nnz == n_blocks * block_size


def test_block_sparse_is_seeded_and_dense_option():
    a = make_block_sparse(20, 100, random_state=3)
    b = make_block_sparse(20, 100, random_state=3, sparse=False)
    assert isinstance(b, np.ndarray)
    np.testing.assert_array_equal(a.toarray(), b)
    with pytest.raises(ValueError, match="do not fit"):
        make_block_sparse(5, 20, block_size=10, n_blocks=3)


def test_power_law_support_frequencies():
    X = make_power_law_sparse(4000, 1000, random_state=0)
    counts = X.getnnz(axis=0) / X.shape[0]
    probabilities = 1 / np.arange(1, 1001)
    probabilities = np.minimum(probabilities / probabilities.sum() * 10, 1)
    assert counts[0] == 1.0  # capped
    np.testing.assert_allclose(counts[:50], probabilities[:50], atol=0.03)
    assert X.getnnz(axis=1).mean() == pytest.approx(probabilities.sum(), rel=0.03)
    norms = sp.linalg.norm(X, axis=1)
    np.testing.assert_allclose(norms[norms > 0], 1.0)


def test_invalid_parameters():
    with pytest.raises(ValueError, match="n_samples"):
        make_block_sparse(0)
    with pytest.raises(ValueError, match="average_nnz"):
        make_power_law_sparse(10, average_nnz=-1)


def test_nonnegative_sparse_code_follows_the_model():
    from skunroll.datasets import make_nonnegative_sparse_code

    Y, D, X = make_nonnegative_sparse_code(500, 60, 120, n_nonzero_coefs=4,
                                           value_range=(1.0, 2.0), random_state=0)
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0)
    np.testing.assert_array_equal((X > 0).sum(axis=1), 4)
    assert X.min() == 0 and 1.0 <= X[X > 0].min() and X.max() <= 2.0
    np.testing.assert_allclose(Y, X @ D)
    # Support size h^p by default: round(120 ** 0.3) = 4.
    _, _, X_default = make_nonnegative_sparse_code(5, 60, 120, random_state=0)
    np.testing.assert_array_equal((X_default > 0).sum(axis=1), 4)
    with pytest.raises(ValueError, match="value_range"):
        make_nonnegative_sparse_code(5, 6, 12, value_range=(2.0, 1.0))
    with pytest.raises(ValueError, match="n_nonzero_coefs=20"):
        make_nonnegative_sparse_code(5, 6, 12, n_nonzero_coefs=20)


def test_power_law_chunks_stream_reproducibly_one_chunk_at_a_time():
    stream = make_power_law_chunks(2500, 3000, chunk_size=1000, average_nnz=15, random_state=0)
    first = next(stream)  # a generator: nothing past this chunk exists yet
    assert sp.isspmatrix_csr(first) and first.shape == (1000, 3000)
    rest = list(stream)
    assert [chunk.shape[0] for chunk in rest] == [1000, 500]
    again = list(make_power_law_chunks(2500, 3000, chunk_size=1000, average_nnz=15,
                                       random_state=0))
    for chunk, same in zip([first, *rest], again, strict=False):
        assert (chunk != same).nnz == 0
    assert (first != rest[0][:1000]).nnz > 0  # each chunk has its own seed
    nnz = np.concatenate([chunk.getnnz(axis=1) for chunk in again])
    assert 12 < nnz.mean() <= 15
    # The same power law: the first coordinates are the most frequent.
    counts = sp.vstack(again).getnnz(axis=0)
    assert counts[:10].sum() > counts[-1000:].sum()


# ------------------------------------------- the Extreme Classification Repository reader
def _assert_same_csr(actual, expected):
    assert sp.isspmatrix_csr(actual) and actual.shape == expected.shape
    for name in ("data", "indices", "indptr"):
        a, b = getattr(actual, name), getattr(expected, name)
        assert a.dtype == b.dtype, name
        assert a.tobytes() == b.tobytes(), name  # bit for bit: -0.0 is not 0.0
    assert actual.has_sorted_indices


@pytest.fixture
def vectorised_only(monkeypatch):
    """Fail if load_xml_repository falls back to the line-by-line parser."""
    from skunroll.datasets import _multilabel

    def fail(*args, **kwargs):
        raise AssertionError("the line-by-line parser was used")

    monkeypatch.setattr(_multilabel, "load_line_by_line", fail)


@pytest.fixture
def fallbacks(monkeypatch):
    """The line-by-line parser, and the list of the files load_xml_repository handed to it."""
    from skunroll.datasets import _multilabel

    calls, parse = [], _multilabel.load_line_by_line

    def counted(*args, **kwargs):
        calls.append(args[0])
        return parse(*args, **kwargs)

    monkeypatch.setattr(_multilabel, "load_line_by_line", counted)
    return parse, calls


def _read_both(path, parse):
    """load_xml_repository's and ``parse``'s (X, Y), or their error messages."""
    from skunroll.datasets import load_xml_repository

    outcomes = []
    for load in (load_xml_repository, lambda p: parse(p, None, None, float)):
        try:
            outcomes.append(load(path))
        except ValueError as exc:
            outcomes.append(str(exc))
    if isinstance(outcomes[0], str) or isinstance(outcomes[1], str):
        assert outcomes[0] == outcomes[1]
    else:
        for actual, expected in zip(*outcomes, strict=True):
            _assert_same_csr(actual, expected)
    return outcomes[0]


def test_load_xml_repository_matches_a_hand_written_result(tmp_path, vectorised_only):
    from skunroll.datasets import load_xml_repository

    path = tmp_path / "train.txt"
    path.write_text("4 6 5\n4,0,4 1:0.5 5:-2e-1\n 0:-0.0\n\n3 \n\n")
    X, Y = load_xml_repository(path)
    _assert_same_csr(X, sp.csr_matrix((np.array([0.5, -0.2, -0.0]), np.array([1, 5, 0], np.int32),
                                       np.array([0, 2, 3, 3, 3], np.int32)), shape=(4, 6)))
    _assert_same_csr(Y, sp.csr_matrix((np.ones(3, np.int8), np.array([0, 4, 3], np.int32),
                                       np.array([0, 2, 2, 2, 3], np.int32)), shape=(4, 5)))
    X, Y = load_xml_repository(path, n_features=8, n_labels=7, dtype=np.float32)
    assert X.shape == (4, 8) and Y.shape == (4, 7) and X.dtype == np.float32
    np.testing.assert_array_equal(X.data, np.array([0.5, -0.2, -0.0], np.float32))


def _write_xml(path, X, Y, blank_lines, newline="\n"):
    lines = []
    for i in range(X.shape[0]):
        if i in blank_lines:  # a row without labels and features
            lines.append(blank_lines[i])
            continue
        labels = ",".join(map(str, Y.indices[Y.indptr[i]:Y.indptr[i + 1]]))
        features = [f"{j}:{v!r}" for j, v in zip(X.indices[X.indptr[i]:X.indptr[i + 1]],
                                                 X.data[X.indptr[i]:X.indptr[i + 1]].tolist(),
                                                 strict=True)]
        lines.append(" ".join([labels, *features]))
    with open(path, "w", newline="") as handle:
        handle.write(newline.join([f"{X.shape[0]} {X.shape[1]} {Y.shape[1]}", *lines]) + newline)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_load_xml_repository_round_trips_a_generated_file(tmp_path, vectorised_only, newline):
    from skunroll.datasets import load_xml_repository

    rng = np.random.default_rng(0)
    n_samples, n_features, n_labels = 60, 40, 15
    X = rng.normal(scale=1e3, size=(n_samples, n_features)) ** 3  # 1e-3 to 1e10: exponents
    X[rng.random(X.shape) > 0.2] = 0
    Y = (rng.random((n_samples, n_labels)) < 0.2).astype(np.int8)
    X[3, n_features - 1], Y[3, n_labels - 1] = 7.5, 1  # the largest indices
    Y[0] = 0  # no labels: the line starts with a space
    X[1], Y[1, 2] = 0, 1  # labels without features
    X[5:7], Y[5:7] = 0, 0  # neither: a blank line and a line of one space
    X, Y = sp.csr_matrix(X), sp.csr_matrix(Y)
    path = tmp_path / "train.txt"
    _write_xml(path, X, Y, blank_lines={5: "", 6: " "}, newline=newline)
    X_read, Y_read = load_xml_repository(path)
    _assert_same_csr(X_read, X)
    _assert_same_csr(Y_read, Y)
    assert Y_read[0].nnz == 0 and X_read[1].nnz == 0 and Y_read[1].nnz > 0


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "first line must be"),
        ("0 1:2\n", "first line must be"),  # no header
        ("3 5\n", "first line must be"),  # two numbers
        ("2 5 4\n0 0:1\n", "announces 2 samples but 1"),
        ("1 5 4\n0 0:1\n\n1 1:1\n", "announces 1 samples but 3"),
        ("1 5 4\n0 5:1\n", r"feature index is outside \[0, 5\)"),
        ("1 5 4\n0,4 0:1\n", r"label index is outside \[0, 4\)"),
        ("1 5 4\n-1 0:1\n", "label index is outside"),
        ("2 5 4\n0 0:1\n1 1:1:1\n", r"line 3: cannot parse '1 1:1:1'"),
        ("2 5 4\n0 0:1\n1.0 1:1\n", r"line 3: cannot parse '1.0 1:1'"),
        ("2 5 4\n0 0:1\n 1 1:1\n", r"line 3: cannot parse '1 1:1'"),
        ("2 5 4\n0 0:1\n1 1:e\n", "line 3"),
        ("2 5 4\n0 0:1\n1 1:1 2\n", "line 3"),
        ("2 5 4\n0 0:1\n1\t1:1\n", "line 3"),
        ("2 5 4\n0 0:1\n1 qid:3 1:1\n", "line 3"),
        ("2 5 4\n0 0:1 # comment\n1 1:1\n", "line 2"),
        ("1 5 4\n0 0=1\n", "line 2"),
    ],
)
def test_load_xml_repository_names_the_problem(tmp_path, text, match):
    from skunroll.datasets import load_xml_repository

    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as error:
        load_xml_repository(path)
    assert str(path) in str(error.value)


def test_load_xml_repository_reads_what_the_vectorised_parser_rejects(tmp_path, fallbacks):
    from skunroll.datasets import load_xml_repository

    path = tmp_path / "train.txt"
    # Features out of order and repeated, nan: the line-by-line parser.
    path.write_text("3 4 3\n2,,2, 3:1 0:2 3:0.5\n,1 1:nan\n0 2:1\n")
    X, Y = load_xml_repository(path)
    assert fallbacks[1] == [str(path)]
    np.testing.assert_array_equal(X.indices, [0, 3, 1, 2])
    np.testing.assert_array_equal(X.data, [2.0, 1.5, np.nan, 1.0])
    np.testing.assert_array_equal(Y.toarray(), [[0, 0, 1], [0, 1, 0], [1, 0, 0]])
    assert X.indices.dtype == Y.indices.dtype == np.int32 and Y.dtype == np.int8


@pytest.mark.parametrize(
    "lines, vectorised",
    [
        (["0 0:1e-3 1:2.5E+2 2:1e400", "1 0:-1E-2 2:+3e0"], True),  # exponents: float each
        (["0 0:-0.5 1:-0 2:+.5", "1 0:-12345678.9 1:-5."], True),  # signs
        (["0 0:123456789012345.67 1:0.12345678901234567", "1 0:1.7976931348623157"], True),
        (["0,1,,1, 0:1", ",,1 1:2", ","], True),  # empty and repeated label items
        (["003,00 0003:0.50"], True),  # leading zeros
        (["\t0 0:1", "1 1:2\t"], False),  # tabs (int and float take them as white space)
        (["0 1:1 0:2", "1 1:2"], False),  # indices out of order
        (["0 1:1 1:2"], False),  # a repeated index
        (["0 +1:1", "1 1:2"], False),  # a signed index
        (["+1 1:1", "-0 1:2"], False),  # signed labels
        (["0 0:nan 1:inf"], False),
        (["0 12345678:1"], False),  # an index of 8 digits (n_features given below)
    ],
)
def test_load_xml_repository_reads_unusual_tokens_as_before(tmp_path, fallbacks, lines,
                                                             vectorised):
    """Values and indices out of the plain form: the same arrays, whichever parser reads them."""
    path = tmp_path / "train.txt"
    path.write_text(f"{len(lines)} 123456789 4\n" + "\n".join(lines) + "\n")
    X, _ = _read_both(path, fallbacks[0])
    assert fallbacks[1] == ([] if vectorised else [str(path)])
    assert X.nnz > 0


def _decimal_strings(rng, n):
    """Random decimal strings: long and short mantissas, leading zeros, signs, no dot."""
    digits = list("0123456789")
    strings = []
    for _ in range(n):
        integer = "".join(rng.choice(digits, rng.choice([0, 1, 1, 1, 2, 5, 8, 9, 12, 16, 17])))
        fraction = "".join(rng.choice(digits, rng.choice([0, 1, 6, 6, 6, 7, 8, 9, 15, 16, 20])))
        if rng.random() < 0.3:
            integer = "0" * rng.integers(1, 6) + integer
        text = integer + "." + fraction if rng.random() < 0.85 else integer or "0"
        if text == ".":
            text = "0."
        strings.append(str(rng.choice(["", "", "", "-", "+"])) + text)
    return strings


@pytest.mark.parametrize("block_bytes", [None, 64])
@pytest.mark.slow
def test_load_xml_repository_reads_decimals_as_float_does(tmp_path, vectorised_only,
                                                           monkeypatch, block_bytes):
    """M / 10**k (M < 2**53) is float(token) bit for bit; other tokens go to float itself."""
    from skunroll.datasets import _xml_format, load_xml_repository

    if block_bytes is not None:  # many blocks of lines: their boundaries change nothing
        monkeypatch.setattr(_xml_format, "_BLOCK_BYTES", block_bytes)
    edge = ["5.", ".5", "-.5", "+5.", "0", "-0", "-0.0", "0.000000", "00000000000000000",
            "9007199254740991", "9007199254740992", "9007199254740993", "900719925474099.3",
            "1234567890123456", "12345678901234567", "0.1234567890123456", ".0000000000000001",
            "99999999", "999999999", "1." + "0" * 15, "0.30000000000000004", "2.5e-3"]
    tokens = edge + _decimal_strings(np.random.default_rng(0), 20000)
    lines = [" " + " ".join(f"{j}:{token}" for j, token in enumerate(tokens[i:i + 40]))
             for i in range(0, len(tokens), 40)]
    path = tmp_path / "values.txt"
    path.write_text(f"{len(lines)} 40 1\n" + "\n".join(lines) + "\n")
    slow = []  # the tokens the parser hands to float
    monkeypatch.setattr(_xml_format, "float", lambda token: slow.append(1) or float(token),
                        raising=False)
    X, _ = load_xml_repository(path)
    expected = np.array([float(token) for token in tokens])
    assert X.data.tobytes() == expected.tobytes()  # -0.0 included

    def vectorised(token):  # at most 16 characters after the sign, mantissa below 2**53
        token = token.lstrip("+-")
        return len(token) <= 16 and "e" not in token and int(token.replace(".", "")) < 2**53

    assert len(slow) == sum(not vectorised(token) for token in tokens) < len(tokens) // 2


def test_load_xml_repository_agrees_with_the_line_by_line_parser(tmp_path, fallbacks,
                                                                  monkeypatch):
    """Random small files, valid or not: the same arrays, or the same error."""
    import random

    from skunroll.datasets import _xml_format

    rng = random.Random(0)
    pieces = ["0", "1", "3", "007", "", "+2", "-0", "1.0", "1e0"]
    values = ["1", "0.5", "-2", "1e3", ".5", "5.", "-0.0", "1E-2", "+3", "1e400", "0.084556",
              "12.5", "007.250", "-3.75", "123456789.123", "0.1234567890123456789", "2:1", "x"]
    path = tmp_path / "random.txt"
    n_vectorised = 0
    for _ in range(200):
        # Some files only of what the vectorised parser reads (a wrong count or index aside).
        plain = rng.random() < 0.4
        lines = []
        for _ in range(rng.randint(0, 5)):
            columns = sorted(rng.sample(range(6), rng.randint(0, 3)))
            if rng.random() < 0.1 and not plain:
                columns = columns[::-1] + columns[:1]  # out of order, repeated
            indices = [rng.choice([str(j)] * 6 + ([] if plain else [f"-{j}", f"+{j}"]))
                       for j in columns]
            features = [f"{j}:{rng.choice(values[:-2] if plain else values)}" for j in indices]
            labels = ",".join(rng.choice(pieces[:5] if plain else pieces)
                              for _ in range(rng.randint(0, 3)))
            lead = "" if plain else rng.choice(["", "", "", " ", "\t"])
            lines.append(lead + rng.choice([" ", "  "]).join([labels, *features]))
        header = f"{len(lines) - (rng.random() < 0.1)} 6 {rng.choice([4, 6])}"
        newline = rng.choice(["\n"] * 4 + ["\r\n"])
        path.write_bytes(newline.join([header, *lines]).encode()
                         + rng.choice([b"", newline.encode(), b"\n \n"]))
        # Lines parsed a few at a time, or all at once.
        monkeypatch.setattr(_xml_format, "_BLOCK_BYTES", rng.choice([1, 16, 1 << 20]))
        n_fallbacks = len(fallbacks[1])
        _read_both(path, fallbacks[0])
        n_vectorised += len(fallbacks[1]) == n_fallbacks
    assert n_vectorised > 80  # enough files that the vectorised parser read (or rejected)
