"""In-domain pretraining study on CPU: DNABERT masking against RandomMask at equal tokens, several seeds each,
on human DNA by default; bits per base on a held-out block against order-k Markov models, and test MCC at a few
label sizes against random weights and a 6-mer logistic regression.

    python examples/in_domain.py                        # ../shared/data human slices and GUE tasks
    python examples/in_domain.py --max_steps 100 --label_sizes 300 --output_dir outputs/in-domain-quick

Writes results.json, report.md, costs.json (CPU seconds per stage), the models and every fine-tuning result into
--output_dir; rerunning continues (finished stages are skipped). Logic: ``modeling_randommask.analysis.in_domain``.
"""

from modeling_randommask.cli.in_domain import main

if __name__ == "__main__":
    main()
