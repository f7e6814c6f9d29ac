"""Genome data: FASTA reading (messy and malformed input, chunk boundaries, memory), windows, the N policy, the
region-held-out validation split, determinism, reverse complement and disjoint shards across ranks and workers.
Real DNA from ../shared/data and the real KmerTokenizer."""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate.data_loader import BatchSamplerShard
from conftest import DATA_DIR, ECOLI, LAMBDA, require
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, RandomSampler

from modeling_randommask.data import fasta, genome_windows
from modeling_randommask.data.fasta import FastaFormatError, default_corpus, fasta_files, read_genome
from modeling_randommask.data.genome_windows import GenomeDataConfig, build_genome_datasets
from modeling_randommask.tokenization import KmerTokenizer

GENOMES = DATA_DIR / "genomes"
CHR22 = GENOMES / "human_chr22_20-21M.fa.gz"  # 1 Mb holding one 100 kb run of N
SMALL = [GENOMES / "yeast_sacCer_chrI.fa.gz", LAMBDA,
         GENOMES / "human_mito_rCRS_NC_012920.fa.gz"]
TOKENIZER = KmerTokenizer(k=6)
W = TOKENIZER.bases_for_tokens(510)  # 515 bases -> 510 k-mers -> 512 tokens with [CLS]/[SEP]
REVCOMP = str.maketrans("ACGTRYKMBVDHNSW", "TGCAYRMKVBHDNSW")


def reference_records(path: Path) -> dict[str, str]:
    """A plain line-by-line reading, independent of the module's chunked one."""
    records, name = {}, None
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith(">"):
                name = line[1:].split()[0]
                records[name] = []
            else:
                records[name].append(line.strip().upper())
    return {name: "".join(lines) for name, lines in records.items()}


def write(path: Path, content: bytes, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


@pytest.fixture(scope="module")
def ecoli():
    return read_genome(ECOLI)


@pytest.fixture(scope="module")
def chr22():
    return read_genome(require(CHR22))


@pytest.fixture(scope="module")
def small():
    return read_genome([require(path) for path in SMALL])


# ---- reading ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [ECOLI, CHR22, *SMALL], ids=lambda p: p.name)
def test_real_genomes_read_as_a_plain_line_by_line_reading(path):
    genome = read_genome(require(path))
    expected = reference_records(path)
    assert genome.names == list(expected)
    assert [genome.record(name) for name in genome.names] == list(expected.values())
    assert genome.sequence.dtype == np.uint8 and genome.sequence.nbytes == genome.num_bases  # 1 byte per base


def test_several_files_and_folders_in_one_genome(tmp_path, small):
    folder = tmp_path / "genomes"
    folder.mkdir()
    for path in SMALL:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "notes.txt").write_text("not a genome")
    assert [p.name for p in fasta_files(folder)] == sorted(p.name for p in SMALL)
    genome = read_genome([folder])
    assert genome.num_bases == small.num_bases == 230_208 + 48_502 + 16_569
    ends = genome.starts + genome.lengths
    assert genome.starts[0] == 0 and (genome.starts[1:] == ends[:-1]).all() and ends[-1] == genome.num_bases
    assert [genome.files[i].name for i in genome.record_files] == sorted(p.name for p in SMALL)
    with pytest.raises(FileNotFoundError, match="no FASTA"):
        fasta_files(tmp_path)  # holds only the sub-folder
    with pytest.raises(FileNotFoundError, match="missing.fa"):
        read_genome(tmp_path / "missing.fa")


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_messy_input_multi_record_crlf_lowercase_iupac(tmp_path, compress):
    text = (b">chr1 soft-masked, CRLF\r\nACGTacgtnn\r\nNNRYkm swbdhv\r\n\r\n"
            b">chr2\tdescription\nU\tu  acgt\n>chrM\nAC\nGT")  # no final newline
    genome = read_genome(write(tmp_path / ("x.fa.gz" if compress else "x.fa"), text, compress))
    assert genome.names == ["chr1", "chr2", "chrM"]
    assert genome.record("chr1") == "ACGTACGTNNNNRYKMSWBDHV"  # upper-case, IUPAC kept, CR/space dropped
    assert genome.record("chr2") == "UUACGT" and genome.record("chrM") == "ACGT"
    assert genome.lengths.tolist() == [22, 6, 4]


