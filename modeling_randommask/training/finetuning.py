"""Fine-tune a RandomMask checkpoint on one labelled task with transformers' Trainer, over one or more seeds.

Options come in two dataclasses parsed side by side: ``FinetuneArguments`` (this package's: model, task,
tokenization, seeds, LoRA, ...) and transformers' ``TrainingArguments`` (every Trainer option: batch, learning
rate, bf16, accumulation, schedulers, trackers, DeepSpeed, push_to_hub ...). The paper's recipe for the task's
family fills only the ``TrainingArguments`` options the user did not give (``finetune_training_arguments``).

Model selection is on dev (best evaluation by ``metric_for_best_model``, default the task's primary metric, MCC or
Pearson r; then the best seed); the reported figures are on test. ``tokenization`` re-tokenizes at fine-tuning
time whatever the pretraining used (the paper's Table 2): the k-mer embeddings are indexed by k-mer whatever the
stride, so only the tokenizer and ``config.kmer_stride`` change. With ``lora_r > 0`` the attention projections
get LoRA adapters (peft) and the head is trained fully; the adapters are merged before saving, so the model folder
loads without peft. Token-level tasks (a label per base) fine-tune ``RandomMaskForTokenClassification`` with the
base <-> token rule of ``data.base_labels`` and are scored per base.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import os
import statistics
import sys
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from accelerate import PartialState
from transformers import (
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    PreTrainedModel,
    Trainer,
    TrainingArguments,
    enable_full_determinism,
    set_seed,
)
from transformers.utils import logging as hf_logging

from ..configuration_randommask import ClassifierPooling, RandomMaskConfig
from ..data.base_labels import BaseAlignment
from ..data.gue import resolve_task
from ..data.options import (
    OptionError,
    check_distinct,
    check_output_folder,
    check_ranges,
    options_parser,
    parse_with,
)
from ..data.output_files import partial_folder, write_whole
from ..data.strides import kmer_stride_of, tokenization_name
from ..data.tasks import TaskData, build_datasets, load_task, task_folder, train_subset
from ..evaluation.metrics import PRIMARY_METRIC, compute_metrics, metric_names
from ..hub.checkpoint import save_checkpoint
from ..hub.model_card import render_finetuned_card, task_info
from ..hub.model_source import check_loaded_weights, load_model_config
from ..hub.upload import push_model_folder
from ..modeling_randommask import RandomMaskForSequenceClassification, RandomMaskForTokenClassification
from ..tokenization import KmerTokenizer
from .finetune_recipes import finetune_training_arguments, task_recipe, training_devices
from .output_lock import locks_output_dir

logger = logging.getLogger(__name__)

FinetuneTokenization = Literal["pretrained", "overlapping", "non_overlapping"]
LORA_TARGETS = ["query", "key", "value"]
"""The modules LoRA adapts: every attention layer's query, key and value projections."""


@dataclass
class FinetuneOptions:
    """How a model is fine-tuned, whatever the task: what ``benchmark_gue`` applies to each of its tasks."""

    model: str = field(metadata={"help": "pretrained RandomMask folder or Hub id"})
    tokenization: FinetuneTokenization = field(default="pretrained", metadata={
        "help": "the checkpoint's own, or re-tokenize at fine-tuning time (the paper's Table 2)"})
    seeds: list[int] | None = field(default=None, metadata={
        "help": "one fine-tuning run per seed; the figures are means over seeds, the weights the best seed's on "
                "dev (default: one run with --seed)"})
    pooling: ClassifierPooling | None = field(default=None, metadata={
        "help": "sequence summary (default: the checkpoint's)"})
    label_columns: list[str] = field(default_factory=lambda: ["label"])
    missing_train: Literal["error", "use_dev"] = field(default="error", metadata={
        "help": "error, or use_dev: train on dev when a task ships no train split (no model selection then)"})
    max_train_samples: int | None = field(default=None, metadata={"help": "subsample train (quick runs)"})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "replace an earlier run's results"})
    lora_r: int = field(default=0, metadata={
        "help": "LoRA rank on the attention projections (query, key, value), head trained fully; 0: full "
                "fine-tuning. Needs peft: pip install 'randommask[peft]'"})
    lora_alpha: float = field(default=16.0, metadata={"help": "LoRA scaling numerator (updates scaled by alpha/r)"})
    lora_dropout: float = field(default=0.1, metadata={"help": "dropout on the LoRA branch's input"})

    def __post_init__(self):
        check_ranges(self, positive=("max_train_samples", "lora_alpha"), non_negative=("seeds", "lora_r", "lora_dropout"))
        if self.seeds is not None and not self.seeds:
            raise ValueError("--seeds needs at least one seed")
        check_distinct(self.seeds, "--seeds")
        if self.lora_dropout >= 1:
            raise ValueError(f"--lora_dropout must be < 1, got {self.lora_dropout}")

    def on_task(self, task: str | os.PathLike) -> FinetuneArguments:
        """These options for fine-tuning on ``task``."""
        return FinetuneArguments(**{f.name: getattr(self, f.name) for f in fields(FinetuneOptions)}, task=str(task))


