"""RandomMask schedule and collator: the algorithm of DESIGN.md on real DNA, determinism, and exact masks with
DataLoader workers, both in a custom loop and under a real ``Trainer`` (gradient accumulation, evaluation, resume)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
import torch
from conftest import ECOLI as ECOLI_FASTA
from conftest import tiny_model
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader
from transformers import trainer as trainer_logging
from transformers.testing_utils import CaptureLogger

from modeling_randommask import OLD_NAMES_REMOVED_IN, RandomMaskForMaskedLM
from modeling_randommask.masking import (
    IGNORE_INDEX,
    MASKING_FILE,
    DataCollatorForRandomMask,
    RandomMaskCallback,
    span_coverage,
)
from modeling_randommask.masking.saved_masking import (
    OLD_MASKING_FILE,
    masking_state_file,
    write_masking_state,
)
from modeling_randommask.masking.schedule import RandomMaskSchedule, coverage_by_offset
from modeling_randommask.tokenization import KmerTokenizer
from modeling_randommask.training.pretrain_arguments import PretrainArguments

TOKENIZER = KmerTokenizer()  # 6-mers, stride 1: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, k-mers from 5
SPECIALS = set(TOKENIZER.all_special_ids)


def _genome(path: Path) -> str:
    with gzip.open(path, "rt") as handle:
        return "".join(line.strip() for line in handle if not line.startswith(">"))


ECOLI = _genome(ECOLI_FASTA)
# one long run of overlapping 6-mers (a slice of it is what tokenizing the slice's bases gives)
ECOLI_KMERS = torch.tensor(TOKENIZER(ECOLI[:400_000], verbose=False)["input_ids"][1:-1])


def _windows(count: int, bases: int, tokenizer=TOKENIZER, genome: str = ECOLI, ragged: bool = False) -> list[dict]:
    """Real DNA windows tokenized with [CLS]/[SEP]; ``ragged`` varies their lengths so padding is exercised."""
    starts = range(0, count * 997, 997)
    return [{"input_ids": tokenizer(genome[s: s + bases - (37 * i % 50 if ragged else 0)])["input_ids"]}
            for i, s in enumerate(starts)]


def _original(batch: dict) -> torch.Tensor:
    return torch.where(batch["labels"] != IGNORE_INDEX, batch["labels"], batch["input_ids"])


def _runs(selected_row: torch.Tensor) -> list[tuple[int, int]]:
    """(first, last) of every run of True in a 1-d bool tensor (test helper, loops are fine here)."""
    runs, start = [], None
    for i, value in enumerate(selected_row.tolist() + [False]):
        if value and start is None:
            start = i
        elif not value and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def _run_table(selected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(row, first, last) of every run of selected tokens in a 2-d bool tensor, row-major."""
    no = torch.zeros_like(selected[:, :1])
    rows, first = (selected & ~torch.cat([no, selected[:, :-1]], dim=1)).nonzero(as_tuple=True)
    last = (selected & ~torch.cat([selected[:, 1:], no], dim=1)).nonzero(as_tuple=True)[1]
    return rows, first, last


# ---- schedule --------------------------------------------------------------------------------------------------

def test_presets_and_paper_defaults():
    paper = RandomMaskSchedule.from_preset("randommask")
    assert (paper.total_steps, paper.num_phases, paper.centre_probability) == (480_000, 5, 0.025)
    assert [paper.span_bounds(paper.phase_start(p)) for p in range(5)] == [(6, 6), (6, 8), (6, 10), (6, 12), (6, 14)]
    dnabert = RandomMaskSchedule.from_preset("dnabert", total_steps=1000)
    assert {dnabert.span_bounds(s) for s in range(0, 2000, 7)} == {(6, 6)}
    nt = RandomMaskSchedule.from_preset("nt", total_steps=10)
    assert nt.span_bounds(5) == (1, 1) and nt.expected_masked_ratio(5) == pytest.approx(0.15)
    cpu_run = RandomMaskSchedule.from_preset("randommask", total_steps=2000)
    assert [cpu_run.phase_start(p) for p in range(5)] == [0, 400, 800, 1200, 1600]
    with pytest.raises(ValueError, match="unknown masking preset"):
        RandomMaskSchedule.from_preset("bert")


@settings(max_examples=200, deadline=None)
@given(total=st.integers(1, 10_000), data=st.data())
def test_phase_changes_exactly_at_the_boundaries(total, data):
    phases = data.draw(st.integers(1, min(total, 12)))
    schedule = RandomMaskSchedule(total_steps=total, num_phases=phases)
    starts = [schedule.phase_start(p) for p in range(phases)]
    assert starts[0] == 0
    step = data.draw(st.integers(0, 2 * total))  # phase_start inverts phase: every step lies in its phase's range
    phase = schedule.phase(step)
    assert schedule.phase_start(phase) <= step and (phase == phases - 1 or step < schedule.phase_start(phase + 1))
    assert schedule.span_bounds(step) == (6, 6 + 2 * phase)
    for p, start in enumerate(starts):
        assert schedule.phase(start) == p
        if p:
            assert schedule.phase(start - 1) == p - 1
        assert schedule.span_bounds(start) == (6, 6 + 2 * p)
    lengths = [b - a for a, b in zip(starts, starts[1:] + [total])]
    assert max(lengths) - min(lengths) <= 1  # equal phases, up to rounding
    assert schedule.phase(total + 5) == phases - 1  # steps past the end stay in the last phase