def test_plain_text_named_gz_is_read_by_its_content(tmp_path):
    assert read_genome(write(tmp_path / "plain.fa.gz", b">r\nACGT\n")).record("r") == "ACGT"


def _fasta_text(records: list[tuple[str, str]], width: int, newline: bytes, final_newline: bool) -> bytes:
    lines = []
    for name, seq in records:
        lines.append(f">{name} some description".encode())
        lines += [seq[i : i + width].encode() for i in range(0, len(seq), width)]
    return newline.join(lines) + (newline if final_newline else b"")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.tuples(st.text("abcXYZ12", min_size=1, max_size=5),
                                  st.text("ACGTNacgtnRYs", min_size=1, max_size=90)),
                        min_size=1, max_size=6, unique_by=lambda r: r[0]),
       width=st.integers(1, 70), crlf=st.booleans(), final_newline=st.booleans(), chunk=st.integers(1, 40))
def test_chunk_boundaries_never_change_the_reading(tmp_path, monkeypatch, records, width, crlf, final_newline,
                                                   chunk):
    path = write(tmp_path / "h.fa", _fasta_text(records, width, b"\r\n" if crlf else b"\n", final_newline))
    monkeypatch.setattr(fasta, "_CHUNK_BYTES", chunk)
    genome = read_genome(path)
    assert genome.names == [name for name, _ in records]
    assert [genome.record(name) for name in genome.names] == [seq.upper() for _, seq in records]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seqs=st.lists(st.text("ACGT", min_size=1, max_size=60), min_size=1, max_size=4), data=st.data(),
       chunk=st.integers(1, 50))
def test_error_line_is_exact_whatever_the_chunk_size(tmp_path, monkeypatch, seqs, data, chunk):
    lines = []
    for i, seq in enumerate(seqs):
        lines += [f">r{i}"] + [seq[j : j + 7] for j in range(0, len(seq), 7)]
    sequence_lines = [i for i, line in enumerate(lines) if not line.startswith(">")]
    bad_line = data.draw(st.sampled_from(sequence_lines))
    column = data.draw(st.integers(0, len(lines[bad_line])))
    lines[bad_line] = lines[bad_line][:column] + data.draw(st.sampled_from("7*-.@")) + lines[bad_line][column:]
    path = write(tmp_path / "bad.fa", "\n".join(lines).encode())
    monkeypatch.setattr(fasta, "_CHUNK_BYTES", chunk)
    with pytest.raises(FastaFormatError) as error:
        read_genome(path)
    assert error.value.line == bad_line + 1 and error.value.path == path


