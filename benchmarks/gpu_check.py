"""GPU readiness in one command: is the GPU path correct, how fast is it, and does the data pipeline keep up?

On a CUDA device (planned for under 8 minutes on one data-centre GPU; not yet run on one) it
1. checks correctness: the masked-only step's loss and gradients against the full computation (every position
   through the last layer and the head) in float32 and under bf16 autocast, with each SDPA backend that applies
   (flash, memory-efficient, math); three fused-AdamW steps against the reference (for-loop) AdamW; a
   torch.compile'd model trained against the eager one (losses, graphs compiled, saved parameter names);
2. measures training throughput at BERT-base, 512 tokens, bf16 autocast, at the largest batch of 8, 16, 32, 64
   that fits: RandomMaskForMaskedLM against transformers' BertForMaskedLM with the same config (one process,
   steps in turns), then RandomMask compiled: step time, tokens/s, peak memory and MFU (the FLOPs a step
   executes, counted by torch.utils.flop_counter, over step time and the device's dense bf16 peak); from that
   rate, the device-hours the paper's recipe takes;
3. times examples/pretrain.py at mini size (bf16, torch.compile, 4 DataLoader workers) and reports the share of
   step time the loop spent waiting for data;
then writes gpu_check.json and gpu_check.md into --output_dir and prints the summary. Without CUDA it says so
and runs the same code at toy sizes on the CPU (--dry_run, the default there). Exit status 1 when a correctness
check fails or a part crashes (the other parts still run and report).

    python benchmarks/gpu_check.py                     # then send back outputs/gpu_check/
    python benchmarks/gpu_check.py --peak_tflops 989   # a device missing from the peak table: its dense bf16 peak
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import transformers
from mlm_step import NAMES, build_model, genome_windows, step_flops, train_step
from safetensors.torch import load_file
from torch._dynamo.utils import counters
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import AutoModelForMaskedLM

from modeling_randommask import (
    DataCollatorForRandomMask,
    RandomMaskConfig,
    RandomMaskSchedule,
    save_checkpoint,
)
from modeling_randommask.tokenization import KmerTokenizer
from modeling_randommask.training.pretrain_arguments import RECIPES
from modeling_randommask.training.run_log import read_training_log

REPO = Path(__file__).resolve().parents[1]
BF16 = torch.bfloat16

# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, from the vendors' datasheets. A device matches the first
# entry whose words all appear in its name (torch.cuda.get_device_name), so "H100 PCIe" wins over "H100" (SXM).
PEAK_BF16_TFLOPS: list[tuple[tuple[str, ...], float]] = [
    (("GH200",), 989), (("H200",), 989), (("H100", "NVL"), 835), (("H100", "PCIe"), 756), (("H100",), 989),
    (("B200",), 2250), (("A100",), 312), (("A800",), 312), (("L40S",), 362), (("L40",), 181), (("L4",), 121),
    (("A10",), 125), (("MI300X",), 1307),
]

# Masked-only step against the full one: (relative loss error, worst gradient error over parameter tensors; see
# _worst_error).
# float32 differs only by summation order; bf16 autocast rounds every matmul input to 8 bits of mantissa, and the
# two steps run the last layer and the head on differently shaped matrices, hence different rounding. Measured on
# CPU at base, 2 x 512: float32 1e-6; bf16 7e-3, where bf16 itself is 3e-2 from float32 for the full step.
TOLERANCES = {"float32": (1e-5, 1e-4), "bf16": (1e-2, 5e-2)}
ADAMW_TOLERANCE = 1e-3  # fused vs for-loop AdamW: parameter difference over the size of the update
COMPILE_LOSS_TOLERANCE = 2e-2  # compiled vs eager, bf16 autocast: inductor fuses and rounds differently
MAX_COMPILED_GRAPHS = 3  # one per query-slot bucket the run visits, plus slack
DATA_WAIT_GOAL = 0.05  # the loader keeps the device fed when the loop waits for under 5% of step time
BACKENDS = {"flash": SDPBackend.FLASH_ATTENTION, "memory-efficient": SDPBackend.EFFICIENT_ATTENTION,
            "math": SDPBackend.MATH}
NO_KERNEL = re.compile(r"No (available kernel|viable backend)")


@dataclass(frozen=True)
class Plan:
    """Sizes of every part: the real ones on a GPU, toy ones for the dry run (whose compilations use the
    aot_eager backend and whose pretraining run is not compiled: inductor's C++ builds take minutes on a CPU)."""

    check_size: str
    check_batch: int
    check_length: int
    compile_size: str
    compile_batch: int
    compile_length: int
    compile_steps: int
    compile_backend: str
    size: str
    length: int
    batch_sizes: tuple[int, ...]
    timed_steps: int
    pretrain_size: str
    pretrain_batch: int
    pretrain_length: int
    pretrain_steps: int
    pretrain_log_every: int
    pretrain_compile: bool


GPU_PLAN = Plan("base", 4, 512, "mini", 16, 512, 10, "inductor", "base", 512, (8, 16, 32, 64), 10,
                "mini", 64, 512, 300, 20, True)
DRY_PLAN = Plan("tiny", 3, 64, "tiny", 4, 64, 5, "aot_eager", "tiny", 64, (2, 4), 2, "tiny", 8, 64, 8, 2, False)


def describe_device(device: torch.device) -> dict:
    """What ran: the device, the software, the commit."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            check=False)
    info = {"device": device.type, "torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "commit": commit.stdout.strip() if commit.returncode == 0 else None}
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        return info | {"name": torch.cuda.get_device_name(device), "memory_gib": properties.total_memory / 2**30,
                       "capability": f"{properties.major}.{properties.minor}", "cuda": torch.version.cuda,
                       "bf16_supported": torch.cuda.is_bf16_supported(),
                       "tf32_matmul": torch.backends.cuda.matmul.allow_tf32}
    return info | {"name": f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)",
                   "threads": torch.get_num_threads()}


def peak_tflops(device_name: str, given: float | None) -> tuple[float | None, str]:
    """The device's dense bf16 peak and where it came from."""
    if given is not None:
        return given, "--peak_tflops"
    words = {word.lower() for word in re.split(r"[\s\-_]+", device_name)}
    for needed, tflops in PEAK_BF16_TFLOPS:
        if all(word.lower() in words for word in needed):
            return tflops, f"table ({' '.join(needed)})"
    return None, "unknown device: pass --peak_tflops for MFU"


def _masked(batch: dict, collator: DataCollatorForRandomMask, step: int, device: torch.device) -> dict:
    return {key: value.to(device) for key, value in collator.mask(batch, step).items()}


def _collator(total_steps: int = RECIPES["paper"]["max_steps"]) -> DataCollatorForRandomMask:
    """The paper's curriculum (5 phases) over `total_steps`: masks widen, so labelled counts change by step."""
    schedule = RandomMaskSchedule.from_preset("randommask", total_steps=total_steps)
    return DataCollatorForRandomMask(KmerTokenizer(k=6), schedule)


def _padded(batch: dict) -> dict:
    """`batch` with its last row cut to 3/4 of its length: [SEP], then padding."""
    input_ids, attention_mask = batch["input_ids"].clone(), batch["attention_mask"].clone()
    cut = input_ids.shape[1] * 3 // 4
    input_ids[-1, cut - 1], input_ids[-1, cut:], attention_mask[-1, cut:] = 3, 0, 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _loss_and_gradients(model, batch: dict, autocast: torch.dtype | None, labelled_only: bool):
    model.zero_grad(set_to_none=True)
    with torch.autocast(model.device.type, dtype=autocast, enabled=autocast is not None):
        loss = model(**batch, labelled_logits_only=labelled_only).loss
    loss.backward()
    return loss.item(), {name: p.grad.detach().float().clone() for name, p in model.named_parameters()}


def _worst_error(ours: dict, reference: dict) -> tuple[float, str]:
    """Largest error over tensors, and that tensor's name. A tensor's error is the L2 norm of the difference over the
    L2 norm of its reference, or over 0.1% of the whole reference's norm when that is larger: a tensor whose
    reference is zero in exact arithmetic (a key bias: softmax ignores it) holds rounding noise only."""
    floor = 1e-3 * float(torch.stack([value.norm() for value in reference.values()]).norm())
    errors = {name: float((ours[name] - value).norm()) / max(float(value.norm()), floor, 1e-30)
              for name, value in reference.items()}
    name = max(errors, key=errors.get)
    return errors[name], name


def check_masked_only(device: torch.device, plan: Plan) -> dict:
    """Masked-only vs full step for every (precision, SDPA backend); flash gets unpadded rows (it takes no mask)."""
    config = RandomMaskConfig.from_preset(plan.check_size, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = build_model("randommask", config).to(device)
    windows, collator = genome_windows(plan.check_batch, plan.check_length), _collator()
    inputs = {False: _masked(windows, collator, 0, device), True: _masked(_padded(windows), collator, 0, device)}
    with sdpa_kernel(SDPBackend.MATH):  # what bf16 rounding alone does: the full step, bf16 against float32
        float32 = {padded: _loss_and_gradients(model, batch, None, False)[1] for padded, batch in inputs.items()}
    rows = []
    for precision, autocast in (("float32", None), ("bf16", BF16)):
        for backend, kernel in BACKENDS.items():
            padded = backend != "flash"
            row = {"precision": precision, "backend": backend, "padded_row": padded,
                   "batch": list(inputs[padded]["input_ids"].shape), "size": plan.check_size,
                   "tolerance": dict(zip(("loss", "gradients"), TOLERANCES[precision]))}
            try:
                with sdpa_kernel(kernel):
                    (sparse_loss, sparse), (full_loss, full) = (
                        _loss_and_gradients(model, inputs[padded], autocast, labelled_only)
                        for labelled_only in (True, False))
            except RuntimeError as error:
                if not NO_KERNEL.search(str(error)):
                    raise
                rows.append(row | {"status": "not applicable", "reason": str(error).splitlines()[0]})
                continue
            gradient_error, tensor = _worst_error(sparse, full)
            loss_error = abs(sparse_loss - full_loss) / abs(full_loss)
            passed = loss_error <= TOLERANCES[precision][0] and gradient_error <= TOLERANCES[precision][1]
            rows.append(row | {"loss": full_loss, "loss_error": loss_error, "gradient_error": gradient_error,
                               "worst_tensor": tensor, "full_vs_float32_gradient_error": _worst_error(
                                   full, float32[padded])[0], "status": "pass" if passed else "FAIL"})
    return {"rows": rows, "passed": all(row["status"] != "FAIL" for row in rows)}


def check_fused_adamw(device: torch.device, plan: Plan) -> dict:
    """Three fused-AdamW steps (the pretraining loop's settings) against the for-loop AdamW on the same gradients."""
    config = RandomMaskConfig.from_preset(plan.check_size, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = build_model("randommask", config).to(device)
    batch = _masked(genome_windows(plan.check_batch, plan.check_length), _collator(), 0, device)
    model(**batch, labelled_logits_only=True).loss.backward()
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    after = {}
    for fused in (True, False):
        twin = copy.deepcopy(model)
        optimizer = torch.optim.AdamW(twin.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01,
                                      fused=fused, foreach=False if not fused else None)
        for _ in range(3):
            optimizer.step()
        after[fused] = {name: p.detach() for name, p in twin.named_parameters()}
    updates = {name: after[False][name] - start[name] for name in start}
    error, tensor = _worst_error({name: after[True][name] - start[name] for name in start}, updates)
    return {"steps": 3, "update_error": error, "worst_tensor": tensor, "tolerance": ADAMW_TOLERANCE,
            "passed": error <= ADAMW_TOLERANCE}


def check_compile(device: torch.device, plan: Plan) -> dict:
    """A compiled model trains `compile_steps` steps beside the eager one (same weights, masks, fused AdamW, bf16
    autocast, no dropout); losses must agree, few graphs must be compiled, and the saved folder has plain names."""
    config = RandomMaskConfig.from_preset(plan.compile_size, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    eager = build_model("randommask", config).to(device)
    twin = copy.deepcopy(eager)
    torch._dynamo.reset()
    counters.clear()
    models = {"eager": eager, "compiled": torch.compile(twin, backend=plan.compile_backend)}
    optimizers = {name: torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True) for name, model in models.items()}
    windows, collator = genome_windows(plan.compile_batch, plan.compile_length), _collator(plan.compile_steps)
    losses, seconds = {name: [] for name in models}, []
    for step in range(plan.compile_steps):
        batch = _masked(windows, collator, step, device)
        for name, model in models.items():
            took, loss = train_step(model, optimizers[name], batch, BF16)
            losses[name].append(loss)
        seconds.append(took)
    graphs = counters["stats"]["unique_graphs"]
    difference = max(abs(a - b) for a, b in zip(losses["eager"], losses["compiled"]))
    with tempfile.TemporaryDirectory() as folder:
        save_checkpoint(models["compiled"], KmerTokenizer(k=6), folder)
        names = sorted(load_file(Path(folder) / "model.safetensors"))
        loaded = AutoModelForMaskedLM.from_pretrained(folder, trust_remote_code=True).state_dict()
    same = all(torch.equal(loaded[name].cpu(), twin.state_dict()[name].cpu()) for name in names)
    plain = not any("_orig_mod" in name for name in names)
    return {"size": plan.compile_size, "batch": [plan.compile_batch, plan.compile_length],
            "steps": plan.compile_steps, "losses": losses, "loss_difference": difference,
            "loss_tolerance": COMPILE_LOSS_TOLERANCE, "graphs": graphs, "max_graphs": MAX_COMPILED_GRAPHS,
            "first_step_seconds": seconds[0], "later_step_seconds": statistics.median(seconds[1:]),
            "saved_plain_names": plain, "reloaded_equal": same,
            "passed": difference <= COMPILE_LOSS_TOLERANCE and 1 <= graphs <= MAX_COMPILED_GRAPHS and plain and same}


def _measured_step(model, optimizer, batch: dict, device: torch.device) -> tuple[float, float | None]:
    """(seconds, peak memory of the step above what was resident before it, GiB; None on CPU)."""
    if device.type != "cuda":
        return train_step(model, optimizer, batch, BF16)[0], None
    torch.cuda.reset_peak_memory_stats(device)
    resident = torch.cuda.memory_allocated(device)
    seconds = train_step(model, optimizer, batch, BF16)[0]
    return seconds, (torch.cuda.max_memory_allocated(device) - resident) / 2**30


def _largest_batch(models: dict, batches: dict[int, dict], device: torch.device) -> int:
    """The largest batch size at which every model takes a step (that step is their warm-up)."""
    for batch_size in sorted(batches, reverse=True):
        try:
            for model, optimizer in models.values():
                train_step(model, optimizer, batches[batch_size], BF16)
            return batch_size
        except torch.OutOfMemoryError:
            for model, optimizer in models.values():
                optimizer.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
    raise RuntimeError(f"no batch size of {sorted(batches)} fits on this device")


def _row(seconds: list[float], memory: list, flops: int, batch_tokens: int, peak: float | None) -> dict:
    step = statistics.median(seconds)
    achieved = flops / step / 1e12
    return {"step_ms": step * 1e3, "step_ms_range": [min(seconds) * 1e3, max(seconds) * 1e3],
            "tokens_per_s": batch_tokens / step, "step_tflop": flops / 1e12, "tflops": achieved,
            "mfu": achieved / peak if peak else None,
            "peak_step_memory_gib": max(memory) if memory[0] is not None else None}


def measure_throughput(device: torch.device, plan: Plan, peak: float | None) -> dict:
    """Both models (dropout 0.1, fused AdamW, bf16 autocast) at the largest batch that fits; steps in turns, order
    alternating, so drifting clocks or load hit both alike."""
    config = RandomMaskConfig.from_preset(plan.size)
    models = {}
    for name in NAMES:
        model = build_model(name, config).to(device)
        models[name] = (model, torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True))
    windows = genome_windows(max(plan.batch_sizes), plan.length)
    collator = _collator()
    batches = {size: _masked({k: v[:size] for k, v in windows.items()}, collator, 0, device)
               for size in plan.batch_sizes}
    batch_size = _largest_batch(models, batches, device)
    batch = batches[batch_size]
    times, memory = {name: [] for name in NAMES}, {name: [] for name in NAMES}
    for turn in range(plan.timed_steps):
        for name in NAMES if turn % 2 == 0 else NAMES[::-1]:
            seconds, peak_gib = _measured_step(*models[name], batch, device)
            times[name].append(seconds)
            memory[name].append(peak_gib)
    flops = {name: step_flops(*models[name], batch, BF16) for name in NAMES}
    tokens = batch_size * plan.length
    rows = {name: _row(times[name], memory[name], flops[name], tokens, peak) for name in NAMES}
    return {"size": plan.size, "length": plan.length, "batch_size": batch_size, "tried": list(plan.batch_sizes),
            "timed_steps": plan.timed_steps, "rows": rows,
            "speed_up": rows["bert"]["step_ms"] / rows["randommask"]["step_ms"],
            "flop_ratio": flops["bert"] / flops["randommask"]}


def measure_compiled_throughput(device: torch.device, plan: Plan, peak: float | None, eager: dict) -> dict:
    """RandomMask under torch.compile at the eager measurement's batch; FLOPs as counted for the eager step."""
    config = RandomMaskConfig.from_preset(plan.size)
    model = torch.compile(build_model("randommask", config).to(device), backend=plan.compile_backend)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    windows = genome_windows(eager["batch_size"], plan.length)
    batch = _masked(windows, _collator(), 0, device)
    start = time.perf_counter()
    for _ in range(2):  # compiles
        train_step(model, optimizer, batch, BF16)
    warm_up = time.perf_counter() - start
    steps = [_measured_step(model, optimizer, batch, device) for _ in range(plan.timed_steps)]
    flops = eager["rows"]["randommask"]["step_tflop"] * 1e12
    row = _row([s for s, _ in steps], [m for _, m in steps], int(flops), eager["batch_size"] * plan.length, peak)
    return row | {"warm_up_seconds": warm_up, "speed_up_over_eager": eager["rows"]["randommask"]["step_ms"]
                  / row["step_ms"]}


def paper_recipe_estimate(plan: Plan, throughput: dict, compiled: dict, device_name: str) -> dict:
    """Device-hours of the paper's recipe (steps x global batch sequences) at the measured step rates."""
    recipe = RECIPES["paper"]
    sequences = recipe["max_steps"] * recipe["global_batch_size"]
    rows = {"randommask": throughput["rows"]["randommask"], "bert": throughput["rows"]["bert"]}
    if "step_ms" in compiled:
        rows["randommask_compiled"] = compiled
    hours = {name: sequences * row["step_ms"] / 1e3 / throughput["batch_size"] / 3600 for name, row in rows.items()}
    return {"device": device_name, "steps": recipe["max_steps"], "global_batch": recipe["global_batch_size"],
            "tokens_per_sequence": recipe["max_length"], "device_hours": hours,
            "representative": (plan.size, plan.length) == (recipe["model_preset"], recipe["max_length"])}


def time_pretraining(device: torch.device, plan: Plan, output_dir: Path) -> dict:
    """examples/pretrain.py at `pretrain_size`: wall time, tokens/s and the share of time spent waiting for data,
    read from its training_log.jsonl (kept as pretrain_training_log.jsonl)."""
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        command = [sys.executable, str(REPO / "examples" / "pretrain.py"), "--model_preset", plan.pretrain_size,
                   "--max_length", str(plan.pretrain_length), "--per_device_train_batch_size", str(plan.pretrain_batch),
                   "--max_steps", str(plan.pretrain_steps), "--log_every", str(plan.pretrain_log_every),
                   "--warmup_steps", "10", "--num_workers", "4", "--mixed_precision", "bf16",
                   "--eval_every", str(plan.pretrain_steps), "--save_every", str(plan.pretrain_steps),
                   *(["--torch_compile"] if plan.pretrain_compile else []), "--output_dir", str(run)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, check=False)
        wall = time.perf_counter() - start
        if done.returncode:
            raise RuntimeError(f"examples/pretrain.py exited with {done.returncode}:\n{done.stderr[-3000:]}")
        curve = read_training_log(run)
        shutil.copy(run / "training_log.jsonl", output_dir / "pretrain_training_log.jsonl")
        plain = not any("_orig_mod" in name for name in load_file(run / "model.safetensors"))
    # The first window holds worker start-up and compilation: the steady state is the rest.
    wait, rate = curve.data_wait_fraction[1:], curve.tokens_per_s[1:]
    command[:2] = ["python", "examples/pretrain.py"]
    command[-1] = "DIR"
    return {"command": " ".join(command), "size": plan.pretrain_size, "wall_seconds": wall,
            "steps": plan.pretrain_steps, "windows": len(wait), "tokens_per_s": float(statistics.median(rate)),
            "data_wait_fraction": float(statistics.median(wait)), "data_wait_fraction_max": float(wait.max()),
            "first_window_data_wait_fraction": float(curve.data_wait_fraction[0]),
            "keeps_up": bool(statistics.median(wait) < DATA_WAIT_GOAL), "saved_plain_names": plain, "passed": plain}


def run_part(report: dict, key: str, function, *args) -> None:
    """Run one part into `report[key]`; a crash is recorded with its traceback and the next part still runs."""
    print(f"gpu_check: {key} ...", flush=True)
    start = time.perf_counter()
    try:
        report[key] = function(*args)
    except Exception as error:  # noqa: BLE001 - whatever breaks, the other parts' results must still be written
        report[key] = {"crashed": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(),
                       "passed": False}
    report[key]["seconds"] = time.perf_counter() - start


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _correctness_lines(report: dict) -> list[str]:
    lines = ["## Correctness", "",
             ("| check | precision | SDPA backend | batch | loss error | worst gradient error (tensor) "
              "| bf16 vs float32, full step | tolerance (loss, gradients) | result |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for row in report["masked_only"].get("rows", []):
        head = (f"| masked-only vs full step | {row['precision']} | {row['backend']} | {row['size']}, "
                f"{' x '.join(map(str, row['batch']))}{', padded row' if row['padded_row'] else ''} |")
        tolerance = f"{row['tolerance']['loss']:g}, {row['tolerance']['gradients']:g}"
        if row["status"] == "not applicable":
            lines.append(f"{head} | | | {tolerance} | not applicable: {row['reason']} |")
        else:
            lines.append(f"{head} {row['loss_error']:.1e} | {row['gradient_error']:.1e} ({row['worst_tensor']}) | "
                         f"{row['full_vs_float32_gradient_error']:.1e} | {tolerance} | {row['status']} |")
    adamw, compiled = report["fused_adamw"], report["compile"]
    if "crashed" not in adamw:
        lines.append(f"| fused AdamW, {adamw['steps']} steps, vs for-loop AdamW | float32 | | "
                     f"{report['plan']['check_size']} | | {adamw['update_error']:.1e} ({adamw['worst_tensor']}; relative to "
                     f"the update) | | {adamw['tolerance']:g} | {'pass' if adamw['passed'] else 'FAIL'} |")
    if "crashed" not in compiled:
        lines.append(f"| torch.compile vs eager, {compiled['steps']} training steps: {compiled['graphs']} graphs "
                     f"(at most {compiled['max_graphs']}); saved names plain: {compiled['saved_plain_names']}, "
                     f"reloaded equal: {compiled['reloaded_equal']} | bf16 | default | {compiled['size']}, "
                     f"{' x '.join(map(str, compiled['batch']))} | {compiled['loss_difference']:.1e} (absolute) | "
                     f"| | {compiled['loss_tolerance']:g} | {'pass' if compiled['passed'] else 'FAIL'} |")
    return lines


def _throughput_lines(report: dict) -> list[str]:
    throughput = report["throughput"]
    if "crashed" in throughput:
        return []
    lines = ["", (f"## Throughput: {throughput['size']}, {throughput['length']} tokens, bf16 autocast, batch "
                  f"{throughput['batch_size']} (largest of {', '.join(map(str, throughput['tried']))} that fits)"),
             "", (f"Peak: {report['peak_tflops'] or 'unknown'} TFLOP/s dense bf16 ({report['peak_source']}). MFU = "
                  "FLOPs the step executes (torch.utils.flop_counter) / step time / peak."),
             "", "| model | step (ms, median; range) | tokens/s | TFLOP per step | TFLOP/s | MFU | peak step memory (GiB) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    rows = {"BertForMaskedLM": throughput["rows"]["bert"], "RandomMaskForMaskedLM": throughput["rows"]["randommask"]}
    if "step_ms" in report["compiled_throughput"]:
        rows["RandomMaskForMaskedLM, torch.compile"] = report["compiled_throughput"]
    for name, row in rows.items():
        memory = "n/a" if row["peak_step_memory_gib"] is None else f"{row['peak_step_memory_gib']:.2f}"
        low, high = row["step_ms_range"]
        lines.append(f"| {name} | {row['step_ms']:.1f} ({low:.1f}-{high:.1f}) | {row['tokens_per_s']:,.0f} | "
                     f"{row['step_tflop']:.3g} | {row['tflops']:.3g} | {_percent(row['mfu'])} | {memory} |")
    lines += ["", (f"RandomMask / BERT tokens/s: **{throughput['speed_up']:.2f}x** (FLOP ratio "
                   f"{throughput['flop_ratio']:.2f}x).")]
    estimate = report["paper_recipe"]
    caveat = "" if estimate["representative"] else " **Dry run: the toy model's rate, not an estimate for BERT-base.**"
    lines += ["", "## The paper's recipe on this device", "",
              (f"{estimate['steps']:,} steps x {estimate['global_batch']} sequences x {estimate['tokens_per_sequence']} "
               f"tokens on {estimate['device']}, at the rates measured above:{caveat}"), ""]
    lines += [f"- {name}: {hours:,.1f} device-hours ({hours / 8 / 24:.2f} days on 8 such devices at ideal scaling)"
              for name, hours in estimate["device_hours"].items()]
    return [*lines, "- the paper: 8 A100 x 2 days = 384 A100-hours."]


def _pretrain_lines(report: dict) -> list[str]:
    run = report["pretrain"]
    if "crashed" in run:
        return []
    return ["", "## Data pipeline: examples/pretrain.py", "", f"`{run['command']}`", "",
            (f"{run['steps']} steps in {run['wall_seconds']:.0f} s (start-up, compilation, evaluation and saving "
             f"included); {run['tokens_per_s']:,.0f} tokens/s (median of the {run['windows']} logging windows after "
             f"the first). Waiting for the DataLoader: **{_percent(run['data_wait_fraction'])}** of step time "
             f"(median; worst window {_percent(run['data_wait_fraction_max'])}; first window, with worker start-up: "
             f"{_percent(run['first_window_data_wait_fraction'])}): "
             f"{'keeps up' if run['keeps_up'] else 'does NOT keep up'} (goal: under {_percent(DATA_WAIT_GOAL)}). "
             f"Saved names plain: {run['saved_plain_names']}.")]


def failed_parts(report: dict) -> list[str]:
    return [key for key, part in report.items() if isinstance(part, dict) and part.get("passed") is False]


def summary(report: dict) -> str:
    """The markdown summary of `report` (what gpu_check.md holds)."""
    device, failed = report["device"], failed_parts(report)
    software = f"torch {device['torch']}" + (f", CUDA {device['cuda']}" if "cuda" in device else "")
    verdict = f"**FAILED: {', '.join(failed)}**" if failed else "All checks passed."
    lines = [f"# GPU check: {device['name']}{' (dry run: toy sizes)' if report['dry_run'] else ''}", "",
             (f"{software}, transformers {device['transformers']}, commit {device['commit']}; "
              f"{report['seconds']:.0f} s in all. {verdict}"), ""]
    lines += [f"**{key} crashed:** `{part['crashed'].splitlines()[0]}` (traceback in gpu_check.json)\n"
              for key, part in report.items() if isinstance(part, dict) and "crashed" in part]
    lines += _correctness_lines(report) + _throughput_lines(report) + _pretrain_lines(report)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--output_dir", default="outputs/gpu_check",
                        help="where gpu_check.json, gpu_check.md and pretrain_training_log.jsonl go")
    parser.add_argument("--dry_run", action="store_true", help="toy sizes (the default without CUDA)")
    parser.add_argument("--peak_tflops", type=float, help="the device's dense bf16 peak (default: from the table)")
    parser.add_argument("--overwrite_output_dir", action="store_true", help="replace an earlier gpu_check.json")
    args = parser.parse_args(argv)
    if args.peak_tflops is not None and args.peak_tflops <= 0:
        parser.error(f"--peak_tflops must be positive, got {args.peak_tflops}")
    output_dir = Path(args.output_dir)
    if (output_dir / "gpu_check.json").exists() and not args.overwrite_output_dir:
        parser.error(f"{output_dir / 'gpu_check.json'} exists: pass --overwrite_output_dir or another --output_dir")

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dry_run = args.dry_run or not cuda
    if not cuda:
        print("gpu_check: CUDA is not available; running the dry run (toy sizes) on the CPU", flush=True)
    plan = DRY_PLAN if dry_run else GPU_PLAN
    output_dir.mkdir(parents=True, exist_ok=True)
    info = describe_device(device)
    peak, source = peak_tflops(info["name"], args.peak_tflops)
    report = {"device": info, "dry_run": dry_run, "plan": asdict(plan), "peak_tflops": peak, "peak_source": source}
    start = time.perf_counter()
    run_part(report, "masked_only", check_masked_only, device, plan)
    run_part(report, "fused_adamw", check_fused_adamw, device, plan)
    run_part(report, "compile", check_compile, device, plan)
    run_part(report, "throughput", measure_throughput, device, plan, peak)
    if "crashed" not in report["throughput"]:
        run_part(report, "compiled_throughput", measure_compiled_throughput, device, plan, peak, report["throughput"])
        report["paper_recipe"] = paper_recipe_estimate(plan, report["throughput"], report["compiled_throughput"],
                                                       info["name"])
    else:
        report["compiled_throughput"] = {"crashed": "not run: the eager throughput measurement crashed"}
    run_part(report, "pretrain", time_pretraining, device, plan, output_dir)
    report["seconds"] = time.perf_counter() - start

    (output_dir / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    text = summary(report)
    (output_dir / "gpu_check.md").write_text(text)
    print(text)
    passed = not failed_parts(report)
    print(f"gpu_check: {'all checks passed' if passed else 'SOME CHECKS FAILED'}; wrote {output_dir}/gpu_check.json, "
          f"gpu_check.md and pretrain_training_log.jsonl: send those three files back.")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
