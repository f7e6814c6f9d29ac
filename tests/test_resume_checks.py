"""What a resume refuses, and the one-writer lock: real pretraining runs on the lambda genome.

A resume must continue the run exactly or not start: a damaged checkpoint file (truncated, corrupted, emptied,
missing) is refused by name, and so is a resume that changes a setting the checkpoint was trained with, unless the
user accepts it by name (then the log and the card say so). A second run on a folder another run is writing is
refused; the lock of a run killed with SIGKILL never blocks the next one. Every refusal leaves the folder as it was.
"""

import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ECOLI, LAMBDA, QUICK_PRETRAIN, copy_of, read_log, resume, run_script

from modeling_randommask.masking.saved_masking import MASKING_FILE, OLD_MASKING_FILE
from modeling_randommask.training.checkpoints import CheckpointError
from modeling_randommask.training.output_lock import LOCK_FILE, OutputDirInUseError, output_dir_lock
from modeling_randommask.training.pretrain_arguments import parse_args
from modeling_randommask.training.pretraining import pretrain

pytestmark = pytest.mark.slow  # trains real (tiny) models, kills processes

LATEST, EARLIER = "step-00000012", "step-00000008"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of the run folder outside checkpoints/, with its bytes: what a refused resume must not touch."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and "checkpoints" not in p.parts}


# ---- damaged checkpoint files ------------------------------------------------------------------------------------

def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(255 - b for b in data[middle : middle + 64])  # same size, other bytes
    path.write_bytes(bytes(data))


DAMAGE = [  # (file, how, expected message after the file's path)
    ("random_states_0.pkl", _truncate, r"[\d,]+ bytes, [\d,]+ were written \(truncated or overwritten\)"),
    ("model.safetensors", _flip_bytes, r"contents differ from what was written \(corrupted\)"),
    ("optimizer.bin", _truncate, r"[\d,]+ bytes, [\d,]+ were written \(truncated or overwritten\)"),
    ("training_state.json", lambda p: p.write_text(""), r"0 bytes, \d+ were written"),
    ("optimizer.bin", Path.unlink, "missing from the checkpoint"),
]


@pytest.mark.parametrize("name, damage, message", DAMAGE,
                         ids=["truncated RNG state", "corrupted weights", "truncated optimizer", "empty training state",
                              "missing optimizer"])
def test_damaged_checkpoint_file_is_refused_by_name(finished, tmp_path, name, damage, message):
    """accelerate only logs a truncated RNG-state file at INFO and resumes, and the final weights then differ from
    an uninterrupted run's; other damage gave raw tracebacks. Each is refused before anything is written, naming
    the file and the earlier checkpoint to resume from."""
    out = copy_of(finished, tmp_path)
    damage(out / "checkpoints" / LATEST / name)
    before = snapshot(out)
    expected = re.escape(str(out / "checkpoints" / LATEST / name)) + ": " + message
    with pytest.raises(CheckpointError, match=expected) as error:
        resume(out)
    assert f"--resume_from_checkpoint {out / 'checkpoints' / EARLIER}" in str(error.value)
    assert snapshot(out) == before


def test_checkpoint_without_manifest_is_refused_unless_its_pickles_are_trusted(finished, tmp_path, caplog):
    """Without a manifest nothing says this package wrote the checkpoint, and resuming unpickles its .pkl files
    (which can run any code): refused, before anything is loaded, unless --trust_checkpoint_pickles. Trusted, it
    cannot be verified (a warning says so) and an empty JSON file in it is still named."""
    out = copy_of(finished, tmp_path)
    (out / "checkpoints" / LATEST / "manifest.json").unlink()
    (out / "checkpoints" / LATEST / "training_state.json").write_text("")
    before = snapshot(out)
    with pytest.raises(CheckpointError, match="no manifest.json, so nothing says this package wrote it, and resuming "
                                              "would unpickle random_states_0.pkl"):
        resume(out)
    assert snapshot(out) == before
    with pytest.raises(CheckpointError, match=re.escape(f"{out / 'checkpoints' / LATEST / 'training_state.json'}: "
                                                        "empty (the step and data position)")):
        resume(out, "--trust_checkpoint_pickles")
    assert "no manifest.json (written by an older version)" in caplog.text


