"""The masked-LM training step that bench_model.py and gpu_check.py time: real batches, the two models, one step.

RandomMaskForMaskedLM against transformers' BertForMaskedLM built from the same sizes (SDPA attention in both),
on windows of the embedded E. coli genome tokenized as overlapping 6-mers. Step times wait for the device, and
`step_flops` counts what one step executes with torch.utils.flop_counter (matrix multiplies and attention).
"""

from __future__ import annotations

import functools
import time
from contextlib import nullcontext

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertConfig, BertForMaskedLM

from modeling_randommask import RandomMaskConfig, RandomMaskForMaskedLM
from modeling_randommask.data import default_corpus, read_genome
from modeling_randommask.tokenization import KmerTokenizer

NAMES = ("bert", "randommask")
_BERT_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "max_position_embeddings", "hidden_dropout_prob", "attention_probs_dropout_prob")


@functools.cache
def ecoli_dna() -> str:
    """The embedded E. coli genome as text, read once per process (benchmarks build several batches from it)."""
    genome = read_genome(default_corpus()[0])
    return genome.record(genome.names[0])


def genome_windows(batch_size: int, length: int) -> dict[str, torch.Tensor]:
    """`batch_size` E. coli windows 1,000 bp apart, `length` tokens each ([CLS] + 6-mers + [SEP]), unpadded."""
    tokenizer = KmerTokenizer(k=6)
    dna = ecoli_dna()
    bases = tokenizer.bases_for_tokens(length - 2)
    if batch_size * 1000 + bases > len(dna):
        raise ValueError(f"the E. coli genome holds fewer than {batch_size} windows of {bases} bp, 1,000 bp apart")
    batch = tokenizer([dna[i * 1000 : i * 1000 + bases] for i in range(batch_size)], return_tensors="pt")
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


def with_random_labels(batch: dict[str, torch.Tensor], fraction: float = 0.15, seed: int = 0) -> dict:
    """`batch` plus masked-LM labels at a seeded `fraction` of its k-mer tokens (ids > 4), -100 elsewhere."""
    generator = torch.Generator().manual_seed(seed)
    selected = (torch.rand(batch["input_ids"].shape, generator=generator) < fraction) & (batch["input_ids"] > 4)
    return {**batch, "labels": torch.where(selected, batch["input_ids"], -100)}


def build_model(name: str, config: RandomMaskConfig) -> torch.nn.Module:
    """RandomMaskForMaskedLM ("randommask") or BertForMaskedLM ("bert") with `config`'s sizes; weights seeded."""
    torch.manual_seed(0)
    if name == "randommask":
        model = RandomMaskForMaskedLM(config)
    else:
        fields = {field: getattr(config, field) for field in _BERT_FIELDS}
        model = BertForMaskedLM(BertConfig(**fields, attn_implementation="sdpa"))
        assert model.config._attn_implementation == "sdpa"  # RandomMask's attention is always SDPA
    return model


def training_options(model) -> dict:
    """Forward options of a pretraining step: RandomMask's loop opts in to the labelled-only last layer and head
    (`labelled_logits_only`); BertForMaskedLM has no such option."""
    return {"labelled_logits_only": True} if isinstance(model, RandomMaskForMaskedLM) else {}


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so a host clock measures the device's work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(model, optimizer, batch: dict, autocast: torch.dtype | None = None) -> tuple[float, float]:
    """One fwd + bwd + optimizer step on `batch` (already on the model's device); returns (seconds, loss).
    `autocast` runs the forward under torch.autocast in that dtype (weights and optimizer stay float32)."""
    device = next(model.parameters()).device
    context = torch.autocast(device.type, dtype=autocast) if autocast is not None else nullcontext()
    synchronize(device)
    start = time.perf_counter()
    with context:
        loss = model(**batch, **training_options(model)).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    loss = loss.item()
    return time.perf_counter() - start, loss


def step_flops(model, optimizer, batch: dict, autocast: torch.dtype | None = None) -> int:
    """FLOPs one training step executes (forward and backward), counted by torch.utils.flop_counter."""
    with FlopCounterMode(display=False) as counter:
        train_step(model, optimizer, batch, autocast)
    return counter.get_total_flops()