def test_schedule_round_trips_through_json():
    schedule = RandomMaskSchedule(total_steps=1234, num_phases=4, min_span=3, max_span_start=5, span_increment=3,
                                  centre_probability=0.04, target_masked_ratio=0.2)
    assert RandomMaskSchedule.from_dict(json.loads(json.dumps(schedule.to_dict()))) == schedule
    assert RandomMaskSchedule.from_dict(json.loads(json.dumps(RandomMaskSchedule().to_dict()))) == \
        RandomMaskSchedule()  # target_masked_ratio None survives JSON too
    with pytest.raises(ValueError, match="unknown RandomMaskSchedule fields"):
        RandomMaskSchedule.from_dict({**schedule.to_dict(), "mask_prob": 0.15})


@pytest.mark.parametrize("fields, message", [
    ({"total_steps": 0}, "num_phases"), ({"num_phases": 0}, "num_phases"),
    ({"total_steps": 3, "num_phases": 4}, "num_phases"), ({"min_span": 0}, "min_span"),
    ({"min_span": 7}, "min_span"), ({"span_increment": -1}, "span_increment"),
    ({"centre_probability": 0.0}, "centre_probability"), ({"centre_probability": 1.5}, "centre_probability"),
    ({"target_masked_ratio": 0.0}, "target_masked_ratio"), ({"target_masked_ratio": 1.0}, "target_masked_ratio"),
])
def test_schedule_rejects_bad_parameters(fields, message):
    with pytest.raises(ValueError, match=message):
        RandomMaskSchedule(**fields)


def test_bad_calls_get_clear_errors():
    schedule = RandomMaskSchedule(total_steps=10)
    collator = DataCollatorForRandomMask(TOKENIZER, schedule)
    ids = collator.pad(_windows(2, 40))["input_ids"]
    for call, message in [
        (lambda: schedule.phase(-1), "step must be >= 0"),
        (lambda: schedule.expected_masked_ratio(0, 0), "num_tokens"),
        (lambda: DataCollatorForRandomMask(TOKENIZER, schedule, mask_replace_prob=0.95), "sum <= 1"),
        (lambda: DataCollatorForRandomMask(TOKENIZER, schedule, random_replace_prob=-0.1), "sum <= 1"),
        (lambda: collator.pad([]), "empty list"),
        (lambda: collator.pad([{"input_ids": [[2, 5, 3]]}]), "1-d"),
        (lambda: collator.mask({"input_ids": ids[0]}, 0), "2-d int64"),
        (lambda: collator.mask({"input_ids": ids.int()}, 0), "2-d int64"),
        (lambda: collator.mask({"input_ids": ids.masked_fill(ids == 3, len(TOKENIZER))}, 0), "outside the vocab"),
        (lambda: collator.mask({"input_ids": ids, "labels": ids[:, :5]}, 0), "not masked-LM labels"),
        (lambda: collator.set_step(-1), "step >= 0"),
        (lambda: collator.set_step(0, gradient_accumulation_steps=0), "gradient_accumulation_steps >= 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()


def test_paper_phase_0_ratio_is_dnabert_closed_form():
    """Phase 0 is DNABERT: a token is selected unless none of the 6 centres whose window covers it is drawn."""
    paper = RandomMaskSchedule.from_preset("randommask")
    assert paper.expected_masked_ratio(0) == pytest.approx(1 - (1 - 0.025) ** 6, rel=1e-12)  # 14.09%
    assert 0.140 < paper.expected_masked_ratio(0, 510) < paper.expected_masked_ratio(0)  # a little less at the ends


def test_target_ratio_mode_solves_the_centre_probability():
    schedule = RandomMaskSchedule(total_steps=500, target_masked_ratio=0.15)
    probabilities = []
    for phase in range(5):
        step = schedule.phase_start(phase)
        assert schedule.expected_masked_ratio(step) == pytest.approx(0.15, abs=1e-9)
        p, coverage = schedule.centre_probability_at(step), coverage_by_offset(*schedule.span_bounds(step))
        assert sum(coverage.values()) == pytest.approx(sum(range(6, 7 + 2 * phase)) / (1 + 2 * phase))  # E[L]
        probabilities.append(p)
    assert probabilities == sorted(probabilities, reverse=True)  # longer spans, fewer centres


# ---- the masking algorithm -------------------------------------------------------------------------------------

def test_span_window_follows_dnabert():
    centres = torch.zeros(1, 30, dtype=torch.bool)
    centres[0, 15] = True
    expected = {1: [15], 2: [15, 16], 5: [13, 14, 15, 16, 17], 6: [13, 14, 15, 16, 17, 18], 7: list(range(12, 19)),
                8: list(range(12, 20))}
    for length, positions in expected.items():
        assert span_coverage(centres, torch.tensor([length])).nonzero()[:, 1].tolist() == positions
    edge = torch.zeros(1, 10, dtype=torch.bool)
    edge[0, 1] = edge[0, 9] = True  # cut at the row ends, never wrapping into another row
    assert span_coverage(edge.repeat(2, 1), torch.tensor([6, 6, 6, 6]))[0].nonzero()[:, 0].tolist() == \
        [0, 1, 2, 3, 4, 7, 8, 9]


def _random_batch(draw) -> torch.Tensor:
    """A padded batch of real E. coli slices of varied lengths (0..120 bases, some soft-masked lowercase, some
    with an N run: [UNK] tokens), tokenized by the real KmerTokenizer and padded by ``pad``."""
    features = []
    for _ in range(draw(st.integers(1, 6))):
        start, size = draw(st.integers(0, len(ECOLI) - 200)), draw(st.integers(0, 120))
        dna = ECOLI[start: start + size]
        if draw(st.booleans()):
            dna = dna.lower()
        if dna and draw(st.booleans()):
            at, run = draw(st.integers(0, len(dna))), draw(st.integers(1, 20))
            dna = dna[:at] + "N" * run + dna[at:]
        features.append({"input_ids": TOKENIZER(dna)["input_ids"]})
    return DataCollatorForRandomMask(TOKENIZER, RandomMaskSchedule(total_steps=10)).pad(features)["input_ids"]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**31), step=st.integers(0, 99), rank=st.integers(0, 7),
       micro=st.integers(0, 3), p=st.floats(0.01, 1.0), min_span=st.integers(1, 6), extra=st.integers(0, 6))
