"""The one writer of output files (issue 30, bugs 2, 6, 7, 8): a name held by a device, a FIFO or a link to one is
refused and never renamed over; a full disk or a file-size limit is one error line and leaves no partial file;
SIGTERM cleans up like Ctrl-C and ends with status 143."""

import errno
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, tiny_model

from modeling_randommask import save_checkpoint
from modeling_randommask.cli import embed as embed_cli
from modeling_randommask.cli import score_variants as variants_cli
from modeling_randommask.data.output_files import OutputError, check_new_outputs, partial_file, write_whole
from modeling_randommask.inference import open_writer, read_sequences
from modeling_randommask.tokenization import KmerTokenizer

DNA = "ACGTTGCAAGGCTTAACCGGATCGATTACG" * 40


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_checkpoint(tiny_model(max_position_embeddings=64), KmerTokenizer(), tmp_path_factory.mktemp("m") / "model")


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (needs root; skipped otherwise)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True,
                             check=False)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "--lazy", str(disk)], check=True)


def fails(main, argv) -> str:
    """The one line a command ends with (``sys.exit("error: ...")``)."""
    with pytest.raises(SystemExit) as exit_:
        main([str(a) for a in argv])
    assert isinstance(exit_.value.code, str), exit_.value.code
    return exit_.value.code


# ---- bug 2: names that are not regular files ---------------------------------------------------------------------

def _device(path: Path) -> Path:
    """A character device node like /dev/null at ``path`` (root only), so that no test ever risks the real one."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    return path


@pytest.mark.parametrize("kind", ["device", "link_to_device", "fifo"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_an_output_that_is_not_a_regular_file_is_refused_and_left_as_it_was(tmp_path, model, kind, overwrite):
    """As root, --output /dev/stdout --overwrite replaced the /dev/stdout link with a regular file, and without
    --overwrite the message suggested adding it."""
    target = tmp_path / "out.tsv"
    if kind == "device":
        _device(target)
    elif kind == "link_to_device":
        target.symlink_to(_device(tmp_path / "null"))
    else:
        os.mkfifo(target)
    variants = tmp_path / "calls.vcf"
    variants.write_text("#CHROM\tPOS\tID\tREF\tALT\n1\t5\t.\tT\tA\n")
    (tmp_path / "ref.fa").write_text(f">1\n{DNA}\n")
    before = os.lstat(target)
    err = fails(variants_cli.main, ["--model", model, "--genome", tmp_path / "ref.fa", "--variants", variants,
                                    "--output", target, *(["--overwrite"] if overwrite else [])])
    assert err.startswith(f"error: --output {target} is ") and "not a regular file" in err, err
    assert "--overwrite" not in err and "\n" not in err
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert not Path(f"{target}.summary.json").exists()


def test_a_name_that_becomes_a_device_while_writing_is_not_renamed_over(tmp_path):
    output = tmp_path / "out.tsv"
    check_new_outputs([output], overwrite=True)
    with pytest.raises(OutputError, match="not a regular file"), partial_file(output, overwrite=True) as temp:
        temp.write_text("rows")
        output.symlink_to(_device(tmp_path / "null"))
    assert output.is_symlink() and sorted(os.listdir(tmp_path)) == ["null", "out.tsv"]


# ---- bugs 6, 7: a full disk, a file-size limit --------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".npy", ".safetensors", ".parquet"])
def test_a_full_disk_is_one_error_naming_the_file_and_leaves_nothing(small_disk, suffix):
    """Writing .npy or .safetensors onto a full filesystem ended with SIGBUS (exit 135), no message, and a hidden
    .partial holding the space."""
    sequences = read_sequences([DNA] * 6)
    output = small_disk / f"out{suffix}"
    with pytest.raises(OutputError, match=f"{output}: No space left on device"), \
            open_writer(output, sequences, 64, per_base=True) as writer:
        for record in range(6):
            writer.write(record, 0, np.random.default_rng(record).random((len(DNA), 64), dtype=np.float32))
    assert os.listdir(small_disk) == []


def test_embed_on_a_full_disk_ends_with_one_error_line(small_disk, tmp_path, model):
    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">r{i}\n{DNA}\n" for i in range(6)))
    run = subprocess.run([sys.executable, str(REPO / "examples" / "embed.py"), "--model", str(model), "--input",
                          str(fasta), "--output", str(small_disk / "e.npy"), "--per_base"], capture_output=True,
                         text=True, env=dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO)), check=False)
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith(f"error: {small_disk / 'e.npy'}: No space left"), run.stderr
    assert "Traceback" not in run.stderr and os.listdir(small_disk) == []


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))


@pytest.mark.parametrize("suffix", [".npy", ".safetensors"])
def test_a_file_size_limit_leaves_no_partial_file(tmp_path, suffix):
    """Under `ulimit -f`, sizing the file failed before the writer's cleanup block: the partial file stayed."""
    code = ("import numpy as np, sys\nfrom modeling_randommask.inference import open_writer, read_sequences\n"
            f"with open_writer(sys.argv[1], read_sequences([{DNA!r}] * 3), 64, per_base=True):\n    pass\n")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"out{suffix}")], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO)), preexec_fn=_limit_file_size, check=False)
    assert "File too large" in run.stderr and "OutputError" in run.stderr, run.stderr
    assert os.listdir(tmp_path) == []


