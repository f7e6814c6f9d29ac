"""Prepared corpora: a store maps exactly the genome a reading gives, is keyed by content, survives a crash mid-prepare,
is shared by processes, and a pretraining run over it (resumed or not) equals one over the in-RAM genome. Per-genome
sampling weights. Real FASTA files (embedded genomes, ../shared/data when present), real runs."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import (
    DATA_DIR,
    ECOLI,
    LAMBDA,
    QUICK_PRETRAIN,
    REPO,
    kill_when_paused,
    read_log,
    run_paused,
    run_script,
)
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from modeling_randommask.data.corpus_store import (
    BASES_FILE,
    INFO_FILE,
    RUNS_FILE,
    CorpusArguments,
    CorpusStoreError,
    load_genome,
    open_corpus,
    prepare,
    prepare_corpus,
)
from modeling_randommask.data.fasta import FastaFormatError, non_acgt_runs, read_genome
from modeling_randommask.data.genome_windows import GenomeDataConfig, build_genome_datasets
from modeling_randommask.data.options import parse_cli
from modeling_randommask.tokenization import KmerTokenizer

TOKENIZER = KmerTokenizer(k=6)
CHR2 = DATA_DIR / "genomes" / "human_chr2_0-2.33M.fa.gz"  # bgzip, soft-masked, an N telomere


def stores(corpus_dir: Path) -> list[Path]:
    """The complete stores of a corpus folder."""
    return sorted(p for p in corpus_dir.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / INFO_FILE).is_file())


def messy_fasta(path: Path) -> Path:
    """Several records, lower case, N gaps, IUPAC codes, an empty record, CRLF: what a real assembly holds."""
    rng = np.random.default_rng(0)
    records = []
    for index in range(5):
        bases = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, 3000 + 977 * index)].copy()
        bases[500:700] = ord("N")
        bases[1200:1600] += 32  # soft-masked repeat
        bases[2000] = ord("R")
        lines = [bases[i : i + 70].tobytes() for i in range(0, bases.size, 70)]
        records.append(b">contig%d description\r\n" % index + b"\r\n".join(lines) + b"\r\n")
    records.insert(2, b">empty\r\n")
    path.write_bytes(gzip.compress(b"".join(records)))
    return path


def test_store_maps_the_genome_a_reading_gives(tmp_path):
    inputs = [messy_fasta(tmp_path / "messy.fa.gz"), ECOLI, *([CHR2] if CHR2.exists() else [])]
    read = read_genome(inputs)
    mapped = open_corpus(prepare_corpus(inputs, tmp_path / "corpora"), read.files)
    assert isinstance(mapped.sequence, np.memmap)  # mapped, never loaded
    assert np.array_equal(mapped.sequence, read.sequence)
    assert (mapped.names, mapped.record_files, mapped.skipped_records) == (read.names, read.record_files,
                                                                           read.skipped_records)
    assert mapped.file_sha256 == read.file_sha256 == [hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs]
    assert np.array_equal(mapped.starts, read.starts) and np.array_equal(mapped.lengths, read.lengths)
    for stored, scanned in zip(mapped.runs, non_acgt_runs(read.sequence, read.starts)):
        assert np.array_equal(stored, scanned)
    assert mapped.content_hash() == read.content_hash()
    mapped.sha256 = None  # the stored hash is the hash of the stored bases
    assert mapped.content_hash() == read.content_hash()


def test_windows_and_stats_over_a_store_equal_the_in_ram_ones(tmp_path):
    inputs = [str(messy_fasta(tmp_path / "messy.fa.gz")), str(LAMBDA)]
    options = {"genome": inputs, "max_length": 40, "val_fraction": 0.05, "corpus_dir": str(tmp_path / "corpora")}
    in_ram = build_genome_datasets(GenomeDataConfig(**options, corpus_store=False), TOKENIZER)
    stored = build_genome_datasets(GenomeDataConfig(**options), TOKENIZER)
    assert stored[2] == in_ram[2] and len(stores(tmp_path / "corpora")) == 1
    for epoch in (0, 1, 5):
        for ram, store in zip(in_ram[:2], stored[:2]):
            ram.set_epoch(epoch)
            store.set_epoch(epoch)
            assert torch.equal(ram.input_ids(range(len(ram))), store.input_ids(range(len(store))))


def test_store_key_follows_the_content_not_the_path(tmp_path):
    corpora = tmp_path / "corpora"
    first = tmp_path / "a" / "genome.fa"
    first.parent.mkdir()
    first.write_bytes(b">r1\n" + b"ACGT" * 500 + b"\n>r2\n" + b"GGCCNNAT" * 100 + b"\n")
    store = prepare_corpus(first, corpora)
    moved = tmp_path / "b" / "renamed.fa"
    moved.parent.mkdir()
    shutil.copy(first, moved)
    assert prepare_corpus(moved, corpora) == store  # same bytes elsewhere: the same store, not prepared again
    assert open_corpus(store, [moved]).files == [moved]  # the run's own paths, for its card
    os.utime(first, ns=(1, 1))
    assert prepare_corpus(first, corpora) == store  # touched, same content: same store
    first.write_bytes(first.read_bytes().replace(b"ACGTACGT", b"ACGTACGA", 1))  # one base changed, same size
    changed = prepare_corpus(first, corpora)
    assert changed != store and open_corpus(changed).content_hash() != open_corpus(store).content_hash()
    other = tmp_path / "other.fa"
    other.write_bytes(b">r3\n" + b"TTGCA" * 400 + b"\n")
    assert prepare_corpus([first, other], corpora) != prepare_corpus([other, first], corpora)  # order matters
    assert len(stores(corpora)) == 4


def test_malformed_input_leaves_no_store(tmp_path):
    good, bad = tmp_path / "good.fa", tmp_path / "bad.fa"
    good.write_bytes(b">r1\n" + b"ACGT" * 100 + b"\n")
    bad.write_bytes(b">r2\nACGT\nAC*GT\n")
    with pytest.raises(FastaFormatError, match=r"bad\.fa: line 3: invalid character '\*'"):
        prepare_corpus([good, bad], tmp_path / "corpora")
    assert [p.name for p in (tmp_path / "corpora").iterdir() if p.is_dir()] == ["digests"]


def test_a_corpus_dir_that_is_a_file_is_refused_before_anything_is_written(tmp_path):
    blocker = tmp_path / "corpora"
    blocker.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match=r"--corpus_dir .*corpora is a file: give a folder"):
        GenomeDataConfig(corpus_dir=str(blocker))
    with pytest.raises(NotADirectoryError, match=r"--corpus_dir .*sub would be inside .*corpora, which is a file"):
        prepare_corpus(LAMBDA, blocker / "sub")
    assert [p.name for p in tmp_path.iterdir()] == ["corpora"]


# Prepares a store in a fresh process that pauses (writes the marker file argv[3], sleeps) just before its temporary folder is
# renamed into place: everything is written, nothing is published.
_PAUSED_PREPARE = """
import os, sys, time
from pathlib import Path
from modeling_randommask.data.corpus_store import prepare_corpus
real_replace = os.replace
def replace(src, dst, *args, **kwargs):
    if Path(src).name.startswith(".tmp-"):
        Path(sys.argv[3]).write_text("paused")
        time.sleep(600)
    return real_replace(src, dst, *args, **kwargs)
