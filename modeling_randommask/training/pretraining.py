"""RandomMask pretraining with accelerate: genome FASTA in, resumable checkpoints and a Hub-ready folder out.

The loop is deliberately plain (the ``run_mlm_no_trainer`` shape): windows are padded in DataLoader workers and
masked here, in the training step, from (seed, optimizer step, rank, micro-step), so masks never depend on worker
scheduling and a resumed run masks exactly as an uninterrupted one. The data position is (epoch, batch), saved with
every checkpoint next to ``accelerator.save_state``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, is_tensorboard_available, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from ..configuration_randommask import IGNORE_INDEX, RandomMaskConfig
from ..data.genome_windows import GenomeDataConfig, build_genome_datasets
from ..data.options import OptionError
from ..data.sampler import ShardedBatchSampler
from ..data.strides import kmer_stride_of
from ..hub.checkpoint import save_checkpoint
from ..hub.model_card import render_pretrained_card
from ..hub.upload import push_model_folder
from ..inference.bits_per_base import StatisticUnavailable, held_out_bits_per_base
from ..masking.collator import DataCollatorForRandomMask
from ..masking.saved_masking import check_resumed_masking, masking_state_file
from ..modeling_randommask import RandomMaskForMaskedLM
from ..tokenization import KmerTokenizer
from .checkpoints import (
    TRAINING_STATE,
    TrainingState,
    check_output_dir,
    check_resume_settings,
    format_changes,
    load_resume_state,
    read_json,
    resolve_checkpoint,
    save_training_checkpoint,
    verify_checkpoint,
)
from .output_lock import locks_output_dir
from .parent_model import (
    ParentModel,
    card_metadata,
    describe,
    load_parent,
    parent_source_for_card,
    settings_from_parent,
)
from .pretrain_arguments import (
    ADDED_SETTINGS,
    BOOKKEEPING_OPTIONS,
    FIXED_ON_RESUME,
    PretrainArguments,
    check_positions,
)
from .run_log import TRAINING_LOG, RunLog, read_training_log

logger = logging.getLogger(__name__)

NO_LOSS = "none: no step's mask selected a token with a label (are the windows all [UNK] k-mers?)"
SINUSOID_SCALE = 0.1  # measured: 0.1 lets tiny models learn neighbour attention fast; 1.0 drowns the tokens


@torch.no_grad()
def sinusoidal_init_(weight: torch.Tensor, scale: float = SINUSOID_SCALE) -> torch.Tensor:
    """Fill ``weight`` ``[positions, dim]`` with the Transformer's sinusoids times ``scale`` (they stay trainable).

    Why: from BERT's random init, attention in a small model needs thousands of steps to learn which positions
    are neighbours (measured: a 2-layer 64-dim BERT did not learn to copy an overlapping 3-mer from its
    neighbours in 600 steps; with sinusoids it reached 1 nat in 600). Sinusoids make relative offsets linear
    maps of the position code from the first step. The architecture and checkpoints are unchanged."""
    positions, dim = weight.shape
    angle = torch.arange(positions, dtype=torch.float64)[:, None] / 10_000 ** (
        torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    weight[:, 0::2] = (scale * torch.sin(angle)).to(weight.dtype)
    weight[:, 1::2] = (scale * torch.cos(angle[:, : dim // 2])).to(weight.dtype)
    return weight


def _accumulation_steps(args: PretrainArguments, world_size: int) -> int:
    if args.global_batch_size is None:
        return 1
    per_step = args.per_device_train_batch_size * world_size
    if args.global_batch_size % per_step:
        raise OptionError(
            f"--global_batch_size {args.global_batch_size} is not a multiple of per_device_train_batch_size "
            f"{args.per_device_train_batch_size} x {world_size} processes"
        )
    return args.global_batch_size // per_step


def _fingerprint(input_ids: torch.Tensor) -> torch.Tensor:
    """An order-sensitive checksum of a batch's tokens: tells in the log whether ranks read different windows."""
    weights = torch.arange(1, input_ids.numel() + 1, dtype=torch.int64).view_as(input_ids)
    return (input_ids.long() * weights).sum() % 1_000_000_007


