"""RandomMask schedule and collator: the algorithm of DESIGN.md on real DNA, determinism, and exact masks with
DataLoader workers, both in a custom loop and under a real ``Trainer`` (gradient accumulation, evaluation, resume)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from modeling_randommask import RandomMaskConfig, RandomMaskForMaskedLM
from modeling_randommask.data_collator_randommask import (
    IGNORE_INDEX,
    MASKING_FILE,
    DataCollatorForRandomMask,
    RandomMaskCallback,
    span_coverage,
)
from modeling_randommask.masking_schedule import RandomMaskSchedule, coverage_by_offset
from tokenization import KmerTokenizer

GENOMES = Path(__file__).resolve().parents[2] / "shared" / "data" / "genomes"
TOKENIZER = KmerTokenizer()  # 6-mers, stride 1: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, k-mers from 5
SPECIALS = set(TOKENIZER.all_special_ids)


def _genome(name: str) -> str:
    with gzip.open(GENOMES / name, "rt") as handle:
        return "".join(line.strip() for line in handle if not line.startswith(">"))


ECOLI = _genome("ecoli_k12_mg1655.fa.gz")
HUMAN = _genome("human_chr22_20-21M.fa.gz")  # holds an N run: [UNK] tokens


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
    with pytest.raises(ValueError, match="unknown RandomMaskSchedule fields"):
        RandomMaskSchedule.from_dict({**schedule.to_dict(), "mask_prob": 0.15})
    with pytest.raises(ValueError, match="num_phases"):
        RandomMaskSchedule(total_steps=3, num_phases=4)


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
    expected = {1: [15], 2: [15, 16], 6: [13, 14, 15, 16, 17, 18], 7: list(range(12, 19)), 8: list(range(12, 20))}
    for length, positions in expected.items():
        assert span_coverage(centres, torch.tensor([length])).nonzero()[:, 1].tolist() == positions
    edge = torch.zeros(1, 10, dtype=torch.bool)
    edge[0, 1] = edge[0, 9] = True  # cut at the row ends, never wrapping into another row
    assert span_coverage(edge.repeat(2, 1), torch.tensor([6, 6, 6, 6]))[0].nonzero()[:, 0].tolist() == \
        [0, 1, 2, 3, 4, 7, 8, 9]


def _random_batch(draw) -> torch.Tensor:
    """Rows of [CLS] k-mers/[UNK] [SEP] then [PAD]s, as the tokenizer and pad() produce them."""
    rows, width = draw(st.integers(1, 6)), draw(st.integers(2, 80))
    batch = torch.full((rows, width), TOKENIZER.pad_token_id)
    for r in range(rows):
        n = draw(st.integers(0, width - 2))
        body = draw(st.lists(st.one_of(st.integers(5, len(TOKENIZER) - 1), st.just(TOKENIZER.unk_token_id)),
                             min_size=n, max_size=n))
        batch[r, : n + 2] = torch.tensor([TOKENIZER.cls_token_id, *body, TOKENIZER.sep_token_id])
    return batch


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
    assert not (selected & is_special).any()  # never [CLS]/[SEP]/[PAD]/[UNK]
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


@pytest.mark.parametrize("schedule", [RandomMaskSchedule.from_preset("randommask", total_steps=500),
                                      RandomMaskSchedule(total_steps=500, target_masked_ratio=0.15)],
                         ids=["fixed-p", "target-15%"])
def test_realised_ratio_and_80_10_10_near_their_expectation(schedule):
    collator = DataCollatorForRandomMask(TOKENIZER, schedule, seed=3)
    batch = collator.pad(_windows(256, 515))  # 256 x (510 k-mers + [CLS] + [SEP])
    for phase in (0, 2, 4):
        step = schedule.phase_start(phase)
        out = collator.mask(batch, step)
        stats = collator.mask_statistics(out, step)
        # about 16k spans: the standard deviation of the ratio is ~0.002
        assert stats["masked_ratio"] == pytest.approx(schedule.expected_masked_ratio(step, 510), abs=0.008)
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
    tokenizer = KmerTokenizer(k=6, stride=6)
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


def test_unknown_tokens_are_never_selected_on_a_real_n_run():
    # chr22:20-21M holds N at 509,431..609,430: windows across both edges of the run and inside it
    windows = [{"input_ids": TOKENIZER(HUMAN[s: s + 515])["input_ids"]} for s in range(509_000, 610_000, 1650)]
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


# ---- worker safety ---------------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:This DataLoader will create 3 worker processes")
@pytest.mark.parametrize("workers", [0, 2, 3])
def test_collate_calls_in_workers_know_their_step(workers):
    """collator(features) in DataLoader workers masks batch i at first_step + i // accumulation, exactly."""
    features = _windows(14, 120, ragged=True)
    collator = DataCollatorForRandomMask(TOKENIZER, RandomMaskSchedule(total_steps=20, num_phases=4), seed=1)
    collator.set_step(7, gradient_accumulation_steps=3)
    iterator = iter(DataLoader(features, batch_size=2, collate_fn=collator, num_workers=workers))
    if workers:  # the workers copied the collator when the iterator was created: later changes never reach them
        collator.set_step(0)
    batches = list(iterator)
    assert len(batches) == 7
    for i, batch in enumerate(batches):
        reference = collator.mask(collator.pad(features[2 * i: 2 * i + 2]), 7 + i // 3, 0, i % 3)
        assert all(torch.equal(batch[k], reference[k]) for k in reference)


# ---- custom loop (pad in workers, mask in the step) ------------------------------------------------------------

def _tiny_model(seed: int = 0) -> RandomMaskForMaskedLM:
    torch.manual_seed(seed)
    return RandomMaskForMaskedLM(RandomMaskConfig.from_preset("tiny", vocab_size=len(TOKENIZER),
                                                              max_position_embeddings=128))


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
    trainer.train(resume_from_checkpoint=resume)
    return collator, records, evaluations


@pytest.fixture(scope="module")
def trainer_runs(tmp_path_factory):
    """{workers: (output_dir, collator, training records, evaluation records)} for 0 and 2 workers."""
    runs = {}
    for workers in (0, 2):
        output_dir = tmp_path_factory.mktemp(f"workers{workers}")
        runs[workers] = (output_dir, *_train(output_dir, workers))
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_trainer_trains_on_the_masks_of_its_optimizer_step(trainer_runs, workers):
    _, collator, records, evaluations = trainer_runs[workers]
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
    output_dir, _, full, _ = trainer_runs[2]
    # checkpoint-2: micro-batch 4 of epoch 0 comes next; checkpoint-4: micro-batch 2 of epoch 1
    for checkpoint, expected_steps in [(output_dir / "checkpoint-2", [2, 3, 3, 4, 4, 5]),
                                       (output_dir / "checkpoint-4", [4, 4, 5])]:
        assert json.loads((checkpoint / MASKING_FILE).read_text())["seed"] == 7
        collator, resumed, _ = _train(output_dir, 2, resume=str(checkpoint))
        _assert_trained_on_pure_masks(collator, resumed, expected_steps)
        for (step_a, a), (step_b, b) in zip(full[-len(expected_steps):], resumed, strict=True):
            assert step_a == step_b and all(torch.equal(a[k], b[k]) for k in a)
    checkpoint = output_dir / "checkpoint-2"
    other = DataCollatorForRandomMask(TOKENIZER, TRAINER_SCHEDULE, seed=8)
    with pytest.raises(ValueError, match="a resumed run must mask like the original"):
        _train(output_dir, 2, resume=str(checkpoint), collator=other)


class _Stream(torch.utils.data.IterableDataset):
    def __iter__(self):
        return iter(_windows(10, 60))


@pytest.mark.parametrize("overrides, message", [({"dataloader_persistent_workers": True}, "persistent_workers"),
                                                ({"dataloader_in_order": False}, "in_order"),
                                                ({"dataset": _Stream()}, "map-style datasets only")])
def test_callback_refuses_setups_that_break_the_count(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        _train(tmp_path, 2, **overrides)
