"""Base-level predictions of a k-mer masked language model: P(A), P(C), P(G), P(T) at any base of a DNA sequence.

This file travels with every saved masked-LM checkpoint and is named in its ``config.json`` (``custom_pipelines``),
so ``pipeline("dna-base-probabilities", model=folder, trust_remote_code=True)`` works where only torch and
transformers are installed. It imports only those and the standard library; the ``randommask`` package's
inference tools import their base-level arithmetic from here, so there is one implementation.

How one base is predicted. The base gets a window of the sequence centred on it (shifted at the sequence ends) and
every k-mer token holding it is replaced by [MASK]: k tokens for overlapping k-mers (stride 1), one for
non-overlapping ones (stride k). Nothing else is hidden, so the model sees every other base of the window. One
masked copy per queried base; copies are batched. Each masked token's head gives a distribution over the 4**k
k-mers, which becomes a distribution over the hidden base by one of the ``RULES``:

- ``"mean"`` (the default): the k-mer probabilities are read *conditionally on the visible bases*: for each of
  A, C, G, T the probability of the one k-mer that has that base at the hidden offset and the known bases elsewhere
  (a base that is not A/C/G/T, e.g. N, is summed over), renormalised over the four; the covering tokens' four-way
  distributions are then averaged. With one covering token (non-overlapping k-mers) this is the ratio of k-mer
  probabilities that Nucleotide Transformer's zero-shot scores use.
- ``"product"``: the same conditional distributions, multiplied over the covering tokens and renormalised.
- ``"marginal"``: each token's distribution summed over the k-mer's other bases (what the model predicts without
  reading the visible bases inside the k-mer), averaged over the covering tokens.

Why the mean of conditionals: it had the lowest cross-entropy (bits per base) of the three on the default run's
held-out E. coli (docs/measurements.md). Conditioning wastes no probability on k-mers that contradict
bases the model can see (a partly trained head spreads much of its mass there: the marginal rule stayed at chance,
2.00 bits, where the conditional ones reached 1.89). The product treats the k covering tokens as independent
evidence, but they read the same context, so it is overconfident (0.75 bits worse there, at the same accuracy);
the mean is the mixture of k readings of one posterior.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from typing import Any, Literal, get_args

import torch
from transformers import Pipeline
from transformers.utils import logging

from .configuration_randommask import IGNORE_INDEX, NUM_SPECIAL_TOKENS

logger = logging.get_logger(__name__)

TASK = "dna-base-probabilities"
"""The pipeline's task name, as registered in checkpoint configs (``custom_pipelines``)."""
BASES = "ACGT"
"""Column order of every base probability this package returns (alphabetical, what users see). The vocabulary
enumerates bases in another order (DNABERT's, ``kmer_vocab.VOCAB_BASE_ORDER``), read off the tokenizer here."""
Rule = Literal["mean", "product", "marginal"]
RULES = get_args(Rule)
DEFAULT_RULE = "mean"
DEFAULT_BATCH_TOKENS = 4096
"""Tokens per forward pass, padding included. Measured on a 2-core CPU: larger passes were no faster for
compute-bound models (attention tensors leave the cache); on a GPU raise it (e.g. 65536)."""
CUSTOM_PIPELINES = {TASK: {"impl": "pipeline_randommask.DNABaseProbabilityPipeline", "pt": ["AutoModelForMaskedLM"],
                           "type": "text"}}
"""What ``save_checkpoint`` writes into ``config.json``: transformers loads the class from this file in the folder."""


def vocab_base_order(tokenizer) -> str:
    """The base order of the tokenizer's k-mer enumeration ("ATCG" for DNABERT's vocabulary): the last bases of its
    first four k-mers. Read off the vocabulary because ``kmer_vocab.py``, which defines it, sits in another folder
    of the source tree and so cannot be imported here (only in a saved folder are the two siblings)."""
    first = tokenizer.convert_ids_to_tokens(list(range(NUM_SPECIAL_TOKENS, NUM_SPECIAL_TOKENS + 4)))
    return "".join(kmer[-1] for kmer in first)


def output_columns(vocab_order: str) -> list[int]:
    """Columns that put a ``[..., 4]`` tensor in ``vocab_order`` into ``BASES`` order."""
    return [vocab_order.index(base) for base in BASES]


@functools.lru_cache(maxsize=4)
def _kmer_digits(k: int) -> torch.Tensor:
    """``[4**k, k]``: the base codes of every k-mer, in vocabulary order."""
    ids = torch.arange(4**k)
    return ids[:, None] // 4 ** torch.arange(k - 1, -1, -1) % 4


