"""The bad-input contract in one place: every malformed input gets its documented rule or a clear error that names
the file and line (or the item), never a bare traceback from deep inside and never a silent drop.

Malformed FASTA content and broken gzip files are tested in test_genome_data (plain and gzip, file and line) and
not repeated here; other cases are also tested, in more depth, next to their module (test_task_data,
test_tokenizer, test_modeling).
"""

import bz2
import gzip
import logging
import lzma
import os
import re
import threading
import zlib
from pathlib import Path

import pytest
import torch
from conftest import LAMBDA, tiny_model
from synthetic_tasks import tiny_checkpoint
from transformers import BertConfig, TrainingArguments

from modeling_randommask.analysis.diagnostics import AnalyzeArguments, analyze
from modeling_randommask.analysis.reproduction import parse_reproduce_args
from modeling_randommask.configuration_randommask import RandomMaskConfig
from modeling_randommask.data import fasta, tasks
from modeling_randommask.data.fasta import FastaFormatError, read_genome
from modeling_randommask.data.genome_windows import GenomeDataConfig, build_genome_datasets
from modeling_randommask.data.options import USER_ERRORS, parse_cli
from modeling_randommask.data.tasks import build_datasets, load_task
from modeling_randommask.hub.checkpoint import load_masked_lm, save_checkpoint
from modeling_randommask.modeling_randommask import RandomMaskForMaskedLM
from modeling_randommask.tokenization import KmerTokenizer
from modeling_randommask.training.finetuning import FinetuneArguments, finetune, parse_finetune_args
from modeling_randommask.training.pretrain_arguments import PretrainArguments, parse_args
from modeling_randommask.training.pretraining import pretrain

UNK = 1


def at(name: str, line: int) -> str:
    """The error-message prefix that names a file and line."""
    return re.escape(f"{name}: line {line}:")


# ---- FASTA: read_genome / build_genome_datasets ---------------------------------------------------------------
# Malformed content, duplicate names, truncated and corrupt gzip: test_genome_data (plain and gzip, file and line).

def test_folder_without_fasta_and_missing_path(tmp_path):
    (tmp_path / "notes.txt").write_text("no FASTA here")
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path}: folder holds no FASTA files")):
        read_genome(tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'nope.fa'}: no such FASTA file")):
        read_genome(tmp_path / "nope.fa")


def test_crlf_parses_like_lf(tmp_path):
    lf = b">a first\nACGTN\nacgt\n>b\nGGCC\n"
    (tmp_path / "lf.fa").write_bytes(lf)
    (tmp_path / "crlf.fa").write_bytes(lf.replace(b"\n", b"\r\n"))
    one, two = read_genome(tmp_path / "lf.fa"), read_genome(tmp_path / "crlf.fa")
    assert one.names == two.names == ["a", "b"]
    assert one.record("a") == two.record("a") == "ACGTNACGT" and two.record("b") == "GGCC"


@pytest.mark.parametrize("encode", [lambda data: b"\xef\xbb\xbf" + data, lambda data: data.replace(b"\n", b"\r"),
                                    lambda data: gzip.compress(b"\xef\xbb\xbf" + data.replace(b"\n", b"\r"))],
                         ids=["UTF-8 BOM", "old Mac CR-only", "gzip of both"])
def test_bom_and_cr_only_line_ends_parse_like_plain_lf(tmp_path, encode):
    """A BOM used to read as "sequence before the first header"; CR-only files as one header line holding
    everything (an empty record, then "no record with sequence")."""
    lf = b">a first\nACGTN\nacgt\n>b\nGGCC\n"
    (tmp_path / "odd.fa").write_bytes(encode(lf))
    genome = read_genome(tmp_path / "odd.fa")
    assert genome.names == ["a", "b"] and genome.record("a") == "ACGTNACGT" and genome.record("b") == "GGCC"
    (tmp_path / "bad.fa").write_bytes(encode(b">a\nACGT\nAC1GT\n"))
    with pytest.raises(FastaFormatError, match=at("bad.fa", 3) + " invalid character '1'"):
        read_genome(tmp_path / "bad.fa")


@pytest.mark.parametrize("compress, name", [(bz2.compress, "bzip2"), (lzma.compress, "xz"),
                                            (lambda data: data.decode().encode("utf-16"), "UTF-16 text")])