def _batches(loader: DataLoader, sampler: ShardedBatchSampler, state: TrainingState):
    """Endless stream of batches from the saved position; keeps ``state``'s data position current."""
    while True:
        sampler.set_position(state.epoch, state.batch_in_epoch)
        loader.dataset.set_epoch(state.epoch)
        for batch in loader:
            state.batch_in_epoch += 1
            yield batch
        state.epoch += 1
        state.batch_in_epoch = 0


@torch.no_grad()
def evaluate(model, loader: DataLoader, collator: DataCollatorForRandomMask, step: int, accelerator: Accelerator,
             max_batches: int) -> float:
    """Masked-LM loss on held-out windows, masked as at the start of ``step``'s phase so that every evaluation
    within a phase sees the same masks: the first ``max_batches`` batches whose mask selected a token."""
    model.eval()
    phase_start = collator.schedule.phase_start(collator.schedule.phase(step))
    total, scored = torch.zeros((), device=accelerator.device), 0
    for index, batch in enumerate(loader):
        if scored == max_batches:
            break
        batch = collator.mask(batch, step=phase_start, rank=accelerator.process_index, micro_step=index)
        if not (batch["labels"] != IGNORE_INDEX).any():
            continue  # a mask that selected no token has no loss (see the training step)
        batch = {key: value.to(accelerator.device) for key, value in batch.items()}
        loss = model(**batch, labelled_logits_only=True).loss
        total += loss.float()
        scored += 1
    model.train()
    count = torch.tensor(float(scored), device=accelerator.device)
    total, count = accelerator.reduce(total, "sum"), accelerator.reduce(count, "sum")
    return (total / count).item() if count.item() else float("nan")


def run_settings(args: PretrainArguments, data: GenomeDataConfig, data_stats: dict, accelerator: Accelerator,
                 accumulation: int) -> dict:
    """What a resumed run must share with its checkpoint to continue it exactly: every option but the bookkeeping
    ones (mixed precision as in force, whether given or from accelerate's config), the number of processes and
    gradient-accumulation steps, and the genome by content (the SHA-256 of its bases and records, not its paths:
    ``genome_files``, the files as given, is recorded and not compared)."""
    options = {k: v for k, v in (asdict(args) | asdict(data)).items()
               if k not in BOOKKEEPING_OPTIONS and not (k in ADDED_SETTINGS and v == ADDED_SETTINGS[k])}
    options["mixed_precision"] = str(accelerator.mixed_precision)
    genome = {key: data_stats[key] for key in ("content_sha256", "records", "bases", "non_acgt_bases")}
    files = [f"{entry['path']} ({entry['bases']:,} bases" + (f", file SHA-256 {entry['file_sha256'][:12]})"
                                                           if entry.get("file_sha256") else ")")
             for entry in data_stats["genomes"]]
    run = {"world_size": accelerator.num_processes, "accumulation": accumulation, "genome": genome,
           "genome_files": files}
    return json.loads(json.dumps(options | run))


def _settings_of_older_versions(saved: dict) -> dict:
    """A checkpoint written before the genome was compared by content alone recorded its files (paths, windows,
    shares) inside ``genome``: they become its ``genome_files``, and the shares follow from ``genome_weights``."""
    genome = saved.get("genome")
    if isinstance(genome, dict) and "genomes" in genome:
        files = genome.pop("genomes")
        saved.setdefault("genome_files", [f"{entry['source']} ({entry['bases']:,} bases)" for entry in files])
    return saved


