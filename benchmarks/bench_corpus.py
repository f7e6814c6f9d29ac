"""Genome-scale corpora: a prepared, memory-mapped store against reading the FASTA into RAM in every rank, on a
synthetic genome of at least 1 Gbp generated here, deterministically.

The genome: plain FASTA (gzip would add minutes of compression to generating it and is not what is measured),
60-base lines, many records (chromosome-sized ones down to a long tail of short unplaced contigs), 10 kb N
telomeres and N gaps inside records, and half of the bases in lower-case (soft-masked) repeat runs: what an
assembly such as hg38 holds. Random bases: windowing costs the same whatever they are.

Measured, on this machine, in one run:

* preparing the store (``prepare_corpus``, in a fresh process): wall time and the preparer's peak RSS (bounded:
  it streams); then finding the prepared store again (what a later start pays);
* launch to the first optimizer step of ``examples/pretrain.py`` (tiny model, 512-token windows, batch 8) under
  ``accelerate launch`` with 1 and 2 gloo processes, over the store and with ``--no_corpus_store`` (today's in-RAM
  path, the baseline): per rank, the seconds to the first step, the seconds spent building the datasets, and the
  memory at the first step: peak RSS (VmHWM) and the current RSS split into anonymous memory (the rank's own) and
  file-backed pages (the mapped store: page cache, one copy per node whatever the number of ranks);
* windows per second per rank cut and tokenized from the store (``input_ids`` of shuffled batches of 32, 512
  tokens, one thread), against what one GPU consumes at base size (no GPU figure measured yet: see the report).

    python benchmarks/bench_corpus.py                  # 1.0 Gbp, everything; about 10-15 minutes on 2 cores
    python benchmarks/bench_corpus.py --gbp 0.1 --keep # a quick look; keep the FASTA and store in --workdir
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LINE = 60
BASE_SIZE_FLOPS_PER_WINDOW = 6 * 86e6 * 512  # training FLOPs of one 512-token window for BERT-base (6 N T)
H100_BF16_DENSE_FLOPS = 989e12


def generate_fasta(path: Path, total_bases: int, seed: int = 0) -> dict:
    """Write the synthetic genome (vectorised per record: no Python step per base); return its make-up."""
    rng = np.random.default_rng(seed)
    big = rng.integers(total_bases // 80, total_bases // 15, size=100)  # chromosomes: 90% of the bases
    big = big[: int(np.searchsorted(np.cumsum(big), 0.9 * total_bases))]
    rest = total_bases - int(big.sum())
    small = rng.integers(1_000, 200_000, size=rest // 50_000 + 1)  # unplaced contigs: the rest
    small = small[: int(np.searchsorted(np.cumsum(small), rest))]
    lengths = np.concatenate((big, small, [max(1_000, total_bases - int(big.sum()) - int(small.sum()))]))
    alphabet = np.frombuffer(b"ACGT", np.uint8)
    made = {"records": int(lengths.size), "bases": int(lengths.sum()), "n_bases": 0, "lowercase_bases": 0}
    with open(path, "wb") as out:
        for index, length in enumerate(lengths.tolist()):
            bases = alphabet[np.frombuffer(rng.bytes(length), np.uint8) & 3]
            _soft_mask(bases, rng)
            if length > 100_000:  # telomeres and assembly gaps
                bases[:10_000] = bases[-10_000:] = ord("N")
                for start in rng.integers(10_000, length - 60_000, size=max(1, length // 5_000_000)).tolist():
                    bases[start : start + int(rng.integers(100, 50_000))] = ord("N")
            made["n_bases"] += int((bases == ord("N")).sum())
            made["lowercase_bases"] += int((bases >= ord("a")).sum())
            out.write(b">chr%d synthetic record %d\n" % (index, index))
            full = length // LINE * LINE
            rows = np.empty((length // LINE, LINE + 1), np.uint8)
            rows[:, :LINE], rows[:, LINE] = bases[:full].reshape(-1, LINE), ord("\n")
            out.write(rows.tobytes())
            if full < length:
                out.write(bases[full:].tobytes() + b"\n")
    return made


def _soft_mask(bases: np.ndarray, rng: np.random.Generator) -> None:
    """Lower-case about half of the bases in runs of 300-6,000 (repeats), in place."""
    runs = bases.size // 6_000 + 1
    starts = np.sort(rng.integers(0, bases.size, runs))
    ends = np.minimum(starts + rng.integers(300, 6_000, runs), bases.size)
    edges = np.zeros(bases.size + 1, np.int8)
    np.add.at(edges, starts, 1)
    np.add.at(edges, ends, -1)
    bases[np.cumsum(edges[:-1], dtype=np.int16) > 0] += 32


_PREPARE = """
import json, sys, time
from modeling_randommask.data.corpus_store import prepare_corpus
clock = time.perf_counter()
store = prepare_corpus(sys.argv[1], sys.argv[2])
seconds = time.perf_counter() - clock
clock = time.perf_counter()
prepare_corpus(sys.argv[1], sys.argv[2])
again = time.perf_counter() - clock
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"store": str(store), "seconds": seconds, "again_seconds": again,
                  "peak_rss_mb": int(status["VmHWM"].split()[0]) / 1024}))