os.replace = replace
prepare_corpus(sys.argv[1], sys.argv[2])
"""


@pytest.mark.slow
def test_a_crash_mid_prepare_leaves_no_store_that_looks_complete(tmp_path):
    corpora, marker = tmp_path / "corpora", tmp_path / "paused"
    process = run_script([str(ECOLI), str(corpora), str(marker)], program=("-c", _PAUSED_PREPARE))
    kill_when_paused(process, marker)
    left = [p for p in corpora.iterdir() if p.is_dir() and p.name != "digests"]
    assert [p.name[:5] for p in left] == [".tmp-"] and (left[0] / INFO_FILE).is_file()  # written, not published
    assert not stores(corpora)
    store = prepare_corpus(ECOLI, corpora)  # the next preparer removes the leftover and publishes a whole store
    assert stores(corpora) == [store] and not left[0].exists()
    assert np.array_equal(open_corpus(store).sequence, read_genome(ECOLI).sequence)


_MAP_ONE_STORE = """
import sys
from modeling_randommask.data.corpus_store import load_genome
genome = load_genome(sys.argv[1:3], sys.argv[3])
print(genome.sequence.filename, genome.content_hash(), int(genome.sequence[::4096].astype(int).sum()))
"""


@pytest.mark.slow
def test_two_processes_started_together_prepare_once_and_map_one_store(tmp_path):
    corpora = tmp_path / "corpora"
    args = [str(ECOLI), str(messy_fasta(tmp_path / "messy.fa.gz")), str(corpora)]
    processes = [run_script(args, program=("-c", _MAP_ONE_STORE)) for _ in range(2)]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    lines = [output.strip().splitlines()[-1].split() for output in outputs]
    (store,) = stores(corpora)
    assert lines[0] == lines[1] and lines[0][0] == str(store / BASES_FILE)
    assert lines[0][1] == read_genome(args[:2]).content_hash()


def test_a_pipe_is_read_into_ram(tmp_path):
    fifo = tmp_path / "genome.fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen([sys.executable, "-c", f"open({str(fifo)!r}, 'wb').write(b'>p\\n' + b'ACGT' * 50)"])
    genome = load_genome(fifo, tmp_path / "corpora")
    writer.wait(timeout=60)
    assert not isinstance(genome.sequence, np.memmap) and genome.num_bases == 200
    assert not (tmp_path / "corpora").exists()


@pytest.mark.slow
def test_prepare_command_names_the_store_and_the_next_step(tmp_path):
    corpora = tmp_path / "corpora"
    done = run_script(["--genome", str(LAMBDA), "--corpus_dir", str(corpora)],
                      program=(str(REPO / "examples" / "prepare_corpus.py"),))
    output = done.communicate(timeout=300)[0]
    assert done.returncode == 0, output
    (store,) = stores(corpora)
    assert f"prepared corpus {store}: 48,502 bases in 1 records from 1 files" in output
    assert f"Next: accelerate launch examples/pretrain.py --genome {LAMBDA} --corpus_dir {corpora}" in output
    missing = run_script(["--genome", str(tmp_path / "none.fa")],
                         program=(str(REPO / "examples" / "prepare_corpus.py"),)).communicate(timeout=300)[0]
    assert missing.strip().endswith(f"error: {tmp_path / 'none.fa'}: no such FASTA file or folder")


def _stack(features):
    return torch.stack([feature["input_ids"] for feature in features])


@pytest.mark.slow
def test_spawned_workers_map_the_store_again_instead_of_copying_it(tmp_path):
    config = GenomeDataConfig(genome=[str(LAMBDA)], max_length=40, corpus_dir=str(tmp_path / "corpora"))
    train, _, _ = build_genome_datasets(config, TOKENIZER)
    train.set_epoch(2)
    pickled = pickle.dumps(train)
    in_ram = build_genome_datasets(GenomeDataConfig(**{**vars(config), "corpus_store": False}), TOKENIZER)[0]
    assert len(pickle.dumps(in_ram)) - len(pickled) >= train.sequence.numel()  # the path travels, not the bases
    copy = pickle.loads(pickled)
    assert copy.mapped_file == train.mapped_file and torch.equal(copy.input_ids(range(64)), train.input_ids(range(64)))
    loader = DataLoader(train, batch_size=16, num_workers=1, multiprocessing_context="spawn", collate_fn=_stack)
    batches = [batch for _, batch in zip(range(2), loader)]
    assert torch.equal(torch.cat(batches), train.input_ids(range(32)))
    assert not train.sequence.is_shared()  # not moved into shared memory: the workers mapped the file


# ---- per-genome weights -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_genomes():
    return read_genome([ECOLI, LAMBDA])


def _weighted(genome, weights, **options):
    config = GenomeDataConfig(genome=["unused"], max_length=130, genome_weights=weights, **options)
    return build_genome_datasets(config, TOKENIZER, genome=genome)


def test_equal_weights_give_each_file_half_of_every_epoch(two_genomes):
    plain, _, plain_stats = _weighted(two_genomes, ["bases"])
    train, val, stats = _weighted(two_genomes, ["equal"])
    assert len(train) == len(plain)  # the epoch keeps its length
    lambda_slots = set(plain.slots[plain.file_slots[1]:].tolist())
    for epoch in (0, 1):
        train.set_epoch(epoch)
        starts = train.window_starts(range(len(train))).numpy() - train.offset
        from_lambda = np.isin(starts, list(lambda_slots))
        assert from_lambda.sum() == len(train) // 2  # exactly the quota (len is even here)
        assert set(starts[from_lambda].tolist()) == lambda_slots  # every lambda window, repeated
    train.set_epoch(0)
    first = train.window_starts(range(len(train)))
    train.set_epoch(1)
    second = train.window_starts(range(len(train)))
    train.set_epoch(0)
    assert torch.equal(train.window_starts(range(len(train))), first)  # a pure function of (seed, epoch)
    assert not torch.equal(first - first.min(), second - second.min())  # another draw each epoch
    assert [g["sampling_share"] for g in stats["genomes"]] == [0.5, 0.5] and stats["genome_weights"] == "equal"
    shares = [g["sampling_share"] for g in plain_stats["genomes"]]
    assert shares[0] > 0.98 and abs(sum(shares) - 1) < 1e-5
    assert torch.equal(val.input_ids(range(len(val))), _weighted(two_genomes, ["bases"])[1].input_ids(range(len(val))))


def test_explicit_weights_and_their_errors(two_genomes):
    train, _, stats = _weighted(two_genomes, ["3", "1"])
    starts = train.window_starts(range(len(train))).numpy()
    assert (starts < two_genomes.starts[1]).sum() == round(0.75 * len(train))
    assert [g["sampling_share"] for g in stats["genomes"]] == [0.75, 0.25]
    with pytest.raises(ValueError, match=r"3 numbers for 2 genome files \(ecoli_k12_mg1655\.fa\.gz, "
                                         r"lambda_NC_001416\.fa\.gz\)"):
        _weighted(two_genomes, ["1", "1", "1"])
    for bad in (["many"], ["-1", "2"], ["0", "0"], ["nan", "1"]):
        with pytest.raises(ValueError, match="--genome_weights"):
            GenomeDataConfig(genome_weights=bad)


# ---- pretraining over a store --------------------------------------------------------------------------------------

def _losses(folder: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_log(folder) if "loss" in r and "event" not in r}


@pytest.mark.slow
def test_resume_over_a_store_equals_an_uninterrupted_in_ram_run(tmp_path):
    """Today's path (read into RAM, never interrupted) against the store's (killed before update 7, resumed): the
    same losses, and the same final weights bit for bit. The killed run pauses at update 7 and writes a marker, so
    the kill lands between checkpoints every time (step-4 complete, step-8 not written), not by a polling race."""
    in_ram, stored = tmp_path / "in_ram", tmp_path / "stored"
    quick = [*QUICK_PRETRAIN, "--corpus_dir", str(tmp_path / "corpora")]
    assert run_script([*quick, "--no_corpus_store", "--output_dir", str(in_ram)]).wait(timeout=600) == 0
    kill_when_paused(*run_paused([*quick, "--output_dir", str(stored)], tmp_path, "optimizer_step", "7"))
    assert stores(tmp_path / "corpora") and (stored / "checkpoints" / "latest").read_text() == "step-00000004"
    assert not (stored / "model.safetensors").exists()
    resumed = run_script([*quick, "--output_dir", str(stored), "--resume_from_checkpoint", "latest"])
    output = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, output
    assert _losses(stored) == _losses(in_ram) and len(_losses(in_ram)) == 12
    final_ram, final_stored = load_file(in_ram / "model.safetensors"), load_file(stored / "model.safetensors")
    assert final_ram.keys() == final_stored.keys()
    assert all(torch.equal(final_ram[k], final_stored[k]) for k in final_ram)
    start = json.loads((stored / "training_log.jsonl").read_text().splitlines()[0])
    assert start["data"]["content_sha256"] == read_genome(LAMBDA).content_hash()


@pytest.mark.slow
def test_weighted_run_resumes_exactly_and_its_card_reports_the_mix(tmp_path):
    from modeling_randommask.training.pretrain_arguments import parse_args
    from modeling_randommask.training.pretraining import pretrain

    out = tmp_path / "run"
    options = [*QUICK_PRETRAIN, "--genome", str(LAMBDA), str(ECOLI), "--genome_weights", "equal",
               "--output_dir", str(out)]
    pretrain(*parse_args(options))
    copy = Path(shutil.copytree(out, tmp_path / "copy"))
    pretrain(*parse_args([*options, "--output_dir", str(copy), "--resume_from_checkpoint",
                          str(copy / "checkpoints" / "step-00000008")]))
    assert _losses(copy) == _losses(out) and len(_losses(out)) == 12
    data = read_log(out)[0]["data"]
    assert [g["sampling_share"] for g in data["genomes"]] == [0.5, 0.5] and data["genome_weights"] == "equal"
    card = (out / "README.md").read_text()
    windows = [f"{g['train_windows']:,}" for g in data["genomes"]]
    assert f"| lambda_NC_001416.fa.gz | 48,502 | {windows[0]} | 0.5 |" in card
    assert f"| ecoli_k12_mg1655.fa.gz | 4,639,675 | {windows[1]} | 0.5 |" in card


# ---- integrity: structure at every open, content on request ------------------------------------------------------

def _edit_info(store: Path, change) -> None:
    info = json.loads((store / INFO_FILE).read_text())
    change(info)
    (store / INFO_FILE).write_text(json.dumps(info))


def _damaged_copy(store: Path, tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(store, tmp_path / name))


def _move_first_boundary(info: dict) -> None:  # consistent: every size still adds up
    info["lengths"][0] += 10
    info["starts"][1] += 10
    info["lengths"][1] -= 10


DAMAGE = {  # name: (how, the file the error names, what it says)
    "bases truncated": (lambda s: (s / BASES_FILE).write_bytes((s / BASES_FILE).read_bytes()[:-7]), BASES_FILE,
                        "bases, corpus.json records"),
    "record table past the end": (lambda s: _edit_info(s, lambda i: i["lengths"].__setitem__(-1, i["lengths"][-1] + 50)),
                                  INFO_FILE, "record table"),
    "a start moved alone": (lambda s: _edit_info(s, lambda i: i["starts"].__setitem__(2, i["starts"][2] + 3)),
                            INFO_FILE, "record table"),
    "missing key": (lambda s: _edit_info(s, lambda i: i.pop("lengths")), INFO_FILE, "'lengths'"),
    "not JSON": (lambda s: (s / INFO_FILE).write_text('{"format": 2,'), INFO_FILE, "not valid JSON"),
    "bad runs.npy": (lambda s: (s / RUNS_FILE).write_bytes(b"not numpy"), RUNS_FILE, "runs.npy"),
    "emptied runs": (lambda s: np.save(s / RUNS_FILE, np.zeros((2, 0), np.int64)), RUNS_FILE,
                     "differ from what was prepared"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_store_is_refused_at_every_open_naming_the_file(tmp_path, damage):
    store = prepare_corpus(messy_fasta(tmp_path / "messy.fa.gz"), tmp_path / "corpora")
    damaged = _damaged_copy(store, tmp_path, "damaged")
    how, named, says = DAMAGE[damage]
    how(damaged)
    with pytest.raises(CorpusStoreError) as error:
        open_corpus(damaged)
    assert f"{damaged / named}:" in str(error.value) and says in str(error.value), str(error.value)
    assert "prepare again" in str(error.value)


def test_edited_content_is_found_by_the_content_check_and_never_recorded_as_the_prepared_one(tmp_path):
    genome = messy_fasta(tmp_path / "messy.fa.gz")
    store = prepare_corpus(genome, tmp_path / "corpora")
    prepared = open_corpus(store).content_hash()
    edited = _damaged_copy(store, tmp_path, "edited")
    with open(edited / BASES_FILE, "r+b") as handle:  # one base, same size: every structural check passes
        handle.seek(1000)
        base = handle.read(1)
        handle.seek(1000)
        handle.write(b"A" if base != b"A" else b"C")
    moved = _damaged_copy(store, tmp_path, "moved")
    _edit_info(moved, _move_first_boundary)
    for damaged in (edited, moved):
        assert open_corpus(damaged).num_bases  # structure intact: opens (cheap checks only)
        with pytest.raises(CorpusStoreError, match=rf"{re.escape(str(damaged / BASES_FILE))}: content differs from "
                                                   r"what was prepared.*delete .* and prepare again"):
            open_corpus(damaged, verify=True)
    assert open_corpus(store, verify=True).content_hash() == prepared == read_genome(genome).content_hash()


def test_a_pretraining_run_over_an_edited_store_is_refused_before_training(tmp_path):
    from modeling_randommask.training.pretrain_arguments import parse_args
    from modeling_randommask.training.pretraining import pretrain

    corpora = tmp_path / "corpora"
    store = prepare_corpus(LAMBDA, corpora)
    with open(store / BASES_FILE, "r+b") as handle:
        handle.write(b"N" * 64)
    out = tmp_path / "run"
    with pytest.raises(CorpusStoreError, match="content differs from what was prepared"):
        pretrain(*parse_args([*QUICK_PRETRAIN, "--corpus_dir", str(corpora), "--output_dir", str(out)]))
    assert not (out / "model.safetensors").exists() and not (out / "training_log.jsonl").exists()


def test_prepare_command_verifies_on_request(tmp_path, capsys):
    corpora = tmp_path / "corpora"
    args = CorpusArguments(genome=[str(LAMBDA)], corpus_dir=str(corpora))
    assert "verified" not in prepare(args)
    line = prepare(CorpusArguments(genome=[str(LAMBDA)], corpus_dir=str(corpora), verify=True))
    assert re.search(r"content verified \(SHA-256 of 48,502 bases\) in [\d.]+ s", line), line
    (store,) = stores(corpora)
    with open(store / BASES_FILE, "r+b") as handle:
        handle.write(b"T")
    assert "prepared corpus" in prepare(args)  # not asked: structure only
    with pytest.raises(CorpusStoreError, match="content differs"):
        prepare(CorpusArguments(genome=[str(LAMBDA)], corpus_dir=str(corpora), verify=True))


@pytest.mark.parametrize("wrong", [["--verify", "maybe"], ["--verif"], ["--verify", "1", "2"]])
def test_verify_given_wrong_is_a_usage_error(wrong, capsys):
    with pytest.raises(SystemExit) as stop:
        parse_cli(CorpusArguments, ["--genome", str(LAMBDA), *wrong])
    assert stop.value.code == 2 and "error:" in capsys.readouterr().err


# ---- pipes and leftovers --------------------------------------------------------------------------------------------

def _fifo_writing(path: Path, data: bytes) -> subprocess.Popen:
    os.mkfifo(path)
    return subprocess.Popen([sys.executable, "-c", f"open({str(path)!r}, 'wb').write({data!r})"])


def test_a_pipe_is_prepared_reading_it_once(tmp_path):
    """The pipe was read to its end for its digest, then parsed from nothing: "empty file"."""
    data = gzip.decompress(LAMBDA.read_bytes())
    corpora = tmp_path / "corpora"
    writer = _fifo_writing(tmp_path / "genome.fifo", data)
    store = prepare_corpus(tmp_path / "genome.fifo", corpora)
    writer.wait(timeout=60)
    plain = tmp_path / "genome.fa"
    plain.write_bytes(data)
    assert prepare_corpus(plain, corpora) == store  # the same bytes: the same key, prepared once
    assert open_corpus(store, verify=True).content_hash() == read_genome(LAMBDA).content_hash()
    assert json.loads((store / INFO_FILE).read_text())["files"][0]["bytes"] == len(data)
    writer = _fifo_writing(tmp_path / "again.fifo", data)  # a pipe whose store exists: read, then discarded
    assert prepare_corpus(tmp_path / "again.fifo", corpora) == store
    writer.wait(timeout=60)
    assert stores(corpora) == [store] and not list(corpora.glob(".tmp-*"))
    writer = _fifo_writing(tmp_path / "cli.fifo", data)
    line = prepare(CorpusArguments(genome=[str(tmp_path / "cli.fifo")], corpus_dir=str(corpora)))
    writer.wait(timeout=60)
    assert f"prepared corpus {store}: 48,502 bases in 1 records" in line
    assert "--genome <the same data as files>" in line and "reads a pipe into RAM" in line


def test_orphaned_temporary_stores_are_removed_or_listed(tmp_path, caplog):
    corpora = tmp_path / "corpora"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    orphan = corpora / f".tmp-{'0' * 32}-{host}-{gone.pid}"  # another key, its preparer gone
    running = corpora / f".tmp-{'1' * 32}-{host}-{os.getpid()}"  # its preparer alive: kept
    elsewhere = corpora / f".tmp-unkeyed-some-other-host-{gone.pid}"  # cannot be told from here: listed
    for folder in (orphan, running, elsewhere):
        folder.mkdir(parents=True)
        (folder / BASES_FILE).write_bytes(b"A" * 1000)
    with caplog.at_level("WARNING"):
        line = prepare(CorpusArguments(genome=[str(LAMBDA)], corpus_dir=str(corpora)))
    assert not orphan.exists() and running.exists() and elsewhere.exists()
    assert f"removed {orphan}" in caplog.text
    assert f"{elsewhere} (1,000 bytes; its preparer ran on some-other-host" in line


@pytest.mark.slow
def test_prepare_command_reads_a_process_substitution_once(tmp_path):
    """``prepare_corpus.py --genome <(zcat x.fa.gz)`` read /dev/fd/N to its end for the digest, then reported the
    data as an "empty file"."""
    corpora = tmp_path / "corpora"
    command = (f"{sys.executable} {REPO / 'examples' / 'prepare_corpus.py'} --genome <(zcat {LAMBDA}) "
               f"--corpus_dir {corpora}")
    done = subprocess.run(["bash", "-c", command], check=False,
                          env=dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (store,) = stores(corpora)
    assert f"prepared corpus {store}: 48,502 bases in 1 records" in done.stdout
    assert open_corpus(store, verify=True).content_hash() == read_genome(LAMBDA).content_hash()
