"""KmerTokenizer: DNABERT ids, input rules, vectorised path == per-token path, decode, save/load, errors."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest
import torch
from conftest import LAMBDA, run_without_package
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeling_randommask.hub.travelling_files import TOKENIZER_CODE
from modeling_randommask.tokenization import SPECIAL_TOKENS, KmerTokenizer, kmer_vocab


def read_fasta(path: Path) -> str:
    with gzip.open(path, "rt") as f:
        return "".join(line.strip() for line in f if not line.startswith(">"))


@pytest.fixture(scope="module")
def lambda_dna() -> str:
    return read_fasta(LAMBDA)


@pytest.fixture(scope="module")
def human_n_edge(shared_genomes) -> str:
    """2 kb of human chr22 straddling the start of its 100 kb N gap."""
    seq = read_fasta(shared_genomes / "human_chr22_20-21M.fa.gz")
    start = seq.index("N" * 100)
    return seq[start - 1500 : start + 500]


_TOKENIZERS: dict[tuple[int, int], KmerTokenizer] = {}


def tokenizer(k: int = 6, stride: int = 1) -> KmerTokenizer:
    if (k, stride) not in _TOKENIZERS:
        _TOKENIZERS[k, stride] = KmerTokenizer(k=k, kmer_stride=stride)
    tok = _TOKENIZERS[k, stride]
    tok.use_vectorized, tok.truncation_side = True, "right"
    return tok


def plain(encoding) -> dict:
    return {key: value.tolist() if isinstance(value, torch.Tensor) else value for key, value in encoding.items()}


def fast_and_slow(tok: KmerTokenizer, *args, **kwargs) -> list:
    """The same call through the vectorised path and the per-token reference path (or the error it raises)."""
    results = []
    for vectorised in (True, False):
        tok.use_vectorized = vectorised
        try:
            encoding = tok(*args, **kwargs)
        except (ValueError, AssertionError) as error:  # both paths must refuse alike, e.g. ragged tensors, or
            results.append(type(error))  # transformers' assert when only some rows of a batch overflow
        else:
            ids = encoding["input_ids"]
            if isinstance(ids, torch.Tensor) and ids.numel() == 0 and ids.dtype != torch.int64:
                # transformers' own quirk: torch.tensor([[], [5]]) gives an empty (2, 0) float tensor, dropping
                # the tokens; the vectorised path raises instead (checked in test_ragged_tensors_are_refused).
                results.append(ValueError)
                continue
            if kwargs.get("return_tensors") == "pt":
                assert all(value.dtype == torch.int64 for value in encoding.values())
            results.append(plain(encoding))
        finally:
            tok.use_vectorized = True
    return results


# ---- vocabulary -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_vocab_ids_equal_dnaberts(k, dnabert_vocab):
    dnabert = (dnabert_vocab / f"vocab_k{k}.txt").read_text().splitlines()
    assert kmer_vocab(k) == dnabert
    tok = tokenizer(k)
    assert tok.vocab_size == len(tok) == 4**k + 5
    assert tok.convert_tokens_to_ids(dnabert) == list(range(len(dnabert)))
    assert [tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id] == [0, 1, 2, 3, 4]


def test_real_dna_ids_match_dnabert_vocab_lookup(human_n_edge, dnabert_vocab):
    """Oracle independent of the tokenizer: look every 6-mer up in DNABERT's own vocab file."""
    dnabert = {token: i for i, token in enumerate((dnabert_vocab / "vocab_k6.txt").read_text().split())}
    seq = human_n_edge[:700].lower() + human_n_edge[700:]  # soft-masked head, N run at the end
    expected = [dnabert.get(seq[i : i + 6].upper(), 1) for i in range(len(seq) - 5)]
    assert 1 in expected and expected.count(1) < len(expected)
    assert tokenizer()(seq, add_special_tokens=False)["input_ids"] == expected
    ascii_ids = tokenizer().ids_from_ascii(torch.tensor([list(seq.encode())], dtype=torch.uint8))
    assert ascii_ids.dtype == torch.int64 and ascii_ids[0].tolist() == expected


