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
    speed_up, flop_ratio = (float(value) for value in re.findall(r"([\d.]+)x", row)[:2])
    assert speed_up > 0
    # tiny at 2 x 128: BERT's 4,101-way decoder at every token dominates its step; ours runs it at ~15% of them
    assert 2.5 < flop_ratio < 4.0, row


@pytest.mark.slow
def test_tokenizer_benchmark_baselines_agree_with_the_fast_path():
    output = _run("bench_tokenizer.py", "--sequences", "200", "--slow_sample", "20")
    assert "(a2) DNABERT: seq2kmer + BertTokenizer" in output and "floor:" in output