"""

# Runs examples/pretrain.py's pretrain() and, at the end of the first optimizer step, writes this rank's timings
# and memory to $BENCH_OUT/rank<r>.json, then exits (the rest of the run is not what is measured).
_FIRST_STEP = """
import json, os, sys, time
from pathlib import Path
import torch
import modeling_randommask.training.pretraining as pretraining
from modeling_randommask.training.pretrain_arguments import parse_args

launched, out = float(os.environ["BENCH_LAUNCHED"]), Path(os.environ["BENCH_OUT"])
imported = time.time()
data_seconds, data_anon = [], []
real_build, real_step = pretraining.build_genome_datasets, torch.optim.AdamW.step

def memory():
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {key: int(status[key].split()[0]) / 1024 for key in ("VmHWM", "RssAnon", "RssFile", "RssShmem")}

def build(*args, **kwargs):
    clock, before = time.perf_counter(), memory()["RssAnon"]
    result = real_build(*args, **kwargs)
    data_seconds.append(time.perf_counter() - clock)
    data_anon.append(memory()["RssAnon"] - before)
    return result

def step(self, *args, **kwargs):
    result = real_step(self, *args, **kwargs)
    rank = int(os.environ.get("RANK", 0))
    (out / f"rank{rank}.json").write_text(json.dumps({
        "first_step_s": time.time() - launched, "import_s": imported - launched, "datasets_s": data_seconds[0],
        "datasets_anon_mb": data_anon[0], **memory()}))
    sys.stdout.flush()
    os._exit(0)

pretraining.build_genome_datasets, torch.optim.AdamW.step = build, step
pretraining.pretrain(*parse_args(sys.argv[1:]))
"""


def _env() -> dict:
    return dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=str(REPO),
                ACCELERATE_USE_CPU="1", TRANSFORMERS_VERBOSITY="error")


def first_step(fasta: Path, corpus_dir: Path, work: Path, processes: int, store: bool) -> list[dict]:
    """Launch pretraining with ``processes`` gloo ranks; each rank's figures at its first optimizer step."""
    name = f"{processes}proc-{'store' if store else 'ram'}"
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    driver = work / "first_step.py"
    driver.write_text(_FIRST_STEP)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1", "--mixed_precision", "no",
              "--dynamo_backend", "no", "--main_process_port", "0", "--num_processes", str(processes)]
    launch += ["--multi_gpu"] if processes > 1 else ["--cpu"]
    options = ["--genome", str(fasta), "--corpus_dir", str(corpus_dir), "--max_length", "512",
               "--per_device_train_batch_size", "8", "--max_steps", "10", "--output_dir", str(out / "run")]
    options += [] if store else ["--no_corpus_store"]
    env = _env() | {"BENCH_LAUNCHED": repr(time.time()), "BENCH_OUT": str(out)}
    done = subprocess.run([*launch, str(driver), *options], env=env, cwd=REPO, capture_output=True, text=True,
                          check=False, timeout=1200)
    ranks = sorted(out.glob("rank*.json"))
    if len(ranks) != processes:
        raise RuntimeError(f"{name}: {len(ranks)} of {processes} ranks reached a step:\n{done.stderr[-4000:]}")
    return [json.loads(path.read_text()) for path in ranks]


def windows_per_second(fasta: Path, corpus_dir: Path, batches: int = 200) -> dict[str, float]:
    """Training windows (512 tokens) per second cut and tokenized on one thread, shuffled batches of 32: from the
    store cold (its pages not yet mapped by this process: the page cache may or may not hold them), from the store
    warm (after one sequential read of the bases file, as a node's page cache is after the first epoch), and from
    the in-RAM genome (the baseline), the last two in turns, best of 3; and the epoch's number of windows."""
    import torch

    from modeling_randommask.data import GenomeDataConfig, build_genome_datasets
    from modeling_randommask.tokenization import KmerTokenizer

    torch.set_num_threads(1)
    tokenizer = KmerTokenizer(k=6)
    options = {"paths": [str(fasta)], "max_length": 512, "corpus_dir": str(corpus_dir)}
    stored = build_genome_datasets(GenomeDataConfig(**options), tokenizer)[0]
    draws = torch.randperm(len(stored), generator=torch.Generator().manual_seed(0))[: 2 * batches * 32]
    cold, warm = draws[: batches * 32].view(batches, 32), draws[batches * 32 :].view(batches, 32)

    def rate(dataset, order) -> float:
        clock = time.perf_counter()
        for batch in order:
            dataset.input_ids(batch)
        return order.numel() / (time.perf_counter() - clock)

    rates = {"windows_per_epoch": len(stored), "store_cold": rate(stored, cold)}
    with open(stored.mapped_file, "rb") as handle:  # one sequential read: the page cache holds the store
        while handle.read(1 << 24):
            pass
    in_ram = build_genome_datasets(GenomeDataConfig(**options, corpus_store=False), tokenizer)[0]
    turns = [(rate(stored, warm), rate(in_ram, warm)) for _ in range(3)]
    rates["store_warm"], rates["in_ram"] = max(t[0] for t in turns), max(t[1] for t in turns)
    return rates


