"""Saves tiny checkpoints of every head and what they compute (the references `check_checkpoints.py` compares
with) into a folder: the masked-LM (with its `dna-base-probabilities` pipeline), a sequence classifier and a token
classifier, plus `outputs.safetensors` holding tokenizer ids, the three heads' logits and the pipeline's base
probabilities, with the inputs in its metadata.

Run with the package's code on PYTHONPATH: the main suite saves one from the commit under test, and
`tests/fixtures/second_release.tar.gz` was frozen with it from commit c6ceb27:

    PYTHONPATH=. python tests/compat/save_reference_checkpoints.py OUT_DIR [--archive OUT.tar.gz]
"""

import argparse
import json
import tarfile
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import pipeline

from modeling_randommask import (
    RandomMaskConfig,
    RandomMaskForMaskedLM,
    RandomMaskForSequenceClassification,
    RandomMaskForTokenClassification,
)
from modeling_randommask.hub.checkpoint import save_checkpoint

try:
    from modeling_randommask.tokenization import KmerTokenizer
except ModuleNotFoundError:  # the code of a commit before 0.2.0 on PYTHONPATH (second_release.tar.gz: c6ceb27)
    from tokenization import KmerTokenizer

# Lowercase, N, a sequence shorter than k and ragged lengths: the tokenizer rules a release could change.
DNA = ["ACGTACGTTAGCCATG", "ttttGGGGCCCCAAAATTTGA", "ACGNNACGT", "AC", "GATTACAGATTACAGATTACAGATTACA"]
TRUNCATE_TO = 8  # tokens, [CLS] and [SEP] included
PIPELINE_DNA = "GGGCGGCGACCTCGCGGGTTTTCGCTATTTATGAAAATTTTCCGG"
PIPELINE_POSITIONS = [0, 7, 20, 44]
SIZES = {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
         "max_position_embeddings": 64, "kmer_size": 3, "kmer_stride": 1}
HEADS = {"masked-lm": (RandomMaskForMaskedLM, {}),
         "sequence-classification": (RandomMaskForSequenceClassification, {"num_labels": 2, "classifier_pooling": "mean"}),
         "token-classification": (RandomMaskForTokenClassification, {"num_labels": 3})}
LOGITS = {"masked-lm": "mlm_logits", "sequence-classification": "cls_logits", "token-classification": "tok_logits"}


def save_references(out: Path) -> Path:
    """Write the checkpoints and `outputs.safetensors` into `out` (created; must not hold them yet)."""
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    tokenizer = KmerTokenizer(k=SIZES["kmer_size"], kmer_stride=SIZES["kmer_stride"], model_max_length=64)
    batch = tokenizer(DNA, padding=True, return_tensors="pt")
    truncated = tokenizer(DNA, padding="max_length", truncation=True, max_length=TRUNCATE_TO, return_tensors="pt")
    outputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
               "truncated_ids": truncated["input_ids"]}
    for name, (head, extra) in HEADS.items():
        model = head(RandomMaskConfig(vocab_size=len(tokenizer), **SIZES, **extra)).eval()
        save_checkpoint(model, tokenizer, out / name)
        with torch.no_grad():
            outputs[LOGITS[name]] = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    pipe = pipeline("dna-base-probabilities", model=str(out / "masked-lm"), trust_remote_code=True)
    rows = pipe(PIPELINE_DNA, positions=PIPELINE_POSITIONS)
    outputs["base_probabilities"] = torch.tensor([[row[base] for base in "ACGT"] for row in rows], dtype=torch.float64)
    metadata = {"dna": ",".join(DNA), "truncate_to": str(TRUNCATE_TO), "pipeline_dna": PIPELINE_DNA,
                "pipeline_positions": json.dumps(PIPELINE_POSITIONS)}
    save_file({key: value.contiguous() for key, value in outputs.items()}, out / "outputs.safetensors", metadata=metadata)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="folder to write (checkpoints and outputs.safetensors)")
    parser.add_argument("--archive", type=Path, help="also pack the folder into this .tar.gz (a frozen fixture)")
    args = parser.parse_args()
    folder = save_references(args.out_dir)
    if args.archive:
        with tarfile.open(args.archive, "w:gz") as archive:
            archive.add(folder, arcname=args.archive.name.removesuffix(".tar.gz"))
    print(f"saved reference checkpoints to {folder}")
