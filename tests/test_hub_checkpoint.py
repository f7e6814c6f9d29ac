"""Saved checkpoints are self-contained Hub folders.

A fresh Python in which this package is not importable (`python -I -S`: no PYTHONPATH, no user site, no
.pth files, hence no editable-install finder; only the site-packages directories are put on sys.path) loads
the folders offline with every Auto class and `trust_remote_code=True`, reproduces the outputs computed here
exactly, and runs the feature-extraction, text-classification and fill-mask pipelines (fill-mask at token level:
a `[MASK]` in the text is one masked token between the k-mers of the DNA around it).
"""

import json
from pathlib import Path

import pytest
import torch
from conftest import REPO, lambda_genome, run_without_package, tiny_model

from modeling_randommask.configuration_randommask import DEFAULT_AUTO_MAP
from modeling_randommask.hub.checkpoint import save_checkpoint
from modeling_randommask.hub.travelling_files import travelling_files
from modeling_randommask.modeling_randommask import (
    RandomMaskForSequenceClassification,
    RandomMaskForTokenClassification,
)
from modeling_randommask.tokenization.tokenization_kmer import KmerTokenizer

pytestmark = pytest.mark.slow  # loads the saved folders in a separate interpreter
LABELS = {0: "no_binding", 1: "binding"}

# Runs in the isolated interpreter (conftest.run_without_package). argv: repo root, work dir. Writes results.json.
CHILD = r'''
import json, sys
from pathlib import Path
repo, work = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
import importlib

def importable(name):
    try:
        importlib.import_module(name)
        return True
    except ModuleNotFoundError:
        return False

results = {
    "isolation": {
        "modeling_randommask": importable("modeling_randommask"),
        "tokenization": importable("tokenization"),
        "repo_on_path": any(Path(p or ".").resolve() == repo for p in sys.path),
    }
}
import torch
from transformers import (AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification,
                          AutoModelForTokenClassification, AutoTokenizer, pipeline)

expected = torch.load(work / "expected.pt", weights_only=True)
folders = {name: str(work / name) for name in ("mlm", "seqcls", "tokcls")}

config = AutoConfig.from_pretrained(folders["mlm"], trust_remote_code=True)
results["config"] = {"module": type(config).__module__, "class": type(config).__name__,
                     "kmer_size": config.kmer_size, "kmer_stride": config.kmer_stride}
tokenizer = AutoTokenizer.from_pretrained(folders["mlm"], trust_remote_code=True)
encoded = tokenizer(expected["sequences"], padding=True, return_tensors="pt")
results["tokenizer"] = {"module": type(tokenizer).__module__, "class": type(tokenizer).__name__,
                        "same_ids": torch.equal(encoded["input_ids"], expected["input_ids"]),
                        "same_mask": torch.equal(encoded["attention_mask"], expected["attention_mask"])}
inputs = {"input_ids": expected["input_ids"], "attention_mask": expected["attention_mask"]}

def compare(got, want):
    return {"equal": torch.equal(got, want), "max_abs_diff": (got - want).abs().max().item()}

results["models"] = {}
for auto, folder, fields in [
    (AutoModelForMaskedLM, "mlm", ["logits"]),
    (AutoModel, "seqcls", ["last_hidden_state", "pooler_output"]),
    (AutoModelForSequenceClassification, "seqcls", ["logits"]),
    (AutoModelForTokenClassification, "tokcls", ["logits"]),
]:
    model = auto.from_pretrained(folders[folder], trust_remote_code=True).eval()
    with torch.no_grad():
        output = model(**inputs)
    entry = {"module": type(model).__module__, "class": type(model).__name__}
    entry.update({field: compare(output[field], expected[f"{folder}.{field}"]) for field in fields})
    if folder == "mlm":
        with torch.no_grad():
            entry["loss"] = compare(model(**inputs, labels=expected["mlm_labels"]).loss, expected["mlm.loss"])
    results["models"][auto.__name__] = entry

def attempt(run):
    try:
        return {"ok": True, "value": run()}
    except Exception as error:  # the report says precisely what fails and why
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}

one = expected["sequences"][0]
extract = pipeline("feature-extraction", model=folders["mlm"], trust_remote_code=True)
results["feature-extraction"] = attempt(
    lambda: compare(torch.tensor(extract(one)), expected["features"])["max_abs_diff"])
classify = pipeline("text-classification", model=folders["seqcls"], trust_remote_code=True)
results["text-classification"] = attempt(lambda: classify(one))
fill = pipeline("fill-mask", model=folders["mlm"], trust_remote_code=True)
results["fill-mask"] = attempt(lambda: fill(expected["fill_mask_text"], top_k=3))
results["fill-mask-tokens"] = fill.tokenizer.convert_ids_to_tokens(fill.tokenizer(expected["fill_mask_text"])["input_ids"])
# What to use instead: mask token ids (the k k-mers covering a base) and read AutoModelForMaskedLM's logits.
mlm = AutoModelForMaskedLM.from_pretrained(folders["mlm"], trust_remote_code=True).eval()
masked = tokenizer(one, return_tensors="pt")
first = expected["masked_base"] - tokenizer.k + 2  # token position of the first k-mer holding the base ([CLS] = 0)
masked["input_ids"][0, first : first + tokenizer.k] = tokenizer.mask_token_id
with torch.no_grad():
    results["masked-ids"] = compare(mlm(**masked).logits[0, first : first + tokenizer.k], expected["masked_logits"])
(work / "results.json").write_text(json.dumps(results, indent=1))
'''


