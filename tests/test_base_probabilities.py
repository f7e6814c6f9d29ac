"""Base-level predictions: the batched path equals a naive one-base-at-a-time computation, a model that knows the
bases gives them the highest probability, and the other strand maps back to the right base."""

import ast
import itertools

import numpy as np
import pytest
import torch
from conftest import REPO, lambda_dna, tiny_model

from modeling_randommask import RandomMaskForMaskedLM
from modeling_randommask.inference import base_probabilities, from_strings, log_probs_at
from modeling_randommask.pipeline_randommask import (
    BASES,
    RULES,
    centred_windows,
    output_columns,
    vocab_base_order,
)
from modeling_randommask.tokenization import KmerTokenizer
from modeling_randommask.tokenization.kmer_vocab import VOCAB_BASE_ORDER


def model_and_tokenizer(k: int, stride: int, seed: int = 0) -> tuple[RandomMaskForMaskedLM, KmerTokenizer]:
    model = tiny_model(seed, kmer_size=k, kmer_stride=stride, max_position_embeddings=64)
    return model, KmerTokenizer(k=k, kmer_stride=stride)


@torch.no_grad()
def naive_probabilities(model, tokenizer, sequence: str, position: int, window_tokens: int, rule: str) -> np.ndarray:
    """One base, the slow and obvious way: the string tokenizer, the k-mers holding the base masked by a loop, full
    logits, and every k-mer string visited to sum its probability into the base it has at the hidden offset."""
    k, stride = tokenizer.k, tokenizer.kmer_stride
    width = tokenizer.bases_for_tokens(window_tokens - 2)
    start, length = (int(t[0]) for t in centred_windows(torch.tensor([position]), torch.tensor([len(sequence)]),
                                                        width, tokenizer))
    window, hidden = sequence[start : start + length], position - start
    ids = tokenizer(window)["input_ids"]
    holders = [t for t in range(len(ids) - 2) if t * stride <= hidden < t * stride + k]
    for t in holders:
        ids[1 + t] = tokenizer.mask_token_id
    logits = model(input_ids=torch.tensor([ids])).logits[0]
    kmers = tokenizer.convert_ids_to_tokens(list(range(5, 5 + 4**k)))
    per_token = []
    for t in holders:
        offset, first = hidden - t * stride, t * stride
        totals = dict.fromkeys("ACGT", 0.0)
        for kmer, p in zip(kmers, logits[1 + t, 5:].double().softmax(-1).tolist()):
            clash = any(j != offset and window[first + j] in "ACGT" and kmer[j] != window[first + j] for j in range(k))
            if rule == "marginal" or not clash:
                totals[kmer[offset]] += p
        per_token.append(np.array([totals[base] for base in "ACGT"]) / sum(totals.values()))
    per_token = np.array(per_token)
    if rule == "product":
        product = per_token.prod(axis=0)
        return product / product.sum()
    return per_token.mean(axis=0)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("k, stride", [(4, 1), (4, 4)], ids=["overlapping", "non_overlapping"])
def test_batched_equals_naive_one_base_at_a_time(k, stride, rule):
    model, tokenizer = model_and_tokenizer(k, stride)
    dna = lambda_dna(20_000, 150)
    dna = dna[:60] + "N" + dna[61:]  # an unknown base inside some masked k-mers: summed over, not matched
    positions = [149, 0, 1, 2, 57, 59, 60, 61, 100, 147, 148]  # both ends (shifted windows), around the N, unsorted
    window_tokens = 24
    batched = base_probabilities(model, tokenizer, dna, positions, rule=rule, window_tokens=window_tokens, batch_tokens=100)  # 4 copies a pass
    naive = np.stack([naive_probabilities(model, tokenizer, dna, p, window_tokens, rule) for p in positions])
    np.testing.assert_allclose(batched, naive, atol=2e-6)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-9)


def memorising_model(dna: str, k: int, stride: int) -> tuple[RandomMaskForMaskedLM, KmerTokenizer]:
    """A model engineered to know ``dna``: its output is a constant, the log-frequency of each k-mer in ``dna`` (read
    in the tokenizer's frame); its inputs are ignored (word embeddings zero, hence the tied decoder too)."""
    model, tokenizer = model_and_tokenizer(k, stride)
    counts = np.zeros(4**k)
    ids = tokenizer(dna, add_special_tokens=False)["input_ids"]
    np.add.at(counts, np.array(ids) - 5, 1)
    with torch.no_grad():
        model.bert.embeddings.word_embeddings.weight.zero_()
        model.cls.predictions.bias.copy_(torch.cat([torch.full((5,), -30.0),
                                                    torch.from_numpy(np.log(counts + 1e-4)).float()]))
    return model, tokenizer


