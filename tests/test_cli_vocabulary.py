"""Every command line speaks one vocabulary (docs/commands.md): ``--help`` offers no old spelling, an
option spelled alike in two commands means the same (same help, same default, same choices) unless listed below with
the reason, and old spellings still work with a deprecation line."""

import contextlib
import importlib
import io
import re

import pytest
import tomllib
from conftest import REPO

from modeling_randommask import OLD_NAMES_REMOVED_IN
from modeling_randommask.analysis.diagnostics import AnalyzeArguments
from modeling_randommask.analysis.in_domain import IN_DOMAIN_DEFAULTS, InDomainArguments, parse_in_domain_args
from modeling_randommask.analysis.reproduction import (
    REPRODUCE_DEFAULTS,
    ReproduceArguments,
    parse_reproduce_args,
)
from modeling_randommask.cli.main import COMMANDS as CLI_COMMANDS
from modeling_randommask.cli.main import command_module, summary
from modeling_randommask.data.corpus_store import CorpusArguments
from modeling_randommask.data.genome_windows import GenomeDataConfig
from modeling_randommask.data.options import parse_cli
from modeling_randommask.data.sequence_sources import SequenceSourceOptions
from modeling_randommask.inference.embeddings import EmbedArguments
from modeling_randommask.inference.variants import ScoreVariantsArguments
from modeling_randommask.masking.saved_masking import OLD_MASKING_FILE
from modeling_randommask.training.finetuning import FinetuneArguments
from modeling_randommask.training.pretrain_arguments import PretrainArguments

COMMANDS = [command_module(command) for command in CLI_COMMANDS]
# The dataclasses whose renamed options each command parses (embed's old --pooling is finetune's --pooling).
STUDY = (PretrainArguments, GenomeDataConfig)
ARGUMENT_TYPES = {"analyze": (AnalyzeArguments,), "embed": (EmbedArguments,), "finetune": (FinetuneArguments,),
                  "benchmark_gue": (FinetuneArguments,), "pretrain": STUDY, "reproduce": (ReproduceArguments, *STUDY),
                  "in_domain": (InDomainArguments, *STUDY), "score_variants": (ScoreVariantsArguments,),
                  "prepare_corpus": (CorpusArguments, SequenceSourceOptions)}

# Options that two commands spell alike and describe differently, each with why. Any other option spelled alike
# reads the same in every command's --help, default included: one name, one meaning.
TRAINER = "transformers' TrainingArguments (finetune, benchmark_gue) word this setting their own way, with their " \
          "default; pretraining and analyze take transformers' name for the same setting on purpose"
DIFFERENT_ON_PURPOSE = {
    **dict.fromkeys(["--hub_model_id", "--learning_rate", "--max_grad_norm", "--max_steps", "--push_to_hub",
                     "--per_device_train_batch_size", "--per_device_eval_batch_size", "--torch_compile",
                     "--warmup_steps", "--weight_decay"], TRAINER),
    "--output_dir": "the folder a command writes: what it holds (a model, a task, figures, a study) is the command's",
    "--overwrite_output_dir": "replace what --output_dir holds: what that is (a run, a task, results) is the command's",
    "--output": "the file a command writes: its format (embeddings by suffix, a TSV of scores) is the command's",
    "--seed": "a command's one seed: what it draws (the run, the demo task's fragments, the analysis' samples) is "
              "the command's (transformers' words in finetune)",
    "--genome": "the genome FASTA(s) a command reads: their role (the corpus, the variants' reference, analyze's "
                "attention windows) is the command's",
    "--model": "the checkpoint(s) a command reads: fine-tuning takes Hub ids, inference converts DNABERT folders, "
               "analyze takes several",
    "--tokenization": "fine-tuning adds pretrained (keep the checkpoint's) to pretraining's two choices",
    "--bits_positions": "analyze may skip bits per base (0); the in-domain study always measures it",
    "--tasks": "in_domain takes task folders (not folders of them), by default the human ones",
}
# A study's own budget (reproduce, in_domain): pretraining's options, worded alike, with the study's defaults.
STUDY_BUDGET = REPRODUCE_DEFAULTS.keys() | IN_DOMAIN_DEFAULTS.keys()


def _help(module: str) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.raises(SystemExit) as exit_:
        importlib.import_module(module).main(["--help"])
    assert exit_.value.code == 0
    return printed.getvalue()


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "100000")  # argparse wraps at the terminal's width: one line per option's help
        return {module.rsplit(".", 1)[1]: _help(module) for module in COMMANDS}


def _options(text: str) -> dict[str, str]:
    """``--option`` -> its help as ``--help`` prints it, ``(default: ...)`` included (first spelling of each)."""
    lines = text.split("\noptions:\n", 1)[1].splitlines()
    found = {}
    for line, following in zip(lines, [*lines[1:], ""]):
        if line.startswith("  -"):
            invocation, *help_ = re.split(r"\s{2,}", line.strip(), maxsplit=1)
            found[re.findall(r"--[\w-]+", invocation)[0]] = help_[0] if help_ else following.strip()
    return found


def test_an_option_spelled_alike_means_the_same_in_every_command(helps):
    """Same help and default wherever an option is offered, unless DIFFERENT_ON_PURPOSE says why not; a study's
    budget options (``STUDY_BUDGET``) may differ in their default alone. Every entry of the list is still needed."""
    meanings: dict[str, dict[str, list[str]]] = {}
    for command, text in helps.items():
        for option, help_ in _options(text).items():
            if option.removeprefix("--") in STUDY_BUDGET:
                help_ = re.sub(r" \(default: [^()]*(\([^()]*\)[^()]*)*\)$", "", help_)
            meanings.setdefault(option, {}).setdefault(help_, []).append(command)
    differing = {option for option, by_help in meanings.items() if len(by_help) > 1}
    assert {option: meanings[option] for option in differing - DIFFERENT_ON_PURPOSE.keys()} == {}
    assert DIFFERENT_ON_PURPOSE.keys() - differing == set(), "listed, but now alike (or gone): remove from the list"
    # fine-tuning seeds; in_domain's --seeds were pretraining seeds, now --pretraining_seeds
    assert list(meanings["--seeds"].values()) == [["finetune", "benchmark_gue"]]
    assert list(meanings["--reverse_complement"].values()) == [["pretrain", "reproduce", "in_domain"]]


