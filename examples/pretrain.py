"""Pretrain a DNA language model with the RandomMask curriculum.

    python examples/pretrain.py                       # tiny model, a few minutes on a CPU, embedded E. coli genome
    accelerate launch examples/pretrain.py --recipe paper --genome hg38.fa.gz --output_dir runs/randommask-base
    python examples/pretrain.py --help                # every option

Options and recipes live in ``modeling_randommask.training.pretrain_arguments``, the loop in
``modeling_randommask.training.pretraining``.
"""

import os
import sys

from modeling_randommask.training.pretrain_arguments import parse_args
from modeling_randommask.training.pretraining import pretrain

if __name__ == "__main__":
    pretrain(*parse_args())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # gloo process groups abort at interpreter exit about one run in three; the work is saved by now
