"""Task folders: the real GUE files, DNABERT TSVs, regression targets, and malformed files with their errors."""

import gzip
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA_DIR, ECOLI, require
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from modeling_randommask.data.fasta import read_genome
from modeling_randommask.data.tasks import (
    ALL_COLUMNS,
    build_datasets,
    load_task,
    max_length_for,
    token_lengths,
)
from modeling_randommask.tokenization import KmerTokenizer

GUE = DATA_DIR / "gue"
CORE_TATA = GUE / "prom" / "prom_core_tata"


@pytest.fixture(scope="module")
def core_tata():
    return load_task(require(CORE_TATA))


@pytest.fixture(scope="module")
def char_tokenizer():
    """A real single-base tokenizer (HyenaDNA-style) built locally: exercises the generic tokenize-and-count path."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    model = Tokenizer(models.WordLevel({t: i for i, t in enumerate(specials + list("ACGTN"))}, unk_token="[UNK]"))
    model.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    model.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=model, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]",
    )


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt", newline="") as handle:
            handle.write(text)
    else:
        path.write_text(text, newline="")
    return path


def _csv(rows, header="sequence,label", sep=",", eol="\n") -> str:
    return eol.join([header] + [sep.join(map(str, r)) for r in rows]) + eol


def _task(tmp_path, train, dev=None, test=None, suffix=".csv", **kw):
    for split, text in (("train", train), ("dev", dev), ("test", test if test is not None else train)):
        if text is not None:
            _write(tmp_path, split + suffix, text)
    return load_task(tmp_path, **kw)


@pytest.fixture(scope="module")
def seqs():
    """Twelve 70 bp pieces of the embedded E. coli genome (the length of GUE's core promoter sequences)."""
    genome = read_genome(ECOLI).record("K-12-MG1655")
    return [genome[start : start + 70] for start in range(100_000, 100_000 + 12 * 7_919, 7_919)]


# --- the real GUE files ---------------------------------------------------------------------------------------


def test_real_gue_task(core_tata):
    t = core_tata
    assert t.name == "prom/prom_core_tata"
    assert t.kind == "binary" and t.num_labels == 2 and t.label_names == ["0", "1"]
    assert t.problem_type == "single_label_classification"
    assert {s: len(v) for s, v in t.sequences.items()} == {"train": 4904, "dev": 613, "test": 613}
    assert all(len(s) == 70 for s in t.sequences["test"])
    assert t.labels["train"].dtype == np.int64 and set(np.unique(t.labels["train"])) == {0, 1}
    assert t.lines["train"][0] == 2 and t.where("dev", 0).endswith("dev.csv.gz: line 2")
    with gzip.open(CORE_TATA / "train.csv.gz", "rt") as handle:
        first = handle.read().splitlines()[1].split(",")
    assert (t.sequences["train"][0], t.labels["train"][0]) == (first[0], int(first[1]))


def test_emp_without_train_needs_explicit_choice(caplog):
    with pytest.raises(FileNotFoundError, match="no train split.*missing_train='use_dev'"):
        load_task(require(GUE / "EMP" / "H3"))
    with caplog.at_level(logging.WARNING, logger="modeling_randommask.data.tasks"):
        t = load_task(GUE / "EMP" / "H3", missing_train="use_dev")
    assert t.splits == ("train", "test")
    assert t.files["train"].name == "dev.csv.gz" and len(t.sequences["train"]) == 1497
    assert "no validation split" in caplog.text and t.notes


# --- other formats ----------------------------------------------------------------------------------------------


def test_dnabert_tsv_kmers_are_joined_back(tmp_path, seqs):
    labels = [i % 2 for i in range(len(seqs))]
    kmers = [" ".join(s[i : i + 6] for i in range(len(s) - 5)) for s in seqs]
    t = _task(tmp_path, _csv(zip(kmers, labels), header="sequence\tlabel", sep="\t"), suffix=".tsv")
    assert t.sequences["train"] == list(seqs)
    assert t.labels["train"].tolist() == labels


def test_non_overlapping_kmers_are_an_error(tmp_path, seqs):
    chunks = " ".join(seqs[0][i : i + 6] for i in range(0, 66, 6))
    text = _csv([(seqs[1], 0), (chunks, 1)])
    with pytest.raises(ValueError, match=r"train.csv: line 3: .*do not overlap by 5"):
        _task(tmp_path, text)


def _next_base(kmer: str) -> str:
    """``kmer`` with its first base changed: the k-mer before it no longer overlaps it."""
    return {"A": "C", "C": "G", "G": "T", "T": "A"}[kmer[0]] + kmer[1:]


@pytest.mark.parametrize("damage, message", [
    (lambda kmers: kmers[:3] + [_next_base(kmers[3])] + kmers[4:],
     "space-separated 6-mers that do not overlap by 5 bases: token 4 "),
    (lambda kmers: kmers[:5] + [kmers[5][:4]] + kmers[6:],
     "space-separated tokens that are not k-mers of one length: token 6 "),
], ids=["no overlap", "other length"])
def test_bad_spaced_kmers_give_one_error_in_task_files_and_the_tokenizer(tmp_path, seqs, damage, message):
    """DNABERT's k-mer text is read back by one function: a broken piece is named the same way on both paths (the
    tokenizer used to read it as other bases)."""
    text = " ".join(damage([seqs[0][i : i + 6] for i in range(len(seqs[0]) - 5)]))
    tokenizer = KmerTokenizer(k=6)
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        tokenizer(text)
    with pytest.raises(ValueError, match=re.escape(str(error.value))):
        tokenizer([seqs[1], text], padding=True, return_tensors="pt")  # the vectorised batch path
    with pytest.raises(ValueError, match=re.escape(f"train.csv: line 3: sequence holds {error.value}")):
        _task(tmp_path, _csv([(seqs[1], 0), (text, 1)]))


def test_crlf_gzip_and_blank_trailing_line(tmp_path, seqs):
    text = _csv([(s, i % 2) for i, s in enumerate(seqs)], eol="\r\n") + "\r\n"
    t = _task(tmp_path, text, suffix=".csv.gz")
    assert t.sequences["train"] == list(seqs) and t.files["train"].name == "train.csv.gz"


def test_regression_targets_by_name_and_all(tmp_path, seqs):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(len(seqs), 2)).round(4)
    header = "sequence,Dev_log2_enrichment,Hk_log2_enrichment"
    text = _csv([(s, *v) for s, v in zip(seqs, values)], header=header)
    every = _task(tmp_path, text, label_columns=ALL_COLUMNS)
    assert every.kind == "regression" and every.problem_type == "regression"
    assert every.label_names == ["Dev_log2_enrichment", "Hk_log2_enrichment"] and every.num_labels == 2
    assert every.labels["test"].shape == (len(seqs), 2)
    np.testing.assert_allclose(every.labels["train"], values, rtol=1e-6)
    hk = load_task(tmp_path, label_columns="Hk_log2_enrichment")
    assert hk.kind == "regression" and hk.labels["train"].shape == (len(seqs),)
    np.testing.assert_allclose(hk.labels["train"], values[:, 1], rtol=1e-6)


