"""K-mer tokenizer for DNA language models (DNABERT / Nucleotide Transformer style).

This file travels with saved checkpoints (``trust_remote_code``): it imports only the standard library,
torch, transformers and its sibling ``kmer_vocab.py``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import string
from typing import ClassVar

import torch
from transformers import PreTrainedTokenizer
from transformers.tokenization_utils_base import BatchEncoding, TruncationStrategy
from transformers.utils import PaddingStrategy, TensorType, cached_file, logging

from .kmer_vocab import (
    NUM_SPECIAL_TOKENS,
    SPECIAL_TOKENS,
    VOCAB_BASE_ORDER,
    Count,
    check_vocab_file,
    kmer_span,
    kmer_vocab,
    num_kmer_tokens,
)

logger = logging.get_logger(__name__)

PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(NUM_SPECIAL_TOKENS)
_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)  # keeps the length, unlike str.upper()
# Whitespace that str.split() removes, within ASCII (it includes the \x1c-\x1f separators).
_ASCII_WHITESPACE = bytes(code for code in range(128) if chr(code).isspace())


@functools.lru_cache(maxsize=4)
def _base_codes(invalid: int, dtype: torch.dtype) -> torch.Tensor:
    """Byte -> base code table: A=0, T=1, C=2, G=3 in either case, `invalid` for any other byte."""
    table = torch.full((256,), invalid, dtype=dtype)
    for code, base in enumerate(VOCAB_BASE_ORDER):
        table[ord(base)] = code
        table[ord(base.lower())] = code
    return table


def _non_ascii_error(text: str) -> ValueError:
    index, char = next((i, c) for i, c in enumerate(text) if not c.isascii())
    return ValueError(
        f"DNA text holds the non-ASCII character {char!r} (U+{ord(char):04X}) at position {index}: "
        "a base is one ASCII letter, so the text was probably decoded with the wrong encoding"
    )


class KmerTokenizer(PreTrainedTokenizer):
    r"""
    DNA k-mer tokenizer with DNABERT's vocabulary: `[PAD] [UNK] [CLS] [SEP] [MASK]` (ids 0..4), then the
    `4**k` k-mers in `itertools.product("ATCG", repeat=k)` order, so ids equal DNABERT's for k = 3..6.

    A sequence of `L` bases gives the k-mers starting at bases `0, s, 2 * s, ...` (`s = kmer_stride`) that fit
    entirely: `tokens_for_bases(L) = (L - k) // s + 1` (0 when `L < k`). `kmer_stride=1` is DNABERT's overlapping
    tokenization, `kmer_stride=k` Nucleotide Transformer's non-overlapping one; any other stride >= 1 is allowed.
    Specials come on top: `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]` (token_type_ids 0 then 1), and
    `max_length` counts tokens, specials included. With k=6, kmer_stride=1: 515 bp -> 510 k-mers + 2 = 512 tokens.

    Input rules:
      - Text is raw DNA in any case. Whitespace (spaces, tabs, newlines) is ignored; lowercase (soft-masked)
        bases read as uppercase.
      - A k-mer holding N, an IUPAC code, `U`, or any other character that is not A/C/G/T becomes `[UNK]`.
      - Special and added tokens inside the text are tokens, as in every transformers tokenizer: the text is split
        on them first (longest match), and each DNA segment between them is tokenized on its own. So
        `"ACGTACGT[MASK]ACGTACGT"` is 3 k-mers, `[MASK]`, 3 k-mers (k = 6): one masked token, not one masked base
        (hiding a base takes the k overlapping k-mers that hold it). `split_special_tokens=True` turns this off.
      - Tail rule: bases after the last complete k-mer (possible when `(L - k) % s != 0`, or `L < k`)
        are dropped, with a one-time warning. With kmer_stride 1 only sequences shorter than k lose bases.
      - DNABERT's space-separated k-mers (`"ATGCGT TGCGTA GCGTAC"`) are recognised and read as the sequence
        they spell (`"ATGCGTAC"`): text that splits on whitespace into two or more pieces whose first two have
        one length `m >= 2` and overlap by `m - 1` bases. `m` need not equal k. A later piece of another length
        or without that overlap raises `ValueError` naming it (`join_spaced_kmers`, which reads task files too).
        Other whitespace-split text is raw DNA with the whitespace removed. (Only low-complexity raw DNA cut
        into equal chunks, e.g. `"AAAAAA AAAAAA"`, could pass by chance.)
      - An empty (or all-whitespace) string gives `[CLS] [SEP]`. `None` or any non-string raises
        `TypeError`; a non-ASCII character raises `ValueError` (it is not a base: usually an encoding bug).

    `decode` returns bases, not k-mers: each known k-mer writes its bases at its position; bases covered only
    by `[UNK]`/`[MASK]` tokens (or skipped by `kmer_stride > k`) decode as `N`, and the dropped tail is absent, so
    `decode(encode(x), skip_special_tokens=True)` is `x` uppercased, whitespace-free, non-ACGT -> `N`, tail
    dropped. Where overlapping k-mers disagree (e.g. model predictions) the later one wins. `[CLS]`, `[SEP]`,
    `[PAD]` separate sequences (kept as text unless `skip_special_tokens`).

    Speed: calls on strings (single or batch) take a vectorised torch path (byte lookup table, then `k - 1`
    fused shifted multiply-adds over all bases; no Python work per token) that gives the same ids as the per-token
    reference path `tokenize` + `convert_tokens_to_ids` (set `use_vectorized = False` to force the latter). Text
    holding special or added tokens gets its k-mer ids the same vectorised way, segment by segment.

    Lengths: with truncation, `max_length` must leave room for the special tokens (`[CLS] [SEP]`: 2; pairs: 3);
    `pad_to_multiple_of` must be >= 1. An empty batch gives empty outputs (`[0, 0]` tensors).
    Note that `tokenizer(..., stride=n)` is transformers' overflow stride, not the k-mer stride.

    Args:
        vocab_file (`str`, *optional*): a `vocab.txt` to check (or infer `k` from); it must equal the
            generated vocabulary. `save_pretrained` writes it.
        k (`int`, *optional*): k-mer length, 1..10 (default 6, or inferred from `vocab_file`).
        kmer_stride (`int`, defaults to 1): bases between the starts of consecutive k-mers (the name of
            `RandomMaskConfig.kmer_stride`; `tokenizer(..., stride=n)` stays transformers' overflow stride). Folders
            saved before this name existed hold `"stride"` in `tokenizer_config.json`, which is read as it.
        model_max_length (`int`, defaults to 512): in tokens, specials included (DNABERT's 512).
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "vocab.txt"}
    model_input_names: ClassVar[list[str]] = ["input_ids", "token_type_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file: str | None = None,
        k: int | None = None,
        kmer_stride: int = 1,
        model_max_length: int = 512,
        pad_token: str = "[PAD]",
        unk_token: str = "[UNK]",
        cls_token: str = "[CLS]",
        sep_token: str = "[SEP]",
        mask_token: str = "[MASK]",
        **kwargs,
    ):
        if vocab_file is not None:
            k = check_vocab_file(vocab_file, k)
        elif k is None:
            k = 6
        vocab = kmer_vocab(k)
        kmer_stride = kwargs.pop("stride", kmer_stride)  # tokenizer_config.json of folders saved before 0.2
        if isinstance(kmer_stride, bool) or not isinstance(kmer_stride, int) or kmer_stride < 1:
            raise ValueError(f"kmer_stride must be an int >= 1, got {kmer_stride!r}")
        if model_max_length < 2:
            raise ValueError(f"model_max_length must hold [CLS] and [SEP] (>= 2), got {model_max_length}")
        given = {"pad_token": pad_token, "unk_token": unk_token, "cls_token": cls_token,
                 "sep_token": sep_token, "mask_token": mask_token}
        for (name, token), expected in zip(given.items(), SPECIAL_TOKENS):
            if str(token) != expected:
                raise ValueError(f"{name} must be {expected!r} (DNABERT's vocabulary), got {str(token)!r}")
        self.k = k
        self.kmer_stride = kmer_stride
        self.use_vectorized = True
        self._added_pattern: tuple[tuple[str, ...], re.Pattern | None] = ((), None)
        self._id_to_token = vocab
        self._token_to_id = {token: i for i, token in enumerate(vocab)}
        super().__init__(k=k, kmer_stride=kmer_stride, model_max_length=model_max_length, **given, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """As transformers' `from_pretrained`, then a warning when the model config saved beside the tokenizer was
        trained on other k-mers (its ids would mean other k-mers to the model)."""
        tokenizer = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        problem = tokenizer.model_mismatch(pretrained_model_name_or_path, **kwargs)
        if problem:
            logger.warning(problem)
        return tokenizer

    def model_mismatch(self, source, **kwargs) -> str | None:
        """How the RandomMask `config.json` in `source` (a folder or Hub id) disagrees with this tokenizer's k-mers,
        or None (agrees, absent, or not a RandomMask model)."""
        options = {key: kwargs[key] for key in ("subfolder", "cache_dir", "revision", "token", "local_files_only")
                   if kwargs.get(key) is not None}
        try:
            path = cached_file(source, "config.json", **options)  # absent: None (5.x) or OSError (4.x)
            if path is None:
                return None
            with open(path, encoding="utf-8") as handle:
                config = json.load(handle)
        except (OSError, ValueError):  # unreadable: the model's own loading reports it
            return None
        if config.get("model_type") != "randommask":
            return None
        model = (config.get("kmer_size", 6), config.get("kmer_stride", 1))
        if model == (self.k, self.kmer_stride):
            return None
        return (f"{source}: this tokenizer reads {self.k}-mers with stride {self.kmer_stride}, but the model saved "
                f"beside it (config.json) was trained on {model[0]}-mers with stride {model[1]}: the same ids mean "
                f"other k-mers to it. Use KmerTokenizer(k={model[0]}, kmer_stride={model[1]}) with this model, and "
                "save that one into the folder.")

    # ---- vocabulary -------------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_token)

    def get_vocab(self) -> dict[str, int]:
        vocab = dict(self._token_to_id)
        vocab.update(self.added_tokens_encoder)
        return vocab

    def _convert_token_to_id(self, token: str) -> int:
        return self._token_to_id.get(token, UNK_ID)

    def _convert_id_to_token(self, index: int) -> str:
        if not 0 <= index < self.vocab_size:
            raise ValueError(f"token id {index} is outside the vocabulary (0..{self.vocab_size - 1})")
        return self._id_to_token[index]

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        path = os.path.join(save_directory, (filename_prefix + "-" if filename_prefix else "") + "vocab.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(self._id_to_token) + "\n")
        return (path,)

    # ---- lengths ----------------------------------------------------------------------------------------

    def tokens_for_bases(self, num_bases: Count) -> Count:
        """Number of k-mer tokens (no specials) for a sequence of `num_bases` bases (tail rule applied); an int, or
        elementwise for an integer tensor or array."""
        _check_not_negative("num_bases", num_bases)
        return num_kmer_tokens(num_bases, self.k, self.kmer_stride)

    def bases_for_tokens(self, num_tokens: Count) -> Count:
        """Number of bases spanned by `num_tokens` k-mer tokens (no specials): `(n - 1) * kmer_stride + k`; an int,
        or elementwise for an integer tensor or array."""
        _check_not_negative("num_tokens", num_tokens)
        return kmer_span(num_tokens, self.k, self.kmer_stride)

    def _warn_if_bases_dropped(self, any_dropped: bool) -> None:
        if any_dropped:
            logger.warning_once(
                f"KmerTokenizer(k={self.k}, kmer_stride={self.kmer_stride}): bases after the last complete k-mer are "
                "dropped (tail rule; see tokens_for_bases/bases_for_tokens)."
            )

    # ---- text -> DNA ------------------------------------------------------------------------------------

    def _normalize(self, text: str) -> str:
        """Whitespace-free ASCII DNA (case kept). Text whose first two pieces are k-mers overlapping by k - 1 is
        DNABERT-style space-separated k-mers: it is joined back by ``join_spaced_kmers``, which refuses a later piece
        that breaks the format. Other whitespace is ignored (pieces that do not overlap are raw DNA, e.g. groups)."""
        _require_str(text)
        if not text.isascii():
            raise _non_ascii_error(text)
        pieces = text.split()
        if len(pieces) > 1 and _overlap(pieces[0], pieces[1]):
            logger.warning_once(
                "KmerTokenizer: input is DNABERT-style space-separated overlapping k-mers; reading it as "
                "the DNA sequence they spell."
            )
            return join_spaced_kmers(pieces)
        return "".join(pieces)

    def tokenize(self, text: str, **kwargs) -> list[str]:
        """Tokens of `text`: its special/added tokens, and between them the k-mer strings of each DNA segment,
        `[UNK]` for those holding a non-ACGT base (per-token reference path)."""
        _require_str(text)
        pieces = self._split_on_added_tokens(text, kwargs.get("split_special_tokens", self.split_special_tokens))
        tokens: list[str] = []
        for index, piece in enumerate(pieces):
            if index % 2:
                tokens.append(piece)
            else:
                tokens.extend(self._tokenize(piece))
        return tokens

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        sequence = self._normalize(text).upper()
        num_tokens = self.tokens_for_bases(len(sequence))
        self._warn_if_bases_dropped(len(sequence) > self.bases_for_tokens(num_tokens))
        kmers = [sequence[i : i + self.k] for i in range(0, num_tokens * self.kmer_stride, self.kmer_stride)]
        unk = SPECIAL_TOKENS[UNK_ID]
        return [kmer if self._token_to_id.get(kmer, UNK_ID) >= NUM_SPECIAL_TOKENS else unk for kmer in kmers]

    # ---- [CLS] A [SEP] (B [SEP]): the documented hooks every transformers release calls ----------------------

    def build_inputs_with_special_tokens(self, token_ids_0: list[int], token_ids_1: list[int] | None = None) -> list[int]:
        if token_ids_1 is None:
            return [CLS_ID, *token_ids_0, SEP_ID]
        return [CLS_ID, *token_ids_0, SEP_ID, *token_ids_1, SEP_ID]

    def get_special_tokens_mask(self, token_ids_0: list[int], token_ids_1: list[int] | None = None,
                                already_has_special_tokens: bool = False) -> list[int]:
        if already_has_special_tokens:
            return super().get_special_tokens_mask(token_ids_0, token_ids_1, already_has_special_tokens=True)
        pair = [] if token_ids_1 is None else [0] * len(token_ids_1) + [1]
        return [1] + [0] * len(token_ids_0) + [1] + pair

    def create_token_type_ids_from_sequences(self, token_ids_0: list[int],
                                             token_ids_1: list[int] | None = None) -> list[int]:
        first = [0] * (len(token_ids_0) + 2)
        return first if token_ids_1 is None else first + [1] * (len(token_ids_1) + 1)

    def _warn_if_too_long(self, longest: int, max_length: int | None, verbose: bool) -> None:
        if max_length is None and verbose and longest > self.model_max_length:
            logger.warning_once(
                f"Token indices sequence length is longer than the specified maximum sequence length for this model "
                f"({longest} > {self.model_max_length}). Running this sequence through the model will result in "
                "indexing errors"
            )

    # ---- special and added tokens inside text ---------------------------------------------------------

    def _added_tokens_regex(self, split_special_tokens: bool) -> re.Pattern | None:
        """A regex matching any special or added token, longest first (transformers' trie rule), or None when
        there is nothing to split on. Rebuilt only when tokens are added."""
        tokens = () if split_special_tokens else tuple(self.added_tokens_encoder)
        if self._added_pattern[0] != tokens:
            alternatives = "|".join(map(re.escape, sorted(tokens, key=len, reverse=True)))
            self._added_pattern = (tokens, re.compile(f"({alternatives})") if tokens else None)
        return self._added_pattern[1]

    def _split_on_added_tokens(self, text: str, split_special_tokens: bool) -> list[str]:
        """`[dna, token, dna, token, ..., dna]`: odd indices are special/added tokens, even ones DNA (maybe empty)."""
        pattern = self._added_tokens_regex(split_special_tokens)
        return [text] if pattern is None else pattern.split(text)

    def _holds_added_tokens(self, texts: list[str], split_special_tokens: bool) -> bool:
        """Whether any text holds a special or added token. Plain DNA costs one memchr per distinct first
        character of the tokens (`[` for the specials), not a substring search per token."""
        pattern = self._added_tokens_regex(split_special_tokens)
        if pattern is None:
            return False
        joined = "".join(texts)
        first_characters = {token[0] for token in self._added_pattern[0]}
        return any(char in joined for char in first_characters) and pattern.search(joined) is not None

    # ---- vectorised ids ---------------------------------------------------------------------------------

    def _strided_kmer_ids(self, seqs: torch.Tensor, step: int) -> torch.Tensor:
        """Ids (int32, or int64 for k > 8; [B, T]) of the k-mers starting at bases 0, step, 2 * step, ... that fit
        in each row of `seqs` (uint8 [B, L]); no Python work per token.

        A byte -> code table gives every base its code and any other byte the code `4**k`; then k - 1 fused
        multiply-adds (Horner in base 4) over all k-mers at once. A k-mer holding a non-ACGT byte sums to at
        least `4**k` (every Horner weight is >= 1), any other to less, so one comparison finds the [UNK]s.
        """
        batch, length = seqs.shape
        count = num_kmer_tokens(length, self.k, step)
        if count == 0:
            return torch.empty((batch, 0), dtype=torch.int64)
        num_kmers = 4**self.k
        # Largest sum, every base invalid: 4**k * (4**k - 1) / 3, within int32 up to k = 8.
        dtype = torch.int32 if self.k <= 8 else torch.int64
        # index_select with an int32 index is ~10x faster than advanced indexing here.
        codes = _base_codes(num_kmers, dtype).index_select(0, seqs.reshape(-1).int()).view(batch, length)
        span = (count - 1) * step + 1
        if self.k == 1:
            value = codes[:, :span:step].clone()
        else:
            value = torch.add(codes[:, 1 : 1 + span : step], codes[:, :span:step], alpha=4)
        for j in range(2, self.k):
            torch.add(codes[:, j : j + span : step], value, alpha=4, out=value)
        value.add_(NUM_SPECIAL_TOKENS)
        return value.masked_fill_(value >= num_kmers + NUM_SPECIAL_TOKENS, UNK_ID)

    def base_codes(self, seqs: torch.Tensor) -> torch.Tensor:
        """Each byte's base code (int64, the shape of `seqs`): its index in the k-mer enumeration's base order
        (A=0, T=1, C=2, G=3, either case), -1 for any other byte. A k-mer's id is its codes read as base-4 digits,
        plus the number of special tokens."""
        return _base_codes(-1, torch.int64)[seqs.long()]

    def ids_from_ascii(self, seqs: torch.Tensor) -> torch.Tensor:
        """K-mer ids (int64 [B, T], no specials, T = tokens_for_bases(L)) of ASCII bases (uint8 [B, L]).

        Any case; every byte is a base here (no whitespace removal), so any non-ACGT byte makes its k-mers
        [UNK] (id 1). The tail rule of `tokens_for_bases` applies (no warning on this path).
        """
        if not isinstance(seqs, torch.Tensor) or seqs.dtype != torch.uint8:
            raise TypeError(f"ids_from_ascii expects a torch.uint8 tensor, got {getattr(seqs, 'dtype', type(seqs))}")
        if seqs.dim() != 2:
            raise ValueError(f"ids_from_ascii expects shape [batch, length], got {tuple(seqs.shape)}")
        return self._strided_kmer_ids(seqs, self.kmer_stride).long()

    def _ascii_batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised texts concatenated as uint8 [N], with each text's start and number of bases."""
        joined = "".join(texts)
        data = joined.encode("ascii") if joined.isascii() else b""
        if len(data) == len(joined) and (data.isalpha() or len(data.translate(None, _ASCII_WHITESPACE)) == len(data)):
            sequences = texts  # ASCII without whitespace (the usual DNA batch): every text normalises to itself
        else:
            sequences = [self._normalize(text) for text in texts]
            data = "".join(sequences).encode("ascii")
        lengths = torch.tensor(list(map(len, sequences)), dtype=torch.int64)
        flat = torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.empty(0, dtype=torch.uint8)
        return flat, lengths.cumsum(0) - lengths, lengths

    def _num_tokens(self, lengths: torch.Tensor) -> torch.Tensor:
        num_tokens = self.tokens_for_bases(lengths)
        self._warn_if_bases_dropped(bool((lengths > self.bases_for_tokens(num_tokens)).any()))
        return num_tokens

    def _id_lists(self, texts: list[str], split_special_tokens: bool) -> list[list[int]]:
        """Ids (no [CLS]/[SEP]) of each text: special/added tokens as themselves, k-mers of the DNA between them."""
        if not self._holds_added_tokens(texts, split_special_tokens):
            return self._kmer_id_lists(texts)
        pieces = [self._split_on_added_tokens(text, split_special_tokens) for text in texts]
        segments = iter(self._kmer_id_lists([segment for split in pieces for segment in split[::2]]))
        encoder = self.added_tokens_encoder
        lists = []
        for split in pieces:
            ids = list(next(segments))
            for token in split[1::2]:
                ids.append(encoder[token])
                ids.extend(next(segments))
            lists.append(ids)
        return lists

    def _kmer_id_lists(self, texts: list[str]) -> list[list[int]]:
        """K-mer ids of each text read as DNA throughout."""
        flat, starts, lengths = self._ascii_batch(texts)
        num_tokens = self._num_tokens(lengths)
        window_ids = self._strided_kmer_ids(flat.view(1, -1), 1)[0]  # k-mer at every base of the concatenation
        return [
            window_ids[start : start + n * self.kmer_stride : self.kmer_stride].tolist()
            for start, n in zip(starts.tolist(), num_tokens.tolist())
        ]

    # ---- encoding ---------------------------------------------------------------------------------------

    def __call__(self, text=None, text_pair=None, *args, **kwargs) -> BatchEncoding:
        if text is None and not args and kwargs.get("text_target") is None:
            raise TypeError("KmerTokenizer expects a DNA string or a list of DNA strings, got None")
        return super().__call__(text, text_pair, *args, **kwargs)

    def _encode_plus(
        self,
        text,
        text_pair=None,
        add_special_tokens: bool = True,
        padding_strategy: PaddingStrategy = PaddingStrategy.DO_NOT_PAD,
        truncation_strategy: TruncationStrategy = TruncationStrategy.DO_NOT_TRUNCATE,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors=None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        **kwargs,
    ) -> BatchEncoding:
        if kwargs.get("return_offsets_mapping"):
            raise NotImplementedError("return_offsets_mapping is not available for KmerTokenizer")
        _check_text_type(text, "text")
        if text_pair is not None:
            _check_text_type(text_pair, "text_pair")
        specials = (2 if text_pair is None else 3) if add_special_tokens else 0  # [CLS] A [SEP] (B [SEP])
        _check_lengths(truncation_strategy, max_length, specials, pad_to_multiple_of, stride)
        split_special_tokens = kwargs.get("split_special_tokens", self.split_special_tokens)
        options = {
            "add_special_tokens": add_special_tokens, "padding_strategy": padding_strategy,
            "truncation_strategy": truncation_strategy, "max_length": max_length, "stride": stride,
            "pad_to_multiple_of": pad_to_multiple_of, "padding_side": padding_side,
            "return_tensors": return_tensors, "return_token_type_ids": return_token_type_ids,
            "return_attention_mask": return_attention_mask, "return_overflowing_tokens": return_overflowing_tokens,
            "return_special_tokens_mask": return_special_tokens_mask, "return_length": return_length,
            "verbose": verbose,
        }
        texts, batched = _dna_batch(text)
        pairs, pair_batched = _dna_batch(text_pair) if text_pair is not None else (None, batched)
        per_token = not self.use_vectorized and texts != []  # transformers' path fails on an empty batch
        if per_token or is_split_into_words or texts is None or pairs is None and text_pair is not None:
            return super()._encode_plus(text, text_pair, is_split_into_words=is_split_into_words, **options, **kwargs)
        if pair_batched != batched or pairs is not None and len(pairs) != len(texts):
            raise ValueError("text_pair must be a batch of the same length as text, or a string when text is")
        if (pairs is None and not return_overflowing_tokens and truncation_strategy != TruncationStrategy.ONLY_SECOND
                and not self._holds_added_tokens(texts, split_special_tokens)):
            return self._encode_vectorised(texts, batched, **options)
        # Pairs, overflow, tokens in the text: vectorised ids, then transformers' own per-sequence assembly.
        first = self._id_lists(texts, split_special_tokens)
        second = self._id_lists(pairs, split_special_tokens) if pairs is not None else [None] * len(first)
        return self._prepare_batch(first, second, batched, **options)

    def pad(self, *args, **kwargs) -> BatchEncoding:
        _check_lengths(TruncationStrategy.DO_NOT_TRUNCATE, None, 0, kwargs.get("pad_to_multiple_of"), 0)
        return super().pad(*args, **kwargs)

    def _prepare_batch(self, first, second, batched, padding_strategy, truncation_strategy, return_tensors,
                       pad_to_multiple_of, padding_side, return_attention_mask, **options) -> BatchEncoding:
        """Same steps as transformers' python-backend `_encode_plus`, applied to ready id lists."""
        if not batched:
            return self.prepare_for_model(
                first[0], pair_ids=second[0], padding=padding_strategy.value, truncation=truncation_strategy.value,
                pad_to_multiple_of=pad_to_multiple_of, padding_side=padding_side, return_tensors=return_tensors,
                return_attention_mask=return_attention_mask, prepend_batch_axis=True, **options,
            )
        outputs: dict[str, list] = {}
        for ids, pair_ids in zip(first, second):
            encoded = self.prepare_for_model(
                ids, pair_ids=pair_ids, padding=PaddingStrategy.DO_NOT_PAD.value,
                truncation=truncation_strategy.value, return_attention_mask=False, **options,
            )
            for key, value in encoded.items():
                outputs.setdefault(key, []).append(value)
        if return_tensors and options["return_overflowing_tokens"]:
            outputs.pop("overflowing_tokens", None)
            outputs.pop("num_truncated_tokens", None)
        outputs = self.pad(outputs, padding=padding_strategy.value, max_length=options["max_length"],
                           pad_to_multiple_of=pad_to_multiple_of, padding_side=padding_side,
                           return_attention_mask=return_attention_mask)
        return BatchEncoding(outputs, tensor_type=return_tensors)

    def _encode_vectorised(
        self, texts, batched, add_special_tokens, padding_strategy, truncation_strategy, max_length, stride,
        pad_to_multiple_of, padding_side, return_tensors, return_token_type_ids, return_attention_mask,
        return_overflowing_tokens, return_special_tokens_mask, return_length, verbose,
    ) -> BatchEncoding:
        """Single sequences without pairs/overflow: specials, truncation and padding as [B, W] tensor ops."""
        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        flat, starts, lengths = self._ascii_batch(texts)
        num_tokens = self._num_tokens(lengths)
        num_special = 2 if add_special_tokens else 0
        kept = num_tokens
        if truncation_strategy != TruncationStrategy.DO_NOT_TRUNCATE and max_length:  # as transformers: 0 = off
            kept = num_tokens.clamp(max=max(max_length - num_special, 0))
        first_kept = num_tokens - kept if self.truncation_side == "left" else torch.zeros_like(kept)
        row_len = kept + num_special
        if len(texts):
            self._warn_if_too_long(int(row_len.max()), max_length, verbose)

        widths = row_len
        if padding_strategy != PaddingStrategy.DO_NOT_PAD:
            if padding_strategy == PaddingStrategy.LONGEST:
                target = int(row_len.max()) if len(texts) else 0
            else:
                target = max_length
            if pad_to_multiple_of is not None and target % pad_to_multiple_of:
                target = (target // pad_to_multiple_of + 1) * pad_to_multiple_of
            widths = row_len.clamp(min=target)
            if not batched and int(row_len[0]) == 0:
                widths = row_len  # transformers' pad() leaves an empty single sequence unpadded
        width = int(widths.max()) if len(texts) else 0
        pad_left = padding_strategy != PaddingStrategy.DO_NOT_PAD and (padding_side or self.padding_side) == "left"
        offset = widths - row_len if pad_left else torch.zeros_like(row_len)
        first_col = offset + (1 if add_special_tokens else 0)  # column of each row's first k-mer

        if len(texts) and bool((lengths == lengths[0]).all()):
            # Equal lengths (genome windows, benchmark tasks): one layout for every row, built with slices.
            batch, f, n, c, r = len(texts), int(first_kept[0]), int(kept[0]), int(first_col[0]), int(row_len[0])
            kmers = self._strided_kmer_ids(flat.view(batch, int(lengths[0])), self.kmer_stride)[:, f : f + n]
            input_ids = torch.empty((batch, width), dtype=torch.int64)
            input_ids[:, c : c + n] = kmers  # every other column is written below
            input_ids[:, : c - num_special // 2] = PAD_ID
            input_ids[:, c + n + num_special // 2 :] = PAD_ID
            if add_special_tokens:
                input_ids[:, c - 1] = CLS_ID
                input_ids[:, c + n] = SEP_ID
            columns = torch.arange(width)
            is_token = ((columns >= c) & (columns < c + n)).expand(batch, width)
            in_row = ((columns >= int(offset[0])) & (columns < int(offset[0]) + r)).expand(batch, width)
        else:
            # Ragged: every cell finds its k-mer in the ids of all windows of the concatenation.
            rel = torch.arange(width)[None, :] - first_col[:, None]  # index among each row's kept k-mers
            is_token = (rel >= 0) & (rel < kept[:, None])
            in_row = (rel >= -num_special // 2) & (rel < kept[:, None] + num_special // 2)
            input_ids = torch.full(rel.shape, PAD_ID, dtype=torch.int64)
            window_ids = self._strided_kmer_ids(flat.view(1, -1), 1)[0]
            if window_ids.numel():
                position = starts[:, None] + (first_kept[:, None] + rel) * self.kmer_stride
                input_ids = torch.where(is_token, window_ids[position.clamp_(0, window_ids.numel() - 1)], input_ids)
            if add_special_tokens:
                input_ids = torch.where(rel == -1, CLS_ID, input_ids)
                input_ids = torch.where(rel == kept[:, None], SEP_ID, input_ids)
        outputs = {"input_ids": input_ids}
        if return_token_type_ids:
            outputs["token_type_ids"] = torch.zeros_like(input_ids)
        if return_special_tokens_mask:
            outputs["special_tokens_mask"] = (~is_token).long().contiguous()
        if return_attention_mask:
            outputs["attention_mask"] = in_row.long().contiguous()

        tensor_type = TensorType(return_tensors).value if return_tensors is not None else None
        uniform = bool((widths == width).all())
        if tensor_type == "pt" and not uniform:  # refuse here: torch.tensor([[], [5]]) silently gives shape (2, 0)
            raise ValueError(
                f"Unable to create tensors from rows of {int(widths.min())} to {width} tokens: pass padding=True "
                "(and truncation=True) to have batched tensors with the same length."
            )
        if tensor_type in ("pt", "np") and uniform:  # an empty batch too: [0, 0] tensors
            if return_length:
                outputs["length"] = row_len if batched else widths[:1]
            if tensor_type == "np":
                outputs = {key: value.numpy() for key, value in outputs.items()}
            return BatchEncoding(outputs, tensor_type=return_tensors)
        row_widths = widths.tolist()
        if len(texts) and uniform:
            lists = {key: value.tolist() for key, value in outputs.items()}
        else:
            lists = {key: [row[:w] for row, w in zip(value.tolist(), row_widths)] for key, value in outputs.items()}
        if return_length:
            lists["length"] = row_len.tolist()
        if batched:
            return BatchEncoding(lists, tensor_type=return_tensors)
        single = {key: value[0] for key, value in lists.items()}
        if return_length:
            single["length"] = row_widths[0]
        return BatchEncoding(single, tensor_type=return_tensors, prepend_batch_axis=True)

    # ---- decoding ---------------------------------------------------------------------------------------

    def _kmers_to_bases(self, kmers: list[str | None]) -> str:
        """Bases spelled by consecutive k-mers (None = unknown k-mer); uncovered bases are N."""
        bases = ["N"] * self.bases_for_tokens(len(kmers))
        for i, kmer in enumerate(kmers):
            if kmer is not None:
                bases[i * self.kmer_stride : i * self.kmer_stride + self.k] = kmer
        return "".join(bases)

    def _tokens_to_text(self, tokens: list[str], skip_special_tokens: bool) -> str:
        unknown = {SPECIAL_TOKENS[UNK_ID], SPECIAL_TOKENS[MASK_ID]}
        specials = set(self.all_special_tokens)
        pieces: list[str] = []
        run: list[str | None] = []
        for token in tokens:
            if token in unknown:
                run.append(None)
            elif self._token_to_id.get(token, UNK_ID) >= NUM_SPECIAL_TOKENS:
                run.append(token)
            else:
                if run:
                    pieces.append(self._kmers_to_bases(run))
                    run = []
                if not (skip_special_tokens and token in specials):
                    pieces.append(token)
        if run:
            pieces.append(self._kmers_to_bases(run))
        return " ".join(pieces)

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return self._tokens_to_text(tokens, skip_special_tokens=False)

    def _decode(self, token_ids, skip_special_tokens: bool = False, clean_up_tokenization_spaces=None, **kwargs) -> str:
        tokens = self.convert_ids_to_tokens(token_ids)
        return self._tokens_to_text([tokens] if isinstance(tokens, str) else tokens, skip_special_tokens)


def _require_str(text) -> None:
    if not isinstance(text, str):
        raise TypeError(f"KmerTokenizer expects DNA as str, got {type(text).__name__}: {text!r:.60}")


def _check_lengths(truncation: TruncationStrategy, max_length: int | None, specials: int,
                   pad_to_multiple_of: int | None, stride: int) -> None:
    """Refuse lengths that transformers would silently ignore (`max_length=1` still gave `[CLS] [SEP]`, 0 meant no
    truncation) or fail on deep inside (`pad_to_multiple_of=0`)."""
    if truncation != TruncationStrategy.DO_NOT_TRUNCATE and max_length is not None and max_length < max(specials, 1):
        if specials:
            raise ValueError(f"max_length={max_length} cannot hold the {specials} special tokens ([CLS], [SEP]) of "
                             f"each sequence: use max_length >= {specials} (or add_special_tokens=False)")
        raise ValueError(f"max_length={max_length} holds no token: use max_length >= 1 (or truncation=False)")
    if pad_to_multiple_of is not None and (isinstance(pad_to_multiple_of, bool) or pad_to_multiple_of < 1):
        raise ValueError(f"pad_to_multiple_of must be an int >= 1 (or None), got {pad_to_multiple_of!r}")
    if stride < 0:
        raise ValueError(f"stride (the overflow stride) must be >= 0, got {stride}")


def _check_text_type(text, name: str) -> None:
    """Reject None, bytes, tensors, NaN from a CSV, ... with a TypeError that says where."""
    if isinstance(text, str):
        return
    if isinstance(text, (list, tuple)):
        for i, item in enumerate(text):
            if not isinstance(item, (str, int, list, tuple)) or isinstance(item, bool):
                raise TypeError(f"{name}[{i}] is {type(item).__name__} ({item!r:.60}), expected a DNA string")
        return
    hint = " (decode bytes first, or use ids_from_ascii on uint8 tensors)" if isinstance(text, (bytes, torch.Tensor)) else ""
    raise TypeError(f"{name} must be a DNA string or a list of DNA strings, got {type(text).__name__}{hint}")


def _dna_batch(text) -> tuple[list[str] | None, bool]:
    """(list of DNA strings, batched?) or (None, _) when `text` is not plain strings (ids, pairs, words)."""
    if isinstance(text, str):
        return [text], False
    if isinstance(text, (list, tuple)) and all(isinstance(item, str) for item in text):
        return list(text), True
    return None, True


def _overlap(first: str, second: str) -> bool:
    """Whether ``second`` follows ``first`` as the next overlapping k-mer (k >= 2, any case)."""
    return len(first) == len(second) >= 2 and first[1:].translate(_UPPER) == second[:-1].translate(_UPPER)


def join_spaced_kmers(pieces: list[str]) -> str:
    """The sequence (case kept) spelled by DNABERT's space-separated overlapping k-mers, ``text.split()``:
    ``["ACGTAC", "CGTACG"]`` -> ``"ACGTACG"``. A ``ValueError`` names the first piece that breaks the format (another
    length, or no overlap of k - 1 bases), instead of reading it as other bases. The one reading of this format, for
    the tokenizer and for task files."""
    size = len(pieces[0])
    other = next((i for i, piece in enumerate(pieces) if len(piece) != size), None)
    if other is not None:
        raise ValueError(f"space-separated tokens that are not k-mers of one length: token {other + 1} "
                         f"({pieces[other]!r:.30}) has {len(pieces[other])} letters, token 1 has {size}")
    joined = "".join(pieces)
    # UTF-32: one 4-byte code per character, so any text makes a [pieces, k] grid; ASCII case is ignored
    codes = torch.frombuffer(bytearray(joined.translate(_UPPER).encode("utf-32-le")), dtype=torch.int32)
    grid = codes.view(len(pieces), size)
    broken = (grid[:-1, 1:] != grid[1:, :-1]).any(dim=1).nonzero()
    if broken.numel():
        at = int(broken[0]) + 1
        raise ValueError(f"space-separated {size}-mers that do not overlap by {size - 1} bases: token {at + 1} "
                         f"({pieces[at]!r}) does not continue token {at} ({pieces[at - 1]!r}); only DNABERT's "
                         "overlapping (stride 1) k-mer format is converted back to bases")
    return joined[:size] + joined[2 * size - 1 :: size]


def _check_not_negative(name: str, count) -> None:
    if count < 0 if isinstance(count, int) else bool((torch.as_tensor(count) < 0).any()):
        raise ValueError(f"{name} must be >= 0, got {count}")


KmerTokenizer.register_for_auto_class("AutoTokenizer")
