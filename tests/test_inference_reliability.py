"""Inference commands and checkpoint folders under bad input (issue 22, part B): record names never collide with the
output format's own keys, outputs appear whole or not at all and never on top of an input or another run's work,
folders without trained masked-LM weights or with an impossible config.json are refused by name, and every bad
option or variant line ends the command with one ``error:`` line."""

import gzip
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import LAMBDA, tiny_model
from safetensors.numpy import load_file
from transformers import pipeline

from modeling_randommask import RandomMaskConfig, save_checkpoint
from modeling_randommask.cli import embed as embed_cli
from modeling_randommask.cli import make_demo_task as demo_cli
from modeling_randommask.cli import score_variants as variants_cli
from modeling_randommask.data.output_files import partial_file, write_whole
from modeling_randommask.hub.checkpoint import load_masked_lm
from modeling_randommask.hub.model_source import CheckpointError, load_model_config
from modeling_randommask.inference import load_model, open_writer, read_sequences
from modeling_randommask.inference.variants import VariantFileError, VariantReader
from modeling_randommask.modeling_randommask import RandomMaskForSequenceClassification
from modeling_randommask.tokenization import KmerTokenizer


def lambda_dna(start: int, length: int) -> str:
    with gzip.open(LAMBDA, "rt") as handle:
        return "".join(line.strip() for line in handle if not line.startswith(">"))[start : start + length]


