"""The Extreme Classification Repository text format: a vectorised parser and a slow one.

The vectorised parser reads plain files (the common case) without a Python object per
token; anything else goes through the line-by-line parser, which knows every rule.
"""

import numpy as np
import scipy.sparse as sp

# A byte outside this set (a tab, '#', 'qid:', 'nan', non-ASCII text) sends the file to the
# line-by-line parser, the only one that knows Python's rules for it. All are ASCII, below 0x80,
# which the byte-parallel arithmetic on 8-byte words below relies on (no carry between bytes).
_PLAIN_BYTES = b"0123456789.,:+-eE \n\r"
_EXACT_FLOAT_INTEGERS = 2**53
# 10**k is a double exactly for k <= 22 (5**22 < 2**53); float(10**k) converts it exactly.
_POWERS_OF_TEN = np.array([float(10**k) for k in range(23)])
_POWERS_OF_TEN_INT = 10 ** np.arange(17, dtype=np.uint64)
_LANES = 0x0101010101010101  # a one in each byte of a 64-bit word
_PADDING = b" " * 16  # the 8-byte words read at most 16 bytes past a field's start
_BLOCK_BYTES = 1 << 20  # lines are parsed about this many bytes at a time


def parse_header(path, header):
    if len(header) != 3 or not all(token.isdigit() for token in header):
        raise ValueError(
            f"{path}: the first line must be 'n_samples n_features n_labels'; got "
            f"{' '.join(header)!r}."
        )
    return tuple(int(token) for token in header)


def check_sample_count(path, n_samples, n_read):
    if n_read != n_samples:
        raise ValueError(f"{path}: the header announces {n_samples} samples but {n_read} were "
                         "read.")


def check_range(path, name, bounds, size):
    """Raise if the (smallest, largest) index used is outside [0, size); None: none used."""
    if bounds is not None and (bounds[1] >= size or bounds[0] < 0):
        raise ValueError(f"{path}: a {name} index is outside [0, {size}).")


def parse_plain(path, content):
    """Header, X's CSR arrays and the label coordinates of a plain file; None for another.

    Reads what the line-by-line parser would, with NumPy operations over the
    bytes instead of Python objects per token. Returns None (the caller then
    parses line by line) for a byte outside ``_PLAIN_BYTES``, a lone carriage
    return, a label or an index that is not plain digits, a feature index of
    more than 7 digits, a value ``float`` rejects, or feature indices not
    increasing within a line. Label coordinates come sorted by row, then
    column, without repeats.
    """
    if content.translate(None, _PLAIN_BYTES) or (
            b"\r" in content and content.count(b"\r") != content.count(b"\r\n")):
        return None  # text mode would also end a line at a lone "\r"
    start = content.find(b"\n") + 1 or len(content)
    header = parse_header(path, content[:start].decode("ascii").split())
    end = len(content)
    while end > start and content[end - 1] in b" \r\n":  # trailing blank lines are not samples
        end -= 1
    if b"\r" in content:  # each in a "\r\n", which text mode reads as "\n"
        content = content[start:end].replace(b"\r\n", b"\n")
        start, end = 0, len(content)
    # A block of whole lines at a time: the temporary arrays stay in the processor's cache,
    # which makes the passes over them several times faster than over the whole file.
    blocks, n_rows = [], 0
    while start < end:
        stop = content.find(b"\n", min(start + _BLOCK_BYTES, end) - 1, end) + 1
        if stop and end - stop >= len(_PADDING):  # the 8-byte reads stay inside the file
            block = _parse_lines(*_views(content, start, stop))
        else:  # the last lines, copied with a newline and room for those reads
            last = content[start:end] + b"\n" + _PADDING
            block, stop = _parse_lines(*_views(last, 0, end - start + 1)), end
        if block is None:
            return None
        values, indices, row_nnz, label_rows, label_columns = block
        blocks.append((values, indices, row_nnz, label_rows + n_rows, label_columns))
        start, n_rows = stop, n_rows + len(row_nnz)
    if not blocks:
        empty = np.zeros(0, dtype=np.int64)
        return header, (empty.astype(np.float64), empty, np.zeros(1, np.int64)), empty, empty
    values, indices, row_nnz, label_rows, label_columns = (
        np.concatenate(arrays) for arrays in zip(*blocks, strict=True))
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(row_nnz, out=indptr[1:])
    return header, (values, indices, indptr), label_rows, label_columns


