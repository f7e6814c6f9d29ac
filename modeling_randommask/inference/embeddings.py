"""Embeddings of DNA sequences of any length, per sequence or per base, optionally averaged over both strands.

Each sequence is tiled into model-sized windows (``windows.tile``); windows of all sequences are sorted by length
and packed into forward passes of ``batch_tokens`` tokens, so short sequences share passes and padding stays small. From a window's hidden states (last
layer, or ``layer``):

- per sequence (``per_base=False``): a window embedding (``window_pooling``: the [CLS] state, or the mean over the
  window's k-mer tokens), pooled over the sequence's windows (``pooling``: ``"mean"`` weighted by the bases each
  window owns, so every base counts once; or element-wise ``"max"``);
- per base (``per_base=True``): each base's row is the mean state of the k-mers holding it, taken from the window
  that owns the base; an L-base sequence gives L rows.

``reverse_complement``: every window is also embedded reverse-complemented; a per-base row is averaged with the row
of the same base on the other strand (position ``length - 1 - b`` of the flipped window), a pooled embedding with
the other strand's pooled embedding.

Results stream out window by window in record order (``iter_embeddings``), so outputs larger than memory go
straight to disk (``outputs.open_writer``); ``embed`` collects them for in-memory use.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, get_args

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.fasta import COMPLEMENT
from ..data.options import OptionError, check_ranges
from ..data.sequence_sources import SEQUENCE_COLUMN_HELP
from ..modeling_randommask import RandomMaskPreTrainedModel
from ..pipeline_randommask import DEFAULT_BATCH_TOKENS, token_batches, window_inputs
from ..tokenization import KmerTokenizer
from .loading import InferenceOptions, checked_window, load_model
from .outputs import OUTPUT_SUFFIXES, check_names, check_output, check_suffix, open_writer
from .sequences import SequenceError, Sequences, read_sequences
from .windows import Tiling, default_overlap, per_base_states, tile

SequencePooling = Literal["mean", "max"]
WindowPooling = Literal["cls", "mean"]
SEQUENCE_POOLINGS, WINDOW_POOLINGS = get_args(SequencePooling), get_args(WindowPooling)
_CHUNK_BYTES = 256 << 20  # per-base rows held before they are handed to the writer


@dataclass
class _Plan:
    tiling: Tiling
    per_base: bool
    pooling: str
    window_pooling: str
    reverse_complement: bool
    layer: int
    batch_tokens: int
    chunk_windows: int
    dim: int


def _plan(model: RandomMaskPreTrainedModel, tokenizer: KmerTokenizer, sequences: Sequences, *, per_base: bool,
          pooling: str, window_pooling: str, window_tokens: int | None, overlap: int | None, reverse_complement: bool,
          layer: int, batch_tokens: int) -> _Plan:
    """Every option checked and the windows laid out, before any model call."""
    if pooling not in SEQUENCE_POOLINGS or window_pooling not in WINDOW_POOLINGS:
        raise OptionError(f"pooling must be one of {SEQUENCE_POOLINGS} and window_pooling one of "
                          f"{WINDOW_POOLINGS}, got {pooling!r} and {window_pooling!r}")
    layers = model.config.num_hidden_layers
    if not -(layers + 1) <= layer <= layers:
        raise OptionError(f"--layer must be in {-(layers + 1)}..{layers} for this {layers}-layer model (0: "
                          f"embeddings, {layers} or -1: last), got {layer}")
    if batch_tokens < 1:
        raise OptionError(f"--batch_tokens must be >= 1, got {batch_tokens}")
    if not len(sequences):
        raise SequenceError("no sequences to embed")
    short = np.flatnonzero(sequences.lengths < tokenizer.k)
    if short.size:
        names = ", ".join(f"{sequences.names[i]!r} ({sequences.lengths[i]} bp)" for i in short[:5])
        raise SequenceError(f"{short.size} sequence(s) hold no {tokenizer.k}-mer, e.g. {names}: remove them first")
    _, bases = checked_window(model, tokenizer, window_tokens)
    overlap = default_overlap(bases, tokenizer.k) if overlap is None else overlap
    tiling = tile(sequences.lengths, bases, overlap, tokenizer.k, tokenizer.kmer_stride)
    dim = model.config.hidden_size
    chunk = max(1, _CHUNK_BYTES // (4 * bases * dim)) if per_base else 4096
    return _Plan(tiling, per_base, pooling, window_pooling, reverse_complement, layer, batch_tokens, chunk, dim)


def iter_embeddings(model: RandomMaskPreTrainedModel, tokenizer: KmerTokenizer, sequences: Sequences, *,
                    per_base: bool = False, pooling: SequencePooling = "mean",
                    window_pooling: WindowPooling = "mean",
                    window_tokens: int | None = None, overlap: int | None = None, reverse_complement: bool = False,
                    layer: int = -1, batch_tokens: int = DEFAULT_BATCH_TOKENS, progress: bool = True
                    ) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(record, first base, rows)`` in record order: per base, consecutive blocks of each record's rows
    (``[n, hidden]`` float32, covering bases ``first .. first + n - 1``); pooled, one ``[1, hidden]`` row per record
    (first base 0). Options are checked here, before any window runs (module docstring: what each does;
    ``window_tokens`` and ``overlap`` default to the checkpoint's window and a quarter of it)."""
    plan = _plan(model, tokenizer, sequences, per_base=per_base, pooling=pooling, window_pooling=window_pooling,
                 window_tokens=window_tokens, overlap=overlap, reverse_complement=reverse_complement, layer=layer,
                 batch_tokens=batch_tokens)
    return _run(model, tokenizer, sequences, plan, progress)


