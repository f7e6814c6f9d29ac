"""Non-finite losses in a real (short) pretraining run: isolated faults skip the update and are logged, the
weights stay finite and the run finishes; ``--max_consecutive_faults`` faults in a row stop it with a message."""

import math

import pytest
import torch
from conftest import QUICK_PRETRAIN, read_log
from safetensors.torch import load_file

from modeling_randommask.modeling_randommask import RandomMaskForMaskedLM
from modeling_randommask.training.pretrain_arguments import parse_args
from modeling_randommask.training.pretraining import pretrain

pytestmark = pytest.mark.slow  # every test runs real pretraining

QUICK = QUICK_PRETRAIN


@pytest.fixture
def poison(monkeypatch):
    """``poison({call: value})`` makes the given training forward calls (0-based) return loss * value, keeping the
    graph so that backward runs on the non-finite loss too; also counts the optimizer updates."""
    real_forward, real_step = RandomMaskForMaskedLM.forward, torch.optim.AdamW.step
    counts = {"forward": 0, "updates": 0}
    faults: dict[int, float] = {}

    def forward(self, *args, **kwargs):
        out = real_forward(self, *args, **kwargs)
        if self.training:
            call = counts["forward"]
            counts["forward"] += 1
            if call in faults:
                out.loss = out.loss * faults[call]
        return out

    def step(self, *args, **kwargs):
        counts["updates"] += 1
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(RandomMaskForMaskedLM, "forward", forward)
    monkeypatch.setattr(torch.optim.AdamW, "step", step)

    def arm(chosen: dict[int, float]) -> dict[str, int]:
        faults.update(chosen)
        return counts

    return arm


def _all_finite(weights: dict[str, torch.Tensor]) -> bool:
    return all(torch.isfinite(t).all() for t in weights.values() if t.is_floating_point())


def test_isolated_non_finite_losses_are_skipped_logged_and_training_finishes(tmp_path, poison, caplog):
    counts = poison({2: float("nan"), 6: float("inf"), 9: float("nan")})  # steps 2, 6, 9 (one micro-batch each)
    out = tmp_path / "run"
    pretrain(*parse_args([*QUICK, "--output_dir", str(out)]))

    skipped = [r for r in read_log(out) if r.get("event") == "skipped_non_finite"]
    assert [r["step"] for r in skipped] == [2, 6, 9] and not any(math.isfinite(r["loss"]) for r in skipped)
    assert "non-finite loss" in caplog.text and "update skipped" in caplog.text
    assert counts["forward"] == 12 and counts["updates"] == 12 - 3
    assert _all_finite(load_file(out / "model.safetensors"))
    card = (out / "README.md").read_text()
    assert (out / "config.json").is_file() and "randommask" in card


def test_consecutive_faults_stop_the_run_with_a_message(tmp_path, poison):
    counts = poison({5: float("nan"), 6: float("nan"), 7: float("inf")})
    out = tmp_path / "run"
    with pytest.raises(FloatingPointError, match="3 non-finite steps in a row at step 7: stopping before the weights"):
        pretrain(*parse_args([*QUICK, "--output_dir", str(out), "--max_consecutive_faults", "3"]))

    assert [r["step"] for r in read_log(out) if r.get("event") == "skipped_non_finite"] == [5, 6, 7]
    assert counts["updates"] == 5 and not (out / "model.safetensors").exists()
    checkpoint = out / "checkpoints" / (out / "checkpoints" / "latest").read_text()
    assert checkpoint.name == "step-00000004"
    assert _all_finite(load_file(checkpoint / "model.safetensors"))


def test_batches_whose_mask_selects_no_token_are_not_faults(tmp_path, caplog):
    """One window of 12 tokens per batch: the mask (p = 0.025 per centre) selects no token in most batches. Such a
    batch has no loss; it used to be a NaN loss, counted as a fault, and three in a row stopped the run with
    "lower the learning rate"."""
    out = tmp_path / "run"
    pretrain(*parse_args([*QUICK, "--per_device_train_batch_size", "1", "--max_length", "12", "--output_dir", str(out)]))

    log = read_log(out)
    empty = [r["step"] for r in log if r.get("event") == "skipped_no_labels"]
    trained = [r for r in log if "loss" in r and "event" not in r]
    assert len(empty) >= 3 and not any(r.get("event") == "skipped_non_finite" for r in log)
    assert "non-finite" not in caplog.text
    assert all(r["loss"] is None for r in trained if r["step"] - 1 in empty)  # no made-up loss for them
    assert all(math.isfinite(r["loss"]) for r in trained if r["step"] - 1 not in empty)
    assert all(math.isfinite(r["val_loss"]) for r in log if "val_loss" in r)
    assert _all_finite(load_file(out / "model.safetensors"))
