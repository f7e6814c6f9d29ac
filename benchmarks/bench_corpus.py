"""Genome-scale corpora: a prepared, memory-mapped store against reading the FASTA into RAM in every rank, on a
synthetic genome of at least 1 Gbp generated here, deterministically.

The genome: plain FASTA (gzip would add minutes of compression to generating it and is not what is measured),
60-base lines, many records (chromosome-sized ones down to a long tail of short unplaced contigs), 10 kb N
telomeres and N gaps inside records, and half of the bases in lower-case (soft-masked) repeat runs: what an
assembly such as hg38 holds. Random bases: windowing costs the same whatever they are.

Measured, on this machine, in one run:

* preparing the store (``prepare_corpus``, in a fresh process): wall time and the preparer's peak RSS (bounded:
  it streams); then finding the prepared store again (what a later start pays);
* whole short runs of ``examples/pretrain.py`` through the written model and card (tiny model, 128-token windows,
  10 steps, checkpoints at 5 and 10), then a resume from step 5, with 1 and 2 gloo ranks, on the lambda genome
  (the baseline), over the store and in RAM: each rank's private memory (RssAnon, sampled from outside every 5 ms),
  its peak in each stage (dataset build; epochs, evaluation and checkpoints; final model, card and bits per base)
  and the peak's growth against the lambda run;
* launch to the first optimizer step of ``examples/pretrain.py`` (tiny model, 512-token windows, batch 8) under
  ``accelerate launch`` with 1 and 2 gloo processes, over the store and with ``--no_corpus_store`` (today's in-RAM
  path, the baseline): per rank, the seconds to the first step, the seconds spent building the datasets, and the
  memory at the first step: peak RSS (VmHWM) and the current RSS split into anonymous memory (the rank's own) and
  file-backed pages (the mapped store: page cache, one copy per node whatever the number of ranks);
* windows per second per rank cut and tokenized from the store (``input_ids`` of shuffled batches of 32, 512
  tokens, one thread), against what one GPU consumes at base size (no GPU figure measured yet: see the report).

    python benchmarks/bench_corpus.py                  # 1.0 Gbp, everything; about 10-15 minutes on 2 cores
    python benchmarks/bench_corpus.py --gbp 0.1 --keep # a quick look; keep the FASTA and store in --workdir
    python benchmarks/bench_corpus.py --gbp 0.2 --parts whole_run --batch_sizes 2 32   # the memory target
"""

from __future__ import annotations

import argparse
import json
import math
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
PARTS = ("whole_run", "first_step", "rate")
MALLOC = {"fixed": {"MALLOC_MMAP_THRESHOLD_": "131072"}, "glibc": {}}
LAMBDA_GENOME = REPO / "modeling_randommask" / "data" / "genomes" / "lambda_NC_001416.fa.gz"


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


# Runs examples/pretrain.py's pretrain() to the end (model, card, bits per base) and writes this rank's stage
# boundaries (wall-clock times) to $BENCH_OUT/stages<r>.json; the launcher side samples the rank's memory.
_WHOLE_RUN = """
import json, os, sys, time
from pathlib import Path
import modeling_randommask.training.pretraining as pretraining
from modeling_randommask.training.pretrain_arguments import parse_args

stages = {"start": time.time()}
real_build = pretraining.build_genome_datasets

def build(*args, **kwargs):
    stages["datasets"] = time.time()
    result = real_build(*args, **kwargs)
    stages["training"] = time.time()
    return result

class Progress(pretraining.tqdm):  # closed on every rank when the last step is done
    def close(self):
        stages.setdefault("final", time.time())
        super().close()

pretraining.build_genome_datasets, pretraining.tqdm = build, Progress
pretraining.pretrain(*parse_args(sys.argv[1:]))
stages["done"] = time.time()
rank = int(os.environ.get("RANK", 0))
(Path(os.environ["BENCH_OUT"]) / f"stages{rank}.json").write_text(json.dumps(stages))
"""
STAGES = ("start", "datasets", "training", "final", "done")  # a stage runs from its time to the next one's
STAGE_NAMES = {"start": "imports, options", "datasets": "dataset build",
               "training": "model, epochs, evaluation, checkpoints", "final": "model, card, bits per base (rank 0)"}