DNA = lambda_dna(1_000, 90)
CONTIG = lambda_dna(3_000, 200)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A tiny masked-LM folder, a classifier fine-tuned from it (saved as finetune saves), and a reference."""
    root = tmp_path_factory.mktemp("reliability")
    model = save_checkpoint(tiny_model(max_position_embeddings=64), KmerTokenizer(), root / "model")
    classifier = RandomMaskForSequenceClassification.from_pretrained(model, num_labels=2)
    save_checkpoint(classifier, KmerTokenizer(), root / "classifier")
    (root / "reference.fa").write_text(f">1\n{CONTIG}\n")
    return root


def listing(folder) -> list[str]:
    """Every entry of ``folder``, hidden partial files included."""
    return sorted(os.listdir(folder))


def fails(main, argv, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main([str(a) for a in argv])
    return exit_.value.code, capsys.readouterr().err


# ---- embeddings: names, options, half-written files -------------------------------------------------------------

def test_a_record_named_like_the_safetensors_header_is_refused_not_written_over_it(tmp_path, work, capsys):
    fasta = tmp_path / "in.fa"
    fasta.write_text(f">__metadata__\n{DNA}\n>other\n{DNA}\n")
    code, _ = fails(embed_cli.main, ["--model", work / "model", "--input", fasta, "--per_base", "--output",
                                     tmp_path / "x.safetensors"], capsys)
    assert code == (f"error: {tmp_path / 'x.safetensors'}: per-base tensors are named by record id, and record id "
                    "'__metadata__' is the safetensors header's key: rename the record(s), or write .npy or .parquet")
    assert listing(tmp_path) == ["in.fa"]


@pytest.mark.parametrize("column", ["id", "embedding"])
def test_a_table_column_named_like_an_output_column_is_refused(tmp_path, work, capsys, column):
    table = tmp_path / "in.csv"
    table.write_text(f"sequence,{column},label\n{DNA},a,1\n")
    code, _ = fails(embed_cli.main, ["--model", work / "model", "--input", table, "--output", tmp_path / "x.parquet"],
                    capsys)
    assert f"the input table's column(s) ['{column}'] would take the name of the output's own column" in str(code)
    assert listing(tmp_path) == ["in.csv"]


def test_per_base_safetensors_of_ordinary_records_still_load(tmp_path, work):
    fasta = tmp_path / "in.fa"
    fasta.write_text(f">a\n{DNA}\n>b\n{DNA[:50]}\n")
    embed_cli.main(["--model", str(work / "model"), "--input", str(fasta), "--per_base", "--output",
                    str(tmp_path / "x.safetensors")])
    assert {name: array.shape for name, array in load_file(tmp_path / "x.safetensors").items()} == \
        {"a": (90, 64), "b": (50, 64)}
    assert listing(tmp_path) == ["in.fa", "x.safetensors", "x.safetensors.ids.tsv"]


EMBED_ERRORS = [  # (extra argv, exit code: 2 usage error / 1 error line, message)
    (["--output", "e.txt"], 2, r"--output \S*e\.txt: the output suffix must be one of \.npy, \.safetensors, \.parquet"),
    (["--output", "e.npy", "--layer", "3"], 1, r"--layer must be in -3\.\.2 for this 2-layer model"),
    (["--output", "e.npy", "--batch_tokens", "0"], 2, "--batch_tokens must be > 0, got 0"),
    (["--output", "e.npy", "--overlap", "-5"], 2, "--overlap must be >= 0, got -5"),
    (["--output", "e.npy", "--overlap", "5000"], 1, r"--overlap must be in 0\.\.\d+ bases"),
    (["--output", "e.npy", "--window_tokens", "100"], 1, r"--window_tokens must be an int in 3\.\.64"),
    (["--output", "e.npy", "--device", "banana"], 2, "--device 'banana' is not a device"),
    (["--output", "in.npy", "--overwrite"], 1, r"--output \S*in\.npy is also an input of this run"),
]


@pytest.mark.parametrize("extra, status, message", EMBED_ERRORS, ids=[" ".join(e[0][1:]) for e in EMBED_ERRORS])
def test_bad_embed_options_end_with_one_error_naming_the_option_and_write_nothing(tmp_path, work, capsys, extra,
                                                                                   status, message):
    fasta = tmp_path / ("in.npy" if "in.npy" in extra else "in.fa")  # an input whose name is a valid output
    fasta.write_text(f">a\n{DNA}\n")
    extra = [str(tmp_path / a) if a.startswith(("e.", "in.")) else a for a in extra]
    with pytest.raises(SystemExit) as exit_:
        embed_cli.main(["--model", str(work / "model"), "--input", str(fasta), *extra])
    err = capsys.readouterr().err
    if status == 2:  # argparse: usage, then "prog: error: ..."
        assert exit_.value.code == 2 and re.search(message, err.strip().splitlines()[-1])
    else:  # the entry wrapper: one line, no traceback
        assert str(exit_.value.code).startswith("error: ") and re.search(message, exit_.value.code)
        assert "Traceback" not in err
    assert listing(tmp_path) == [fasta.name]
    assert fasta.read_text() == f">a\n{DNA}\n"


@pytest.mark.parametrize("suffix", [".npy", ".safetensors", ".parquet"])
def test_an_interrupted_writer_leaves_no_output_so_a_rerun_is_not_refused(tmp_path, work, suffix):
    """It used to leave a full-size .npy of zeros (or a parquet with some rows) that a rerun refused to replace."""
    sequences = read_sequences([DNA, DNA[:40]])
    output = tmp_path / f"out{suffix}"
    with pytest.raises(KeyboardInterrupt), open_writer(output, sequences, 64, per_base=False) as writer:
        writer.write(0, 0, np.ones((1, 64), dtype=np.float32))
        raise KeyboardInterrupt
    assert listing(tmp_path) == []
    with open_writer(output, sequences, 64, per_base=False) as writer:
        for record in range(2):
            writer.write(record, 0, np.full((1, 64), record, dtype=np.float32))
    assert listing(tmp_path) == sorted(f.name for f in writer.files)


def test_embeddings_of_a_fine_tuned_classifier_use_its_encoder(tmp_path, work):
    """Embeddings need no masked-LM head: a classifier's folder is accepted there (and refused where the head is
    needed, below)."""
    fasta = tmp_path / "in.fa"
    fasta.write_text(f">a\n{DNA}\n")
    embed_cli.main(["--model", str(work / "classifier"), "--input", str(fasta), "--output", str(tmp_path / "x.npy")])
    assert np.load(tmp_path / "x.npy").shape == (1, 64)


# ---- partial files: unique per run ------------------------------------------------------------------------------

def test_two_writers_of_one_output_never_share_a_partial_file(tmp_path):
    output = tmp_path / "out.tsv"
    with partial_file(output) as first:
        with pytest.raises(FileExistsError, match="appeared while this run was writing it"), \
                partial_file(output) as second:
            assert first != second and first.parent == second.parent == tmp_path
            second.write_text("second run")
            first.write_text("first run")
            output.write_text("a third run finished meanwhile")
        assert first.read_text() == "first run"
        output.unlink()
    assert output.read_text() == "first run" and listing(tmp_path) == ["out.tsv"]


# ---- score_variants ---------------------------------------------------------------------------------------------

def vcf(path, rows: list[str], header: str = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n") -> str:
    path.write_text(header + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def score_argv(work, variants, output, *extra) -> list[str]:
    return ["--model", str(work / "model"), "--reference", str(work / "reference.fa"), "--variants", str(variants),
            "--output", str(output), *extra]


def snv(pos: int) -> str:
    ref = CONTIG[pos - 1]
    return f"1\t{pos}\t.\t{ref}\t{'A' if ref != 'A' else 'C'}"


def test_a_result_file_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    """results.json, benchmark.json, report.json...: reruns take them as "done", so a torn one must never appear."""
    result = tmp_path / "results.json"
    write_whole(result, '{"done": 1}')
    real_write = Path.write_text

    def torn(self, text, *args, **kwargs):
        real_write(self, text[:3], *args, **kwargs)
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(Path, "write_text", torn)
    with pytest.raises(KeyboardInterrupt):
        write_whole(result, '{"done": 2}')
    monkeypatch.undo()
    assert result.read_text() == '{"done": 1}' and list(tmp_path.iterdir()) == [result]


def test_another_runs_partial_file_is_left_alone(tmp_path, work):
    """Two runs with one --output used to share <output>.partial: each truncated and renamed the other's."""
    variants = vcf(tmp_path / "calls.vcf", [snv(10), snv(100)])
    other = tmp_path / "scores.tsv.partial"
    other.write_text("another run's rows, still being written\n")
    variants_cli.main(score_argv(work, variants, tmp_path / "scores.tsv"))
    assert other.read_text() == "another run's rows, still being written\n"
    assert json.loads((tmp_path / "scores.tsv.summary.json").read_text())["variants"] == str(variants)
    assert (tmp_path / "scores.tsv").read_text().count("\tscored\t") == 2
    assert listing(tmp_path) == ["calls.vcf", "scores.tsv", "scores.tsv.partial", "scores.tsv.summary.json"]