def pretrain(args: PretrainArguments, data: GenomeDataConfig | None = None) -> Path:
    """Run pretraining as configured and return the model folder (``args.output_dir``). ``data`` defaults to
    ``GenomeDataConfig()``: the embedded E. coli genome. Nothing is written or deleted before the options are
    checked, and the folder is locked against a second run meanwhile (``output_lock``)."""
    data = GenomeDataConfig() if data is None else data
    check_positions((args, data))
    parent = None
    if args.model_name_or_path is not None:
        parent = load_parent(args.model_name_or_path)
        args = settings_from_parent(args, data.max_length, parent)
        logger.info(describe(parent))
    output_dir = Path(args.output_dir)
    accelerator = Accelerator(
        mixed_precision=args.mixed_precision, log_with="tensorboard" if is_tensorboard_available() else None,
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
    )
    accumulation = _accumulation_steps(args, accelerator.num_processes)
    return _pretrain_locked(args, data, accelerator, accumulation, parent)


def initial_model(args: PretrainArguments, tokenizer: KmerTokenizer, parent: ParentModel | None
                  ) -> RandomMaskForMaskedLM:
    """The weights at step 0: the parent's (continued pretraining), else drawn for the preset.

    Heads built on the result pool by the mean of the last hidden states: masked-LM pretraining never trains the
    [CLS] state (it is never a label) and, the longer it runs, the less [CLS] says about the sequence (measured,
    docs/baselines.md; with [CLS] pooling, 8,000 steps fell from MCC 50 to 20-25 on TF-M 0). A parent's pooling is
    set likewise, since this run trains it the same way."""
    if parent is not None:
        parent.model.config.classifier_pooling = "mean"
        return parent.model
    config = RandomMaskConfig.from_preset(
        args.model_preset, vocab_size=len(tokenizer), kmer_size=args.kmer_size, kmer_stride=tokenizer.kmer_stride,
        classifier_pooling="mean",
    )
    model = RandomMaskForMaskedLM(config)
    if args.position_embedding_init == "sinusoidal":
        sinusoidal_init_(model.bert.embeddings.position_embeddings.weight)
    return model