@dataclass
class FinetuneArguments(FinetuneOptions):
    """This package's options of ``examples/finetune.py``; the Trainer's are ``TrainingArguments``'."""

    task: str | None = field(default=None, metadata={"help": "task folder with train/dev/test .csv/.tsv(.gz)"})

    def load_task(self) -> TaskData:
        """``--task`` read with ``--label_columns`` (one column: single-label) and ``--missing_train``."""
        columns = self.label_columns[0] if len(self.label_columns) == 1 else self.label_columns
        return load_task(self.task, label_columns=columns, missing_train=self.missing_train)


@dataclass(kw_only=True)
class FinetuneStageOptions:
    """The fine-tuning stage of a command that pretrains models and fine-tunes each (reproduce, in_domain): one
    recipe for every model, so the comparison is at equal fine-tuning. ``finetune_``-prefixed, since pretraining's
    options own the plain names. Keyword-only, so that a command's own required options keep their positions."""

    finetune_learning_rate: float = field(default=1e-3, metadata={"help": "fine-tuning's peak learning rate"})
    finetune_epochs: float = field(default=3.0, metadata={"help": "fine-tuning epochs over each task's training set"})
    finetune_batch_size: int = field(default=32, metadata={
        "help": "fine-tuning's batch per device (examples per step on one device)"})

    def __post_init__(self) -> None:
        check_ranges(self, positive=("finetune_learning_rate", "finetune_epochs", "finetune_batch_size"))


@dataclass
class SeedResult:
    seed: int
    dev: dict[str, float]
    test: dict[str, float]
    optimizer_steps: int
    seconds_per_epoch: float
    trainable_parameters: int


_NOT_GIVEN = object()
"""The default ``given_options`` sets to tell an option left out from one given (not a string: argparse converts
string defaults with the option's type)."""


def given_options(parser: argparse.ArgumentParser, argv: list[str], dataclass_type: type) -> dict[str, Any]:
    """The options of ``dataclass_type`` that ``argv`` gives explicitly, converted by ``parser`` (which must already
    have parsed ``argv`` once: its defaults are replaced here). Defaults are left out, so they can come from a
    recipe; abbreviations are refused by the parser, so no option can hide under another spelling."""
    names = {f.name for f in fields(dataclass_type) if f.init}
    parser.set_defaults(**dict.fromkeys(names, _NOT_GIVEN))
    namespace, _ = parser.parse_known_args(argv)
    return {name: value for name, value in vars(namespace).items() if name in names and value is not _NOT_GIVEN}


def check_trainer_ranges(training_args: TrainingArguments) -> None:
    """The Trainer options transformers accepts out of range (a zero learning rate or batch trains nothing)."""
    check_ranges(training_args, positive=("learning_rate", "per_device_train_batch_size", "per_device_eval_batch_size",
                                          "num_train_epochs", "gradient_accumulation_steps"),
                 non_negative=("warmup_steps", "weight_decay"))
    if training_args.max_steps != -1 and training_args.max_steps < 1:
        raise ValueError(f"--max_steps must be >= 1, or -1 (the epochs decide), got {training_args.max_steps}")


UNSUPPORTED_TRAINER_OPTIONS = {
    "resume_from_checkpoint": "fine-tuning does not resume (one run per seed, each minutes long, with the best "
                              "dev evaluation kept in memory): rerun the command with --overwrite_output_dir",
}
"""``TrainingArguments`` options that ``Trainer`` reads only when the caller passes them on (``trainer.train(
resume_from_checkpoint=...)``) and that fine-tuning does not: hidden from ``--help`` and refused, never ignored."""


