"""Checkpoints published by earlier releases keep loading and keep their outputs.

The fixture (tests/fixtures/first_release.tar.gz, made by tests/fixtures/make_first_release.py) holds a masked-LM
and a sequence-classification folder saved by the first release, before the layout change, with that release's
travelling code and its tokenizer file's old ``stride`` key, and the logits that release computed. Today's classes,
tokenizer and tools must read them and give the same numbers; their own travelling code must still load through
transformers' Auto classes on a machine without this package.
"""

import json
from pathlib import Path

import pytest
import torch
from conftest import run_without_package, unpack_fixture
from safetensors import safe_open
from safetensors.torch import load_file

from modeling_randommask import (
    RandomMaskForMaskedLM,
    RandomMaskForSequenceClassification,
    embed,
    load_masked_lm,
)
from modeling_randommask.hub.checkpoint import save_checkpoint
from modeling_randommask.tokenization import KmerTokenizer

HEADS = {"masked-lm": (RandomMaskForMaskedLM, "mlm_logits"),
         "sequence-classification": (RandomMaskForSequenceClassification, "cls_logits")}


@pytest.fixture(scope="module")
def first_release(tmp_path_factory) -> Path:
    return unpack_fixture(tmp_path_factory, "first_release")


@pytest.fixture(scope="module")
def expected(first_release) -> dict[str, torch.Tensor]:
    """What the first release computed: the token ids of ``dna`` and both heads' logits."""
    return load_file(first_release / "outputs.safetensors")


@pytest.fixture(scope="module")
def dna(first_release) -> list[str]:
    """The sequences the first release's outputs are of (kept in their file's metadata)."""
    with safe_open(first_release / "outputs.safetensors", "pt") as outputs:
        return outputs.metadata()["dna"].split(",")


def _logits(model, input_ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=input_ids, attention_mask=(input_ids != 0).long()).logits


def test_todays_tokenizer_reads_the_old_files_and_gives_the_same_ids(first_release, dna, expected):
    tokenizer = KmerTokenizer.from_pretrained(first_release / "masked-lm")
    assert "stride" in json.loads((first_release / "masked-lm" / "tokenizer_config.json").read_text())
    assert (tokenizer.k, tokenizer.kmer_stride) == (3, 2)
    assert torch.equal(tokenizer(dna, padding=True, return_tensors="pt")["input_ids"], expected["input_ids"])


@pytest.mark.parametrize("folder", HEADS)
def test_todays_classes_reproduce_the_first_release_outputs(first_release, expected, folder):
    head, key = HEADS[folder]
    model = head.from_pretrained(first_release / folder).eval()
    torch.testing.assert_close(_logits(model, expected["input_ids"]), expected[key], rtol=0, atol=1e-6)


def test_an_old_classifier_keeps_its_cls_pooling(first_release):
    """Pretraining now records mean pooling; a published classifier was trained with [CLS] and must keep it."""
    model = RandomMaskForSequenceClassification.from_pretrained(first_release / "sequence-classification")
    assert model.config.classifier_pooling == "cls"


def test_tools_take_an_old_masked_lm(first_release, dna):
    model, tokenizer = load_masked_lm(first_release / "masked-lm")
    assert (tokenizer.k, model.config.hidden_size) == (3, 16)
    assert embed(model, tokenizer, dna, progress=False).shape == (len(dna), 16)
    _, info = RandomMaskForSequenceClassification.from_pretrained(first_release / "masked-lm", output_loading_info=True)
    assert all(key.startswith(("classifier", "bert.pooler")) for key in info["missing_keys"]), info["missing_keys"]


def test_resaving_an_old_checkpoint_upgrades_its_code_and_keeps_its_outputs(first_release, expected, tmp_path):
    model, tokenizer = load_masked_lm(first_release / "masked-lm")
    save_checkpoint(model, tokenizer, tmp_path / "upgraded")
    assert json.loads((tmp_path / "upgraded" / "tokenizer_config.json").read_text())["kmer_stride"] == 2
    reloaded = RandomMaskForMaskedLM.from_pretrained(tmp_path / "upgraded").eval()
    torch.testing.assert_close(_logits(reloaded, expected["input_ids"]), expected["mlm_logits"], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_their_own_code_still_loads_through_auto_classes_without_this_package(first_release, dna, tmp_path):
    child = """
import torch
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer
folder = Path(sys.argv[1])
expected = load_file(folder / "outputs.safetensors")
tokenizer = AutoTokenizer.from_pretrained(folder / "masked-lm", trust_remote_code=True)
batch = tokenizer(sys.argv[2].split(","), padding=True, return_tensors="pt")
report = {"same_ids": bool(torch.equal(batch["input_ids"], expected["input_ids"]))}
for auto, name, key in ((AutoModelForMaskedLM, "masked-lm", "mlm_logits"),
                        (AutoModelForSequenceClassification, "sequence-classification", "cls_logits")):
    model = auto.from_pretrained(folder / name, trust_remote_code=True).eval()
    with torch.no_grad():
        logits = model(**batch).logits
    report[name] = {"module": type(model).__module__, "difference": float((logits - expected[key]).abs().max())}
print(json.dumps(report))
"""
    run = run_without_package(child, str(first_release), ",".join(dna), cwd=tmp_path)
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["same_ids"]
    for name in HEADS:
        assert report[name]["module"].startswith("transformers_modules."), report
        assert report[name]["difference"] <= 1e-6, report
