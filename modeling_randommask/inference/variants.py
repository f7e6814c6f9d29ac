"""Zero-shot variant effect scores: ``log P(ALT) - log P(REF)`` at the variant's base, from the masked-LM head.

The masked-marginal convention of ESM-1v and GPN: the variant's base is hidden (every k-mer holding it masked, in a
window of the reference centred on it and shifted near contig ends) and the model's distribution over A, C, G, T
there gives both alleles' log-probabilities (natural log), so REF and ALT come from one forward pass; variants at
the same base share it. Negative scores: the model finds ALT less likely than REF in this context.

Input: a VCF(.gz) (bgzip included), or a tab-separated table with a header naming ``chrom``, ``pos``, ``ref`` and
``alt`` columns (case-insensitive; ``#chrom``, ``chr``, ``chromosome``, ``position`` accepted). Positions are
1-based, as in VCF. Every allele gets an output row with a ``status``:

- ``scored``: a single-base change whose REF matches the reference;
- ``ref_mismatch``: REF differs from the reference base (shown in ``genome_ref``), reported, not scored;
- ``indel`` (a MAF-style ``-`` allele too), ``mnv`` (several bases changed), ``symbolic`` (``<DEL>``, ``*``, breakends), ``no_alt`` (ALT ``.``),
  ``alt_is_ref``, ``non_acgt`` (REF or ALT not A/C/G/T): skipped;
- ``unknown_contig``, ``outside_contig``: the reference has no such contig, or the contig is shorter than POS.

A multi-allelic ALT gives one row per allele. Lower-case bases (soft-masked reference, VCF) read as upper case.
Malformed lines (too few fields, or a table line with another number of fields than its header, a POS that is not
ASCII digits, an empty ALT or ALT allele, a data line before a VCF's ``#CHROM`` header, a truncated gzip stream) are
errors naming the file and line; a UTF-8 byte-order mark is dropped. The output is a TSV of the input columns (a
VCF's first eight; ALT holding the allele of the row) plus ``genome_ref``, ``status`` and ``score``, written under a
unique partial name and renamed when complete (``data.output_files``); when no SNV lies on any reference contig
(contig names that differ, ``chr1`` against ``1``), nothing is written and the error lists both sets of names and
how to rename them.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..data.fasta import Sequences, open_unzipped, read_genome
from ..data.options import InputError
from ..data.output_files import check_new_outputs, partial_file
from ..pipeline_randommask import BASES, DEFAULT_RULE, RULES, Rule
from .base_probabilities import log_probs_at
from .loading import InferenceOptions, checked_window, load_model

STATUSES = ("scored", "ref_mismatch", "indel", "mnv", "symbolic", "no_alt", "alt_is_ref", "non_acgt",
            "unknown_contig", "outside_contig")
VCF_COLUMNS = ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
_TABLE_NAMES = {"chrom": ("chrom", "#chrom", "chr", "chromosome", "contig"), "pos": ("pos", "position"),
                "ref": ("ref",), "alt": ("alt",)}
_CHUNK_LINES = 50_000


@dataclass
class Allele:
    """One output row: an input line's fields with ``alt`` holding one allele, and what became of it."""

    line: int
    fields: list[str]
    chrom: str
    pos: int
    ref: str
    alt: str
    status: str = ""
    genome_ref: str = ""
    score: float | None = None


