"""Every command reports an expected error as one ``error:`` line (or an argparse usage error) naming the option,
file and line, before any model, genome or training is loaded where the check allows; a traceback means a bug.
Each case calls the command's ``main(argv)`` in this process, as its console script would."""

from pathlib import Path

import pytest
from conftest import QUICK_PRETRAIN
from synthetic_tasks import tiny_checkpoint, write_gc_fraction_task, write_gc_task

from modeling_randommask.analysis.benchmark import run_benchmark
from modeling_randommask.cli import analyze, benchmark_gue, finetune, pretrain
from modeling_randommask.training.finetuning import FinetuneArguments

COUNTS = {"train": 16, "dev": 8, "test": 8}


def _relabel(folder: Path, split: str, label) -> Path:
    """Rewrite the labels of ``split`` with ``label(row index, old label)``."""
    path = folder / f"{split}.csv"
    header, *rows = path.read_text().splitlines()
    path.write_text("\n".join([header, *(f"{row.rsplit(',', 1)[0]},{label(i, row.rsplit(',', 1)[1])}"
                                         for i, row in enumerate(rows))]) + "\n")
    return folder


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A tiny checkpoint and task folders, good and bad, shared by the cases."""
    root = tmp_path_factory.mktemp("errors")
    tiny_checkpoint(root / "model")
    write_gc_task(root / "good", COUNTS)
    _relabel(write_gc_task(root / "yesno", COUNTS), "train", lambda i, old: "yes" if old == "1" else "no")
    _relabel(write_gc_task(root / "nan", COUNTS), "train", lambda i, old: "nan" if i == 3 else old)
    _relabel(write_gc_task(root / "one_class", COUNTS), "train", lambda i, old: "0")
    _relabel(write_gc_task(root / "one_two", COUNTS), "train", lambda i, old: int(old) + 1)
    (write_gc_task(root / "empty_dev", COUNTS) / "dev.csv").write_text("sequence,label\n")
    for family in ("a", "b"):
        write_gc_task(root / family / "tf" / "0", COUNTS)
    write_gc_fraction_task(root / "mixed" / "EAP" / "gc", COUNTS)
    write_gc_task(root / "mixed" / "other" / "gc", COUNTS)
    (root / "one_base.fa").write_text(">tiny\nA\n")
    return root


FINETUNE = ["--model", "{w}/model", "--output_dir", "{o}", "--num_train_epochs", "1"]
CASES = [  # (command, argv, exit status: 1 an error line, 2 a usage error, expected fragment of the message)
    (finetune, [*FINETUNE, "--task", "{w}/yesno"], 1,
     "yesno/train.csv: line 2: label 'label' is not a number ('no'): labels are numbers, classes written 0..C-1"),
    (finetune, [*FINETUNE, "--task", "{w}/nan"], 1, "nan/train.csv: line 5: label 'label' is not finite ('nan')"),
    (finetune, [*FINETUNE, "--task", "{w}/one_class"], 1,
     "one_class/train.csv: classification needs labels 0..C-1 with at least two classes in train, got [0]"),
    (finetune, [*FINETUNE, "--task", "{w}/one_two"], 1,
     ("one_two/train.csv: integer labels [1, 2] are not 0..C-1 with every class present; relabel them to 0..C-1, "
      "or write them as decimals (1.0)")),
    (finetune, [*FINETUNE, "--task", "{w}/empty_dev"], 1, "empty_dev/dev.csv: no data rows after the header"),
    (finetune, [*FINETUNE, "--task", "{w}/good", "--metric_for_best_model", "bogus"], 1,
     "--metric_for_best_model bogus: the binary task "),
    (finetune, [*FINETUNE, "--task", "{w}/good", "--save_strategy", "no"], 1,
     "keep --save_strategy best (the default) or match --eval_strategy, or pass --eval_strategy no"),
    (finetune, [*FINETUNE, "--task", "{w}/good/train.csv"], 1,
     "good/train.csv is a file: give the task folder that holds it"),
    (analyze, ["--models", "{w}/model", "--bits_positions", "-5", "--out_dir", "{o}"], 2,
     "--bits_positions must be >= 0, got -5"),
    (analyze, ["--models", "{w}/model", "--markov_order", "30", "--out_dir", "{o}"], 2,
     "--markov_order must be between 0 and 9, got 30"),
    (analyze, ["--models", "nonexist", "--out_dir", "{o}"], 1,
     "model 'nonexist': no such local folder, and as a Hub repo id it could not be loaded"),
    (pretrain, [*QUICK_PRETRAIN, "--max_length", "100000", "--output_dir", "{o}"], 2,
     "--max_length 100000 exceeds the model's 512 positions"),
    (pretrain, [*QUICK_PRETRAIN, "--genome", "{w}/one_base.fa", "--output_dir", "{o}"], 1,
     "one_base.fa: too little usable sequence for windows of 43 bp (--max_length 40 tokens)"),
    (benchmark_gue, ["--model", "{w}/model", "--tasks", "{w}/a", "{w}/b", "--output_dir", "{o}"], 1,
     "/b/tf/0 would both be 'tf-0'"),
    (benchmark_gue, ["--model", "{w}/model", "--tasks", "{w}/good", "--output_dir", "{o}",
                     "--gradient_accumulation_steps", "5"], 1,
     "the other recipe's batch 32 cannot be split evenly over 1 devices x 5 accumulation steps"),
    (benchmark_gue, ["--model", "{w}/model", "--tasks", "{w}/mixed", "--output_dir", "{o}",
                     "--metric_for_best_model", "pearson"], 1,
     "--metric_for_best_model pearson: the binary task other/gc reports loss, mcc"),
]


@pytest.mark.parametrize("command, argv, status, expected", CASES,
                         ids=[f"{c[0].__name__.rsplit('.', 1)[1]}-{i}" for i, c in enumerate(CASES)])
def test_expected_errors_are_one_line_naming_the_option_or_file(work, tmp_path, capsys, monkeypatch, command, argv,
                                                                 status, expected):
    monkeypatch.delenv("RANDOMMASK_TRACEBACK", raising=False)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exited:
        command.main([arg.replace("{w}", str(work)).replace("{o}", str(out)) for arg in argv])
    code = exited.value.code
    if status == 1:  # run_command: sys.exit("error: ...") prints the line and exits with status 1
        assert isinstance(code, str) and code.startswith("error: ") and "\n" not in code, code
        message = code
    else:
        assert code == 2
        message = capsys.readouterr().err
    assert expected in message, message
    assert "kind=" not in message  # no advice naming an option the command does not have
    if command is not pretrain or status == 2:
        assert not out.exists()  # refused before the lock, any model or any file


@pytest.mark.slow
def test_a_benchmark_of_a_regression_task_then_a_binary_one_reports_both(work, tmp_path):
    """A regression task first, then a binary one, each beside its baselines: every row carries its own metric."""
    tasks = tmp_path / "tasks"
    write_gc_fraction_task(tasks / "EAP" / "gc", COUNTS)
    write_gc_task(tasks / "other" / "gc", COUNTS)
    table = run_benchmark(FinetuneArguments(model=str(work / "model")), [str(tasks)],
                          output_dir=str(tmp_path / "bench"), num_train_epochs=1, per_device_train_batch_size=8)
    rows = [line for line in table.splitlines() if line.startswith(("| EAP/gc", "| other/gc"))]
    assert [row.split(" | ")[3] for row in rows] == ["pearson", "mcc"], table
    assert all(cell.strip() != "-" for row in rows for cell in row.split("|")[5:9]), table  # baselines measured
