"""In-domain pretraining study on CPU: DNABERT masking against RandomMask at equal tokens, several seeds each,
on human DNA by default; bits per base on a held-out block against order-k Markov models, and test MCC at a few
label sizes against random weights and a 6-mer logistic regression.

    python examples/in_domain.py                        # ../shared/data human slices and GUE tasks
    python examples/in_domain.py --max_steps 100 --label_sizes 300 --output_dir outputs/in-domain-quick

Writes results.json, report.md, costs.json (CPU seconds per stage), the models and every fine-tuning result into
--output_dir; rerunning continues (finished stages are skipped). Logic: ``modeling_randommask.analysis.in_domain``.
"""

import os

# Idle OpenMP threads sleep instead of spinning (set before torch loads): see examples/reproduce.py.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from modeling_randommask.analysis.in_domain import InDomainArguments, in_domain, render_report
from modeling_randommask.data.options import parse_cli

if __name__ == "__main__":
    (args,) = parse_cli(InDomainArguments)
    report = in_domain(args)
    print(render_report(report))
    print(f"wrote {args.output_dir}/report.md and results.json")