def test_kind_detection_and_override(tmp_path, seqs):
    three = _task(tmp_path / "a", _csv([(s, i % 3) for i, s in enumerate(seqs)]))
    assert three.kind == "multiclass" and three.label_names == ["0", "1", "2"]
    as_numbers = load_task(tmp_path / "a", kind="regression")
    assert as_numbers.kind == "regression" and as_numbers.labels["train"].dtype == np.float32
    decimals = _task(tmp_path / "b", _csv([(s, f"{i % 2}.0") for i, s in enumerate(seqs)]))
    assert decimals.kind == "regression"
    assert load_task(tmp_path / "b", kind="binary").labels["train"].tolist() == [i % 2 for i in range(len(seqs))]
    with pytest.raises(ValueError, match=r"not 0..C-1"):
        _task(tmp_path / "c", _csv([(s, 1 + i % 2) for i, s in enumerate(seqs)]))


# --- malformed files: errors name the file and the place -------------------------------------------------------


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("seq,label\nACGT,1\n", r"train.csv: line 1: no 'sequence' column"),
        ("sequence\tlabel\nACGT\t1\n", r"train.csv: line 1: no 'sequence' column .*name the file .tsv"),
        ("sequence,target\nACGT,1\n", r"train.csv: line 1: label column\(s\) \['label'\] not in header"),
        ("sequence,label\nACGT,1\nACGA,yes\n", r"train.csv: line 3: label 'label' is not a number"),
        ("sequence,label\nACGT,1\nACGA,\n", r"train.csv: line 3: label 'label' is missing"),
        ("sequence,label\nACGT,1\nACGA,nan\n", r"train.csv: line 3: .*not finite"),
        ("sequence,label\nACGT,1\n  ,0\n", r"train.csv: line 3: empty sequence"),
        ("sequence,label\nACGT,1\nAC-GT,0\n", r"train.csv: line 3: sequence holds '-'"),
        ("sequence,label\nACGT,1\nACGT,0,5\n", r"train.csv: line 3: 3 fields, header has 2"),
        ("sequence,label\n", r"train.csv: no data rows"),
        ("sequence,label\nACGT,1\nACGA,1\n", r"at least two classes|not 0..C-1"),
    ],
)
def test_malformed_train_file(tmp_path, text, pattern):
    with pytest.raises(ValueError, match=pattern):
        _task(tmp_path, text, test="sequence,label\nACGT,0\nACGA,1\n")


