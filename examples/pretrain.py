"""Pretrain a DNA language model with the RandomMask curriculum.

    python examples/pretrain.py                       # tiny model, a few minutes on a CPU, embedded E. coli genome
    accelerate launch examples/pretrain.py --recipe paper --genome hg38.fa.gz --output_dir runs/randommask-base
    python examples/pretrain.py --help                # every option

Options and recipes live in ``modeling_randommask.training.pretrain_arguments``, the loop in
``modeling_randommask.training.pretraining``.
"""

import os
import sys

# Idle OpenMP threads sleep instead of spinning (set before torch loads): on a busy 2-core machine spinning threads
# made a 200-step tiny run take 302 s and 155 CPU-s instead of 70 s and 28 CPU-s (README: Quickstart).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from modeling_randommask.data.options import errors_as_messages
from modeling_randommask.training.pretrain_arguments import parse_args
from modeling_randommask.training.pretraining import pretrain

if __name__ == "__main__":
    with errors_as_messages():
        pretrain(*parse_args())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # gloo process groups abort at interpreter exit about one run in three; the work is saved by now
