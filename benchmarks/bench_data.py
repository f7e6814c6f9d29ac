"""Genome data throughput: FASTA on disk -> windows -> k-mer ids -> padded batches, against named baselines
measured in the same run on this machine.

On a FASTA(.gz) genome (default: the embedded E. coli, 4.64 Mbp):

* reading: ``read_genome`` (chunked, ``bytes.translate``) vs a plain Python line loop (text lines of the file,
  ``str.strip``/``upper``/``join``), on the gzip file and on an uncompressed copy; and building the datasets;
* batches: one training epoch of ``GenomeWindowDataset`` (batch 32, shuffled, collated by
  ``DataCollatorForRandomMask.pad`` as in pretraining) through a ``DataLoader`` with 0 and 2 workers (a fresh
  iterator per epoch, as pretraining does: worker start-up included; the steady rate after the first batch is
  shown too), against the baseline: ``str`` slices of the genome, ``tokenizer(window)`` per window, the same
  collator, on the same windows (reverse complements included) in the same order; plus a batched-string variant;
* Hugging Face ``datasets``: ``Dataset.from_generator`` of the same windows as strings, then (a) a tokenizing
  ``with_transform`` (on the fly) and (b) ``map`` to stored ``input_ids`` read back as torch tensors.

Tokens are counted as delivered: ``batch x max_length`` (512, [CLS]/[SEP] included) per batch. The machine is
shared, so the timed cases run round-robin ``--rounds`` times and the best (least disturbed) and median rates
are printed. ``--threads`` sets torch's intra-op threads of the main process (workers always use 1).

    python benchmarks/bench_data.py                      # embedded E. coli, everything
    python benchmarks/bench_data.py --threads 1 --skip_datasets --genome g.fa.gz
    python benchmarks/bench_data.py --memory_mbp 300       # also: RSS of reading a synthetic 300 Mbp FASTA (Linux)
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from modeling_randommask.data import GenomeDataConfig, build_genome_datasets, default_corpus, read_genome
from modeling_randommask.data.fasta import COMPLEMENT, open_unzipped
from modeling_randommask.masking import DataCollatorForRandomMask, RandomMaskSchedule
from modeling_randommask.tokenization import KmerTokenizer

REVCOMP = dict(enumerate(COMPLEMENT.tolist()))  # str.translate's table of the package's complement


def _machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{platform.platform()} | {platform.machine()} | {cores} usable cores (os.cpu_count {os.cpu_count()}) "
            f"| load avg 1/5/15 min {load} | Python {platform.python_version()}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch threads in the main process")


def _rss_mb() -> dict[str, float]:
    """Resident and peak resident memory of this process, MB (Linux /proc)."""
    with open("/proc/self/status") as status:
        return {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status
                if line.startswith(("VmRSS", "VmHWM"))}


def _memory(mbp: int, workdir: Path) -> None:
    """Read a synthetic FASTA of ``mbp`` Mbp (multiple of 10; 80-column lines, mixed case, a 100 kb N gap per record) and
    report speed and resident memory per base: final and peak, over the process before reading."""
    path = workdir / "synthetic.fa"
    rng = np.random.default_rng(0)
    with open(path, "wb") as handle:
        for record in range(-(-mbp // 100)):
            handle.write(b">synthetic%d\n" % record)
            for piece in range(min(100, mbp - 100 * record) // 10):  # 10 Mbp at a time: little memory
                lines = np.full((125_000, 81), ord("\n"), dtype=np.uint8)
                lines[:, :80] = np.frombuffer(b"ACGTacgt", np.uint8)[rng.integers(0, 8, (125_000, 80), dtype=np.uint8)]
                if piece == 5:
                    lines[:1250, :80] = ord("N")  # a 100 kb assembly gap
                handle.write(lines.tobytes())
    before = _rss_mb()
    start = time.perf_counter()
    genome = read_genome(path)
    seconds = time.perf_counter() - start
    after = _rss_mb()
    mb = genome.num_bases / 1e6
    print(f"\nmemory: read {genome.num_bases:,} bases ({path.stat().st_size / 1e6:.0f} MB file) in {seconds:.2f} s "
          f"({mb / seconds:.0f} Mbp/s); resident +{(after['VmRSS'] - before['VmRSS']) * 1.048576 / mb:.2f} "
          f"bytes/base after, peak +{(after['VmHWM'] - before['VmRSS']) * 1.048576 / mb:.2f} bytes/base "
          f"(process peak before reading: {before['VmHWM']:.0f} MB, resident {before['VmRSS']:.0f} MB)")
    del genome
    path.unlink()


def _naive_read(path: Path) -> dict[str, str]:
    """Baseline reader: a Python loop over text lines."""
    records, name, lines = {}, None, []
    with open_unzipped(path) as raw:
        for line in io.TextIOWrapper(raw):
            if line.startswith(">"):
                if name is not None:
                    records[name] = "".join(lines)
                name, lines = line[1:].split()[0], []
            else:
                lines.append(line.strip().upper())
    records[name] = "".join(lines)
    return records


def _round_robin(cases: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds per run of every case, the cases interleaved so that a burst of load hits them alike."""
    times = {name: [] for name in cases}
    for _ in range(rounds):
        for name, function in cases.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return times