def test_save_writes_vocab_and_from_pretrained_reads_it(tmp_path):
    tok = KmerTokenizer(k=6, kmer_stride=3, model_max_length=128)
    tok.save_pretrained(tmp_path)
    assert (tmp_path / "vocab.txt").read_text() == "\n".join(kmer_vocab(6)) + "\n"  # DNABERT's file: see above
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["auto_map"] == {"AutoTokenizer": ["tokenization_kmer.KmerTokenizer", None]}
    assert (config["k"], config["kmer_stride"]) == (6, 3)
    assert all((tmp_path / name).is_file() for name in TOKENIZER_CODE)
    loaded = KmerTokenizer.from_pretrained(tmp_path)
    assert (loaded.k, loaded.kmer_stride, loaded.model_max_length) == (6, 3, 128)
    # A vocab.txt that disagrees with the generated one is refused, naming the file and line.
    lines = (tmp_path / "vocab.txt").read_text().splitlines()
    lines[7], lines[8] = lines[8], lines[7]
    (tmp_path / "vocab.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"vocab\.txt: line 8"):
        KmerTokenizer.from_pretrained(tmp_path)


def test_k_is_inferred_from_a_dnabert_vocab_file(dnabert_vocab):
    tok = KmerTokenizer(vocab_file=str(dnabert_vocab / "vocab_k4.txt"))
    assert tok.k == 4 and tok.tokenize("ACGTA") == ["ACGT", "CGTA"]


@pytest.mark.parametrize("bad", [{"k": 0}, {"k": 11}, {"k": 2.0}, {"stride": 0}, {"stride": True}])
def test_bad_k_or_stride(bad):
    with pytest.raises((ValueError, TypeError)):
        KmerTokenizer(**bad)


# ---- input rules ------------------------------------------------------------------------------------------


def test_lengths_515_bp_is_512_tokens():
    tok = tokenizer()
    assert tok.tokens_for_bases(515) == 510 and tok.bases_for_tokens(510) == 515
    assert len(tok("A" * 515)["input_ids"]) == 512
    nt = tokenizer(6, 6)
    assert nt.tokens_for_bases(515) == 85 and nt.bases_for_tokens(85) == 510


@given(k=st.integers(1, 8), stride=st.integers(1, 10), n=st.integers(0, 2000))
def test_tokens_for_bases_and_bases_for_tokens_agree(k, stride, n):
    tok = tokenizer(k, stride)
    tokens = tok.tokens_for_bases(n)
    assert tok.bases_for_tokens(tokens) <= n < tok.bases_for_tokens(tokens + 1)
    assert tok.tokens_for_bases(tok.bases_for_tokens(tokens)) == tokens


def test_case_whitespace_and_unknown_bases(lambda_dna):
    tok = tokenizer()
    seq = lambda_dna[:300]
    ids = tok(seq)["input_ids"]
    fasta_wrapped = "\n".join(seq[i : i + 60].lower() for i in range(0, 300, 60)) + "\r\n"
    assert tok(fasta_wrapped)["input_ids"] == ids
    with_iupac = seq[:100] + "R" + seq[101:]  # one IUPAC code -> the 6 k-mers holding it are [UNK]
    got = tok(with_iupac, add_special_tokens=False)["input_ids"]
    assert [i for i, (a, b) in enumerate(zip(got, ids[1:-1])) if a != b] == list(range(95, 101))
    assert set(got[95:101]) == {tok.unk_token_id}


def test_special_and_added_tokens_inside_text_are_tokens():
    """As in every transformers tokenizer, text is split on special/added tokens first; each DNA segment between
    them is tokenized on its own (here two 6-mers around one [MASK] token, not eleven [UNK]s)."""
    tok = tokenizer()
    acgtac = tok.convert_tokens_to_ids("ACGTAC")
    for vectorised in (True, False):
        tok.use_vectorized = vectorised
        assert tok("ACGTAC[MASK]ACGTAC")["input_ids"] == [2, acgtac, tok.mask_token_id, acgtac, 3]
        assert tok(["ACGTAC[MASK]ACGTAC", "ACGTAC"], padding=True)["input_ids"] == [
            [2, acgtac, 4, acgtac, 3], [2, acgtac, 3, 0, 0]]
        # split_special_tokens=True reads the brackets as (non-ACGT) DNA again
        assert tok("ACGTAC[MASK]", split_special_tokens=True)["input_ids"] == [2, acgtac] + [1] * 6 + [3]
    tok.use_vectorized = True
    assert tok.tokenize("ACGTACG [SEP]\nACGTAC") == ["ACGTAC", "CGTACG", "[SEP]", "ACGTAC"]
    # Added tokens, special or not, are split out too, get their own ids and decode as themselves.
    tok.add_special_tokens({"extra_special_tokens": ["[HUMAN]"]})
    tok.add_tokens(["<chr1>"])
    human, chr1 = tok.convert_tokens_to_ids(["[HUMAN]", "<chr1>"])
    assert (human, chr1) == (4101, 4102) and tok.tokenize("[HUMAN]") == ["[HUMAN]"]
    ids = tok("[HUMAN]ACGTACG<chr1>ACGTAC")["input_ids"]
    assert ids == [2, human, acgtac, tok.convert_tokens_to_ids("CGTACG"), chr1, acgtac, 3]
    assert tok.decode(ids) == "[CLS] [HUMAN] ACGTACG <chr1> ACGTAC [SEP]"
    assert fast_and_slow(tok, ["[HUMAN]ACGTACG<chr1>ACGTAC", "<chr1>", "ACGTACGT"], padding=True)[0] == \
        fast_and_slow(tok, ["[HUMAN]ACGTACG<chr1>ACGTAC", "<chr1>", "ACGTACGT"], padding=True)[1]


@pytest.mark.parametrize("k", [8, 9, 10])
def test_largest_k_ids_including_all_unknown_kmers(lambda_dna, k):
    """The vectorised sum stays in range at the largest k of each integer width (k = 8 is the last in int32;
    a k-mer of k unknown bytes is the largest sum) and equals the per-token path."""
    tok = tokenizer(k)
    texts = [lambda_dna[:40], "N" * k + lambda_dna[:30] + "n" * (k + 3), "#" * (2 * k), lambda_dna[-k:].lower()]
    per_token = [tok.convert_tokens_to_ids(tok.tokenize(text)) for text in texts]
    assert [tok(text, add_special_tokens=False)["input_ids"] for text in texts] == per_token
    width = len(texts[2])
    grid = torch.tensor([list(text[:width].ljust(width, "A").encode()) for text in texts], dtype=torch.uint8)
    assert tok.ids_from_ascii(grid)[2].tolist() == [tok.unk_token_id] * (k + 1)
    assert int(tok.ids_from_ascii(grid).max()) < tok.vocab_size


def test_batch_with_split_separators_takes_the_normalising_path(lambda_dna):
    """str.split() whitespace beyond space/tab/newline (\\x0b, \\x1c-\\x1f) is removed in a batch as in one text."""
    tok = tokenizer()
    seq = lambda_dna[:50]
    texts = [seq, seq[:20] + "\x1c" + seq[20:], seq[:10] + "\x0b\x1f" + seq[10:]]
    assert tok(texts)["input_ids"] == [tok(seq)["input_ids"]] * 3
    assert tok(texts, padding=True, return_tensors="pt")["input_ids"].tolist() == [tok(seq)["input_ids"]] * 3


def test_dnabert_space_separated_kmers_read_as_the_sequence_they_spell(lambda_dna):
    tok = tokenizer()
    seq = lambda_dna[1000:1101]
    for m in (6, 3, 8):  # DNABERT data of any k, lowercase too
        kmers = " ".join(seq[i : i + m] for i in range(len(seq) - m + 1))
        assert tok(kmers)["input_ids"] == tok(seq)["input_ids"]
        assert tok(kmers.lower(), return_tensors="pt")["input_ids"].tolist() == [tok(seq)["input_ids"]]
        assert tok.tokenize(kmers) == tok.tokenize(seq)
    # Equal chunks that do not overlap are raw DNA with spaces (e.g. non-overlapping groups).
    groups = " ".join(seq[i : i + 6] for i in range(0, 96, 6))
    assert tok(groups)["input_ids"] == tok(seq[:96])["input_ids"]


def test_tail_rule_drops_incomplete_kmers_and_warns_once(caplog, lambda_dna):
    tok = tokenizer(6, 6)
    logging.Logger.warning_once.cache_clear()
    with caplog.at_level(logging.WARNING):
        ids = tok([lambda_dna[:515], lambda_dna[:20]], add_special_tokens=False)["input_ids"]
    assert [len(row) for row in ids] == [85, 3]
    assert sum("dropped" in record.getMessage() for record in caplog.records) == 1
    assert tok.decode(ids[1]) == lambda_dna[:18]
    assert tok.decode(tok(lambda_dna[:5])["input_ids"], skip_special_tokens=True) == ""


def test_ragged_tensors_are_refused():
    tok = tokenizer(1)
    with pytest.raises(ValueError, match="padding=True"):
        tok(["", "A"], add_special_tokens=False, return_tensors="pt")
    with pytest.raises(ValueError, match="padding=True"):
        tok(["AC", "A"], return_tensors="pt")


def test_empty_input_gives_cls_sep():
    tok = tokenizer()
    assert tok("")["input_ids"] == [2, 3]
    assert tok(" \n")["input_ids"] == [2, 3]
    assert tok(["", "ACGTAC"], padding=True, return_tensors="pt")["input_ids"].tolist() == [[2, 3, 0], [2, 727, 3]]


def test_errors_are_clear():
    tok = tokenizer()
    with pytest.raises(TypeError, match="got None"):
        tok(None)
    with pytest.raises(TypeError, match="got None"):
        tok.encode(None)
    with pytest.raises(TypeError, match="NoneType"):
        tok.tokenize(None)
    with pytest.raises(TypeError, match=r"text\[1\] is float"):
        tok(["ACGTAC", float("nan")])
    with pytest.raises(TypeError, match="decode bytes first"):
        tok(b"ACGTAC")
    with pytest.raises(ValueError, match=r"non-ASCII character 'É' \(U\+00C9\) at position 3"):
        tok("ACGÉTTT")
    with pytest.raises(ValueError, match="non-ASCII"):
        tok(["ACGT", "AC\u2013GT"])
    with pytest.raises(NotImplementedError):
        tok("ACGTACGT", return_offsets_mapping=True)
    with pytest.raises(TypeError, match="uint8"):
        tok.ids_from_ascii(torch.zeros(2, 10, dtype=torch.int64))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([2, -100, 3])


# ---- transformers features --------------------------------------------------------------------------------


def test_hf_features(lambda_dna):
    tok = tokenizer()
    a, b = lambda_dna[:40], lambda_dna[100:120]
    pair = tok(a, b, return_special_tokens_mask=True)
    assert pair["input_ids"] == [2] + tok(a, add_special_tokens=False)["input_ids"] + [3] + tok(
        b, add_special_tokens=False
    )["input_ids"] + [3]
    assert pair["token_type_ids"] == [0] * 37 + [1] * 16
    assert pair["special_tokens_mask"] == [1] + [0] * 35 + [1] + [0] * 15 + [1]
    batch = tok([lambda_dna[:1000], a], truncation=True, padding=True, return_tensors="pt")
    assert batch["input_ids"].shape == (2, 512)  # max_length counts tokens: model_max_length 512
    assert batch["attention_mask"].sum(1).tolist() == [512, 37]
    assert batch["input_ids"][0, -1].item() == tok.sep_token_id
    padded = tok([a, b], padding="max_length", max_length=40, pad_to_multiple_of=16, return_tensors="pt")
    assert padded["input_ids"].shape == (2, 48)
    collated = tok.pad([tok(a), tok(b)], return_tensors="pt")  # what data collators call
    assert collated["input_ids"].shape == (2, 37) and collated["attention_mask"][1].sum() == 17
    assert tok.encode(a) == tok(a)["input_ids"]


def test_decode_gives_bases(lambda_dna, human_n_edge):
    tok = tokenizer()
    seq = lambda_dna[:200]
    ids = tok(seq)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == seq
    assert tok.decode(ids) == f"[CLS] {seq} [SEP]"
    padded = tok([seq, seq[:10]], padding=True, return_tensors="pt")["input_ids"]
    assert tok.batch_decode(padded, skip_special_tokens=True) == [seq, seq[:10]]
    assert tok.decode(tok(seq[:30], seq[50:70])["input_ids"], skip_special_tokens=True) == f"{seq[:30]} {seq[50:70]}"
    # Non-ACGT bases come back as N.
    mixed = human_n_edge[1450:1550]
    assert "N" in mixed and tok.decode(tok(mixed.lower())["input_ids"], skip_special_tokens=True) == mixed
    # The paper's point: masking 6 consecutive overlapping 6-mers hides exactly one base (L - k + 1 in general).
    for run in (6, 8, 10):
        masked = list(ids)
        masked[50 : 50 + run] = [tok.mask_token_id] * run
        decoded = tok.decode(masked, skip_special_tokens=True)
        assert decoded.count("N") == run - 5 and decoded.replace("N", "") == seq[:54] + seq[54 + run - 5 :]
    # Non-overlapping and gapped strides.
    assert tokenizer(6, 6).decode(tokenizer(6, 6)(seq)["input_ids"], skip_special_tokens=True) == seq[:198]
    gapped = tokenizer(3, 5).decode(tokenizer(3, 5)(seq[:13])["input_ids"], skip_special_tokens=True)
    assert gapped == seq[:3] + "NN" + seq[5:8] + "NN" + seq[10:13]


@settings(max_examples=150, deadline=None)
@given(k=st.integers(1, 8), stride_choice=st.sampled_from(["1", "k", "other"]), dna=st.text("ACGTacgtN", max_size=60))
def test_decode_round_trip(k, stride_choice, dna):
    stride = {"1": 1, "k": k, "other": 2 if k != 2 else 3}[stride_choice]
    tok = tokenizer(k, stride)
    ids = tok(dna)["input_ids"]
    canonical = dna.upper()[: tok.bases_for_tokens(len(ids) - 2)]
    decoded = tok.decode(ids, skip_special_tokens=True)
    assert len(decoded) == len(canonical)
    # Every base is recovered unless no known k-mer covers it (then N), and skipped bases (stride > k) are N.
    assert all(d == c or d == "N" for d, c in zip(decoded, canonical))
    if stride <= k and "N" not in canonical:
        assert decoded == canonical


# ---- vectorised path == per-token reference path -----------------------------------------------------------

# DNA with noise, and now and then a special token inside it (split out as a token by both paths).
DNA_WITH_NOISE = st.lists(st.one_of(st.text(alphabet="ACGTacgtNRY \n", max_size=20), st.sampled_from(["[MASK]", "[UNK]"])),
                          max_size=4).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    k=st.integers(1, 8),
    stride_choice=st.sampled_from(["1", "k", "other"]),
    texts=st.one_of(DNA_WITH_NOISE, st.lists(DNA_WITH_NOISE, min_size=1, max_size=5)),
    equal_lengths=st.booleans(),
    padding=st.sampled_from([False, True, "max_length"]),
    truncation=st.sampled_from([None, False, True]),
    max_length=st.one_of(st.none(), st.integers(0, 40)),
    side=st.sampled_from(["left", "right"]),
    truncation_side=st.sampled_from(["left", "right"]),
    pad_to_multiple_of=st.sampled_from([None, 8]),
    add_special_tokens=st.booleans(),
    return_tensors=st.sampled_from([None, "pt"]),
    extras=st.booleans(),
)
def test_vectorised_path_equals_per_token_path(
    k, stride_choice, texts, equal_lengths, padding, truncation, max_length, side, truncation_side,
    pad_to_multiple_of, add_special_tokens, return_tensors, extras,
):
    stride = {"1": 1, "k": k, "other": k + 1 if k % 2 else max(k // 2, 1)}[stride_choice]
    tok = tokenizer(k, stride)
    if equal_lengths and isinstance(texts, list):  # exercise the equal-length layout
        texts = [(text.replace(" ", "").replace("\n", "") + "A" * 50)[:37] for text in texts]
    if padding == "max_length" and max_length is None:
        max_length = 30
    if pad_to_multiple_of and max_length is not None and max_length % pad_to_multiple_of:
        pad_to_multiple_of = None  # transformers refuses that combination before tokenizing
    tok.truncation_side = truncation_side
    fast, slow = fast_and_slow(
        tok, texts, padding=padding, truncation=truncation, max_length=max_length, padding_side=side,
        pad_to_multiple_of=pad_to_multiple_of, add_special_tokens=add_special_tokens, return_tensors=return_tensors,
        return_special_tokens_mask=extras, return_length=extras, return_attention_mask=extras or None,
    )
    assert fast == slow


@settings(max_examples=150, deadline=None)
@given(
    k=st.integers(1, 8),
    texts=st.lists(st.tuples(DNA_WITH_NOISE, DNA_WITH_NOISE), min_size=1, max_size=4),
    truncation=st.sampled_from([None, "longest_first", "only_first", "only_second"]),
    max_length=st.integers(6, 30),
    overflow=st.booleans(),
)
def test_pairs_and_overflow_match_per_token_path(k, texts, truncation, max_length, overflow):
    tok = tokenizer(k, 1)
    if overflow and truncation == "longest_first":
        truncation = "only_first"  # transformers refuses overflow with longest_first on pairs
    first, second = [a for a, _ in texts], [b for _, b in texts]
    kwargs = {"truncation": truncation, "max_length": max_length, "return_overflowing_tokens": overflow, "stride": 2}
    assert fast_and_slow(tok, first, second, padding=True, **kwargs)[0] == fast_and_slow(
        tok, first, second, padding=True, **kwargs
    )[1]
    assert fast_and_slow(tok, first[0], second[0], return_tensors="pt", **kwargs)[0] == fast_and_slow(
        tok, first[0], second[0], return_tensors="pt", **kwargs
    )[1]


@settings(max_examples=150, deadline=None)
@given(
    k=st.integers(1, 8),
    stride=st.integers(1, 9),
    rows=st.integers(1, 4),
    length=st.integers(0, 40),
    data=st.data(),
)
def test_ids_from_ascii_equals_per_token_path(k, stride, rows, length, data):
    tok = tokenizer(k, stride)
    alphabet = list(b"ACGTacgtN-*")
    raw = data.draw(st.lists(st.sampled_from(alphabet), min_size=rows * length, max_size=rows * length))
    seqs = torch.tensor(raw, dtype=torch.uint8).view(rows, length)
    ids = tok.ids_from_ascii(seqs)
    assert ids.dtype == torch.int64 and ids.shape == (rows, tok.tokens_for_bases(length))
    for row, row_ids in zip(seqs, ids):
        assert row_ids.tolist() == tok.convert_tokens_to_ids(tok.tokenize(bytes(row.tolist()).decode()))


def test_large_batch_of_real_windows_matches_per_token_path(human_n_edge):
    """Genome windows (equal lengths, the pretraining case) incl. an N run and soft-masking."""
    tok = tokenizer()
    windows = [human_n_edge[i : i + 515] for i in range(0, 1485, 45)]
    windows = [w.lower() if i % 3 == 0 else w for i, w in enumerate(windows)]
    fast, slow = fast_and_slow(tok, windows, truncation=True, padding="max_length", return_tensors="pt")
    assert fast == slow and len(fast["input_ids"][0]) == 512
    ascii_ids = tok.ids_from_ascii(torch.tensor([list(w.encode()) for w in windows], dtype=torch.uint8))
    assert [row[1:-1] for row in fast["input_ids"]] == ascii_ids.tolist()


# ---- checkpoint folder loads with the package not importable -----------------------------------------------

# Runs in the isolated interpreter (conftest.run_without_package). argv: the saved folder; stdin: the sequences.
CHILD = """
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1], trust_remote_code=True)
seqs = json.loads(sys.stdin.read())
batch = tok(seqs, padding=True, return_tensors="pt")
print(json.dumps({
    "class": type(tok).__module__ + "." + type(tok).__name__,
    "k": tok.k, "stride": tok.kmer_stride,
    "input_ids": batch["input_ids"].tolist(),
    "decoded": tok.batch_decode(batch["input_ids"], skip_special_tokens=True),
}))
"""


@pytest.mark.slow
def test_saved_folder_loads_with_auto_tokenizer_without_the_package(tmp_path, human_n_edge):
    tok = KmerTokenizer(k=5, kmer_stride=2)
    folder = tmp_path / "checkpoint"
    tok.save_pretrained(folder)
    seqs = [human_n_edge[1400:1600], human_n_edge[:77].lower(), ""]
    child = run_without_package(CHILD, str(folder), cwd=tmp_path, stdin=json.dumps(seqs), timeout=120)
    out = json.loads(child.stdout.strip().splitlines()[-1])
    assert out["class"].startswith("transformers_modules.") and out["class"].endswith("KmerTokenizer")
    assert (out["k"], out["stride"]) == (5, 2)
    assert out["input_ids"] == tok(seqs, padding=True, return_tensors="pt")["input_ids"].tolist()
    assert out["decoded"] == tok.batch_decode(out["input_ids"], skip_special_tokens=True)


def test_special_tokens_are_dnaberts():
    assert SPECIAL_TOKENS == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    with pytest.raises(ValueError, match="mask_token"):
        KmerTokenizer(mask_token="<mask>")


def test_folders_saved_with_the_older_stride_name_still_load(tmp_path):
    KmerTokenizer(k=6, kmer_stride=6).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    config["stride"] = config.pop("kmer_stride")  # what tokenizer_config.json held before the rename
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    assert KmerTokenizer.from_pretrained(tmp_path).kmer_stride == 6
