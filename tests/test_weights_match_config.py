"""Weights that do not match config.json are refused in every loader (issue 30, bug 5): a config.json saying
num_hidden_layers 1 over weights of 2 layers ran a truncated model in embed and score-variants and exited 0."""

import json
import shutil

import pytest
from conftest import tiny_model

from modeling_randommask import save_checkpoint
from modeling_randommask.cli import embed as embed_cli
from modeling_randommask.hub.checkpoint import load_masked_lm
from modeling_randommask.hub.model_source import CheckpointError
from modeling_randommask.modeling_randommask import RandomMaskForSequenceClassification
from modeling_randommask.tokenization import KmerTokenizer
from modeling_randommask.training.finetuning import _load_head

DNA = "ACGTTGCAAGGCTTAACCGGATCGATTACG" * 3


@pytest.fixture(scope="module")
def two_layers(tmp_path_factory):
    model = tiny_model(max_position_embeddings=64, num_hidden_layers=2)
    return save_checkpoint(model, KmerTokenizer(), tmp_path_factory.mktemp("w") / "model")


@pytest.fixture(params=[1, 3], ids=["config with fewer layers", "config with more layers"])
def edited(request, two_layers, tmp_path):
    folder = shutil.copytree(two_layers, tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": request.param}))
    return folder, request.param


def test_the_masked_lm_loader_refuses_them_naming_the_folder(edited):
    folder, layers = edited
    what = "the folder holds weights config.json does not use" if layers == 1 else "config.json needs weights the folder lacks"
    with pytest.raises(CheckpointError, match=f"{folder}: the weights do not match config.json \\({what}: "
                                              f"bert.encoder.layer.{min(layers, 2)}.\\*"):
        load_masked_lm(folder)
    with pytest.raises(CheckpointError, match=what):
        load_masked_lm(folder, head=False)  # embeddings read the encoder only


def test_embed_ends_with_one_error_line(edited, tmp_path):
    folder, _ = edited
    (tmp_path / "in.fa").write_text(f">a\n{DNA}\n")
    with pytest.raises(SystemExit) as exit_:
        embed_cli.main(["--model", str(folder), "--input", str(tmp_path / "in.fa"), "--output", str(tmp_path / "e.npy")])
    assert str(exit_.value.code).startswith(f"error: {folder}: the weights do not match config.json")
    assert not (tmp_path / "e.npy").exists()


def test_the_fine_tuning_loader_refuses_them(edited):
    """finetune only warned when encoder weights were missing, and ran a truncated encoder otherwise."""
    folder, _ = edited
    with pytest.raises(CheckpointError, match=f"{folder}: the weights do not match config.json"):
        _load_head(RandomMaskForSequenceClassification, str(folder), first=True, num_labels=2)


def test_a_matching_folder_and_another_heads_weights_still_load(two_layers, tmp_path):
    """A classifier's folder read for its encoder holds classifier weights the masked-LM model does not use."""
    load_masked_lm(two_layers)
    classifier = _load_head(RandomMaskForSequenceClassification, str(two_layers), first=True, num_labels=2)
    save_checkpoint(classifier, KmerTokenizer(), tmp_path / "classifier")
    load_masked_lm(tmp_path / "classifier", head=False)
