"""Concepts the package once defined several times now exist once (issue 34, "every concept once"): code that
handles one of them handles every place it comes from."""

import ast
import json
import re
from collections import Counter

import numpy as np
import pytest
import torch
from conftest import REPO
from transformers import BertConfig, BertForMaskedLM

from modeling_randommask import configuration_randommask
from modeling_randommask.configuration_randommask import IGNORE_INDEX
from modeling_randommask.data import base_labels
from modeling_randommask.data.fasta import BASE_INDEX, COMPLEMENT, IS_ACGT
from modeling_randommask.data.options import USER_ERRORS, CheckpointError
from modeling_randommask.data.output_files import replace_folder
from modeling_randommask.hub import model_source
from modeling_randommask.hub.dnabert import from_dnabert
from modeling_randommask.masking import collator
from modeling_randommask.pipeline_randommask import BASES
from modeling_randommask.tokenization import NUM_SPECIAL_TOKENS, SPECIAL_TOKENS, KmerTokenizer
from modeling_randommask.tokenization.kmer_vocab import (
    VOCAB_BASE_ORDER,
    kmer_span,
    kmer_vocab,
    num_kmer_tokens,
)
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


def test_the_token_count_is_computed_in_one_place_for_ints_arrays_and_tensors():
    """``(L - k) // stride + 1`` was written out in the tokenizer, the pipeline, ``data.base_labels``,
    ``data.genome_windows`` and ``inference.windows``; now ``kmer_vocab.num_kmer_tokens`` (and its inverse
    ``kmer_span``) is the one formula, which the pipeline reaches through the tokenizer (a saved folder is flat, the
    source tree is not)."""
    def token_count_formula(node):  # (a - b) // c + 1
        return (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and isinstance(node.left, ast.BinOp)
                and isinstance(node.left.op, ast.FloorDiv) and isinstance(node.left.left, ast.BinOp)
                and isinstance(node.left.left.op, ast.Sub) and ast.unparse(node.right) == "1")

    assert _where(token_count_formula) == [_line("tokenization/kmer_vocab.py", "    return ((num_bases - k)")]
    lengths = np.arange(0, 40)
    for k, stride in [(6, 1), (6, 6), (4, 3), (1, 2)]:
        tokenizer = KmerTokenizer(k=k, kmer_stride=stride)
        one_by_one = [len(tokenizer("A" * n, add_special_tokens=False)["input_ids"]) for n in lengths]
        assert tokenizer.tokens_for_bases(lengths).tolist() == one_by_one
        assert tokenizer.tokens_for_bases(torch.from_numpy(lengths)).tolist() == one_by_one
        assert [tokenizer.tokens_for_bases(int(n)) for n in lengths] == one_by_one
        assert num_kmer_tokens(lengths, k, stride).tolist() == one_by_one
        spans = kmer_span(np.array(one_by_one), k, stride)
        assert (num_kmer_tokens(spans, k, stride) == one_by_one).all() and (spans <= lengths).all()
    with pytest.raises(ValueError, match="num_bases must be >= 0"):
        tokenizer.tokens_for_bases(torch.tensor([3, -1]))


@pytest.mark.parametrize("line_ending", ["\n", "\r\n"])
def test_vocab_txt_has_one_rule_for_the_tokenizer_and_the_dnabert_import(tmp_path, line_ending):
    """The tokenizer compared lines exactly and ``from_dnabert`` stripped them first, so a ``vocab.txt`` with a
    space after a k-mer loaded as a DNABERT checkpoint but not as a tokenizer. Both now use
    ``kmer_vocab.check_vocab_file``: the line is the token (BERT's tokenizer reads it so too), whatever the line
    ending."""
    folder = tmp_path / "dnabert6"
    BertForMaskedLM(BertConfig(vocab_size=4101, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=16, max_position_embeddings=16)).save_pretrained(folder)
    vocab = folder / "vocab.txt"
    vocab.write_bytes(line_ending.join(kmer_vocab(6)).encode() + line_ending.encode())
    assert KmerTokenizer(vocab_file=str(vocab)).k == 6 and from_dnabert(folder).config.kmer_size == 6

    lines = kmer_vocab(6)
    lines[5] += " "
    vocab.write_bytes(line_ending.join(lines).encode() + line_ending.encode())
    message = re.escape(f"{vocab}: line 6 holds 'AAAAAA ' but id 5 is 'AAAAAA' in the 6-mer vocabulary")
    with pytest.raises(ValueError, match=message):
        KmerTokenizer(vocab_file=str(vocab))
    with pytest.raises(CheckpointError, match=message):
        from_dnabert(folder)


def test_byte_tables_are_built_in_two_places_one_per_meaning():
    """Byte -> base tables were built in the tokenizer, the pipeline, ``inference.bits_per_base``,
    ``analysis.diagnostics`` and ``data.fasta``. Now ``data.fasta`` holds the numpy ones (which bytes are bases,
    A/C/G/T's column, the complement) and the tokenizer the torch one that k-mer ids are made of, which the pipeline
    reads through ``KmerTokenizer.base_codes`` (the tokenizer's folder is not the pipeline's sibling in the source)."""
    def byte_table(node):  # a 256-entry array, tensor or bytearray
        return (isinstance(node, ast.Call) and node.args and ast.unparse(node.args[0]) in ("256", "(256,)")
                and ast.unparse(node.func).rsplit(".", 1)[-1] in ("full", "zeros", "ones", "empty", "arange",
                                                                    "bytearray"))

    assert {place.split(":")[0] for place in _where(byte_table)} == {"modeling_randommask/data/fasta.py",
                                                                     "tokenization/tokenization_kmer.py"}
    ascii_bytes = torch.arange(256, dtype=torch.uint8)
    codes = KmerTokenizer(k=3).base_codes(ascii_bytes)
    for base in "ACGT":
        assert codes[ord(base)] == codes[ord(base.lower())] == VOCAB_BASE_ORDER.index(base)
        assert BASE_INDEX[ord(base)] == BASES.index(base)
        assert chr(COMPLEMENT[ord(base)]) == "TGCA"["ACGT".index(base)]
    assert (codes >= 0).sum() == 8 and IS_ACGT.sum() == 4 and (IS_ACGT == (BASE_INDEX >= 0)).all()


def test_files_and_folders_are_moved_into_place_by_one_module(tmp_path):
    """The corpus store (its digest cache, its folder), checkpoints and result folders each had their own
    temporary-name-then-rename code, the digest cache's without fsync. Now only ``data.output_files`` renames or
    flushes: ``write_whole``/``partial_file`` for a file, ``replace_folder`` for a folder."""
    def moves_or_flushes(node):
        return isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.replace", "os.rename", "os.fsync",
                                                                          "shutil.move")

    assert {place.split(":")[0] for place in _where(moves_or_flushes)} == {"modeling_randommask/data/output_files.py"}
    old, new = tmp_path / "model", tmp_path / ".model.partial"
    (old / "sub").mkdir(parents=True)
    (old / "sub" / "stale.txt").write_text("old")
    (new / "sub").mkdir(parents=True)
    (new / "sub" / "weights.txt").write_text("new")
    replace_folder(new, old)
    assert [path.relative_to(tmp_path).as_posix() for path in sorted(tmp_path.rglob("*"))] == [
        "model", "model/sub", "model/sub/weights.txt"]
