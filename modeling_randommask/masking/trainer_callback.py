"""The Trainer path of RandomMask masking: ``RandomMaskCallback`` keeps the collator on Trainer's optimizer step.

Under ``Trainer`` masking happens inside ``collator(features)``, in the DataLoader workers, before Trainer's step
callbacks run (``on_step_begin`` fires after the step's micro-batches were collated) and in processes that never see
an attribute set later. So each collate call works out its own batch index instead: with ``in_order=True`` a
DataLoader sends batch ``i`` of an iterator to worker ``i % num_workers``, so a worker's ``n``-th call is batch
``worker + n * num_workers`` (in the main process, with no workers, the ``n``-th call is batch ``n``). The callback
tells the collator, before Trainer creates each epoch's iterator (``on_epoch_begin``, which is also before the copy
into fresh workers), the optimizer step of that iterator's first batch and the accumulation; batch ``i`` then
belongs to step ``first_step + i // accumulation``, micro-step ``i % accumulation``. A resumed epoch skips its
trained batches with a batch sampler (they are never collated), so the count starts at the resumed step.
Evaluation switches the collator to a separate evaluation count.
"""

from __future__ import annotations

import json
import os

import torch
from transformers import TrainerCallback

from .collator import DataCollatorForRandomMask
from .saved_masking import check_resumed_masking, masking_state_file, write_masking_state


class RandomMaskCallback(TrainerCallback):
    """Keeps a ``DataCollatorForRandomMask`` on ``Trainer``'s optimizer step, exactly, with any worker count.

    * ``on_epoch_begin`` (before Trainer creates the epoch's iterator): ``set_step(global_step, accumulation)``.
    * Evaluations during training (``should_evaluate`` at a step or epoch end, ``eval_on_start``) and after it
      (``on_train_end``) use the collator's evaluation count, so the training count survives evaluations that
      run in the main process.
    * ``on_save``: the masking parameters go into every checkpoint (``randommask_masking.json``); resuming from
      ``output_dir/checkpoint-<step>`` with different ones is refused, since the masks would differ.

    Refused setups, each of which breaks the batch-index count: persistent workers (they keep the first epoch's
    collator copy), ``dataloader_in_order=False`` with workers (batches no longer go round-robin), and an
    ``IterableDataset`` (a resume replays its skipped batches through the collator, and workers that run out at
    different times break the round-robin): use the custom-loop path (``pad`` + ``mask``) for those.
    """

    def __init__(self, collator: DataCollatorForRandomMask):
        self.collator = collator
        self._training = False

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        workers = args.dataloader_num_workers > 0
        if workers and args.dataloader_persistent_workers:
            raise ValueError("RandomMaskCallback needs dataloader_persistent_workers=False: persistent workers keep "
                             "a copy of the collator from the first epoch and would mask at stale steps")
        if workers and not getattr(args, "dataloader_in_order", True):
            raise ValueError("RandomMaskCallback needs dataloader_in_order=True with DataLoader workers: the "
                             "collator derives each batch's step from the round-robin order of the workers")
        if train_dataloader is not None and isinstance(train_dataloader.dataset, torch.utils.data.IterableDataset):
            raise ValueError("RandomMaskCallback supports map-style datasets only (a resume replays an "
                             "IterableDataset's skipped batches through the collator); for streaming data, pad in "
                             "the DataLoader and call collator.mask(batch, step, rank, micro_step) in your loop")
        self.collator.rank = args.process_index
        self._training = True
        if state.global_step > 0:
            self._check_resumed_masking(os.path.join(args.output_dir, f"checkpoint-{state.global_step}"))
        if args.eval_on_start:
            self.collator.begin_evaluation(state.global_step)

    def _check_resumed_masking(self, checkpoint: str) -> None:
        """The callback cannot see which folder Trainer resumed from, only ``output_dir/checkpoint-<step>``: a
        folder without the masking state there is not checked."""
        path = masking_state_file(checkpoint)
        if path.is_file():
            check_resumed_masking(path, json.loads(path.read_text()), self.collator.to_dict())

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.set_step(state.global_step, args.gradient_accumulation_steps)

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_evaluate:  # set by DefaultFlowCallback, which runs first
            self.collator.begin_evaluation(state.global_step)

    on_epoch_end = on_step_end

    def on_evaluate(self, args, state, control, **kwargs):
        if self._training:
            self.collator.end_evaluation()
        else:  # trainer.evaluate() outside train(): every call sees the same masks
            self.collator.begin_evaluation(state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        self._training = False
        self.collator.begin_evaluation(state.global_step)

    def on_save(self, args, state, control, **kwargs):
        checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        if state.is_world_process_zero and os.path.isdir(checkpoint):
            write_masking_state(checkpoint, self.collator.to_dict())