class VariantFileError(InputError, ValueError):
    """A variant file that cannot be read as given; the message names the file and line."""


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text without the line break) of a plain or gzipped (bgzip) UTF-8 text file; a byte-order mark
    at its start is dropped."""
    number = 0
    with open_unzipped(path) as handle:
        try:
            for number, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
                except UnicodeDecodeError as error:
                    raise VariantFileError(f"{path}: line {number}: not UTF-8 text ({error})") from None
                yield number, text
        except (EOFError, OSError, zlib.error) as error:  # a gzip stream cut short or corrupted
            raise VariantFileError(f"{path}: the gzip data is truncated or corrupted after line {number} "
                                   f"({error})") from None


def _classify(ref: str, alt: str) -> str:
    """The status an allele gets before the reference is consulted ("" for a single-base change to score)."""
    if alt == ".":
        return "no_alt"
    if "-" in (ref, alt):  # the empty allele of MAF-style tables
        return "indel"
    if alt == "*" or alt.startswith(("<", ".")) or alt.endswith(".") or "[" in alt or "]" in alt:
        return "symbolic"
    if len(ref) != len(alt):
        return "indel"
    if len(ref) > 1:
        return "mnv"
    if ref not in BASES or alt not in BASES:
        return "non_acgt"
    return "alt_is_ref" if ref == alt else ""


class VariantReader:
    """Alleles of a VCF or variant table, line by line; ``columns`` are the output's input columns."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such variant file")
        self.lines = _lines(self.path)
        self.vcf = False
        for number, text in self.lines:
            if text.startswith("##"):  # VCF meta-information
                self.vcf = True
            elif text.strip():
                self.vcf = self.vcf or text.startswith("#CHROM")
                self._header(number, text)
                break
        else:
            raise VariantFileError(f"{self.path}: no header line (a VCF's #CHROM line, or a table header naming chrom, "
                             "pos, ref, alt)")

    def _header(self, number: int, text: str) -> None:
        names = text.split("\t")
        if self.vcf:
            if names[:5] != ["#CHROM", "POS", "ID", "REF", "ALT"]:
                raise VariantFileError(f"{self.path}: line {number}: expected the #CHROM header line "
                                       f"(#CHROM POS ID REF ALT ...) after the ## lines, got {text[:80]!r}")
            self.columns = [name.lstrip("#") for name in names[:8]]
            self.at = {"chrom": 0, "pos": 1, "ref": 3, "alt": 4}
            return
        lowered = [name.strip().lower() for name in names]
        self.at = {}
        for key, choices in _TABLE_NAMES.items():
            found = [i for i, name in enumerate(lowered) if name in choices]
            if len(found) != 1:
                raise VariantFileError(f"{self.path}: line {number}: the header must name one {key} column "
                                       f"({' / '.join(choices)}); got {names}")
            self.at[key] = found[0]
        self.columns = [name.strip() for name in names]

    def __iter__(self) -> Iterator[Allele]:
        width = len(self.columns)
        for number, text in self.lines:
            if not text.strip():
                continue
            if text.startswith("#"):
                raise VariantFileError(f"{self.path}: line {number}: header or comment line among the variants")
            fields = text.split("\t")
            if len(fields) < 5 if self.vcf else len(fields) != width:
                raise VariantFileError(f"{self.path}: line {number}: {len(fields)} tab-separated fields, expected "
                                       f"{'at least 5 (CHROM POS ID REF ALT)' if self.vcf else width}")
            fields = fields[:width] + [""] * (width - len(fields))  # a VCF may omit QUAL, FILTER, INFO
            chrom, pos, ref = (fields[self.at[key]].strip() for key in ("chrom", "pos", "ref"))
            if not (pos.isascii() and pos.isdigit()):  # int() would also read '-5', '+5', '٣' (Arabic-Indic)
                raise VariantFileError(f"{self.path}: line {number}: POS {pos!r} is not a whole number (a 1-based "
                                       "position, digits 0-9)")
            ref = ref.upper()
            if not (ref.isalpha() or ref == "-"):
                raise VariantFileError(f"{self.path}: line {number}: REF {ref!r} is not a sequence of bases")
            alts = fields[self.at["alt"]].strip().upper()
            if not all(alts.split(",")):
                raise VariantFileError(f"{self.path}: line {number}: ALT {alts!r} holds an empty allele (VCF writes "
                                       "'.' for no alternative, alleles separated by single commas)")
            for alt in alts.split(","):
                row = fields.copy()
                row[self.at["alt"]] = alt
                yield Allele(number, row, chrom, int(pos), ref, alt, _classify(ref, alt))


def _naming_hint(variant_contigs: set[str], reference_contigs: dict[str, int]) -> str:
    """How the two sets of names differ when a 'chr' prefix is all that does (the UCSC against the Ensembl/NCBI
    style), else a general hint."""
    if any(name.removeprefix("chr") in reference_contigs for name in variant_contigs if name.startswith("chr")):
        return (": the variants name contigs 'chr1', the reference '1'; drop the prefix in the variant file (bcftools "
                "annotate --rename-chrs) or use a reference named like it")
    if any(f"chr{name}" in reference_contigs for name in variant_contigs):
        return (": the variants name contigs '1', the reference 'chr1'; add the prefix in the variant file (bcftools "
                "annotate --rename-chrs) or use a reference named like it")
    return " (do both name the same assembly's contigs?)"


@dataclass
class Reference:
    """A reference genome held for lookups by contig name."""

    sequences: Sequences
    index: dict[str, int]

    @classmethod
    def read(cls, paths) -> Reference:
        genome = read_genome(paths)
        return cls(genome, {name: i for i, name in enumerate(genome.names)})