def test_masks_never_touch_special_tokens(data, seed, step, rank, micro, p, min_span, extra):
    schedule = RandomMaskSchedule(total_steps=100, num_phases=4, min_span=min_span, max_span_start=min_span + extra,
                                  centre_probability=p)
    collator = DataCollatorForRandomMask(TOKENIZER, schedule, seed=seed)
    ids = _random_batch(data.draw)
    out = collator.mask({"input_ids": ids, "attention_mask": (ids != 0).long()}, step, rank, micro)
    selected = out["labels"] != IGNORE_INDEX
    is_special = torch.isin(ids, torch.tensor(sorted(SPECIALS)))
    assert torch.equal(is_special, ids < 5)  # the specials are ids 0..4, k-mers start at 5
    assert not (selected & is_special).any()  # never [CLS]/[SEP]/[PAD]/[UNK]: labels only at k-mers
    assert torch.equal(out["labels"][selected], ids[selected])
    assert torch.equal(out["input_ids"][~selected], ids[~selected])
    replaced = selected & (out["input_ids"] != ids) & (out["input_ids"] != TOKENIZER.mask_token_id)
    assert not torch.isin(out["input_ids"][replaced], torch.tensor(sorted(SPECIALS))).any()
    assert int(out["input_ids"].max()) < len(TOKENIZER)
    # the selection is exactly the drawn spans, clipped to the maskable tokens
    centres, lengths = collator.spans(ids, step, rank, micro)
    assert not (centres & is_special).any()
    assert torch.equal(selected, span_coverage(centres, lengths) & ~is_special)
    low, high = schedule.span_bounds(step)
    assert lengths.numel() == 0 or (low <= int(lengths.min()) and int(lengths.max()) <= high)


def test_isolated_spans_have_the_phase_lengths_and_window():
    """On real DNA, every span whose window overlaps no other and stays inside the sequence shows up as a run of
    exactly its drawn length at c - (L-1)//2; lengths cover [min_span, max_span(phase)], the maximum included."""
    schedule = RandomMaskSchedule.from_preset("randommask", total_steps=500)
    collator = DataCollatorForRandomMask(TOKENIZER, schedule, seed=11)
    batch = collator.pad(_windows(24, 515))
    for phase in range(5):
        step = schedule.phase_start(phase)
        out = collator.mask(batch, step, micro_step=phase)
        selected = out["labels"] != IGNORE_INDEX
        centres, lengths = collator.spans(batch["input_ids"], step, micro_step=phase)
        rows, positions = centres.nonzero(as_tuple=True)
        first = positions - (lengths - 1) // 2
        last = first + lengths - 1
        seen = []
        for i in range(len(rows)):
            same_row = (rows == rows[i]) & (torch.arange(len(rows)) != i)
            # a neighbour within one token would merge runs, so demand a visible token on both sides
            apart = ((last[same_row] < first[i] - 1) | (first[same_row] > last[i] + 1)).all()
            inside = first[i] >= 1 and last[i] <= 510  # tokens 1..510 are k-mers, 0 and 511 are [CLS]/[SEP]
            if apart and inside:
                run = [r for r in _runs(selected[rows[i]]) if r[0] <= positions[i] <= r[1]]
                assert run == [(int(first[i]), int(last[i]))]
                seen.append(int(lengths[i]))
        assert min(seen) == 6 and max(seen) == schedule.max_span(phase) == 6 + 2 * phase
        assert set(seen) == set(range(6, 7 + 2 * phase))


def _ragged_rows(count: int, shortest: int, longest: int) -> dict[str, torch.Tensor]:
    """``count`` padded rows ``[CLS] k-mers [SEP] [PAD]...`` with shortest..longest k-mers each: consecutive
    slices of the tokenized E. coli run (the same ids as tokenizing each slice's bases)."""
    sizes = [shortest + (7 * i) % (longest - shortest + 1) for i in range(count)]
    offsets = torch.tensor([0, *sizes]).cumsum(0).tolist()
    assert offsets[-1] <= len(ECOLI_KMERS)
    features = [{"input_ids": [TOKENIZER.cls_token_id, *ECOLI_KMERS[a: a + n].tolist(), TOKENIZER.sep_token_id]}
                for a, n in zip(offsets, sizes)]
    return DataCollatorForRandomMask(TOKENIZER, RandomMaskSchedule(total_steps=10)).pad(features)


def _runs_with_neighbours(ids: torch.Tensor, selected: torch.Tensor):
    """Every run of selected tokens: its length, and whether [CLS] precedes it / [SEP] follows it."""
    rows, first, last = _run_table(selected)
    assert not selected[:, 0].any() and not selected[:, -1].any()
    after_cls = ids[rows, first - 1] == TOKENIZER.cls_token_id
    before_sep = ids[rows, last + 1] == TOKENIZER.sep_token_id
    return last - first + 1, after_cls, before_sep


