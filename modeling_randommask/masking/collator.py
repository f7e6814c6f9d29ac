"""Masking for RandomMask pretraining, keyed on the optimizer step.

Masks are a pure function of (seed, optimizer step, process rank, micro-step, batch content): a torch generator is
seeded from a hash of those integers (``data.seeding``), so a resumed run masks exactly as an uninterrupted one and
the number of DataLoader workers never matters. Two ways to use it:

* custom loops (``examples/pretrain.py``): ``collator.pad`` in the DataLoader workers, ``collator.mask(batch, step,
  rank, micro_step)`` in the training step. Exact by construction.
* ``Trainer``: ``data_collator=collator`` plus ``callbacks=[RandomMaskCallback(collator)]``; each collate call then
  works out the step of its own batch (``masking.trainer_callback`` explains how).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence

from ..configuration_randommask import IGNORE_INDEX
from ..data.seeding import keyed_generator
from .schedule import RandomMaskSchedule


def span_coverage(centres: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Tokens covered by spans: a centre ``c`` with length ``L`` covers ``c - (L-1)//2 .. c - (L-1)//2 + L - 1``
    (for L = 6: c-2 .. c+3, DNABERT's window), cut at the row ends.

    Args:
        centres: bool ``[batch, length]``.
        lengths: int ``[batch, length]`` (read at the centres only) or ``[num_centres]`` in ``nonzero`` order.
    """
    batch_size, length = centres.shape
    rows, positions = centres.nonzero(as_tuple=True)
    if lengths.dim() == 2:
        lengths = lengths[rows, positions]
    first = positions - (lengths - 1) // 2
    # Difference array per row (length + 1 slots so a span may end at the row end): +1 at a span's first token,
    # -1 after its last; a running sum > 0 means covered.
    row_offset = rows * (length + 1)
    size = batch_size * (length + 1)
    delta = (torch.bincount(row_offset + first.clamp(min=0), minlength=size)
             - torch.bincount(row_offset + (first + lengths).clamp(max=length), minlength=size))
    return delta.view(batch_size, length + 1).cumsum(dim=1)[:, :length] > 0


