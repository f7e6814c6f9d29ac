"""Hub model cards for pretrained and fine-tuned checkpoints (huggingface_hub ``ModelCard`` + Jinja templates).

Every figure in a card comes from the ``info`` dict the run passes in: a missing section is an error, never a
default, so a card cannot show a number the run did not produce. The templates live in ``model_cards/`` at the
repository root, installed as ``modeling_randommask.model_cards`` (``pretrained.md``, ``finetuned.md``); pass
``template_path`` to use another.

Metric values go into the YAML ``model-index`` exactly as given. Fine-tuned cards take the raw values of
``metrics.py`` (MCC in [-1, 1]); ``add_benchmark_results`` records the paper's convention, MCC x 100, and names
it so ("MCC x 100").
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .. import model_cards
from ..data.gue import resolve_task
from ..data.tasks import TaskData
from ..masking.schedule import RandomMaskSchedule

TEMPLATES = Path(model_cards.__file__).parent


def _markers(key: str) -> tuple[str, str]:
    """The HTML comments around a card section this package rewrites."""
    return f"<!-- randommask:{key}:start -->", f"<!-- randommask:{key}:end -->"


RESULTS_KEY = "gue-results"  # the benchmark table's section (its markers are in model_cards/pretrained.md too)
RESULTS_START, RESULTS_END = _markers(RESULTS_KEY)
BENCHMARK_METRIC_NAME = "MCC x 100"

# metrics.py key -> (Hub metric id, display name); "pearson_<target>" etc. add the target to the name.
HUB_METRICS = {
    "mcc": ("matthews_correlation", "MCC"),
    "accuracy": ("accuracy", "Accuracy"),
    "f1": ("f1", "F1"),
    "f1_macro": ("f1", "F1 (macro)"),
    "roc_auc": ("roc_auc", "ROC AUC"),
    "pearson": ("pearsonr", "Pearson r"),
    "spearman": ("spearmanr", "Spearman rho"),
    "mse": ("mse", "MSE"),
}
# Trainer.evaluate() bookkeeping that is not a model metric; dropped from result dicts.
TRAINER_KEYS = {"loss", "runtime", "samples_per_second", "steps_per_second", "epoch"}


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "undefined (NaN)" if math.isnan(value) else format(value, ".6g")
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value).replace("|", "\\|")  # a table cell: FASTA headers such as "gi|9626243|ref|..." hold pipes


def _rows(section: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(str(key), _fmt(value)) for key, value in section.items()]


def _require(info: Mapping[str, Any], keys: tuple[str, ...], what: str) -> None:
    missing = [k for k in keys if info.get(k) is None]
    if missing:
        raise ValueError(f"{what} lacks {missing}: every figure in a card must come from the run's info dict")


def _template(kind: str, template_path: str | os.PathLike | None) -> str:
    path = Path(template_path) if template_path is not None else TEMPLATES / f"{kind}.md"
    if not path.is_file():
        raise FileNotFoundError(f"model card template not found: {path} (pass template_path=...)")
    return str(path)


def _phase_rows(schedule: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Phase table: ``schedule["phases"]`` as given (dicts with phase, first_step, last_step, min_span, max_span),
    else what ``RandomMaskSchedule`` says of a complete schedule dict (``RandomMaskSchedule.to_dict()``); empty
    when neither is there."""
    if "phases" in schedule:
        keys = ("phase", "first_step", "last_step", "min_span", "max_span")
        return [tuple(_fmt(p[k]) for k in keys) for p in schedule["phases"]]
    try:
        curriculum = RandomMaskSchedule.from_dict(dict(schedule))
    except (TypeError, ValueError):
        return []
    if not {"total_steps", "num_phases", "min_span", "max_span_start", "span_increment"} <= set(schedule):
        return []  # a partial dict would fall back on the paper's defaults: show nothing rather than those
    starts = [curriculum.phase_start(p) for p in range(curriculum.num_phases)] + [curriculum.total_steps]
    return [(_fmt(p), _fmt(starts[p]), _fmt(starts[p + 1] - 1), _fmt(curriculum.min_span), _fmt(curriculum.max_span(p)))
            for p in range(curriculum.num_phases)]


