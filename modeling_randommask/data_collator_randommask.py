"""Masking for RandomMask pretraining, keyed on the optimizer step.

Masks are a pure function of (seed, optimizer step, process rank, micro-step, batch content): a torch generator is
seeded from those integers, so a resumed run masks exactly as an uninterrupted one and the number of DataLoader
workers never matters. Two ways to use it:

* custom loops (``examples/pretrain.py``): ``collator.pad`` in the DataLoader, ``collator.mask(batch, step, rank,
  micro_step)`` in the training step;
* ``Trainer``: ``data_collator=collator`` plus ``callbacks=[RandomMaskCallback(collator)]``. Each collate call
  then works out its own step from its position in the epoch: a DataLoader sends batch ``i`` of an iterator to
  worker ``i % num_workers`` in order, so a worker's ``n``-th call is batch ``worker + n * num_workers``, and the
  step is the epoch's first step + ``i // gradient_accumulation_steps``. The callback sets the epoch's first step
  before Trainer creates the epoch's iterator (which copies the collator into fresh workers).
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence
from transformers import TrainerCallback

from .masking_schedule import RandomMaskSchedule

IGNORE_INDEX = -100


def _generator(*keys: int) -> torch.Generator:
    digest = hashlib.blake2b(":".join(map(str, keys)).encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))


class DataCollatorForRandomMask:
    """Pads k-mer windows and selects RandomMask spans; BERT's 80/10/10 on every selected token.

    Args:
        tokenizer: a ``KmerTokenizer`` (its special ids, ``k`` and ``stride`` are read once).
        schedule: the span curriculum (``RandomMaskSchedule``).
        seed: masks differ between seeds and are identical for the same seed.
        mask_replace_prob, random_replace_prob: BERT's 0.8 and 0.1; the rest is left unchanged.
        rank: the process index used by ``__call__`` (``mask`` takes it explicitly).
    """

    def __init__(self, tokenizer: Any, schedule: RandomMaskSchedule, seed: int = 0, mask_replace_prob: float = 0.8,
                 random_replace_prob: float = 0.1, rank: int = 0):
        if mask_replace_prob + random_replace_prob > 1:
            raise ValueError("mask_replace_prob + random_replace_prob must not exceed 1")
        self.schedule, self.seed, self.rank = schedule, seed, rank
        self.mask_replace_prob, self.random_replace_prob = mask_replace_prob, random_replace_prob
        self.pad_token_id, self.mask_token_id = tokenizer.pad_token_id, tokenizer.mask_token_id
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
        ordinary = torch.ones(len(tokenizer), dtype=torch.bool)
        ordinary[self.special_ids] = False
        self.kmer_ids = ordinary.nonzero().squeeze(1)  # random replacements are drawn from these only
        self.k, self.stride = tokenizer.k, tokenizer.stride
        # Trainer path: set by RandomMaskCallback before each epoch's iterator is created.
        self.epoch_first_step, self.gradient_accumulation_steps, self.calls = 0, 1, 0

    def pad(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Stack ``input_ids`` (lists or tensors) padded to the longest, with the attention mask."""
        ids = [torch.as_tensor(f["input_ids"], dtype=torch.long) for f in features]
        input_ids = pad_sequence(ids, batch_first=True, padding_value=self.pad_token_id)
        lengths = torch.tensor([len(x) for x in ids])
        attention_mask = (torch.arange(input_ids.shape[1]) < lengths[:, None]).long()
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    def set_step(self, step: int, gradient_accumulation_steps: int = 1) -> None:
        """Trainer path: the next collate call of a fresh iterator is the first micro-batch of ``step``."""
        self.epoch_first_step, self.gradient_accumulation_steps, self.calls = step, gradient_accumulation_steps, 0

    def selectable(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Tokens that may be masked: every k-mer, [UNK] excluded like the other specials."""
        return ~torch.isin(input_ids, self.special_ids)

    def mask(self, batch: dict[str, torch.Tensor], step: int, rank: int = 0, micro_step: int = 0
             ) -> dict[str, torch.Tensor]:
        """A copy of ``batch`` with RandomMask applied at ``step`` and ``labels`` (-100 where not selected)."""
        input_ids = batch["input_ids"]
        if "labels" in batch:  # already masked: start again from the original tokens
            input_ids = torch.where(batch["labels"] != IGNORE_INDEX, batch["labels"], input_ids)
        generator = _generator(self.seed, step, rank, micro_step)
        selected = self._select_spans(input_ids, step, generator)
        draw = torch.rand(input_ids.shape, generator=generator)
        random_ids = self.kmer_ids[torch.randint(len(self.kmer_ids), input_ids.shape, generator=generator)]
        masked = torch.where(selected & (draw < self.mask_replace_prob), self.mask_token_id, input_ids)
        replace_random = selected & (draw >= self.mask_replace_prob) & (
            draw < self.mask_replace_prob + self.random_replace_prob)
        masked = torch.where(replace_random, random_ids, masked)
        labels = torch.where(selected, input_ids, IGNORE_INDEX)
        return {**batch, "input_ids": masked, "labels": labels}

    def _select_spans(self, input_ids: torch.Tensor, step: int, generator: torch.Generator) -> torch.Tensor:
        """Span centres by Bernoulli draws, lengths uniform in the phase's bounds, coverage by a difference array;
        spans are clipped to the maskable tokens (never [CLS], [SEP], [PAD])."""
        maskable = self.selectable(input_ids)
        batch_size, length = input_ids.shape
        low, high = self.schedule.span_bounds(step)
        centres = maskable & (torch.rand(input_ids.shape, generator=generator)
                              < self.schedule.centre_probability_at(step))
        span = torch.randint(low, high + 1, input_ids.shape, generator=generator)
        rows, positions = centres.nonzero(as_tuple=True)
        span = span[rows, positions]
        first = positions - (span - 1) // 2  # for span 6: c-2 .. c+3, DNABERT's window
        starts, ends = first.clamp(min=0), (first + span).clamp(max=length)
        coverage = torch.zeros(batch_size, length + 1, dtype=torch.int32)
        coverage.index_put_((rows, starts), torch.ones_like(starts, dtype=torch.int32), accumulate=True)
        coverage.index_put_((rows, ends), -torch.ones_like(ends, dtype=torch.int32), accumulate=True)
        return (coverage.cumsum(dim=1)[:, :length] > 0) & maskable

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Trainer path: pad, then mask at the step this call's batch belongs to (see the module docstring)."""
        worker = torch.utils.data.get_worker_info()
        index = self.calls if worker is None else worker.id + self.calls * worker.num_workers
        self.calls += 1
        step, micro_step = divmod(index, self.gradient_accumulation_steps)
        return self.mask(self.pad(features), self.epoch_first_step + step, self.rank, micro_step)

    def mask_statistics(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        """Realised masking of a masked batch: selected fraction of maskable tokens, mean length of the selected
        runs, mean bases hidden per run (a run of L tokens between visible neighbours hides (L + 1) * stride - k
        bases: L - k + 1 for overlapping k-mers, L * k for non-overlapping ones), and the phase."""
        labels = batch["labels"]
        selected = labels != IGNORE_INDEX
        original = torch.where(selected, labels, batch["input_ids"])
        maskable = self.selectable(original).sum().item()
        run_starts = selected & ~torch.nn.functional.pad(selected, (1, 0))[:, :-1]
        run_ids = run_starts.flatten().cumsum(0).view_as(selected)[selected]
        run_lengths = torch.bincount(run_ids)[1:].float()
        hidden = ((run_lengths + 1) * self.stride - self.k).clamp(min=0)
        runs = max(len(run_lengths), 1)
        return {"masked_ratio": selected.sum().item() / max(maskable, 1), "mean_span": run_lengths.sum().item() / runs,
                "hidden_bases": hidden.sum().item() / runs, "phase": self.schedule.phase(step)}


class RandomMaskCallback(TrainerCallback):
    """Keeps a ``DataCollatorForRandomMask`` on ``Trainer``'s optimizer step, exactly, with any worker count.

    Before each epoch's iterator is created (``on_epoch_begin``), the collator learns the epoch's first optimizer
    step and the accumulation; each collate call derives its own step from there. Evaluation batches go through the
    same collator, so in the main process (``dataloader_num_workers=0``) counting pauses while Trainer evaluates.
    Persistent workers would keep stale collator copies across epochs and are refused.
    """

    def __init__(self, collator: DataCollatorForRandomMask):
        self.collator = collator
        self._paused_calls: int | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if args.dataloader_persistent_workers and args.dataloader_num_workers > 0:
            raise ValueError("RandomMaskCallback needs dataloader_persistent_workers=False: persistent workers keep "
                             "a copy of the collator from the first epoch and would mask at stale steps")
        self.collator.rank = args.process_index

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.set_step(state.global_step, args.gradient_accumulation_steps)

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_evaluate:
            self._paused_calls = self.collator.calls

    def on_evaluate(self, args, state, control, **kwargs):
        if self._paused_calls is not None:
            self.collator.calls, self._paused_calls = self._paused_calls, None