@pytest.mark.parametrize("length", [1, 2, 5, 6, 7, 8])
def test_span_window_seen_from_the_masks_alone(length):
    """Black box (only ``mask`` output): with every span ``length`` tokens, a centre on the first k-mer leaves a
    run of ``length - (length-1)//2`` tokens after [CLS] (the window's right half, clipped), one on the last
    k-mer a run of ``(length-1)//2 + 1`` before [SEP]: for 6 that is 4 and 3, i.e. the window c-2..c+3 (c-3..c+2
    would give 3 and 4); for 5, c-2..c+2: 3 and 3; for 1, just c. Runs away from the ends are ``length`` long
    (longer only where spans merge). Padded rows of 10..20 k-mers."""
    overrides = {"total_steps": 10, "centre_probability": 0.01}
    schedule = (RandomMaskSchedule.from_preset("dnabert", **overrides) if length == 6 else
                RandomMaskSchedule(num_phases=1, min_span=length, max_span_start=length, span_increment=0,
                                   **overrides))
    collator = DataCollatorForRandomMask(TOKENIZER, schedule, seed=length)
    batch = _ragged_rows(4000, 10, 20)
    out = collator.mask(batch, 3)
    selected = out["labels"] != IGNORE_INDEX
    assert not (selected & ~collator.maskable(batch["input_ids"])).any()  # clipped: never [CLS]/[SEP]/[PAD]
    lengths, after_cls, before_sep = _runs_with_neighbours(batch["input_ids"], selected)
    assert int(lengths[after_cls].min()) == length - (length - 1) // 2
    assert int(lengths[before_sep].min()) == (length - 1) // 2 + 1
    interior = lengths[~after_cls & ~before_sep]
    assert int(interior.min()) == length and torch.mode(interior).values.item() == length
    assert (interior == length).float().mean() > 0.9  # 230-500 runs; merging needs a centre within ~length


def test_run_lengths_per_phase_seen_from_the_masks_alone():
    """Black box: with a tiny centre probability on long rows, runs away from [CLS]/[SEP] are single spans (a
    few merged ones aside): every length of [6, max_span(phase)] shows up, the phase maximum included, none is
    shorter than 6, and the few longer ones are merges."""
    schedule = RandomMaskSchedule.from_preset("randommask", total_steps=500, centre_probability=0.001)
    collator = DataCollatorForRandomMask(TOKENIZER, schedule, seed=21)
    batch = _ragged_rows(96, 4000, 4094)  # about 390k k-mers: ~390 spans per phase
    for phase in range(5):
        step = schedule.phase_start(phase) + phase  # anywhere in the phase
        out = collator.mask(batch, step)
        lengths, after_cls, before_sep = _runs_with_neighbours(batch["input_ids"], out["labels"] != IGNORE_INDEX)
        interior = lengths[~after_cls & ~before_sep]
        high = schedule.max_span(phase)
        assert high == 6 + 2 * phase
        assert int(interior.min()) >= 6
        assert set(range(6, high + 1)) <= set(interior.tolist())
        assert (interior > high).float().mean() < 0.05  # merges: another centre within ~high tokens, p = 0.001
        if phase == 0:
            assert (interior == 6).float().mean() > 0.95  # DNABERT: runs of exactly 6


@pytest.mark.parametrize("schedule", [RandomMaskSchedule.from_preset("randommask", total_steps=500),
                                      RandomMaskSchedule(total_steps=500, target_masked_ratio=0.15)],
                         ids=["fixed-p", "target-15%"])
def test_realised_ratio_and_80_10_10_near_their_expectation(schedule):
    collator = DataCollatorForRandomMask(TOKENIZER, schedule, seed=3)
    batch = collator.pad(_windows(1024, 515))  # 1024 x (510 k-mers + [CLS] + [SEP])
    for phase in range(5):
        step = schedule.phase_start(phase)
        out = collator.mask(batch, step)
        stats = collator.mask_statistics(out, step)
        # 522k tokens: the ratio's standard deviation is ~0.0015 (measured over seeds), so the bound is ~5 sigma
        assert stats["masked_ratio"] == pytest.approx(schedule.expected_masked_ratio(step, 510), abs=0.008)
        if schedule.target_masked_ratio is not None:  # near the target in every phase
            assert stats["masked_ratio"] == pytest.approx(0.15, abs=0.01)
        elif phase == 0:  # DNABERT's 1 - (1 - 0.025)^6 = 14.1%
            assert stats["masked_ratio"] == pytest.approx(1 - 0.975 ** 6, abs=0.01)
        assert stats["phase"] == phase
        selected = out["labels"] != IGNORE_INDEX
        chosen = out["input_ids"][selected]
        shares = [(chosen == TOKENIZER.mask_token_id).float().mean().item(),
                  (chosen != out["labels"][selected]).logical_and(chosen != TOKENIZER.mask_token_id).float().mean()
                  .item()]
        assert shares == pytest.approx([0.8, 0.1], abs=0.015)


def test_random_replacements_are_kmers_drawn_across_the_vocabulary():
    collator = DataCollatorForRandomMask(TOKENIZER, RandomMaskSchedule(total_steps=10), seed=4, mask_replace_prob=0,
                                         random_replace_prob=1)
    out = collator.mask(collator.pad(_windows(128, 515)), 0)
    replacements = out["input_ids"][out["labels"] != IGNORE_INDEX]
    assert replacements.numel() > 8000  # a draw over the whole vocabulary would hit a special ~10 times
    assert int(replacements.min()) >= 5 and int(replacements.max()) == len(TOKENIZER) - 1
    assert replacements.unique().numel() > 3500  # about 1 - exp(-9000 / 4096) of the 4,096 k-mers