@locks_output_dir
def _pretrain_locked(args: PretrainArguments, data: GenomeDataConfig, accelerator: Accelerator,
                     accumulation: int, parent: ParentModel | None = None) -> Path:
    output_dir = Path(args.output_dir)
    check_output_dir(output_dir, resume=bool(args.resume_from_checkpoint), overwrite=args.overwrite_output_dir)
    set_seed(data.seed)

    tokenizer = parent.tokenizer if parent is not None else KmerTokenizer(
        k=args.kmer_size, kmer_stride=kmer_stride_of(args.tokenization, args.kmer_size))
    with accelerator.main_process_first():  # the main process prepares the store, and verifies its content: the
        # digest its log, checkpoints and card record is that of the bases read (about 1 s per Gbp)
        train_data, val_data, data_stats = build_genome_datasets(data, tokenizer, verify=accelerator.is_main_process)

    schedule = args.masking_schedule()
    collator = DataCollatorForRandomMask(tokenizer, schedule, seed=data.seed)
    val_collator = DataCollatorForRandomMask(tokenizer, schedule, seed=data.seed + 1)

    model = initial_model(args, tokenizer, parent)
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.learning_rate, betas=(0.9, 0.98), eps=1e-6,
                                  fused=accelerator.device.type == "cuda")
    scheduler = get_linear_schedule_with_warmup(optimizer, args.warmup_steps, args.max_steps)
    if args.torch_compile:
        model = torch.compile(model)
    model, optimizer = accelerator.prepare(model, optimizer)
    # The scheduler is saved and loaded by training.checkpoints (as JSON), not registered with accelerate, whose
    # loader unpickles registered objects with weights_only=False.

    sampler = ShardedBatchSampler(len(train_data), args.per_device_train_batch_size, seed=data.seed,
                                  rank=accelerator.process_index, world_size=accelerator.num_processes)
    # Own generators: creating an iterator would otherwise draw from the global RNG that dropout uses, and a
    # resumed run (which creates one more iterator) would drift from an uninterrupted one.
    train_loader = DataLoader(train_data, batch_sampler=sampler, collate_fn=collator.pad,
                              num_workers=args.num_workers, pin_memory=accelerator.device.type == "cuda",
                              generator=torch.Generator().manual_seed(data.seed))
    val_indices = range(accelerator.process_index, len(val_data), accelerator.num_processes)  # no list per window
    val_loader = DataLoader(torch.utils.data.Subset(val_data, val_indices), batch_size=args.per_device_train_batch_size,
                            collate_fn=collator.pad, generator=torch.Generator().manual_seed(data.seed))

    state = TrainingState()
    settings = run_settings(args, data, data_stats, accelerator, accumulation)
    changes: dict[str, list] = {}
    if args.resume_from_checkpoint:
        checkpoint = resolve_checkpoint(output_dir, args.resume_from_checkpoint)
        verify_checkpoint(checkpoint, trust_pickles=args.trust_checkpoint_pickles)
        masking = masking_state_file(checkpoint)
        check_resumed_masking(masking, read_json(masking, "the masking schedule"), schedule.to_dict())
        changes = check_resume_settings(checkpoint, settings, args.allow_resume_changes, FIXED_ON_RESUME,
                                        renamed=PretrainArguments.RENAMED_OPTIONS, noted={"genome_files": "genome"},
                                        upgrade=_settings_of_older_versions)
        state = TrainingState(**read_json(checkpoint / TRAINING_STATE, "the step and data position"))
        changes |= load_resume_state(accelerator, checkpoint, scheduler, args.trust_checkpoint_pickles,
                                     args.allow_resume_changes)
        if changes:
            state.resumed_with_changes.append({"step": state.step, "changes": changes})
        logger.info("resumed from %s at step %d (epoch %d, batch %d)", checkpoint, state.step, state.epoch,
                    state.batch_in_epoch)
    run_log = RunLog(output_dir / TRAINING_LOG, accelerator.is_main_process,
                     state.step if args.resume_from_checkpoint else None)
    tracked = {k: v for k, v in (asdict(args) | asdict(data)).items() if isinstance(v, (int, float, str, bool))}
    accelerator.init_trackers("randommask", config=tracked)
    if accelerator.is_main_process:
        run_log.write({"step": state.step, "event": "start", "world_size": accelerator.num_processes,
                       "accumulation": accumulation, "data": data_stats, "schedule": schedule.to_dict()})
        if changes:
            run_log.write({"step": state.step, "event": "resumed_with_changes", "changes": changes})

    batches = _batches(train_loader, sampler, state)
    progress = tqdm(total=args.max_steps, initial=state.step, disable=not accelerator.is_main_process,
                    desc="pretraining", unit="step")
    model.train()
    tokens_seen, data_wait, clock = 0, 0.0, time.perf_counter()
    last_val = None
    last_train_loss = None
    while state.step < args.max_steps:
        # Summed over the micro-batches whose mask selected at least one token, and their count: with tiny batches
        # a mask may select none, and that micro-batch has no loss (a mean over no token is NaN), not a fault.
        loss_sum = torch.zeros((), device=accelerator.device)
        labelled = torch.zeros((), device=accelerator.device)
        for micro in range(accumulation):
            waiting = time.perf_counter()
            batch = next(batches)
            data_wait += time.perf_counter() - waiting  # the loader is not keeping up: the device idles meanwhile
            batch = collator.mask(batch, step=state.step, rank=accelerator.process_index, micro_step=micro)
            if micro == 0 and state.step % args.log_every == 0:
                mask_stats = collator.mask_statistics(batch, state.step)
                identity = torch.stack([_fingerprint(batch["input_ids"]), torch.tensor(schedule.phase(state.step))])
            batch_tokens = int(batch["attention_mask"].sum()) * accelerator.num_processes
            tokens_seen += batch_tokens
            state.tokens_seen += batch_tokens
            has_labels = bool((batch["labels"] != IGNORE_INDEX).any())
            batch = {key: value.to(accelerator.device, non_blocking=True) for key, value in batch.items()}
            sync = accelerator.no_sync(model) if micro < accumulation - 1 else nullcontext()
            with sync:
                output = model(**batch, labelled_logits_only=True)  # the loss alone: the last layer at labels only
                # Without labels the micro-batch adds zero to the gradient, but still runs backward: every process
                # must join each gradient all-reduce.
                loss = output.loss if has_labels else output.logits.sum() * 0
                accelerator.backward(loss / accumulation)
            if has_labels:
                loss_sum += loss.detach().float()
                labelled += 1
        loss_sum, labelled = accelerator.reduce(torch.stack([loss_sum, labelled]), "sum").tolist()
        step_loss = loss_sum / labelled if labelled else math.nan
        grad_norm = accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        if not labelled:  # no process's mask selected a token: nothing to learn from, no update, no fault
            run_log.write({"step": state.step, "event": "skipped_no_labels"})
        elif math.isfinite(step_loss) and torch.isfinite(grad_norm):
            optimizer.step()
            state.consecutive_faults = 0
            last_train_loss = step_loss  # for the card when no logged step had labels (tiny batches)
        else:
            state.consecutive_faults += 1
            state.skipped_steps += 1
            logger.warning("step %d: non-finite loss %.4g or gradient norm; update skipped", state.step, step_loss)
            run_log.write({"step": state.step, "event": "skipped_non_finite", "loss": step_loss})
            if state.consecutive_faults >= args.max_consecutive_faults:
                raise FloatingPointError(
                    f"{state.consecutive_faults} non-finite steps in a row at step {state.step}: stopping before "
                    "the weights are poisoned; lower the learning rate or check the data and mixed precision"
                )
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        phase_before = schedule.phase(state.step)
        state.step += 1
        progress.update(1)

        if (state.step - 1) % args.log_every == 0:
            elapsed = time.perf_counter() - clock
            by_rank = accelerator.gather(identity.to(accelerator.device)[None]).tolist()
            record = {"step": state.step, "loss": step_loss if labelled else None, "lr": scheduler.get_last_lr()[0],
                      "phase": phase_before, "epoch": state.epoch, "tokens_per_s": tokens_seen / max(elapsed, 1e-9),
                      "data_wait_fraction": data_wait / max(elapsed, 1e-9),
                      "batch_fingerprints": [r[0] for r in by_rank], "phases_by_rank": [r[1] for r in by_rank],
                      **{f"mask/{k}": v for k, v in mask_stats.items()}}
            run_log.write(record)
            accelerator.log({k: v for k, v in record.items() if k != "step"}, step=state.step)
            progress.set_postfix(loss=f"{step_loss:.3f}", phase=phase_before,
                                 tok_s=f"{record['tokens_per_s']:.3g}")
            tokens_seen, data_wait, clock = 0, 0.0, time.perf_counter()
        phase_ends = state.step == args.max_steps or schedule.phase(state.step) != phase_before
        if phase_ends or state.step % args.eval_every == 0:
            last_val = evaluate(model, val_loader, val_collator, state.step - 1, accelerator, args.eval_batches)
            record = {"step": state.step, "val_loss": last_val, "phase": phase_before, "phase_end": phase_ends}
            run_log.write(record)
            accelerator.log({"val_loss": last_val}, step=state.step)
        if state.step % args.save_every == 0 or state.step == args.max_steps:
            save_training_checkpoint(accelerator, output_dir, state, scheduler, schedule, settings,
                                     args.keep_checkpoints)
    progress.close()

    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        save_checkpoint(unwrapped, tokenizer, output_dir)
        info = _card_info(args, data, state, data_stats, schedule, unwrapped, last_val, output_dir,
                          accelerator.num_processes, accumulation, last_train_loss)
        info["limitations"] = [_resume_note(resume) for resume in state.resumed_with_changes]
        if parent is not None:
            info["training"] |= parent.lineage(state.tokens_seen)
            info["base_model"] = parent_source_for_card(parent.source)
        info["card_metadata"] = card_metadata(state.tokens_seen, parent)
        if len(val_data):  # the model and its card first: nothing computed after them can lose the run
            info["bits_per_base"] = {"unavailable": "the run stopped before the end-of-run bits per base"}
        render_pretrained_card(info).save(output_dir / "README.md")
        info["bits_per_base"] = _end_of_run_bits(unwrapped, tokenizer, train_data, val_data, data, run_log,
                                                 state.step)
        render_pretrained_card(info).save(output_dir / "README.md")
        if args.push_to_hub:
            push_model_folder(output_dir, args.hub_model_id or output_dir.name)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    accelerator.print(
        f"wrote {output_dir}: model, tokenizer, code, card (README.md), training_log.jsonl, checkpoints/. Next, "
        f"fine-tune it: randommask make-demo-task && randommask finetune --model {output_dir} "
        "--task outputs/phage-host --output_dir outputs/ft-demo")
    return output_dir


