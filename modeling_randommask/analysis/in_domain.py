"""In-domain pretraining: does a model pretrained on human DNA learn more than k-mer statistics?

Earlier runs pretrained on E. coli and fine-tuned on human and mouse tasks, so "too few tokens" could not be told
apart from "the wrong DNA". This study pretrains on one genome set (human by default) with several seeds per masking
(DNABERT's fixed span against RandomMask) at equal tokens, and asks two questions of the same checkpoints:

1. Bits per base on one contiguous held-out block (``val_seed`` fixes it for every seed), beside order-k Markov
   models fitted on exactly the pretraining bases, causal (k bases before) and two-sided (k bases around), all
   scored at the same positions.
2. Test MCC on labelled tasks at a few training-set sizes (pretraining should pay most where labels are few),
   against the same architecture from random weights (one per seed) and a 6-mer logistic regression on the same
   rows. Fine-tuning seed i runs on pretraining seed i, so the spread over seeds holds both sources of variance.

Every stage writes its results under ``output_dir`` with the settings it ran under (``stage_settings.json``, or
inside ``bits_per_base.json``), and a rerun reuses a finished stage only under equal settings: so it continues, and a
wider grid reuses the finished cells. A finished model or fine-tuning run under other settings is refused, naming
the stage and each setting (give another ``--output_dir``); bits per base, derived from the models, are measured
again. Every input (genome, tasks) is checked before the first stage. CPU time (``time.process_time``) is recorded
per stage: the budget reported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import numpy as np

from ..data.corpus_store import load_genome
from ..data.genome_windows import GenomeDataConfig, build_genome_datasets
from ..data.options import InputError, OptionError, check_distinct, check_output_folder, check_ranges
from ..data.output_files import write_whole
from ..data.tasks import find_split_file, load_task
from ..inference.bits_per_base import (
    fit_markov,
    from_datasets,
    markov_bits_per_base,
    markov_position_scores,
    model_position_scores,
    paired_difference,
    sample_positions,
)
from ..inference.loading import load_model
from ..masking.schedule import MaskingPreset
from ..tokenization import KmerTokenizer
from ..training.checkpoints import describe_change
from ..training.finetune_recipes import finetune_training_arguments
from ..training.finetuning import FinetuneArguments, FinetuneStageOptions
from ..training.pretrain_arguments import (
    BOOKKEEPING_OPTIONS,
    PretrainArguments,
    check_set_by_study,
    parse_with_pretraining,
)
from ..training.pretraining import pretrain
from ..training.run_log import read_training_log
from .baselines import finetune_with_tuned_rate, from_scratch_folder, kmer_on_task
from .benchmark import task_output_name

logger = logging.getLogger(__name__)

SHARED = "../shared/data"
HUMAN_GENOMES = [f"{SHARED}/genomes/{name}" for name in
                 ("human_chr22_20-21M.fa.gz", "human_mito_rCRS_NC_012920.fa.gz", "human_chr2_0-2.33M.fa.gz")]
HUMAN_TASKS = [f"{SHARED}/gue/{name}" for name in ("tf/0", "prom/prom_core_tata", "prom/prom_300_tata")]
SCRATCH = "scratch"  # the random-weights side, beside the masking presets
TASK_ONLY = "task-only"  # random weights pretrained on one task's training sequences alone
LABELS = {"dnabert": "DNABERT masking", "randommask": "RandomMask", SCRATCH: "random weights (from scratch)",
          TASK_ONLY: "task pretraining only (from random weights)"}
Stage = Literal["pretrain", "bits", "finetune"]
StudyPreset = Literal["cpu", "one-gpu-call"]


def continued_side(masking: str) -> str:
    """The side of ``masking``'s human-pretrained checkpoints continued on a task's training sequences."""
    return f"{masking}+task"


def side_label(side: str) -> str:
    masking = side.removesuffix("+task")
    return f"{LABELS.get(masking, masking)} + task pretraining" if side != masking else LABELS.get(side, side)


@dataclass
class InDomainArguments(FinetuneStageOptions):
    """What ``examples/in_domain.py`` adds to pretraining's options (``PretrainArguments`` and ``GenomeDataConfig``,
    the budget every run shares, parsed beside these with ``IN_DOMAIN_DEFAULTS``): the maskings and seeds, the
    Markov orders and the fine-tuning grid (tasks x label sizes)."""

    RENAMED_OPTIONS: ClassVar[dict[str, str]] = {  # docs/commands.md
        "--batch_size": "--per_device_train_batch_size", "--seeds": "--pretraining_seeds"}

    preset: StudyPreset = field(default="cpu", metadata={
        "help": "the study's defaults (options given explicitly still win): cpu (tiny model, 3 seeds, several "
                "tasks and label sizes) or one-gpu-call (mini model, one seed per masking and CPD tata at 300 "
                "labels, planned to fit 8 minutes of one H100; docs/baselines.md)"})

    tasks: list[str] = field(default_factory=lambda: list(HUMAN_TASKS), metadata={"help": "task folders"})
    # list[str] with choices: HfArgumentParser calls a list's item type on each value, and a Literal is no function
    maskings: list[str] = field(default_factory=lambda: ["dnabert", "randommask"], metadata={
        "choices": get_args(MaskingPreset), "help": "masking presets compared at equal tokens"})
    pretraining_seeds: list[int] = field(default_factory=lambda: [1, 2, 3], metadata={
        "help": "pretraining seeds; fine-tuning seed i runs on pretraining seed i (and on random weights of seed i)"})
    bits_positions: int = field(default=2000, metadata={"help": "held-out positions scored per model"})
    markov_orders: list[int] = field(default_factory=lambda: [3, 4, 5, 6, 7, 8])
    label_sizes: list[int] = field(default_factory=lambda: [300, 1000, 3000],
                                   metadata={"help": "training examples per fine-tuning run (a seeded subset)"})
    finetune_learning_rates: list[float] = field(default_factory=list, metadata={
        "help": "rates each fine-tuned model chooses from on dev (first seed); default: --finetune_learning_rate"})
    task_pretraining_steps: int = field(default=0, metadata={
        "help": "continued pretraining on each task's training sequences (never its labels, dev or test): steps per "
                "run, from each --task_pretraining_masking checkpoint (seed i from seed i) and from random weights; "
                "both are fine-tuned on that task beside the other models. 0: none"})
    task_pretraining_masking: str = field(default="randommask", metadata={
        "choices": get_args(MaskingPreset),
        "help": "the masking whose human-pretrained checkpoints are continued, and the masking of task pretraining"})
    stop_after: Stage = field(default="finetune", metadata={
        "help": "the last stage to run: pretrain (e.g. one process per masking on one --output_dir, to use several "
                "cores; then run again without it), bits (bits per base, no fine-tuning) or finetune (everything)"})
    compare_with: list[str] = field(default_factory=list, metadata={
        "help": "finished studies (their --output_dir) of other pretraining budgets: the report adds the curve of "
                "bits per base over the budgets, this study's among them"})

    def __post_init__(self):
        super().__post_init__()  # the fine-tuning stage's options
        check_ranges(self, positive=("bits_positions", "label_sizes", "finetune_learning_rates"),
                     non_negative=("pretraining_seeds", "task_pretraining_steps"))
        if not self.pretraining_seeds:
            raise ValueError("--pretraining_seeds needs at least one seed")
        check_distinct(self.pretraining_seeds, "--pretraining_seeds")
        if not self.maskings:
            raise ValueError("--maskings: name at least one masking preset")
        unknown = [masking for masking in self.maskings if masking not in get_args(MaskingPreset)]
        if unknown:
            raise ValueError(f"--maskings: unknown preset {unknown[0]!r}; choose from "
                             f"{', '.join(get_args(MaskingPreset))}")
        if not self.markov_orders or not all(1 <= order <= 9 for order in self.markov_orders):
            raise ValueError(f"--markov_orders: need orders in 1..9, got {self.markov_orders}")
        if self.task_pretraining_steps and self.task_pretraining_masking not in self.maskings:
            raise ValueError(f"--task_pretraining_masking {self.task_pretraining_masking}: not among --maskings "
                             f"{' '.join(self.maskings)}, so there is no checkpoint of it to continue")
        if self.task_pretraining_steps and not self.tasks:
            raise ValueError("--task_pretraining_steps: name the --tasks whose training sequences to pretrain on")
        if self.task_pretraining_steps:
            try:  # e.g. fewer steps than the curriculum's phases
                PretrainArguments(masking=self.task_pretraining_masking, max_steps=self.task_pretraining_steps)
            except ValueError as error:
                raise ValueError(f"--task_pretraining_steps {self.task_pretraining_steps}: {error}") from None


# The study's budget where it differs from pretraining's defaults (docs/baselines.md: In-domain pretraining): one
# contiguous held-out block, the same for every seed (val_seed), 64-token windows, sinusoidal positions.
IN_DOMAIN_DEFAULTS = {"genome": HUMAN_GENOMES, "output_dir": "outputs/in-domain", "max_length": 64, "max_steps": 600,
                      "warmup_steps": 50, "position_embedding_init": "sinusoidal", "val_fraction": 0.03, "val_seed": 0}
# The study on one lent GPU, whole in 8 minutes of an H100 (docs/baselines.md: A GPU study that fits one call): the
# mini model, 3,000 steps x 256 windows x 128 tokens = 98M tokens per masking in bf16 with 8 DataLoader workers, one
# seed each, bits per base on the same held-out block, CPD tata at 300 labels with the rate chosen on dev.
STUDY_PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {},
    "one-gpu-call": {"output_dir": "outputs/in-domain-gpu", "model_preset": "mini", "max_length": 128,
                     "per_device_train_batch_size": 256, "max_steps": 3000, "warmup_steps": 300,
                     "mixed_precision": "bf16", "num_workers": 8, "pretraining_seeds": [1],
                     "tasks": [f"{SHARED}/gue/prom/prom_core_tata"], "label_sizes": [300],
                     "finetune_learning_rates": [3e-4, 1e-3, 3e-3], "finetune_epochs": 10},
}
# Pretraining options the study sets per run.
SET_BY_STUDY = {"masking": "--maskings", "seed": "--pretraining_seeds", "tokenization": "overlapping 6-mers, as scored",
                "kmer_size": "overlapping 6-mers, as scored", "recipe": "the pretraining options",
                "eval_every": "a tenth of --max_steps", "save_every": "one checkpoint, at --max_steps",
                "resume_from_checkpoint": "a finished run is reused", "overwrite_output_dir": "a finished run is reused",
                "push_to_hub": "no upload"}


STAGE_FILE = "stage_settings.json"


class StageError(InputError, ValueError):
    """A stage found under the study's folder that cannot be reused: run under other settings, or damaged."""