def test_an_output_equal_to_the_variant_file_is_refused(tmp_path, work, capsys):
    variants = vcf(tmp_path / "calls.vcf", [snv(10)])
    before = variants.read_text()
    code, _ = fails(variants_cli.main, score_argv(work, variants, variants, "--overwrite"), capsys)
    assert code == f"error: --output {variants} is also an input of this run: give another output file"
    assert variants.read_text() == before and listing(tmp_path) == ["calls.vcf"]


VARIANT_LINE_ERRORS = [  # (data line, message)
    ("1\t-5\t.\tA\tG", r"line 3: POS '-5' is not a whole number"),
    ("1\t\u00b2\t.\tA\tG", r"line 3: POS '\u00b2' is not a whole number"),  # int() fails on it: a traceback
    ("1\t\u0663\t.\tA\tG", r"line 3: POS '\u0663' is not a whole number"),  # Arabic-Indic 3: int() reads 3
    ("1\t10\t.\tA\tA,", r"line 3: ALT 'A,' holds an empty allele"),
    ("1\t10\t.\tA\t,G", r"line 3: ALT ',G' holds an empty allele"),
]


@pytest.mark.parametrize("line, message", VARIANT_LINE_ERRORS, ids=["negative", "superscript", "arabic_indic",
                                                                     "trailing_comma", "leading_comma"])
def test_malformed_variant_lines_are_named(tmp_path, line, message):
    with pytest.raises(VariantFileError, match=message):
        list(VariantReader(vcf(tmp_path / "calls.vcf", [line])))


def test_a_bad_variant_line_ends_the_command_with_one_error_line(tmp_path, work, capsys):
    variants = vcf(tmp_path / "calls.vcf", [snv(10), "1\t\u00b2\t.\tA\tG"])
    code, err = fails(variants_cli.main, score_argv(work, variants, tmp_path / "out.tsv"), capsys)
    assert code == f"error: {variants}: line 4: POS '\u00b2' is not a whole number (a 1-based position, digits 0-9)"
    assert "Traceback" not in err and listing(tmp_path) == ["calls.vcf"]


def test_a_vcf_without_its_chrom_line_is_named(tmp_path):
    with pytest.raises(VariantFileError, match=r"calls.vcf: line 2: expected the #CHROM header line"):
        VariantReader(vcf(tmp_path / "calls.vcf", [snv(10)], header="##fileformat=VCFv4.2\n"))


def test_a_truncated_vcf_gz_names_the_file_and_the_line_reached(tmp_path):
    path = tmp_path / "calls.vcf.gz"
    rows = [f"1\t{pos}\t.\tA\tG" for pos in range(1, 5001)]
    whole = gzip.compress(("#CHROM\tPOS\tID\tREF\tALT\n" + "\n".join(rows) + "\n").encode())
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(VariantFileError, match=r"calls\.vcf\.gz: the gzip data is truncated or corrupted after line "
                                               r"\d+"):
        list(VariantReader(path))


def test_a_vcf_with_a_byte_order_mark_reads_like_one_without(tmp_path):
    plain = list(VariantReader(vcf(tmp_path / "plain.vcf", [snv(10)])))
    marked = tmp_path / "marked.vcf"
    marked.write_bytes(b"\xef\xbb\xbf" + (tmp_path / "plain.vcf").read_bytes())
    reader = VariantReader(marked)
    assert reader.vcf and reader.columns[:5] == ["CHROM", "POS", "ID", "REF", "ALT"]
    assert [(a.chrom, a.pos, a.ref, a.alt) for a in reader] == [(a.chrom, a.pos, a.ref, a.alt) for a in plain]


