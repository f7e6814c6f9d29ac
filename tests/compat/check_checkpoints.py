"""Checks that saved RandomMask checkpoints load and compute what they computed when saved, under whatever
transformers release is installed. Imports only torch, transformers (and safetensors, which it requires) and the
standard library: it runs in a venv that holds no RandomMask package, so the code that travels with each
checkpoint is all there is.

    python tests/compat/check_checkpoints.py FOLDER [--code CODE_DIR]

FOLDER holds checkpoint folders (`masked-lm`, `sequence-classification`, `token-classification`; any present) and
`outputs.safetensors`, the references saved with them (`save_reference_checkpoints.py`, or the first release's
older layout). Checked, each against its reference where one was saved:
  - tokenizer ids (padding, truncation, [CLS]/[SEP]);
  - the logits of every head (`AutoModelFor*`);
  - the `dna-base-probabilities` pipeline;
  - one `Trainer` fine-tuning step of the classifier, then `save_pretrained` and reload giving the tuned logits.
`--code CODE_DIR` first lays the travelling `*.py` files of CODE_DIR (e.g. a checkpoint saved by the commit under
test) over a copy of each folder: what re-saving an old checkpoint with today's code gives it.
Exits 1 naming every failed check; the last line says what passed.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["HF_MODULES_CACHE"] = tempfile.mkdtemp(prefix="hf_modules_")  # no code left over from another run

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import (
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    Trainer,
    TrainingArguments,
    pipeline,
)

AUTO_CLASSES = {"masked-lm": (AutoModelForMaskedLM, "mlm_logits"),
                "sequence-classification": (AutoModelForSequenceClassification, "cls_logits"),
                "token-classification": (AutoModelForTokenClassification, "tok_logits")}
TOLERANCE = 1e-6  # logits of the same weights through the same arithmetic; only summation order may differ


class Checks:
    """Collects pass/fail lines instead of stopping at the first failure."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[str] = []

    def close(self, name: str, got: torch.Tensor, want: torch.Tensor) -> None:
        if got.shape != want.shape:
            self.failed.append(f"{name}: shape {tuple(got.shape)}, reference {tuple(want.shape)}")
            return
        difference = float((got.double() - want.double()).abs().max()) if got.numel() else 0.0
        self.record(name, difference <= TOLERANCE, f"max |difference| {difference:.2e} > {TOLERANCE}")

    def record(self, name: str, ok: bool, why: str = "") -> None:
        (self.passed if ok else self.failed).append(name if ok else f"{name}: {why}")


def with_code(folder: Path, code: Path | None, work: Path) -> Path:
    """`folder`, or a copy of it whose travelling `*.py` files are those of `code`."""
    if code is None:
        return folder
    copy = work / folder.parent.name / folder.name
    shutil.copytree(folder, copy)
    for source in code.glob("*.py"):
        shutil.copyfile(source, copy / source.name)
    return copy


def logits(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=input_ids, attention_mask=attention_mask).logits


def check_tokenizer(checks: Checks, folder: Path, dna: list[str], meta: dict, expected: dict):
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    batch = tokenizer(dna, padding=True, return_tensors="pt")
    checks.record("tokenizer ids (padding=True)", torch.equal(batch["input_ids"], expected["input_ids"]),
                  f"{batch['input_ids'].tolist()} != {expected['input_ids'].tolist()}")
    if "truncated_ids" in expected:
        length = int(meta["truncate_to"])
        cut = tokenizer(dna, padding="max_length", truncation=True, max_length=length, return_tensors="pt")
        checks.record("tokenizer ids (truncation)", torch.equal(cut["input_ids"], expected["truncated_ids"]),
                      f"{cut['input_ids'].tolist()} != {expected['truncated_ids'].tolist()}")
    if "attention_mask" in expected:
        checks.record("attention mask", torch.equal(batch["attention_mask"], expected["attention_mask"]))
    return tokenizer


