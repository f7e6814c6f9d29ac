"""Concepts the package once defined several times now exist once (issue 34, "every concept once"): code that
handles one of them handles every place it comes from."""

import ast
import json
from collections import Counter

import pytest
from conftest import REPO

from modeling_randommask import configuration_randommask
from modeling_randommask.configuration_randommask import IGNORE_INDEX
from modeling_randommask.data import base_labels
from modeling_randommask.data.options import USER_ERRORS, CheckpointError
from modeling_randommask.hub import model_source
from modeling_randommask.masking import collator
from modeling_randommask.tokenization import NUM_SPECIAL_TOKENS, SPECIAL_TOKENS, KmerTokenizer
from modeling_randommask.training import checkpoints

SOURCES = sorted([*(REPO / "modeling_randommask").rglob("*.py"), *(REPO / "tokenization").rglob("*.py")])


def _where(found) -> list[str]:
    """``file:line`` of every node of the package's source that ``found(node)`` accepts."""
    return [f"{path.relative_to(REPO)}:{node.lineno}" for path in SOURCES
            for node in ast.walk(ast.parse(path.read_text(), str(path))) if found(node)]


def _line(path: str, start: str) -> str:
    """``path:line`` of the first line of ``path`` that starts with ``start``."""
    lines = (REPO / path).read_text().splitlines()
    return f"{path}:{next(number for number, line in enumerate(lines, 1) if line.startswith(start))}"


def test_one_checkpoint_error_catches_a_damaged_resume_checkpoint_and_a_bad_model_folder(tmp_path):
    """Before, ``training.checkpoints`` and ``hub.model_source`` each defined a ``CheckpointError``, so an
    ``except`` for one let the other through."""
    state = tmp_path / "step-1" / "training_state.json"
    state.parent.mkdir()
    state.write_text("")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "randommask", "hidden_size": 30,
                                                   "num_attention_heads": 4}))
    for error_from in (checkpoints.CheckpointError, model_source.CheckpointError):
        assert error_from is CheckpointError
    with pytest.raises(CheckpointError, match="training_state.json: empty"):
        checkpoints.read_json(state, "the data position")
    with pytest.raises(CheckpointError, match=r"config.json: hidden_size=30 is not a multiple"):
        model_source.read_config(model)
    assert issubclass(CheckpointError, USER_ERRORS) and issubclass(CheckpointError, ValueError)


def test_the_ignored_label_is_defined_once_and_never_written_as_a_bare_number():
    """``IGNORE_INDEX`` was defined in ``masking.collator`` and ``data.base_labels``, and the model, the pipeline
    and the pretraining loop wrote -100 inline."""
    def minus_100(node):
        return (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
                and isinstance(node.operand, ast.Constant) and node.operand.value == 100)

    assert _where(minus_100) == [_line("modeling_randommask/configuration_randommask.py", "IGNORE_INDEX = ")]
    assert collator.IGNORE_INDEX is base_labels.IGNORE_INDEX is IGNORE_INDEX == -100


def test_the_number_of_special_tokens_is_the_tokenizer_s_and_the_model_files_repeat_it_once():
    """It was a literal 5 in the configuration, the pipeline and the Markov baseline, and derived again in the
    tokenizer. The model's travelling files cannot import the tokenizer's folder, so the configuration keeps the
    one copy they share; everything else imports the tokenizer's."""
    def defines_special_count(node):
        return isinstance(node, ast.Assign) and any("NUM_SPECIAL" in ast.unparse(target) for target in node.targets)

    assert _where(defines_special_count) == [
        _line("modeling_randommask/configuration_randommask.py", "NUM_SPECIAL_TOKENS = "),
        _line("tokenization/kmer_vocab.py", "NUM_SPECIAL_TOKENS = ")]
    assert configuration_randommask.NUM_SPECIAL_TOKENS == NUM_SPECIAL_TOKENS == len(SPECIAL_TOKENS)
    assert KmerTokenizer(k=3).convert_tokens_to_ids("AAA") == NUM_SPECIAL_TOKENS  # the first k-mer's id


def test_each_choice_type_has_its_own_name():
    """``Pooling`` meant cls/mean (how a classifier summarises a sequence) in the configuration and mean/max (how
    windows' embeddings make a sequence's) in ``inference.embeddings``: one name for two sets of choices."""
    def literal_names(path):
        return [ast.unparse(target) for node in ast.walk(ast.parse(path.read_text(), str(path)))
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript)
                and ast.unparse(node.value.value) == "Literal" for target in node.targets]

    names = Counter(name for path in SOURCES for name in literal_names(path))
    assert [name for name, count in names.items() if count > 1] == []
    assert {"ClassifierPooling", "SequencePooling", "WindowPooling"} <= set(names)
