"""The base-level pipeline travels with masked-LM checkpoints: in a fresh, offline Python where this package is not
importable, ``pipeline("dna-base-probabilities", model=folder, trust_remote_code=True)`` loads the code from the
folder and returns the probabilities this package computes."""

import json

import numpy as np
import pytest
from conftest import run_without_package, tiny_model
from test_base_probabilities import lambda_dna

from modeling_randommask import RandomMaskForSequenceClassification
from modeling_randommask.hub.checkpoint import save_checkpoint
from modeling_randommask.inference import base_probabilities, load_model
from modeling_randommask.pipeline_randommask import CUSTOM_PIPELINES, TASK
from modeling_randommask.tokenization import KmerTokenizer

pytestmark = pytest.mark.slow  # a separate interpreter

CHILD = r'''
import sys
from pathlib import Path
from transformers import pipeline
work = Path(sys.argv[1])
expected = json.loads((work / "expected.json").read_text())
pipe = pipeline("dna-base-probabilities", model=str(work / "mlm"), trust_remote_code=True)
results = {"class": type(pipe).__name__, "module": type(pipe).__module__,
           "default": pipe(expected["dna"], positions=expected["positions"]),
           "options": pipe([expected["dna"], expected["dna"][:30]], positions=[0, 5], rule="product",
                           window_tokens=16)}
try:
    pipeline("dna-base-probabilities", model=str(work / "classifier"), trust_remote_code=True)
    results["classifier"] = "loaded"
except Exception as error:
    results["classifier"] = f"{type(error).__name__}: {error}"
(work / "results.json").write_text(json.dumps(results))
'''


def test_pipeline_in_a_fresh_process_returns_this_package_s_probabilities(tmp_path):
    tokenizer = KmerTokenizer()
    folder = save_checkpoint(tiny_model(max_position_embeddings=64), tokenizer, tmp_path / "mlm")
    save_checkpoint(tiny_model(head=RandomMaskForSequenceClassification, max_position_embeddings=64), tokenizer,
                    tmp_path / "classifier")
    assert json.loads((folder / "config.json").read_text())["custom_pipelines"] == CUSTOM_PIPELINES
    assert "custom_pipelines" not in json.loads((tmp_path / "classifier" / "config.json").read_text())
    # A run folder: the pipeline reads its pretraining window (35 bases: 30 6-mers + [CLS] + [SEP]) like we do.
    (folder / "training_log.jsonl").write_text('{"step": 0, "event": "start", "data": {"window_bases": 35}}\n')

    dna = lambda_dna(3_000, 120).lower()
    positions = [0, 1, 17, 60, 118, 119]
    (tmp_path / "expected.json").write_text(json.dumps({"dna": dna, "positions": positions}))
    run_without_package("import json\n" + CHILD, str(tmp_path), cwd=tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())

    assert results["class"] == "DNABaseProbabilityPipeline"
    assert results["module"].startswith("transformers_modules.") and results["module"].endswith("pipeline_randommask")
    model, tokenizer = load_model(folder, device="cpu")
    ours = base_probabilities(model, tokenizer, dna, positions)  # window from the log: 32 tokens
    theirs = np.array([[row[base] for base in "ACGT"] for row in results["default"]])
    np.testing.assert_allclose(theirs, ours, atol=1e-7)
    assert [row["position"] for row in results["default"]] == positions
    assert "".join(row["base"] for row in results["default"]) == "".join(dna[p].upper() for p in positions)
    assert not np.allclose(ours, base_probabilities(model, tokenizer, dna, positions, window_tokens=64), atol=1e-4)

    for sequence, rows in zip([dna, dna[:30]], results["options"]):
        expected = base_probabilities(model, tokenizer, sequence, [0, 5], rule="product", window_tokens=16)
        np.testing.assert_allclose([[row[base] for base in "ACGT"] for row in rows], expected, atol=1e-7)
    assert results["classifier"].startswith("KeyError") and TASK in results["classifier"]