def render_pretrained_card(info: Mapping[str, Any], template_path: str | os.PathLike | None = None) -> ModelCard:
    """Card for a pretrained checkpoint. ``info`` keys (required unless marked):

    - ``model_name``; ``repo_id`` (optional, defaults to model_name; used in the loading snippet)
    - ``license`` (optional, ``apache-2.0``), ``datasets`` (optional Hub ids), ``base_model`` (optional),
      ``tags`` (optional, added to the package's)
    - ``architecture``: dict of model settings (layers, hidden size, heads, k-mer size and stride, parameters...)
    - ``training_data``: dict; ``genomes`` (list of dicts with ``name``, ``bases``, optional ``source``,
      ``train_windows`` and ``sampling_share``: the mix, a genome's share of each epoch's windows) plus any
      other settings (window length, window counts, held-out rule...)
    - ``masking_schedule``: the schedule's settings as a dict (e.g. ``RandomMaskSchedule.to_dict()``); see
      ``_phase_rows`` for the phase table
    - ``training``: dict with at least ``steps`` and ``final_train_loss`` (and whatever else the run measured:
      ``final_eval_loss``, batch size, learning rate, hardware, wall time...)
    - ``limitations`` (optional): run-specific lines added to the template's
    - ``card_metadata`` (optional): more metadata entries (e.g. the tokens seen, read by a run continuing from it)
    - ``bits_per_base`` (optional; ``inference.held_out_bits_per_base``): ``held_out``, ``positions``, ``rule``,
      ``model`` and ``markov`` (``order``, and per context a ``label``) with ``bits_per_base`` and ``accuracy``;
      or ``{"unavailable": reason}`` for a figure that could not be computed (the card says why)
    """
    _require(info, ("model_name", "architecture", "training_data", "masking_schedule", "training"), "pretrained info")
    _require(info["training"], ("steps", "final_train_loss"), "info['training']")
    data = dict(info["training_data"])
    genomes = data.pop("genomes", None)
    if not genomes:
        raise ValueError("info['training_data'] lacks 'genomes' (list of {name, bases, source})")
    for genome in genomes:
        _require(genome, ("name", "bases"), f"genome entry {genome}")
    card_data = ModelCardData(
        model_name=info["model_name"],
        license=info.get("license", "apache-2.0"),
        library_name="transformers",
        pipeline_tag="fill-mask",
        tags=["dna", "genomics", "randommask", "masked-language-modeling", *info.get("tags", [])],
        datasets=info.get("datasets"),
        base_model=info.get("base_model"),
        **info.get("card_metadata", {}),
    )
    return ModelCard.from_template(
        card_data,
        template_path=_template("pretrained", template_path),
        model_name=info["model_name"],
        repo_id=info.get("repo_id", info["model_name"]),
        architecture_rows=_rows(info["architecture"]),
        genome_rows=[(_fmt(g["name"]), _fmt(g["bases"]), _fmt(g.get("train_windows", "")),
                      _fmt(g.get("sampling_share", "")), _fmt(g.get("source", ""))) for g in genomes],
        data_rows=_rows(data),
        schedule_rows=_rows({k: v for k, v in info["masking_schedule"].items() if k != "phases"}),
        phase_rows=_phase_rows(info["masking_schedule"]),
        training_rows=_rows(info["training"]),
        limitations=list(info.get("limitations", [])),
        bits=info.get("bits_per_base"),
        bits_positions=_fmt(info["bits_per_base"].get("positions", "")) if info.get("bits_per_base") else "",
        bits_rows=_bits_rows(info.get("bits_per_base")),
    )


