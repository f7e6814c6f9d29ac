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
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path

import torch
from mlm_step import NAMES, build_model, genome_windows, step_flops, train_step, with_random_labels

from modeling_randommask import RandomMaskConfig

REPO = Path(__file__).resolve().parents[1]


def _setup(name: str, size: str, batch_size: int, length: int):
    """A model, its AdamW (lr 1e-4) and the batch: 15% of real E. coli 6-mers labelled."""
    model = build_model(name, RandomMaskConfig.from_preset(size))
    return model, torch.optim.AdamW(model.parameters(), lr=1e-4), with_random_labels(genome_windows(batch_size, length))


def measure_memory(name: str, size: str, batch_size: int, length: int) -> dict:
    """Child: peak RSS of one model alone over two steps, and the FLOPs of one."""
    model, optimizer, batch = _setup(name, size, batch_size, length)
    flops = step_flops(model, optimizer, batch)
    train_step(model, optimizer, batch)
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "flops": flops}


def measure_speed(size: str, batch_size: int, length: int, steps: int) -> dict:
    """Child: both models, one step each in turns (order alternating) after a warm-up step each."""
    models = {name: _setup(name, size, batch_size, length) for name in NAMES}
    times: dict[str, list[float]] = {name: [] for name in NAMES}
    for turn in range(steps + 1):
        for name in NAMES if turn % 2 == 0 else NAMES[::-1]:
            seconds, _ = train_step(*models[name])
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
