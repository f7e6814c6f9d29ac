"""One trust rule for checkpoint files (issue 30, bug 1): without --trust_checkpoint_pickles no pickle of a
checkpoint folder is unpickled with weights_only=False, whatever manifest.json says (whoever plants a pickle can
write its checksum too). Older checkpoints (the schedule in accelerate's custom_checkpoint_0.pkl) still resume
exactly; one missing its schedule or an RNG state is refused by name, the latter unless waived."""

import hashlib
import json
import re
from pathlib import Path

import pytest
import torch
from conftest import copy_of, read_log, resume

from modeling_randommask.data.options import OptionError
from modeling_randommask.training.checkpoints import CheckpointError

pytestmark = pytest.mark.slow  # trains real (tiny) models

LATEST, EARLIER = "step-00000012", "step-00000008"


class Payload:
    """Unpickled with weights_only=False, it creates ``marker``: proof that the pickle's code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def forge_manifest(checkpoint: Path, empty: bool = False) -> None:
    """A manifest.json whose checksums match every file, as whoever planted a file can write."""
    files = {} if empty else {
        p.name: {"bytes": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
        for p in sorted(checkpoint.iterdir()) if p.is_file() and p.name != "manifest.json"}
    (checkpoint / "manifest.json").write_text(json.dumps({"files": files}))


def as_older_version(checkpoint: Path) -> None:
    """The checkpoint as versions before scheduler.json wrote it: the schedule pickled by accelerate."""
    state = json.loads((checkpoint / "scheduler.json").read_text())
    (checkpoint / "scheduler.json").unlink()
    torch.save(state, checkpoint / "custom_checkpoint_0.pkl")


@pytest.mark.parametrize("layout", ["current", "older", "older, empty manifest"])
def test_a_planted_pickle_never_runs_whatever_the_manifest_says(finished, tmp_path, layout):
    """A forged manifest (matching checksums) or one of {"files": {}} let a planted custom_checkpoint_0.pkl run
    its payload on resume: accelerate unpickles it with weights_only=False."""
    out = copy_of(finished, tmp_path)
    checkpoint = out / "checkpoints" / LATEST
    marker = tmp_path / "payload-ran"
    if layout != "current":
        as_older_version(checkpoint)
    torch.save({"base_lrs": [1e-3], "payload": Payload(marker)}, checkpoint / "custom_checkpoint_0.pkl")
    forge_manifest(checkpoint, empty=layout.endswith("empty manifest"))
    if layout == "current":  # the schedule is read from scheduler.json; the planted pickle is never opened
        resume(out)
    else:
        with pytest.raises(CheckpointError, match=f"{checkpoint / 'custom_checkpoint_0.pkl'}: not plain data .*"
                                                  "Nothing in it was run. Pass --trust_checkpoint_pickles only if"):
            resume(out)
    assert not marker.exists()


def test_the_flag_is_the_only_way_a_pickle_is_fully_unpickled(finished, tmp_path):
    """The same planted file with --trust_checkpoint_pickles: its code runs (what the flag's help warns of)."""
    out = copy_of(finished, tmp_path)
    checkpoint = out / "checkpoints" / LATEST
    marker = tmp_path / "payload-ran"
    as_older_version(checkpoint)
    torch.save({"payload": Payload(marker)}, checkpoint / "custom_checkpoint_0.pkl")
    forge_manifest(checkpoint)
    with pytest.raises(Exception):  # noqa: B017 - the payload is no schedule; what matters is that it ran
        resume(out, "--trust_checkpoint_pickles")
    assert marker.exists()


def test_a_planted_rng_state_is_refused_by_name(finished, tmp_path):
    """accelerate reads RNG states as plain data but only logs a failure and resumes, no longer exactly."""
    out = copy_of(finished, tmp_path)
    checkpoint = out / "checkpoints" / LATEST
    marker = tmp_path / "payload-ran"
    torch.save({"payload": Payload(marker)}, checkpoint / "random_states_0.pkl")
    forge_manifest(checkpoint)
    with pytest.raises(CheckpointError, match=f"{checkpoint / 'random_states_0.pkl'}: not plain data"):
        resume(out)
    assert not marker.exists()


def test_an_older_checkpoint_still_resumes_exactly(finished, tmp_path):
    out = copy_of(finished, tmp_path)
    checkpoint = out / "checkpoints" / EARLIER
    as_older_version(checkpoint)
    forge_manifest(checkpoint)  # an older version's own manifest listed custom_checkpoint_0.pkl
    resume(out, checkpoint=str(checkpoint))
    assert (out / "model.safetensors").read_bytes() == (finished / "model.safetensors").read_bytes()


def test_an_older_checkpoint_without_its_schedule_is_refused_by_name(finished, tmp_path):
    out = copy_of(finished, tmp_path)
    checkpoint = out / "checkpoints" / LATEST
    (checkpoint / "scheduler.json").unlink()
    forge_manifest(checkpoint)
    with pytest.raises(CheckpointError, match=f"{checkpoint / 'custom_checkpoint_0.pkl'}: missing \\(the learning"):
        resume(out)


def test_a_missing_rng_state_is_refused_unless_waived_and_then_recorded(finished, tmp_path):
    """It used to resume silently, no longer exactly."""
    out = copy_of(finished, tmp_path)
    checkpoint = out / "checkpoints" / EARLIER
    (checkpoint / "random_states_0.pkl").unlink()
    forge_manifest(checkpoint)
    with pytest.raises(CheckpointError, match="random_states_0.pkl: missing .*--allow_resume_changes rng_state"):
        resume(out, checkpoint=str(checkpoint))
    resume(out, "--allow_resume_changes", "rng_state", checkpoint=str(checkpoint))
    events = [r for r in read_log(out) if r.get("event") == "resumed_with_changes"]
    assert events[-1]["changes"] == {"rng_state": ["missing", "fresh"]}
    assert "rng_state" in (out / "README.md").read_text()


@pytest.mark.parametrize("waiver", ["rng_states", "RNG_STATE", "random_states_0.pkl"])
def test_a_mistyped_waiver_is_refused_naming_the_right_one(finished, tmp_path, waiver):
    out = copy_of(finished, tmp_path)
    with pytest.raises(OptionError, match=f"--allow_resume_changes {re.escape(waiver)}: not a setting a resume "
                                          "compares; these are: .*rng_state"):
        resume(out, "--allow_resume_changes", waiver)


@pytest.mark.parametrize("manifest", ['{"files": 3}', '[]', '{"files": {"model.safetensors": {"bytes": "many"}}}'])
def test_a_malformed_manifest_is_named(finished, tmp_path, manifest):
    """It gave a raw KeyError or AttributeError."""
    out = copy_of(finished, tmp_path)
    checkpoint = out / "checkpoints" / LATEST
    (checkpoint / "manifest.json").write_text(manifest)
    with pytest.raises(CheckpointError, match=f"{checkpoint / 'manifest.json'}: not a manifest"):
        resume(out)
