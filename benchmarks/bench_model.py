"""Training throughput of RandomMaskForMaskedLM against transformers' BertForMaskedLM, same size and attention.

Each (model, size) runs in its own subprocess so its peak resident memory is its own. Both get the same batch of
real E. coli 6-mers with 15% labelled positions and take fwd + bwd + AdamW steps; the baseline computes logits at
every position (as BERT does), RandomMask only at labelled ones (head and last encoder layer). Target (issue 7):
RandomMask >= 1.25x BertForMaskedLM tokens/s with peak memory no higher, at every size.

    python benchmarks/bench_model.py                 # mini and base, batch 8 x 512
    taskset -c 1 env OMP_NUM_THREADS=1 python benchmarks/bench_model.py   # one core, one thread (README figures)
    python benchmarks/bench_model.py --sizes mini --steps 5
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENOME = REPO / "modeling_randommask" / "genomes" / "ecoli_k12_mg1655.fa.gz"


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


def measure(model_name: str, size: str, batch_size: int, length: int, steps: int) -> dict:
    """Run in the child: tokens/s over ``steps`` timed steps after one warm-up, and peak RSS."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from modeling_randommask import RandomMaskConfig, RandomMaskForMaskedLM

    torch.manual_seed(0)
    config = RandomMaskConfig.from_preset(size)
    if model_name == "randommask":
        model = RandomMaskForMaskedLM(config)
    else:
        fields = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                  "max_position_embeddings")
        model = BertForMaskedLM(BertConfig(**{f: getattr(config, f) for f in fields}, attn_implementation="sdpa"))
    assert model.config._attn_implementation == "sdpa"
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = _batch(batch_size, length)
    times = []
    for step in range(steps + 1):
        start = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step:
            times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]
    return {"model": model_name, "size": size, "seconds_per_step": median,
            "tokens_per_s": batch_size * length / median, "threads": torch.get_num_threads(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["mini", "base"])
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, args.batch_size, args.length, args.steps)))
        return

    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable); batch {args.batch_size} x {args.length} "
          f"tokens, median of {args.steps} fwd+bwd+AdamW steps, SDPA attention, dropout 0.1 in both")
    print(f"{'size':<6} {'threads':>7} {'BertForMaskedLM tok/s':>22} {'RandomMask tok/s':>18} {'speed-up':>9} "
          f"{'peak MB bert':>13} {'peak MB ours':>13} {'memory ratio':>13}  target (>= 1.25x, memory <= 1x)")
    for size in args.sizes:
        result = {}
        for name in ("bert", "randommask"):
            command = [sys.executable, __file__, "--child", name, size, "--batch_size", str(args.batch_size),
                       "--length", str(args.length), "--steps", str(args.steps)]
            output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO).stdout
            result[name] = json.loads(output.strip().splitlines()[-1])
        bert, ours = result["bert"], result["randommask"]
        speed_up, memory = ours["tokens_per_s"] / bert["tokens_per_s"], ours["peak_rss_mb"] / bert["peak_rss_mb"]
        print(f"{size:<6} {ours['threads']:>7} {bert['tokens_per_s']:>22.0f} {ours['tokens_per_s']:>18.0f} "
              f"{speed_up:>8.2f}x {bert['peak_rss_mb']:>13.0f} {ours['peak_rss_mb']:>13.0f} {memory:>12.2f}x  "
              f"{'met' if speed_up >= 1.25 and memory <= 1.0 else 'NOT met'}", flush=True)


if __name__ == "__main__":
    main()