def window_inputs(tokenizer, bases: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``input_ids`` (``[CLS] k-mers [SEP] [PAD]...``) and ``attention_mask`` of windows of ASCII bases.

    ``bases`` is uint8 ``[B, L]``; row ``i`` holds ``lengths[i]`` bases, anything after them is ignored, so windows
    of several lengths share one padded batch. Ids come from ``tokenizer.ids_from_ascii`` (non-ACGT -> [UNK]).
    """
    counts = tokenizer.tokens_for_bases(lengths)
    ids = tokenizer.ids_from_ascii(bases)
    width = int(counts.max()) if counts.numel() else 0
    ids = ids[:, :width]
    batch = ids.shape[0]
    input_ids = torch.full((batch, width + 2), tokenizer.pad_token_id, dtype=torch.long)
    input_ids[:, 1:-1] = ids.masked_fill(torch.arange(width) >= counts[:, None], tokenizer.pad_token_id)
    input_ids[:, 0] = tokenizer.cls_token_id
    input_ids.scatter_(1, (counts + 1)[:, None], tokenizer.sep_token_id)
    attention_mask = (torch.arange(width + 2) < (counts + 2)[:, None]).long()
    return input_ids, attention_mask


def centred_windows(positions: torch.Tensor, sequence_lengths: torch.Tensor, window_bases: int, tokenizer
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """(start, length) of the window each base is predicted in: ``window_bases`` bases (fewer for a shorter
    sequence: its longest tokenizable stretch), centred on the base, shifted to stay inside the sequence, and for
    stride > 1 started on a multiple of the stride unless that would leave the base out."""
    stride = tokenizer.kmer_stride
    length = tokenizer.bases_for_tokens(tokenizer.tokens_for_bases(torch.clamp(sequence_lengths, max=window_bases)))
    centred = torch.div(positions - length // 2, stride, rounding_mode="floor") * stride
    low = torch.clamp(positions - length + 1, min=0)
    high = torch.minimum(positions, sequence_lengths - length)
    return torch.maximum(torch.minimum(centred, high), low), length


def token_batches(order, tokens, budget: int):
    """Consecutive runs of ``order`` (window indices, longest first) holding at most ``budget`` tokens once padded to
    their first, longest window (at least one window each): many short windows share a pass, few long ones do."""
    start = 0
    while start < len(order):
        size = max(1, budget // int(tokens[order[start]]))
        yield order[start : start + size]
        start += size


def trained_window_tokens(folder: str | os.PathLike, tokenizer) -> int | None:
    """Tokens per window (with [CLS] and [SEP]) the checkpoint in ``folder`` was pretrained on, from the start
    record of its ``training_log.jsonl``; None when the folder has no such log. Position embeddings past that
    window never trained, so predictions use windows of this size by default."""
    log = os.path.join(str(folder), "training_log.jsonl")
    if not os.path.isfile(log):
        return None
    with open(log, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                return None
            data = record.get("data") if isinstance(record, dict) and record.get("event") == "start" else None
            window = data.get("window_bases") if isinstance(data, dict) else None
            if isinstance(window, int) and window >= tokenizer.k:
                return tokenizer.tokens_for_bases(window) + 2
    return None


def resolve_window(model, tokenizer, window_tokens: int | None = None) -> tuple[int, int]:
    """(tokens, bases) per window, [CLS] and [SEP] among the tokens. ``window_tokens`` defaults to the checkpoint's
    pretraining window when its local folder holds the run's ``training_log.jsonl`` (position embeddings past it
    never trained), else to ``max_position_embeddings``."""
    limit = model.config.max_position_embeddings
    if window_tokens is None:
        trained = trained_window_tokens(getattr(model, "name_or_path", "") or "", tokenizer)
        window_tokens = min(trained or limit, limit)
        if trained is not None:
            logger.info("windows of %d tokens: the checkpoint's pretraining window (training_log.jsonl)", window_tokens)
    if isinstance(window_tokens, bool) or not isinstance(window_tokens, int) or not 3 <= window_tokens <= limit:
        raise ValueError(f"window_tokens must be an int in 3..{limit} (the model's max_position_embeddings; [CLS], "
                         f"at least one k-mer, [SEP]), got {window_tokens!r}")
    return window_tokens, tokenizer.bases_for_tokens(window_tokens - 2)


def _labelled_logits(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, masked: torch.Tensor):
    """Vocabulary logits ``[num_masked, vocab]`` at the ``masked`` positions, row-major. Passing them as labels with
    ``labelled_logits_only`` makes RandomMask's last layer and head run only there (the loss it also returns is
    ignored); a model without that option gives every position's logits, and the masked ones are picked."""
    device = next(model.parameters()).device
    labels = torch.where(masked, input_ids, IGNORE_INDEX)
    labelled_only = "labelled_logits_only" in inspect.signature(model.forward).parameters
    logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), labels=labels.to(device),
                   **({"labelled_logits_only": True} if labelled_only else {})).logits
    return logits if labelled_only else logits[masked.to(logits.device)]