def test_label_unseen_in_train(tmp_path, seqs):
    train = _csv([(s, i % 2) for i, s in enumerate(seqs)])
    dev = _csv([(seqs[0], 0), (seqs[1], 1), (seqs[2], 2)])
    with pytest.raises(ValueError, match=r"dev.csv: line 4: label 2 never occurs in the training split"):
        _task(tmp_path, train, dev=dev)


def test_missing_and_ambiguous_split_files(tmp_path, seqs):
    train = _csv([(s, i % 2) for i, s in enumerate(seqs)])
    _write(tmp_path, "train.csv", train)
    with pytest.raises(FileNotFoundError, match="no test split"):
        load_task(tmp_path)
    _write(tmp_path, "test.csv", train)
    t = load_task(tmp_path)  # dev is optional
    assert t.splits == ("train", "test") and any("no dev file" in n for n in t.notes)
    _write(tmp_path, "test.tsv.gz", train.replace(",", "\t"))
    with pytest.raises(ValueError, match="several files for split 'test'"):
        load_task(tmp_path)
    with pytest.raises(FileNotFoundError, match="task folder not found"):
        load_task(tmp_path / "nope")


# --- lengths and datasets ---------------------------------------------------------------------------------------


def test_max_length_and_too_long(core_tata, char_tokenizer, caplog):
    assert max_length_for(core_tata, char_tokenizer) == 70 + 2
    prom300 = load_task(require(GUE / "prom" / "prom_300_tata"))
    with pytest.raises(ValueError, match=r"longer than 200 tokens .*train: 4904 of 4904.*first at .*train.csv.gz: line 2"):
        max_length_for(prom300, char_tokenizer, model_max_length=200, too_long="error")
    with caplog.at_level(logging.WARNING, logger="modeling_randommask.data.tasks"):
        assert max_length_for(prom300, char_tokenizer, model_max_length=200) == 200
    assert "truncating" in caplog.text and "test: 613 of 613" in caplog.text


def test_build_datasets(core_tata, char_tokenizer):
    ds = build_datasets(core_tata, char_tokenizer)
    assert set(ds) == {"train", "dev", "test"} and ds["train"].num_rows == 4904
    assert ds["train"].features["labels"].names == ["0", "1"]
    row = ds["dev"][5]
    assert row["labels"] == core_tata.labels["dev"][5]
    assert row["input_ids"] == char_tokenizer(core_tata.sequences["dev"][5])["input_ids"]
    assert len(row["input_ids"]) == 72 and row["input_ids"][0] == char_tokenizer.cls_token_id
    short = build_datasets(core_tata, char_tokenizer, max_length=40)
    assert max(map(len, short["test"]["input_ids"])) == 40
    with pytest.raises(ValueError, match="longer than 40 tokens"):
        build_datasets(core_tata, char_tokenizer, max_length=40, too_long="error")


def test_build_datasets_regression(tmp_path, seqs, char_tokenizer):
    values = np.arange(len(seqs) * 2, dtype=np.float32).reshape(-1, 2) / 4
    text = _csv([(s, *v) for s, v in zip(seqs, values)], header="sequence,Dev,Hk")
    ds = build_datasets(_task(tmp_path, text, label_columns=["Dev", "Hk"]), char_tokenizer)
    assert ds["train"]["labels"][3] == values[3].tolist()