MALFORMED = {  # name: (content, line of the error, words in the message)
    "sequence before header": (b"ACGT\n>r1\nACGT\n", 1, "before the first '>' header"),
    "sequence after blank lines": (b"\n\r\nACGT\n>r1\nACGT\n", 3, "before the first '>' header"),
    "empty file": (b"", 1, "empty file"),
    "only whitespace": (b"\n \r\n\t\n", 1, "empty file"),
    "digit": (b">r1\nACGT\nAC1T\n", 3, "invalid character '1' in record 'r1'"),
    "star": (b">r1\nACGT\n>r2\nAC\nGT*\n", 5, "invalid character '*' in record 'r2'"),
    "alignment gap": (b">r1\nAC-GT\n", 2, "invalid character '-'"),
    "binary garbage": (b">r1\nACGT\nAC\x00\xff\x89T\n", 3, "invalid character byte 0x00"),
    "high bytes": (b">r1\nACGT\n\nAC\xff\xfe\x89T\n", 4, "invalid character byte 0xff"),
    "nul byte": (b">r1\nACGT\nACGT\r\nACGT\nAC\x00GT\n", 5, "invalid character byte 0x00 in record 'r1'"),
    "'>' inside a line": (b">r1\nAC>GT\n", 2, "invalid character '>'"),
    "header without name": (b">r1\nACGT\n>  \nACGT\n", 3, "without a record name"),
    "bare '>' as the first line": (b">\r\nACGT\r\n", 1, "without a record name"),
    "bare '>' at the end, no newline": (b">r1\nACGT\n>", 3, "without a record name"),
    "binary file": (b"\x89PNG\r\n\x1a\n\x00\x00", 1, "before the first '>' header"),
    "duplicate name in a file": (b">r1\nACGT\n>r2\nAC\n>r1 again\nGG\n", 5, "'r1' already used at"),
    "only empty records": (b">r1\n>r2\n", 1, "no record with sequence"),
}


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_fasta_names_file_and_line(tmp_path, case, compress):
    content, line, words = MALFORMED[case]
    path = write(tmp_path / ("bad.fa.gz" if compress else "bad.fa"), content, compress)
    with pytest.raises(FastaFormatError) as error:
        read_genome(path)
    assert isinstance(error.value, ValueError)
    assert (error.value.path, error.value.line) == (path, line)
    assert str(error.value).startswith(f"{path}: line {line}: ") and words in str(error.value)


def test_duplicate_record_names_across_files(tmp_path):
    first = write(tmp_path / "a.fa", b">chr1\nACGT\n>chr2\nAAAA\n")
    second = write(tmp_path / "b.fa.gz", b">chrX\nACGT\n>chr2 copy\nCCCC\n", compress=True)
    with pytest.raises(FastaFormatError, match=r"b\.fa\.gz: line 3: record name 'chr2' already used at .*a\.fa: line 3"):
        read_genome([first, second])


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.99])
def test_truncated_gzip_names_the_line_where_it_breaks(tmp_path, cut):
    rng = np.random.default_rng(2)
    text = b"".join(b">r%d\n" % i + np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, 300)].tobytes() + b"\n"
                    for i in range(3000))  # 6,000 lines
    data = gzip.compress(text)
    data = data[: int(len(data) * cut)]
    line = zlib.decompressobj(wbits=31).decompress(data).count(b"\n") + 1  # the line that the cut data ends in
    path = write(tmp_path / "cut.fa.gz", data)
    with pytest.raises(FastaFormatError, match=re.escape(f"{path}: line {line}: unreadable data: truncated or corrupt")):
        read_genome(path)


def test_gzip_members_read_as_one_stream(tmp_path):
    """bgzip writes one member per 64 kB and ``cat a.gz b.gz`` joins files: the members' text, one after another."""
    members = [b">a desc\nACGT\nAC", b"GT\n>b\nGG", b"CC\n"]
    genome = read_genome(write(tmp_path / "joined.fa.gz", b"".join(map(gzip.compress, members))))
    assert genome.names == ["a", "b"] and genome.record("a") == "ACGTACGT" and genome.record("b") == "GGCC"


def test_corrupt_gzip_is_an_error(tmp_path):
    data = bytearray(gzip.compress(b">r\n" + b"ACGT" * 5000 + b"\n"))
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff" * 8
    with pytest.raises(FastaFormatError, match="corrupt.fa.gz: line 1: unreadable data"):
        read_genome(write(tmp_path / "corrupt.fa.gz", bytes(data)))


