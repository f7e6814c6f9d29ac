"""Corpora beyond FASTA: text files, task tables (CSV/TSV/parquet, the sequence column only), Hugging Face datasets
(a save_to_disk folder, a local folder of data files, a Hub id served by a local server speaking the Hub API). FASTA's rules hold for each, errors
name the file and line or the dataset and row, and the store's key follows every input's content."""

import gzip
import io
import logging
import subprocess
import sys

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import QUICK_PRETRAIN, REPO, lambda_dna, read_log, run_script
from local_hub import hub_env, start_hub

from modeling_randommask.data.corpus_store import load_sources, prepare_store
from modeling_randommask.data.genome_windows import GenomeDataConfig, build_genome_datasets
from modeling_randommask.data.sequence_sources import SequenceSourceError, corpus_sources
from modeling_randommask.tokenization import KmerTokenizer
from modeling_randommask.training.checkpoints import CheckpointError
from modeling_randommask.training.pretrain_arguments import parse_args
from modeling_randommask.training.pretraining import pretrain

SEQUENCES = [lambda_dna(1000 * i, 120 + 7 * i) for i in range(30)]


def _genome(sources, corpus_dir, use_store=True):
    return load_sources(sources, corpus_dir, use_store)


def _records(genome) -> list[str]:
    return [genome.record(name) for name in genome.names]


def test_text_file_one_sequence_per_line_under_fastas_rules(tmp_path, caplog):
    lines = [SEQUENCES[0], SEQUENCES[1].lower(), "ACGTNNRYACGT  ACG\r", "", SEQUENCES[2]]
    path = tmp_path / "reads.txt.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode() + b"\n"))
    for use_store in (True, False):
        with caplog.at_level(logging.WARNING):
            genome = _genome(corpus_sources([], [str(path)], None), tmp_path / "corpora", use_store)
        assert _records(genome) == [SEQUENCES[0], SEQUENCES[1], "ACGTNNRYACGTACG", SEQUENCES[2]]
        assert genome.names == ["reads.txt.gz:1", "reads.txt.gz:2", "reads.txt.gz:3", "reads.txt.gz:5"]
        assert genome.skipped_records == ["reads.txt.gz:reads.txt.gz:4"]
        assert "line 4: record 'reads.txt.gz:4' has no sequence; skipped" in caplog.text

    bad = tmp_path / "bad.txt"
    bad.write_text(f"{SEQUENCES[0]}\nACGT-ACGT\n")
    with pytest.raises(SequenceSourceError, match=r"bad.txt: line 2: invalid character '-'"):
        _genome(corpus_sources([], [str(bad)], None), tmp_path / "corpora")
    bad.write_text(">chr1\nACGT\n")
    with pytest.raises(SequenceSourceError, match=r"bad.txt: line 1: a FASTA header line: give FASTA files with "
                                                  "--genome"):
        _genome(corpus_sources([], [str(bad)], None), tmp_path / "corpora")


def _task_folder(tmp_path):
    """A GUE-like task: train.csv (sequence, label) with one DNABERT k-mer row; dev.csv that must never be read."""
    folder = tmp_path / "task"
    folder.mkdir()
    kmers = " ".join(SEQUENCES[3][i : i + 6] for i in range(len(SEQUENCES[3]) - 5))
    rows = [f"{SEQUENCES[i]},{i % 2}" for i in range(3)] + [f"{kmers},1"]
    (folder / "train.csv").write_text("sequence,label\n" + "\n".join(rows) + "\n")
    (folder / "dev.csv").write_text(f"sequence,label\n{SEQUENCES[20]},0\n")
    return folder


def test_task_tables_give_only_the_train_split_sequence_column(tmp_path):
    folder = _task_folder(tmp_path)
    genome = _genome(corpus_sources([], [str(folder)], None), tmp_path / "corpora")
    assert _records(genome) == SEQUENCES[:4]  # labels never read as DNA, k-mers joined, dev never read
    assert genome.names[0] == "task/train.csv:2"  # the file's line

    table = pa.table({"label": [0, 1, 0], "seq": [SEQUENCES[5], None, SEQUENCES[6].lower()]})
    pq.write_table(table, tmp_path / "train.parquet")
    genome = _genome(corpus_sources([], [str(tmp_path / "train.parquet")], None, sequence_column="seq"),
                     tmp_path / "corpora")
    assert _records(genome) == [SEQUENCES[5], SEQUENCES[6]] and genome.skipped_records == [
        "train.parquet:train.parquet:1"]

    with pytest.raises(SequenceSourceError, match=r"train.parquet: no column 'sequence' among \['label', 'seq'\]"):
        _genome(corpus_sources([], [str(tmp_path / "train.parquet")], None), tmp_path / "corpora")
    tsv = tmp_path / "amplicons.tsv"
    tsv.write_text(f"id\tsequence\nA\t{SEQUENCES[0]}\nB\tACGTQ\n")
    with pytest.raises(SequenceSourceError, match=r"amplicons.tsv: line 3: invalid character 'Q'"):
        _genome(corpus_sources([], [str(tsv)], None), tmp_path / "corpora")
    pq.write_table(pa.table({"sequence": [1, 2]}), tmp_path / "numbers.parquet")
    with pytest.raises(SequenceSourceError, match=r"numbers.parquet: row 0: the sequence column holds int"):
        _genome(corpus_sources([], [str(tmp_path / "numbers.parquet")], None), tmp_path / "corpora")
    with pytest.raises(FileNotFoundError, match="holds no train.csv"):
        corpus_sources([], [str(tmp_path / "corpora")], None)


