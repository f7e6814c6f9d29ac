"""Batch-encoding speed of KmerTokenizer against two baselines measured in the same run, on one CPU thread.

(a) the DNABERT path: split each sequence into k-mer strings in Python, join them with spaces, then look every
    token up in the vocabulary (what DNABERT's data scripts and BertTokenizer do);
(b) transformers' per-token PreTrainedTokenizer path of the same KmerTokenizer (``use_vectorized = False``).

    python benchmarks/bench_tokenizer.py                  # 10,000 E. coli windows of 515 bp
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import time
from pathlib import Path

import torch

from tokenization import KmerTokenizer

GENOME = Path(__file__).resolve().parents[1] / "modeling_randommask" / "genomes" / "ecoli_k12_mg1655.fa.gz"


def dnabert_encode(sequences: list[str], vocab: dict[str, int], k: int, max_length: int) -> list[list[int]]:
    """Reference for (a): k-mer strings joined by spaces, split again and looked up one by one."""
    unk, cls, sep = vocab["[UNK]"], vocab["[CLS]"], vocab["[SEP]"]
    encoded = []
    for sequence in sequences:
        text = " ".join(sequence[i : i + k] for i in range(len(sequence) - k + 1))
        ids = [vocab.get(token, unk) for token in text.split(" ")][: max_length - 2]
        encoded.append([cls, *ids, sep])
    return encoded


def best_of(repeats: int, function) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=10_000)
    parser.add_argument("--bases", type=int, default=515)
    parser.add_argument("--slow_sample", type=int, default=1_000, help="sequences timed on the per-token path")
    args = parser.parse_args()
    torch.set_num_threads(1)

    with gzip.open(GENOME, "rt") as handle:
        genome = "".join(line.strip() for line in handle if not line.startswith(">"))
    step = (len(genome) - args.bases) // args.sequences
    sequences = [genome[i * step : i * step + args.bases] for i in range(args.sequences)]
    tokenizer = KmerTokenizer(k=6)
    max_length = tokenizer.tokens_for_bases(args.bases) + 2
    tokens = args.sequences * (max_length - 2)

    def fast():
        return tokenizer(sequences, padding="max_length", truncation=True, max_length=max_length,
                         return_tensors="pt")

    vocab = tokenizer.get_vocab()
    fast_ids = fast()["input_ids"]
    reference = dnabert_encode(sequences[:100], vocab, 6, max_length)
    assert fast_ids[:100].tolist() == reference, "the fast path disagrees with the DNABERT reference"
    fast_s = best_of(3, fast)
    dnabert_s = best_of(1, lambda: dnabert_encode(sequences, vocab, 6, max_length))

    tokenizer.use_vectorized = False
    sample = sequences[: args.slow_sample]
    slow_s = best_of(1, lambda: tokenizer(sample, padding="max_length", truncation=True, max_length=max_length,
                                          return_tensors="pt")) * args.sequences / len(sample)

    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
          f"(1 thread used), torch {torch.__version__}")
    print(f"{args.sequences:,} sequences x {args.bases} bp -> {tokens:,} 6-mer tokens (+ [CLS]/[SEP])")
    print(f"{'path':<40} {'seconds':>9} {'tokens/s':>12} {'vectorised is x faster':>24}")
    for name, seconds in [("KmerTokenizer batch call (vectorised)", fast_s), ("(a) DNABERT Python k-mer strings",
                          dnabert_s), (f"(b) per-token path (from {len(sample):,})", slow_s)]:
        print(f"{name:<40} {seconds:>9.3f} {tokens / seconds:>12.3g} {seconds / fast_s:>23.1f}x")


if __name__ == "__main__":
    main()