def _row(label: str, ranks: list[dict]) -> str:
    cells = [f"{r['first_step_s']:.0f} s (import {r['import_s']:.0f} s, datasets {r['datasets_s']:.1f} s) | "
             f"{r['datasets_anon_mb']:,.0f} MB | {r['VmHWM']:,.0f} MB | {r['RssAnon']:,.0f} / {r['RssFile']:,.0f} MB"
             for r in ranks]
    return f"| {label} | {' | '.join(cells)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gbp", type=float, default=1.0, help="size of the synthetic genome, Gbp")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/randommask-bench-corpus"))
    parser.add_argument("--keep", action="store_true", help="keep the FASTA and the store (deleted by default)")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    fasta, corpus_dir = work / "synthetic.fa", work / "corpora"
    lines = [f"# bench_corpus: {args.gbp:g} Gbp synthetic genome", "",
             (f"machine: {platform.platform()}, {os.cpu_count()} cores ({_cpu()}), "
             f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM; "
             f"load avg at start {' / '.join(f'{x:.1f}' for x in os.getloadavg())}"), ""]
    try:
        clock = time.perf_counter()
        made = generate_fasta(fasta, int(args.gbp * 1e9))
        lines.append(f"genome: {made['bases']:,} bases in {made['records']:,} records, {made['n_bases']:,} N, "
                     f"{made['lowercase_bases']:,} lower-case; FASTA {fasta.stat().st_size / 1e9:.2f} GB, written "
                     f"in {time.perf_counter() - clock:.0f} s")
        print(lines[-1], flush=True)
        prepared = json.loads(subprocess.run([sys.executable, "-c", _PREPARE, str(fasta), str(corpus_dir)],
                                             env=_env(), cwd=REPO, capture_output=True, text=True,
                                             check=True).stdout.splitlines()[-1])
        store = Path(prepared["store"])
        disk = sum(path.stat().st_size for path in store.iterdir())
        lines.append(f"prepare: {prepared['seconds']:.1f} s ({made['bases'] / prepared['seconds'] / 1e6:.0f} Mbp/s), "
                     f"preparer peak RSS {prepared['peak_rss_mb']:.0f} MB; the store found again in "
                     f"{prepared['again_seconds']:.2f} s; store on disk {disk / 1e9:.2f} GB "
                     f"({disk / made['bases']:.3f} bytes per base)")
        print(lines[-1], flush=True)
        lines += ["", ("Launch to the first optimizer step, per rank (tiny model, 512-token windows, batch 8): seconds "
                  "(of which importing the libraries, and building the datasets); the anonymous (private) memory "
                  "the datasets added; peak RSS; RSS at the first step as anonymous / file-backed (mapped store and "
                  "libraries: page cache, shared):"), "",
                  ("| path | rank 0: time | data anon | peak RSS | anon / file | rank 1: time | data anon | peak RSS "
                  "| anon / file |"), "|---|---|---|---|---|---|---|---|---|"]
        for processes in (1, 2):
            for store_on in (True, False):
                ranks = first_step(fasta, corpus_dir, work, processes, store_on)
                lines.append(_row(f"{processes} proc, {'store' if store_on else 'in RAM (baseline)'}", ranks))
                print(lines[-1], flush=True)
        rates = windows_per_second(fasta, corpus_dir)
        gpu = H100_BF16_DENSE_FLOPS / BASE_SIZE_FLOPS_PER_WINDOW
        lines += ["", (f"data, training windows/s per rank (512 tokens, batches of 32, one thread, "
                       f"{rates['windows_per_epoch']:,} windows per epoch): store cold {rates['store_cold']:,.0f}, "
                       f"store warm (page cache) {rates['store_warm']:,.0f}, in RAM (baseline) "
                       f"{rates['in_ram']:,.0f}: warm store / in RAM = {rates['store_warm'] / rates['in_ram']:.2f}. "
                       f"One GPU at base size consumes at most {gpu:,.0f} windows/s (an H100's dense bf16 peak, "
                       "989 TFLOP/s, over 6 x 86M parameters x 512 tokens per window: no GPU step time has been "
                       f"measured yet); the warm store on one core is {rates['store_warm'] / gpu:.1f}x that bound, "
                       "before DataLoader workers (each adds a core's worth).")]
        print(lines[-1], flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        print(f"wrote {args.output}")


def _cpu() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