def test_datasets_saved_to_disk_and_local_data_files(tmp_path):
    splits = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"sequence": SEQUENCES[:10], "label": list(range(10))}),
        "test": datasets.Dataset.from_dict({"sequence": SEQUENCES[10:12], "label": [0, 1]})})
    splits.save_to_disk(tmp_path / "saved")
    genome = _genome(corpus_sources([], [], str(tmp_path / "saved")), tmp_path / "corpora")
    assert _records(genome) == SEQUENCES[:10] and genome.names[0] == "saved:0"
    genome = _genome(corpus_sources([], [], str(tmp_path / "saved"), dataset_split="test"), tmp_path / "corpora")
    assert _records(genome) == SEQUENCES[10:12]
    with pytest.raises(SequenceSourceError, match=r"no split 'dev' \(it has train, test\)"):
        _genome(corpus_sources([], [], str(tmp_path / "saved"), dataset_split="dev"), tmp_path / "corpora")

    data = tmp_path / "hub_layout" / "data"
    data.mkdir(parents=True)
    pq.write_table(pa.table({"sequence": SEQUENCES[12:20], "species": ["x"] * 8}), data / "train-00000.parquet")
    genome = _genome(corpus_sources([], [], str(tmp_path / "hub_layout")), tmp_path / "corpora")
    assert _records(genome) == SEQUENCES[12:20]

    datasets.Dataset.from_dict({"sequence": [SEQUENCES[0], "ACGU?"]}).save_to_disk(tmp_path / "bad")
    with pytest.raises(SequenceSourceError, match=r"dataset .*bad \(split train\): row 1: invalid character '\?'"):
        _genome(corpus_sources([], [], str(tmp_path / "bad")), tmp_path / "corpora")


def test_a_hub_id_that_cannot_be_resolved_is_named():
    with pytest.raises(SequenceSourceError, match=r"--dataset_name someone/no-such-dataset: no such local folder, and "
                                                  "as a Hub dataset it could not be resolved"):
        prepare_store(corpus_sources([], [], "someone/no-such-dataset"))


HUB_REPO = "tester/dna-corpus"


def _parquet(sequences: list[str]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"sequence": sequences, "label": [1] * len(sequences)}), buffer)
    return buffer.getvalue()


@pytest.fixture
def dataset_hub():
    server = start_hub()
    server.repos[f"datasets/{HUB_REPO}"] = {"data/train-00000-of-00001.parquet": _parquet(SEQUENCES[:20])}
    server.commits[f"datasets/{HUB_REPO}"] = "1" * 40
    yield server
    server.shutdown()


