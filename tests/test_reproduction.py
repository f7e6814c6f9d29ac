"""The mini reproduction end to end on a tiny budget (real genome, real GUE rows), its tables, its restart, and the
sinusoidal position init it relies on."""

import gzip
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import LAMBDA

from modeling_randommask.analysis.reproduction import (
    VARIANTS,
    ReproduceArguments,
    render_report,
    reproduce,
    table2,
    table3,
)
from modeling_randommask.data.genome_windows import GenomeDataConfig
from modeling_randommask.data.gue import PAPER_TABLE3_MCC
from modeling_randommask.training.pretrain_arguments import PretrainArguments, parse_args
from modeling_randommask.training.pretraining import sinusoidal_init_

pytestmark = pytest.mark.slow  # pretrains and fine-tunes three models


def _head(source: Path, target: Path, rows: int) -> None:
    """The header and first ``rows`` rows of a real GUE split."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(source, "rt") as handle:
        target.write_text("".join(line for _, line in zip(range(rows + 1), handle)))


@pytest.fixture(scope="module")
def tasks(tmp_path_factory, gue) -> Path:
    """Small copies of two real tasks: core promoters (train/dev/test) and EMP H3 (dev/test only, as shipped)."""
    root = tmp_path_factory.mktemp("gue")
    for split in ("train", "dev", "test"):
        _head(gue / "prom" / "prom_core_tata" / f"{split}.csv.gz", root / "prom" / "prom_core_tata" / f"{split}.csv",
              96)
    for split in ("dev", "test"):
        _head(gue / "EMP" / "H3" / f"{split}.csv.gz", root / "EMP" / "H3" / f"{split}.csv", 48)
    return root


def _quick(tasks: Path, out: Path, **options) -> tuple[ReproduceArguments, PretrainArguments, GenomeDataConfig]:
    """The reproduction's three option sets at a tiny budget; ``options`` replace ReproduceArguments fields."""
    return (ReproduceArguments(tasks=[str(tasks)], finetune_epochs=1, finetune_max_train_samples=64, tsne=False,
                               **options),
            PretrainArguments(output_dir=str(out), per_device_train_batch_size=8, max_steps=10, warmup_steps=2,
                              position_embedding_init="sinusoidal", eval_every=1, save_every=2),
            GenomeDataConfig(genome=[str(LAMBDA)], max_length=32))


@pytest.fixture(scope="module")
def quick_run(tasks, tmp_path_factory):
    runs = _quick(tasks, tmp_path_factory.mktemp("reproduce"))
    return runs, reproduce(*runs)


def test_every_model_is_pretrained_with_one_budget_and_its_own_masking(quick_run):
    (_, pre, _), report = quick_run
    out = Path(pre.output_dir)
    for label, options in VARIANTS.items():
        card = (out / "pretrain" / label / "README.md").read_text()
        config = json.loads((out / "pretrain" / label / "config.json").read_text())
        log = [json.loads(line) for line in (out / "pretrain" / label / "training_log.jsonl").read_text().splitlines()]
        schedule = next(r for r in log if r.get("event") == "start")["schedule"]
        assert config["kmer_stride"] == (1 if options["tokenization"] == "overlapping" else 6)
        assert max(r["step"] for r in log if "val_loss" in r) == pre.max_steps
        assert schedule["total_steps"] == pre.max_steps and "sinusoidal" in card
        assert schedule["num_phases"] == (5 if label == "RandomMask" else 1)
    assert report["settings"]["pretraining"]["max_steps"] == pre.max_steps


def test_the_report_sets_every_model_against_from_scratch_and_a_kmer_model(quick_run):
    (_, pre, _), report = quick_run
    scratch = Path(pre.output_dir) / "pretrain" / "from-scratch"
    pretrained = Path(pre.output_dir) / "pretrain" / "DNABERT"
    assert json.loads((scratch / "config.json").read_text()) == json.loads((pretrained / "config.json").read_text())
    assert [r["paper_column"] for r in report["from_scratch"]] == ["EMP H3", "CPD tata"]
    assert all(r["train_examples"] == k["train_examples"] for r, k in zip(report["from_scratch"], report["kmer"]))
    rows = report["baselines"].splitlines()
    assert rows[0] == "| task | from scratch | k-mer linear | DNABERT: gain | RandomMask: gain | non-overlapping: gain |"
    assert len(rows) == 4 and "## Against baselines" in render_report(report)


def test_each_model_is_fine_tuned_on_every_task_with_both_tokenizations(quick_run):
    _, report = quick_run
    for label in VARIANTS:
        for tokenization in ("overlapping", "non_overlapping"):
            rows = report["results"][label][tokenization]
            assert [r["paper_column"] for r in rows] == ["EMP H3", "CPD tata"]
            assert all(r["tokenization"] == tokenization for r in rows)
            assert rows[0]["selection"] == "last epoch (no dev split)"  # EMP H3 trains on dev
            assert -1.0 <= rows[1]["test"]["mcc"]["mean"] <= 1.0


