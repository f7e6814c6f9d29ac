"""Mini reproduction of the paper on CPU (about an hour on 2 cores): pretrain DNABERT-masking, RandomMask and
non-overlapping models with one budget, fine-tune each on the GUE tasks with both tokenizations, diagnose them.

    python examples/reproduce.py                                   # ../shared/data genomes and GUE tasks
    python examples/reproduce.py --max_steps 300 --finetune_epochs 1 --output_dir outputs/reproduce-quick

Prints Tables 2 and 3 and the diagnostics; writes report.md, report.json, the models, the fine-tuning results and
the figures into --output_dir. Rerunning continues an interrupted run. The logic lives in
``modeling_randommask.analysis.reproduction``.
"""

from modeling_randommask.cli.reproduce import main

if __name__ == "__main__":
    main()