def test_kmer_tokenizer_lengths(core_tata):
    tok = KmerTokenizer(k=6)
    seqs = core_tata.sequences["dev"][:50]
    counted = token_lengths(seqs, tok)
    assert counted.tolist() == [len(tok(s, add_special_tokens=False)["input_ids"]) for s in seqs]
    assert max_length_for(core_tata, tok) == tok.tokens_for_bases(70) + 2
    ds = build_datasets(core_tata, tok)
    assert ds["test"][0]["input_ids"] == tok(core_tata.sequences["test"][0])["input_ids"]


# --- the paper's fine-tuning recipes per task family (data.gue, training.finetune_recipes) -------------------


def test_presets_for_the_real_gue_folders(tmp_path):
    from transformers import TrainingArguments

    from modeling_randommask.data.gue import PAPER_TABLE3_MCC, resolve_task
    from modeling_randommask.training.finetune_recipes import FINETUNE_RECIPES, recipe_for

    expected = {
        "tf/0": ("TF-H", "TF-H 0", 32, 1e-4, 10),
        "mouse/0": ("TF-M", "TF-M 0", 32, 1e-4, 10),
        "prom/prom_core_tata": ("CPD", "CPD tata", 32, 1e-4, 10),
        "prom/prom_300_tata": ("PD", "PD tata", 32, 1e-4, 5),
        "EMP/H3": ("EMP", "EMP H3", 32, 3e-5, 100),
    }
    for key, (family, column, batch, lr, epochs) in expected.items():
        task = resolve_task(GUE / key)  # absolute folder paths resolve by their last two parts
        assert (task.path, task.family, task.paper_column) == (key, family, column)
        recipe = recipe_for(GUE / key)
        assert (recipe.batch_size, recipe.learning_rate, recipe.num_train_epochs) == (batch, lr, epochs)
        assert recipe.weight_decay == 0.0
        assert task.paper_mcc == PAPER_TABLE3_MCC[column]
    assert resolve_task("prom/prom_300_notata").paper_column == "PD notata"
    assert resolve_task("splice/reconstructed").family == "SSP"
    eap = recipe_for("deepstarr/enhancers")
    assert (eap.batch_size, eap.metric) == (64, "pearson")
    assert PAPER_TABLE3_MCC["PD tata"] == {"DNABERT": 61.56, "DNABERT + RandomMask": 84.03}
    with pytest.raises(ValueError, match="no paper fine-tuning preset for task 'virus/covid'"):
        resolve_task("virus/covid")

    kwargs = FINETUNE_RECIPES["EAP"].training_arguments(world_size=2)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", **kwargs)
    assert args.per_device_train_batch_size == 32 and args.learning_rate == 1e-4 and args.weight_decay == 0.0
    with pytest.raises(ValueError, match="split evenly"):
        FINETUNE_RECIPES["EMP"].training_arguments(world_size=3)


def test_the_demo_task_from_the_embedded_genomes(tmp_path):
    from modeling_randommask.data.demo_task import write_phage_host_task

    task = load_task(write_phage_host_task(tmp_path / "phage-host", per_class=(60, 20, 20)))
    assert task.kind == "binary" and {s: len(v) for s, v in task.sequences.items()} == {"train": 120, "dev": 40, "test": 40}
    assert all((np.bincount(task.labels[s]) == n).all() for s, n in (("train", 60), ("dev", 20), ("test", 20)))
    assert all(len(seq) == 100 and set(seq) <= set("ACGT") for seqs in task.sequences.values() for seq in seqs)
    # Each split comes from its own stretch of both genomes: no fragment, nor its reverse complement, is shared.
    revcomp = str.maketrans("ACGT", "TGCA")
    train = set(task.sequences["train"]) | {seq.translate(revcomp)[::-1] for seq in task.sequences["train"]}
    assert not train & (set(task.sequences["dev"]) | set(task.sequences["test"]))
    assert load_task(write_phage_host_task(tmp_path / "again", per_class=(60, 20, 20))).sequences == task.sequences
