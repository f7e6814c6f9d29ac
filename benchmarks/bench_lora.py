"""Fine-tuning step time with LoRA against full fine-tuning, same model, same batch, measured in turns.

A sequence-classification step (fwd + bwd + AdamW, dropout 0.1) on 32 real E. coli sequences of 70 bp (GUE's core
promoter length: 65 overlapping 6-mers + [CLS]/[SEP]). Full: every parameter trains. LoRA: what
``examples/finetune.py --lora_r 8`` builds (adapters on every query/key/value projection, alpha 16, dropout 0.1;
classifier and pooler trained fully). Both models live in one process and take their steps in turns, order
alternating, so load drifting on a shared machine hits both alike; the ratio is that of median step times.

    taskset -c 1 env OMP_NUM_THREADS=1 python benchmarks/bench_lora.py                 # tiny and mini
    python benchmarks/bench_lora.py --sizes tiny mini base --steps 10
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

import torch
from mlm_step import genome_windows, train_step

from modeling_randommask import RandomMaskConfig, RandomMaskForSequenceClassification
from modeling_randommask.tokenization import KmerTokenizer
from modeling_randommask.training.finetuning import FinetuneArguments, with_lora


def _batch(batch_size: int, bases: int) -> dict[str, torch.Tensor]:
    """``batch_size`` E. coli sequences of ``bases`` bp, 1,000 bp apart, labelled 0 and 1 in turn."""
    tokens = KmerTokenizer(k=6).tokens_for_bases(bases) + 2
    return {**genome_windows(batch_size, tokens), "labels": torch.arange(batch_size) % 2}


def _build(size: str, lora_r: int):
    torch.manual_seed(0)
    model = RandomMaskForSequenceClassification(RandomMaskConfig.from_preset(size, num_labels=2))
    if lora_r:
        model = with_lora(model, FinetuneArguments(model="", lora_r=lora_r), token_level=False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    return model.train(), torch.optim.AdamW(trainable, lr=1e-4), sum(p.numel() for p in trainable)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "mini"], choices=["tiny", "mini", "small", "base"])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per model (after one warm-up step)")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--bases", type=int, default=70)
    parser.add_argument("--lora_r", type=int, default=8)
    args = parser.parse_args()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())  # the machine may be shared: say how busy it was
    print(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} cores, load {load}; torch "
          f"{torch.__version__}, {torch.get_num_threads()} thread(s); batch {args.batch_size} x {args.bases} bp")
    print("size | trainable full | trainable LoRA | full ms/step | LoRA ms/step | LoRA / full time")
    batch = _batch(args.batch_size, args.bases)
    for size in args.sizes:
        runs = {"full": _build(size, 0), "lora": _build(size, args.lora_r)}
        times = {name: [] for name in runs}
        for name, (model, optimizer, _) in runs.items():
            train_step(model, optimizer, batch)  # warm-up
        for turn in range(args.steps):
            for name in (("full", "lora") if turn % 2 == 0 else ("lora", "full")):
                times[name].append(train_step(*runs[name][:2], batch)[0])
        full, lora = (1000 * statistics.median(times[name]) for name in ("full", "lora"))
        print(f"{size} | {runs['full'][2]:,} | {runs['lora'][2]:,} | {full:.1f} | {lora:.1f} | {lora / full:.2f}x")


if __name__ == "__main__":
    main()