def _bits_rows(bits: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """(predictor, bits per base, accuracy) rows: the checkpoint, then each Markov context."""
    if not bits or "unavailable" in bits:
        return []
    predictors = [(f"this checkpoint (rule `{bits['rule']}`)", bits["model"])]
    predictors += [(entry["label"], entry) for entry in bits["markov"].values() if isinstance(entry, Mapping)]
    return [(name, f"{entry['bits_per_base']:.4f}", f"{entry['accuracy']:.4f}") for name, entry in predictors]


def task_info(task: TaskData) -> dict[str, Any]:
    """The ``task`` section of a fine-tuned card's info, from a loaded task."""
    return {
        "name": task.name,
        "kind": task.kind,
        "label_names": list(task.label_names),
        "examples": {split: len(seqs) for split, seqs in task.sequences.items()},
        "files": {split: path.name for split, path in task.files.items()},
        "notes": list(task.notes),
    }


def _metric_entries(split_metrics: Mapping[str, Any]) -> list[tuple[str, str, str | None, float]]:
    """(Hub metric id, display name, config, value) per metric; Trainer prefixes and bookkeeping dropped."""
    entries = []
    for key, value in split_metrics.items():
        bare = re.sub(r"^(eval|test|validation)_", "", key)
        if bare in TRAINER_KEYS:
            continue
        base, _, target = bare.partition("_") if bare not in HUB_METRICS else (bare, "", "")
        if base not in HUB_METRICS or (target and base not in ("pearson", "spearman", "mse")):
            raise ValueError(f"unknown metric {key!r}: expected one of {sorted(HUB_METRICS)} (or <metric>_<target>)")
        metric_id, name = HUB_METRICS[base]
        entries.append((metric_id, f"{name} ({target})" if target else name, target or None, float(value)))
    return entries


def render_finetuned_card(info: Mapping[str, Any], template_path: str | os.PathLike | None = None) -> ModelCard:
    """Card for a fine-tuned checkpoint. ``info`` keys (required unless marked):

    - ``model_name``, ``base_model`` (Hub id or path of the pretrained checkpoint); ``repo_id``, ``license``,
      ``datasets``, ``tags``, ``limitations`` optional as for the pretrained card
    - ``task``: ``task_info(task)`` or a dict with ``name``, ``kind``, ``label_names``, ``examples``
      (split -> count) and optionally ``files``, ``notes``, ``paper_column``, ``dataset_id`` (Hub dataset id for
      the model-index; defaults to "GUE" for GUE task paths, else the task name)
    - ``hyperparameters``: dict (batch size, learning rate, epochs, weight decay, max length, seed, ...)
    - ``results``: split -> metrics dict as returned by ``metrics.py`` or ``Trainer.evaluate`` (prefixes such as
      ``eval_`` and bookkeeping such as runtime are dropped); NaN values are shown in the text but left out of
      the model-index
    """
    _require(info, ("model_name", "base_model", "task", "hyperparameters", "results"), "fine-tuned info")
    task = info["task"]
    _require(task, ("name", "kind", "label_names", "examples"), "info['task']")
    if not info["results"]:
        raise ValueError("info['results'] is empty: a fine-tuned card needs the measured metrics")
    try:
        gue = resolve_task(task["name"])
    except ValueError:
        gue = None
    paper_column = task.get("paper_column", gue.paper_column if gue else None)
    dataset_id = task.get("dataset_id", "GUE" if gue and gue.family != "EAP" else task["name"])
    is_regression = task["kind"] == "regression"
    is_token = task["kind"] == "token"
    hub_task = "token-classification" if is_token else "text-classification"
    task_title = f"{dataset_id} {task['name']}" if dataset_id != task["name"] else task["name"]

    eval_results, result_tables = [], []
    for split, split_metrics in info["results"].items():
        entries = _metric_entries(split_metrics)
        result_tables.append((split, [(name, _fmt(value)) for _, name, _, value in entries]))
        eval_results += [
            EvalResult(
                task_type=hub_task,
                task_name=("DNA base-level classification" if is_token else
                           "DNA sequence regression" if is_regression else "DNA sequence classification"),
                dataset_type=dataset_id,
                dataset_name=task_title,
                dataset_config=task["name"],
                dataset_split=split,
                metric_type=metric_id,
                metric_name=name,
                metric_config=config,
                metric_value=value,
            )
            for metric_id, name, config, value in entries
            if not math.isnan(value)
        ]
    card_data = ModelCardData(
        model_name=info["model_name"],
        base_model=info["base_model"],
        license=info.get("license", "apache-2.0"),
        library_name="transformers",
        pipeline_tag=hub_task,
        tags=["dna", "genomics", "randommask", "token-classification" if is_token else "sequence-classification",
              *info.get("tags", [])],
        datasets=info.get("datasets"),
        eval_results=eval_results or None,
    )
    task_rows = {"kind": task["kind"], "labels": task["label_names"]}
    if paper_column:
        task_rows["paper column"] = paper_column
    files = task.get("files", {})
    return ModelCard.from_template(
        card_data,
        template_path=_template("finetuned", template_path),
        model_name=info["model_name"],
        base_model=info["base_model"],
        repo_id=info.get("repo_id", info["model_name"]),
        task_title=task_title,
        paper_column=paper_column,
        is_regression=is_regression,
        is_token=is_token,
        label_list=", ".join(f"`{name}`" for name in task["label_names"]),
        split_rows=[(split, files.get(split, ""), _fmt(count)) for split, count in task["examples"].items()],
        task_rows=_rows(task_rows),
        task_notes=list(task.get("notes", [])),
        hyperparameter_rows=_rows(info["hyperparameters"]),
        result_tables=result_tables,
        limitations=list(info.get("limitations", [])),
    )


def _benchmark_table(card: ModelCard, note: str | None) -> str:
    rows = [r for r in card.data.eval_results or [] if r.metric_name == BENCHMARK_METRIC_NAME]
    lines = [
        "Test-split Matthews correlation x 100 (the paper's convention) of this checkpoint fine-tuned on each task.",
        "",
        f"| task | paper column | split | {BENCHMARK_METRIC_NAME} |",
        "|---|---|---|---|",
    ]
    for r in rows:
        try:
            column = resolve_task(r.dataset_config).paper_column
        except ValueError:
            column = ""
        lines.append(f"| {r.dataset_config} | {column} | {r.dataset_split} | {r.metric_value:.2f} |")
    if note:
        lines += ["", note]
    return "\n".join(lines)


def add_benchmark_results(
    card_path: str | os.PathLike,
    results: Mapping[str, float],
    *,
    split: str = "test",
    dataset_id: str = "GUE",
    note: str | None = None,
) -> ModelCard:
    """Record fine-tuning results (task path -> MCC x 100, e.g. ``{"tf/0": 45.12}``) in an existing pretrained
    card: entries of its model-index (replacing earlier values for the same task and split) and the results
    table in its text, rebuilt from the model-index. ``note`` (optional) is printed under the table, e.g. the
    fine-tuning budget; it replaces an earlier note, and ``None`` keeps it. Saves the card in place and
    returns it."""
    card = ModelCard.load(card_path)
    if not card.data.model_name:
        raise ValueError(f"{card_path}: card metadata has no model_name (render it with render_pretrained_card)")
    new = []
    for task, value in results.items():
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{task}: MCC x 100 must be a finite number, got {value}")
        new.append(EvalResult(
            task_type="text-classification",
            task_name="DNA sequence classification",
            dataset_type=dataset_id,
            dataset_name=f"{dataset_id} {task}",
            dataset_config=task,
            dataset_split=split,
            metric_type="matthews_correlation",
            metric_name=BENCHMARK_METRIC_NAME,
            metric_value=value,
        ))
    merged = []
    for old in card.data.eval_results or []:
        same = [n for n in new if old.is_equal_except_value(n)]
        merged.append(same[0] if same else old)
    merged += [n for n in new if not any(n is m for m in merged)]
    card.data.eval_results = merged
    previous = _section(card.text, RESULTS_KEY)
    if note is None and previous is not None:  # keep the note written under an earlier table
        lines = previous.strip().splitlines()
        table_end = max((i for i, line in enumerate(lines) if line.startswith("|")), default=None)
        note = "\n".join(lines[table_end + 1 :]).strip() if table_end is not None else None
    card.text = _with_section(card.text, RESULTS_KEY, "GUE fine-tuning results", _benchmark_table(card, note))
    card.save(card_path)
    return card


def _section(text: str, key: str) -> str | None:
    """What stands between section ``key``'s markers, or None when the card has no such section."""
    start, end = _markers(key)
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0]


def _with_section(text: str, key: str, heading: str, body: str) -> str:
    """``text`` with section ``key`` holding ``body``: replaced between its markers, else appended under
    ``## heading``."""
    start, end = _markers(key)
    block = f"{start}\n{body.strip()}\n{end}"
    if _section(text, key) is not None:
        head, rest = text.split(start, 1)
        return head + block + rest.split(end, 1)[1]
    return text.rstrip("\n") + f"\n\n## {heading}\n\n{block}\n"


def set_card_section(card_path: str | os.PathLike, key: str, heading: str, body: str) -> ModelCard:
    """Put ``body`` (markdown) in the card's section ``key``: replace what an earlier call wrote there, else append
    it under ``## heading``. Saves the card in place and returns it."""
    card = ModelCard.load(card_path)
    card.text = _with_section(card.text, key, heading, body)
    card.save(card_path)
    return card