def test_other_compressions_and_utf16_are_named(tmp_path, compress, name):
    (tmp_path / "genome.fa").write_bytes(compress(b">a\nACGTACGT\n"))
    with pytest.raises(FastaFormatError, match=at("genome.fa", 1) + f" {name}"):
        read_genome(tmp_path / "genome.fa")


def _fifo(tmp_path: Path, data: bytes) -> Path:
    """A named pipe that a thread fills with ``data``: what ``<(zcat genome.fa.gz)`` hands a program."""
    path = tmp_path / "pipe"
    os.mkfifo(path)

    def write():
        with open(path, "wb") as pipe:
            pipe.write(data)

    threading.Thread(target=write, daemon=True).start()
    return path


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_a_pipe_is_read_like_a_file(tmp_path, packed):
    """A FIFO / process substitution was reported as "no such FASTA file" (not a regular file); a gzip stream in it
    was opened twice (once for its magic bytes), which a pipe cannot do."""
    records = b"".join(b">r%d\n%s\n" % (i, b"ACGTTGCA" * 50) for i in range(300))
    genome = read_genome(_fifo(tmp_path, gzip.compress(records) if packed else records))
    assert genome.names[-1] == "r299" and genome.num_bases == 300 * 400


def test_a_truncated_gzip_stream_in_a_pipe_names_the_line_where_it_breaks(tmp_path):
    data = gzip.compress(b"".join(b">r%d\n%s\n" % (i, b"ACGTTGCA" * 50) for i in range(2000)))[:-200]
    line = zlib.decompressobj(wbits=31).decompress(data).count(b"\n") + 1  # a pipe is read once: no second pass
    with pytest.raises(FastaFormatError, match=at("pipe", line) + " unreadable data: truncated or corrupt gzip"):
        read_genome(_fifo(tmp_path, data))