def test_nt_preset_on_non_overlapping_tokens():
    tokenizer = KmerTokenizer(k=6, kmer_stride=6)
    collator = DataCollatorForRandomMask(tokenizer, RandomMaskSchedule.from_preset("nt", total_steps=10), seed=0)
    batch = collator.pad(_windows(64, 3006, tokenizer))  # 501 non-overlapping 6-mers + [CLS]/[SEP]
    out = collator.mask(batch, 3)
    stats = collator.mask_statistics(out, 3)
    assert stats["masked_ratio"] == pytest.approx(0.15, abs=0.01)
    assert 1 <= stats["mean_span"] < 1.3  # single tokens, adjacent ones merge into runs
    assert stats["hidden_bases"] == pytest.approx(6 * stats["mean_span"])  # a run of L tokens hides L * k bases


def test_statistics_hidden_bases_on_known_runs():
    collator = DataCollatorForRandomMask(TOKENIZER, RandomMaskSchedule(total_steps=10), seed=0)
    ids = torch.tensor([[2] + list(range(100, 120)) + [3, 0, 0]])
    labels = torch.full_like(ids, IGNORE_INDEX)
    labels[0, 5:13] = ids[0, 5:13]  # 8 tokens between visible 6-mers: 8 - 6 + 1 = 3 bases
    labels[0, 1:3] = ids[0, 1:3]  # 2 tokens after [CLS]: both first bases hidden
    labels[0, 16:21] = ids[0, 16:21]  # 5 tokens before [SEP]: a visible neighbour shows all but the last 5 bases
    stats = collator.mask_statistics({"input_ids": ids.masked_fill(labels != IGNORE_INDEX, 4), "labels": labels}, 9)
    assert stats["mean_span"] == pytest.approx((8 + 2 + 5) / 3)
    assert stats["hidden_bases"] == pytest.approx((3 + 2 + 5) / 3)
    assert stats["masked_ratio"] == pytest.approx(15 / 20) and stats["phase"] == 4
    real = collator.mask(collator.pad(_windows(16, 515)), 0)  # phase 0: spans of exactly 6
    assert 1 <= collator.mask_statistics(real, 0)["hidden_bases"] < 2  # one base per span, more where spans merge


def test_statistics_hidden_bases_for_non_overlapping_tokens_on_known_runs():
    tokenizer = KmerTokenizer(k=6, kmer_stride=6)
    collator = DataCollatorForRandomMask(tokenizer, RandomMaskSchedule.from_preset("nt", total_steps=10))
    ids = torch.tensor([[2] + list(range(200, 212)) + [3]])
    labels = torch.full_like(ids, IGNORE_INDEX)
    for first, last in [(1, 1), (3, 5), (8, 12)]:  # after [CLS], inside, before [SEP]: L * k bases each
        labels[0, first: last + 1] = ids[0, first: last + 1]
    stats = collator.mask_statistics({"input_ids": ids.masked_fill(labels != IGNORE_INDEX, 4), "labels": labels}, 0)
    assert stats["mean_span"] == pytest.approx((1 + 3 + 5) / 3)
    assert stats["hidden_bases"] == pytest.approx(6 * (1 + 3 + 5) / 3)


def test_unknown_tokens_are_never_selected_on_a_real_n_run(shared_genomes):
    # chr22:20-21M holds N at 509,431..609,430: windows across both edges of the run and inside it
    human = _genome(shared_genomes / "human_chr22_20-21M.fa.gz")
    windows = [{"input_ids": TOKENIZER(human[s: s + 515])["input_ids"]} for s in range(509_000, 610_000, 1650)]
    collator = DataCollatorForRandomMask(TOKENIZER, RandomMaskSchedule(total_steps=10, centre_probability=0.2))
    batch = collator.pad(windows)
    unknown = batch["input_ids"] == TOKENIZER.unk_token_id
    assert unknown.sum() > 1000  # the slice's N run is in there
    out = collator.mask(batch, 9)
    assert not (unknown & (out["labels"] != IGNORE_INDEX)).any()
    assert torch.equal(out["input_ids"][unknown], batch["input_ids"][unknown])


def test_masks_are_a_function_of_seed_step_rank_micro_step_and_batch():
    schedule = RandomMaskSchedule(total_steps=100)
    batch = DataCollatorForRandomMask(TOKENIZER, schedule).pad(_windows(8, 300, ragged=True))
    assert batch["attention_mask"].sum(1).tolist() == [len(f["input_ids"]) for f in _windows(8, 300, ragged=True)]
    base = DataCollatorForRandomMask(TOKENIZER, schedule, seed=5).mask(batch, 10, 1, 0)
    again = DataCollatorForRandomMask(TOKENIZER, schedule, seed=5).mask(batch, 10, 1, 0)
    assert all(torch.equal(base[k], again[k]) for k in base)
    for seed, step, rank, micro in [(6, 10, 1, 0), (5, 11, 1, 0), (5, 10, 0, 0), (5, 10, 1, 1)]:
        other = DataCollatorForRandomMask(TOKENIZER, schedule, seed=seed).mask(batch, step, rank, micro)
        assert not torch.equal(base["labels"], other["labels"])
    assert torch.equal(batch["input_ids"], _original(base))  # mask() does not modify its input


