"""Zero-shot variant scoring: every VCF edge case gets its documented row, scores are log P(ALT) - log P(REF) of the
base-level predictions, one masked copy per distinct base, and bad files fail naming the line."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, lambda_dna, run_script, tiny_model

from modeling_randommask import save_checkpoint
from modeling_randommask.inference import ScoreVariantsArguments, base_probabilities, score_variants
from modeling_randommask.tokenization import KmerTokenizer

CHR_A = lambda_dna(2_000, 100) + lambda_dna(2_100, 50).lower() + lambda_dna(2_150, 150)  # soft-masked 101..150
CHR_B = lambda_dna(7_000, 40)  # shorter than a window: the window is the whole contig


def other_bases(base: str) -> list[str]:
    return [b for b in "ACGT" if b != base.upper()]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    work = tmp_path_factory.mktemp("variants")
    model, tokenizer = tiny_model(max_position_embeddings=64), KmerTokenizer()
    folder = save_checkpoint(model, tokenizer, work / "model")
    reference = work / "reference.fa.gz"
    with gzip.open(reference, "wt") as handle:
        handle.write(f">chrA test contig\n{CHR_A[:120]}\n{CHR_A[120:]}\n>chrB\n{CHR_B}\n")
    return work, folder, reference, model, tokenizer


def a(pos: int) -> str:
    """chrA's base at 1-based ``pos``, as the VCF writes it."""
    return CHR_A[pos - 1].upper()


VCF_ROWS = [
    ("chrA", 1, "first", a(1), ",".join(other_bases(a(1)))),  # contig start, multi-allelic: three rows
    ("chrA", 300, "last", a(300), other_bases(a(300))[0]),  # contig end
    ("chrA", 1, "again", a(1), other_bases(a(1))[0]),  # same base as the first line: shares its masked copy
    ("chrA", 60, "wrong_ref", other_bases(a(60))[0], a(60)),
    ("chrA", 61, "mixed", a(61), f"{other_bases(a(61))[1]},{a(61)}TT,<DEL>,*"),
    ("chrA", 70, "mnv", a(70) + a(71), other_bases(a(70))[0] + other_bases(a(71))[0]),
    ("chrA", 72, "none", a(72), "."),
    ("chrA", 73, "iupac", a(73), "R"),
    ("chrA", 74, "same", a(74), a(74)),
    ("chrA", 75, "maf_deletion", a(75), "-"),
    ("chrA", 120, "soft", a(120).lower(), other_bases(a(120))[2].lower()),  # lower case in the VCF and the genome
    ("chrB", 40, "short_contig", CHR_B[39], other_bases(CHR_B[39])[0]),
    ("chrZ", 5, "elsewhere", "A", "G"),
    ("chrA", 301, "beyond", "A", "G"),
]
EXPECTED_STATUS = ["scored"] * 5 + ["ref_mismatch", "scored", "indel", "symbolic", "symbolic", "mnv", "no_alt",
                                    "non_acgt", "alt_is_ref", "indel", "scored", "scored", "unknown_contig",
                                    "outside_contig"]


def write_vcf(path, rows, gzipped=False):
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chrA>",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tsample1"]
    lines += [f"{c}\t{p}\t{i}\t{r}\t{alt}\t50\tPASS\tDP=10\tGT\t0/1" for c, p, i, r, alt in rows]
    text = "\n".join(lines) + "\n"
    if gzipped:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def run(setup, variants, output, **options):
    _, folder, reference, _, _ = setup
    return score_variants(ScoreVariantsArguments(model=str(folder), genome=[str(reference)], variants=str(variants),
                                                 output=str(output), device="cpu", **options))


def test_every_edge_case_gets_its_row_and_is_counted(tmp_path, setup):
    summary = run(setup, write_vcf(tmp_path / "calls.vcf.gz", VCF_ROWS, gzipped=True), tmp_path / "scores.tsv")
    table = pd.read_csv(tmp_path / "scores.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert table.columns.tolist() == ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "genome_ref",
                                      "status", "score"]  # FORMAT and sample columns are not carried over
    assert table["status"].tolist() == EXPECTED_STATUS
    assert table["ALT"].tolist()[:3] == other_bases(a(1))  # one row per allele
    assert table.loc[table.ID == "wrong_ref", "genome_ref"].item() == a(60)
    assert table.loc[table.ID == "soft", "genome_ref"].item() == a(120)  # soft-masked genome read as upper case
    assert (table["score"] != "").tolist() == [s == "scored" for s in EXPECTED_STATUS]
    assert {s: summary[s] for s in set(EXPECTED_STATUS)} == {s: EXPECTED_STATUS.count(s) for s in set(EXPECTED_STATUS)}
    assert summary["alleles"] == len(EXPECTED_STATUS)
    assert summary["masked_copies"] == 5  # chrA 1 (four alleles on two lines), 300, 61, 120 and chrB 40
    assert json.loads((tmp_path / "scores.tsv.summary.json").read_text()) == summary


def test_scores_are_the_log_ratio_of_the_base_level_predictions(tmp_path, setup):
    _, _, _, model, tokenizer = setup
    run(setup, write_vcf(tmp_path / "calls.vcf", VCF_ROWS), tmp_path / "scores.tsv")
    table = pd.read_csv(tmp_path / "scores.tsv", sep="\t", keep_default_na=False)
    scored = table[table.status == "scored"]
    for (chrom, pos, ref, alt, score) in scored[["CHROM", "POS", "REF", "ALT", "score"]].itertuples(index=False):
        contig = (CHR_A if chrom == "chrA" else CHR_B).upper()
        probs = base_probabilities(model, tokenizer, contig, [pos - 1])[0]
        expected = np.log(probs["ACGT".index(alt.upper())]) - np.log(probs["ACGT".index(ref.upper())])
        assert float(score) == pytest.approx(expected, abs=1e-5)


