"""Training throughput of RandomMaskForMaskedLM against transformers' BertForMaskedLM, same size and attention.

Both get the same batch of real E. coli 6-mers with 15% labelled positions and take fwd + bwd + AdamW steps
(same config, SDPA attention, dropout 0.1, AdamW lr 1e-4); the baseline computes logits at every position (as
BERT does), RandomMask only at labelled ones (head and last encoder layer). Speed: both models live in one
process and take their steps in turns (order alternating), so load drifting on a shared machine hits both
alike; the speed-up is the ratio of median step times and the spread is that of the per-turn ratios. Beside
it, the ratio of the two steps' FLOPs (matrix multiplies, counted by torch.utils.flop_counter in a real
step): the speed-up to expect from skipping work when both run the same kernels. Peak memory and FLOPs: each
model alone in its own process (peak RSS). Target (issue 7): RandomMask >= 1.25x BertForMaskedLM tokens/s
with peak memory no higher, at every size.

    taskset -c 1 env OMP_NUM_THREADS=1 python benchmarks/bench_model.py   # mini and base, batch 8 x 512, one thread
    python benchmarks/bench_model.py --sizes mini --steps 5
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENOME = REPO / "modeling_randommask" / "data" / "genomes" / "ecoli_k12_mg1655.fa.gz"
NAMES = ("bert", "randommask")


def _batch(batch_size: int, length: int):
    import torch

    from tokenization import KmerTokenizer

    tokenizer = KmerTokenizer(k=6)
    with gzip.open(GENOME, "rt") as handle:
        dna = "".join(line.strip() for line in handle if not line.startswith(">"))[: batch_size * 1000]
    bases = tokenizer.bases_for_tokens(length - 2)
    windows = [dna[i * 1000 : i * 1000 + bases] for i in range(batch_size)]
    batch = tokenizer(windows, return_tensors="pt")
    generator = torch.Generator().manual_seed(0)
    selected = (torch.rand(batch["input_ids"].shape, generator=generator) < 0.15) & (batch["input_ids"] > 4)
    batch["labels"] = torch.where(selected, batch["input_ids"], -100)
    return batch


def _build(name: str, size: str):
    """A model and its AdamW, weights seeded alike; the baseline is BertForMaskedLM with our preset's sizes."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from modeling_randommask import RandomMaskConfig, RandomMaskForMaskedLM

    torch.manual_seed(0)
    config = RandomMaskConfig.from_preset(size)
    if name == "randommask":
        model = RandomMaskForMaskedLM(config)
    else:
        fields = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                  "max_position_embeddings", "hidden_dropout_prob", "attention_probs_dropout_prob")
        model = BertForMaskedLM(BertConfig(**{f: getattr(config, f) for f in fields}, attn_implementation="sdpa"))
    assert model.config._attn_implementation == "sdpa"
    return model, torch.optim.AdamW(model.parameters(), lr=1e-4)


def _step(model, optimizer, batch) -> float:
    start = time.perf_counter()
    model(**batch).loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def measure_memory(name: str, size: str, batch_size: int, length: int) -> dict:
    """Child: peak RSS of one model alone over two steps, and the FLOPs of one."""
    from torch.utils.flop_counter import FlopCounterMode

    model, optimizer = _build(name, size)
    batch = _batch(batch_size, length)
    with FlopCounterMode(display=False) as counter:
        _step(model, optimizer, batch)
    _step(model, optimizer, batch)
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "flops": counter.get_total_flops()}


def measure_speed(size: str, batch_size: int, length: int, steps: int) -> dict:
    """Child: both models, one step each in turns (order alternating) after a warm-up step each."""
    import torch

    models = {name: _build(name, size) for name in NAMES}
    batch = _batch(batch_size, length)
    times: dict[str, list[float]] = {name: [] for name in NAMES}
    for turn in range(steps + 1):
        for name in NAMES if turn % 2 == 0 else NAMES[::-1]:
            seconds = _step(*models[name], batch)
            if turn:
                times[name].append(seconds)
    return {"times": times, "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["mini", "base"])
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per model (after one warm-up each)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = ["--batch_size", str(args.batch_size), "--length", str(args.length), "--steps", str(args.steps)]
    if args.child:
        kind, *rest = args.child
        if kind == "memory":
            result = measure_memory(*rest, args.batch_size, args.length)
        else:
            result = measure_speed(*rest, args.batch_size, args.length, args.steps)
        print(json.dumps(result))
        return

    def child(*arguments: str) -> dict:
        command = [sys.executable, __file__, "--child", *arguments, *shape]
        output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO).stdout
        return json.loads(output.strip().splitlines()[-1])

    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable); batch {args.batch_size} x {args.length} "
          f"tokens, {args.steps} fwd+bwd+AdamW steps per model in turns, SDPA attention, dropout 0.1 in both")
    print(f"{'size':<6} {'threads':>7} {'BertForMaskedLM tok/s':>22} {'RandomMask tok/s':>18} {'speed-up':>9} "
          f"{'per-turn range':>15} {'FLOP ratio':>11} {'peak MB bert':>13} {'peak MB ours':>13} "
          f"{'memory ratio':>13}  target (>= 1.25x, memory <= 1x)")
    tokens = args.batch_size * args.length
    for size in args.sizes:
        alone = {name: child("memory", name, size) for name in NAMES}
        peak = {name: result["peak_rss_mb"] for name, result in alone.items()}
        flop_ratio = alone["bert"]["flops"] / alone["randommask"]["flops"]
        speed = child("speed", size)
        bert_s, ours_s = (statistics.median(speed["times"][name]) for name in NAMES)
        ratios = [b / o for b, o in zip(speed["times"]["bert"], speed["times"]["randommask"])]
        speed_up, memory = bert_s / ours_s, peak["randommask"] / peak["bert"]
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(f"{size:<6} {speed['threads']:>7} {tokens / bert_s:>22.0f} {tokens / ours_s:>18.0f} "
              f"{speed_up:>8.2f}x {spread:>15} {flop_ratio:>10.2f}x {peak['bert']:>13.0f} "
              f"{peak['randommask']:>13.0f} {memory:>12.2f}x  "
              f"{'met' if speed_up >= 1.25 and memory <= 1.0 else 'NOT met'}", flush=True)


if __name__ == "__main__":
    main()