def test_each_help_opens_with_the_line_randommask_help_lists(helps):
    """``randommask <command> --help`` showed the usage and options only, no word of what the command does."""
    assert {command: text.splitlines()[0] for command, text in helps.items()} == {
        command.replace("-", "_"): summary(command) for command in CLI_COMMANDS}


def test_help_offers_no_deprecated_spelling(helps):
    renamed = {command: {old for kind in ARGUMENT_TYPES.get(command, ()) for old in getattr(kind, "RENAMED_OPTIONS", {})}
               for command in helps}
    assert sum(map(len, renamed.values())) >= 6, "the renamed options are listed on the argument dataclasses"
    offered = {command: set(re.findall(r"(?<![\w-])--\w+", text)) & renamed[command] for command, text in helps.items()}
    assert offered == {command: set() for command in helps}


def test_an_option_spelled_alike_means_the_same_everywhere(helps):
    """Same name, nested choices (finetune's --tokenization adds "pretrained" to pretrain's two), never clashing ones."""
    choices: dict[str, dict[str, frozenset]] = {}
    for command, text in helps.items():
        for option, allowed in re.findall(r"(?<![\w-])(--\w+) \{([^}]*)\}", text):
            choices.setdefault(option, {})[command] = frozenset(allowed.split(","))
    clashing = {option: by_command for option, by_command in choices.items()
                if any(not (a <= b or b <= a) for a in by_command.values() for b in by_command.values())}
    assert clashing == {}
    assert choices["--pooling"] == {"finetune": {"cls", "mean"}, "benchmark_gue": {"cls", "mean"}}


def test_old_spellings_still_work_and_say_so(capsys):
    (args,) = parse_cli(AnalyzeArguments, ["--models", "a", "b", "--out_dir=x", "--bits-fasta", "g.fa",
                                           "--batch_size", "2"])
    assert (args.model, args.output_dir, args.bits_genome, args.per_device_eval_batch_size) == (["a", "b"], "x",
                                                                                                 "g.fa", 2)
    assert capsys.readouterr().err.splitlines() == [
        f"{old} is deprecated, use {new} (removed in {OLD_NAMES_REMOVED_IN})" for old, new in
        [("--models", "--model"), ("--out_dir", "--output_dir"), ("--bits-fasta", "--bits_genome"),
         ("--batch_size", "--per_device_eval_batch_size")]]
    (args,) = parse_cli(ScoreVariantsArguments, ["--model", "m", "--reference", "r.fa", "--variants", "v.vcf",
                                                 "--output", "o.tsv", "--reverse_complement"])
    assert args.genome == ["r.fa"] and args.average_strands
    (args,) = parse_cli(EmbedArguments, ["--model", "m", "--input", "i.fa", "--output", "o.npy", "--reverse_complement"])
    assert args.average_strands
    (args,) = parse_cli(CorpusArguments, ["--paths", "a.fa"])
    assert args.genome == ["a.fa"]
    args, _, data = parse_reproduce_args(["--tasks", "t", "--paths", "b.fa", "--variants", "DNABERT"])
    assert data.genome == ["b.fa"] and args.pretraining_variants == ["DNABERT"]
    args, _, _ = parse_in_domain_args(["--seeds", "4", "5"])
    assert args.pretraining_seeds == [4, 5]
    assert capsys.readouterr().err.splitlines() == [
        f"{old} is deprecated, use {new} (removed in {OLD_NAMES_REMOVED_IN})" for old, new in
        [("--reference", "--genome"), ("--reverse_complement", "--average_strands"),
         ("--reverse_complement", "--average_strands"), ("--paths", "--genome"), ("--paths", "--genome"),
         ("--variants", "--pretraining_variants"), ("--seeds", "--pretraining_seeds")]]



def test_benchmark_offers_no_task_option_it_would_replace(helps, capsys):
    """benchmark_gue fine-tunes on each of --tasks in turn: fine-tuning's single --task is not its option."""
    from modeling_randommask.analysis.benchmark import parse_benchmark_args

    assert re.search(r"--task\b(?!s)", helps["benchmark_gue"]) is None and "--tasks" in helps["benchmark_gue"]
    assert re.search(r"--task\b(?!s)", helps["finetune"])
    with pytest.raises(SystemExit):
        parse_benchmark_args(["--model", "m", "--tasks", "a", "--task", "b"])
    assert "unrecognized arguments: --task b" in capsys.readouterr().err


def test_the_changelog_lists_every_deprecated_spelling_with_its_removal_version():
    """CHANGELOG.md names each old spelling under the release that removes it, the one the code's lines say."""
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    section = changelog.split(f"### Deprecated: removed in {OLD_NAMES_REMOVED_IN}\n", 1)[1].split("\n### ", 1)[0]
    scripts = [name for name in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
               if name.startswith("randommask-")]
    options = {old for kinds in ARGUMENT_TYPES.values() for kind in kinds for old in getattr(kind, "RENAMED_OPTIONS", {})}
    spellings = [*scripts, *sorted(options), OLD_MASKING_FILE, "import tokenization"]
    assert len(scripts) == 10 and len(options) >= 11
    assert [spelling for spelling in spellings if f"`{spelling}" not in section] == []