def test_a_table_of_variants_scores_like_the_vcf(tmp_path, setup):
    vcf = run(setup, write_vcf(tmp_path / "calls.vcf", VCF_ROWS), tmp_path / "from_vcf.tsv")
    table = tmp_path / "calls.tsv"
    table.write_text("Chromosome\tPosition\tref\talt\tgene\n" +
                     "".join(f"{c}\t{p}\t{r}\t{alt}\tg{i}\n" for i, (c, p, _, r, alt) in enumerate(VCF_ROWS)))
    tsv = run(setup, table, tmp_path / "from_tsv.tsv")
    assert {s: tsv[s] for s in EXPECTED_STATUS} == {s: vcf[s] for s in EXPECTED_STATUS}
    ours = pd.read_csv(tmp_path / "from_tsv.tsv", sep="\t", keep_default_na=False)
    assert ours.columns.tolist() == ["Chromosome", "Position", "ref", "alt", "gene", "genome_ref", "status", "score"]
    theirs = pd.read_csv(tmp_path / "from_vcf.tsv", sep="\t", keep_default_na=False)
    assert ours["score"].tolist() == theirs["score"].tolist()


def test_reverse_complement_scores_both_strands(tmp_path, setup):
    plain = run(setup, write_vcf(tmp_path / "calls.vcf", VCF_ROWS), tmp_path / "one.tsv")
    both = run(setup, tmp_path / "calls.vcf", tmp_path / "two.tsv", average_strands=True)
    assert both["masked_copies"] == 2 * plain["masked_copies"]
    one, two = (pd.read_csv(tmp_path / name, sep="\t", keep_default_na=False) for name in ("one.tsv", "two.tsv"))
    assert (one["status"] == two["status"]).all() and (one["score"] != two["score"]).any()


@pytest.mark.parametrize("lines, message", [
    (["#CHROM\tPOS\tID\tREF\tALT", "chrA\tten\t.\tA\tG"], "line 2: POS 'ten' is not a whole number"),
    (["#CHROM\tPOS\tID\tREF\tALT", "chrA\t10\t.\tA"], "line 2: 4 tab-separated fields, expected at least 5"),
    (["##fileformat=VCFv4.2", "chrA\t10\t.\tA\tG"], r"line 2: expected the #CHROM header line"),
    (["#CHROM\tPOS\tID\tREF\tALT", "chrA\t10\t.\t.\tG"], r"line 2: REF '\.' is not a sequence of bases"),
    (["chrom\tposition\tallele", "chrA\t10\tG"], "line 1: the header must name one ref column"),
    (["#CHROM\tPOS\tID\tREF\tALT", "chrA\t10\t.\tA\tG", "#note"], "line 3: header or comment line among"),
    ([], "no header line"),
    (["chrom\tpos\tref\talt", "chrA\t10\tA\tG\textra"], "line 2: 5 tab-separated fields, expected 4"),
    (["chrom\tpos\tref\talt", "chrA\t10\tA\t"], "line 2: ALT '' holds an empty allele"),
])
def test_malformed_variant_files_fail_naming_the_line(tmp_path, setup, lines, message):
    path = tmp_path / "bad.vcf"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=message):
        run(setup, path, tmp_path / "out.tsv")
    assert not list(tmp_path.glob("out.tsv*"))


def test_contig_names_that_match_nothing_stop_the_run_and_write_nothing(tmp_path, setup):
    path = write_vcf(tmp_path / "calls.vcf", [("1", 10, ".", "A", "G"), ("2", 20, ".", "C", "T")])
    with pytest.raises(ValueError, match=r"none of its SNVs lies on a reference contig.*\['1', '2'\].*\['chrA', 'chrB'\]"):
        run(setup, path, tmp_path / "out.tsv")
    assert not list(tmp_path.glob("out.tsv*"))


def test_an_existing_output_is_not_overwritten(tmp_path, setup):
    (tmp_path / "out.tsv").write_text("keep me")
    with pytest.raises(FileExistsError, match="--overwrite"):
        run(setup, write_vcf(tmp_path / "calls.vcf", VCF_ROWS), tmp_path / "out.tsv")
    assert (tmp_path / "out.tsv").read_text() == "keep me"
    run(setup, tmp_path / "calls.vcf", tmp_path / "out.tsv", overwrite=True)


@pytest.mark.slow
def test_the_command_line_prints_what_it_wrote_where(tmp_path, setup):
    _, folder, reference, _, _ = setup
    variants = write_vcf(tmp_path / "calls.vcf", VCF_ROWS)
    output = tmp_path / "scores.tsv"
    process = run_script(["--model", str(folder), "--genome", str(reference), "--variants", str(variants),
                          "--output", str(output)], program=(str(REPO / "examples" / "score_variants.py"),))
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out[-3000:]
    assert out.strip().splitlines()[-1].startswith(f"wrote {len(EXPECTED_STATUS)} alleles (8 scored, 5 masked copies")
    assert out.strip().splitlines()[-1].endswith(f"to {output} and {output}.summary.json")