def test_empty_records_are_skipped_with_a_warning_and_counted(tmp_path, caplog):
    path = write(tmp_path / "e.fa", b">empty1\n>r1\n" + b"ACGT" * 1000 + b"\n>empty2\n\n")
    with caplog.at_level(logging.WARNING, logger=fasta.__name__):
        genome = read_genome(path)
    assert genome.names == ["r1"] and genome.skipped_records == ["e.fa:empty1", "e.fa:empty2"]
    assert f"{path}: line 1: record 'empty1' has no sequence; skipped" in caplog.text
    assert f"{path}: line 4: record 'empty2' has no sequence; skipped" in caplog.text
    _, _, stats = build_genome_datasets(GenomeDataConfig(path, max_length=64, val_fraction=0.2), TOKENIZER)
    assert stats["skipped_empty_records"] == 2
    assert stats["genomes"][0]["source"] == f"{path} (first record r1)"  # the model card's source cell
    with pytest.raises(FastaFormatError, match="no record with sequence"):
        read_genome(write(tmp_path / "all_empty.fa", b">a\n>b\n"))


def test_reading_holds_about_one_byte_per_base(monkeypatch):
    monkeypatch.setattr(fasta, "_CHUNK_BYTES", 1 << 20)
    tracemalloc.start()
    genome = read_genome(ECOLI)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert genome.num_bases == 4_639_675
    assert peak < 1.15 * genome.num_bases + 4 * (1 << 20), f"peak {peak / 1e6:.1f} MB for {genome.num_bases:,} bases"


def test_default_corpus_is_the_embedded_ecoli():
    assert [p.name for p in default_corpus()] == ["ecoli_k12_mg1655.fa.gz"]
    assert [p.name for p in default_corpus(include_lambda=True)] == ["ecoli_k12_mg1655.fa.gz", "lambda_NC_001416.fa.gz"]
    assert all(p.is_file() for p in default_corpus(include_lambda=True))
    assert read_genome(default_corpus()).num_bases == 4_639_675


# ---- windows ------------------------------------------------------------------------------------------------------

def _config(path, **overrides) -> GenomeDataConfig:
    """The settings these tests were written for: 512-token windows, seed 0."""
    return GenomeDataConfig(genome=[path], **({"max_length": 512, "seed": 0} | overrides))


def _genome_slice(genome, dataset, index: int) -> str:
    record, start, end, _ = dataset.locate([index])[0]
    return genome.record(record)[start:end]


@pytest.mark.parametrize("random_offsets", [False, True], ids=["tiled", "random"])
def test_windows_stay_inside_records_and_hold_their_bases(small, random_offsets):
    train, val, stats = build_genome_datasets(_config("unused", random_offsets=random_offsets, val_fraction=0.05),
                                              TOKENIZER, genome=small)
    assert stats["window_bases"] == W == 515 and stats["records"] == 3
    lengths = dict(zip(small.names, small.lengths.tolist()))
    for dataset in (train, val):
        for epoch in range(3):
            dataset.set_epoch(epoch)
            located = dataset.locate(range(len(dataset)))
            assert all(0 <= start and end - start == W and end <= lengths[record] for record, start, end, _ in located)
            bases = dataset.bases(range(len(dataset)))
            for i in range(0, len(dataset), 37):
                forward = _genome_slice(small, dataset, i)
                expected = forward.translate(REVCOMP)[::-1] if located[i][3] else forward
                assert bases[i].numpy().tobytes().decode() == expected
    train.set_epoch(0)
    starts = train.window_starts(range(len(train))).numpy()
    segment = np.searchsorted(train.segments[0], starts, side="right") - 1
    assert ((starts - train.segments[0][segment] - train.offset) % W == 0).all()  # a grid from each segment start
    assert (starts + W <= train.segments[1][segment]).all()
    assert (train.offset == 0) == (not random_offsets)


def test_input_ids_are_cls_kmers_sep_from_the_tokenizer(small):
    train, _, _ = build_genome_datasets(_config("unused"), TOKENIZER, genome=small)
    indices = [0, 5, 17, len(train) - 1]
    batch = train.__getitems__(indices)
    for index, item in zip(indices, batch):
        text = train.bases([index])[0].numpy().tobytes().decode()
        assert item["input_ids"].dtype == torch.long and item["input_ids"].shape == (512,)
        assert item["input_ids"].tolist() == TOKENIZER(text)["input_ids"]  # the tokenizer's string path
        assert torch.equal(train[index]["input_ids"], item["input_ids"])
    with pytest.raises(IndexError):
        train[len(train)]
    with pytest.raises(IndexError):
        train.__getitems__([0, -1])