def test_masking_a_masked_batch_starts_from_its_original_tokens():
    """An already-masked batch (labels present) is re-masked from its original ids, not from its [MASK]s and
    random k-mers: mask(mask(b, s), t) == mask(b, t)."""
    collator = DataCollatorForRandomMask(TOKENIZER, RandomMaskSchedule(total_steps=10, centre_probability=0.1),
                                         seed=9)
    batch = collator.pad(_windows(8, 300, ragged=True))
    once = collator.mask(batch, 2)
    assert (once["input_ids"] == TOKENIZER.mask_token_id).any()
    for step, micro in [(7, 0), (2, 0), (2, 1)]:
        again, reference = collator.mask(once, step, 0, micro), collator.mask(batch, step, 0, micro)
        assert all(torch.equal(again[k], reference[k]) for k in reference)


# ---- worker safety ---------------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:This DataLoader will create 3 worker processes")
@pytest.mark.parametrize("workers, accumulation", [(0, 2), (2, 2), (0, 3), (2, 3), (3, 3)])
def test_collate_calls_in_workers_know_their_step(workers, accumulation):
    """collator(features) in DataLoader workers masks batch i at first_step + i // accumulation, micro-step
    i % accumulation, exactly, and the same with or without workers."""
    features = _windows(14, 120, ragged=True)
    collator = DataCollatorForRandomMask(TOKENIZER, RandomMaskSchedule(total_steps=20, num_phases=4), seed=1)
    collator.set_step(7, gradient_accumulation_steps=accumulation)
    iterator = iter(DataLoader(features, batch_size=2, collate_fn=collator, num_workers=workers))
    if workers:  # the workers copied the collator when the iterator was created: later changes never reach them
        collator.set_step(0)
    batches = list(iterator)
    assert len(batches) == 7
    for i, batch in enumerate(batches):
        step, micro = 7 + i // accumulation, i % accumulation
        reference = collator.mask(collator.pad(features[2 * i: 2 * i + 2]), step, rank=0, micro_step=micro)
        assert all(torch.equal(batch[k], reference[k]) for k in reference), (i, step, micro)
    # the check has teeth: at a neighbouring step the same batch would have been masked differently
    assert not torch.equal(batches[0]["labels"], collator.mask(collator.pad(features[:2]), 8)["labels"])


# ---- custom loop (pad in workers, mask in the step) ------------------------------------------------------------

def _tiny_model(seed: int = 0) -> RandomMaskForMaskedLM:
    torch.manual_seed(seed)
    return tiny_model(seed, dropout=True, vocab_size=len(TOKENIZER), max_position_embeddings=128).train()


def _record_training_batches(model, step_of) -> list:
    records = []

    def hook(module, args, kwargs):
        if module.training:
            records.append((step_of(), {k: kwargs[k].detach().clone() for k in ("input_ids", "attention_mask",
                                                                               "labels")}))
    model.register_forward_pre_hook(hook, with_kwargs=True)
    return records


def _assert_trained_on_pure_masks(collator, records, expected_steps):
    """Every recorded batch equals mask(its unmasked content, step, rank 0, micro-step), and at another step
    the masks would have differed (so the check has teeth)."""
    assert [step for step, _ in records] == expected_steps
    for index, (step, batch) in enumerate(records):
        micro = index - expected_steps.index(step)
        plain = {"input_ids": _original(batch), "attention_mask": batch["attention_mask"]}
        reference = collator.mask(plain, step, 0, micro)
        assert all(torch.equal(batch[k], reference[k]) for k in reference), (step, micro)
        assert not torch.equal(collator.mask(plain, step + 1, 0, micro)["labels"], batch["labels"])


@pytest.mark.slow
def test_custom_accelerate_loop_with_workers_masks_exactly():
    from accelerate import Accelerator

    features = _windows(12, 90, ragged=True)
    schedule = RandomMaskSchedule(total_steps=3, num_phases=3, min_span=2, max_span_start=3, centre_probability=0.1)
    runs = []
    for workers in (0, 2):
        collator = DataCollatorForRandomMask(TOKENIZER, schedule, seed=2)
        accelerator = Accelerator(cpu=True)
        model = _tiny_model()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        loader = DataLoader(features, batch_size=2, collate_fn=collator.pad, num_workers=workers)
        model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
        state = {"step": 0}
        records = _record_training_batches(accelerator.unwrap_model(model), lambda state=state: state["step"])
        batches = iter(loader)
        model.train()
        for step in range(3):
            for micro in range(2):
                batch = collator.mask(next(batches), step, accelerator.process_index, micro)
                accelerator.backward(model(**batch).loss / 2)
            optimizer.step()
            optimizer.zero_grad()
            state["step"] += 1
        _assert_trained_on_pure_masks(collator, records, [0, 0, 1, 1, 2, 2])
        runs.append(records)
    assert all(torch.equal(a[1][k], b[1][k]) for a, b in zip(*runs) for k in a[1])  # worker count is irrelevant


# ---- Trainer with workers, gradient accumulation, evaluation and resume ----------------------------------------