def parse_with_trainer_options(dataclass_types: tuple[type, ...], argv: list[str] | None = None
                               ) -> tuple[list[Any], dict[str, Any]]:
    """Parse ``argv`` (default: the command line) into ``dataclass_types`` (``FinetuneOptions`` or
    ``FinetuneArguments`` among them) and ``TrainingArguments``, abbreviations refused (a ``ValueError`` is a usage
    error); return the former and the ``TrainingArguments`` options given explicitly, for
    ``finetune_training_arguments`` to lay over a recipe. ``UNSUPPORTED_TRAINER_OPTIONS`` are usage errors."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = options_parser((*dataclass_types, TrainingArguments))
    for action in parser._actions:
        if action.dest in UNSUPPORTED_TRAINER_OPTIONS:
            action.help = argparse.SUPPRESS

    *parsed, _ = parse_with(parser, argv, check=lambda dataclasses: check_trainer_ranges(dataclasses[-1]))
    options = given_options(parser, argv, TrainingArguments)
    for name in sorted(UNSUPPORTED_TRAINER_OPTIONS.keys() & options.keys()):
        parser.error(f"--{name}: {UNSUPPORTED_TRAINER_OPTIONS[name]}")
    args = next(p for p in parsed if isinstance(p, FinetuneOptions))
    if args.seeds is not None and "seed" in options:
        parser.error("give --seed (one run) or --seeds (one run per seed), not both")
    return parsed, options


def parse_finetune_args(argv: list[str] | None = None) -> tuple[FinetuneArguments, TrainingArguments]:
    """The options of ``examples/finetune.py``: the Trainer options given explicitly laid over the paper's recipe
    for ``--task`` (``finetune_training_arguments``)."""
    (args,), options = parse_with_trainer_options((FinetuneArguments,), argv)
    return args, finetune_training_arguments(args.task, **options)


def summarise(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation over seeds (std 0 for one seed), NaNs left out."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return {"mean": float("nan"), "std": float("nan"), "n": 0}
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return {"mean": statistics.fmean(finite), "std": std, "n": len(finite)}


def check_selection_options(training_args: TrainingArguments) -> None:
    """Refuse saving and evaluation options under which the best evaluation on dev cannot be kept."""
    if training_args.eval_strategy != "no":
        try:  # the selection finetune() adds (_selection), with the given saving and evaluation
            replace(training_args, load_best_model_at_end=True,
                    metric_for_best_model=training_args.metric_for_best_model or "loss")
        except ValueError as error:
            raise OptionError(
                f"--save_strategy {training_args.save_strategy.value} with --eval_strategy "
                f"{training_args.eval_strategy.value}: fine-tuning keeps the best evaluation on dev "
                f"(load_best_model_at_end), which transformers refuses here ({' '.join(str(error).split())}); keep "
                "--save_strategy best (the default) or match --eval_strategy, or pass --eval_strategy no to keep "
                "the last epoch") from None


def _check_options(args: FinetuneArguments, training_args: TrainingArguments) -> None:
    """Refuse bad options before any file is written."""
    if args.task is None:
        raise OptionError("--task is required: a folder with train/dev/test .csv/.tsv(.gz) files")
    task_folder(args.task)
    check_trainer_ranges(training_args)
    check_selection_options(training_args)
    if args.lora_r and importlib.util.find_spec("peft") is None:
        raise ImportError("--lora_r needs the peft package: pip install 'randommask[peft]' (or pip install peft)")
    results = check_output_folder(training_args.output_dir) / "results.json"
    if results.exists() and not args.overwrite_output_dir:
        raise FileExistsError(f"{results.parent} holds an earlier run's results.json: pass --overwrite_output_dir "
                              "to replace it, or another --output_dir")


def _drop_load_report(record: logging.LogRecord) -> bool:
    return "LOAD REPORT" not in record.getMessage()


def _load_head(head: type[PreTrainedModel], model: str, first: bool, **overrides) -> PreTrainedModel:
    """The task head on the pretrained encoder. transformers' per-key load report (``pooler.dense.* MISSING``,
    ``cls.predictions.* UNEXPECTED``) is replaced by one line on the first seed saying what is new and what is
    left out; encoder weights that the checkpoint lacks, or holds beyond its config, are an error naming it."""
    modeling_logger = hf_logging.get_logger("transformers.modeling_utils")
    modeling_logger.addFilter(_drop_load_report)
    try:
        loaded, info = head.from_pretrained(model, output_loading_info=True, **overrides)
    finally:
        modeling_logger.removeFilter(_drop_load_report)
    check_loaded_weights(model, info, new=("classifier.", "bert.pooler."))
    new = sorted({key.rsplit(".", 1)[0] for key in info["missing_keys"]})
    if first:
        unused = sorted({".".join(key.split(".")[:2]) for key in info["unexpected_keys"]})
        logger.info("%s: new %s (trained from scratch on the task)%s", head.__name__, ", ".join(new) or "nothing",
                    f"; the checkpoint's {', '.join(unused)} head is not used" if unused else "")
    return loaded


def with_lora(model: PreTrainedModel, args: FinetuneArguments, token_level: bool) -> PreTrainedModel:
    """``model`` with LoRA adapters on the attention projections; the head (classifier, and the pooler when the
    model pools with it) stays fully trainable."""
    from peft import LoraConfig, TaskType, get_peft_model

    heads = ["classifier"] + (["pooler"] if getattr(model.bert, "pooler", None) is not None else [])
    config = LoraConfig(task_type=TaskType.TOKEN_CLS if token_level else TaskType.SEQ_CLS, r=args.lora_r,
                        lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout, target_modules=LORA_TARGETS,
                        modules_to_save=heads)
    with warnings.catch_warnings():  # peft asks transformers a deprecated question; nothing for the user to do
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
        return get_peft_model(model, config)


def _strip(metrics: dict, prefix: str) -> dict[str, float]:
    """Trainer's metric dict without the split prefix and bookkeeping (runtime, samples/s, epoch)."""
    skip = ("runtime", "samples_per_second", "steps_per_second", "epoch")
    return {k.removeprefix(prefix): float(v) for k, v in metrics.items() if not k.endswith(skip)}


