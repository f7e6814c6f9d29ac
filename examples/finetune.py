"""Fine-tune a RandomMask checkpoint on one task folder (GUE layout), over one or more seeds, with the Trainer.

    python examples/finetune.py --model outputs/randommask-tiny --task ../shared/data/gue/prom/prom_core_tata \
        --output_dir outputs/ft-tata --seeds 1 2 3
    python examples/finetune.py ... --tokenization non_overlapping          # the paper's Table 2 switch
    python examples/finetune.py ... --lora_r 8                              # LoRA (pip install 'randommask[peft]')
    python examples/finetune.py ... --bf16 --gradient_accumulation_steps 2 --push_to_hub --hub_model_id me/tata
    accelerate launch examples/finetune.py ...                              # several GPUs: same global batch
    python examples/finetune.py --help                                      # every option, the Trainer's too

Every transformers ``TrainingArguments`` option works; those not given come from the paper's recipe for the task
family (batch = the global batch, learning rate, epochs, weight decay), then from this package's defaults.
"""

import logging
import os
import sys

# Idle OpenMP threads sleep instead of spinning (set before torch loads): on a busy 2-core machine spinning threads
# made a 200-step tiny run take 302 s and 155 CPU-s instead of 70 s and 28 CPU-s (README: Quickstart).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from modeling_randommask.data.options import errors_as_messages
from modeling_randommask.training.finetuning import finetune, finetune_summary, parse_finetune_args

if __name__ == "__main__":
    logging.basicConfig(format="%(message)s")
    logging.getLogger("modeling_randommask").setLevel(logging.INFO)
    args, training_args = parse_finetune_args()
    with errors_as_messages():
        results = finetune(args, training_args)
    if training_args.process_index == 0:
        print(finetune_summary(results))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # gloo process groups can abort at interpreter exit; everything is written by now
