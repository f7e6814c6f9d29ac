"""The benchmarks run end to end at toy sizes. Their timings are not asserted (shared machines are noisy); what
is checked: the baselines give our ids (asserted inside bench_tokenizer) and the FLOPs a masked-only step skips."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *arguments: str) -> str:
    command = [sys.executable, str(BENCHMARKS / script), *arguments]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_inference_benchmark_paths_agree_with_their_baselines():
    output = _run("bench_inference.py", "--sizes", "tiny", "--sequences", "6", "--variants", "12", "--window_tokens",
                  "64", "--repeats", "1")
    rows = [line for line in output.splitlines() if line.startswith("[tiny]")]
    assert len(rows) == 3 and all("x" in row for row in rows)
    assert all(float(re.search(r"max \|difference\| ([\d.e+-]+)", row).group(1)) < 1e-4 for row in rows)
    assert "masked copies per variant" in rows[2]


@pytest.mark.slow
def test_model_benchmark_counts_the_work_the_masked_only_step_skips():
    output = _run("bench_model.py", "--sizes", "tiny", "--steps", "1", "--batch_size", "2", "--length", "128")
    row = next(line for line in output.splitlines() if line.startswith("tiny"))
    flop_ratio = float(re.findall(r"([\d.]+)x", row)[1])  # the first is the speed-up: timing, not asserted here
    # tiny at 2 x 128: BERT's 4,101-way decoder at every token dominates its step; ours runs it at ~15% of them
    assert 2.5 < flop_ratio < 4.0, row


@pytest.mark.slow
def test_tokenizer_benchmark_baselines_agree_with_the_fast_path():
    output = _run("bench_tokenizer.py", "--sequences", "200", "--slow_sample", "20")
    assert "(a2) DNABERT: seq2kmer + BertTokenizer" in output and "floor:" in output


@pytest.mark.slow
def test_gpu_check_dry_run_exercises_every_part_on_cpu(tmp_path):
    """Without CUDA, gpu_check runs its whole path at toy sizes: every correctness check passes (or is not
    applicable on this device, e.g. the memory-efficient SDPA kernel), every measurement is written."""
    import json

    output = _run("gpu_check.py", "--output_dir", str(tmp_path), "--peak_tflops", "1")
    assert "CUDA is not available" in output and "All checks passed." in output
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["dry_run"] and report["peak_source"] == "--peak_tflops"
    rows = report["masked_only"]["rows"]
    assert {(row["precision"], row["backend"]) for row in rows if row["status"] == "pass"} >= {
        ("float32", "math"), ("bf16", "math")}
    assert all(row["status"] in ("pass", "not applicable") for row in rows)
    assert report["fused_adamw"]["passed"] and report["compile"]["saved_plain_names"]
    assert 1 <= report["compile"]["graphs"] <= 3
    throughput, compiled = report["throughput"], report["compiled_throughput"]
    assert throughput["batch_size"] == 4 and throughput["flop_ratio"] > 1
    eager, bert = throughput["rows"]["randommask"], throughput["rows"]["bert"]
    tokens = throughput["batch_size"] * throughput["length"]
    for row in (eager, bert, compiled):  # timings are not asserted; the figures derived from them are
        seconds = row["step_ms"] / 1e3
        assert row["step_ms_range"][0] <= row["step_ms"] <= row["step_ms_range"][1]
        assert row["tokens_per_s"] == pytest.approx(tokens / seconds)
        assert row["tflops"] == pytest.approx(row["step_tflop"] / seconds) and row["mfu"] == pytest.approx(row["tflops"])
    assert throughput["flop_ratio"] == pytest.approx(bert["step_tflop"] / eager["step_tflop"])
    assert throughput["speed_up"] == pytest.approx(bert["step_ms"] / eager["step_ms"])
    assert compiled["step_tflop"] == pytest.approx(eager["step_tflop"])  # the same step, counted once
    assert compiled["speed_up_over_eager"] == pytest.approx(eager["step_ms"] / compiled["step_ms"])
    assert not report["paper_recipe"]["representative"]  # toy model: labelled as no estimate
    assert 0 <= report["pretrain"]["data_wait_fraction"] < 1 and (tmp_path / "pretrain_training_log.jsonl").is_file()
    assert (tmp_path / "gpu_check.md").read_text() in output

    again = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_check.py"), "--output_dir", str(tmp_path)],
                           capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "gpu_check.json exists" in again.stderr


@pytest.mark.slow
def test_lora_benchmark_trains_far_fewer_parameters_than_full_fine_tuning():
    output = _run("bench_lora.py", "--sizes", "tiny", "--steps", "1", "--batch_size", "4")
    row = next(line for line in output.splitlines() if line.startswith("tiny"))
    full, lora = (int(cell.replace(",", "")) for cell in row.split(" | ")[1:3])
    assert full == 399_746 and 0 < lora < full / 30  # LoRA: r x (in + out) per projection, plus the head


@pytest.mark.slow
def test_corpus_benchmark_runs_whole_runs_through_the_card(tmp_path):
    output = _run("bench_corpus.py", "--gbp", "0.002", "--parts", "whole_run", "--processes", "1",
                  "--workdir", str(tmp_path / "work"), "--output", str(tmp_path / "report.md"))
    rows = [line for line in (tmp_path / "report.md").read_text().splitlines() if line.startswith("| ")]
    labels = [row.split(" | ")[0] for row in rows[1:]]
    assert labels == ["| lambda (baseline)", "| lambda (baseline), resumed at step 5", "| store",
                      "| store, resumed at step 5", "| in RAM", "| in RAM, resumed at step 5"], output[-2000:]
    assert all(float(row.split(" | ")[6].replace(",", "")) > 100 for row in rows[1:])  # a peak RssAnon in MB