def test_folder_says_what_it_did_not_read(tmp_path, caplog):
    """Folders used to skip unknown files silently; now every entry not read is listed (index and hidden files at
    INFO), .fas/.fsa are FASTA too, and a FASTA-named broken link is an error."""
    (tmp_path / "chr1.fa").write_bytes(b">chr1\nACGTACGT\n")
    (tmp_path / "chr2.fas").write_bytes(b">chr2\nGGGCCCAA\n")
    (tmp_path / "chr3.fa.bz2").write_bytes(bz2.compress(b">chr3\nACGT\n"))
    (tmp_path / "chr1.fa.fai").write_text("chr1\t8\t6\t8\t9\n")
    (tmp_path / "notes.txt").write_text("read me")
    (tmp_path / "more").mkdir()
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    with caplog.at_level(logging.INFO, logger=fasta.__name__):
        genome = read_genome(tmp_path)
    assert genome.names == ["chr1", "chr2"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"{tmp_path}: 4 entries not read: " in warnings[0]
    for expected in ("chr3.fa.bz2 (only gzip is read", "gone.txt (broken link)", "more/ (sub-folders are not searched",
                     "notes.txt (not a FASTA suffix"):
        assert expected in warnings[0], warnings[0]
    assert "index and hidden files not read: chr1.fa.fai" in caplog.text
    (tmp_path / "chr4.fa.gz").symlink_to(tmp_path / "moved" / "chr4.fa.gz")
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'chr4.fa.gz'}: broken link (it points to")):
        read_genome(tmp_path)


def test_lowercase_reads_as_uppercase_and_iupac_is_kept_as_unk_kmers(tmp_path):
    (tmp_path / "soft.fa").write_bytes(b">a\nacgtRYacgtac\nnnnnACGTAC\n")
    genome = read_genome(tmp_path / "soft.fa")
    assert genome.record("a") == "ACGTRYACGTACNNNNACGTAC"
    ids = KmerTokenizer(k=3).ids_from_ascii(torch.from_numpy(genome.sequence.copy())[None])[0]
    # 3-mers over R/Y (positions 2..5) and the N run are [UNK]; the rest are real k-mers
    assert ids[:2].ge(5).all() and ids[2:6].eq(UNK).all() and ids[6:10].ge(5).all()
    assert ids[10:16].eq(UNK).all() and ids[16:].ge(5).all()


def test_empty_record_is_skipped_with_a_warning_and_counted(tmp_path, caplog):
    extra = tmp_path / "extra.fa"
    extra.write_bytes(b">plasmid\n>tiny\nACGTACGTAC\n")
    config = GenomeDataConfig(genome=[LAMBDA, extra], max_length=40, val_fraction=0.05)
    with caplog.at_level(logging.WARNING, logger=fasta.__name__):
        _, _, stats = build_genome_datasets(config, KmerTokenizer(k=6))
    assert f"{extra}: line 1: record 'plasmid' has no sequence; skipped" in caplog.text
    assert stats["skipped_empty_records"] == 1 and stats["records"] == 2


def test_only_n_is_too_little_usable_sequence(tmp_path):
    (tmp_path / "gaps.fa").write_bytes(b">scaffold\n" + b"N" * 60 + b"\n" + b"n" * 5000 + b"\n")
    with pytest.raises(ValueError, match=r"gaps\.fa: too little usable sequence for windows of 43 bp "
                                         r"\(--max_length 40 tokens\): 0 training"):
        build_genome_datasets(GenomeDataConfig(genome=tmp_path / "gaps.fa", max_length=40), KmerTokenizer(k=6))


# ---- task CSV/TSV: load_task / build_datasets -------------------------------------------------------------------

GOOD = "sequence,label\nACGTACGTAC,0\nTTGACATTGA,1\nGGGCCCAAAT,0\n"


def write_task(folder: Path, train: str | None = GOOD, test: str | None = GOOD, dev: str | None = None,
               suffix: str = ".csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, text in (("train", train), ("dev", dev), ("test", test)):
        if text is not None:
            (folder / f"{split}{suffix}").write_text(text)
    return folder


TASK_ERRORS = [  # (case, train text, test text, exception, match)
    ("missing sequence column", "seq,label\nACGT,0\nACGG,1\n", GOOD, ValueError,
     at("train.csv", 1) + " no 'sequence' column"),
    ("missing label column", GOOD, "sequence,class\nACGT,0\n", ValueError,
     at("test.csv", 1) + r" label column\(s\) \['label'\] not in header"),
    ("non-numeric label", "sequence,label\nACGTAC,0\nACGTAA,yes\nACGTTT,1\n", GOOD, ValueError,
     at("train.csv", 3) + " label 'label' is not a number \\('yes'\\): labels are numbers, classes written 0..C-1"),
    ("missing label", "sequence,label\nACGTAC,0\nACGTAA,\nACGTTT,1\n", GOOD, ValueError,
     at("train.csv", 3) + " label 'label' is missing"),
    ("NaN label", GOOD, "sequence,label\nACGTAC,0\nACGTAA,nan\n", ValueError,
     at("test.csv", 3) + " label 'label' is not finite \\('nan'\\)"),
    ("inf label (regression)", "sequence,label\nACGTAC,0.5\nACGTAA,inf\n", GOOD, ValueError,
     at("train.csv", 3) + " label 'label' is not finite \\('inf'\\)"),
    ("empty sequence", "sequence,label\nACGTAC,0\n  ,1\nACGTTT,1\n", GOOD, ValueError,
     at("train.csv", 3) + " empty sequence"),
    ("non-base characters", GOOD, "sequence,label\nACG-TAC,0\n", ValueError,
     at("test.csv", 2) + " sequence holds '-'"),
    ("wrong number of fields", "sequence,label\nACGTAC,0\nACGTAA,1,extra\n", GOOD, ValueError,
     at("train.csv", 3) + " 3 fields, header has 2"),
    ("label in test unseen in train", GOOD, "sequence,label\nACGTAC,0\nACGTAA,2\n", ValueError,
     at("test.csv", 3) + " label 2 never occurs in the training split"),
    ("fractional class label in test", GOOD, "sequence,label\nACGTAC,0.5\n", ValueError,
     at("test.csv", 2) + " class label '0.5' is not a whole number"),
    ("header only", "sequence,label\n", GOOD, ValueError, r"train\.csv: no data rows after the header"),
    ("empty file", "", GOOD, ValueError, r"train\.csv: file is empty"),
    ("missing test file", GOOD, None, FileNotFoundError, r"no test split \(expected test\.csv"),
    ("missing train file", None, GOOD, FileNotFoundError, r"no train split \(expected train\.csv"),
]


@pytest.mark.parametrize("case, train, test, error, match", TASK_ERRORS, ids=[c[0] for c in TASK_ERRORS])
def test_malformed_task_files_raise_naming_file_and_line(tmp_path, case, train, test, error, match):
    with pytest.raises(error, match=match) as raised:
        load_task(write_task(tmp_path / "task", train=train, test=test))
    assert isinstance(raised.value, USER_ERRORS)  # a command reports it as one line, without a traceback


def test_sequence_longer_than_the_csv_field_limit_loads_and_is_truncated_with_a_warning(tmp_path, caplog):
    """Python's csv stops at 131,072 characters per field (`_csv.Error: field larger than field limit`, no file or
    line); docs/finetuning.md promises truncation with a warning, and the limit is restored afterwards."""
    import csv

    long = "ACGT" * 50_000  # 200,000 bases
    task = load_task(write_task(tmp_path / "task", train=f"sequence,label\nACGTAC,0\n{long},1\nGGGCCC,0\n"))
    assert task.sequences["train"][1] == long and csv.field_size_limit() == 131_072
    with caplog.at_level(logging.WARNING, logger=tasks.__name__):
        datasets = build_datasets(task, KmerTokenizer(k=6), model_max_length=512)
    assert "train.csv: line 3 (199997 tokens)" in caplog.text and "truncating" in caplog.text
    assert max(map(len, datasets["train"]["input_ids"])) == 512


@pytest.mark.parametrize("sequences, expected", [
    (["ACGUACGUAC", "UUGACAUUGA", "GGGCCCAAAU"], (r"train\.csv: 23\.3% of the bases are not A/C/G/T/N \(U 7\); the "
                                                r"k-mers holding them become \[UNK\] \(U: RNA\? write T for U\)")),
    (["MKVLAAGIEF", "ACGTACGTAC", "PQRSTWYACG"], r"train\.csv: 43\.3% of the bases are not A/C/G/T/N .*protein\?"),
], ids=["RNA", "protein"])
def test_rna_or_protein_letters_in_a_task_are_warned_with_their_share(tmp_path, caplog, sequences, expected):
    train = "sequence,label\n" + "".join(f"{seq},{i % 2}\n" for i, seq in enumerate(sequences))
    with caplog.at_level(logging.WARNING, logger=tasks.__name__):
        task = load_task(write_task(tmp_path / "task", train=train))
    assert re.search(expected, caplog.text) and any(re.search(expected, note) for note in task.notes)
    assert "test.csv" not in caplog.text  # the clean split gets no warning


def test_tsv_with_a_wrong_field_count_names_the_line(tmp_path):
    bad = "sequence\tlabel\nACGTAC\t0\nACGTAA\n"
    with pytest.raises(ValueError, match=at("train.tsv", 3) + " 1 fields, header has 2"):
        load_task(write_task(tmp_path / "task", train=bad, test=GOOD.replace(",", "\t"), suffix=".tsv"))


def test_task_file_that_is_not_utf8_text_names_the_line(tmp_path):
    folder = write_task(tmp_path / "task")
    (folder / "train.csv").write_bytes(b"sequence,label\nACGTAC,0\nACG\xff\xfeTAC,1\n")
    with pytest.raises(ValueError, match=at("train.csv", 3) + " not UTF-8 text"):
        load_task(folder)


def test_truncated_gzip_task_file_names_the_line(tmp_path):
    folder = write_task(tmp_path / "task", train=None)
    rows = "sequence,label\n" + "".join(f"ACGTACGTAC,{i % 2}\n" for i in range(20000))
    (folder / "train.csv.gz").write_bytes(gzip.compress(rows.encode())[:-300])
    with pytest.raises(ValueError, match=r"train\.csv\.gz: line \d+: unreadable data: truncated or corrupt gzip"):
        load_task(folder)


def test_missing_train_with_dev_says_how_to_use_dev(tmp_path):
    with pytest.raises(FileNotFoundError, match="pass missing_train='use_dev'"):
        load_task(write_task(tmp_path / "task", train=None, dev=GOOD))


def test_sequence_longer_than_the_model_truncates_with_warning_or_refuses(tmp_path, caplog):
    long = "sequence,label\nACGTAC,0\n" + "ACGT" * 40 + ",1\nGGGCCC,0\n"
    task = load_task(write_task(tmp_path / "task", train=long))
    tokenizer = KmerTokenizer(k=6)
    with caplog.at_level(logging.WARNING, logger=tasks.__name__):
        datasets = build_datasets(task, tokenizer, model_max_length=64)
    assert "first at " + str(tmp_path / "task" / "train.csv") + ": line 3" in caplog.text and "truncating" in caplog.text
    assert max(map(len, datasets["train"]["input_ids"])) == 64
    with pytest.raises(ValueError, match=r"train\.csv: line 3 \(157 tokens\); pass too_long='truncate'"):
        build_datasets(task, tokenizer, model_max_length=64, too_long="error")


# ---- tokenizer --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tok():
    return KmerTokenizer(k=6)


def test_tokenizer_empty_string_gives_cls_sep(tok):
    assert tok("")["input_ids"] == [tok.cls_token_id, tok.sep_token_id]
    assert tok(["", "  \n"])["input_ids"] == [[2, 3], [2, 3]]


@pytest.mark.parametrize("vectorised", [True, False], ids=["vectorised", "per-token"])
def test_tokenizer_empty_batch_gives_empty_outputs(tok, vectorised):
    tok.use_vectorized = vectorised
    try:
        assert tok([], padding=True)["input_ids"] == [] and tok([])["attention_mask"] == []
        batch = tok([], padding=True, truncation=True, return_tensors="pt")
        assert batch["input_ids"].shape == (0, 0) and batch["input_ids"].dtype == torch.int64
    finally:
        tok.use_vectorized = True


@pytest.mark.parametrize("call, match", [
    (lambda t: t("ACGTACGTAC", max_length=1, truncation=True), r"max_length=1 cannot hold the 2 special tokens"),
    (lambda t: t(["ACGTACGTAC"], max_length=0, truncation=True), r"max_length=0 cannot hold the 2 special tokens"),
    (lambda t: t("ACGTACGTAC", "ACGTAC", max_length=2, truncation=True), r"max_length=2 cannot hold the 3 special"),
    (lambda t: t("ACGTACGTAC", max_length=0, truncation=True, add_special_tokens=False), r"max_length=0 holds no token"),
    (lambda t: t(["ACGTACGTAC", "ACGT"], padding=True, pad_to_multiple_of=0), r"pad_to_multiple_of must be an int >= 1"),
    (lambda t: t.pad({"input_ids": [[2, 3], [2, 5, 3]]}, pad_to_multiple_of=-8), r"pad_to_multiple_of must be"),
    (lambda t: t("ACGTACGTAC", max_length=4, truncation=True, return_overflowing_tokens=True, stride=-1),
     r"stride \(the overflow stride\) must be >= 0"),
    (lambda t: KmerTokenizer(k=6, model_max_length=1), r"model_max_length must hold \[CLS\] and \[SEP\]"),
], ids=["max_length 1", "max_length 0", "pair max_length 2", "no specials max_length 0", "pad_to_multiple_of 0",
        "pad() pad_to_multiple_of -8", "negative overflow stride", "model_max_length 1"])
@pytest.mark.parametrize("vectorised", [True, False], ids=["vectorised", "per-token"])
def test_tokenizer_refuses_lengths_it_cannot_honour(tok, vectorised, call, match):
    """transformers would return [CLS] [SEP] for max_length=1 (2 tokens), not truncate at all for 0, and divide by
    zero for pad_to_multiple_of=0: each is refused, on both paths, before any work."""
    tok.use_vectorized = vectorised
    try:
        with pytest.raises(ValueError, match=match):
            call(tok)
    finally:
        tok.use_vectorized = True


@pytest.mark.parametrize("call, error, match", [
    (lambda t: t("ACGTÄCGT"), ValueError, r"non-ASCII character 'Ä' \(U\+00C4\) at position 4"),
    (lambda t: t(["ACGTACGT", "ACG\u200bTACGT"]), ValueError, r"U\+200B\) at position 3"),
    (lambda t: t(None), TypeError, "got None"),
    (lambda t: t(["ACGTACGT", None]), TypeError, r"text\[1\] is NoneType"),
    (lambda t: t(["ACGTACGT", float("nan")]), TypeError, r"text\[1\] is float \(nan\)"),
    (lambda t: t(b"ACGTACGT"), TypeError, "decode bytes first"),
    (lambda t: t.decode([2, -100, 3]), ValueError, r"token id -100 is outside the vocabulary"),
], ids=["non-ASCII", "non-ASCII in batch", "None", "None in batch", "float in batch", "bytes", "decode -100"])
def test_tokenizer_rejects_bad_items_naming_them(tok, call, error, match):
    with pytest.raises(error, match=match):
        call(tok)


# ---- checkpoints ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bert")
    BertConfig(vocab_size=4101, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=64).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("loader", [RandomMaskConfig.from_pretrained, RandomMaskForMaskedLM.from_pretrained],
                         ids=["config", "model"])
def test_another_model_type_is_refused_naming_folder_and_type(bert_folder, loader):
    with pytest.raises(ValueError, match=re.escape(f"{bert_folder} holds a checkpoint of model_type 'bert'")):
        loader(bert_folder)


@pytest.mark.parametrize("k, stride, match", [(5, 1, r"\(5, 1\) but the model was built for \(6, 1\)"),
                                              (6, 6, r"\(6, 6\) but the model was built for \(6, 1\)")])
def test_save_checkpoint_refuses_a_tokenizer_that_does_not_match(tmp_path, k, stride, match):
    model = tiny_model()
    with pytest.raises(ValueError, match=match):
        save_checkpoint(model, KmerTokenizer(k=k, kmer_stride=stride), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_tokenizer_of_other_kmers_beside_the_model_is_warned_on_load(tmp_path, caplog):
    """A k=5 tokenizer saved over a k=6 model's folder used to load without a word; its ids mean other k-mers."""
    save_checkpoint(tiny_model(), KmerTokenizer(k=6), tmp_path)
    with caplog.at_level(logging.WARNING):
        assert KmerTokenizer.from_pretrained(tmp_path).k == 6
    assert "this tokenizer reads" not in caplog.text
    KmerTokenizer(k=5).save_pretrained(tmp_path)
    expected = (f"{tmp_path}: this tokenizer reads 5-mers with stride 1, but the model saved beside it (config.json) "
                "was trained on 6-mers with stride 1")
    with caplog.at_level(logging.WARNING):
        assert KmerTokenizer.from_pretrained(tmp_path).k == 5
    assert expected in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _, tokenizer = load_masked_lm(tmp_path)
    assert tokenizer.k == 6 and expected in caplog.text  # the model's own k-mers are used


def test_damaged_weights_of_a_model_folder_are_named(tmp_path):
    save_checkpoint(tiny_model(), KmerTokenizer(k=6), tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ValueError, match=f"{re.escape(str(tmp_path))}: a .safetensors weights file is unreadable"):
        load_masked_lm(tmp_path)


def test_rna_genome_says_so_when_no_window_is_left(tmp_path):
    (tmp_path / "rna.fa").write_text(">r\n" + "ACGU" * 3000 + "\n")
    with pytest.raises(ValueError, match=r"rna\.fa: too little usable sequence .* non-ACGT: U 3,000; U is RNA"):
        build_genome_datasets(GenomeDataConfig(genome=tmp_path / "rna.fa", max_length=40), KmerTokenizer(k=6))


def test_finetune_into_a_folder_another_run_writes_is_refused(tmp_path):
    from modeling_randommask.training.output_lock import OutputDirInUseError, output_dir_lock

    out = tmp_path / "ft"
    model = tiny_checkpoint(tmp_path / "model")
    with output_dir_lock(out), pytest.raises(OutputDirInUseError, match=f"{re.escape(str(out))} is in use by another"):
        finetune(FinetuneArguments(model=str(model), task=str(write_task(tmp_path / "task"))),
                     TrainingArguments(output_dir=str(out), report_to="none"))
    assert [p.name for p in out.iterdir()] == [".randommask.lock"]  # the refused run wrote nothing


def test_finetune_from_a_non_randommask_folder_is_refused(tmp_path, bert_folder):
    args = FinetuneArguments(model=str(bert_folder), task=str(write_task(tmp_path / "task")))
    with pytest.raises(ValueError, match=re.escape(f"{bert_folder} holds a checkpoint of model_type 'bert'")):
        finetune(args, TrainingArguments(output_dir=str(tmp_path / "ft")))
    assert not (tmp_path / "ft" / "results.json").exists()


# ---- options: refused before any file is written ----------------------------------------------------------------

PRETRAIN_OPTION_ERRORS = [  # (extra argv, message)
    (["--save_every", "0"], "--save_every must be > 0, got 0"),
    (["--log_every", "0"], "--log_every must be > 0, got 0"),
    (["--eval_every", "-5"], "--eval_every must be > 0, got -5"),
    (["--eval_batches", "0"], "--eval_batches must be > 0"),
    (["--global_batch_size", "0"], "--global_batch_size must be > 0, got 0"),
    (["--per_device_train_batch_size", "0"], "--per_device_train_batch_size must be > 0"),
    (["--keep_checkpoints", "-1"], "--keep_checkpoints must be > 0, got -1"),
    (["--keep_checkpoints", "0"], "--keep_checkpoints must be > 0, got 0"),
    (["--max_steps", "0"], "--max_steps must be > 0"),
    (["--learning_rate", "-0.001"], "--learning_rate must be > 0"),
    (["--learning_rate", "nan"], "--learning_rate must be > 0, got nan"),
    (["--max_grad_norm", "0"], "--max_grad_norm must be > 0"),
    (["--max_consecutive_faults", "0"], "--max_consecutive_faults must be > 0"),
    (["--num_phases", "0"], "--num_phases must be > 0"),
    (["--warmup_steps", "-1"], "--warmup_steps must be >= 0"),
    (["--weight_decay", "-0.1"], "--weight_decay must be >= 0"),
    (["--num_workers", "-2"], "--num_workers must be >= 0"),
    (["--kmer_size", "11"], "--kmer_size must be between 1 and 10"),
    (["--num_phases", "20", "--max_steps", "10"], r"need 1 <= num_phases \(20\) <= total_steps \(10\)"),
    (["--seed", "-1"], r"0 <= seed < 2\*\*32"),
    (["--max_length", "2"], "max_length >= 3"),
    (["--save_every", "0", "--log_every", "0"], "--log_every must be > 0, got 0; --save_every must be > 0, got 0"),
    (["--max_step", "10"], r"unrecognized arguments: --max_step 10 \(option names must be spelled in full"),
]


@pytest.mark.parametrize("extra, message", PRETRAIN_OPTION_ERRORS, ids=[" ".join(c[0]) for c in PRETRAIN_OPTION_ERRORS])
def test_pretrain_options_out_of_range_are_usage_errors_before_any_file(tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--output_dir", str(out), *extra])
    assert exit_.value.code == 2 and re.search(message, capsys.readouterr().err)
    assert not out.exists()


def test_pretrain_options_are_checked_in_library_use_too():
    with pytest.raises(ValueError, match="--save_every must be > 0, got 0"):
        PretrainArguments(save_every=0)
    with pytest.raises(ValueError, match="--keep_checkpoints must be > 0, got -1"):
        PretrainArguments(keep_checkpoints=-1)


def test_recipe_with_an_abbreviated_option_is_refused_not_silently_480k_steps(capsys):
    """`--recipe paper --max_step 10` used to train the recipe's 480,000 steps: the abbreviation is refused, the full
    name wins over the recipe."""
    with pytest.raises(SystemExit):
        parse_args(["--recipe", "paper", "--max_step", "10"])
    assert "unrecognized arguments: --max_step 10" in capsys.readouterr().err
    args, data = parse_args(["--recipe", "paper", "--max_steps", "10"])
    assert (args.max_steps, args.model_preset, data.max_length) == (10, "base", 512)


def test_global_batch_size_not_a_multiple_is_refused_before_any_file(tmp_path):
    out = tmp_path / "run"
    args, data = parse_args(["--output_dir", str(out), "--global_batch_size", "12", "--per_device_train_batch_size", "8"])
    with pytest.raises(ValueError, match="global_batch_size 12 is not a multiple of per_device_train_batch_size 8"):
        pretrain(args, data)
    assert not out.exists()


def test_output_dir_that_is_a_file_is_refused_naming_it(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    for out, where in [(tmp_path / "a_file", "is a file"), (tmp_path / "a_file" / "run", "would be inside")]:
        with pytest.raises(NotADirectoryError, match=re.escape(f"--output_dir {out} {where}")):
            pretrain(*parse_args(["--output_dir", str(out)]))
    task = write_task(tmp_path / "task")
    with pytest.raises(NotADirectoryError, match=re.escape(f"--output_dir {tmp_path / 'a_file'} is a file")):
        finetune(FinetuneArguments(model="unused", task=str(task)),
                 TrainingArguments(output_dir=str(tmp_path / "a_file"), report_to="none"))
    with pytest.raises(NotADirectoryError, match=re.escape(f"--output_dir {tmp_path / 'a_file'} is a file")):
        analyze(AnalyzeArguments(model=["unused"], output_dir=str(tmp_path / "a_file")))
    assert (tmp_path / "a_file").read_text() == "not a folder"


OTHER_CLI_ERRORS = [  # (parser, argv, message)
    (parse_finetune_args, ["--model", "m", "--max_train_samples", "0"], "--max_train_samples must be > 0, got 0"),
    (parse_finetune_args, ["--model", "m", "--per_device_train_batch_size", "0"],
     "--per_device_train_batch_size must be > 0"),
    (parse_finetune_args, ["--model", "m", "--num_train_epochs", "0"], "--num_train_epochs must be > 0"),
    (parse_finetune_args, ["--model", "m", "--learning_rate", "0"], "--learning_rate must be > 0"),
    (parse_finetune_args, ["--model", "m", "--max_steps", "0"], r"--max_steps must be >= 1, or -1"),
    (parse_finetune_args, ["--model", "m", "--seeds", "1", "-2"], r"--seeds must be >= 0, got \[1, -2\]"),
    (parse_finetune_args, ["--model", "m", "--lora_dropout", "1"], "--lora_dropout must be < 1"),
    (parse_finetune_args, ["--model", "m", "--missing_train", "dev"], "invalid choice: 'dev'"),
    (parse_finetune_args, ["--model", "m", "--max_step", "10"], "unrecognized arguments: --max_step 10"),
    (parse_reproduce_args, ["--tasks", "t", "--max_steps", "0"], "--max_steps must be > 0"),
    (parse_reproduce_args, ["--tasks", "t", "--finetune_max_train_samples", "0"],
     "--finetune_max_train_samples must be > 0"),
    (parse_reproduce_args, ["--tasks", "t", "--pretraining_variants", "BERT"], r"unknown variant or tokenization \['BERT'\]"),
    (parse_reproduce_args, ["--tasks", "t", "--max_length", "2"], "max_length >= 3"),
    (parse_reproduce_args, ["--tasks", "t", "--model_preset", "huge"], "invalid choice: 'huge'"),
    (parse_reproduce_args, ["--max_steps", "10"], "the following arguments are required: --tasks"),
    (parse_reproduce_args, ["--tasks", "t", "--masking", "dnabert", "--resume_from_checkpoint", "latest"],
     r"--masking: the study sets it \(--pretraining_variants\); --resume_from_checkpoint: the study sets it"),
    (AnalyzeArguments, ["--model", "m", "--num_windows", "0"], "--num_windows must be > 0"),
    (AnalyzeArguments, ["--model", "m", "--window_bases", "-1"], "--window_bases must be > 0"),
    (AnalyzeArguments, ["--model", "m", "--per_device_eval_batch_size", "0"], "--per_device_eval_batch_size must be > 0"),
]


@pytest.mark.parametrize("parser, argv, message", OTHER_CLI_ERRORS,
                         ids=[f"{getattr(c[0], '__name__', c[0])} {' '.join(c[1][2:] if c[1][0] == '--model' else c[1])}"
                              for c in OTHER_CLI_ERRORS])
def test_other_cli_options_out_of_range_are_usage_errors(capsys, parser, argv, message):
    with pytest.raises(SystemExit) as exit_:
        parse_cli(parser, argv) if isinstance(parser, type) else parser(argv)
    assert exit_.value.code == 2 and re.search(message, capsys.readouterr().err)