def score_alleles(model, tokenizer, reference: Reference, alleles: list[Allele], **options) -> int:
    """Fill ``status``, ``genome_ref`` and ``score`` of ``alleles`` in place; return the masked copies run (one
    per distinct base, per strand). ``options`` go to ``log_probs_at`` (``rule``, ``window_tokens``,
    ``batch_tokens``, ``reverse_complement``, ``progress``)."""
    todo = []
    for allele in alleles:
        if allele.status:
            continue
        record = reference.index.get(allele.chrom)
        if record is None:
            allele.status = "unknown_contig"
        elif not 1 <= allele.pos <= reference.sequences.lengths[record]:
            allele.status = "outside_contig"
        else:
            allele.genome_ref = chr(reference.sequences.bases(record)[allele.pos - 1])
            allele.status = "ref_mismatch" if allele.genome_ref != allele.ref else "scored"
            todo += [(record, allele.pos - 1)] if allele.status == "scored" else []
    if not todo:
        return 0
    sites, which = np.unique(np.array(todo, dtype=np.int64), axis=0, return_inverse=True)
    log_probs = log_probs_at(model, tokenizer, reference.sequences, sites[:, 0], sites[:, 1], **options).numpy()
    scored = [allele for allele in alleles if allele.status == "scored"]
    for allele, site in zip(scored, which.reshape(-1).tolist()):
        allele.score = float(log_probs[site, BASES.index(allele.alt)] - log_probs[site, BASES.index(allele.ref)])
    return len(sites) * (2 if options.get("reverse_complement") else 1)


@dataclass
class ScoreVariantsArguments(InferenceOptions):
    """Options of ``examples/score_variants.py``."""

    RENAMED_OPTIONS: ClassVar[dict[str, str]] = InferenceOptions.RENAMED_OPTIONS | {  # docs/commands.md
        "--reference": "--genome"}

    genome: list[str] = field(metadata={"help": "reference FASTA(.gz) file(s) or folder the variants refer to"})
    variants: str = field(metadata={"help": "VCF(.gz), or a TSV with chrom, pos (1-based), ref, alt columns"})
    output: str = field(metadata={"help": "output TSV; a summary goes to <output>.summary.json"})
    rule: Rule = field(default=DEFAULT_RULE, metadata={
        "help": f"how the masked k-mers' predictions give P(base): {', '.join(RULES)} (pipeline_randommask)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rule not in RULES:
            raise ValueError(f"--rule must be one of {RULES}, got {self.rule!r}")


def summary_file(output: str | os.PathLike) -> Path:
    return Path(f"{output}.summary.json")


def score_variants(args: ScoreVariantsArguments) -> dict:
    """Score every allele of ``args.variants``, write the TSV and the summary; return the summary. Both files are
    written under unique partial names and appear when complete (``data.output_files``)."""
    output = Path(args.output)
    check_new_outputs([output, summary_file(output)], args.overwrite, inputs=[args.variants, *args.genome])
    reader = VariantReader(args.variants)
    reference = Reference.read(args.genome)
    model, tokenizer = load_model(args.model, args.device, args.dtype)
    window_tokens, _ = checked_window(model, tokenizer, args.window_tokens)  # a bad window fails before writing
    options = {"rule": args.rule, "window_tokens": window_tokens, "batch_tokens": args.batch_tokens,
               "reverse_complement": args.average_strands}
    counts, vcf_contigs, forward_rows, clock = Counter(), set(), 0, time.perf_counter()
    # The TSV is moved into place first: if another run's TSV appeared meanwhile, this run's summary is dropped too.
    with partial_file(summary_file(output), args.overwrite) as summary_partial, \
            partial_file(output, args.overwrite) as partial:
        with open(partial, "w", encoding="utf-8") as out:
            out.write("\t".join(reader.columns + ["genome_ref", "status", "score"]) + "\n")
            alleles = iter(reader)
            while chunk := list(itertools.islice(alleles, _CHUNK_LINES)):
                forward_rows += score_alleles(model, tokenizer, reference, chunk, **options)
                for allele in chunk:
                    counts[allele.status] += 1
                    vcf_contigs.add(allele.chrom)
                    score = "" if allele.score is None else f"{allele.score:.6g}"
                    out.write("\t".join(allele.fields + [allele.genome_ref, allele.status, score]) + "\n")
        if not counts:
            raise VariantFileError(f"{args.variants}: no variant lines (only a header): nothing to score, no "
                                   "output written")
        snvs = sum(counts[s] for s in ("scored", "ref_mismatch", "unknown_contig", "outside_contig"))
        if snvs and counts["unknown_contig"] == snvs:
            raise VariantFileError(f"{args.variants}: none of its SNVs lies on a reference contig: variant "
                                   f"contigs {sorted(vcf_contigs)[:10]}, reference contigs "
                                   f"{reference.sequences.names[:10]}{_naming_hint(vcf_contigs, reference.index)}")
        summary = {"variants": str(args.variants), "reference": [str(p) for p in args.genome],
                   "model": args.model, "output": str(output), "alleles": sum(counts.values()),
                   **{s: counts[s] for s in STATUSES}, "masked_copies": forward_rows,
                   "masked_copies_per_scored_allele": forward_rows / counts["scored"] if counts["scored"] else None,
                   "seconds": time.perf_counter() - clock, **options}
        summary_partial.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