def _views(buffer, start, stop):
    """The lines ``buffer[start:stop]`` as uint8, as 8-byte words, and as a memoryview.

    Word i holds the 8 bytes from position i on as one little-endian integer
    (overlapping, unaligned); the words and the memoryview run on to the
    buffer's end.
    """
    lines = np.frombuffer(buffer, dtype=np.uint8, count=stop - start, offset=start)
    words = np.ndarray((len(buffer) - start - 7,), dtype="<u8", buffer=buffer, offset=start,
                       strides=(1,))
    return lines, words, memoryview(buffer)[start:]


def _parse_lines(lines, words, text):
    """Parse whole lines: values, indices, nonzeros per line, label rows and columns; or None.

    ``words`` and ``text`` start where ``lines`` does (and run on past it).
    """
    # A space or a newline: no "\r" is left, and every other plain byte is above " ".
    separators = np.flatnonzero(lines <= ord(" "))
    newlines = separators[lines[separators] == ord("\n")]
    line_starts = np.concatenate(([0], newlines[:-1] + 1))
    fields = _split_fields(lines, words, separators, line_starts)
    if fields is None:
        return None
    (starts, colons, ends), indices, label_fields = fields
    values = _parse_values(lines, words, text, colons + 1, ends)
    labels = _parse_labels(lines, words, *label_fields)
    if values is None or labels is None:
        return None
    indptr = np.searchsorted(starts, np.append(line_starts, len(lines)))
    # The line-by-line parser sorts a row's indices and sums repeats; increasing indices in
    # file order give the same CSR arrays without either.
    decreasing = indices[1:] <= indices[:-1]
    row_starts = indptr[1:-1]
    decreasing[row_starts[(row_starts > 0) & (row_starts < len(indices))] - 1] = False
    if decreasing.any():
        return None
    return values, indices, np.diff(indptr), *labels


def _split_fields(lines, words, separators, line_starts):
    """Feature fields ``index:value`` and label fields of ``lines``, by position.

    Fields are the runs of bytes between spaces and newlines. Returns the
    feature fields' (starts, colons, ends), their indices, and the label
    fields' (rows, starts, ends); None unless each feature field has a ':'
    after an index of 1 to 7 digits (another ':' is in a value or a label,
    and rejected with it).
    """
    starts = np.empty_like(separators)
    starts[0], starts[1:] = 0, separators[:-1] + 1
    feature = separators > starts  # two separators in a row delimit no field
    # Like `labels, features = tokens[0], ...` then `if ":" in labels`: the text before a
    # line's first space holds the labels unless it has a ':' (one past its 8th byte is only
    # seen, and rejected, by the label parsing).
    label_rows = np.flatnonzero(lines[line_starts] > ord(" "))
    label_starts = line_starts[label_rows]
    first = np.searchsorted(separators, label_starts)  # the field at each line start
    _, colons = _find_byte(words[label_starts], ord(":"))
    labelled = colons >= np.minimum(separators[first] - label_starts, 8)
    label_rows, first = label_rows[labelled], first[labelled]
    feature[first] = False
    kept = np.flatnonzero(feature)
    starts, ends = starts[kept], separators[kept]
    heads = words[starts]
    _, colons = _find_byte(heads, ord(":"))  # 8: none in the first 8 bytes
    colon_starts = starts + colons
    if np.any(colons == 8) or np.any(colons == 0) or np.any(colon_starts >= ends):
        return None  # no ':' (in the first 8 bytes), or an empty index
    indices, plain = _eight_digits(heads, colons)
    if not plain.all():
        return None
    label_fields = label_rows, label_starts[labelled], separators[first]
    return (starts, colon_starts, ends), indices.view(np.int64), label_fields


def _parse_labels(lines, words, rows, starts, ends):
    """Label (rows, columns), sorted and without repeats; None if a label is not plain."""
    commas = np.flatnonzero(lines == ord(","))
    field = np.searchsorted(starts, commas, side="right") - 1
    if np.any(field < 0) or np.any(commas >= ends[field]):  # a ',' outside the labels
        return None
    # One item more than commas in each field; empty items are skipped, as
    # filter(None, labels.split(",")) does. Sorting pairs each item's start and end.
    item_starts = np.sort(np.concatenate((starts, commas + 1)), kind="stable")
    item_ends = np.sort(np.concatenate((commas, ends)), kind="stable")
    rows = np.repeat(rows, 1 + np.bincount(field, minlength=len(starts)))
    kept = item_ends > item_starts
    columns = _parse_digits(words, item_starts[kept], (item_ends - item_starts)[kept])
    # Labels below 2**31 (all in practice; a larger one goes to the line-by-line parser):
    # (row, label) pairs pack into one int64 to sort.
    if columns is None or (len(columns) and columns.max() >= 2**31):
        return None
    keys = np.sort((rows[kept] << 31) | columns)
    first = np.ones(len(keys), dtype=bool)  # a label listed twice in a line is one label
    first[1:] = keys[1:] != keys[:-1]
    keys = keys[first]
    return keys >> 31, keys & (2**31 - 1)