def _metrics_for(task: TaskData, datasets, tokenizer: KmerTokenizer, split: str):
    """The Trainer's ``compute_metrics`` for one split: per base for token tasks (which need the split's bases)."""
    if task.kind != "token":
        return compute_metrics(task.kind, task.label_names)
    lengths = list(map(len, task.sequences[split]))
    kept = max(map(len, datasets[split]["input_ids"]))
    bases = BaseAlignment.from_lengths(lengths, tokenizer.k, tokenizer.kmer_stride, kept, task.labels[split])
    return compute_metrics("token", bases=bases)


def best_model_metric(training_args: TrainingArguments, task: TaskData) -> str:
    """The metric that picks the best evaluation on dev: ``metric_for_best_model`` (refused unless the task's
    evaluation reports it), default the task's primary metric."""
    metric = (training_args.metric_for_best_model or PRIMARY_METRIC[task.kind]).removeprefix("eval_")
    reported = metric_names(task.kind, task.label_names)
    if metric not in reported:
        raise OptionError(f"--metric_for_best_model {training_args.metric_for_best_model}: the {task.kind} task "
                          f"{task.name} reports {', '.join(reported)}")
    return metric


def _selection(training_args: TrainingArguments, task: TaskData, has_dev: bool) -> tuple[dict[str, Any], str, bool]:
    """The per-seed Trainer settings for model selection, the metric that selects and whether greater is better:
    with dev evaluation, keep the best checkpoint by ``metric_for_best_model`` (default: the task's primary metric);
    without, keep the last epoch."""
    metric = best_model_metric(training_args, task)
    greater = not metric.endswith("loss") if training_args.greater_is_better is None else training_args.greater_is_better
    if has_dev and training_args.eval_strategy != "no":
        return {"metric_for_best_model": metric, "load_best_model_at_end": True}, metric, greater
    if not has_dev and training_args.eval_strategy != "no":
        logger.warning("task %s has no dev split: no evaluation during training, the last epoch is kept", task.name)
    return {"eval_strategy": "no", "save_strategy": "no", "load_best_model_at_end": False}, metric, greater


def finetune(args: FinetuneArguments, training_args: TrainingArguments) -> dict:
    """Fine-tune ``args.model`` on ``args.task`` once per seed. Writes into ``training_args.output_dir``:
    ``results.json``, ``model/`` (the best seed's fine-tuned folder with its card: loads with
    ``AutoModelFor{Sequence,Token}Classification.from_pretrained(..., trust_remote_code=True)``) and the Trainer's
    ``seed-N/`` folders; uploads ``model/`` when ``training_args.push_to_hub``. Returns the results.

    ``finetune_training_arguments(task, **options)`` gives ``training_args`` with the paper's recipe; any
    ``TrainingArguments`` works. Options, the model's config and the task are checked before anything is written;
    one run at a time writes a folder."""
    _check_options(args, training_args)
    config = load_model_config(args.model)
    task = args.load_task()
    best_model_metric(training_args, task)
    return _finetune_checked(args, training_args, config, task)