def test_random_offsets_tile_each_epoch_without_overlap_and_are_deterministic(ecoli):
    train, _, _ = build_genome_datasets(_config("unused", seed=3), TOKENIZER, genome=ecoli)
    size, offsets, per_epoch = len(train), set(), {}
    for epoch in range(6):
        train.set_epoch(epoch)
        assert len(train) == size
        starts = train.window_starts(range(size))
        gaps = starts.sort().values.diff()
        assert gaps.min() >= W  # no overlap within an epoch
        offsets.add(train.offset)
        per_epoch[epoch] = (starts, train.reversed(range(size)))
    assert len(offsets) >= 4  # the grid moves between epochs
    again, _, _ = build_genome_datasets(_config("unused", seed=3), TOKENIZER, genome=ecoli)
    for epoch in (4, 1):  # any order: a pure function of (seed, epoch, index)
        again.set_epoch(epoch)
        assert torch.equal(again.window_starts(range(size)), per_epoch[epoch][0])
        assert torch.equal(again.reversed(range(size)), per_epoch[epoch][1])
        assert torch.equal(again.reversed([7]), per_epoch[epoch][1][7:8])  # independent of the batch
    other, _, _ = build_genome_datasets(_config("unused", seed=4), TOKENIZER, genome=ecoli)
    other.set_epoch(1)
    assert not torch.equal(other.reversed(range(size)), per_epoch[1][1])
    covered = size * W / ecoli.num_bases  # one epoch covers the genome but the held-out 1% and the segment ends
    assert 0.97 < covered < 0.99


def test_reverse_complement(ecoli):
    train, _, _ = build_genome_datasets(_config("unused"), TOKENIZER, genome=ecoli)
    train.set_epoch(2)
    flips = train.reversed(range(len(train)))
    assert 0.47 < flips.float().mean() < 0.53
    flipped = torch.nonzero(flips).flatten()[:50].tolist()
    kept = torch.nonzero(~flips).flatten()[:50].tolist()
    bases = train.bases(flipped + kept)
    for row, index in zip(bases, flipped + kept):
        forward = _genome_slice(ecoli, train, index)
        expected = forward.translate(REVCOMP)[::-1] if index in flipped else forward
        assert row.numpy().tobytes().decode() == expected
        assert train[index]["input_ids"][1:-1].tolist() == TOKENIZER(expected)["input_ids"][1:-1]
    codes = np.frombuffer(b"ACGTNRYKMSWBDHV", np.uint8)  # the complement is an involution on IUPAC codes
    assert (fasta.COMPLEMENT[fasta.COMPLEMENT[codes]] == codes).all()
    plain, _, _ = build_genome_datasets(_config("unused", reverse_complement=False), TOKENIZER, genome=ecoli)
    assert not plain.reversed(range(len(plain))).any()


# ---- the N policy -------------------------------------------------------------------------------------------------

def _non_acgt_fraction(dataset) -> torch.Tensor:
    bases = dataset.bases(range(len(dataset)))
    acgt = (bases == 65) | (bases == 67) | (bases == 71) | (bases == 84)
    return 1 - acgt.float().mean(dim=1)


def test_assembly_gap_is_cut_out(chr22):
    train, val, stats = build_genome_datasets(_config("unused"), TOKENIZER, genome=chr22)
    assert stats["non_acgt_bases"] == stats["gap_bases_excluded"] == 100_000
    for epoch in range(3):
        train.set_epoch(epoch)
        assert _non_acgt_fraction(train).max() == 0
    assert _non_acgt_fraction(val).max() == 0
    assert (train[0]["input_ids"] != 1).all()