def lambda_windows() -> list[str]:
    genome = lambda_genome()
    return [genome[start : start + length] for start, length in [(1_000, 90), (15_000, 70), (40_000, 50)]]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> tuple[Path, dict]:
    """Three saved folders, the outputs they must reproduce, and what the isolated child process found."""
    work = tmp_path_factory.mktemp("hub")
    tokenizer = KmerTokenizer()
    models = {
        "mlm": tiny_model(),
        "seqcls": tiny_model(head=RandomMaskForSequenceClassification, id2label=LABELS,
                             label2id={v: k for k, v in LABELS.items()}),
        "tokcls": tiny_model(head=RandomMaskForTokenClassification, num_labels=3),
    }
    for name, model in models.items():
        save_checkpoint(model, tokenizer, work / name)

    sequences = lambda_windows()
    encoded = tokenizer(sequences, padding=True, return_tensors="pt")
    inputs = {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
    labels = torch.full_like(inputs["input_ids"], -100)
    labels[:, 5:11] = inputs["input_ids"][:, 5:11]
    single = tokenizer(sequences[0], return_tensors="pt")
    masked_base = 40  # hide this base: mask the 6 overlapping k-mers holding it (token positions 36..41)
    masked_ids = single["input_ids"].clone()
    masked_ids[0, masked_base - 4 : masked_base + 2] = tokenizer.mask_token_id
    # fill-mask text: the DNA before the base, [MASK], the DNA after it -> k-mers, one [MASK] token, k-mers
    fill_ids = tokenizer(sequences[0][:masked_base] + tokenizer.mask_token + sequences[0][masked_base + 1 :],
                         return_tensors="pt")
    fill_at = int((fill_ids["input_ids"][0] == tokenizer.mask_token_id).nonzero())
    with torch.no_grad():
        expected = {
            "sequences": sequences,
            **inputs,
            "mlm_labels": labels,
            "mlm.logits": models["mlm"](**inputs).logits,
            "mlm.loss": models["mlm"](**inputs, labels=labels).loss,
            "seqcls.last_hidden_state": models["seqcls"].bert(**inputs).last_hidden_state,
            "seqcls.pooler_output": models["seqcls"].bert(**inputs).pooler_output,
            "seqcls.logits": models["seqcls"](**inputs).logits,
            "tokcls.logits": models["tokcls"](**inputs).logits,
            "features": models["mlm"].bert(**single).last_hidden_state,
            "single_probabilities": models["seqcls"](**single).logits.softmax(-1)[0],
            "fill_mask_text": sequences[0][:masked_base] + tokenizer.mask_token + sequences[0][masked_base + 1 :],
            "fill_mask_top3": tuple(models["mlm"](**fill_ids).logits[0, fill_at].softmax(-1).topk(3)),
            "masked_base": masked_base,
            "masked_logits": models["mlm"](input_ids=masked_ids).logits[0, masked_base - 4 : masked_base + 2],
        }
    torch.save(expected, work / "expected.pt")

    run_without_package(CHILD, str(REPO), str(work), cwd=work)
    return work, json.loads((work / "results.json").read_text()) | {"expected": expected}


def test_folder_holds_weights_code_and_full_auto_maps(checkpoints):
    work, _ = checkpoints
    for name in ("mlm", "seqcls", "tokcls"):
        folder = work / name
        files = {path.name for path in folder.iterdir()}
        assert set(travelling_files(with_pipeline=False)) | {"model.safetensors", "config.json", "tokenizer_config.json"} <= files, files
        assert not any(file.endswith((".bin", ".pt")) for file in files)
        assert json.loads((folder / "config.json").read_text())["auto_map"] == DEFAULT_AUTO_MAP
        tokenizer_map = json.loads((folder / "tokenizer_config.json").read_text())["auto_map"]
        assert tokenizer_map["AutoTokenizer"][0] == "tokenization_kmer.KmerTokenizer"


def test_child_process_cannot_import_this_package(checkpoints):
    _, results = checkpoints
    assert results["isolation"] == {"modeling_randommask": False, "tokenization": False, "repo_on_path": False}


def test_auto_classes_load_remote_code_and_reproduce_outputs_exactly(checkpoints):
    _, results = checkpoints
    assert results["config"]["class"] == "RandomMaskConfig"
    assert results["config"]["module"].startswith("transformers_modules.")
    assert (results["config"]["kmer_size"], results["config"]["kmer_stride"]) == (6, 1)
    assert results["tokenizer"]["class"] == "KmerTokenizer"
    assert results["tokenizer"]["module"].startswith("transformers_modules.")
    assert results["tokenizer"]["same_ids"] and results["tokenizer"]["same_mask"]
    assert set(results["models"]) == {
        "AutoModelForMaskedLM",
        "AutoModel",
        "AutoModelForSequenceClassification",
        "AutoModelForTokenClassification",
    }
    for auto, entry in results["models"].items():
        assert entry["module"].startswith("transformers_modules."), (auto, entry)
        for field, comparison in entry.items():
            if isinstance(comparison, dict):
                assert comparison["equal"], (auto, field, comparison)


def test_feature_extraction_and_text_classification_pipelines(checkpoints):
    _, results = checkpoints
    expected = results["expected"]
    assert results["feature-extraction"]["ok"], results["feature-extraction"]
    assert results["feature-extraction"]["value"] < 1e-5
    assert results["text-classification"]["ok"], results["text-classification"]
    (prediction,) = results["text-classification"]["value"]
    best = int(expected["single_probabilities"].argmax())
    assert prediction["label"] == LABELS[best]
    assert prediction["score"] == pytest.approx(float(expected["single_probabilities"][best]), abs=1e-5)


def test_fill_mask_pipeline_works_at_token_level_and_masked_ids_hide_a_base(checkpoints):
    """A literal "[MASK]" in the text is the mask token (text is split on special tokens first), so the fill-mask
    pipeline predicts the k-mer at that one token, with the model's own probabilities. Hiding a base takes the
    k overlapping k-mers that hold it: the model on token ids with those set to [MASK] (the recipe in docs/models.md)."""
    _, results = checkpoints
    expected = results["expected"]
    assert results["fill-mask"]["ok"], results["fill-mask"]
    tokens = results["fill-mask-tokens"]
    before, after = 40, len(expected["sequences"][0]) - 41  # bases on each side of the masked one
    assert tokens.count("[MASK]") == 1 and "[UNK]" not in tokens
    assert tokens.index("[MASK]") == 1 + (before - 6 + 1) and len(tokens) == 2 + (before - 5) + 1 + (after - 5)
    predictions = results["fill-mask"]["value"]
    scores, ids = expected["fill_mask_top3"]
    assert [p["token"] for p in predictions] == ids.tolist()
    assert [p["score"] for p in predictions] == pytest.approx(scores.tolist(), abs=1e-6)
    assert all(len(p["token_str"]) == 6 and set(p["token_str"]) <= set("ACGT") for p in predictions)
    assert results["masked-ids"]["equal"], results["masked-ids"]


def test_save_checkpoint_refuses_a_tokenizer_of_another_tokenization(tmp_path):
    model = tiny_model()
    with pytest.raises(ValueError, match=r"tokenizer \(k, stride\) = \(3, 1\)"):
        save_checkpoint(model, KmerTokenizer(k=3), tmp_path)