@locks_output_dir
def _finetune_checked(args: FinetuneArguments, training_args: TrainingArguments, config: RandomMaskConfig,
                      task: TaskData) -> dict:
    output_dir = Path(training_args.output_dir)
    kmer_stride = config.kmer_stride if args.tokenization == "pretrained" else kmer_stride_of(
        args.tokenization, config.kmer_size)
    tokenizer = KmerTokenizer(k=config.kmer_size, kmer_stride=kmer_stride)
    datasets = build_datasets(task, tokenizer, model_max_length=config.max_position_embeddings)
    if args.max_train_samples is not None and args.max_train_samples < len(datasets["train"]):
        datasets["train"] = datasets["train"].select(train_subset(len(datasets["train"]), args.max_train_samples))

    token_level = task.kind == "token"
    head = RandomMaskForTokenClassification if token_level else RandomMaskForSequenceClassification
    head_options = {"num_labels": task.num_labels, "id2label": task.id2label, "label2id": task.label2id,
                    "kmer_stride": kmer_stride}
    if not token_level:
        head_options["problem_type"] = task.problem_type
        if args.pooling:
            head_options["classifier_pooling"] = args.pooling
    collator = (DataCollatorForTokenClassification if token_level else DataCollatorWithPadding)(tokenizer)
    has_dev = "dev" in datasets
    selection, selection_metric, greater_is_better = _selection(training_args, task, has_dev)
    evaluates = selection["load_best_model_at_end"]
    devices = training_devices(training_args)
    batch = {"global_batch_size": training_args.per_device_train_batch_size * devices
             * training_args.gradient_accumulation_steps,
             "per_device_train_batch_size": training_args.per_device_train_batch_size, "devices": devices,
             "gradient_accumulation_steps": training_args.gradient_accumulation_steps}
    recipe = task_recipe(args.task)
    logger.info("%s: global batch %d = %d per device x %d device(s) x %d accumulation step(s) (the %s recipe's: %d)",
                task.name, *batch.values(), recipe.family, recipe.batch_size)

    dev_metrics = _metrics_for(task, datasets, tokenizer, "dev") if has_dev else None
    test_metrics = _metrics_for(task, datasets, tokenizer, "test")

    runs: list[SeedResult] = []
    best_model, best_score = None, -math.inf
    for seed in args.seeds or [training_args.seed]:
        # The head's random weights are drawn here, before the Trainer seeds anything: seed first, or one seed
        # gives a different model (and metrics) in every process.
        (enable_full_determinism if training_args.full_determinism else set_seed)(seed)
        model = _load_head(head, args.model, first=not runs, **head_options)
        if args.lora_r:
            model = with_lora(model, args, token_level)
        trainer = Trainer(
            model=model, train_dataset=datasets["train"], eval_dataset=datasets["dev"] if evaluates else None,
            processing_class=tokenizer, data_collator=collator,
            args=replace(training_args, output_dir=str(output_dir / f"seed-{seed}"), seed=seed, push_to_hub=False,
                         **selection),
            compute_metrics=dev_metrics,
        )
        trained = trainer.train()
        dev = _strip(trainer.evaluate(datasets["dev"], metric_key_prefix="dev"), "dev_") if has_dev else {}
        trainer.compute_metrics = test_metrics
        test = _strip(trainer.evaluate(datasets["test"], metric_key_prefix="test"), "test_")
        runs.append(SeedResult(
            seed, dev, test, optimizer_steps=trainer.state.global_step,
            seconds_per_epoch=trained.metrics["train_runtime"] / max(trainer.state.epoch or 0, 1e-9),
            trainable_parameters=sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        ))
        score = dev.get(selection_metric, math.nan) * (1 if greater_is_better else -1)
        if best_model is None or score > best_score:  # without dev, the first seed's model is kept
            best_model, best_score = trainer.model, score

    try:
        paper_column = resolve_task(args.task).paper_column
    except ValueError:
        paper_column = None
    results = {
        "model": args.model,
        "task": task.name,
        "paper_column": paper_column,
        "kind": task.kind,
        "scored_per": "base" if token_level else "sequence",
        "primary_metric": PRIMARY_METRIC[task.kind],
        "tokenization": tokenization_name(config.kmer_size, kmer_stride),
        "hyper_parameters": {
            "recipe": recipe.family, **batch,
            "learning_rate": training_args.learning_rate, "num_train_epochs": training_args.num_train_epochs,
            "max_steps": training_args.max_steps, "weight_decay": training_args.weight_decay,
            "warmup_steps": training_args.warmup_steps, "lr_scheduler_type": str(training_args.lr_scheduler_type.value),
            "max_train_samples": args.max_train_samples,
            "fine_tuning": (f"LoRA r={args.lora_r} alpha={args.lora_alpha:g} dropout={args.lora_dropout:g} on "
                            f"{'/'.join(LORA_TARGETS)}, head trained fully, merged" if args.lora_r else "full"),
        },
        "train_examples": len(datasets["train"]),
        "selection": (f"best evaluation on dev by {selection_metric}" if evaluates
                      else f"last epoch (no {'dev split' if not has_dev else 'evaluation'})"),
        "seeds": [asdict(run) for run in runs],
        "dev": {name: summarise([run.dev[name] for run in runs]) for name in runs[0].dev},
        "test": {name: summarise([run.test[name] for run in runs]) for name in runs[0].test},
        "notes": task.notes,
        "output_dir": str(output_dir),
    }
    if args.lora_r:
        best_model = best_model.merge_and_unload()
    if training_args.should_save:
        output_dir.mkdir(parents=True, exist_ok=True)
        repo_id = training_args.hub_model_id or output_dir.name
        model_dir = output_dir / "model"
        with partial_folder(model_dir) as partial:  # a kill or a late error never leaves config without weights
            save_checkpoint(best_model, tokenizer, partial)
            render_finetuned_card(_card_info(results, task, args, repo_id)).save(partial / "README.md")
        # Last and whole: reruns (benchmark, reproduce, in_domain) take results.json as "this run is done".
        write_whole(output_dir / "results.json", json.dumps(results, indent=2))
        if training_args.push_to_hub:
            results["hub_commit_url"] = push_model_folder(model_dir, repo_id, token=training_args.hub_token,
                                                          private=training_args.hub_private_repo)
    PartialState().wait_for_everyone()
    return results