def test_windows_with_too_many_n_are_skipped_and_counted(chr22):
    # min_gap out of reach: the 100 kb N run stays in the segments and the window threshold must handle it
    for random_offsets in (False, True):
        config = _config("unused", min_gap=10**9, random_offsets=random_offsets)
        train, val, stats = build_genome_datasets(config, TOKENIZER, genome=chr22)
        assert stats["gap_bases_excluded"] == 0
        assert 100_000 // W - 1 <= stats["skipped_windows_n_fraction"] <= 100_000 // W + 4
        assert stats["skipped_windows_n_fraction"] == train.skipped_windows + val.skipped_windows
        for epoch in range(4):
            train.set_epoch(epoch)
            assert _non_acgt_fraction(train).max() <= 0.1
        assert _non_acgt_fraction(val).max() <= 0.1


def test_slots_made_in_steps_equal_slots_made_at_once(chr22, monkeypatch):
    """The slots are made a step at a time (bounded transient memory); steps that cut segments and skipped slots
    anywhere change nothing."""
    for random_offsets in (False, True):
        config = _config("unused", min_gap=10**9, random_offsets=random_offsets)
        monkeypatch.setattr(genome_windows, "_SLOTS_PER_STEP", 1 << 40)
        at_once = build_genome_datasets(config, TOKENIZER, genome=chr22)
        monkeypatch.setattr(genome_windows, "_SLOTS_PER_STEP", 37)
        in_steps = build_genome_datasets(config, TOKENIZER, genome=chr22)
        for one, other in zip(at_once[:2], in_steps[:2]):
            assert torch.equal(one.slots, other.slots) and one.skipped_windows == other.skipped_windows
        assert at_once[2] == in_steps[2] and at_once[0].skipped_windows > 0


def test_scattered_n_threshold(tmp_path):
    rng = np.random.default_rng(0)
    def record(n_every: int) -> bytes:  # isolated Ns (runs of 1, far below min_gap) every n_every bases
        bases = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, 40 * W)]
        bases[::n_every] = ord("N")
        return bases.tobytes()
    path = write(tmp_path / "n.fa", b">dense\n" + record(8) + b"\n>sparse\n" + record(20) + b"\n")
    train, val, stats = build_genome_datasets(_config(path, random_offsets=False, val_fraction=0.02), TOKENIZER)
    records = {record for record, *_ in train.locate(range(len(train)))}
    assert records == {"sparse"}  # 12.5% N > 10%: skipped; 5% N: kept, as [UNK] k-mers
    assert stats["skipped_windows_n_fraction"] == 40 and {record for record, *_ in val.locate(range(len(val)))} == {
        "sparse"}  # held-out blocks are drawn among the mostly-ACGT ones
    assert (train[0]["input_ids"] == TOKENIZER.unk_token_id).sum() > 100


# ---- validation split ---------------------------------------------------------------------------------------------

def _overlaps(windows: list[tuple[str, int, int, bool]], regions: list[tuple[str, int, int]]) -> int:
    count = 0
    for name, start, end in regions:
        count += sum(record == name and s < end and start < e for record, s, e, _ in windows)
    return count


@pytest.mark.parametrize("which", ["ecoli", "chr22", "small"])
def test_validation_regions_never_overlap_training_windows(which, request):
    genome = request.getfixturevalue(which)
    train, val, stats = build_genome_datasets(_config("unused", seed=11), TOKENIZER, genome=genome)
    regions = val.regions()
    assert stats["validation_regions"] >= 1 and len(val) >= 1
    assert 0.005 <= stats["validation_bases"] / stats["bases"] <= 0.05
    assert all(_overlaps([w], regions) == 1 for w in val.locate(range(len(val))))  # validation inside regions
    for epoch in range(3):
        train.set_epoch(epoch)
        assert _overlaps(train.locate(range(len(train))), regions) == 0
    # whole held-out regions, not only where the validation windows fall: training segments avoid them
    assert not any(r == name and s < e2 and s2 < e for r, s, e in regions for name, s2, e2 in train.regions())
    again, val_again, _ = build_genome_datasets(_config("unused", seed=11), TOKENIZER, genome=genome)
    assert val_again.regions() == regions and torch.equal(again.slots, train.slots)