def test_report_holds_both_tables_the_diagnostics_and_figures(quick_run):
    (_, pre, _), report = quick_run
    text = (Path(pre.output_dir) / "report.md").read_text()
    assert report["table2"] in text and report["table3"] in text and report["diagnostics"] in text
    table2_rows = [line for line in report["table2"].splitlines()[2:]]
    assert len(table2_rows) == 6 and table2_rows[0].startswith("| DNABERT (overlapping) | overlapping |")
    cpd = next(line for line in report["table3"].splitlines() if line.startswith("| CPD tata"))
    assert f"{PAPER_TABLE3_MCC['CPD tata']['DNABERT']:.2f}" in cpd
    assert report["diagnostics"].splitlines()[0] == "| diagnostic | DNABERT | RandomMask | non-overlapping |"
    assert "phase 4 val loss (last)" in report["diagnostics"]  # RandomMask's five phases reached
    assert all(Path(png).is_file() for png in report["figures"].values())
    assert json.loads((Path(pre.output_dir) / "report.json").read_text())["table3"] == report["table3"]


def test_a_rerun_reuses_finished_stages(quick_run):
    (args, pre, data), report = quick_run
    out = Path(pre.output_dir)
    weights = {label: (out / "pretrain" / label / "model.safetensors").stat().st_mtime_ns for label in VARIANTS}
    results = sorted(out.glob("finetune/*/*/*/results.json"))
    stamps = [p.stat().st_mtime_ns for p in results]

    again = reproduce(args, pre, data)

    assert again["table2"] == report["table2"] and again["table3"] == report["table3"]
    assert weights == {label: (out / "pretrain" / label / "model.safetensors").stat().st_mtime_ns for label in VARIANTS}
    assert [p.stat().st_mtime_ns for p in results] == stamps and len(results) == 3 * 2 * 2 + 2  # + from scratch


def test_an_interrupted_pretraining_resumes_from_its_checkpoint(quick_run, tmp_path):
    (args, pre, data), _ = quick_run
    source = Path(pre.output_dir) / "pretrain" / "DNABERT"
    out = tmp_path / "run"
    args, pre = replace(args, pretraining_variants=["DNABERT"], finetune_tokenizations=["overlapping"]), replace(pre, output_dir=str(out))
    reproduce(args, pre, data)
    folder = out / "pretrain" / "DNABERT"
    (folder / "README.md").unlink()  # as if killed after the last checkpoint, before the card was written

    reproduce(args, pre, data)

    assert (folder / "README.md").is_file()
    def trained(folder: Path) -> list[int]:
        records = map(json.loads, (folder / "training_log.jsonl").read_text().splitlines())
        return [r["step"] for r in records if "event" not in r]

    assert trained(folder) == trained(source)  # resumed at the last checkpoint: no step trained twice


def test_unknown_variants_are_refused(tasks, tmp_path):
    with pytest.raises(ValueError, match="unknown variant or tokenization"):
        reproduce(*_quick(tasks, tmp_path, pretraining_variants=["BPE"]))


def _result(task: str, column: str | None, mcc: list[float], tokenization: str = "overlapping") -> dict:
    mean = sum(mcc) / len(mcc)
    std = (sum((m - mean) ** 2 for m in mcc) / max(len(mcc) - 1, 1)) ** 0.5
    return {"task": task, "paper_column": column, "primary_metric": "mcc", "tokenization": tokenization,
            "seeds": [{"seed": i} for i in range(len(mcc))], "test": {"mcc": {"mean": mean, "std": std, "n": len(mcc)}}}


def test_tables_are_the_papers_layout_with_this_runs_numbers():
    results = {
        "DNABERT": {"overlapping": [_result("prom_core_tata", "CPD tata", [0.5, 0.6]), _result("x", None, [0.2])]},
        "RandomMask": {"overlapping": [_result("prom_core_tata", "CPD tata", [0.7, 0.7]), _result("x", None, [0.1])]},
    }
    two = table2(results).splitlines()
    assert two[0] == "| pretrained | fine-tuned | CPD tata | x | mean |"
    assert two[2] == "| DNABERT (overlapping) | overlapping | 55.00 ± 7.07 | 20.00 | 37.50 |"
    three = table3(results).splitlines()
    assert three[2] == "| CPD tata | 55.00 | 70.00 | +15.00 | 76.06 | 76.65 | +0.59 |"
    assert three[3] == "| x | 20.00 | 10.00 | -10.00 | - | - | - |"
    assert "needs the DNABERT and RandomMask" in table3({"DNABERT": results["DNABERT"]})


def test_sinusoidal_position_init_makes_offsets_linear_maps():
    """What the init is for: position i+3's code is one fixed linear map of position i's (for every i), so attention
    can find a neighbour from the first step; BERT's random init has no such map."""
    sinusoid = sinusoidal_init_(torch.empty(128, 64))
    random = torch.randn(128, 64) * 0.02

    def residual(codes: torch.Tensor) -> float:
        source, target = codes[:-3].double(), codes[3:].double()
        solution = torch.linalg.lstsq(source, target).solution
        return float((source @ solution - target).norm() / target.norm())

    assert residual(sinusoid) < 1e-6 and residual(random) > 0.5
    assert sinusoid.abs().max() == pytest.approx(0.1, rel=1e-3)
    assert torch.allclose(sinusoid[0, 1::2], torch.full((32,), 0.1))  # cos(0) on odd coordinates


def test_an_unknown_position_init_is_refused_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--genome", str(LAMBDA), "--output_dir", str(tmp_path / "m"), "--position_embedding_init", "learned"])
    assert "invalid choice: 'learned'" in capsys.readouterr().err and not (tmp_path / "m").exists()