def test_latest_pointer_to_a_missing_checkpoint_and_a_missing_path_are_named(finished, tmp_path):
    out = copy_of(finished, tmp_path)
    shutil.rmtree(out / "checkpoints" / LATEST)
    with pytest.raises(CheckpointError, match=f"latest names {LATEST}, which does not exist; resume from an earlier"):
        resume(out)
    with pytest.raises(FileNotFoundError, match="--resume_from_checkpoint nowhere/step-1: no such checkpoint folder"):
        resume(out, checkpoint="nowhere/step-1")


def test_torn_last_log_line_is_dropped_on_resume(finished, tmp_path, caplog):
    """A write cut short (full disk, kill) leaves a last line without its newline: skipped with a warning naming
    the file and line, and dropped when the run resumes."""
    out = copy_of(finished, tmp_path)
    whole = read_log(out)
    with (out / "training_log.jsonl").open("a") as handle:
        handle.write('{"step": 13, "loss": 8.2')
    resume(out, checkpoint=str(out / "checkpoints" / EARLIER))
    assert re.search(r"training_log\.jsonl, line \d+: last line is cut short", caplog.text)
    records = read_log(out)  # every line parses again
    losses = {r["step"]: r["loss"] for r in records if "loss" in r and "event" not in r}
    assert losses == {r["step"]: r["loss"] for r in whole if "loss" in r and "event" not in r}


def test_a_checkpoint_with_the_old_masking_file_name_still_resumes(finished, tmp_path):
    """Checkpoints written before the masking state had one name hold ``OLD_MASKING_FILE`` (and their manifest
    lists it): they resume exactly, and a resume with other masking is refused naming that file."""
    out = copy_of(finished, tmp_path)
    earlier = out / "checkpoints" / EARLIER
    (earlier / MASKING_FILE).rename(earlier / OLD_MASKING_FILE)
    manifest = json.loads((earlier / "manifest.json").read_text())
    manifest["files"][OLD_MASKING_FILE] = manifest["files"].pop(MASKING_FILE)
    (earlier / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=re.escape(f"{earlier / OLD_MASKING_FILE}: the checkpoint was trained with")):
        resume(out, "--num_phases", "2", checkpoint=str(earlier))
    whole = read_log(out)
    resume(out, checkpoint=str(earlier))
    losses = {r["step"]: r["loss"] for r in read_log(out) if "loss" in r and "event" not in r}
    assert losses == {r["step"]: r["loss"] for r in whole if "loss" in r and "event" not in r}
    assert (out / "checkpoints" / LATEST / MASKING_FILE).is_file()


# ---- settings changed on resume ----------------------------------------------------------------------------------

CHANGES = [  # (options of the resumed run, settings the refusal names)
    (["--per_device_train_batch_size", "4"], ["per_device_train_batch_size: 8 -> 4"]),
    (["--seed", "7"], ["seed: 42 -> 7"]),
    (["--max_length", "48"], ["max_length: 40 -> 48"]),
    (["--genome", str(ECOLI)], ["\n  genome: content_sha256 '",
                                f"\n  genome_files (not compared): [0] '{LAMBDA} (48,502 bases, file SHA-256 ",
                                f"' -> '{ECOLI} (4,639,675 bases, file SHA-256 "]),
    (["--learning_rate", "0.002", "--warmup_steps", "3"], ["learning_rate: 0.001 -> 0.002", "warmup_steps: 2 -> 3"]),
]


@pytest.mark.parametrize("extra, named", CHANGES, ids=["batch size", "seed", "max_length", "genome set",
                                                      "learning rate and warmup"])
def test_resume_with_changed_settings_is_refused_naming_them(finished, tmp_path, extra, named):
    out = copy_of(finished, tmp_path)
    before = snapshot(out)
    with pytest.raises(CheckpointError, match="would not continue the run exactly") as error:
        resume(out, *extra)
    message = str(error.value)
    assert all(name in message for name in named), message
    assert "--allow_resume_changes" in message and snapshot(out) == before
    changed = [line for line in message.splitlines()  # one line per changed setting
               if line.startswith("  ") and "(not compared)" not in line]
    assert len(changed) == len(extra) // 2 and all(len(line) < 200 for line in changed), message