def test_a_result_file_on_a_full_disk_is_one_error_and_the_old_file_is_kept(small_disk):
    result = small_disk / "results.json"
    write_whole(result, '{"done": 1}')
    with pytest.raises(OutputError, match=f"{result}: No space left on device"):
        write_whole(result, "x" * 2_000_000)
    assert result.read_text() == '{"done": 1}' and os.listdir(small_disk) == ["results.json"]


# ---- bug 8: SIGTERM ----------------------------------------------------------------------------------------------

PAUSING_EMBED = """
import sys, time
from pathlib import Path
from modeling_randommask.cli import embed
from modeling_randommask.inference import outputs

real_write = outputs._MemmapWriter.write

def write(self, *args):
    real_write(self, *args)
    Path(sys.argv[1]).write_text("paused")
    time.sleep(600)

outputs._MemmapWriter.write = write
embed.main(sys.argv[2:])
"""


def test_sigterm_mid_write_removes_the_partial_file_and_exits_143(tmp_path, model):
    """SIGTERM (kill, timeout, scancel, docker stop) used to leave the hidden partial file behind."""
    fasta, out, marker = tmp_path / "in.fa", tmp_path / "out", tmp_path / "paused"
    fasta.write_text(f">a\n{DNA}\n")
    out.mkdir()
    process = subprocess.Popen([sys.executable, "-c", PAUSING_EMBED, str(marker), "--model", str(model), "--input",
                                str(fasta), "--output", str(out / "e.npy")], stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO)))
    deadline = time.monotonic() + 300
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), process.communicate()[1][-2000:]
    assert any(name.endswith(".partial") for name in os.listdir(out))
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "Traceback" not in err and "terminated (SIGTERM)" in err, err
    assert os.listdir(out) == []


# ---- the one error path ------------------------------------------------------------------------------------------

def test_an_os_error_on_a_users_path_is_one_line_naming_it(tmp_path):
    """Permission denied, a full disk or a read-only folder printed a traceback."""
    from modeling_randommask.cli.entry import run_command

    def denied():
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "locked.tsv"))

    with pytest.raises(SystemExit) as exit_:
        run_command(denied)
    assert exit_.value.code == f"error: {tmp_path / 'locked.tsv'}: Permission denied"


@pytest.mark.parametrize("bug", [ZeroDivisionError("a bug"), OSError(errno.ENOSPC, "no file named"),
                                 ValueError("an unexpected value")])
def test_a_real_bug_keeps_its_traceback(bug):
    from modeling_randommask.cli.entry import run_command

    def fails():
        raise bug

    with pytest.raises(type(bug)):
        run_command(fails)


def test_a_read_only_output_folder_is_one_line(small_disk, tmp_path, model):
    fasta = tmp_path / "in.fa"
    fasta.write_text(f">a\n{DNA}\n")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    err = fails(embed_cli.main, ["--model", model, "--input", fasta, "--output", small_disk / "e.npy"])
    assert err == f"error: {small_disk / 'e.npy'}: Read-only file system (nothing was written there; the partial " \
                  "file was removed)"


def test_a_post_parse_option_check_is_one_line(tmp_path):
    """A --genome_weights count mismatch (checked when the genomes are read) printed a traceback."""
    from conftest import QUICK_PRETRAIN

    from modeling_randommask.cli import pretrain as pretrain_cli

    err = fails(pretrain_cli.main, [*QUICK_PRETRAIN, "--genome_weights", "1", "2", "--output_dir", tmp_path / "out"])
    assert err.startswith("error: --genome_weights: 2 numbers for 1 genome files"), err


@pytest.mark.parametrize("model_id", ["nobody/mistyped-model", "mistyped_model"])
@pytest.mark.parametrize("command", ["embed", "score_variants"])
def test_a_mistyped_model_is_one_line_in_every_inference_command(tmp_path, model_id, command):
    """embed and score-variants gave two chained tracebacks about the Hub; finetune and analyze gave one line."""
    (tmp_path / "in.fa").write_text(f">1\n{DNA}\n")
    (tmp_path / "calls.vcf").write_text("#CHROM\tPOS\tID\tREF\tALT\n1\t5\t.\tT\tA\n")
    argv = {"embed": ["--input", tmp_path / "in.fa", "--output", tmp_path / "e.npy"],
            "score_variants": ["--genome", tmp_path / "in.fa", "--variants", tmp_path / "calls.vcf", "--output",
                               tmp_path / "s.tsv"]}[command]
    main = embed_cli.main if command == "embed" else variants_cli.main
    err = fails(main, ["--model", model_id, *argv])
    assert err.startswith(f"error: model '{model_id}': no such local folder, and as a Hub repo id it could not"), err


def test_a_header_only_vcf_is_refused_not_scored_into_an_empty_table(tmp_path, model):
    (tmp_path / "in.fa").write_text(f">1\n{DNA}\n")
    (tmp_path / "calls.vcf").write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n")
    err = fails(variants_cli.main, ["--model", model, "--genome", tmp_path / "in.fa", "--variants",
                                    tmp_path / "calls.vcf", "--output", tmp_path / "s.tsv"])
    assert err == f"error: {tmp_path / 'calls.vcf'}: no variant lines (only a header): nothing to score, no output " \
                  "written"
    assert sorted(os.listdir(tmp_path)) == ["calls.vcf", "in.fa"]