def _rank_pids(launcher: int, driver: str) -> dict[int, int]:
    """Rank -> pid of the processes under ``launcher`` that run ``driver`` (their RANK, 0 when unset)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = {}, list(children.get(launcher, []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            if driver in (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace"):
                environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
                rank = next((int(v[5:]) for v in environ if v.startswith(b"RANK=")), 0)
                found[rank] = pid
        except OSError:
            continue
    return found


def _anon_kb(pid: int) -> int | None:
    try:
        return next(int(line.split()[1]) for line in open(f"/proc/{pid}/status") if line.startswith("RssAnon:"))
    except (OSError, StopIteration):
        return None


def whole_run(genome: Path, corpus_dir: Path, work: Path, name: str, processes: int, options: list[str],
              malloc: str, period: float = 0.005) -> list[dict]:
    """Launch a whole pretraining run with ``processes`` gloo ranks, sampling each rank's RssAnon every ``period``
    seconds from outside (no GIL, no allocation in the rank); per rank the peak RssAnon (MB) in each stage."""
    out = work / name
    out.mkdir(parents=True, exist_ok=True)
    driver = work / "whole_run.py"
    driver.write_text(_WHOLE_RUN)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1", "--mixed_precision", "no",
              "--dynamo_backend", "no", "--main_process_port", "0", "--num_processes", str(processes)]
    launch += ["--multi_gpu"] if processes > 1 else ["--cpu"]
    arguments = ["--genome", str(genome), "--corpus_dir", str(corpus_dir), *options]
    with open(out / "output.txt", "w") as log:
        launcher = subprocess.Popen([*launch, str(driver), *arguments], env=_env() | {"BENCH_OUT": str(out)} | MALLOC[malloc],
                                    cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        samples: dict[int, list[tuple[float, int]]] = {}
        pids: dict[int, int] = {}
        while launcher.poll() is None:
            if len(pids) < processes:
                pids = _rank_pids(launcher.pid, str(driver))
            for rank, pid in pids.items():
                if (anon := _anon_kb(pid)) is not None:
                    samples.setdefault(rank, []).append((time.time(), anon))
            time.sleep(period)
    stage_files = sorted(out.glob("stages*.json"))
    if launcher.returncode or len(stage_files) != processes:
        raise RuntimeError(f"{name}: exit {launcher.returncode}:\n{(out / 'output.txt').read_text()[-4000:]}")
    ranks = []
    for rank, path in enumerate(stage_files):
        stages = json.loads(path.read_text())
        times = [stages[stage] for stage in STAGES]
        peaks = {}
        for stage, begin, end in zip(STAGES, times, times[1:]):
            inside = [anon for when, anon in samples.get(rank, []) if begin <= when < end]
            peaks[stage] = max(inside) / 1024 if inside else math.nan
        ranks.append({"peak": max(anon for _, anon in samples[rank]) / 1024, "stages": peaks,
                      "samples": len(samples[rank]), "seconds": stages["done"] - stages["start"]})
    return ranks


def whole_runs(fasta: Path, lambda_genome: Path, corpus_dir: Path, work: Path, processes: int, batch: int,
               malloc: str) -> dict[str, list[dict]]:
    """The lambda baseline, the store and the in-RAM path, each a fresh run of 10 steps (checkpoints at 5 and 10)
    and a resume from step 5 to the end; 128-token windows."""
    options = ["--max_length", "128", "--per_device_train_batch_size", str(batch), "--max_steps", "10",
               "--save_every", "5"]
    results = {}
    for label, genome, extra in (("lambda (baseline)", lambda_genome, []), ("store", fasta, []),
                                 ("in RAM", fasta, ["--no_corpus_store"])):
        name = f"run-{processes}proc-b{batch}-{label.split()[0]}"
        run_dir = work / name / "model"
        results[label] = whole_run(genome, corpus_dir, work, name, processes,
                                   [*options, *extra, "--output_dir", str(run_dir)], malloc)
        if not (run_dir / "README.md").is_file() or not (run_dir / "model.safetensors").is_file():
            raise RuntimeError(f"{name}: no model or card written")
        results[label + ", resumed at step 5"] = whole_run(
            genome, corpus_dir, work, name + "-resume", processes,
            [*options, *extra, "--output_dir", str(run_dir), "--resume_from_checkpoint",
             str(run_dir / "checkpoints" / "step-00000005")], malloc)
        peaks = ", ".join(f"{result['peak']:,.0f}" for result in results[label])
        print(f"  {processes} proc, batch {batch}, {label}: peak RssAnon per rank {peaks} MB", flush=True)
    return results


def _whole_run_lines(processes: int, batch: int, results: dict[str, list[dict]], mbp: float) -> list[str]:
    baseline = results["lambda (baseline)"]
    lines = [(f"{processes} process(es), batch {batch}: peak RssAnon (MB) per rank and stage, and the peak's growth "
             "against the lambda run on the same rank:"), "",
             "| run | rank | " + " | ".join(STAGE_NAMES.values()) + " | peak | growth vs lambda | MB per Mbp |",
             "|---|---|" + "---|" * len(STAGE_NAMES) + "---|---|---|"]
    for label, ranks in results.items():
        reference = results["lambda (baseline), resumed at step 5"] if "resumed" in label else baseline
        for rank, (result, base) in enumerate(zip(ranks, reference)):
            growth = result["peak"] - base["peak"]
            cells = " | ".join("-" if math.isnan(peak) else f"{peak:,.0f}"  # -: over before a sample
                               for peak in (result["stages"][stage] for stage in STAGE_NAMES))
            per_mbp = "" if label.startswith("lambda") else f"{growth / mbp:.3f}"
            lines.append(f"| {label} | {rank} | {cells} | {result['peak']:,.0f} | "
                         f"{'' if label.startswith('lambda') else f'{growth:+,.0f}'} | {per_mbp} |")
    return lines + [""]


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
    options = {"genome": [str(fasta)], "max_length": 512, "corpus_dir": str(corpus_dir)}
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
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to measure")
    parser.add_argument("--processes", nargs="+", type=int, choices=(1, 2), default=[1, 2],
                        help="ranks of the launched runs")
    parser.add_argument("--malloc", choices=tuple(MALLOC), default="fixed", help=(
        "glibc allocator of the whole runs: 'fixed' (default) maps every allocation of 128 kB or more on its own and "
        "returns it when freed, so RssAnon is what the run holds; 'glibc' keeps glibc's moving threshold, under which "
        "freed activations stay in the heap in amounts that vary by tens of MB between identical runs"))
    parser.add_argument("--batch_sizes", nargs="+", type=int, default=[2],
                        help="per-device batch sizes of the whole runs")
    args = parser.parse_args()
    if min(args.batch_sizes) < 1 or args.gbp <= 0:
        parser.error("--batch_sizes must be >= 1 and --gbp > 0")
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
        if "whole_run" in args.parts:
            lines += ["", ("Whole runs (tiny model, 128-token windows, 10 steps, checkpoints at 5 and 10, through the "
                           "written model and card), and a resume from step 5 to the end, each rank's private memory "
                           "(RssAnon) sampled every 5 ms from outside over the run; baseline: the same run on the "
                           "lambda genome (48,502 bp), measured in this run. Target: under 40 MB of growth per rank "
                           "at 200 Mbp (0.2 MB per Mbp). Allocator: "
                           + ("every allocation of 128 kB or more mapped on its own (MALLOC_MMAP_THRESHOLD_=131072), "
                              "so RssAnon follows what the run holds." if args.malloc == "fixed" else
                              "glibc's default (freed activations stay in the heap: +-30-60 MB between identical "
                              "runs).")), ""]
            for processes in args.processes:
                for batch in args.batch_sizes:
                    results = whole_runs(fasta, LAMBDA_GENOME, corpus_dir, work, processes, batch, args.malloc)
                    lines += _whole_run_lines(processes, batch, results, made["bases"] / 1e6)
                    print("\n".join(lines[-len(results) * processes - 5:]), flush=True)
        if "first_step" in args.parts:
            lines += _first_step_lines(fasta, corpus_dir, work, args.processes)
        if "rate" in args.parts:
            lines += ["", _rate_line(fasta, corpus_dir)]
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


def _first_step_lines(fasta: Path, corpus_dir: Path, work: Path, processes: list[int]) -> list[str]:
    lines = ["", ("Launch to the first optimizer step, per rank (tiny model, 512-token windows, batch 8): seconds "
                  "(of which importing the libraries, and building the datasets); the anonymous (private) memory "
                  "the datasets added; peak RSS; RSS at the first step as anonymous / file-backed (mapped store and "
                  "libraries: page cache, shared):"), "",
             ("| path | rank 0: time | data anon | peak RSS | anon / file | rank 1: time | data anon | peak RSS "
              "| anon / file |"), "|---|---|---|---|---|---|---|---|---|"]
    for count in processes:
        for store_on in (True, False):
            ranks = first_step(fasta, corpus_dir, work, count, store_on)
            lines.append(_row(f"{count} proc, {'store' if store_on else 'in RAM (baseline)'}", ranks))
            print(lines[-1], flush=True)
    return lines


def _rate_line(fasta: Path, corpus_dir: Path) -> str:
    rates = windows_per_second(fasta, corpus_dir)
    gpu = H100_BF16_DENSE_FLOPS / BASE_SIZE_FLOPS_PER_WINDOW
    return (f"data, training windows/s per rank (512 tokens, batches of 32, one thread, "
            f"{rates['windows_per_epoch']:,} windows per epoch): store cold {rates['store_cold']:,.0f}, "
            f"store warm (page cache) {rates['store_warm']:,.0f}, in RAM (baseline) "
            f"{rates['in_ram']:,.0f}: warm store / in RAM = {rates['store_warm'] / rates['in_ram']:.2f}. "
            f"One GPU at base size consumes at most {gpu:,.0f} windows/s (an H100's dense bf16 peak, "
            "989 TFLOP/s, over 6 x 86M parameters x 512 tokens per window: no GPU step time has been "
            f"measured yet); the warm store on one core is {rates['store_warm'] / gpu:.1f}x that bound, "
            "before DataLoader workers (each adds a core's worth).")


def _cpu() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
