"""The paper's three observations, measured on any checkpoint as numbers and PNG figures.

- Loss by phase (paper Fig. 5): the training loss curve from a run's ``training_log.jsonl`` with the curriculum's
  phase boundaries, and per-phase figures. With overlapping 6-mers and DNABERT's masking the loss collapses once
  the model finds that a masked run of 6 tokens hides a single base.
- Attention (Fig. 4): per layer and head, the mean attention mass on [CLS] and the mean attention entropy over
  real sequences (padding excluded as query and as key). Under-trained layers park their attention on [CLS].
- K-mer embeddings (Figs. 2-3): t-SNE of the input embeddings of the 4**k k-mers coloured by their central
  dinucleotide, and two numbers for how strongly the raw embeddings cluster by it: cosine silhouette and kNN purity.
- Bits per base (``inference.bits_per_base``): how well each model predicts single held-out bases, on one scale
  for every tokenization, beside an order-k Markov baseline scored on the same bases.

``analyze`` runs all three on one or more checkpoints (compare mode) and writes the figures, ``diagnostics.json``
and a markdown table. Figures use matplotlib's object API (``Figure``, rendered by Agg), never pyplot: no global
backend switch, no display. matplotlib and scikit-learn are imported where used, to keep the package import light.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..data.fasta import IS_ACGT, default_corpus, read_genome
from ..data.genome_windows import GenomeDataConfig
from ..data.options import OptionError, check_output_folder, check_ranges
from ..data.output_files import write_whole
from ..hub.checkpoint import load_masked_lm
from ..hub.model_source import check_model_source
from ..inference import bits_per_base as bpb
from ..inference.markov import MAX_ORDER
from ..pipeline_randommask import DEFAULT_RULE, RULES
from ..tokenization import KmerTokenizer
from ..tokenization.kmer_vocab import NUM_SPECIAL_TOKENS, VOCAB_BASE_ORDER, kmer_size_of_vocab
from ..training.run_log import TrainingCurve, log_file, read_training_log

logger = logging.getLogger(__name__)

DINUCLEOTIDES: list[str] = ["".join(pair) for pair in itertools.product(VOCAB_BASE_ORDER, repeat=2)]
"""The 16 dinucleotides in vocabulary order: label ``i`` of ``central_dinucleotide_labels`` is ``DINUCLEOTIDES[i]``."""

PathLike = str | os.PathLike


# ---- loss by phase -------------------------------------------------------------------------------------------


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def loss_by_phase(log: PathLike | TrainingCurve) -> list[dict[str, Any]]:
    """One row per curriculum phase: the training loss's mean, first and last value in the phase, the last
    validation loss, and counts. Non-finite losses (skipped updates) are counted, not averaged; a phase the run
    never reached has ``None`` figures."""
    curve = log if isinstance(log, TrainingCurve) else read_training_log(log)
    rows = []
    for p in range(curve.num_phases):
        losses = curve.loss[curve.phase == p]
        finite = losses[np.isfinite(losses)]
        vals = curve.val_loss[curve.val_phase == p]
        rows.append({
            "phase": p,
            "start_step": None if curve.phase_starts is None else curve.phase_starts[p],
            "train_records": int(losses.size),
            "non_finite": int(losses.size - finite.size),
            "mean_loss": _finite(finite.mean()) if finite.size else None,
            "first_loss": _finite(finite[0]) if finite.size else None,
            "last_loss": _finite(finite[-1]) if finite.size else None,
            "last_val_loss": _finite(vals[-1]) if vals.size else None,
        })
    return rows


def plot_loss_by_phase(
    logs: PathLike | TrainingCurve | Sequence[PathLike | TrainingCurve],
    png: PathLike,
    labels: Sequence[str] | None = None,
) -> Path:
    """Training loss (lines) and validation loss (points) against step, one colour per run, phase boundaries as
    dotted lines in the run's colour; several runs are overlaid (compare mode). Returns the PNG path."""
    from matplotlib.figure import Figure

    if isinstance(logs, (str, os.PathLike, TrainingCurve)):
        logs = [logs]
    curves = [log if isinstance(log, TrainingCurve) else read_training_log(log) for log in logs]
    labels = _labels(labels, [c.path.parent.name for c in curves])
    fig = Figure(figsize=(9, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for index, (curve, label) in enumerate(zip(curves, labels)):
        colour = f"C{index}"
        ax.plot(curve.steps, curve.loss, color=colour, linewidth=1, alpha=0.85, label=f"{label}: train")
        if curve.val_steps.size:
            ax.plot(curve.val_steps, curve.val_loss, "o", color=colour, markersize=4, label=f"{label}: val")
        for p, start in list(enumerate(curve.phase_starts or []))[1:]:
            ax.axvline(start, color=colour, linestyle=":", linewidth=1)
            ax.annotate(f"p{p}", (start, 1), xycoords=("data", "axes fraction"), xytext=(2, -2 - 10 * index),
                        textcoords="offset points", va="top", fontsize=8, color=colour)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("masked-LM loss (nats)")
    ax.set_title("Training loss by curriculum phase (dotted: phase starts)")
    ax.legend(fontsize=8)
    return _save(fig, png)


# ---- genome windows ------------------------------------------------------------------------------------------


def read_fasta_windows(
    path: PathLike, num_windows: int, window_bases: int, seed: int = 0, max_bases: int | None = 50_000_000
) -> list[str]:
    """``num_windows`` non-overlapping windows of ``window_bases`` bases, all A/C/G/T (soft-masked lowercase is
    uppercased; windows touching N or IUPAC codes are not used; each record is tiled on its own), drawn at random
    (``seed``) from FASTA file(s) and returned in genome order. Only the first ``max_bases`` bases are read: a
    diagnostic needs a few hundred windows, not a whole human genome in memory."""
    if num_windows < 1 or window_bases < 1:
        raise ValueError(f"num_windows and window_bases must be >= 1, got {num_windows} and {window_bases}")
    genome = read_genome(path, max_bases=max_bases)
    tiles = [genome.sequence[start : start + length // window_bases * window_bases].reshape(-1, window_bases)
             for start, length in zip(genome.starts, genome.lengths)]  # views: one tiling per record
    grid = np.concatenate(tiles)
    usable = np.flatnonzero(IS_ACGT[grid].all(axis=1))
    if usable.size < num_windows:
        raise ValueError(
            f"{path}: only {usable.size} windows of {window_bases} bases hold nothing but A/C/G/T in the "
            f"{genome.num_bases:,} bases read; asked for {num_windows}"
        )
    chosen = np.sort(np.random.default_rng(seed).choice(usable, size=num_windows, replace=False))
    return [grid[i].tobytes().decode("ascii") for i in chosen]


# ---- attention -----------------------------------------------------------------------------------------------


@torch.no_grad()
def attention_statistics(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, sequences: Sequence[str], batch_size: int = 4
) -> dict[str, Any]:
    """Per layer and head: mean attention probability on [CLS] and mean attention entropy (nats) over the real
    (non-padding) keys, averaged over every real query token (specials included) of every sequence.

    Runs the encoder in eval mode with ``output_attentions=True`` (eager attention maps). The uniform-attention
    references say what an attention spread evenly over the real keys would give: ``uniform_cls_mass`` (mean of
    1/n) and ``uniform_entropy`` (mean of log n, also the entropy's upper bound).
    """
    if not sequences:
        raise ValueError("attention_statistics needs at least one sequence")
    encoder = model.base_model
    device = next(encoder.parameters()).device
    max_tokens = encoder.config.max_position_embeddings
    was_training = encoder.training
    encoder.eval()
    cls_sum = entropy_sum = None
    queries = uniform_mass = uniform_entropy = 0.0
    try:
        for start in range(0, len(sequences), batch_size):
            batch = tokenizer(list(sequences[start : start + batch_size]), return_tensors="pt", padding=True)
            if batch["input_ids"].shape[1] > max_tokens:
                raise ValueError(
                    f"sequences {start}..{start + batch_size - 1} give {batch['input_ids'].shape[1]} tokens, more than "
                    f"the model's {max_tokens} positions: use shorter windows"
                )
            input_ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
            attentions = encoder(input_ids=input_ids, attention_mask=mask, output_attentions=True).attentions
            real = mask.double()
            is_cls = (input_ids == tokenizer.cls_token_id).double()
            layer_mass, layer_entropy = [], []
            for probs in attentions:  # [batch, heads, query, key]
                probs = probs.double()
                mass = torch.einsum("bhqk,bk->bhq", probs, is_cls)
                entropy = -torch.einsum("bhqk,bk->bhq", torch.xlogy(probs, probs), real)
                layer_mass.append(torch.einsum("bhq,bq->h", mass, real))
                layer_entropy.append(torch.einsum("bhq,bq->h", entropy, real))
            batch_mass, batch_entropy = torch.stack(layer_mass).cpu(), torch.stack(layer_entropy).cpu()
            cls_sum = batch_mass if cls_sum is None else cls_sum + batch_mass
            entropy_sum = batch_entropy if entropy_sum is None else entropy_sum + batch_entropy
            keys = real.sum(dim=1)  # every real query of a sequence sees that sequence's real keys
            queries += float(keys.sum())
            uniform_mass += float(is_cls.mul(real).sum(dim=1).sum())  # n queries x (cls count / n)
            uniform_entropy += float((keys * keys.log()).sum())
    finally:
        encoder.train(was_training)
    cls_per_head, entropy_per_head = cls_sum / queries, entropy_sum / queries
    return {
        "num_sequences": len(sequences),
        "num_query_tokens": int(queries),
        "cls_mass_per_layer": cls_per_head.mean(dim=1).tolist(),
        "entropy_per_layer": entropy_per_head.mean(dim=1).tolist(),
        "cls_mass_per_head": cls_per_head.tolist(),
        "entropy_per_head": entropy_per_head.tolist(),
        "uniform_cls_mass": uniform_mass / queries,
        "uniform_entropy": uniform_entropy / queries,
    }


def plot_attention(statistics: dict[str, dict[str, Any]], png: PathLike) -> Path:
    """Heatmaps (layers x heads), one row per model: attention on [CLS] as a ratio to uniform attention (log2 scale,
    diverging around 1: red parks on [CLS], blue avoids it; the masses are a few thousandths, so a 0..1 scale would
    show nothing) and attention entropy (0 to the largest uniform entropy, which is marked on the colour bar). Scales
    are shared by all models; cell values are printed when the grid is small enough to read them."""
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    ratios = {label: np.asarray(s["cls_mass_per_head"]) / s["uniform_cls_mass"] for label, s in statistics.items()}
    spread = max(2.0, *(float(max(r.max(), 1 / r.min())) for r in ratios.values()))
    entropy_max = max(max(s["uniform_entropy"], max(map(max, s["entropy_per_head"]))) for s in statistics.values())
    fig = Figure(figsize=(10, 1.2 + 2.6 * len(statistics)), layout="constrained")
    axes = fig.subplots(len(statistics), 2, squeeze=False)
    for row, (label, stats) in enumerate(statistics.items()):
        panels = [
            (ratios[label], np.asarray(stats["cls_mass_per_head"]), "RdBu_r", LogNorm(1 / spread, spread),
             f"attention on [CLS] / uniform ({stats['uniform_cls_mass']:.4f}); cells: mass", None),
            (np.asarray(stats["entropy_per_head"]), np.asarray(stats["entropy_per_head"]), "viridis", None,
             "attention entropy (nats)", stats["uniform_entropy"]),
        ]
        for col, (colour, values, cmap, norm, title, uniform) in enumerate(panels):
            ax = axes[row, col]
            image = ax.imshow(colour, aspect="auto", cmap=cmap, norm=norm,
                              **({} if norm else {"vmin": 0.0, "vmax": entropy_max}))
            layers, heads = colour.shape
            ax.set_yticks(range(layers), [str(i + 1) for i in range(layers)])
            ax.set_xticks(range(heads), [str(i + 1) for i in range(heads)])
            ax.set_ylabel("layer")
            ax.set_xlabel("head")
            ax.set_title(f"{label}: {title}", fontsize=9)
            if colour.size <= 160:
                for (i, j), value in np.ndenumerate(values):
                    dark = image.norm(colour[i, j])
                    ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7,
                            color="white" if (dark < 0.2 or dark > 0.8 if norm else dark < 0.6) else "black")
            bar = fig.colorbar(image, ax=ax)
            if norm is not None:  # ratio ticks at powers of 2: 0.5x, 1x, 2x, ...
                steps = np.arange(-math.floor(math.log2(spread)), math.floor(math.log2(spread)) + 1)
                bar.set_ticks(2.0**steps, labels=[f"{2.0**step:g}x" for step in steps])
                bar.ax.minorticks_off()
            if uniform is not None:
                bar.ax.axhline(uniform, color="red", linewidth=2)
                bar.ax.text(1.1, uniform, "uniform", transform=bar.ax.get_yaxis_transform(), va="center",
                            fontsize=7, color="red")
    return _save(fig, png)


# ---- k-mer embeddings ----------------------------------------------------------------------------------------


def central_dinucleotide_labels(k: int) -> np.ndarray:
    """Label 0..15 (index into ``DINUCLEOTIDES``) of every k-mer in vocabulary order: the bases at 0-based
    positions ``(k - 2) // 2`` and the next (2-3 for k = 6; for odd k the pair left of the middle base's right)."""
    if k < 2:
        raise ValueError(f"a k-mer holds a central dinucleotide only for k >= 2, got k={k}")
    first = (k - 2) // 2
    ids = np.arange(4**k)
    return ids // 4 ** (k - 1 - first) % 4 * 4 + ids // 4 ** (k - 2 - first) % 4


def kmer_embeddings(model: PreTrainedModel) -> np.ndarray:
    """The ``4**k`` k-mer rows of the input embedding matrix (specials dropped), in vocabulary order."""
    weight = model.get_input_embeddings().weight.detach().float().cpu().numpy()
    k = model.config.kmer_size
    if weight.shape[0] != NUM_SPECIAL_TOKENS + 4**k:
        raise ValueError(f"embedding matrix has {weight.shape[0]} rows, expected {NUM_SPECIAL_TOKENS} + 4**{k}")
    return weight[NUM_SPECIAL_TOKENS:]


def _kmer_size(num_kmers: int) -> int:
    """k of ``num_kmers`` k-mer rows (the 4**k rows past the special tokens)."""
    return kmer_size_of_vocab(NUM_SPECIAL_TOKENS + num_kmers)


def knn_purity(embeddings: np.ndarray, labels: np.ndarray, n_neighbors: int = 10, chunk: int = 1024) -> float:
    """Fraction of each point's ``n_neighbors`` nearest neighbours (cosine, itself excluded) sharing its label."""
    x = torch.nn.functional.normalize(torch.as_tensor(embeddings, dtype=torch.float32), dim=1)
    labels = torch.as_tensor(labels)
    if not 1 <= n_neighbors < len(x):
        raise ValueError(f"n_neighbors must be in 1..{len(x) - 1}, got {n_neighbors}")
    hits = 0
    for start in range(0, len(x), chunk):
        similarity = x[start : start + chunk] @ x.T
        rows = torch.arange(similarity.shape[0])
        similarity[rows, rows + start] = -math.inf
        neighbours = similarity.topk(n_neighbors, dim=1).indices
        hits += int((labels[neighbours] == labels[start : start + chunk, None]).sum())
    return hits / (len(x) * n_neighbors)


def embedding_clustering(embeddings: np.ndarray, n_neighbors: int = 10) -> dict[str, Any]:
    """How strongly raw k-mer embeddings (``[4**k, dim]``, vocabulary order) cluster by central dinucleotide.

    ``knn_purity``: fraction of the ``n_neighbors`` cosine nearest neighbours sharing the k-mer's central
    dinucleotide; ``chance_purity`` is its value for neighbours drawn at random (about 1/16). ``silhouette_cosine``:
    scikit-learn's silhouette with cosine distance and the 16 dinucleotides as clusters (about 0 when unrelated,
    towards 1 when clustered).
    """
    from sklearn.metrics import silhouette_score

    labels = central_dinucleotide_labels(_kmer_size(len(embeddings)))
    counts = np.bincount(labels, minlength=len(DINUCLEOTIDES))
    n = len(labels)
    return {
        "num_kmers": n,
        "n_neighbors": n_neighbors,
        "knn_purity": knn_purity(embeddings, labels, n_neighbors),
        "chance_purity": float((counts * (counts - 1)).sum() / (n * (n - 1))),
        "silhouette_cosine": float(silhouette_score(embeddings, labels, metric="cosine")),
    }


def kmer_embedding_statistics(model: PreTrainedModel, n_neighbors: int = 10) -> dict[str, Any]:
    """``embedding_clustering`` of a model's k-mer input embeddings."""
    return embedding_clustering(kmer_embeddings(model), n_neighbors)


def plot_kmer_tsne(
    embeddings: np.ndarray | dict[str, np.ndarray],
    png: PathLike,
    perplexity: float = 30.0,
    max_iter: int = 1000,
    seed: int = 0,
) -> Path:
    """t-SNE (cosine, PCA init) of k-mer embeddings coloured by central dinucleotide, one panel per model, its title
    giving the raw embeddings' 10-nearest-neighbour purity. Sixteen flat colours cannot be told apart, so the first
    base of the pair picks a hue family and the second its shade (A darkest .. G lightest); the legend is that 4 x 4
    grid."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from sklearn.manifold import TSNE

    if not isinstance(embeddings, dict):
        embeddings = {"model": embeddings}
    families = colormaps["tab20c"].colors  # 5 hue families x 4 shades, dark to light; the first four families
    colours = np.array([families[4 * first + second] for first in range(4) for second in range(4)])
    fig = Figure(figsize=(2.2 + 5.5 * len(embeddings), 5.5), layout="constrained")
    axes = fig.subplots(1, len(embeddings), squeeze=False)[0]
    for ax, (label, points) in zip(axes, embeddings.items()):
        labels = central_dinucleotide_labels(_kmer_size(len(points)))
        purity = knn_purity(points, labels)
        tsne = TSNE(n_components=2, metric="cosine", init="pca", perplexity=min(perplexity, (len(points) - 1) / 3),
                    max_iter=max_iter, random_state=seed)
        xy = tsne.fit_transform(np.asarray(points, dtype=np.float32))
        ax.scatter(xy[:, 0], xy[:, 1], c=colours[labels], s=9, alpha=0.8, linewidths=0.2, edgecolors="0.3")
        ax.set_title(f"{label}: t-SNE of {len(points)} k-mer embeddings\n10-NN purity {purity:.3f} (chance ~1/16)",
                     fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Line2D([], [], marker="o", linestyle="", markersize=7, markeredgecolor="0.3", color=colours[i],
                      label=name) for i, name in enumerate(DINUCLEOTIDES)]
    fig.legend(handles=handles, title="central dinucleotide\n(hue: 1st base, shade: 2nd)", ncols=4,
               loc="outside right center", fontsize=8, columnspacing=0.6, handletextpad=0.2)
    return _save(fig, png)


# ---- checkpoints, compare mode, report -----------------------------------------------------------------------


def diagnose(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sequences: Sequence[str],
    log: PathLike | TrainingCurve | None = None,
    batch_size: int = 4,
    n_neighbors: int = 10,
) -> dict[str, Any]:
    """All three diagnostics of one model: ``loss_by_phase`` (None without a training log), ``attention``,
    ``embeddings``."""
    return {
        "loss_by_phase": loss_by_phase(log) if log is not None else None,
        "attention": attention_statistics(model, tokenizer, sequences, batch_size),
        "embeddings": kmer_embedding_statistics(model, n_neighbors),
    }


def diagnostics_table(results: dict[str, dict[str, Any]]) -> str:
    """One markdown table: a row per diagnostic (loss by phase, then attention by layer, then embeddings), a column
    per model (blank where a model has no such figure, e.g. no training log, fewer phases or layers)."""
    rows: dict[str, tuple[tuple[int, int, int], dict[str, str]]] = {}

    def put(order: tuple[int, int, int], name: str, label: str, value: float | str | None, fmt: str = ".3f") -> None:
        cell = value if isinstance(value, str) else "" if value is None else f"{value:{fmt}}"
        rows.setdefault(name, (order, {}))[1][label] = cell

    last = 1 << 30  # sorts the uniform references after every layer
    for label, result in results.items():
        for row in result.get("loss_by_phase") or []:
            p = row["phase"]
            if row["mean_loss"] is not None:
                put((0, p, 0), f"phase {p} train loss: mean (first -> last)", label,
                    f"{row['mean_loss']:.3f} ({row['first_loss']:.3f} -> {row['last_loss']:.3f})")
            put((0, p, 1), f"phase {p} val loss (last)", label, row["last_val_loss"])
        attention = result["attention"]
        for layer, value in enumerate(attention["cls_mass_per_layer"], start=1):
            put((1, 0, layer), f"attention on [CLS], layer {layer}", label, value, ".4f")
        put((1, 0, last), "attention on [CLS], uniform reference", label, attention["uniform_cls_mass"], ".4f")
        for layer, value in enumerate(attention["entropy_per_layer"], start=1):
            put((1, 1, layer), f"attention entropy (nats), layer {layer}", label, value)
        put((1, 1, last), "attention entropy, uniform reference", label, attention["uniform_entropy"])
        embeddings = result["embeddings"]
        put((2, 0, 0), f"k-mer kNN purity by central dinucleotide ({embeddings['n_neighbors']} neighbours)", label,
            embeddings["knn_purity"])
        put((2, 1, 0), "k-mer kNN purity, chance", label, embeddings["chance_purity"])
        put((2, 2, 0), "k-mer silhouette by central dinucleotide (cosine)", label, embeddings["silhouette_cosine"])
        bits = result.get("bits_per_base")
        if bits:
            where = f"{bits['positions']:,} held-out positions"
            for index, (rule, scores) in enumerate(bits["rules"].items()):
                put((3, 0, index), f"bits per base, rule {rule} ({where})", label, scores["bits_per_base"], ".4f")
                put((3, 1, index), f"base accuracy, rule {rule}", label, scores["accuracy"])
            for index, context in enumerate(bpb.CONTEXTS):
                put((3, 2, index), f"{bits['markov'][context]['label']}: bits per base", label,
                    bits["markov"][context]["bits_per_base"], ".4f")
                put((3, 3, index), f"{bits['markov'][context]['label']}: accuracy", label,
                    bits["markov"][context]["accuracy"])
    labels = list(results)
    lines = ["| diagnostic | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    lines += [f"| {name} | " + " | ".join(cells.get(label, "") for label in labels) + " |"
              for name, (_, cells) in sorted(rows.items(), key=lambda item: item[1][0])]
    return "\n".join(lines)


@dataclass(kw_only=True)
class TsneOption:
    """Whether a command that runs the diagnostics (analyze, reproduce) draws the t-SNE figure."""

    tsne: bool = field(default=True, metadata={
        "help": "the t-SNE figure of the k-mer embeddings, the slow part (~30 s per model): on by default, --no_tsne "
                "skips it"})


@dataclass
class AnalyzeArguments(TsneOption):
    """Options of ``examples/analyze.py``."""

    RENAMED_OPTIONS: ClassVar[dict[str, str]] = {  # deprecated spellings (docs/commands.md)
        "--models": "--model", "--out_dir": "--output_dir", "--bits_fasta": "--bits_genome",
        "--batch_size": "--per_device_eval_batch_size"}

    model: list[str] = field(metadata={"help": "checkpoint folders (RandomMask, or DNABERT to convert)"})
    labels: list[str] | None = field(default=None, metadata={"help": "a name per model (default: folder names)"})
    genome: str = field(default_factory=lambda: str(default_corpus()[0]), metadata={"help": "FASTA(.gz) the attention windows come from"})
    num_windows: int = field(default=32, metadata={"help": "windows for the attention statistics"})
    window_bases: int | None = field(default=None, metadata={
        "help": "bases per window (default: the shortest training window in the models' logs, else 515 = 512 "
                "tokens with overlapping 6-mers)"})
    per_device_eval_batch_size: int = field(default=4, metadata={"help": "windows per forward pass"})
    n_neighbors: int = field(default=10, metadata={"help": "neighbours for the k-mer kNN purity"})
    tsne_max_iter: int = field(default=1000, metadata={"help": "t-SNE iterations"})
    bits_positions: int = field(default=bpb.DEFAULT_POSITIONS, metadata={
        "help": "held-out positions for bits per base (0: skip it)"})
    bits_genome: str | None = field(default=None, metadata={
        "help": "FASTA(.gz) to measure bits per base on (default: the validation regions pretraining held out of "
                "--pretraining_genome)"})
    bits_rules: list[str] = field(default_factory=lambda: [DEFAULT_RULE], metadata={
        "help": f"base-level rules to measure, from {list(RULES)} (pipeline_randommask)"})
    pretraining_genome: list[str] = field(default_factory=lambda: [str(default_corpus()[0])], metadata={
        "help": "the FASTA(s) the models were pretrained on: the Markov baseline is fitted on the training stretches "
                "examples/pretrain.py's default data options (and --pretraining_seed) leave in them"})
    pretraining_seed: int = field(default=GenomeDataConfig.seed, metadata={
        "help": "the pretraining run's --seed (it picks the validation regions)"})
    markov_order: int = field(default=bpb.DEFAULT_ORDER, metadata={"help": "order of the Markov baseline"})
    seed: int = field(default=0, metadata={
        "help": "the draws of the analysis: attention windows, bits-per-base positions, t-SNE"})
    output_dir: str = field(default="outputs/analysis", metadata={"help": "folder the figures and tables go to"})

    def __post_init__(self):
        check_ranges(self, positive=("num_windows", "window_bases", "per_device_eval_batch_size", "n_neighbors",
                                     "tsne_max_iter"),
                     non_negative=("seed", "bits_positions"))
        if not 0 <= self.markov_order <= MAX_ORDER:
            raise OptionError(f"--markov_order must be between 0 and {MAX_ORDER}, got {self.markov_order}")
        unknown = sorted(set(self.bits_rules) - set(RULES))
        if unknown:
            raise OptionError(f"--bits_rules: unknown rule(s) {unknown}; choose from {list(RULES)}")


def analyze(args: AnalyzeArguments) -> dict[str, Any]:
    """Diagnose every model on the same genome windows, write ``loss_by_phase.png`` (models with a training log),
    ``attention.png``, ``kmer_tsne.png``, ``diagnostics.json`` and ``diagnostics.md`` into ``args.output_dir``;
    return what ``diagnostics.json`` holds."""
    labels = _labels(args.labels, [Path(m).name for m in args.model])
    out_dir = check_output_folder(args.output_dir, "--output_dir")
    for model in args.model:  # a mistyped one is named before any model or genome is read
        check_model_source(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = {label: read_training_log(path) for path, label in zip(args.model, labels) if log_file(path).is_file()}
    window_bases = args.window_bases or _trained_window_bases(logs.values()) or 515
    sequences = read_fasta_windows(args.genome, args.num_windows, window_bases, seed=args.seed)
    held_out = _held_out_bases(args) if args.bits_positions else None
    results, embeddings = {}, {}
    for path, label in zip(args.model, labels):
        logger.info("diagnosing %s (%s)", label, path)
        model, tokenizer = load_masked_lm(path)
        results[label] = {"checkpoint": str(path),
                          **diagnose(model, tokenizer, sequences, logs.get(label), args.per_device_eval_batch_size, args.n_neighbors)}
        if held_out is not None:
            dna, positions, markov = held_out
            results[label]["bits_per_base"] = {
                "held_out": dna.description, "positions": int(positions.size), "seed": args.seed, "markov": markov,
                "rules": {rule: bpb.model_bits_per_base(model, tokenizer, dna, positions, rule=rule)
                          for rule in args.bits_rules}}
        embeddings[label] = kmer_embeddings(model)
    figures = {"attention": str(plot_attention({k: r["attention"] for k, r in results.items()},
                                               out_dir / "attention.png"))}
    if logs:
        figures["loss_by_phase"] = str(plot_loss_by_phase(list(logs.values()), out_dir / "loss_by_phase.png",
                                                          labels=list(logs)))
    if args.tsne:
        figures["kmer_tsne"] = str(plot_kmer_tsne(embeddings, out_dir / "kmer_tsne.png",
                                                  max_iter=args.tsne_max_iter, seed=args.seed))
    table = diagnostics_table(results)
    write_whole(out_dir / "diagnostics.md", table + "\n")
    report = {
        "windows": {"genome": str(args.genome), "num_windows": args.num_windows, "window_bases": window_bases,
                    "seed": args.seed},
        "figures": figures,
        "models": results,
        "table": table,
    }
    write_whole(out_dir / "diagnostics.json", json.dumps(report, indent=2, allow_nan=False) + "\n")
    return report


def _held_out_bases(args: AnalyzeArguments) -> tuple[bpb.HeldOutDNA, np.ndarray, dict]:
    """The DNA bits per base is measured on, its seeded positions, and the Markov baseline's scores there (fitted on
    the training stretches of ``--pretraining_genome``)."""
    split = GenomeDataConfig(genome=list(args.pretraining_genome), seed=args.pretraining_seed)
    validation, training = bpb.from_pretraining_data(split, KmerTokenizer())
    dna = bpb.from_fasta(args.bits_genome) if args.bits_genome else validation
    markov = bpb.fit_markov(validation.sequences.sequence, training, args.markov_order)
    positions = bpb.sample_positions(dna, args.bits_positions, args.seed, args.markov_order)
    return dna, positions, bpb.markov_bits_per_base(markov, dna, positions)


def _trained_window_bases(curves) -> int | None:
    """Shortest window the runs trained on (start record's ``data.window_bases``): longer windows would meet
    position embeddings a model never trained."""
    found = [c.start["data"]["window_bases"] for c in curves
             if c.start and isinstance(c.start.get("data"), dict) and isinstance(c.start["data"].get("window_bases"), int)]
    return min(found, default=None)


def _labels(labels: Sequence[str] | None, defaults: list[str]) -> list[str]:
    labels = list(labels) if labels is not None else defaults
    if len(labels) != len(defaults):
        raise OptionError(f"--labels: got {len(labels)} labels for {len(defaults)} models/runs")
    if len(set(labels)) != len(labels):
        raise OptionError(f"labels must be distinct, got {labels} (pass --labels)")
    return labels


def _save(fig, png: PathLike) -> Path:
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    return png