def _end_of_run_bits(model, tokenizer: KmerTokenizer, train_data, val_data, data: GenomeDataConfig, run_log: RunLog,
                     step: int) -> dict | None:
    """The card's bits per base (a bounded sample: seconds on any genome); one the data cannot give is reported in
    the log and the card instead, and the run still finishes."""
    try:
        return held_out_bits_per_base(model, tokenizer, train_data, val_data, window_tokens=data.max_length,
                                      seed=data.seed)
    except StatisticUnavailable as error:
        logger.warning("bits per base could not be computed: %s", error)
        run_log.write({"step": step, "event": "statistic_unavailable", "statistic": "bits_per_base",
                       "reason": str(error)})
        return {"unavailable": str(error)}


def _resume_note(resume: dict) -> str:
    return (f"Resumed at step {resume['step']} with changed settings ({format_changes(resume['changes'])}), "
            "accepted with "
            "--allow_resume_changes: training from that step on differs from an uninterrupted run.")


def _card_info(args: PretrainArguments, data: GenomeDataConfig, state: TrainingState, data_stats: dict,
               schedule, model, last_val, output_dir: Path, world_size: int, accumulation: int,
               last_train_loss: float | None = None) -> dict:
    """The model card's figures, every one taken from this run (``last_train_loss``: the last update's, for a run
    whose logged steps all lacked labels)."""
    config = model.config
    losses = read_training_log(output_dir).loss
    return {
        "model_name": output_dir.name,
        "repo_id": args.hub_model_id or output_dir.name,
        "architecture": {
            "preset": args.model_preset, "layers": config.num_hidden_layers, "hidden_size": config.hidden_size,
            "attention_heads": config.num_attention_heads, "intermediate_size": config.intermediate_size,
            "kmer_size": config.kmer_size, "kmer_stride": config.kmer_stride,
            "max_position_embeddings": config.max_position_embeddings,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "training_data": data_stats,
        "masking_schedule": schedule.to_dict(),
        "training": {
            "steps": state.step, "skipped_non_finite_steps": state.skipped_steps,
            "global_batch_size": args.per_device_train_batch_size * world_size * accumulation,
            "tokens_per_window": data.max_length, "learning_rate": args.learning_rate,
            "position_embedding_init": args.position_embedding_init,
            "tokens_seen": state.tokens_seen,
            "processes": world_size, "final_train_loss": float(losses[-1]) if losses.size else last_train_loss
            if last_train_loss is not None else NO_LOSS,
            "final_val_loss": last_val,
        },
    }