@torch.no_grad()
def masked_base_log_probs(model, tokenizer, bases: torch.Tensor, lengths: torch.Tensor, positions: torch.Tensor,
                          rule: str = DEFAULT_RULE) -> torch.Tensor:
    """Natural-log probabilities ``[N, 4]`` (columns A, C, G, T; float64) of the base at ``positions[i]`` of window
    ``i``, from one forward pass over N masked copies (``bases`` uint8 ``[N, L]``, ``lengths`` ``[N]``, see
    ``window_inputs``). Every k-mer token holding the base is masked; ``rule`` (one of ``RULES``, see the module
    docstring) turns their k-mer distributions into one over the base."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    k, stride = tokenizer.k, tokenizer.kmer_stride
    lengths, positions = lengths.cpu().long(), positions.cpu().long()
    input_ids, attention_mask = window_inputs(tokenizer, bases.cpu(), lengths)
    counts = attention_mask.sum(dim=1) - 2
    # Token t holds bases [t * stride, t * stride + k): the ones holding position p are t = p // stride - j.
    tokens = torch.div(positions, stride, rounding_mode="floor")[:, None] - torch.arange(-(-k // stride))
    covers = (tokens >= 0) & (tokens < counts[:, None]) & (tokens * stride + k > positions[:, None])
    if not bool(covers.any(dim=1).all()):
        bad = int((~covers.any(dim=1)).nonzero()[0])
        raise ValueError(f"window {bad}: base {int(positions[bad])} is in no k-mer of its {int(lengths[bad])} bases")
    columns = torch.where(covers, tokens + 1, 0)  # +1: [CLS]; uncovered slots point at [CLS], never masked
    masked = torch.zeros_like(input_ids, dtype=torch.bool).scatter_(1, columns, covers)
    logits = _labelled_logits(model, input_ids.masked_fill(masked, tokenizer.mask_token_id), attention_mask, masked)
    rank = (masked.view(-1).cumsum(0) - 1).view_as(masked)  # row of each masked position in `logits`
    slots = covers.nonzero(as_tuple=True)
    kmers = slice(NUM_SPECIAL_TOKENS, NUM_SPECIAL_TOKENS + 4**k)
    kmer_log_probs = logits[rank[slots[0], columns[slots]]].cpu().double()[:, kmers]
    kmer_log_probs = kmer_log_probs.log_softmax(dim=-1)  # over k-mers: the token is a k-mer, not a special

    # Known bases of each masked k-mer (-1: unknown), the hidden offset left free.
    first = tokens[slots] * stride
    offsets = positions[slots[0]] - first
    vocab_order = vocab_base_order(tokenizer)
    window_codes = tokenizer.base_codes(bases.cpu())
    known = window_codes[slots[0][:, None], first[:, None] + torch.arange(k)]
    known[torch.arange(offsets.numel()), offsets] = -1
    if rule == "marginal":
        known.fill_(-1)
    digits = _kmer_digits(k)
    allowed = torch.ones((offsets.numel(), 4**k), dtype=torch.bool)  # k-mers agreeing with the known bases
    for j in range(k):
        allowed &= (digits[:, j] == known[:, j : j + 1]) | (known[:, j : j + 1] < 0)
    hidden = digits.T[offsets]  # [slots, 4**k]: each k-mer's base at the hidden offset
    per_base = torch.stack([torch.logsumexp(kmer_log_probs.masked_fill(~allowed | (hidden != code), -torch.inf),
                                            dim=-1) for code in range(4)], dim=-1)
    per_token = torch.full((*covers.shape, 4), torch.nan, dtype=torch.float64)
    per_token[slots] = per_base.log_softmax(dim=-1)
    return _combine(per_token, covers, rule)[:, output_columns(vocab_order)]


def _combine(per_token: torch.Tensor, covers: torch.Tensor, rule: str) -> torch.Tensor:
    """``[N, slots, 4]`` per-token log-distributions (valid where ``covers``) -> ``[N, 4]`` log-probabilities."""
    if rule == "product":
        return per_token.masked_fill(~covers[..., None], 0.0).sum(dim=1).log_softmax(dim=-1)
    log_sum = torch.logsumexp(per_token.masked_fill(~covers[..., None], -torch.inf), dim=1)
    return log_sum - covers.sum(dim=1, keepdim=True).double().log()


class DNABaseProbabilityPipeline(Pipeline):
    """P(A), P(C), P(G), P(T) at bases of DNA sequences.

    ``pipe = pipeline("dna-base-probabilities", model=folder, trust_remote_code=True)``, then
    ``pipe("ACGT...", positions=[10, 11])`` gives one dict per position (0-based; all positions when omitted):
    ``{"position", "base", "A", "C", "G", "T"}`` (``base`` is the sequence's own letter there). A list of sequences
    gives a list of such lists. Options: ``rule`` (``"mean"``, ``"product"``, ``"marginal"``; module docstring),
    ``window_tokens`` (default: the checkpoint's pretraining window when its folder holds ``training_log.jsonl``,
    else ``max_position_embeddings``), ``batch_tokens`` (tokens per forward pass, ``DEFAULT_BATCH_TOKENS``).
    """

    _load_tokenizer = True
    _load_processor = False
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False

    def _sanitize_parameters(self, positions=None, rule=None, window_tokens=None, batch_tokens=None):
        preprocess = {} if window_tokens is None else {"window_tokens": window_tokens}
        if positions is not None:
            preprocess["positions"] = positions
        forward = {} if rule is None else {"rule": rule}
        if batch_tokens is not None:
            forward["batch_tokens"] = batch_tokens
        return preprocess, forward, {}

    def preprocess(self, sequence: str, positions=None, window_tokens: int | None = None) -> dict[str, Any]:
        dna = "".join(sequence.split()).upper() if isinstance(sequence, str) else None
        if dna is None or not dna.isascii() or not (dna.isalpha() or not dna):
            raise ValueError(f"expected a DNA string of ASCII letters, got {type(sequence).__name__}: {sequence!r:.60}")
        data = bytearray(dna.encode("ascii"))
        bases = torch.frombuffer(data, dtype=torch.uint8) if data else torch.zeros(0, dtype=torch.uint8)
        if positions is None:
            positions = range(len(dna))
        query = torch.as_tensor(list(positions), dtype=torch.long).reshape(-1)
        if query.numel() and (int(query.min()) < 0 or int(query.max()) >= len(dna)):
            raise ValueError(f"positions must lie in 0..{len(dna) - 1} (0-based) for a sequence of {len(dna)} bases")
        if query.numel() and len(dna) < self.tokenizer.k:
            raise ValueError(f"a sequence of {len(dna)} bases holds no {self.tokenizer.k}-mer")
        _, window_bases = resolve_window(self.model, self.tokenizer, window_tokens)
        starts, length = centred_windows(query, torch.full_like(query, len(dna)), window_bases, self.tokenizer)
        width = int(length.max()) if query.numel() else 0
        windows = bases[(starts[:, None] + torch.arange(width)).clamp(max=max(len(dna) - 1, 0))]
        return {"bases": windows, "lengths": length, "positions": query - starts, "query": query, "dna": dna}

    def _forward(self, inputs: dict[str, Any], rule: str = DEFAULT_RULE,
                 batch_tokens: int = DEFAULT_BATCH_TOKENS) -> dict[str, Any]:
        tokens = self.tokenizer.tokens_for_bases(inputs["lengths"]) + 2
        order = torch.argsort(tokens, descending=True, stable=True)
        parts, rows = [], []
        for batch in token_batches(order, tokens, batch_tokens):
            parts.append(masked_base_log_probs(self.model, self.tokenizer, inputs["bases"][batch],
                                               inputs["lengths"][batch], inputs["positions"][batch], rule))
            rows.append(batch.cpu())
        log_probs = torch.zeros((len(inputs["query"]), 4), dtype=torch.float64)
        if parts:
            log_probs[torch.cat(rows)] = torch.cat(parts)
        return {"log_probs": log_probs, "query": inputs["query"], "dna": inputs["dna"]}

    def postprocess(self, outputs: dict[str, Any]) -> list[dict[str, Any]]:
        probs = outputs["log_probs"].exp().tolist()
        return [{"position": position, "base": outputs["dna"][position], **dict(zip(BASES, row))}
                for position, row in zip(outputs["query"].tolist(), probs)]
