"""The bad-input contract in one place: every malformed input gets its documented rule or a clear error that names
the file and line (or the item), never a bare traceback from deep inside and never a silent drop.

Several cases are also tested, in more depth, next to their module (test_genome_data, test_task_data,
test_tokenizer, test_modeling); this module is the list.
"""

import gzip
import logging
import re
from pathlib import Path

import pytest
import torch
from conftest import LAMBDA
from transformers import BertConfig, TrainingArguments

from modeling_randommask.configuration_randommask import RandomMaskConfig
from modeling_randommask.data import fasta, tasks
from modeling_randommask.data.fasta import FastaFormatError, read_genome
from modeling_randommask.data.genome_windows import GenomeDataConfig, build_genome_datasets
from modeling_randommask.data.tasks import build_datasets, load_task
from modeling_randommask.hub.checkpoint import save_checkpoint
from modeling_randommask.modeling_randommask import RandomMaskForMaskedLM
from modeling_randommask.training.finetuning import FinetuneArguments, finetune
from tokenization import KmerTokenizer

UNK = 1


def at(name: str, line: int) -> str:
    """The error-message prefix that names a file and line."""
    return re.escape(f"{name}: line {line}:")


# ---- FASTA: read_genome / build_genome_datasets ---------------------------------------------------------------

FASTA_ERRORS = [  # (case, file bytes, exception, match)
    ("no header", b"ACGTACGT\nACGT\n", FastaFormatError, at("in.fa", 1) + " sequence before the first '>'"),
    ("no header after blank lines", b"\n\nACGT\n", FastaFormatError, at("in.fa", 3) + " sequence before"),
    ("empty file", b"", FastaFormatError, at("in.fa", 1) + " empty file"),
    ("whitespace only", b"  \n\t\n\r\n", FastaFormatError, at("in.fa", 1) + " empty file"),
    ("binary garbage", bytes(range(256)) * 4, FastaFormatError, at("in.fa", 1) + " sequence before"),
    ("NUL byte in sequence", b">a\nACGT\nAC\x00GT\n", FastaFormatError, at("in.fa", 3) + " invalid character byte 0x00"),
    ("digit in sequence", b">a\nACGT1\n", FastaFormatError, at("in.fa", 2) + " invalid character '1' in record 'a'"),
    ("gap dash in sequence", b">a desc\nAC-GT\n", FastaFormatError, at("in.fa", 2) + " invalid character '-'"),
    ("header without name", b">\nACGT\n", FastaFormatError, at("in.fa", 1) + " header line '>' without a record name"),
    ("header of spaces only", b">a\nAC\n>   \nGT\n", FastaFormatError, at("in.fa", 3) + " header line '>' without"),
    ("duplicate names in one file", b">a\nACGT\n>b x\nAC\n>a\nGG\n", FastaFormatError,
     at("in.fa", 5) + " record name 'a' already used at .*in.fa: line 1"),
    ("only empty records", b">a\n>b\n", FastaFormatError, at("in.fa", 1) + " no record with sequence"),
]


@pytest.mark.parametrize("case, data, error, match", FASTA_ERRORS, ids=[c[0] for c in FASTA_ERRORS])
def test_malformed_fasta_raises_naming_file_and_line(tmp_path, case, data, error, match):
    (tmp_path / "in.fa").write_bytes(data)
    with pytest.raises(error, match=match):
        read_genome(tmp_path / "in.fa")


def test_truncated_gzip_names_file_and_the_line_where_it_breaks(tmp_path):
    records = b"".join(b">r%d\n%s\n" % (i, b"ACGTTGCA" * 50) for i in range(2000))
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(gzip.compress(records)[: -200])
    with pytest.raises(FastaFormatError, match=r"cut\.fa\.gz: line \d+: unreadable data: truncated or corrupt gzip"):
        read_genome(path)


def test_corrupt_gzip_body(tmp_path):
    packed = bytearray(gzip.compress(b">a\n" + b"ACGT" * 5000 + b"\n"))
    packed[40:60] = b"\xff" * 20
    (tmp_path / "bad.fa.gz").write_bytes(bytes(packed))
    with pytest.raises(FastaFormatError, match=r"bad\.fa\.gz: line \d+: unreadable data"):
        read_genome(tmp_path / "bad.fa.gz")


def test_duplicate_names_across_files_name_both(tmp_path):
    (tmp_path / "one.fa").write_bytes(b">chr1\nACGT\n")
    (tmp_path / "two.fa").write_bytes(b">chrX\nAC\n>chr1\nGG\n")
    with pytest.raises(FastaFormatError, match=at("two.fa", 3) + " record name 'chr1' already used at .*one.fa: line 1"):
        read_genome(tmp_path)


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
    config = GenomeDataConfig(paths=[LAMBDA, extra], max_length=40, val_fraction=0.05)
    with caplog.at_level(logging.WARNING, logger=fasta.__name__):
        _, _, stats = build_genome_datasets(config, KmerTokenizer(k=6))
    assert f"{extra}: line 1: record 'plasmid' has no sequence; skipped" in caplog.text
    assert stats["skipped_empty_records"] == 1 and stats["records"] == 2


def test_only_n_is_too_little_usable_sequence(tmp_path):
    (tmp_path / "gaps.fa").write_bytes(b">scaffold\n" + b"N" * 60 + b"\n" + b"n" * 5000 + b"\n")
    with pytest.raises(ValueError, match=r"gaps\.fa: too little usable sequence for windows of 43 bp: 0 training"):
        build_genome_datasets(GenomeDataConfig(paths=tmp_path / "gaps.fa", max_length=40), KmerTokenizer(k=6))


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
     at("train.csv", 3) + " label 'label' is non-numeric or non-finite \\('yes'\\)"),
    ("missing label", "sequence,label\nACGTAC,0\nACGTAA,\nACGTTT,1\n", GOOD, ValueError,
     at("train.csv", 3) + " label 'label' is missing"),
    ("NaN label", GOOD, "sequence,label\nACGTAC,0\nACGTAA,nan\n", ValueError,
     at("test.csv", 3) + " label 'label' is non-numeric or non-finite \\('nan'\\)"),
    ("inf label (regression)", "sequence,label\nACGTAC,0.5\nACGTAA,inf\n", GOOD, ValueError,
     at("train.csv", 3) + " label 'label' is non-numeric or non-finite"),
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
    with pytest.raises(error, match=match):
        load_task(write_task(tmp_path / "task", train=train, test=test))


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
    model = RandomMaskForMaskedLM(RandomMaskConfig.from_preset("tiny"))
    with pytest.raises(ValueError, match=match):
        save_checkpoint(model, KmerTokenizer(k=k, kmer_stride=stride), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_finetune_from_a_non_randommask_folder_is_refused(tmp_path, bert_folder):
    args = FinetuneArguments(model=str(bert_folder), task=str(write_task(tmp_path / "task")))
    with pytest.raises(ValueError, match=re.escape(f"{bert_folder} holds a checkpoint of model_type 'bert'")):
        finetune(args, TrainingArguments(output_dir=str(tmp_path / "ft")))
    assert not (tmp_path / "ft" / "results.json").exists()