@pytest.mark.slow
def test_hub_dataset_is_streamed_into_the_store_and_a_new_commit_is_a_new_store(dataset_hub, tmp_path):
    """Against a local server speaking the Hub API (``HF_ENDPOINT``, read when huggingface_hub is imported: a child
    process): the split is streamed into the store, pretraining runs on it, and a new commit gives a new store."""
    env = hub_env(dataset_hub, tmp_path / "hf_home", REPO)
    code = ("import sys; from modeling_randommask.data.corpus_store import load_sources, prepare_store; "
            "from modeling_randommask.data.sequence_sources import corpus_sources; "
            f"sources = corpus_sources([], [], {HUB_REPO!r}); store = prepare_store(sources, sys.argv[1]); "
            "genome = load_sources(sources, sys.argv[1]); "
            "print(store.name, [genome.record(n) for n in genome.names] == sys.argv[2:], genome.names[0])")

    def prepare() -> list[str]:
        run = subprocess.run([sys.executable, "-c", code, str(tmp_path / "corpora"), *SEQUENCES[:20]], env=env,
                             capture_output=True, text=True, timeout=300, check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        return run.stdout.split()

    store, same, first = prepare()
    assert same == "True" and first == "dna-corpus:0"
    assert prepare()[0] == store
    dataset_hub.commits[f"datasets/{HUB_REPO}"] = "2" * 40  # a new commit, same data files: keyed by the commit, so prepared anew
    assert prepare()[0] != store

    out = tmp_path / "run"
    run = subprocess.run([sys.executable, str(REPO / "examples" / "pretrain.py"), "--dataset_name", HUB_REPO,
                          "--max_length", "64", "--per_device_train_batch_size", "4", "--max_steps", "2",
                          "--num_phases", "1", "--warmup_steps", "1", "--val_fraction", "0.05",
                          "--corpus_dir", str(tmp_path / "corpora"), "--output_dir", str(out)],
                         env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"| dna-corpus | {sum(map(len, SEQUENCES[:20])):,} |" in (out / "README.md").read_text()


def test_store_key_follows_each_inputs_content(tmp_path):
    text = tmp_path / "reads.txt"
    text.write_text("\n".join(SEQUENCES[:5]) + "\n")
    datasets.Dataset.from_dict({"sequence": SEQUENCES[5:8]}).save_to_disk(tmp_path / "saved")
    corpora = tmp_path / "corpora"
    first = prepare_store(corpus_sources([], [str(text)], str(tmp_path / "saved")), corpora)
    assert prepare_store(corpus_sources([], [str(text)], str(tmp_path / "saved")), corpora) == first
    datasets.Dataset.from_dict({"sequence": SEQUENCES[5:9]}).save_to_disk(tmp_path / "saved2")
    assert prepare_store(corpus_sources([], [str(text)], str(tmp_path / "saved2")), corpora) != first
    text.write_text("\n".join(SEQUENCES[:4]) + "\n")
    assert prepare_store(corpus_sources([], [str(text)], str(tmp_path / "saved")), corpora) != first
    table = tmp_path / "t.csv"
    table.write_text(f"a,b\n{SEQUENCES[0]},{SEQUENCES[1]}\n")
    assert prepare_store(corpus_sources([], [str(table)], None, sequence_column="a"), corpora) != prepare_store(
        corpus_sources([], [str(table)], None, sequence_column="b"), corpora)


@pytest.mark.slow
def test_pretraining_mixes_every_kind_of_source_and_a_changed_input_is_refused_on_resume(tmp_path):
    text = tmp_path / "reads.txt"
    text.write_text("\n".join(lambda_dna(150 * i, 101) for i in range(300)) + "\n")
    folder = _task_folder(tmp_path)
    datasets.Dataset.from_dict({"sequence": [lambda_dna(30_000 + 300 * i, 300) for i in range(40)]}).save_to_disk(
        tmp_path / "saved")
    out = tmp_path / "run"
    options = [*QUICK_PRETRAIN[2:], "--max_length", "64", "--genome", QUICK_PRETRAIN[1], "--train_file", str(text),
               str(folder), "--dataset_name", str(tmp_path / "saved"), "--genome_weights", "1", "1", "1", "1",
               "--max_steps", "4", "--save_every", "2", "--output_dir", str(out)]
    pretrain(*parse_args(options))
    start = next(r for r in read_log(out) if r.get("event") == "start")
    genomes = start["data"]["genomes"]
    assert [g["name"] for g in genomes] == ["lambda_NC_001416.fa.gz", "reads.txt", "train.csv", "saved"]
    assert all(g["train_windows"] > 0 for g in genomes) and np.allclose([g["sampling_share"] for g in genomes], 0.25,
                                                                         atol=0.01)
    assert "| saved |" in (out / "README.md").read_text()

    text.write_text("\n".join(lambda_dna(150 * i + 1, 101) for i in range(300)) + "\n")
    with pytest.raises(CheckpointError, match="genome"):
        pretrain(*parse_args([*options, "--resume_from_checkpoint",
                              "latest"]))
    config = GenomeDataConfig(train_file=[str(text)], max_length=64, val_fraction=0.05)
    train, _, stats = build_genome_datasets(config, KmerTokenizer(k=6))
    assert stats["skipped_short_records"] == 0 and len(train) > 250  # 101-bp reads: one window each


@pytest.mark.slow
def test_prepare_command_takes_the_same_inputs_and_prepares_the_store_pretraining_maps(tmp_path):
    text = tmp_path / "reads.txt"
    text.write_text("\n".join(SEQUENCES) + "\n")
    corpora = tmp_path / "corpora"
    done = run_script(["--train_file", str(text), "--sequence_column", "seq", "--corpus_dir", str(corpora)],
                      program=(str(REPO / "examples" / "prepare_corpus.py"),))
    output = done.communicate(timeout=300)[0]
    assert done.returncode == 0, output
    expected = prepare_store(corpus_sources([], [str(text)], None), corpora)  # already there: not prepared again
    assert f"prepared corpus {expected}: {sum(map(len, SEQUENCES)):,} bases in 30 records from 1 files" in output
    assert (f"Next: accelerate launch examples/pretrain.py --train_file {text} --sequence_column seq --corpus_dir "
            f"{corpora}") in output