def _parse_digits(words, starts, lengths):
    """The integers written at ``start:start + length`` (``words`` as from _views), int64.

    None if one is empty, longer than 16 digits, or has a byte other than a
    digit (a sign included, which ``int`` accepts): the line-by-line parser
    decides those.
    """
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    if lengths.min() < 1 or lengths.max() > 16:
        return None
    numbers, plain = _eight_digits(words[starts], np.minimum(lengths, 8).astype(np.uint8))
    long = np.flatnonzero(lengths > 8)
    if len(long):  # the digits past the eighth, from the next word
        extra = (lengths[long] - 8).astype(np.uint8)
        rest, plain_rest = _eight_digits(words[starts[long] + 8], extra)
        numbers[long] = numbers[long] * _POWERS_OF_TEN_INT[extra] + rest
        plain[long] &= plain_rest
    return numbers.view(np.int64) if plain.all() else None


def _parse_values(lines, words, text, starts, ends):
    """The floats written at ``text[start:end]``, as ``float`` reads them; None for an error.

    A token ``[sign]digits[.digits]`` whose digits form the integer M < 2**53,
    with k of them after the dot, is M / 10**k: M and 10**k (k <= 22) are
    doubles exactly, and an IEEE division rounds the exact quotient
    correctly, so this is the double that ``float`` (a correctly rounded
    strtod) returns. Other tokens (an exponent, more than 16 characters
    after the sign, a larger mantissa, an error) go to ``float`` one at a
    time. Digits are read 8 bytes at a time, from ``words`` as from _views.
    """
    first = lines[starts]
    negative = first == ord("-")
    digit_starts = starts + (negative | (first == ord("+")))  # after the sign
    lengths = np.minimum(ends - digit_starts, 17).astype(np.uint8)
    low = words[digit_starts]
    low, dot = _drop_dot(low)
    has_dot = dot < lengths
    long = np.flatnonzero((lengths > 8) & (lengths <= 16))
    high = words[digit_starts[long] + 8]
    if len(long):  # two words: take the dot out of the one that has it
        dot_low = dot[long] < 8
        low[long[dot_low]] |= high[dot_low] << np.uint64(56)
        high[dot_low] >>= np.uint64(8)
        high[~dot_low], dot_high = _drop_dot(high[~dot_low])
        dot[long[~dot_low]] = dot_high + 8
        has_dot[long] = dot[long] < lengths[long]
    n_digits = lengths - has_dot
    mantissas, plain = _eight_digits(low, np.clip(n_digits, 1, 8))
    plain &= (n_digits >= 1) & (lengths <= 16)
    if len(long):
        more = np.flatnonzero(n_digits[long] > 8)
        extra = n_digits[long[more]] - 8
        rest, plain_rest = _eight_digits(high[more], extra)
        mantissas[long[more]] = mantissas[long[more]] * _POWERS_OF_TEN_INT[extra] + rest
        plain[long[more]] &= plain_rest
        plain[long] &= mantissas[long] < np.uint64(_EXACT_FLOAT_INTEGERS)
    decimals = np.where(has_dot, lengths - 1 - dot, 0)
    values = mantissas.astype(np.float64)
    values /= _POWERS_OF_TEN[decimals]
    np.negative(values, out=values, where=negative)  # exact: "-0" is -0.0
    slow = np.flatnonzero(~plain)
    try:
        values[slow] = [float(text[a:b]) for a, b in zip(starts[slow].tolist(),
                                                         ends[slow].tolist(), strict=True)]
    except ValueError:
        return None
    return values


def _drop_dot(words):
    """Take each word's first '.' out (the bytes above move down); return it and its index.

    The index is uint8, 8 where a word has no '.'; ``words`` is modified.
    """
    before, dot = _find_byte(words, ord("."))
    rest = words >> np.uint64(8)
    words &= before
    rest &= ~before
    words |= rest
    return words, dot


