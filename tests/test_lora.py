"""LoRA fine-tuning (peft): adapters on the attention projections, merged before saving, so the folder loads and
gives the same logits in a process where neither peft nor this package can be imported."""

import json

import pytest
import torch
from conftest import run_without_package
from peft import PeftModel
from safetensors.torch import load_file
from synthetic_tasks import tiny_checkpoint, write_gc_task

from modeling_randommask import RandomMaskForSequenceClassification
from modeling_randommask.tokenization import KmerTokenizer
from modeling_randommask.training.finetune_recipes import finetune_training_arguments
from modeling_randommask.training.finetuning import FinetuneArguments, finetune

pytestmark = pytest.mark.slow

SEQUENCES = ["ACGTTGCAGGCTAGCTAGGATCGATCGGCGCTTAAGCATGCA", "TTTTAAAACCCGGGTATATACGCGAT", "GATTACAGATTACAGATTACA"]

CHILD = '''
sys.modules["peft"] = None  # this process cannot import peft, as on a machine without it
assert importlib.util.find_spec("peft") is None
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

folder, sequences = sys.argv[1], json.loads(sys.argv[2])
tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
with torch.no_grad():
    logits = model(**tokenizer(sequences, return_tensors="pt", padding=True)).logits
print(json.dumps(logits.tolist()))
'''


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")  # peft asks transformers
def test_a_lora_run_saves_a_merged_folder_that_loads_without_peft_with_the_same_logits(tmp_path):
    pretrained = tiny_checkpoint(tmp_path / "tiny")
    task = write_gc_task(tmp_path / "gc" / "task", {"train": 128, "dev": 32, "test": 32})
    out = tmp_path / "lora"
    results = finetune(FinetuneArguments(model=str(pretrained), task=str(task), lora_r=4, lora_alpha=8),
                       finetune_training_arguments(task, output_dir=str(out), num_train_epochs=2, learning_rate=5e-3))
    assert results["hyper_parameters"]["fine_tuning"].startswith("LoRA r=4 alpha=8")
    assert results["seeds"][0]["trainable_parameters"] < 10_000  # adapters + head, of ~400k parameters
    folder = out / "model"
    assert not (folder / "adapter_config.json").exists()
    query = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(load_file(folder / "model.safetensors")[query],
                           load_file(pretrained / "model.safetensors")[query]), "the adapters were not merged in"

    # The merged in-memory model, rebuilt from the best checkpoint the Trainer kept (adapters + head).
    (checkpoint,) = (out / "seed-42").glob("checkpoint-*")
    base = RandomMaskForSequenceClassification.from_pretrained(pretrained, num_labels=2)
    adapted = PeftModel.from_pretrained(base, checkpoint).eval()
    inputs = KmerTokenizer(k=6)(SEQUENCES, return_tensors="pt", padding=True)
    with torch.no_grad():
        unmerged = adapted(**inputs).logits
        merged = adapted.merge_and_unload()(**inputs).logits

    child = run_without_package(CHILD, str(folder), json.dumps(SEQUENCES), cwd=tmp_path)
    loaded = torch.tensor(json.loads(child.stdout.strip().splitlines()[-1]))
    torch.testing.assert_close(loaded, merged, rtol=0, atol=1e-6)
    torch.testing.assert_close(loaded, unmerged, rtol=1e-4, atol=1e-5)