def test_model_preset_never_changes_on_resume(finished, tmp_path):
    """Other weight shapes gave a raw "size mismatch"; now it is named, and cannot be allowed."""
    out = copy_of(finished, tmp_path)
    with pytest.raises(CheckpointError, match=r"other model_preset:\n  model_preset: 'tiny' -> 'mini'\nThese never"):
        resume(out, "--model_preset", "mini", "--allow_resume_changes", "model_preset")
    with pytest.raises(ValueError, match="--allow_resume_changes batch_size: not a setting a resume compares"):
        resume(out, "--allow_resume_changes", "batch_size")


def test_allowed_change_is_written_into_the_log_the_checkpoint_and_the_card(finished, tmp_path):
    out = copy_of(finished, tmp_path)
    resume(out, "--per_device_train_batch_size", "4", "--allow_resume_changes", "per_device_train_batch_size",
           checkpoint=str(out / "checkpoints" / EARLIER))
    event = next(r for r in read_log(out) if r.get("event") == "resumed_with_changes")
    assert event == {"step": 8, "event": "resumed_with_changes", "changes": {"per_device_train_batch_size": [8, 4]}}
    state = json.loads((out / "checkpoints" / LATEST / "training_state.json").read_text())
    assert state["resumed_with_changes"] == [{"step": 8, "changes": {"per_device_train_batch_size": [8, 4]}}]
    settings = json.loads((out / "checkpoints" / LATEST / "run_settings.json").read_text())
    assert settings["per_device_train_batch_size"] == 4  # later resumes compare with the new value
    card = (out / "README.md").read_text()
    assert "Resumed at step 8 with changed settings (per_device_train_batch_size: 8 -> 4)" in card


def test_a_checkpoint_recording_a_renamed_option_resumes_under_the_new_name(finished, tmp_path, capsys):
    """Checkpoints written before --per_device_batch_size became --per_device_train_batch_size record the old
    name; they resume exactly, and so does a command line still using the old spelling."""
    out = copy_of(finished, tmp_path)
    checkpoint = out / "checkpoints" / EARLIER
    settings_file = checkpoint / "run_settings.json"
    settings = json.loads(settings_file.read_text())
    settings["per_device_batch_size"] = settings.pop("per_device_train_batch_size")
    settings_file.write_text(json.dumps(settings))
    manifest = json.loads((checkpoint / "manifest.json").read_text())  # as the older version would have sealed it
    manifest["files"]["run_settings.json"] = {"bytes": settings_file.stat().st_size,
                                              "sha256": hashlib.sha256(settings_file.read_bytes()).hexdigest()}
    (checkpoint / "manifest.json").write_text(json.dumps(manifest))
    resume(out, checkpoint=str(checkpoint))
    assert not any(r.get("event") == "resumed_with_changes" for r in read_log(out))
    with pytest.raises(CheckpointError, match="per_device_train_batch_size: 8 -> 4"):
        resume(out, "--per_device_batch_size", "4", checkpoint=str(checkpoint))
    assert "--per_device_batch_size is deprecated, use --per_device_train_batch_size" in capsys.readouterr().err


# ---- one writer per output folder --------------------------------------------------------------------------------

def test_a_locked_folder_is_refused_before_anything_is_written(finished, tmp_path):
    fresh = tmp_path / "fresh"
    with output_dir_lock(fresh):
        with pytest.raises(OutputDirInUseError, match=rf"{re.escape(str(fresh))} is in use by another "
                                                      rf"run \(pid {os.getpid()} on "):
            pretrain(*parse_args([*QUICK_PRETRAIN, "--output_dir", str(fresh)]))
        assert [p.name for p in fresh.iterdir()] == [LOCK_FILE]
        out = copy_of(finished, tmp_path)
        before = snapshot(out)
        with output_dir_lock(out), pytest.raises(OutputDirInUseError):
            resume(out)
        assert snapshot(out) == before
    assert [p.name for p in fresh.iterdir()] == [LOCK_FILE]  # the refused run wrote nothing