def embed(model: RandomMaskPreTrainedModel, tokenizer: KmerTokenizer, sequences: Sequences | Sequence[str],
          **options) -> np.ndarray | list[np.ndarray]:
    """In memory: ``[num_sequences, hidden]`` pooled embeddings, or with ``per_base=True`` one ``[length, hidden]``
    array per sequence. ``sequences``: ``Sequences`` or DNA strings; ``options`` as for ``iter_embeddings``."""
    sequences = sequences if isinstance(sequences, Sequences) else read_sequences(list(sequences))
    blocks: list[list[np.ndarray]] = [[] for _ in range(len(sequences))]
    for record, _, rows in iter_embeddings(model, tokenizer, sequences, **options):
        blocks[record].append(rows)
    rows = [np.concatenate(parts) for parts in blocks]
    return rows if options.get("per_base") else np.concatenate(rows)


@torch.no_grad()
def _window_states(model, tokenizer: KmerTokenizer, windows: torch.Tensor, lengths: torch.Tensor, layer: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states ``[B, T + 2, D]`` (float32, CPU) of windows of bases, and each window's number of k-mers."""
    input_ids, attention_mask = window_inputs(tokenizer, windows, lengths)
    device = next(model.parameters()).device
    outputs = model.base_model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                               output_hidden_states=layer != -1)
    hidden = outputs.last_hidden_state if layer == -1 else outputs.hidden_states[layer]
    return hidden.float().cpu(), attention_mask.sum(dim=1) - 2


def _cut(sequences: Sequences, tiling: Tiling, windows: np.ndarray, reverse: bool) -> torch.Tensor:
    """Bases of some windows, uint8 ``[n, longest]``; reverse-complemented within each window's length if asked."""
    starts = sequences.starts[tiling.record[windows]] + tiling.start[windows]
    lengths = tiling.length[windows]
    columns = np.arange(lengths.max())
    index = starts[:, None] + ((lengths[:, None] - 1 - columns) if reverse else columns)
    cut = sequences.sequence[np.clip(index, 0, sequences.sequence.size - 1)]
    return torch.from_numpy(COMPLEMENT[cut] if reverse else cut)


def _embed_batch(model, tokenizer: KmerTokenizer, sequences: Sequences, plan: _Plan, windows: np.ndarray
                 ) -> list[torch.Tensor]:
    """Per strand, the batch's window embeddings ``[n, D]`` or per-base rows ``[n, longest, D]`` (forward-strand
    base order)."""
    strands = (False, True) if plan.reverse_complement else (False,)
    lengths = torch.from_numpy(plan.tiling.length[windows])
    bases = torch.cat([_cut(sequences, plan.tiling, windows, reverse) for reverse in strands])
    hidden, counts = _window_states(model, tokenizer, bases, lengths.repeat(len(strands)), plan.layer)
    tokens = hidden[:, 1:-1]
    if plan.per_base:
        rows = per_base_states(tokens, counts, int(lengths.max()), tokenizer.k, tokenizer.kmer_stride)
        out = list(rows.split(len(windows)))
        if plan.reverse_complement:  # base b of a window is base length - 1 - b of its reverse complement
            flip = (lengths[:, None] - 1 - torch.arange(out[1].shape[1])).clamp(min=0)
            out[1] = out[1].gather(1, flip[..., None].expand(-1, -1, plan.dim))
        return out
    if plan.window_pooling == "cls":
        pooled = hidden[:, 0]
    else:
        real = (torch.arange(tokens.shape[1]) < counts[:, None]).float()[..., None]
        pooled = (tokens * real).sum(dim=1) / real.sum(dim=1)
    return list(pooled.split(len(windows)))


