"""``--model_name_or_path``: a new run that starts from a checkpoint's weights (RandomMask or DNABERT), refuses
options that contradict it, and whose card names the parent and the tokens seen before and after."""

import subprocess
import sys

import pytest
import torch
from conftest import QUICK_PRETRAIN, REPO, read_log
from huggingface_hub import ModelCard
from local_hub import folder_files, hub_env, start_hub
from safetensors.torch import load_file
from transformers import BertConfig, BertForMaskedLM

from modeling_randommask.data.options import OptionError
from modeling_randommask.training.pretrain_arguments import parse_args
from modeling_randommask.training.pretraining import pretrain

pytestmark = pytest.mark.slow

# One update at warmup's first step has learning rate 0 (linear warmup from 0), so the weights written after it are
# the weights the run started from, exactly: the step-0 weights, read from the saved model.
ONE_STEP_AT_ZERO_LR = ["--max_steps", "1", "--warmup_steps", "1", "--num_phases", "1", "--eval_every", "1",
                       "--save_every", "1"]


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    out = tmp_path_factory.mktemp("parent") / "model"
    pretrain(*parse_args([*QUICK_PRETRAIN, "--kmer_size", "4", "--output_dir", str(out)]))
    return out


def _card_metadata(folder):
    return ModelCard.load(folder / "README.md").data.to_dict()


def test_continued_run_starts_from_the_parents_weights_and_tokenizer(parent, tmp_path):
    child = tmp_path / "child"
    pretrain(*parse_args([*QUICK_PRETRAIN, *ONE_STEP_AT_ZERO_LR, "--model_name_or_path", str(parent),
                          "--output_dir", str(child)]))
    before, after = load_file(parent / "model.safetensors"), load_file(child / "model.safetensors")
    assert before.keys() == after.keys()
    assert all(torch.equal(before[name], after[name]) for name in before)
    start = next(r for r in read_log(child) if r.get("event") == "start")
    assert start["schedule"]["total_steps"] == 1  # its own curriculum, from step 0: not the parent's
    card = (child / "README.md").read_text()
    assert f"`continued_from` | {parent}" in card and "`kmer_size` | 4" in card

    parent_tokens = _card_metadata(parent)["randommask"]["tokens_seen"]
    assert parent_tokens == 12 * 8 * 40  # steps x windows x tokens (no padding)
    longer = tmp_path / "longer"
    pretrain(*parse_args([*QUICK_PRETRAIN, "--max_steps", "3", "--num_phases", "1", "--model_name_or_path",
                          str(parent), "--output_dir", str(longer)]))
    trained = load_file(longer / "model.safetensors")
    assert not torch.equal(trained["bert.embeddings.word_embeddings.weight"],
                           before["bert.embeddings.word_embeddings.weight"])
    metadata = _card_metadata(longer)["randommask"]
    assert metadata == {"tokens_seen": parent_tokens + 3 * 8 * 40, "parent": str(parent)}
    card = (longer / "README.md").read_text()
    assert f"`tokens_seen_before` | {parent_tokens:,}" in card and f"`tokens_seen` | {3 * 8 * 40:,}" in card


@pytest.mark.parametrize(("options", "message"), [
    (["--kmer_size", "6"], "--kmer_size 6 (the parent reads 4-mers)"),
    (["--tokenization", "non_overlapping"], "--tokenization non_overlapping (the parent's is overlapping)"),
    (["--model_preset", "mini"], "--model_preset mini (the parent has 2 layers of 64, the tiny preset)"),
    (["--position_embedding_init", "sinusoidal"], "overwrite the parent's trained position embeddings"),
])
def test_options_contradicting_the_parent_are_refused_before_anything_is_written(parent, tmp_path, options, message):
    out = tmp_path / "refused"
    args = parse_args([*QUICK_PRETRAIN, "--model_name_or_path", str(parent), "--output_dir", str(out), *options])
    with pytest.raises(OptionError, match=f"--model_name_or_path {parent}: the parent conflicts with .*"
                                          + message.replace("(", r"\(").replace(")", r"\)")):
        pretrain(*args)
    assert not out.exists()
    matching = parse_args([*QUICK_PRETRAIN, "--model_name_or_path", str(parent), "--kmer_size", "4",
                           "--model_preset", "tiny", "--output_dir", str(out)])
    assert matching[0].kmer_size == 4  # the parent's own values may be given


def test_dnabert_checkpoint_is_a_parent(tmp_path):
    torch.manual_seed(0)
    bert = BertForMaskedLM(BertConfig(vocab_size=5 + 4**3, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=64, max_position_embeddings=64))
    bert.save_pretrained(tmp_path / "dnabert3")
    child = tmp_path / "child"
    pretrain(*parse_args([*QUICK_PRETRAIN, *ONE_STEP_AT_ZERO_LR, "--model_name_or_path", str(tmp_path / "dnabert3"),
                          "--output_dir", str(child)]))
    after = load_file(child / "model.safetensors")
    assert all(torch.equal(value, after[name]) for name, value in bert.state_dict().items() if name in after)
    assert "`tokens_seen_before` | unknown" in (child / "README.md").read_text()
    assert "tokens_seen" not in _card_metadata(child)["randommask"]  # unknown in all: not claimed
    with pytest.raises(OptionError, match=r"--max_length 100 \(the parent has 64 positions\)"):
        args = parse_args([*QUICK_PRETRAIN, "--model_name_or_path", str(tmp_path / "dnabert3"), "--max_length", "100",
                           "--output_dir", str(tmp_path / "long")])
        pretrain(*args)


def test_a_hub_id_is_a_parent_with_its_own_tokenizer_and_card(parent, tmp_path):
    """Against a local server speaking the Hub API (``tests/local_hub.py``): the weights, the tokenizer files and
    the card come from the repo; the card's ``base_model`` names it."""
    hub = start_hub()
    hub.repos["tester/parent"], hub.commits["tester/parent"] = folder_files(parent), "3" * 40
    child = tmp_path / "child"
    try:
        run = subprocess.run([sys.executable, str(REPO / "examples" / "pretrain.py"), *QUICK_PRETRAIN,
                              *ONE_STEP_AT_ZERO_LR, "--model_name_or_path", "tester/parent", "--output_dir", str(child)],
                             env=hub_env(hub, tmp_path / "hf_home", REPO), capture_output=True, text=True,
                             timeout=600, check=False)
    finally:
        hub.shutdown()
    assert run.returncode == 0, run.stderr[-3000:]
    assert any(path.endswith("/tokenizer_config.json") for path in hub.requests)
    before, after = load_file(parent / "model.safetensors"), load_file(child / "model.safetensors")
    assert all(torch.equal(before[name], after[name]) for name in before)
    metadata = _card_metadata(child)
    parent_tokens = _card_metadata(parent)["randommask"]["tokens_seen"]
    assert metadata["base_model"] == "tester/parent"
    assert metadata["randommask"] == {"tokens_seen": parent_tokens + 8 * 40, "parent": "tester/parent"}