HOLD_LOCK = """
import sys, time
from pathlib import Path
from modeling_randommask.training.output_lock import output_dir_lock
with output_dir_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(600)
"""


def test_the_lock_of_a_killed_run_does_not_block_the_next_run(tmp_path):
    out = tmp_path / "run"
    holder = run_script([str(out)], program=("-c", HOLD_LOCK))
    try:
        assert holder.stdout.readline().strip() == "held"  # deterministic: the child holds the lock now
        with pytest.raises(OutputDirInUseError, match=rf"pid {holder.pid} on "):
            pretrain(*parse_args([*QUICK_PRETRAIN, "--output_dir", str(out)]))
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert (out / LOCK_FILE).exists()  # the killed holder's file is left behind, its lock is not
    pretrain(*parse_args([*QUICK_PRETRAIN, "--max_steps", "4", "--output_dir", str(out)]))
    assert (out / "model.safetensors").is_file() and (out / LOCK_FILE).read_text() == ""  # released, kept


def test_two_runs_started_together_one_writes_and_the_other_is_refused(tmp_path):
    """Both used to pass the "not empty" check; one crashed at its first save, or both exited 0 with their losses
    interleaved in one log."""
    out = tmp_path / "run"
    runs = [run_script([*QUICK_PRETRAIN, "--output_dir", str(out)]) for _ in range(2)]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    codes = sorted(run.returncode for run in runs)
    assert codes[0] == 0 and codes[1] != 0, outputs
    refused = outputs[[run.returncode for run in runs].index(codes[1])]
    assert "is in use by another run" in refused or "is not empty" in refused, refused[-2000:]
    log = read_log(out)
    assert [r["event"] for r in log if "event" in r] == ["start"]
    assert [r["step"] for r in log if "loss" in r and "event" not in r] == list(range(1, 13))


def test_resume_over_changed_genome_content_under_the_same_name_is_refused(tmp_path):
    """Same file name, records and length, one base changed: names and counts all match, so the resume used to go
    through silently over other DNA. The bases' SHA-256 is in the checkpoint's settings now."""
    genome = tmp_path / "lambda.fa"
    genome.write_bytes(gzip.decompress(LAMBDA.read_bytes()))
    out = tmp_path / "run"
    options = [*QUICK_PRETRAIN, "--genome", str(genome), "--max_steps", "4", "--output_dir", str(out)]
    pretrain(*parse_args(options))
    lines = genome.read_bytes().split(b"\n")
    lines[100] = bytes(reversed(lines[100]))  # the same letters in another order
    genome.write_bytes(b"\n".join(lines))
    before = snapshot(out)
    with pytest.raises(CheckpointError, match=rf"would not continue the run exactly:\n  genome: content_sha256 "
                                              rf"'\w{{12}}\.\.\.' -> '\w{{12}}\.\.\.'\n  genome_files \(not compared\): "
                                              rf"\[0\] '{re.escape(str(genome))} \(48,502 bases, file SHA-256 \w{{12}}\)' "
                                              rf"-> '{re.escape(str(genome))} \(48,502 bases, file SHA-256 \w{{12}}\)'\n"):
        pretrain(*parse_args([*options, "--resume_from_checkpoint", "latest"]))
    assert snapshot(out) == before


