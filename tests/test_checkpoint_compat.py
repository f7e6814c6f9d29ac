"""Checkpoints outlive transformers releases: the travelling files use only transformers' stable public surface,
and the standalone checker (tests/compat/check_checkpoints.py, which CI runs in one venv per release from 4.57 to
the newest 5.x) passes on checkpoints saved by this commit and on the frozen second-release fixture.
"""

import ast
import json
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from conftest import lambda_genome, run_without_package, tiny_model, unpack_fixture
from safetensors import safe_open
from safetensors.torch import load_file

from modeling_randommask import RandomMaskForMaskedLM
from modeling_randommask.hub.travelling_files import TRAVELLING_FILES, travelling_files
from modeling_randommask.inference import base_probabilities
from modeling_randommask.tokenization import KmerTokenizer

COMPAT = Path(__file__).parent / "compat"
sys.path.insert(0, str(COMPAT))
from save_reference_checkpoints import HEADS, LOGITS, save_references

# The transformers modules a travelling file may import: what every release from 4.57 to 5.x holds, unchanged.
PUBLIC_MODULES = {"transformers", "transformers.activations", "transformers.modeling_outputs", "transformers.utils",
                  "transformers.tokenization_utils_base"}


def _imports(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("transformers"):
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names if alias.name.startswith("_"))
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names if alias.name.startswith("transformers"))
    return modules


@pytest.mark.parametrize("name", sorted(TRAVELLING_FILES))
def test_travelling_files_import_only_public_transformers_modules(name):
    source = travelling_files(with_pipeline=True)[name].read_text()
    assert _imports(source) <= PUBLIC_MODULES, _imports(source) - PUBLIC_MODULES
    for private in ("_attn_implementation", "masking_utils", "_added_tokens_encoder", "_eventual_warn",
                    "_raise_exceptions", "all_tied_weights_keys", "_gradient_checkpointing_func"):
        assert private not in source, f"{name} uses transformers' private {private}"


def test_the_one_private_fast_path_is_where_call_goes_and_equals_the_public_hooks(monkeypatch):
    """`KmerTokenizer._encode_plus` (a private transformers method) is its vectorised fast path. In this release
    `__call__` reaches it; where a release does not (4.57 batches), the documented hooks give the ids, and they
    are the same."""
    tokenizer = KmerTokenizer(k=3, model_max_length=64)
    lambda_dna = lambda_genome()
    texts = [lambda_dna[:40], lambda_dna[100:117].lower(), "ACGNNACGT", "AC"]
    calls = []
    original = KmerTokenizer._encode_plus
    monkeypatch.setattr(KmerTokenizer, "_encode_plus", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    fast = tokenizer(texts, padding="max_length", truncation=True, max_length=12)
    assert calls, "__call__ no longer reaches _encode_plus: the fast path is dead, only the fallback runs"
    tokenizer.use_vectorized = False  # transformers' own per-token path over the public hooks
    assert tokenizer(texts, padding="max_length", truncation=True, max_length=12) == fast
    hooks = [tokenizer.build_inputs_with_special_tokens(tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text)))
             for text in texts]
    assert fast["input_ids"][2][: len(hooks[2])] == hooks[2] == [2, 16, 1, 1, 1, 1, 16, 50, 3]  # [CLS] ... [SEP]


@pytest.fixture(scope="module")
def second_release(tmp_path_factory) -> Path:
    return unpack_fixture(tmp_path_factory, "second_release")


@pytest.mark.parametrize("name", HEADS)
def test_todays_classes_reproduce_the_second_release_outputs(second_release, name):
    expected = load_file(second_release / "outputs.safetensors")
    head, _ = HEADS[name]
    model = head.from_pretrained(second_release / name).eval()
    with torch.no_grad():
        logits = model(input_ids=expected["input_ids"], attention_mask=expected["attention_mask"]).logits
    torch.testing.assert_close(logits, expected[LOGITS[name]], rtol=0, atol=1e-6)


def test_todays_tokenizer_and_pipeline_reproduce_the_second_release(second_release):
    expected = load_file(second_release / "outputs.safetensors")
    with safe_open(second_release / "outputs.safetensors", "pt") as handle:
        meta = handle.metadata()
    dna = meta["dna"].split(",")
    tokenizer = KmerTokenizer.from_pretrained(second_release / "masked-lm")
    assert torch.equal(tokenizer(dna, padding=True, return_tensors="pt")["input_ids"], expected["input_ids"])
    cut = tokenizer(dna, padding="max_length", truncation=True, max_length=int(meta["truncate_to"]), return_tensors="pt")
    assert torch.equal(cut["input_ids"], expected["truncated_ids"])
    model = RandomMaskForMaskedLM.from_pretrained(second_release / "masked-lm").eval()
    probabilities = base_probabilities(model, tokenizer, meta["pipeline_dna"],
                                       positions=json.loads(meta["pipeline_positions"]))
    torch.testing.assert_close(torch.from_numpy(probabilities).double(), expected["base_probabilities"], rtol=0, atol=1e-6)


def test_checkpoints_saved_now_pass_the_standalone_checker(tmp_path):
    """What CI runs per transformers release, here under the installed one and without this package: checkpoints
    and references saved by the commit under test, then the second-release fixture with this commit's code."""
    fresh = save_references(tmp_path / "fresh")
    checker = COMPAT / "check_checkpoints.py"
    child = "import runpy\nsys.argv = sys.argv[1:]\nrunpy.run_path(sys.argv[0], run_name='__main__')\n"
    run = run_without_package(child, str(checker), str(fresh), cwd=tmp_path)
    assert run.stdout.strip().splitlines()[-1].startswith("all 13 checks passed"), run.stdout
    with tarfile.open(Path(__file__).parent / "fixtures" / "second_release.tar.gz") as archive:
        archive.extractall(tmp_path, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    run = run_without_package(child, str(checker), str(tmp_path / "second_release"), "--code",
                              str(fresh / "masked-lm"), cwd=tmp_path)
    assert run.stdout.strip().splitlines()[-1].startswith("all 13 checks passed"), run.stdout


def test_the_pipelines_private_loading_flags_are_transformers_own():
    """The one other private name a travelling file uses: the pipeline's `_load_tokenizer`-style class flags, which
    `pipeline()` reads (4.57 to 5.x) to decide what to load. Named here so that a release without them shows up;
    the checker's pipeline run in every CI venv shows they still work."""
    from transformers import Pipeline

    from modeling_randommask.pipeline_randommask import DNABaseProbabilityPipeline

    flags = sorted(name for name in vars(DNABaseProbabilityPipeline) if name.startswith("_load_"))
    assert flags and all(hasattr(Pipeline, name) for name in flags), flags


def test_the_model_authors_class_attributes_are_transformers_own():
    """`_tied_weights_keys` and `_keys_to_ignore_on_save` are the class attributes transformers asks a model author
    to set (4.57 to 5.x): the first ties the decoder to the word embeddings, the second lets the Trainer re-tie them
    on resume instead of warning that they are missing (tests/test_masking.py resumes through the Trainer)."""
    from transformers import PreTrainedModel

    assert all(hasattr(PreTrainedModel, name) for name in ("_tied_weights_keys", "_keys_to_ignore_on_save"))
    tied = tiny_model(kmer_size=3)
    assert tied._keys_to_ignore_on_save == set(tied._tied_weights_keys)
    assert tied.cls.predictions.decoder.weight is tied.bert.embeddings.word_embeddings.weight