def fine_tune_and_reload(checks: Checks, folder: Path, tokenizer, dna: list[str], input_ids, attention_mask,
                         work: Path) -> None:
    """One Trainer step on the classifier; the tuned model saved and reloaded must give its own logits."""
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)
    before = {name: value.detach().clone() for name, value in model.named_parameters()}
    rows = [{"input_ids": ids, "attention_mask": mask, "labels": torch.tensor(i % 2)}
            for i, (ids, mask) in enumerate(zip(input_ids, attention_mask))]
    arguments = TrainingArguments(output_dir=str(work / "trainer"), max_steps=1, per_device_train_batch_size=len(rows),
                                  learning_rate=1e-2, report_to=[], save_strategy="no", use_cpu=True,
                                  disable_tqdm=True, logging_strategy="no")
    result = Trainer(model=model, args=arguments, train_dataset=rows).train()
    changed = sum(not torch.equal(before[name], value) for name, value in model.named_parameters())
    checks.record("Trainer step", result.global_step == 1 and torch.isfinite(torch.tensor(result.training_loss))
                  and changed > 0, f"steps {result.global_step}, loss {result.training_loss}, {changed} tensors changed")
    model.eval()
    tuned = logits(model, input_ids, attention_mask)
    saved = work / "tuned"
    model.save_pretrained(saved)
    tokenizer.save_pretrained(saved)
    reloaded = AutoModelForSequenceClassification.from_pretrained(saved, trust_remote_code=True).eval()
    checks.close("save and reload: tuned logits", logits(reloaded, input_ids, attention_mask), tuned)
    again = AutoTokenizer.from_pretrained(saved, trust_remote_code=True)
    checks.record("save and reload: tokenizer ids", again(dna)["input_ids"] == tokenizer(dna)["input_ids"])


def check_folder(root: Path, code: Path | None) -> Checks:
    checks = Checks()
    with safe_open(root / "outputs.safetensors", "pt") as handle:
        meta = handle.metadata()
    expected = load_file(root / "outputs.safetensors")
    dna = meta["dna"].split(",")
    work = Path(tempfile.mkdtemp(prefix="check_checkpoints_"))
    try:
        folders = {name: with_code(root / name, code, work) for name in AUTO_CLASSES if (root / name).is_dir()}
        tokenizer = check_tokenizer(checks, folders["masked-lm"], dna, meta, expected)
        input_ids = expected["input_ids"]
        attention_mask = expected.get("attention_mask", (input_ids != tokenizer.pad_token_id).long())
        for name, folder in folders.items():
            auto, key = AUTO_CLASSES[name]
            model = auto.from_pretrained(folder, trust_remote_code=True).eval()
            checks.record(f"{name}: code from the folder", type(model).__module__.startswith("transformers_modules"),
                          type(model).__module__)
            checks.close(f"{name} logits", logits(model, input_ids, attention_mask), expected[key])
        if "base_probabilities" in expected:
            pipe = pipeline("dna-base-probabilities", model=str(folders["masked-lm"]), trust_remote_code=True)
            rows = pipe(meta["pipeline_dna"], positions=json.loads(meta["pipeline_positions"]))
            probabilities = torch.tensor([[row[base] for base in "ACGT"] for row in rows], dtype=torch.float64)
            checks.close("dna-base-probabilities pipeline", probabilities, expected["base_probabilities"])
        if "sequence-classification" in folders:
            fine_tune_and_reload(checks, folders["sequence-classification"], tokenizer, dna, input_ids,
                                 attention_mask, work)
    except Exception as error:  # noqa: BLE001 (any failure to load or run is a failed check, reported with the rest)
        checks.failed.append(f"{type(error).__name__}: {error}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="checkpoint folders and outputs.safetensors")
    parser.add_argument("--code", type=Path, help="use the travelling *.py files of this folder instead")
    args = parser.parse_args()
    if not (args.folder / "outputs.safetensors").is_file():
        parser.error(f"{args.folder} holds no outputs.safetensors (the references saved with the checkpoints)")
    if args.code is not None and not any(args.code.glob("*.py")):
        parser.error(f"--code {args.code} holds no *.py files")
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    checks = check_folder(args.folder, args.code)
    code = f" with the code of {args.code}" if args.code else ""
    where = f"{args.folder}{code} under transformers {transformers.__version__}, torch {torch.__version__}"
    for failure in checks.failed:
        print(f"FAILED {failure}", file=sys.stderr)
    if checks.failed:
        print(f"{len(checks.failed)} checks failed, {len(checks.passed)} passed: {where}")
        return 1
    print(f"all {len(checks.passed)} checks passed: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