def _card_info(results: dict, task: TaskData, args: FinetuneArguments, repo_id: str) -> dict:
    seeds = [run["seed"] for run in results["seeds"]]
    limitations = [(f"Test figures are means over {len(seeds)} seed(s); the weights are those of the seed with "
                    "the best dev score.")]
    if task.kind == "token":
        limitations.append("Labels are per base; the model predicts per k-mer token, and each base takes the "
                           "prediction of the token centred nearest to it (trained on its centre base's label).")
    return {
        "model_name": Path(results["output_dir"]).name,
        "repo_id": repo_id,
        "base_model": args.model,
        "task": task_info(task) | ({"paper_column": results["paper_column"]} if results["paper_column"] else {}),
        "hyperparameters": results["hyper_parameters"] | {
            "tokenization": results["tokenization"], "seeds": seeds, "selection": results["selection"]},
        "results": {"test": {name: value["mean"] for name, value in results["test"].items()}},
        "limitations": limitations,
    }


def finetune_summary(results: dict) -> str:
    """The run as the paper reports it (metric x 100, mean ± std over seeds, per split), and where it was written."""
    seeds = len(results["seeds"])
    title = results["task"] + (f" ({results['paper_column']})" if results["paper_column"] else "")
    unit = "per base, " if results["scored_per"] == "base" else ""
    lines = [f"{title}: {unit}x 100, mean ± std over {seeds} seed(s); {results['selection']}"]
    names = [name for name in results["test"]  # per-target values and losses stay in results.json
             if name not in ("loss", "mse") and not name.startswith(("mse_", "pearson_", "spearman_"))]
    lines.append(f"  {'split':<6}" + "".join(f"{name:>18}" for name in names))
    for split in ("dev", "test"):
        if results[split]:
            cells = [f"{100 * results[split][n]['mean']:.2f} ± {100 * results[split][n]['std']:.2f}" for n in names]
            lines.append(f"  {split:<6}" + "".join(f"{cell:>18}" for cell in cells))
    out = Path(results["output_dir"])
    head = "AutoModelForTokenClassification" if results["kind"] == "token" else "AutoModelForSequenceClassification"
    lines.append(f"wrote {out / 'results.json'} and {out / 'model'}/ ({head}.from_pretrained(..., "
                 "trust_remote_code=True))" + (f"; pushed: {results['hub_commit_url']}"
                                                if "hub_commit_url" in results else ""))
    return "\n".join(lines)

