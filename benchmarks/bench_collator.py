"""Cost of RandomMask masking against one training step of the mini model, measured in the same run.

The baseline is what the masking must stay small against: one fwd + bwd + AdamW step of RandomMaskForMaskedLM
("mini" preset) on the same batch. Timed on a batch of real E. coli windows tokenized as overlapping 6-mers:

* ``mask``: ``collator.mask(batch, step)`` (what a custom loop runs in the training step), at the first and last
  curriculum phase (shortest and longest spans);
* ``pad``: ``collator.pad(features)`` from lists of ids (what DataLoader workers run);
* ``pad + mask``: ``collator(features)``, the Trainer path (in workers when ``dataloader_num_workers > 0``).

    python benchmarks/bench_collator.py                       # batch 32 x 512, 3 timed training steps
    python benchmarks/bench_collator.py --batch_size 8 --steps 2
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import time

import torch

from modeling_randommask import (
    DataCollatorForRandomMask,
    RandomMaskConfig,
    RandomMaskForMaskedLM,
    RandomMaskSchedule,
)
from modeling_randommask.data import default_corpus
from modeling_randommask.tokenization import KmerTokenizer

GENOME = default_corpus()[0]


def _features(tokenizer: KmerTokenizer, batch_size: int, length: int) -> list[dict]:
    with gzip.open(GENOME, "rt") as handle:
        dna = "".join(line.strip() for line in handle if not line.startswith(">"))
    bases = tokenizer.bases_for_tokens(length - 2)  # [CLS] + k-mers + [SEP] = length tokens
    stride = len(dna) // batch_size
    return [{"input_ids": tokenizer(dna[i * stride: i * stride + bases])["input_ids"]} for i in range(batch_size)]


def _median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--size", default="mini", help="model preset of the baseline training step")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps (after one warm-up)")
    parser.add_argument("--repeats", type=int, default=50, help="timed collator calls per measurement")
    args = parser.parse_args()

    tokenizer = KmerTokenizer(k=6)
    schedule = RandomMaskSchedule.from_preset("randommask", total_steps=1000)
    collator = DataCollatorForRandomMask(tokenizer, schedule, seed=0)
    features = _features(tokenizer, args.batch_size, args.length)
    padded = collator.pad(features)
    assert tuple(padded["input_ids"].shape) == (args.batch_size, args.length)
    first, last = 0, schedule.phase_start(schedule.num_phases - 1)

    collator_times = {
        "mask, phase 0 (spans 6)": _median_seconds(lambda: collator.mask(padded, first), args.repeats),
        f"mask, phase {schedule.num_phases - 1} (spans 6..{schedule.max_span(schedule.num_phases - 1)})":
            _median_seconds(lambda: collator.mask(padded, last), args.repeats),
        "pad (workers)": _median_seconds(lambda: collator.pad(features), args.repeats),
        "pad + mask (Trainer path)": _median_seconds(lambda: collator(features), args.repeats),
    }

    torch.manual_seed(0)
    model = RandomMaskForMaskedLM(RandomMaskConfig.from_preset(args.size, vocab_size=len(tokenizer)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    step_times = []
    for step in range(args.steps + 1):
        batch = collator.mask(padded, step)
        start = time.perf_counter()
        model(**batch, labelled_logits_only=True).loss.backward()  # as the pretraining loop runs it
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step:  # the first step warms up allocators and kernels
            step_times.append(time.perf_counter() - start)
    train_step = statistics.median(step_times)

    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())  # the machine may be shared: say how busy it was
    print(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"{torch.get_num_threads()} torch threads, python {platform.python_version()}, torch {torch.__version__}, "
          f"load average {load} (1/5/15 min, at the end)")
    print(f"batch {args.batch_size} x {args.length} overlapping 6-mers (E. coli), "
          f"{collator.mask_statistics(collator.mask(padded, last), last)['masked_ratio']:.1%} selected in the last "
          f"phase")
    print(f"baseline: one {args.size} training step (fwd + bwd + AdamW), median of {args.steps}: "
          f"{train_step * 1000:.0f} ms")
    print(f"{'collator call':<40} {'ms':>8} {'% of step':>10}")
    for name, seconds in collator_times.items():
        print(f"{name:<40} {seconds * 1000:8.2f} {100 * seconds / train_step:9.2f}%")
    worst_mask = max(v for k, v in collator_times.items() if k.startswith("mask"))
    trainer_path = collator_times["pad + mask (Trainer path)"]
    print(f"masking in the training step costs {100 * worst_mask / train_step:.2f}% of a step, pad + mask "
          f"{100 * trainer_path / train_step:.2f}% (target <= 3%: "
          f"{'met' if max(worst_mask, trainer_path) <= 0.03 * train_step else 'MISSED'})")


if __name__ == "__main__":
    main()
