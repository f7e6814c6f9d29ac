"""Fine-tune a RandomMask checkpoint on one task folder (GUE layout), over one or more seeds.

    python examples/finetune.py --model outputs/randommask-tiny --task ../shared/data/gue/prom/prom_core_tata \
        --output_dir outputs/ft-prom_core_tata --seeds 1 2 3
    python examples/finetune.py ... --tokenization non_overlapping     # the paper's Table 2 switch

Unset batch size, learning rate and epochs come from the paper's preset for the task family.
"""

import json

from modeling_randommask.data.options import parse_cli
from modeling_randommask.training.finetuning import FinetuneArguments, finetune

if __name__ == "__main__":
    (args,) = parse_cli(FinetuneArguments)
    results = finetune(args)
    print(json.dumps(results["test"], indent=2))