def test_validation_blocks_depend_on_the_seed_and_fraction(ecoli):
    picks = {seed: build_genome_datasets(_config("unused", seed=seed), TOKENIZER, genome=ecoli)[1].regions()
             for seed in range(4)}
    assert len({tuple(r) for r in picks.values()}) >= 3
    _, val, stats = build_genome_datasets(_config("unused", val_fraction=0.05), TOKENIZER, genome=ecoli)
    assert stats["validation_regions"] == 2 and stats["validation_block_bases"] == 100_000  # 47 blocks of 100 kb
    train, val, stats = build_genome_datasets(_config("unused", val_fraction=0.0), TOKENIZER, genome=ecoli)
    assert len(val) == 0 and stats["validation_bases"] == 0 and len(train) > 8916


def test_val_seed_holds_out_the_same_blocks_whatever_the_run_seed(ecoli):
    """Seeds of one study (different runs) must be measured on the same held-out DNA."""
    held = {seed: build_genome_datasets(_config("unused", seed=seed, val_seed=7), TOKENIZER, genome=ecoli)
            for seed in (0, 1)}
    assert held[0][1].regions() == held[1][1].regions() == \
        build_genome_datasets(_config("unused", seed=7), TOKENIZER, genome=ecoli)[1].regions()
    assert all(np.array_equal(a, b) for a, b in zip(held[0][0].segments, held[1][0].segments))
    with pytest.raises(ValueError, match="val_seed"):
        GenomeDataConfig(val_seed=-1)


def test_many_short_records(tmp_path):
    rng = np.random.default_rng(1)
    text = b"".join(b">contig%d\n" % i + np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, 3000)].tobytes()
                    + b"\n" for i in range(40))
    train, val, stats = build_genome_datasets(_config(write(tmp_path / "c.fa", text)), TOKENIZER)
    assert stats["validation_block_bases"] == 4 * W  # scaled down to the smallest block allowed
    assert stats["records"] == 40 and len(train) > 100 and len(val) >= 1
    assert _overlaps(train.locate(range(len(train))), val.regions()) == 0
    assert all(end <= 3000 for _, _, end, _ in train.locate(range(len(train))))


# ---- sharing across ranks and workers -----------------------------------------------------------------------------

def test_rank_shards_are_disjoint_with_workers(small):
    train, _, _ = build_genome_datasets(_config("unused"), TOKENIZER, genome=small)
    train.set_epoch(1)
    delivered = {}
    for rank, workers in ((0, 2), (1, 0)):
        sampler = DistributedSampler(train, num_replicas=2, rank=rank, shuffle=True, seed=5, drop_last=True)
        sampler.set_epoch(1)
        indices = list(sampler)
        loader = DataLoader(train, batch_size=32, sampler=sampler, num_workers=workers)
        batches = torch.cat([batch["input_ids"] for batch in loader])
        assert torch.equal(batches, train.input_ids(indices))  # workers deliver exactly the sampler's windows
        delivered[rank] = {(record, start) for record, start, _, _ in train.locate(indices)}
        assert len(delivered[rank]) == len(indices)  # no duplicate within a rank
    assert not delivered[0] & delivered[1]
    assert len(delivered[0] | delivered[1]) == len(train) // 2 * 2
    shards = [list(BatchSamplerShard(BatchSampler(RandomSampler(train, generator=torch.Generator().manual_seed(0)),
                                                  32, drop_last=True), num_processes=2, process_index=rank))
              for rank in range(2)]
    assert not {i for b in shards[0] for i in b} & {i for b in shards[1] for i in b}  # accelerate's sharding


def _stack(features):
    return torch.stack([feature["input_ids"] for feature in features])