def read_stage_json(path: Path, what: str) -> Any:
    """A JSON file a stage wrote, or ``StageError`` naming it when it is not JSON (a write cut short, an edit)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise StageError(f"{path}: not valid JSON ({error}; {what}): delete it to run that stage again") from None


def _as_json(settings: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(settings))


def stage_is_reusable(stage: str, record: Path, settings: dict[str, Any], finished: bool) -> bool:
    """Whether a finished stage can be reused: True under equal settings, False when it is not finished (it runs);
    ``StageError`` naming the stage and each differing setting (one per line) otherwise, or when a finished stage
    has no record of its settings (written before they were recorded)."""
    if not finished:
        return False
    hint = f"give another --output_dir for these settings, or delete {record.parent} to run it again"
    if not record.is_file():
        raise StageError(f"{record.parent}: {stage} is finished but {record.name}, the settings it ran under, is "
                         f"missing (written before they were recorded): {hint}")
    recorded, settings = read_stage_json(record, f"the settings {stage} ran under"), _as_json(settings)
    if recorded == settings:
        return True
    changed = sorted(key for key in recorded.keys() | settings.keys() if recorded.get(key) != settings.get(key))
    lines = "".join(f"\n  {describe_change(key, recorded.get(key), settings.get(key))}" for key in changed)
    raise StageError(f"{record}: {stage} was run with other settings:{lines}\nTo use these settings, {hint}")


def _write_stage_settings(folder: Path, settings: dict[str, Any]) -> None:
    write_whole(folder / STAGE_FILE, json.dumps(_as_json(settings), indent=1) + "\n")


@dataclass(frozen=True)
class Study:
    """The three option sets of one study, and the SHA-256 of its genome's content (stages compare it)."""

    args: InDomainArguments
    pretraining: PretrainArguments
    data: GenomeDataConfig
    genome_sha256: str = ""

    @property
    def output_dir(self) -> Path:
        return Path(self.pretraining.output_dir)

    def data_config(self, seed: int) -> GenomeDataConfig:
        return replace(self.data, seed=seed)

    def budget(self) -> dict[str, Any]:
        """The settings every pretraining run shares (bookkeeping options aside), the genome by content."""
        options = asdict(self.pretraining) | asdict(self.data)
        return {k: v for k, v in options.items() if k not in BOOKKEEPING_OPTIONS} | {"genome_sha256": self.genome_sha256}

    @property
    def tokens_per_run(self) -> int:
        p = self.pretraining
        return p.max_steps * (p.global_batch_size or p.per_device_train_batch_size) * self.data.max_length