def test_contending_runs_never_hold_one_folder_together(tmp_path):
    """Runs (threads here: a flock belongs to an open file, so they contend like processes) take and release one
    folder's lock as fast as they can for 2 s. When the holder unlinked the lock file on release, a contender that
    had opened it just before locked the deleted file while another locked a fresh one: two holders at once."""
    folder, guard, counts = tmp_path / "run", threading.Lock(), {"holders": 0, "overlaps": 0, "held": 0}

    def contend():
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                with output_dir_lock(folder):
                    with guard:
                        counts["holders"] += 1
                        counts["overlaps"] += counts["holders"] > 1
                        counts["held"] += 1
                    time.sleep(0.0005)
                    with guard:
                        counts["holders"] -= 1
            except OutputDirInUseError:
                pass

    threads = [threading.Thread(target=contend) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts["held"] > 100, counts  # the lock changed hands often enough for the race to show
    assert counts["overlaps"] == 0, f"{counts['overlaps']} times two runs held the folder at once"
    assert (folder / LOCK_FILE).read_text() == ""  # the file stays, without a holder line


def test_the_same_genome_under_another_path_resumes_exactly_with_a_note(finished, tmp_path, caplog):
    """The genome is compared by content: an absolute or relative path, or the same bytes moved and renamed, used
    to be refused (the path was part of the compared settings), and the only way on also accepted other DNA."""
    out = copy_of(finished, tmp_path)
    whole = {r["step"]: r["loss"] for r in read_log(out) if "loss" in r and "event" not in r}
    moved = tmp_path / "elsewhere" / "phage.fa.gz"
    moved.parent.mkdir()
    shutil.copy(LAMBDA, moved)
    for given in (os.path.relpath(moved), str(LAMBDA)):  # moved (given relative), then back at the first path
        with caplog.at_level("WARNING"):
            resume(out, "--genome", given, checkpoint=str(out / "checkpoints" / EARLIER))
        assert {r["step"]: r["loss"] for r in read_log(out) if "loss" in r and "event" not in r} == whole
        assert not any(r.get("event") == "resumed_with_changes" for r in read_log(out))
    assert f"resuming with genome_files: [0] '{LAMBDA} (48,502 bases, file SHA-256 " in caplog.text
    assert f"-> '{os.path.relpath(moved)} (48,502 bases, file SHA-256 " in caplog.text


def test_genome_weights_have_their_own_waiver(tmp_path):
    """Changing the mix also changed the per-file shares recorded under 'genome', so --allow_resume_changes
    genome_weights was not enough, and the waiver that was (genome) accepted other DNA too."""
    other = tmp_path / "other.fa"
    bases = np.frombuffer(b"ACGT", np.uint8)[np.random.default_rng(1).integers(0, 4, 30_000)]
    other.write_bytes(b">other\n" + bases.tobytes() + b"\n")
    out = tmp_path / "run"
    options = [*QUICK_PRETRAIN, "--genome", str(LAMBDA), str(other), "--max_steps", "8", "--output_dir", str(out)]
    pretrain(*parse_args(options))
    resume_options = [*options, "--genome_weights", "1", "3", "--resume_from_checkpoint", str(out / "checkpoints" /
                                                                                               "step-00000004")]
    with pytest.raises(CheckpointError) as error:
        pretrain(*parse_args(resume_options))
    assert "\n  genome_weights: ['bases'] -> ['1', '3']\n" in str(error.value) and "genome:" not in str(error.value)
    pretrain(*parse_args([*resume_options, "--allow_resume_changes", "genome_weights"]))
    event = next(r for r in read_log(out) if r.get("event") == "resumed_with_changes")
    assert event["changes"] == {"genome_weights": [["bases"], ["1", "3"]]}


def test_a_checkpoint_recording_its_genome_files_inside_genome_resumes_exactly(finished, tmp_path):
    """Checkpoints written before the genome was compared by content alone list its files (path, windows, share)
    inside 'genome': they resume exactly, and other DNA is still refused."""
    out = copy_of(finished, tmp_path)
    checkpoint = out / "checkpoints" / EARLIER
    settings_file = checkpoint / "run_settings.json"
    settings = json.loads(settings_file.read_text())
    settings.pop("genome_files")
    settings["genome"]["genomes"] = [{"name": LAMBDA.name, "bases": 48_502, "source": "phage lambda",
                                      "train_windows": 1000, "sampling_share": 1.0}]
    settings_file.write_text(json.dumps(settings))
    manifest = json.loads((checkpoint / "manifest.json").read_text())  # as the older version would have sealed it
    manifest["files"]["run_settings.json"] = {"bytes": settings_file.stat().st_size,
                                              "sha256": hashlib.sha256(settings_file.read_bytes()).hexdigest()}
    (checkpoint / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=r"\n  genome: content_sha256 .*\n  genome_files \(not compared\): "
                                              r"\[0\] 'phage lambda \(48,502 bases\)' -> "):
        resume(out, "--genome", str(ECOLI), checkpoint=str(checkpoint))
    resume(out, checkpoint=str(checkpoint))
    assert not any(r.get("event") == "resumed_with_changes" for r in read_log(out))
