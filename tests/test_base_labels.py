"""Per-base labels <-> k-mer tokens: the centre-base rule, against a per-base reference and the real tokenizer."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modeling_randommask.data.base_labels import IGNORE_INDEX, BaseAlignment, token_labels
from modeling_randommask.tokenization import KmerTokenizer


def _reference_token(base: int, num_bases: int, k: int, stride: int) -> int:
    """The rule read literally: the token whose centre base is nearest to ``base``, the left one on a tie."""
    centres = [i * stride + (k - 1) // 2 for i in range((num_bases - k) // stride + 1)]
    return min(range(len(centres)), key=lambda i: (abs(centres[i] - base), i))


def test_overlapping_six_mers_train_on_their_third_base_and_bases_read_the_token_centred_on_them():
    labels = np.array([0, 0, 1, 1, 1, 1, 0, 0, 0, 1], dtype=np.int8)  # 10 bases -> 5 tokens, centres 2..6
    (row,) = token_labels(labels, [10], k=6, stride=1)
    assert row.tolist() == [IGNORE_INDEX, 1, 1, 1, 1, 0, IGNORE_INDEX]
    bases = BaseAlignment.from_lengths([10], k=6, stride=1, base_labels=labels)
    assert bases.token.tolist() == [1, 1, 1, 2, 3, 4, 5, 5, 5, 5]  # model positions: [CLS] is 0
    assert bases.labels.tolist() == labels.tolist() and bases.dropped == 0


def test_non_overlapping_tokens_give_their_prediction_to_all_their_bases_and_the_tail():
    bases = BaseAlignment.from_lengths([20], k=6, stride=6)  # tokens cover 0-5, 6-11, 12-17; 18-19 are the tail
    assert bases.token.tolist() == [1] * 6 + [2] * 6 + [3] * 8


def test_truncation_drops_the_bases_of_cut_tokens_like_the_tokenizer():
    tokenizer = KmerTokenizer(k=6)
    sequences = ["ACGTAC" * 5, "ACGTACGTAC", "ACG"]  # 30, 10 and 3 bases
    encoded = tokenizer(sequences, truncation=True, max_length=12)["input_ids"]
    rows = token_labels(np.zeros(43, dtype=np.int8), [30, 10, 3], k=6, stride=1, max_tokens=12)
    assert [len(r) for r in rows] == [len(ids) for ids in encoded] == [12, 7, 2]
    bases = BaseAlignment.from_lengths([30, 10, 3], k=6, stride=1, max_tokens=12)
    assert bases.token.max() == 10 and bases.dropped == 30 - 12 + 3  # bases 12..29 and the 3-base sequence
    per_sequence = bases.per_sequence(np.zeros((3, 12, 2)))
    assert [len(p) for p in per_sequence] == [12, 10, 0]


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.integers(6, 40), min_size=1, max_size=5), k=st.integers(2, 6), stride=st.integers(1, 6))
def test_the_vectorised_alignment_equals_the_rule_read_literally(lengths, k, stride):
    stride = min(stride, k)
    rng = np.random.default_rng(len(lengths))
    labels = rng.integers(0, 3, sum(lengths)).astype(np.int8)
    bases = BaseAlignment.from_lengths(lengths, k, stride, base_labels=labels)
    expected = [1 + _reference_token(j, n, k, stride) for n in lengths for j in range(n)]
    assert bases.token.tolist() == expected
    assert bases.sequence.tolist() == [s for s, n in enumerate(lengths) for _ in range(n)]
    rows = token_labels(labels, lengths, k, stride)
    starts = np.cumsum(lengths) - lengths
    for row, start, n in zip(rows, starts, lengths):
        centres = [start + i * stride + (k - 1) // 2 for i in range((n - k) // stride + 1)]
        assert row[1:-1].tolist() == labels[centres].tolist()
    # Token predictions equal to the token labels come back to every base as its own label wherever the base is
    # a centre: the two directions agree.
    logits = np.full((len(lengths), max(map(len, rows)), 3), -1.0)
    for s, row in enumerate(rows):
        logits[s, np.arange(1, len(row) - 1), row[1:-1]] = 1.0
    predicted = bases.gather(logits).argmax(-1)
    is_centre = np.zeros(sum(lengths), dtype=bool)
    for start, n in zip(starts, lengths):
        is_centre[start + (k - 1) // 2: start + n - (k - 1 - (k - 1) // 2): stride] = True
    assert (predicted[is_centre] == labels[is_centre]).all()


def test_logits_for_the_wrong_number_of_sequences_are_refused():
    with pytest.raises(ValueError, match="logits for 2 sequences; the alignment is of 1"):
        BaseAlignment.from_lengths([10], k=6, stride=1).gather(np.zeros((2, 7, 2)))
