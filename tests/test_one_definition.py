"""Concepts the package once defined several times now exist once (issue 34, "every concept once"): code that
handles one of them handles every place it comes from."""

import json

import pytest

from modeling_randommask.data.options import USER_ERRORS, CheckpointError
from modeling_randommask.hub import model_source
from modeling_randommask.training import checkpoints


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