@pytest.mark.parametrize("k, stride", [(6, 1), (6, 6)], ids=["overlapping", "non_overlapping"])
def test_a_model_that_knows_the_sequence_gives_its_bases_the_highest_probability(k, stride):
    rng = np.random.default_rng(0)
    dna = "".join(rng.choice(list("ACGT"), size=300))
    model, tokenizer = memorising_model(dna, k, stride)
    truth = np.array(["ACGT".index(base) for base in dna])
    # Non-overlapping: one window holds the whole sequence, in frame 0, the frame its k-mers were counted in.
    probs = base_probabilities(model, tokenizer, dna, window_tokens=64 if stride == 1 else 52)
    true_probs = probs[np.arange(len(dna)), truth]
    # Highest everywhere; tied where the sequence happens to hold the k-mer of another base there as often.
    assert (true_probs >= probs.max(axis=1) - 1e-9).all()
    assert (true_probs > 0.25).all() and true_probs.mean() > 0.8
    # The knowledge is in the k-mers that agree with the visible bases: ignoring them, the same model is near chance.
    marginal = base_probabilities(model, tokenizer, dna, window_tokens=64 if stride == 1 else 52, rule="marginal")
    assert (marginal.argmax(axis=1) == truth).mean() < 0.5


def test_reverse_complement_averages_the_same_base_on_both_strands():
    model, tokenizer = model_and_tokenizer(4, 1, seed=3)
    dna = lambda_dna(30_000, 90)
    flipped = dna[::-1].translate(str.maketrans("ACGT", "TGCA"))
    window_tokens = 24  # 25-base windows: odd, so the window of a base and of its mirror image are mirrors
    positions = np.arange(len(dna))
    both = log_probs_at(model, tokenizer, from_strings([dna]), np.zeros_like(positions), positions,
                        window_tokens=window_tokens, reverse_complement=True)
    forward = torch.from_numpy(base_probabilities(model, tokenizer, dna, window_tokens=window_tokens)).log()
    reverse = torch.from_numpy(base_probabilities(model, tokenizer, flipped, window_tokens=window_tokens)).log()
    mirrored = reverse.flip(0).flip(1)  # base b <- base L - 1 - b of the other strand, A C G T <- T G C A
    torch.testing.assert_close(both, ((forward + mirrored) / 2).log_softmax(dim=1), atol=1e-6, rtol=0)
    assert not torch.allclose(both, forward, atol=1e-3)  # the other strand changed something


@pytest.mark.parametrize("k, stride", [(6, 1), (6, 6), (4, 2)])
def test_centred_windows_hold_their_base_and_stay_inside_the_sequence(k, stride):
    width = (20 - 1) * stride + k
    for length in [k, k + 1, width - 1, width, width + 5, 3 * width]:
        positions = torch.arange(length)
        starts, lengths = centred_windows(positions, torch.full_like(positions, length), width,
                                          KmerTokenizer(k=k, kmer_stride=stride))
        tokens = (min(length, width) - k) // stride + 1
        assert (lengths == (tokens - 1) * stride + k).all()
        assert ((starts >= 0) & (starts + lengths <= length)).all()
        assert ((starts <= positions) & (positions < starts + lengths)).all()
        unshifted = (starts > 0) & (starts + lengths < length)
        assert (starts[unshifted] % stride == 0).all()
        middle = torch.arange(width, max(width, length - width))  # far from both ends: centred
        assert ((positions[middle] - starts[middle] - lengths[middle] // 2).abs() < stride).all()


def test_positions_outside_the_sequence_and_unknown_rules_are_refused():
    model, tokenizer = model_and_tokenizer(4, 1)
    with pytest.raises(IndexError, match="outside record"):
        base_probabilities(model, tokenizer, "ACGTACGTAC", [10])
    with pytest.raises(ValueError, match="rule must be one of"):
        base_probabilities(model, tokenizer, "ACGTACGTAC", [3], rule="vote")
    with pytest.raises(ValueError, match="window_tokens must be an int in 3..64"):
        base_probabilities(model, tokenizer, "ACGTACGTAC", [3], window_tokens=65)
    with pytest.raises(ValueError, match="holds no 4-mer"):
        base_probabilities(model, tokenizer, "ACG", [1])


def test_kmer_vocabulary_order_is_what_the_arithmetic_assumes():
    tokenizer = KmerTokenizer(k=3)
    assert tokenizer.convert_ids_to_tokens(list(range(5, 5 + 64))) == \
        ["".join(kmer) for kmer in itertools.product("ATCG", repeat=3)]


@pytest.mark.parametrize("k", [1, 3, 6])
def test_the_pipeline_reads_the_vocabulary_base_order_off_the_tokenizer(k):
    assert vocab_base_order(KmerTokenizer(k=k)) == VOCAB_BASE_ORDER == "ATCG"
    assert "".join(VOCAB_BASE_ORDER[column] for column in output_columns(VOCAB_BASE_ORDER)) == BASES == "ACGT"


def test_the_vocabulary_base_order_is_written_once():
    """Code elsewhere imports ``VOCAB_BASE_ORDER`` (or reads it off the tokenizer) instead of spelling it out."""
    spelled = []
    for folder in ("modeling_randommask", "tokenization", "benchmarks", "examples"):
        for path in sorted((REPO / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                          if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                          and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
            spelled += [str(path.relative_to(REPO)) for node in ast.walk(tree)
                        if isinstance(node, ast.Constant) and node.value in ("ATCG", b"ATCG")
                        and id(node) not in docstrings]
    assert spelled == ["tokenization/kmer_vocab.py"]
