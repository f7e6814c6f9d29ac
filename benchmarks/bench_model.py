"""Training throughput of RandomMaskForMaskedLM against transformers' BertForMaskedLM, same size and attention.

Each (model, size) runs in its own subprocess so its peak resident memory is its own; the pair runs `--rounds`
times in alternating order, and the target must hold in every round. Both get the same batch of
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
import statistics
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
    parser.add_argument("--rounds", type=int, default=2, help="bert/ours pairs per size, order alternating")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, args.batch_size, args.length, args.steps)))
        return

    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable); batch {args.batch_size} x {args.length} "
          f"tokens, median of {args.steps} fwd+bwd+AdamW steps, SDPA attention, dropout 0.1 in both")
    print(f"{args.rounds} rounds per size, the two models in alternating order (the machine is shared: load drifts)")
    print(f"{'size':<6} {'threads':>7} {'BertForMaskedLM tok/s':>22} {'RandomMask tok/s':>18} {'speed-up':>9} "
          f"{'per round':>14} {'peak MB bert':>13} {'peak MB ours':>13} {'memory ratio':>13}  "
          f"target (>= 1.25x in every round, memory <= 1x)")
    for size in args.sizes:
        runs: dict[str, list[dict]] = {"bert": [], "randommask": []}
        for round_index in range(args.rounds):
            for name in ("bert", "randommask") if round_index % 2 == 0 else ("randommask", "bert"):
                command = [sys.executable, __file__, "--child", name, size, "--batch_size", str(args.batch_size),
                           "--length", str(args.length), "--steps", str(args.steps)]
                output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO).stdout
                runs[name].append(json.loads(output.strip().splitlines()[-1]))
        ratios = [ours["tokens_per_s"] / bert["tokens_per_s"] for bert, ours in zip(runs["bert"], runs["randommask"])]
        bert_speed, ours_speed = (statistics.median(run["tokens_per_s"] for run in runs[name]) for name in runs)
        bert_mb, ours_mb = (max(run["peak_rss_mb"] for run in runs[name]) for name in runs)
        speed_up, memory = ours_speed / bert_speed, ours_mb / bert_mb
        per_round = "/".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"{size:<6} {runs['randommask'][0]['threads']:>7} {bert_speed:>22.0f} {ours_speed:>18.0f} "
              f"{speed_up:>8.2f}x {per_round:>14} {bert_mb:>13.0f} {ours_mb:>13.0f} {memory:>12.2f}x  "
              f"{'met' if min(ratios) >= 1.25 and memory <= 1.0 else 'NOT met'}", flush=True)


if __name__ == "__main__":
    main()