def parse_in_domain_args(argv: list[str] | None = None) -> tuple[InDomainArguments, PretrainArguments,
                                                                   GenomeDataConfig]:
    """The study's options beside pretraining's, its budget (``--preset``'s) as defaults."""
    return parse_with_pretraining(InDomainArguments, argv, IN_DOMAIN_DEFAULTS, SET_BY_STUDY, STUDY_PRESETS)


class _Costs:
    """CPU seconds per stage, kept in ``costs.json`` so that skipped (finished) stages keep their measured cost."""

    def __init__(self, path: Path):
        self.path = path
        self.seconds: dict[str, float] = read_stage_json(path, "CPU seconds per stage") if path.is_file() else {}

    def run(self, stage: str, work, *args, **kwargs):
        start = time.process_time()
        result = work(*args, **kwargs)
        self.record(stage, time.process_time() - start)
        return result

    def record(self, stage: str, seconds: float) -> None:
        """Add one stage's cost to the file as it is now: another process running stages of the same study (other
        seeds or maskings) keeps its entries."""
        on_disk = read_stage_json(self.path, "CPU seconds per stage") if self.path.is_file() else {}
        self.seconds = on_disk | self.seconds | {stage: seconds}
        write_whole(self.path, json.dumps(self.seconds, indent=1) + "\n")


