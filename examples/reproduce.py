"""Mini reproduction of the paper on CPU (about an hour on 2 cores): pretrain DNABERT-masking, RandomMask and
non-overlapping models with one budget, fine-tune each on the GUE tasks with both tokenizations, diagnose them.

    python examples/reproduce.py                                   # ../shared/data genomes and GUE tasks
    python examples/reproduce.py --max_steps 300 --finetune_epochs 1 --output_dir outputs/reproduce-quick

Prints Tables 2 and 3 and the diagnostics; writes report.md, report.json, the models, the fine-tuning results and
the figures into --output_dir. Rerunning continues an interrupted run. The logic lives in
``modeling_randommask.analysis.reproduction``.
"""

import os

# Idle OpenMP threads sleep instead of spinning (set before torch loads): on a busy 2-core machine spinning threads
# made a 200-step tiny run take 302 s and 155 CPU-s instead of 70 s and 28 CPU-s (README: Quickstart).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from modeling_randommask.analysis.reproduction import ReproduceArguments, render_report, reproduce
from modeling_randommask.data.options import parse_cli

if __name__ == "__main__":
    (args,) = parse_cli(ReproduceArguments)
    print(render_report(reproduce(args)))
