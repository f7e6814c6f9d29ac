"""Short records (task sequences, amplicons, reads): a record one window long gives windows with random offsets
on; shorter ones are listed and skipped, or padded (``--short_records pad``). Real lambda DNA, the real tokenizer."""

import logging

import numpy as np
import pytest
from conftest import lambda_dna

from modeling_randommask.data.fasta import read_genome
from modeling_randommask.data.genome_windows import GenomeDataConfig, build_genome_datasets
from modeling_randommask.masking.collator import DataCollatorForRandomMask
from modeling_randommask.masking.schedule import RandomMaskSchedule
from modeling_randommask.tokenization import KmerTokenizer

TOKENIZER = KmerTokenizer(k=6)
WINDOW = TOKENIZER.bases_for_tokens(64 - 2)  # 67 bases


def _records(tmp_path, lengths: list[int]):
    """A FASTA of consecutive lambda stretches of these lengths, record i named r<i>."""
    text, start = [], 0
    for index, length in enumerate(lengths):
        text.append(f">r{index}\n{lambda_dna(start, length)}\n")
        start += length
    path = tmp_path / "records.fa"
    path.write_text("".join(text))
    return read_genome(path)


def test_101_bp_records_give_windows_at_64_tokens_with_random_offsets(tmp_path):
    genome = _records(tmp_path, [101] * 400)
    config = GenomeDataConfig(genome=["unused"], max_length=64, val_fraction=0.05)
    train, val, stats = build_genome_datasets(config, TOKENIZER, genome=genome)
    assert stats["skipped_short_records"] == 0 and len(val) > 0
    assert len(train) + len(val) > 380  # one window per record (records cut by a validation block may lose theirs)
    seen_offsets = set()
    for epoch in range(4):
        train.set_epoch(epoch)
        located = train.locate(range(len(train)))
        bases = train.bases(range(len(train)))
        for index, (record, start, end, flipped) in enumerate(located):
            assert 0 <= start and end - start == WINDOW and end <= 101
            forward = genome.record(record)[start:end]
            expected = forward[::-1].translate(str.maketrans("ACGT", "TGCA")) if flipped else forward
            assert bases[index].numpy().tobytes().decode() == expected
            seen_offsets.add(start)
    assert len(seen_offsets) == 4 and max(seen_offsets) <= 101 - WINDOW  # the window moves with the epoch


def test_records_shorter_than_a_window_are_listed_and_skipped_or_padded(tmp_path, caplog):
    genome = _records(tmp_path, [101, 40, 150, 5, 30] * 60)
    config = GenomeDataConfig(genome=["unused"], max_length=64, val_fraction=0)
    with caplog.at_level(logging.WARNING):
        skipped, _, stats = build_genome_datasets(config, TOKENIZER, genome=genome)
    assert stats["skipped_short_records"] == 180 and stats["padded_records"] == 0
    assert "180 records shorter than a window (67 bases; --short_records pad uses them) give no window" in caplog.text
    assert "r1, r3, r4, r6" in caplog.text
    assert len(skipped) == 120  # r0 (101 bp) and r2 (150 bp): one window each, whatever the offset

    config = GenomeDataConfig(genome=["unused"], max_length=64, val_fraction=0, short_records="pad")
    padded, _, stats = build_genome_datasets(config, TOKENIZER, genome=genome)
    assert stats["skipped_short_records"] == 60 and stats["padded_records"] == 120  # 5 bp holds no 6-mer
    assert len(padded) == 240
    ids = padded.input_ids(range(len(padded)))
    located = padded.locate(range(len(padded)))
    for index, (record, start, end, flipped) in enumerate(located):
        bases = genome.record(record)[start:end]
        if flipped:
            bases = bases[::-1].translate(str.maketrans("ACGT", "TGCA"))
        expected = TOKENIZER(bases)["input_ids"]
        row = ids[index].tolist()
        assert row[: len(expected)] == expected  # [CLS] k-mers [SEP] of the record's own bases only
        assert set(row[len(expected):]) <= {TOKENIZER.pad_token_id}
    assert {end - start for _, start, end, _ in located} == {30, 40, 67}
    collator = DataCollatorForRandomMask(TOKENIZER, RandomMaskSchedule.from_preset("randommask", total_steps=10))
    batch = collator.mask(collator.pad(padded.__getitems__(list(range(32)))), step=0)
    labelled = batch["labels"] != -100
    assert not (labelled & (batch["attention_mask"] == 0)).any()  # padding is never a label
    assert np.array_equal(batch["attention_mask"].sum(1).numpy(), (ids[:32] != TOKENIZER.pad_token_id).sum(1).numpy())


def test_only_shorter_records_are_skipped_at_all(tmp_path):
    genome = _records(tmp_path, [5, 3])
    config = GenomeDataConfig(genome=["unused"], max_length=64, val_fraction=0, short_records="pad")
    with pytest.raises(ValueError, match="too little usable sequence"):
        build_genome_datasets(config, TOKENIZER, genome=genome)