def test_chr_prefixed_contigs_against_a_plain_reference_say_how_to_fix_it(tmp_path, work, capsys):
    variants = vcf(tmp_path / "calls.vcf", ["chr" + snv(10)])
    code, _ = fails(variants_cli.main, score_argv(work, variants, tmp_path / "out.tsv"), capsys)
    assert "none of its SNVs lies on a reference contig: variant contigs ['chr1'], reference contigs ['1']" in code
    assert "the variants name contigs 'chr1', the reference '1'; drop the prefix" in code
    assert listing(tmp_path) == ["calls.vcf"]


def test_a_fine_tuned_classifier_is_refused_where_the_masked_lm_head_is_needed(tmp_path, work, capsys):
    """Its masked-LM head used to be drawn at random: exit 0 with scores that changed from run to run."""
    variants = vcf(tmp_path / "calls.vcf", [snv(10)])
    argv = score_argv(work, variants, tmp_path / "out.tsv")
    argv[1] = str(work / "classifier")
    code, _ = fails(variants_cli.main, argv, capsys)
    assert code.startswith(f"error: {work / 'classifier'}: the checkpoint has no trained masked-LM head")
    assert listing(tmp_path) == ["calls.vcf"]
    with pytest.raises(CheckpointError, match="no trained masked-LM head"):
        load_model(work / "classifier")


# ---- checkpoint folders -----------------------------------------------------------------------------------------

TAMPERED = [("hidden_size", -64, "hidden_size must be a whole number >= 1, got -64"),
            ("num_hidden_layers", -1, "num_hidden_layers must be a whole number >= 0, got -1"),
            ("kmer_stride", 7, "kmer_stride must be in 1..kmer_size=6, got 7"),
            ("num_attention_heads", 0, "num_attention_heads must be a whole number >= 1, got 0")]


@pytest.mark.parametrize("key, value, message", TAMPERED, ids=[f"{k}={v}" for k, v, _ in TAMPERED])
def test_a_tampered_config_is_refused_naming_the_file_and_field(tmp_path, work, key, value, message):
    folder = shutil.copytree(work / "model", tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, key: value}))
    expected = re.escape(f"{folder / 'config.json'}: {message}")
    for loader in (load_masked_lm, load_model_config, load_model):
        with pytest.raises(CheckpointError, match=expected):
            loader(str(folder))
    with pytest.raises(ValueError, match=re.escape(message)):  # the travelling class itself
        RandomMaskConfig(**{key: value})


def test_weights_that_do_not_match_the_config_are_named(tmp_path, work):
    folder = shutil.copytree(work / "model", tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_size": 128}))
    with pytest.raises(CheckpointError, match=re.escape(f"{folder}: the weights' shapes do not match config.json")):
        load_masked_lm(folder)


def test_a_folder_without_weights_is_named(tmp_path, work, capsys):
    folder = shutil.copytree(work / "model", tmp_path / "model")
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=re.escape(f"{folder}: the folder holds config.json but no model weights")):
        load_masked_lm(folder)
    fasta = tmp_path / "in.fa"
    fasta.write_text(f">a\n{DNA}\n")
    code, _ = fails(embed_cli.main, ["--model", folder, "--input", fasta, "--output", tmp_path / "x.npy"], capsys)
    assert code == f"error: {folder}: the folder holds config.json but no model weights (model.safetensors)"


def test_fill_mask_over_the_models_positions_says_so(work):
    fill = pipeline("fill-mask", model=str(work / "model"), trust_remote_code=True)
    assert len(fill(DNA[:30] + "[MASK]" + DNA[30:50])) == 5  # within 64 positions: works
    with pytest.raises(ValueError, match=r"the input holds 83 tokens, more than this model's 64 positions "
                                         r"\(max_position_embeddings\): truncate it"):
        fill(DNA[:40] + "[MASK]" + DNA[40:])


# ---- make_demo_task ---------------------------------------------------------------------------------------------

def test_make_demo_task_keeps_a_users_task_unless_told_to_replace_it(tmp_path, capsys):
    mine = tmp_path / "train.csv.gz"
    mine.write_bytes(gzip.compress(b"sequence,label\nACGTACGT,1\n"))
    code, _ = fails(demo_cli.main, ["--output_dir", tmp_path], capsys)
    assert code == (f"error: --output_dir {tmp_path} already holds train.csv.gz (a task of yours?): pass "
                    "--overwrite_output_dir to replace them")
    assert gzip.decompress(mine.read_bytes()) == b"sequence,label\nACGTACGT,1\n" and listing(tmp_path) == [mine.name]
    demo_cli.main(["--output_dir", str(tmp_path), "--overwrite_output_dir"])
    assert listing(tmp_path) == ["dev.csv.gz", "test.csv.gz", "train.csv.gz"]
    assert gzip.decompress(mine.read_bytes()).count(b"\n") == 2001