def _loader_epoch(dataset, batches: list[list[int]], collate, workers: int, first_batch: list) -> int:
    """Tokens of one epoch through a fresh DataLoader iterator; appends the time to the first batch."""
    start = time.perf_counter()
    tokens = 0
    for batch in DataLoader(dataset, batch_sampler=batches, collate_fn=collate, num_workers=workers):
        if not tokens:
            first_batch.append(time.perf_counter() - start)
        tokens += batch["input_ids"].numel()
    return tokens


def _naive_epoch(genome: dict[str, str], located: dict, batches, tokenizer, collate, batched: bool) -> int:
    """Baseline batches: python str windows (the dataset's starts and flips), tokenized one window at a time
    (or one batch of strings at a time), padded by the same collator."""
    tokens = 0
    for batch in batches:
        texts = []
        for index in batch:
            record, begin, end, flip = located[index]
            window = genome[record][begin:end]
            texts.append(window.translate(REVCOMP)[::-1] if flip else window)
        if batched:
            features = [{"input_ids": ids} for ids in tokenizer(texts)["input_ids"]]
        else:
            features = [{"input_ids": tokenizer(text)["input_ids"]} for text in texts]
        tokens += collate(features)["input_ids"].numel()
    return tokens


def _hf_datasets(genome: dict[str, str], dataset, tokenizer, collate, workdir: Path):
    """Build the same windows as a ``datasets.Dataset``; return build figures and per-epoch iteration cases."""
    import datasets

    datasets.disable_progress_bars()
    located = dataset.locate(range(len(dataset)))

    def windows():
        for record, begin, end, flip in located:
            window = genome[record][begin:end]
            yield {"sequence": window.translate(REVCOMP)[::-1] if flip else window}

    start = time.perf_counter()
    strings = datasets.Dataset.from_generator(windows, cache_dir=str(workdir / "gen"))
    generate = time.perf_counter() - start
    on_the_fly = strings.with_transform(
        lambda examples: {"input_ids": torch.as_tensor(tokenizer(examples["sequence"])["input_ids"])})
    start = time.perf_counter()
    stored = strings.map(lambda b: {"input_ids": tokenizer(b["sequence"])["input_ids"]}, batched=True,
                         remove_columns=["sequence"], cache_file_name=str(workdir / "ids.arrow"))
    tokenize = time.perf_counter() - start
    stored = stored.with_format("torch")
    bytes_per_token = (workdir / "ids.arrow").stat().st_size / (len(dataset) * 512)
    return generate, tokenize, bytes_per_token, on_the_fly, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genome", type=Path, default=default_corpus()[0])
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_length", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5, help="round-robin repetitions of every timed case")
    parser.add_argument("--baseline_batches", type=int, default=40,
                        help="batches per run of the slow cases (baselines, datasets)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads of the main process")
    parser.add_argument("--skip_datasets", action="store_true")
    parser.add_argument("--memory_mbp", type=int, default=0,
                        help="first read a synthetic FASTA of this many Mbp and report resident memory per base")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"machine: {_machine()}")
    print(f"genome: {args.genome}")
    tokenizer = KmerTokenizer(k=6)
    collator = DataCollatorForRandomMask(tokenizer, RandomMaskSchedule.from_preset("randommask", total_steps=1000))
    workdir = Path(tempfile.mkdtemp(prefix="bench_data_"))
    try:
        if args.memory_mbp:
            _memory(args.memory_mbp, workdir)
        plain = workdir / "genome.fa"
        with open_unzipped(args.genome) as source:
            plain.write_bytes(source.read())
        genome = read_genome(args.genome)
        config = GenomeDataConfig(genome=[args.genome], max_length=args.max_length)
        mbp = genome.num_bases / 1e6

        reading = _round_robin({
            "read_genome, gzip": lambda: read_genome(args.genome),
            "python line loop, gzip": lambda: _naive_read(args.genome),
            "read_genome, uncompressed": lambda: read_genome(plain),
            "python line loop, uncompressed": lambda: _naive_read(plain),
            "build_genome_datasets": lambda: build_genome_datasets(config, tokenizer, genome=genome),
        }, args.rounds)
        print(f"\nreading {mbp:.2f} Mbp (best / median of {args.rounds} rounds)")
        for name, seconds in reading.items():
            if name.startswith("build"):
                continue
            print(f"  {name:32s} {mbp / min(seconds):7.1f} / {mbp / statistics.median(seconds):7.1f} Mbp/s")
        for kind in ("gzip", "uncompressed"):
            ratio = min(reading[f"python line loop, {kind}"]) / min(reading[f"read_genome, {kind}"])
            print(f"  read_genome vs line loop, {kind}: {ratio:.1f}x")

        train, _, stats = build_genome_datasets(config, tokenizer, genome=genome)
        print(f"build datasets: {min(reading['build_genome_datasets']) * 1e3:.1f} ms best "
              f"({stats['train_windows_per_epoch']:,} training windows of {stats['window_bases']} bp, "
              f"{stats['validation_windows']:,} validation)")

        train.set_epoch(1)
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(1)).tolist()
        batches = [order[i : i + args.batch_size] for i in range(0, len(order) - args.batch_size + 1, args.batch_size)]
        subset = batches[: args.baseline_batches]
        naive_genome = _naive_read(plain)
        located = {i: train.locate([i])[0] for batch in subset for i in batch}  # the dataset's windows, as text
        first = {0: [], 2: []}
        epoch_tokens = len(batches) * args.batch_size * args.max_length
        subset_tokens = len(subset) * args.batch_size * args.max_length
        cases = {  # name: (function, tokens per run)
            "GenomeWindowDataset, DataLoader 0 workers": (
                lambda: _loader_epoch(train, batches, collator.pad, 0, first[0]), epoch_tokens),
            "GenomeWindowDataset, DataLoader 2 workers": (
                lambda: _loader_epoch(train, batches, collator.pad, 2, first[2]), epoch_tokens),
            "GenomeWindowDataset.input_ids(batch), no DataLoader": (
                lambda: [train.input_ids(b) for b in batches], epoch_tokens),
            "baseline: str slice + tokenizer(str) per window": (
                lambda: _naive_epoch(naive_genome, located, subset, tokenizer, collator.pad, False), subset_tokens),
            "str slices + tokenizer(list of 32 str)": (
                lambda: _naive_epoch(naive_genome, located, subset, tokenizer, collator.pad, True), subset_tokens),
        }
        if not args.skip_datasets:
            generate, tokenize, bytes_per_token, on_the_fly, stored = _hf_datasets(
                naive_genome, train, tokenizer, collator.pad, workdir)
            cases["datasets: from_generator str + with_transform tokenizer"] = (
                lambda: [collator.pad([{"input_ids": r} for r in on_the_fly[b]["input_ids"]]) for b in subset],
                subset_tokens)
            cases["datasets: stored ids (map), torch format"] = (
                lambda: [collator.pad([{"input_ids": r} for r in stored[b]["input_ids"]]) for b in subset],
                subset_tokens)
        times = _round_robin({name: function for name, (function, _) in cases.items()}, args.rounds)
        rates = {name: (tokens / min(times[name]), tokens / statistics.median(times[name]))
                 for name, (_, tokens) in cases.items()}
        baseline = rates["baseline: str slice + tokenizer(str) per window"][0]
        print(f"\nbatches of {args.batch_size} x {args.max_length} tokens, M tokens/s best / median of {args.rounds} "
              f"rounds, ratio of bests against the baseline ({len(batches)} batches per epoch; {len(subset)} for "
              "the baseline and datasets cases)")
        for name, (best, median) in rates.items():
            print(f"  {name:58s} {best / 1e6:7.2f} / {median / 1e6:7.2f}   {best / baseline:6.1f}x")
        for workers, firsts in first.items():
            steady = (epoch_tokens - args.batch_size * args.max_length) / (
                min(times[f"GenomeWindowDataset, DataLoader {workers} workers"]) - min(firsts))
            print(f"  DataLoader {workers} workers: first batch after {min(firsts) * 1e3:.0f} ms, then "
                  f"{steady / 1e6:.2f} M tokens/s")

        start = time.perf_counter()
        fresh, _, _ = build_genome_datasets(config, tokenizer)
        tokens = _loader_epoch(fresh, batches, collator.pad, 0, [])
        total = time.perf_counter() - start
        print(f"  end to end from disk (read + build + 1 epoch, 0 workers): {tokens / total / 1e6:.2f} M tokens/s "
              f"({total:.2f} s)")
        if not args.skip_datasets:
            print(f"\ndatasets build (once): from_generator {generate:.2f} s, map to ids {tokenize:.2f} s for "
                  f"{len(train):,} windows; stored ids {bytes_per_token:.1f} bytes/token on disk")
            print(f"  -> new offsets and flips every epoch mean regenerating: {(generate + tokenize) / len(train) * 1e6:.0f} "
                  f"s per million windows; stored ids of one epoch of a 3.1 Gbp genome: "
                  f"~{bytes_per_token * 3.1e9 / 1e9:.0f} GB on disk (vs 1 byte/base in RAM, tokenized on the fly)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