def _find_byte(words, byte):
    """The mask of the bytes before each word's first ``byte``, and its index (uint8; 8: none).

    After the XOR that byte is zero; for ASCII bytes ``x - 1`` (per byte) has
    its top bit set at the lowest zero byte, and at no byte below it (a
    borrow only runs upwards), so the lowest set bit locates the byte.
    """
    x = words ^ np.uint64(byte * _LANES)
    x -= np.uint64(_LANES)
    x &= np.uint64(0x80 * _LANES)
    before = np.negative(x)
    before &= x  # the lowest set bit
    before >>= np.uint64(7)
    before -= np.uint64(1)  # none: all ones
    # Adding up the bytes (each 0 or 1) into the top one counts those before the byte.
    index = before & np.uint64(_LANES)
    index *= np.uint64(_LANES)
    index >>= np.uint64(56)
    return before, index.astype(np.uint8)


def _eight_digits(words, lengths):
    """The first ``lengths`` (1 to 8) bytes of each word read as a decimal number.

    Returns the numbers (uint64) and whether each of those bytes is a digit.
    The bytes are ASCII (``_PLAIN_BYTES``), so after the XOR a byte is a
    digit exactly when adding 0x76 leaves its top bit clear, without a carry.
    """
    x = words ^ np.uint64(ord("0") * _LANES)
    # The bytes past the number go out at the top (the first byte is the lowest); zero bytes,
    # leading zero digits, come in at the bottom.
    x <<= ((8 - lengths) << 3).astype(np.uint64)
    plain = x + np.uint64(0x76 * _LANES)
    plain &= np.uint64(0x80 * _LANES)
    plain = plain == 0
    # Each byte times 10 plus the next: pairs of digits in every other byte; pairs likewise
    # into fours, fours into the number, in the top half of each lane (no lane overflows).
    x *= np.uint64(10 << 8 | 1)
    x >>= np.uint64(8)
    x &= np.uint64(0x00FF00FF00FF00FF)
    x *= np.uint64(100 << 16 | 1)
    x >>= np.uint64(16)
    x &= np.uint64(0x0000FFFF0000FFFF)
    x *= np.uint64(10000 << 32 | 1)
    x >>= np.uint64(32)
    return x, plain


def load_line_by_line(path, n_features, n_labels, dtype):
    """Read any file the format allows, one line at a time (the slow path).

    Tokens are split on single spaces, empty label items skipped, features
    taken in any order (repeats summed); a parse error names its line.
    """
    with open(path) as handle:
        n_samples, header_features, header_labels = parse_header(path, handle.readline().split())
        x_rows, x_cols, x_vals, y_rows, y_cols = [], [], [], [], []
        lines = handle.read().split("\n")
        while lines and not lines[-1].strip():  # trailing blank lines are not samples
            lines.pop()
        row = -1
        # Every line is a sample; a blank one has no labels and no features.
        for line_number, line in enumerate(lines, start=2):
            row += 1
            tokens = line.split(" ")
            labels, features = tokens[0], [t for t in tokens[1:] if t]
            if ":" in labels:  # no labels and no leading space
                labels, features = "", [labels] + features
            try:
                for label in filter(None, labels.split(",")):
                    y_rows.append(row)
                    y_cols.append(int(label))
                for feature in features:
                    index, value = feature.split(":")
                    x_rows.append(row)
                    x_cols.append(int(index))
                    x_vals.append(float(value))
            except ValueError as exc:
                raise ValueError(f"{path}, line {line_number}: cannot parse "
                                 f"{line.strip()!r}.") from exc
    check_sample_count(path, n_samples, row + 1)
    n_features = header_features if n_features is None else n_features
    n_labels = header_labels if n_labels is None else n_labels
    for name, used, size in (("feature", x_cols, n_features), ("label", y_cols, n_labels)):
        check_range(path, name, (min(used), max(used)) if used else None, size)
    X = sp.csr_matrix((np.asarray(x_vals, dtype=dtype), (x_rows, x_cols)),
                      shape=(n_samples, n_features))
    Y = sp.csr_matrix((np.ones(len(y_rows), dtype=np.int8), (y_rows, y_cols)),
                      shape=(n_samples, n_labels))
    X.sum_duplicates()
    Y.sum_duplicates()
    Y.data[:] = 1  # a label listed twice is still one label
    return X, Y
