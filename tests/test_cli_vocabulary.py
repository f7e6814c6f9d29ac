"""Every command line speaks one vocabulary (docs/commands.md): ``--help`` offers no old spelling, an
option spelled alike in two commands takes the same choices, and old spellings still work with a deprecation line."""

import contextlib
import importlib
import io
import re

import pytest
import tomllib
from conftest import REPO

from modeling_randommask import OLD_NAMES_REMOVED_IN
from modeling_randommask.analysis.diagnostics import AnalyzeArguments
from modeling_randommask.analysis.in_domain import InDomainArguments
from modeling_randommask.analysis.reproduction import ReproduceArguments
from modeling_randommask.cli.main import COMMANDS as CLI_COMMANDS
from modeling_randommask.cli.main import command_module
from modeling_randommask.data.options import parse_cli
from modeling_randommask.inference.embeddings import EmbedArguments
from modeling_randommask.inference.variants import ScoreVariantsArguments
from modeling_randommask.masking.saved_masking import OLD_MASKING_FILE
from modeling_randommask.training.finetuning import FinetuneArguments
from modeling_randommask.training.pretrain_arguments import PretrainArguments

COMMANDS = [command_module(command) for command in CLI_COMMANDS]
# The dataclasses whose renamed options each command parses (embed's old --pooling is finetune's --pooling).
ARGUMENT_TYPES = {"analyze": AnalyzeArguments, "embed": EmbedArguments, "finetune": FinetuneArguments,
                  "benchmark_gue": FinetuneArguments, "pretrain": PretrainArguments, "reproduce": ReproduceArguments,
                  "in_domain": InDomainArguments, "score_variants": ScoreVariantsArguments}


def _help(module: str) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.raises(SystemExit) as exit_:
        importlib.import_module(module).main(["--help"])
    assert exit_.value.code == 0
    return printed.getvalue()


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    return {module.rsplit(".", 1)[1]: _help(module) for module in COMMANDS}


def test_help_offers_no_deprecated_spelling(helps):
    renamed = {command: set(getattr(ARGUMENT_TYPES.get(command), "RENAMED_OPTIONS", {})) for command in helps}
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
                                                 "--output", "o.tsv"])
    assert args.genome == ["r.fa"]


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
    options = {old for kind in ARGUMENT_TYPES.values() for old in getattr(kind, "RENAMED_OPTIONS", {})}
    spellings = [*scripts, *sorted(options), OLD_MASKING_FILE, "import tokenization"]
    assert len(scripts) == 10 and len(options) >= 7
    assert [spelling for spelling in spellings if f"`{spelling}" not in section] == []