@pytest.mark.slow
def test_spawned_worker_reads_shared_memory_and_the_epoch(small):
    train, val, _ = build_genome_datasets(_config("unused"), TOKENIZER, genome=small)
    train.set_epoch(3)
    loader = DataLoader(train, batch_size=16, num_workers=1, multiprocessing_context="spawn", collate_fn=_stack)
    batches = [batch for _, batch in zip(range(2), loader)]
    assert torch.equal(torch.cat(batches), train.input_ids(range(32)))
    assert train.sequence.is_shared() and val.sequence.is_shared()  # moved once, for both datasets


# ---- configuration ------------------------------------------------------------------------------------------------

def test_config_and_stats(ecoli, tmp_path):
    assert GenomeDataConfig("genome.fa").genome == ["genome.fa"]
    for bad in ({"max_length": 2}, {"val_fraction": 0.9}, {"max_n_fraction": 1.5}, {"min_gap": 0}):
        with pytest.raises(ValueError, match="GenomeDataConfig"):
            GenomeDataConfig(["x.fa"], **bad)
    train, val, stats = build_genome_datasets(_config(ECOLI), TOKENIZER)
    assert stats["genomes"] == [{"name": "ecoli_k12_mg1655.fa.gz", "path": str(ECOLI), "bases": 4_639_675,
                                 "file_sha256": hashlib.sha256(ECOLI.read_bytes()).hexdigest(),
                                 "source": "E. coli K-12 MG1655, NCBI NC_000913 (Debian ragout-examples)",
                                 "train_windows": len(train), "sampling_share": 1.0}]
    assert (stats["train_windows_per_epoch"], stats["validation_windows"]) == (len(train), len(val))
    assert stats["records"] == 1 and stats["non_acgt_bases"] == 0 and stats["skipped_windows_n_fraction"] == 0
    short = build_genome_datasets(_config(ECOLI, max_length=130), TOKENIZER, genome=ecoli)[2]
    assert short["window_bases"] == 133 and short["train_windows_per_epoch"] > 3.8 * len(train)
    with pytest.raises(ValueError, match="too little usable sequence"):
        build_genome_datasets(_config(write(tmp_path / "tiny.fa", b">t\n" + b"ACGT" * 300)), TOKENIZER)


def test_max_bases_reads_only_the_first_bases(tmp_path):
    first, second = tmp_path / "a.fa", tmp_path / "b.fa"
    first.write_bytes(b">r1\nACGTACGT\n>r2\nGGGGCCCC\n")
    second.write_bytes(b">r3\nTTTT\n>r4\nAC*GT\n")  # malformed, but beyond the sample
    genome = read_genome([first, second], max_bases=11)
    assert genome.names == ["r1", "r2"] and genome.lengths.tolist() == [8, 3] and genome.num_bases == 11
    assert genome.record("r2") == "GGG"
    assert read_genome([first, second], max_bases=16).names == ["r1", "r2"]
    with pytest.raises(FastaFormatError, match="invalid character"):
        read_genome([first, second])


@pytest.mark.parametrize("every, random_offsets, kept", [(6, True, True), (3, True, False), (3, False, True)])
def test_max_n_fraction_with_spread_n_is_checked_over_the_two_cells_of_a_slot(tmp_path, every, random_offsets, kept):
    """As documented: with random offsets a slot is the two grid cells a window can fall in, so evenly spread N
    pass only up to half of --max_n_fraction (an N every 3rd base, 33% per window, fails 0.5); tiled windows are
    checked on their own bases."""
    bases = np.frombuffer(b"ACGT", np.uint8)[np.random.default_rng(0).integers(0, 4, 20_000)].copy()
    bases[::every] = ord("N")
    path = tmp_path / "spread.fa"
    path.write_bytes(b">spread\n" + bases.tobytes() + b"\n")
    config = GenomeDataConfig(genome=[str(path)], max_length=40, max_n_fraction=0.5, val_fraction=0,
                              random_offsets=random_offsets, corpus_store=False)
    if kept:
        assert len(build_genome_datasets(config, TOKENIZER)[0]) > 400
    else:
        with pytest.raises(ValueError, match="0 training and 0 validation windows"):
            build_genome_datasets(config, TOKENIZER)