def _run(model, tokenizer: KmerTokenizer, sequences: Sequences, plan: _Plan, progress: bool
         ) -> Iterator[tuple[int, int, np.ndarray]]:
    tiling = plan.tiling
    start_value = 0.0 if plan.pooling == "mean" else -np.inf
    pooled: dict[int, np.ndarray] = {}  # records whose windows are under way: [strands, dim] running sum or max
    last_window = np.cumsum(np.bincount(tiling.record, minlength=len(sequences))) - 1
    tokens = tokenizer.tokens_for_bases(tiling.length) + 2
    bar = tqdm(total=len(tiling), unit="window", desc="embedding", disable=not progress)
    for first in range(0, len(tiling), plan.chunk_windows):
        chunk = np.arange(first, min(first + plan.chunk_windows, len(tiling)))
        order = chunk[np.argsort(-tiling.length[chunk], kind="stable")]  # longest first: similar lengths per batch
        results: dict[int, list[torch.Tensor]] = {}
        for batch in token_batches(order, tokens, plan.batch_tokens):
            for window, *per_strand in zip(batch.tolist(), *_embed_batch(model, tokenizer, sequences, plan, batch)):
                results[window] = per_strand
            bar.update(batch.size)
        for window in chunk.tolist():
            record, own = int(tiling.record[window]), slice(int(tiling.own_start[window] - tiling.start[window]),
                                                            int(tiling.own_end[window] - tiling.start[window]))
            if plan.per_base:
                rows = torch.stack([strand[own] for strand in results.pop(window)]).mean(dim=0)
                yield record, int(tiling.own_start[window]), rows.numpy()
                continue
            vectors = torch.stack(results.pop(window)).double().numpy()
            running = pooled.setdefault(record, np.full_like(vectors, start_value))
            if plan.pooling == "mean":
                running += (own.stop - own.start) * vectors
            else:
                np.maximum(running, vectors, out=running)
            if window == last_window[record]:
                total = pooled.pop(record) / (sequences.lengths[record] if plan.pooling == "mean" else 1)
                yield record, 0, total.mean(axis=0, keepdims=True).astype(np.float32)
    bar.close()


@dataclass
class EmbedArguments(InferenceOptions):
    """Options of ``examples/embed.py``."""

    RENAMED_OPTIONS: ClassVar[dict[str, str]] = InferenceOptions.RENAMED_OPTIONS | {  # docs/commands.md
        "--pooling": "--sequence_pooling"}

    input: str = field(metadata={"help": "FASTA(.gz) file or folder, or a CSV/TSV(.gz) table with a sequence column"})
    output: str = field(metadata={"help": f"output file; its suffix picks the format: {', '.join(OUTPUT_SUFFIXES)}"})
    per_base: bool = field(default=False, metadata={"help": "one row per base instead of one per sequence"})
    sequence_pooling: SequencePooling = field(default="mean", metadata={
        "help": "sequence pooling over windows: mean (weighted by the bases each window owns) or max"})
    window_pooling: WindowPooling = field(default="mean", metadata={
        "help": "window embedding: cls ([CLS] state) or mean (over its k-mer tokens)"})
    overlap: int | None = field(default=None, metadata={
        "help": "bases shared by consecutive windows of a long sequence (default: a quarter of the window)"})
    layer: int = field(default=-1, metadata={"help": "hidden layer (0: embeddings, -1: last)"})
    sequence_column: str = field(default="sequence", metadata={"help": SEQUENCE_COLUMN_HELP})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_suffix(self.output)
        check_ranges(self, non_negative=("overlap",))


def embed_to_file(args: EmbedArguments) -> dict:
    """Embed ``args.input`` into ``args.output`` (and its ids file), streaming; returns what was written. The
    files appear only when complete (``outputs``); every option is checked before that."""
    check_output(args.output, args.overwrite, inputs=(args.input,))
    sequences = read_sequences(args.input, args.sequence_column)
    check_names(args.output, sequences, args.per_base)
    model, tokenizer = load_model(args.model, args.device, args.dtype, head=False)  # the encoder only
    options = {"per_base": args.per_base, "pooling": args.sequence_pooling, "window_pooling": args.window_pooling,
               "window_tokens": args.window_tokens, "overlap": args.overlap,
               "reverse_complement": args.average_strands, "layer": args.layer, "batch_tokens": args.batch_tokens}
    stream = iter_embeddings(model, tokenizer, sequences, **options)
    written = open_writer(args.output, sequences, model.config.hidden_size, args.per_base, args.overwrite)
    with written as writer:
        for record, first, rows in stream:
            writer.write(record, first, rows)
    return {"output": str(Path(args.output)), "files": [str(p) for p in writer.files], "sequences": len(sequences),
            "rows": writer.rows, "dim": model.config.hidden_size, **options}
