"""The options of ``examples/pretrain.py``: each defined once, in the dataclass that uses it, and parsed together.

``PretrainArguments`` (model, masking, optimisation, run) and ``GenomeDataConfig`` (genomes and windows) are composed
in one ``HfArgumentParser``. Their defaults are the few-minutes CPU run on the embedded genome. A ``--recipe`` is a
set of parser defaults, so any option given on the command line wins over it; abbreviated option names are refused
(``--max_step`` would otherwise silently mean ``--max_steps``, or be ignored by a recipe). Values out of range are
refused when the options are built, before any file is written.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ..configuration_randommask import ModelSize, RandomMaskConfig
from ..data.genome_windows import GenomeDataConfig
from ..data.options import OptionError, check_ranges, options_parser, parse_with, with_preset
from ..data.strides import Tokenization
from ..masking.schedule import MaskingPreset, RandomMaskSchedule
from ..tokenization.kmer_vocab import MAX_K

PositionInit = Literal["normal", "sinusoidal"]
MixedPrecision = Literal["no", "fp16", "bf16"]
Recipe = Literal["paper", "paper-dnabert", "paper-nt"]


@dataclass
class PretrainArguments:
    """Model, masking, optimisation and run options (the genome options are ``GenomeDataConfig``'s)."""

    RENAMED_OPTIONS: ClassVar[dict[str, str]] = {  # docs/commands.md
        "--per_device_batch_size": "--per_device_train_batch_size"}

    output_dir: str = field(default="outputs/randommask-tiny", metadata={"help": "model folder; checkpoints/ inside"})
    recipe: Recipe | None = field(default=None, metadata={
        "help": "a named set of defaults (options given explicitly still win): the paper's RandomMask run, or its "
                "DNABERT / non-overlapping baselines"})
    model_name_or_path: str | None = field(default=None, metadata={
        "help": "continue pretraining from this checkpoint (a RandomMask or DNABERT folder, or a Hub id): its weights "
                "and tokenizer; a new run (fresh optimizer, schedule and masking curriculum), not a resume. It sets "
                "the model size, k-mer size and tokenization: options that differ from it are refused"})
    model_preset: ModelSize | None = field(default=None, metadata={
        "help": "model size (default: tiny, or the --model_name_or_path checkpoint's)"})
    masking: MaskingPreset = field(default="randommask", metadata={"help": "masking curriculum"})
    num_phases: int | None = field(default=None, metadata={"help": "curriculum phases (default: the masking preset's)"})
    tokenization: Tokenization | None = field(default=None, metadata={
        "help": "overlapping (stride 1, DNABERT; the default) or non_overlapping (stride k, Nucleotide Transformer) "
                "k-mers (default with --model_name_or_path: the checkpoint's)"})
    kmer_size: int | None = field(default=None, metadata={
        "help": "k of the k-mer tokens (default: 6, or the --model_name_or_path checkpoint's)"})
    position_embedding_init: PositionInit = field(default="normal", metadata={
        "help": "normal (BERT's) or sinusoidal: learned position embeddings that start as scaled sinusoids, so a "
                "small model finds a token's neighbours in hundreds of steps instead of thousands"})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "windows per process and micro-step"})
    global_batch_size: int | None = field(default=None, metadata={
        "help": "windows per optimizer step over all processes, reached by gradient accumulation when set"})
    learning_rate: float = field(default=1e-3, metadata={"help": "peak AdamW learning rate"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay (not on biases and LayerNorm)"})
    warmup_steps: int = field(default=100, metadata={"help": "linear warmup, then linear decay to 0"})
    max_steps: int = field(default=2000, metadata={"help": "optimizer steps; the curriculum's phases scale with it"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes"})
    log_every: int = field(default=10, metadata={"help": "steps between training_log.jsonl records"})
    eval_every: int = field(default=200, metadata={"help": "steps between validation losses (also at phase ends)"})
    eval_batches: int = field(default=8, metadata={"help": "validation batches per evaluation"})
    save_every: int = field(default=500, metadata={"help": "steps between resumable checkpoints"})
    keep_checkpoints: int = field(default=2, metadata={"help": "checkpoints kept (the newest)"})
    resume_from_checkpoint: str | None = field(default=None, metadata={"help": "'latest' or a checkpoint folder"})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "replace an existing run's folder"})
    trust_checkpoint_pickles: bool = field(default=False, metadata={
        "help": "unpickle a checkpoint's .pkl files fully (they can run any code), and resume from one without "
                "manifest.json (an older version's): only for checkpoints you wrote. Without it, a .pkl is read as "
                "plain data only, whatever manifest.json says"})
    max_consecutive_faults: int = field(default=3, metadata={"help": "non-finite steps in a row before stopping"})
    mixed_precision: MixedPrecision | None = field(default=None, metadata={
        "help": "default: accelerate's config (`accelerate config`), else no"})
    torch_compile: bool = field(default=False, metadata={"help": "torch.compile the model"})
    push_to_hub: bool = field(default=False, metadata={"help": "upload the model folder to the Hub at the end"})
    hub_model_id: str | None = field(default=None, metadata={"help": "user/name (default: the folder's name)"})
    allow_resume_changes: list[str] = field(default_factory=list, metadata={
        "help": "settings a resumed run may change from its checkpoint's (e.g. per_device_train_batch_size seed), and "
                "rng_state (a checkpoint without this rank's RNG state): the resume is then no longer exact, and the "
                "log and model card say so"})

    def __post_init__(self):
        check_ranges(self, positive=("per_device_train_batch_size", "global_batch_size", "learning_rate", "max_steps",
                                     "max_grad_norm", "log_every", "eval_every", "eval_batches", "save_every",
                                     "keep_checkpoints", "max_consecutive_faults", "num_phases"),
                     non_negative=("weight_decay", "warmup_steps", "num_workers"))
        if self.model_name_or_path is None:  # without a parent, unset means the defaults
            self.model_preset = self.model_preset or "tiny"
            self.tokenization = self.tokenization or "overlapping"
            self.kmer_size = 6 if self.kmer_size is None else self.kmer_size
        if self.kmer_size is None:
            return  # the parent sets it: checked when it is read (parent_model.settings_from_parent)
        if not 1 <= self.kmer_size <= MAX_K:
            raise ValueError(f"--kmer_size must be between 1 and {MAX_K}, got {self.kmer_size}")
        self.masking_schedule()  # refuses e.g. more phases than steps

    def masking_schedule(self) -> RandomMaskSchedule:
        """The masking preset for this run: phases scaled to ``max_steps``; for ``dnabert`` and ``randommask`` the
        shortest span is ``kmer_size`` tokens (6 in the paper), the span of overlapping k-mers that hides one base."""
        return RandomMaskSchedule.from_preset(self.masking, kmer_size=self.kmer_size, total_steps=self.max_steps,
                                              **({"num_phases": self.num_phases} if self.num_phases else {}))


# The paper's recipe (BERT-base, 512 tokens, batch 512, AdamW 1e-4, 480k steps, 5 phases) and its two baselines.
# Warmup, weight decay and betas are DNABERT's, which the paper keeps.
_PAPER = {"model_preset": "base", "max_length": 512, "global_batch_size": 512, "learning_rate": 1e-4,
          "warmup_steps": 10_000, "max_steps": 480_000, "eval_every": 10_000, "save_every": 10_000,
          "eval_batches": 64, "log_every": 100}
RECIPES: dict[str, dict] = {
    "paper": _PAPER | {"masking": "randommask"},
    "paper-dnabert": _PAPER | {"masking": "dnabert"},
    "paper-nt": _PAPER | {"masking": "nt", "tokenization": "non_overlapping"},
}


# Options that do not change what a run computes: a resumed run may give other values. Every other option, the
# number of processes and the genome's content are recorded in each checkpoint and compared on resume.
BOOKKEEPING_OPTIONS = frozenset({
    "output_dir", "recipe", "num_workers", "log_every", "eval_every", "eval_batches", "save_every", "keep_checkpoints",
    "resume_from_checkpoint", "overwrite_output_dir", "trust_checkpoint_pickles", "max_consecutive_faults",
    "push_to_hub", "hub_model_id", "allow_resume_changes",
    "genome", "train_file", "dataset_name", "dataset_config_name", "dataset_split", "dataset_revision",
    "sequence_column",  # the corpus is compared by content (records, bases), not by where it was read
    "corpus_store", "corpus_dir"})  # the same bases, mapped or read
# Settings newer than some checkpoints, at the value that means what those checkpoints did: recorded only when they
# differ from it, so that such checkpoints still resume.
ADDED_SETTINGS = {"short_records": "skip"}
# Never changed on resume, even when allowed: the weights' shapes and the curriculum the log and card describe.
FIXED_ON_RESUME = ("model_preset", "kmer_size", "masking", "num_phases", "max_steps")


def parse_args(argv: list[str] | None = None) -> tuple[PretrainArguments, GenomeDataConfig]:
    """Parse command-line options; ``--recipe`` sets defaults that explicit options override."""
    argv = sys.argv[1:] if argv is None else list(argv)
    kinds = (PretrainArguments, GenomeDataConfig)
    parser = options_parser(kinds, with_preset(kinds, argv, {}, RECIPES, "recipe"))
    return parse_with(parser, argv, check=check_positions)


def check_positions(parsed: tuple[PretrainArguments, GenomeDataConfig]) -> None:
    """Refuse windows longer than the model's positions before anything is allocated (attention over 100,000
    tokens asks for terabytes)."""
    positions = RandomMaskConfig().max_position_embeddings  # the default every preset keeps
    if parsed[1].max_length > positions:
        raise OptionError(f"--max_length {parsed[1].max_length} exceeds the model's {positions} positions "
                         f"(max_position_embeddings, as in BERT and DNABERT): give at most {positions}")


def parse_with_pretraining(study_type: type, argv: list[str] | None, defaults: dict[str, Any],
                           set_by_study: dict[str, str], presets: dict[str, dict[str, Any]] | None = None
                           ) -> tuple[Any, PretrainArguments, GenomeDataConfig]:
    """The options of a command that pretrains several models with one budget (reproduce, in_domain): its own
    dataclass beside ``PretrainArguments`` and ``GenomeDataConfig``, one parser, abbreviations refused, the study's
    ``defaults`` in place of pretraining's, then those of the ``--preset`` given (``presets``: name -> defaults);
    options the study sets per run (``set_by_study``: name -> what sets it) are refused when given, rather than
    silently overridden."""
    kinds = (study_type, PretrainArguments, GenomeDataConfig)
    defaults = with_preset(kinds, argv, defaults, presets, "preset") if presets else defaults
    parser = options_parser(kinds, defaults)
    return parse_with(parser, argv, check=lambda parsed: check_set_by_study(parsed[1:], defaults, set_by_study))


def check_set_by_study(options: tuple[PretrainArguments, GenomeDataConfig], defaults: dict[str, Any],
                       set_by_study: dict[str, str]) -> None:
    """Raise ``OptionError`` naming each option of ``set_by_study`` whose value is not the study's default."""
    given = []
    for name, setter in set_by_study.items():
        holder = next(o for o in options if name in o.__dataclass_fields__)
        default = defaults.get(name, getattr(type(holder)(), name))  # as resolved (unset k-mer size: 6)
        if getattr(holder, name) != default:
            given.append(f"--{name}: the study sets it ({setter})")
    if given:
        raise OptionError("; ".join(given))