@pytest.mark.slow
def test_trainer_micro_batch_j_is_masked_at_optimizer_step_j_over_2(tmp_path):
    """A real Trainer as docs/curriculum.md has it: tiny model, 32 E. coli windows of 28..34 tokens, batch 4,
    accumulation 2 (4 optimizer steps per epoch, so the second epoch forks fresh workers), max_steps 6, 2 workers,
    evaluation every 2 steps (the eval pause), no checkpoints. The model must see, for micro-batch j, exactly
    mask(pad(its features), step j // 2, micro-step j % 2); evaluation batches use the phase-start masks."""
    from transformers import Trainer, TrainingArguments

    schedule = RandomMaskSchedule.from_preset("randommask", total_steps=6, num_phases=3, centre_probability=0.05)
    collator = DataCollatorForRandomMask(TOKENIZER, schedule, seed=13)
    train = [{"input_ids": TOKENIZER(ECOLI[s: s + 37 - i % 7])["input_ids"]}
             for i, s in enumerate(range(1_000_000, 1_320_000, 10_000))]
    evaluation = [{"input_ids": TOKENIZER(ECOLI[s: s + 37])["input_ids"]} for s in range(3_000_000, 3_080_000, 10_000)]
    assert len(train) == 32 and {len(f["input_ids"]) for f in train} == set(range(28, 35))
    args = TrainingArguments(str(tmp_path), max_steps=6, per_device_train_batch_size=4, gradient_accumulation_steps=2,
                             dataloader_num_workers=2, report_to="none", use_cpu=True, save_strategy="no",
                             eval_strategy="steps", eval_steps=2, per_device_eval_batch_size=4, logging_steps=100,
                             seed=5, disable_tqdm=True)
    model = _tiny_model()
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=evaluation, data_collator=collator,
                      callbacks=[RandomMaskCallback(collator)])
    seen, evaluated = [], []

    def record(module, _args, kwargs):
        batch = {k: kwargs[k].detach().clone() for k in ("input_ids", "attention_mask", "labels")}
        (seen if module.training else evaluated).append((trainer.state.global_step, batch))
    model.register_forward_pre_hook(record, with_kwargs=True)
    trainer.train()

    assert len(seen) == 12 and [step for step, _ in seen] == [j // 2 for j in range(12)]
    known = {tuple(f["input_ids"]) for f in train}
    used = []
    for j, (_, batch) in enumerate(seen):
        original = _original(batch)
        features = [{"input_ids": row[row != TOKENIZER.pad_token_id].tolist()} for row in original]
        assert all(tuple(f["input_ids"]) in known for f in features)  # the unmasked content is real windows
        used += [tuple(f["input_ids"]) for f in features]
        reference = collator.mask(collator.pad(features), step=j // 2, rank=0, micro_step=j % 2)
        assert all(torch.equal(batch[k], reference[k]) for k in reference), j
        other = collator.mask(collator.pad(features), step=j // 2 + 1, rank=0, micro_step=j % 2)
        assert not torch.equal(other["labels"], batch["labels"])  # another step masks differently: the check bites
    assert set(used[:32]) == known and len(set(used[32:])) == 16  # epoch 1 saw every window once
    assert [step for step, _ in evaluated] == [2, 2, 4, 4, 6, 6]
    for index, (step, batch) in enumerate(evaluated):
        b = index % 2
        reference = collator.mask(collator.pad(evaluation[4 * b: 4 * b + 4]),
                                  schedule.phase_start(schedule.phase(step)), 0, -1 - b)
        assert all(torch.equal(batch[k], reference[k]) for k in reference), (step, b)


TRAINER_SCHEDULE = RandomMaskSchedule(total_steps=6, num_phases=3, min_span=2, max_span_start=3, span_increment=2,
                                      centre_probability=0.1)


def _train(output_dir, workers: int, resume: str | None = None, collator=None, dataset=None, **overrides):
    """A real Trainer run: 10 windows, batch 2, accumulation 2 -> 5 micro-batches and 3 optimizer steps per epoch
    (the last with one micro-batch), 6 steps in all; evaluation every 2 steps; checkpoints every 2 steps."""
    from transformers import Trainer, TrainingArguments

    collator = collator or DataCollatorForRandomMask(TOKENIZER, TRAINER_SCHEDULE, seed=7)
    features = _windows(10, 60, ragged=True)
    args = TrainingArguments(str(output_dir), max_steps=6, per_device_train_batch_size=2,
                             gradient_accumulation_steps=2, dataloader_num_workers=workers, report_to=[],
                             eval_strategy="steps", eval_steps=2, per_device_eval_batch_size=3, save_strategy="steps",
                             save_steps=2, logging_steps=100, use_cpu=True, seed=3, disable_tqdm=True, **overrides)
    model = _tiny_model()
    trainer = Trainer(model=model, args=args, train_dataset=dataset or features, eval_dataset=features[:6],
                      data_collator=collator, callbacks=[RandomMaskCallback(collator)])
    records = _record_training_batches(model, lambda: trainer.state.global_step)
    evaluations = []
    model.register_forward_pre_hook(
        lambda m, a, kw: None if m.training else evaluations.append((trainer.state.global_step, kw["input_ids"],
                                                                     kw["labels"])), with_kwargs=True)
    with CaptureLogger(trainer_logging.logger) as log:
        trainer.train(resume_from_checkpoint=resume)
    assert "missing keys" not in log.out, log.out  # the tied decoder is not in the checkpoint, by design
    return collator, records, evaluations, model


@pytest.fixture(scope="module")
def trainer_runs(tmp_path_factory):
    """{workers: (output_dir, collator, training records, evaluation records, model)} for 0 and 2 workers."""
    runs = {}
    for workers in (0, 2):
        output_dir = tmp_path_factory.mktemp(f"workers{workers}")
        runs[workers] = (output_dir, *_train(output_dir, workers))
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_trainer_trains_on_the_masks_of_its_optimizer_step(trainer_runs, workers):
    _, collator, records, evaluations, _ = trainer_runs[workers]
    _assert_trained_on_pure_masks(collator, records, [0, 0, 1, 1, 2, 3, 3, 4, 4, 5])
    # evaluations (main process with 0 workers, between training batches) mask as at their phase's start,
    # the same at every evaluation within a phase, and leave the training count alone (checked above)
    features = _windows(10, 60, ragged=True)[:6]
    assert [step for step, _, _ in evaluations] == [2, 2, 4, 4, 6, 6]
    for index, (step, input_ids, labels) in enumerate(evaluations):
        plain = collator.pad(features[3 * (index % 2): 3 * (index % 2) + 3])
        reference = collator.mask(plain, TRAINER_SCHEDULE.phase_start(TRAINER_SCHEDULE.phase(step)), 0, -1 - index % 2)
        assert torch.equal(input_ids, reference["input_ids"]) and torch.equal(labels, reference["labels"])


@pytest.mark.slow
def test_trainer_masks_do_not_depend_on_the_worker_count(trainer_runs):
    no_workers, two_workers = trainer_runs[0][2], trainer_runs[2][2]
    assert len(no_workers) == len(two_workers) == 10
    for (step_a, a), (step_b, b) in zip(no_workers, two_workers):
        assert step_a == step_b and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_trainer_resume_masks_like_the_uninterrupted_run(trainer_runs):
    output_dir, _, full, _, model = trainer_runs[2]
    # checkpoint-2: micro-batch 4 of epoch 0 comes next; checkpoint-4: micro-batch 2 of epoch 1
    for checkpoint, expected_steps in [(output_dir / "checkpoint-2", [2, 3, 3, 4, 4, 5]),
                                       (output_dir / "checkpoint-4", [4, 4, 5])]:
        assert json.loads((checkpoint / MASKING_FILE).read_text())["seed"] == 7
        collator, resumed, _, resumed_model = _train(output_dir, 2, resume=str(checkpoint))
        _assert_trained_on_pure_masks(collator, resumed, expected_steps)
        for (step_a, a), (step_b, b) in zip(full[-len(expected_steps):], resumed, strict=True):
            assert step_a == step_b and all(torch.equal(a[k], b[k]) for k in a)
        resumed_weights = resumed_model.state_dict()
        for name, weight in model.state_dict().items():  # and ends with the same weights
            torch.testing.assert_close(resumed_weights[name], weight, rtol=0, atol=0, msg=name)
        assert resumed_model.cls.predictions.decoder.weight is resumed_model.bert.embeddings.word_embeddings.weight
    checkpoint = output_dir / "checkpoint-2"
    other = DataCollatorForRandomMask(TOKENIZER, TRAINER_SCHEDULE, seed=8)
    with pytest.raises(ValueError, match="a resumed run must mask like the original"):
        _train(output_dir, 2, resume=str(checkpoint), collator=other)


def test_a_checkpoint_with_the_old_masking_file_name_is_still_checked(tmp_path, caplog):
    """``pretrain.py`` checkpoints written before the masking state had one name hold ``OLD_MASKING_FILE``: it is read
    (until the release CHANGELOG.md names, saying so) when ``MASKING_FILE`` is absent, and a resume with other
    masking is refused naming it."""
    collator = DataCollatorForRandomMask(TOKENIZER, TRAINER_SCHEDULE, seed=7)
    other = DataCollatorForRandomMask(TOKENIZER, TRAINER_SCHEDULE, seed=8)
    assert masking_state_file(tmp_path) == tmp_path / MASKING_FILE  # neither: the name a missing-file error gives
    (tmp_path / OLD_MASKING_FILE).write_text(json.dumps(collator.to_dict()))
    assert masking_state_file(tmp_path) == tmp_path / OLD_MASKING_FILE
    assert f"read until {OLD_NAMES_REMOVED_IN}" in caplog.text and MASKING_FILE in caplog.text
    RandomMaskCallback(collator)._check_resumed_masking(str(tmp_path))  # the same masking resumes
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / OLD_MASKING_FILE}: the checkpoint was trained with "
                                                   "masking") + ".*a resumed run must mask like the original"):
        RandomMaskCallback(other)._check_resumed_masking(str(tmp_path))
    write_masking_state(tmp_path, other.to_dict())  # today's name wins when both are there
    assert masking_state_file(tmp_path) == tmp_path / MASKING_FILE
    RandomMaskCallback(other)._check_resumed_masking(str(tmp_path))


class _Stream(torch.utils.data.IterableDataset):
    def __iter__(self):
        return iter(_windows(10, 60))


@pytest.mark.parametrize("overrides, message", [({"dataloader_persistent_workers": True}, "persistent_workers"),
                                                ({"dataloader_in_order": False}, "in_order"),
                                                ({"dataset": _Stream()}, "map-style datasets only")])
def test_callback_refuses_setups_that_break_the_count(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        _train(tmp_path, 2, **overrides)


@pytest.mark.parametrize("k", [3, 6, 8])
def test_pretraining_span_presets_follow_k(k):
    """k masked overlapping k-mers hide one base whatever k is: the DNABERT and RandomMask presets start there."""
    dnabert = PretrainArguments(masking="dnabert", kmer_size=k, max_steps=100).masking_schedule()
    randommask = PretrainArguments(masking="randommask", kmer_size=k, max_steps=100).masking_schedule()
    nt = PretrainArguments(masking="nt", kmer_size=k, max_steps=100).masking_schedule()
    assert dnabert.span_bounds(99) == (k, k) and randommask.span_bounds(0) == (k, k)
    assert randommask.span_bounds(99) == (k, k + 8) and nt.span_bounds(99) == (1, 1)
    assert randommask.phase_start(1) == 20