class DataCollatorForRandomMask:
    """Pads k-mer windows and selects RandomMask spans; BERT's 80/10/10 on every selected token.

    Args:
        tokenizer: a ``KmerTokenizer``; read once: ``pad_token_id``, ``mask_token_id``, ``all_special_ids``,
            ``len(tokenizer)``, ``k`` and ``kmer_stride``.
        schedule: the span curriculum (``RandomMaskSchedule``).
        seed: masks differ between seeds and are identical for the same seed.
        mask_replace_prob, random_replace_prob: BERT's 0.8 and 0.1 (``[MASK]``, random k-mer); the rest is left
            unchanged.
        rank: the process index used by ``__call__`` (``RandomMaskCallback`` sets it; ``mask`` takes it
            explicitly).
    """

    def __init__(self, tokenizer: Any, schedule: RandomMaskSchedule, seed: int = 0, mask_replace_prob: float = 0.8,
                 random_replace_prob: float = 0.1, rank: int = 0):
        if not (0 <= mask_replace_prob and 0 <= random_replace_prob and mask_replace_prob + random_replace_prob <= 1):
            raise ValueError("need mask_replace_prob, random_replace_prob >= 0 with a sum <= 1, got "
                             f"{mask_replace_prob} and {random_replace_prob}")
        self.schedule, self.seed, self.rank = schedule, seed, rank
        self.mask_replace_prob, self.random_replace_prob = mask_replace_prob, random_replace_prob
        self.pad_token_id, self.mask_token_id = tokenizer.pad_token_id, tokenizer.mask_token_id
        self.vocab_size = len(tokenizer)
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
        ordinary = torch.ones(self.vocab_size, dtype=torch.bool)
        ordinary[self.special_ids] = False
        self.kmer_ids = ordinary.nonzero().squeeze(1)  # random replacements are drawn from these only
        self.k, self.kmer_stride = tokenizer.k, tokenizer.kmer_stride
        # Trainer path (see the module docstring): the step of the current iterator's first batch, the
        # accumulation, and how many batches this copy of the collator has collated; evaluation counts apart.
        self.first_step, self.gradient_accumulation_steps, self.calls = 0, 1, 0
        self.evaluation_step: int | None = None
        self.evaluation_calls = 0

    def to_dict(self) -> dict[str, Any]:
        """Everything the masks depend on besides (step, rank, micro-step, batch): JSON for checkpoints."""
        return {"schedule": self.schedule.to_dict(), "seed": self.seed, "mask_replace_prob": self.mask_replace_prob,
                "random_replace_prob": self.random_replace_prob, "k": self.k, "kmer_stride": self.kmer_stride,
                "vocab_size": self.vocab_size}

    def pad(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Stack ``input_ids`` (lists or 1-d tensors) right-padded to the longest; attention on non-pad tokens.
        Pure and cheap: fine in DataLoader workers."""
        if not features:
            raise ValueError("DataCollatorForRandomMask.pad: got an empty list of features")
        ids = []
        for index, feature in enumerate(features):
            row = torch.as_tensor(feature["input_ids"], dtype=torch.long)
            if row.dim() != 1:
                raise ValueError(f"DataCollatorForRandomMask.pad: feature {index} has input_ids of shape "
                                 f"{tuple(row.shape)}; expected one sequence (1-d)")
            ids.append(row)
        input_ids = pad_sequence(ids, batch_first=True, padding_value=self.pad_token_id)
        return {"input_ids": input_ids, "attention_mask": (input_ids != self.pad_token_id).long()}

    def maskable(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Tokens that may be selected: k-mers only ([CLS], [SEP], [PAD], [UNK], [MASK] never are)."""
        return ~torch.isin(input_ids, self.special_ids)

    def mask(self, batch: dict[str, torch.Tensor], step: int, rank: int = 0, micro_step: int = 0
             ) -> dict[str, torch.Tensor]:
        """``batch`` with RandomMask applied as at optimizer ``step``: ``input_ids`` masked, ``labels`` the original
        ids at selected tokens and -100 elsewhere. A pure function of (seed, step, rank, micro_step, batch). A batch
        that already holds masked-LM ``labels`` is re-masked from its original tokens (``labels`` where set,
        ``input_ids`` elsewhere)."""
        input_ids = batch["input_ids"]
        if input_ids.dim() != 2 or input_ids.dtype != torch.long:
            raise ValueError(f"mask: input_ids must be a 2-d int64 tensor, got {tuple(input_ids.shape)} "
                             f"{input_ids.dtype}")
        ids = input_ids.cpu()
        if "labels" in batch:  # already masked: its [MASK]s and random k-mers must not be taken for the data
            previous = batch["labels"].cpu()
            if previous.shape != ids.shape:
                raise ValueError(f"mask: labels of shape {tuple(previous.shape)} are not masked-LM labels for "
                                 f"input_ids of shape {tuple(ids.shape)}")
            ids = torch.where(previous != IGNORE_INDEX, previous, ids)
        if ids.numel() and not 0 <= int(ids.min()) <= int(ids.max()) < self.vocab_size:
            raise ValueError(f"mask: input_ids outside the vocabulary [0, {self.vocab_size})")
        generator = keyed_generator(self.seed, step, rank, micro_step)
        centres, lengths = self._draw_spans(ids, step, generator)
        selected = span_coverage(centres, lengths) & self.maskable(ids)
        action = torch.rand(ids.shape, generator=generator)
        to_mask = selected & (action < self.mask_replace_prob)
        to_random = selected & ~to_mask & (action < self.mask_replace_prob + self.random_replace_prob)
        masked = ids.masked_fill(to_mask, self.mask_token_id)
        random_ids = self.kmer_ids[torch.randint(len(self.kmer_ids), (int(to_random.sum()),), generator=generator)]
        masked[to_random] = random_ids
        labels = ids.masked_fill(~selected, IGNORE_INDEX)
        return {**batch, "input_ids": masked.to(input_ids.device), "labels": labels.to(input_ids.device)}

    def spans(self, input_ids: torch.Tensor, step: int, rank: int = 0, micro_step: int = 0
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """The spans ``mask`` draws for this batch, before clipping and merging: centres (bool, like
        ``input_ids``) and their lengths (in ``centres.nonzero()`` order)."""
        return self._draw_spans(input_ids.cpu(), step, keyed_generator(self.seed, step, rank, micro_step))

    def _draw_spans(self, ids: torch.Tensor, step: int, generator: torch.Generator
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Centres: one Bernoulli draw per token, kept on maskable tokens; lengths uniform in the phase's bounds."""
        low, high = self.schedule.span_bounds(step)
        centres = self.maskable(ids) & (torch.rand(ids.shape, generator=generator)
                                        < self.schedule.centre_probability_at(step))
        return centres, torch.randint(low, high + 1, (int(centres.sum()),), generator=generator)

    # ---- Trainer path ------------------------------------------------------------------------------------------

    def set_step(self, step: int, gradient_accumulation_steps: int = 1) -> None:
        """The next iterator's first collated batch is micro-batch 0 of optimizer ``step``. Call it before the
        DataLoader iterator is created: worker processes copy the collator then and never see later changes."""
        if step < 0 or gradient_accumulation_steps < 1:
            raise ValueError(f"need step >= 0 and gradient_accumulation_steps >= 1, got {step}, "
                             f"{gradient_accumulation_steps}")
        self.first_step, self.gradient_accumulation_steps, self.calls = step, gradient_accumulation_steps, 0
        self.evaluation_step = None

    def begin_evaluation(self, step: int) -> None:
        """Until ``end_evaluation``, collate calls mask evaluation batches: batch ``j`` as ``mask(batch,
        phase_start(phase(step)), rank, micro_step=-1 - j)``, the same masks at every evaluation of a phase
        (negative micro-steps never occur in training). The training count is left untouched."""
        self.evaluation_step = self.schedule.phase_start(self.schedule.phase(step))
        self.evaluation_calls = 0

    def end_evaluation(self) -> None:
        self.evaluation_step = None

    def _batch_index(self, calls: int) -> int:
        worker = torch.utils.data.get_worker_info()
        return calls if worker is None else worker.id + calls * worker.num_workers

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Trainer path: pad, then mask at the step this batch belongs to (see the module docstring)."""
        batch = self.pad(features)
        if self.evaluation_step is not None:
            index = self._batch_index(self.evaluation_calls)
            self.evaluation_calls += 1
            return self.mask(batch, self.evaluation_step, self.rank, micro_step=-1 - index)
        index = self._batch_index(self.calls)
        self.calls += 1
        step, micro_step = divmod(index, self.gradient_accumulation_steps)
        return self.mask(batch, self.first_step + step, self.rank, micro_step)

    # ---- Logging -----------------------------------------------------------------------------------------------

    def mask_statistics(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        """Realised masking of a masked batch, over the runs of consecutive selected tokens (overlapping spans
        merge into one run):

        * ``masked_ratio``: selected tokens / maskable tokens;
        * ``mean_span``: mean run length, in tokens;
        * ``hidden_bases``: mean bases per run that no visible k-mer shows. Between visible neighbours a run of
          ``L`` tokens hides ``(L + 1) * kmer_stride - k`` bases (``L - k + 1`` for overlapping k-mers, ``L * k`` for
          non-overlapping ones); next to [CLS]/[SEP]/[UNK] the run's outer bases count as hidden too;
        * ``phase``: the curriculum phase of ``step``.
        """
        labels = batch["labels"].cpu()
        selected = labels != IGNORE_INDEX
        original = torch.where(selected, labels, batch["input_ids"].cpu())
        visible_kmer = self.maskable(original) & ~selected
        no = torch.zeros_like(selected[:, :1])
        before = torch.cat([no, selected[:, :-1]], dim=1)
        after = torch.cat([selected[:, 1:], no], dim=1)
        rows, run_first = (selected & ~before).nonzero(as_tuple=True)
        run_last = (selected & ~after).nonzero(as_tuple=True)[1]  # same row-major order: one end per start
        length = selected.shape[1]
        left_visible = visible_kmer[rows, (run_first - 1).clamp(min=0)] & (run_first > 0)
        right_visible = visible_kmer[rows, (run_last + 1).clamp(max=length - 1)] & (run_last < length - 1)
        # Base coordinates: token i covers bases i*kmer_stride .. i*kmer_stride + k - 1.
        hidden_from = torch.where(left_visible, (run_first - 1) * self.kmer_stride + self.k, run_first * self.kmer_stride)
        hidden_to = torch.where(right_visible, (run_last + 1) * self.kmer_stride, run_last * self.kmer_stride + self.k)
        hidden = (hidden_to - hidden_from).clamp(min=0).double()
        runs = max(len(run_first), 1)
        return {"masked_ratio": selected.sum().item() / max(self.maskable(original).sum().item(), 1),
                "mean_span": (run_last - run_first + 1).sum().item() / runs,
                "hidden_bases": hidden.sum().item() / runs,
                "phase": self.schedule.phase(step)}
