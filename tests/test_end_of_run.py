"""The end of a pretraining run: model and card are written before the end-of-run statistics, a statistic that
cannot be computed is reported as such (card and log), and a finished run is never lost to one."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import QUICK_PRETRAIN, read_log, run_script

pytestmark = pytest.mark.slow


def every_sixth_base_n(path, bases: int = 30_000):
    """A valid genome for ``--max_n_fraction 0.5`` that holds no A/C/G/T base with 5 A/C/G/T bases on either side."""
    dna = np.frombuffer(b"ACGT", np.uint8)[np.random.default_rng(3).integers(0, 4, bases)].copy()
    dna[5::6] = ord("N")
    path.write_bytes(b">sixth\n" + b"\n".join(dna[i : i + 60].tobytes() for i in range(0, bases, 60)) + b"\n")
    return path


@pytest.mark.parametrize("kmer_size", [3, 6])  # 3-mers without an N train; every 6-mer holds one: no label at all
def test_a_statistic_that_cannot_be_computed_is_reported_and_the_run_finishes(tmp_path, kmer_size):
    genome, out = every_sixth_base_n(tmp_path / "sixth.fa"), tmp_path / "run"
    options = [*QUICK_PRETRAIN[2:], "--genome", str(genome), "--max_n_fraction", "0.5", "--max_steps", "4",
               "--kmer_size", str(kmer_size), "--output_dir", str(out)]
    for resume in ([], ["--resume_from_checkpoint", "latest"]):  # resuming the finished run ends the same way
        done = run_script([*options, *resume])
        output = done.communicate(timeout=600)[0]
        assert done.returncode == 0, output
        assert "Traceback" not in output and f"wrote {out}" in output
        assert "bits per base could not be computed" in output and "no A/C/G/T base with 5" in output
        card = (out / "README.md").read_text()
        assert "## Bits per base on held-out DNA" in card and "Not computed: " in card
        assert (out / "model.safetensors").is_file()
        assert ("| `final_train_loss` | none: no step's mask selected a token" in card) == (kmer_size == 6)
        unavailable = [r for r in read_log(out) if r.get("event") == "statistic_unavailable"]
        assert unavailable[-1]["statistic"] == "bits_per_base" and "no A/C/G/T base" in unavailable[-1]["reason"]