def _pretrain(study: Study, masking: str, seed: int, settings: dict[str, Any]) -> Path:
    steps = study.pretraining.max_steps
    options = replace(study.pretraining, output_dir=str(study.output_dir / "pretrain" / f"{masking}-seed{seed}"),
                      masking=masking, eval_every=max(steps // 10, 1), save_every=steps, overwrite_output_dir=True)
    folder = pretrain(options, study.data_config(seed))
    _write_stage_settings(folder, settings)
    return folder


def _finished(folder: Path) -> bool:
    return (folder / "model.safetensors").is_file() and (folder / "README.md").is_file()


def pretrained_models(study: Study, costs: _Costs) -> dict[str, dict[int, Path]]:
    """``{side: {seed: folder}}`` for every masking and for random weights of the same architecture."""
    args = study.args
    models: dict[str, dict[int, Path]] = {}
    for masking in args.maskings:
        for seed in args.pretraining_seeds:
            folder = study.output_dir / "pretrain" / f"{masking}-seed{seed}"
            stage, settings = f"pretrain {masking} seed {seed}", study.budget() | {"masking": masking, "seed": seed}
            if not stage_is_reusable(stage, folder / STAGE_FILE, settings, _finished(folder)):
                costs.run(stage, _pretrain, study, masking, seed, settings)
            models.setdefault(masking, {})[seed] = folder
    first = next(iter(models.values()))[args.pretraining_seeds[0]]
    models[SCRATCH] = {seed: from_scratch_folder(first, study.output_dir / "pretrain" / f"{SCRATCH}-seed{seed}",
                                                 study.pretraining.position_embedding_init, seed=seed)
                       for seed in args.pretraining_seeds}
    return models


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _task_pretrain(study: Study, task: str, parent: Path | None, folder: Path, seed: int,
                   settings: dict[str, Any]) -> Path:
    """One run on ``task``'s training split alone (its sequence column, short records padded to a window), from
    ``parent``'s weights or, without one, from random weights initialised as the study's runs are."""
    args, steps = study.args, study.args.task_pretraining_steps
    options = replace(study.pretraining, output_dir=str(folder), masking=args.task_pretraining_masking,
                      max_steps=steps, warmup_steps=steps // 10, eval_every=max(steps // 10, 1), save_every=steps,
                      overwrite_output_dir=True, model_name_or_path=None if parent is None else str(parent),
                      **({"position_embedding_init": "normal"} if parent else {}))  # a parent keeps its own
    data = replace(study.data_config(seed), genome=[], train_file=[task], short_records="pad")
    pretrain(options, data)
    _write_stage_settings(folder, settings)
    return folder


def task_pretrained_models(study: Study, models: dict[str, dict[int, Path]],
                           costs: _Costs) -> dict[str, dict[str, dict[int, Path]]]:
    """``{task: {side: {seed: folder}}}``: each task's training sequences pretrained on for
    ``task_pretraining_steps``, continuing ``task_pretraining_masking``'s checkpoint of each seed and from random
    weights of that seed (empty without task pretraining)."""
    args = study.args
    if not args.task_pretraining_steps:
        return {}
    masking, by_task = args.task_pretraining_masking, {}
    for task in args.tasks:
        name, train_file = task_output_name(Path(task)), find_split_file(task, "train")
        if train_file is None:
            raise InputError(f"--task_pretraining_steps: {task} has no train split to pretrain on")
        task_settings = study.budget() | {"task": task, "train_sha256": _file_sha256(train_file), "masking": masking,
                                          "steps": args.task_pretraining_steps}
        starts = ((continued_side(masking), models[masking]), (TASK_ONLY, dict.fromkeys(args.pretraining_seeds)))
        for side, parents in starts:
            for seed in args.pretraining_seeds:
                folder = study.output_dir / "task-pretrain" / name / f"{side}-seed{seed}"
                stage = f"task pretrain {name} {side} seed {seed}"
                settings = task_settings | {"side": side, "seed": seed}
                if not stage_is_reusable(stage, folder / STAGE_FILE, settings, _finished(folder)):
                    costs.run(stage, _task_pretrain, study, task, parents[seed], folder, seed, settings)
                by_task.setdefault(task, {}).setdefault(side, {})[seed] = folder
    return by_task


def validation_losses(models: dict[str, dict[int, Path]]) -> dict[str, dict[int, list[list[float]]]]:
    """Each pretrained run's validation loss under its own masking, ``[[step, nats], ...]`` from its training
    log: where DNABERT masking finds the overlap shortcut (a hidden 6-mer is read off its neighbours), its loss falls
    far below RandomMask's."""
    return {side: {seed: [[int(step), float(loss)] for step, loss in zip(curve.val_steps, curve.val_loss)]
                   for seed, folder in by_seed.items() for curve in [read_training_log(folder)]}
            for side, by_seed in models.items() if side != SCRATCH}


def bits_per_base_study(study: Study, models: dict[str, dict[int, Path]]) -> dict[str, Any]:
    """Every model and every Markov model (each order, both contexts) at the same held-out positions; the
    Markov models are fitted on the training stretches, exactly the bases pretraining drew its windows from. Each
    model is also compared position by position (the mean difference in bits and its standard error) with the best
    two-sided Markov model (``vs_markov``; chosen on these positions, which can only favour it) and with the first
    masking's model of the same seed (``vs_reference_masking``)."""
    args = study.args
    tokenizer = KmerTokenizer(k=6)
    train, val, _ = build_genome_datasets(study.data_config(args.pretraining_seeds[0]), tokenizer)
    held_out, stretches = from_datasets(train, val)
    positions = sample_positions(held_out, args.bits_positions, seed=study.data.val_seed,
                                 margin=max(args.markov_orders))
    fitted = {order: fit_markov(held_out.sequences.sequence, stretches, order) for order in args.markov_orders}
    markov = {order: markov_bits_per_base(fitted[order], held_out, positions) for order in fitted}
    best = min(markov, key=lambda order: markov[order]["centred"]["bits_per_base"])
    two_sided_best = markov_position_scores(fitted[best], held_out, positions, "centred")
    scores = {(side, seed): model_position_scores(*load_model(folder), held_out, positions,
                                                  window_tokens=study.data.max_length)
              for side, by_seed in models.items() for seed, folder in by_seed.items()}
    first = args.maskings[0]
    scored = {}
    for (side, seed), these in scores.items():
        scored.setdefault(side, {})[seed] = these.summary() | {
            "vs_markov": paired_difference(these, two_sided_best),
            **({"vs_reference_masking": paired_difference(these, scores[first, seed])} if side != first else {})}
    blocks = [(int(s), int(e)) for s, e in zip(held_out.starts, held_out.ends)]
    return {"settings": _bits_settings(study), "held_out": held_out.description, "held_out_blocks": blocks, "positions": int(positions.size),
            "training_bases": int((stretches[1] - stretches[0]).sum()),
            "markov": markov, "markov_reference": {"order": best, "context": "centred",
                                                   "label": markov[best]["centred"]["label"]},
            "reference_masking": first, "models": scored}


def _bits_settings(study: Study) -> dict[str, Any]:
    args = study.args
    return _as_json({"budget": study.budget(), "maskings": args.maskings, "seeds": args.pretraining_seeds,
                     "bits_positions": args.bits_positions, "markov_orders": args.markov_orders})


def finetune_study(study: Study, models: dict[str, dict[int, Path]], costs: _Costs,
                   task_models: dict[str, dict[str, dict[int, Path]]]) -> list[dict]:
    """One row per (task, label size): each model (and the task's own task-pretrained models) fine-tuned with its
    own seed, and the 6-mer logistic regression on the same training rows. With ``finetune_learning_rates`` each
    side chooses its rate on dev with its first seed, and its other seeds run at that rate. Label sizes run smallest
    first, so a cut-short run still holds whole rows."""
    args, rows = study.args, []
    for size in sorted(args.label_sizes):
        for task in args.tasks:
            name = task_output_name(Path(task))
            row = {"task": name, "train_examples": size, "sides": {}}
            for side, by_seed in (models | task_models.get(task, {})).items():
                rates = args.finetune_learning_rates
                for seed, folder in by_seed.items():
                    out = study.output_dir / "finetune" / name / f"n{size}" / f"{side}-seed{seed}"
                    done = out / "results.json"
                    stage = f"finetune {name} n{size} {side} seed {seed}"
                    rate = rates[0] if len(rates) == 1 else args.finetune_learning_rate
                    settings = {"budget": study.budget(), "model": f"{side} seed {seed}", "task": task,
                                **({"task_pretraining_steps": args.task_pretraining_steps}
                                   if task in task_models and side in task_models[task] else {}),
                                "train_examples": size, "learning_rate": rate,
                                "learning_rates": rates if len(rates) > 1 else [], "epochs": args.finetune_epochs,
                                "batch_size": args.finetune_batch_size}
                    if not stage_is_reusable(stage, out / STAGE_FILE, settings, done.is_file()):
                        costs.run(stage, finetune_with_tuned_rate,
                                  FinetuneArguments(model=str(folder), task=task, seeds=[seed],
                                                    max_train_samples=size, overwrite_output_dir=True),
                                  finetune_training_arguments(
                                      task, output_dir=str(out), learning_rate=rate,
                                      num_train_epochs=args.finetune_epochs,
                                      per_device_train_batch_size=args.finetune_batch_size),
                                  rates if len(rates) > 1 else ())
                        _write_stage_settings(out, settings)
                    result = read_stage_json(done, f"the results of {stage}")
                    rate = result["hyper_parameters"]["learning_rate"]
                    rates = [rate]  # the side's other seeds run at the rate its first seed chose
                    row["sides"].setdefault(side, []).append(
                        {"seed": seed, "test_mcc": result["test"]["mcc"]["mean"], "dev_mcc": result["dev"]["mcc"]["mean"],
                         "learning_rate": rate})
            kmer = kmer_on_task(load_task(task), size)
            row["kmer"] = {"test_mcc": kmer["test"]["mcc"], "dev_mcc": kmer["dev"]["mcc"]}
            rows.append(row)
    return rows


def _mean_std(values: list[float], scale: float = 1.0, digits: int = 3, sign: bool = False) -> str:
    """Mean ± sample standard deviation (0 for one value); ``sign`` writes + before a positive mean."""
    values = scale * np.asarray(values, dtype=float)
    spread = values.std(ddof=1) if values.size > 1 else 0.0
    return f"{values.mean():{'+' if sign else ''}.{digits}f} ± {spread:.{digits}f}"


def _paired(runs: list[dict], key: str) -> str:
    """A paired difference over seeds: mean ± std of the runs' differences, then (SE) the largest per-seed standard
    error over positions; "-" for runs without it."""
    if key not in runs[0]:
        return "-"
    return (f"{_mean_std([r[key]['difference'] for r in runs], sign=True)} "
            f"(SE {max(r[key]['standard_error'] for r in runs):.3f})")


def pretrain_minutes(cpu_seconds: dict[str, float], maskings: list[str], seeds: list[Any]) -> dict[str, float]:
    """CPU-minutes per pretraining run of each masking, the mean over its seeds (NaN for a cost not recorded)."""
    return {masking: np.mean([cpu_seconds.get(f"pretrain {masking} seed {seed}", np.nan) for seed in seeds]) / 60
            for masking in maskings}


def bits_table(bits: dict[str, Any], cpu_minutes: dict[str, float], tokens: int) -> str:
    """Models (mean ± sample std over seeds) and Markov models, all at the same held-out positions. A model's
    paired differences (to the best two-sided Markov model, to the first masking) are their mean over seeds ± their
    std, then (SE) the largest per-seed standard error over positions."""
    reference = LABELS.get(bits["reference_masking"], bits["reference_masking"])
    lines = [(f"| predictor | bits per base | accuracy | vs {bits['markov_reference']['label']} (bits) | "
              f"vs {reference} (bits) | pretraining tokens | CPU-min per run |"), "|---|---:|---:|---:|---:|---:|---:|"]

    for side, by_seed in bits["models"].items():
        runs = list(by_seed.values())
        cost = f"{cpu_minutes[side]:.1f}" if side in cpu_minutes else "-"
        lines.append(f"| {LABELS.get(side, side)} ({len(runs)} seeds) | {_mean_std([r['bits_per_base'] for r in runs])} | "
                     f"{_mean_std([r['accuracy'] for r in runs])} | {_paired(runs, 'vs_markov')} | "
                     f"{_paired(runs, 'vs_reference_masking')} | {tokens if side != SCRATCH else 0:,} | {cost} |")
    for order, result in ((int(order), result) for order, result in bits["markov"].items()):
        for context in ("left", "centred"):
            before = order if context == "left" else order // 2
            label = (f"order-{order} Markov, causal ({order} before)" if context == "left" else
                     f"order-{order} Markov, two-sided ({before} before, {order - before} after)")
            lines.append(f"| {label} | {result[context]['bits_per_base']:.3f} | {result[context]['accuracy']:.3f} | - | - | "
                         f"{result['fitted_kmers']:,} k-mers | - |")
    return "\n".join(lines)


def mcc_table(rows: list[dict]) -> str:
    """Test MCC x 100 per (task, label size): each side's mean ± sample std over its seeds at its learning rate, and
    the k-mer model ("-" for a side a task does not have)."""
    sides = list(dict.fromkeys(side for row in rows for side in row["sides"]))  # task-pretrained sides per task
    lines = ["| task | training examples | " + " | ".join(map(side_label, sides)) + " | 6-mer logistic regression |",
             "|---|---:|" + "---:|" * (len(sides) + 1)]
    for row in rows:
        cells = [f"{_mean_std([r['test_mcc'] for r in runs], 100, 1)} (lr {runs[0]['learning_rate']:g})" if runs
                 else "-" for runs in (row["sides"].get(side, []) for side in sides)]
        lines.append(f"| {row['task']} | {row['train_examples']:,} | " + " | ".join(cells)
                     + f" | {100 * row['kmer']['test_mcc']:.1f} |")
    return "\n".join(lines)


def validation_loss_table(losses: dict[str, dict[Any, list[list[float]]]]) -> str:
    """Validation loss (nats, under each run's own masking) at each evaluated step: mean ± std over seeds."""
    sides = list(losses)
    steps = [step for step, _ in next(iter(losses[sides[0]].values()))]
    lines = ["| step | " + " | ".join(LABELS.get(s, s) for s in sides) + " |", "|---:|" + "---:|" * len(sides)]
    for index, step in enumerate(steps):
        cells = [_mean_std([run[index][1] for run in by_seed.values()], digits=2) for by_seed in losses.values()]
        lines.append(f"| {step:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def read_study(folder: str | Path) -> dict[str, Any]:
    """A finished study's ``results.json`` (with bits per base), for the curve over budgets."""
    path = Path(folder) / "results.json"
    if not path.is_file():
        raise InputError(f"--compare_with {folder}: no results.json (not a finished study folder)")
    report = read_stage_json(path, "a finished study's results")
    report = report if isinstance(report, dict) else {}
    bits = report.get("bits_per_base") if isinstance(report.get("bits_per_base"), dict) else {}
    missing = ([key for key in ("settings", "tokens_per_run", "cpu_seconds", "validation_loss") if key not in report]
               + [f"bits_per_base.{key}" for key in ("models", "held_out_blocks", "positions", "markov_reference",
                                                     "reference_masking") if key not in bits])
    if missing:
        raise StageError(f"{path}: no {', '.join(missing)} (not a study finished by this version): --compare_with "
                         "needs its bits per base and validation losses; run that study's command again")
    return report


def curve_table(reports: list[dict[str, Any]]) -> str:
    """Bits per base by pretraining budget: one row per study (each budget its own runs and schedule), mean ± std
    over seeds of each masking, the paired differences (SE: the largest per-seed one) and the last validation loss
    under each run's own masking. Studies on another held-out block, positions or Markov reference are refused."""
    reports = sorted(reports, key=lambda r: r["tokens_per_run"])
    first = reports[0]["bits_per_base"]
    same = ("held_out_blocks", "positions", "markov_reference", "reference_masking")
    for report in reports[1:]:
        differ = [key for key in same if report["bits_per_base"][key] != first[key]]
        if differ:
            raise StageError(f"--compare_with: {report['settings']['pretraining']['output_dir']} differs from "
                             f"{reports[0]['settings']['pretraining']['output_dir']} in {', '.join(differ)}: not one "
                             "curve")
    maskings, reference = list(first["models"]), first["reference_masking"]
    maskings = [m for m in maskings if m != SCRATCH]
    others = [m for m in maskings if m != reference]

    header = (["pretraining steps", "tokens per run", "seeds", "CPU-min per run"]
              + [f"{LABELS[m]}, bits" for m in maskings]
              + [f"{LABELS[m]} − {LABELS[reference]}" for m in others]
              + [f"{LABELS[m]} − Markov" for m in maskings]
              + [f"last validation loss, {LABELS[m]} (nats)" for m in maskings])
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for report in reports:
        models, costs = report["bits_per_base"]["models"], report["cpu_seconds"]
        minutes = pretrain_minutes(costs, maskings, list(models[reference])).values()
        last_loss = [_mean_std([runs[-1][1] for runs in report["validation_loss"][m].values()], digits=2)
                     for m in maskings]
        cells = ([f"{report['settings']['pretraining']['max_steps']:,}", f"{report['tokens_per_run']:,}",
                  str(len(models[reference])), " / ".join(f"{m:.1f}" for m in minutes)]
                 + [_mean_std([r["bits_per_base"] for r in models[m].values()]) for m in maskings]
                 + [_paired(list(models[m].values()), "vs_reference_masking") for m in others]
                 + [_paired(list(models[m].values()), "vs_markov") for m in maskings] + last_loss)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def in_domain(args: InDomainArguments, pretraining: PretrainArguments | None = None,
              data: GenomeDataConfig | None = None) -> dict[str, Any]:
    """Run (or continue) the study; write ``results.json`` and ``report.md`` into ``pretraining.output_dir``.
    ``pretraining`` and ``data`` are the budget every run shares (default: ``IN_DOMAIN_DEFAULTS``)."""
    pretraining = pretraining or PretrainArguments(**_defaults_of(PretrainArguments))
    data = data or GenomeDataConfig(**_defaults_of(GenomeDataConfig))
    check_set_by_study((pretraining, data), IN_DOMAIN_DEFAULTS, SET_BY_STUDY)
    output_dir = check_output_folder(pretraining.output_dir)
    check_tasks(args.tasks)
    genome = load_genome(data.genome_paths(), data.corpus_dir, data.corpus_store)  # checked before any stage
    study = Study(args, pretraining, data, genome.content_hash())
    earlier = [read_study(folder) for folder in args.compare_with]  # checked before any stage
    output_dir.mkdir(parents=True, exist_ok=True)
    costs = _Costs(output_dir / "costs.json")
    models = pretrained_models(study, costs)
    task_models = task_pretrained_models(study, models, costs)
    if args.stop_after == "pretrain":
        return {"stopped_after": "pretrain", "cpu_seconds": costs.seconds}
    bits_file = output_dir / "bits_per_base.json"  # the same models and held-out block: measured once
    bits = read_stage_json(bits_file, "bits per base") if bits_file.is_file() else {}
    if bits.get("settings") != _bits_settings(study):  # absent, or measured under other settings: measured again
        if bits:
            logger.warning("%s: measured under other settings (or before they were recorded): measuring again",
                           bits_file)
        write_whole(bits_file, json.dumps(costs.run("bits per base", bits_per_base_study, study, models), indent=1))
        bits = read_stage_json(bits_file, "bits per base")  # as a rerun reads it (JSON keys)
    run_finetuning = args.stop_after == "finetune" and args.tasks and args.label_sizes
    rows = finetune_study(study, models, costs, task_models) if run_finetuning else []
    minutes = pretrain_minutes(costs.seconds, args.maskings, args.pretraining_seeds)
    report = {"settings": asdict(args) | {"pretraining": asdict(pretraining), "data": asdict(data)},
              "tokens_per_run": study.tokens_per_run, "bits_per_base": bits,
              "validation_loss": _as_json(validation_losses({m: models[m] for m in args.maskings})),
              "finetune": rows, "cpu_seconds": costs.seconds,
              "cpu_minutes_total": sum(costs.seconds.values()) / 60}
    report["tables"] = {"bits_per_base": bits_table(bits, minutes, study.tokens_per_run),
                        "validation_loss": validation_loss_table(report["validation_loss"]),
                        "curve": curve_table(earlier + [report]) if earlier else None,
                        "mcc": mcc_table(rows) if rows else None}
    write_whole(output_dir / "results.json", json.dumps(report, indent=1) + "\n")
    write_whole(output_dir / "report.md", render_report(report))
    return report


def check_tasks(tasks: list[str]) -> None:
    """Every task folder read (errors name the file and line) and their result names distinct, before the first
    stage: a bad task found after hours of pretraining is hours lost."""
    names: dict[str, str] = {}
    for task in tasks:
        load_task(task)
        name = task_output_name(Path(task))
        if name in names:
            raise OptionError(f"--tasks: {names[name]} and {task} would share the results folder {name}")
        names[name] = task


def _defaults_of(kind: type) -> dict[str, Any]:
    """The study's defaults that belong to ``kind``'s fields."""
    return {name: value for name, value in IN_DOMAIN_DEFAULTS.items() if name in kind.__dataclass_fields__}


def render_report(report: dict[str, Any]) -> str:
    s = report["settings"]
    pre, data, bits = s["pretraining"], s["data"], report["bits_per_base"]
    budget = (f"{pre['model_preset']} model, {pre['max_steps']:,} steps x {pre['per_device_train_batch_size']} windows "
              f"x {data['max_length']} tokens = {report['tokens_per_run']:,} tokens per run, lr "
              f"{pre['learning_rate']:g}, seeds {s['pretraining_seeds']}; "
              f"fine-tuning lr {s['finetune_learning_rates'] or s['finetune_learning_rate']}, {s['finetune_epochs']:g} "
              f"epochs, batch {s['finetune_batch_size']}; {report['cpu_minutes_total']:.1f} CPU-minutes in all")
    parts = ["# In-domain pretraining", f"Budget: {budget}.",
             (f"## Bits per base on {bits['held_out']} (blocks {bits['held_out_blocks']}), {bits['positions']:,} "
              f"positions; Markov models fitted on the {bits['training_bases']:,} training bases"),
             report["tables"]["bits_per_base"]]
    parts += ["## Validation loss under each run's own masking (nats, mean ± std over seeds)",
              report["tables"]["validation_loss"]]
    if report["tables"]["curve"]:
        parts += ["## Bits per base by pretraining budget (each budget its own runs)", report["tables"]["curve"]]
    if report["tables"]["mcc"]:
        task = (f"; task pretraining: {s['task_pretraining_steps']:,} steps per run on each task's training "
                f"sequences ({s['task_pretraining_masking']})" if s["task_pretraining_steps"] else "")
        parts += [f"## Test MCC x 100 (mean ± std over seeds{task})", report["tables"]["mcc"]]
    return "\n\n".join(parts) + "\n"
