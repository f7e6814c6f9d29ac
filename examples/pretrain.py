"""Pretrain a DNA language model with the RandomMask curriculum.

    python examples/pretrain.py                       # tiny model, a few minutes on a CPU, embedded E. coli genome
    accelerate launch examples/pretrain.py --recipe paper --genome hg38.fa.gz --output_dir runs/randommask-base
    python examples/pretrain.py --help                # every option

Options and recipes live in ``modeling_randommask.training.pretrain_arguments``, the loop in
``modeling_randommask.training.pretraining``.
"""

from modeling_randommask.cli.pretrain import main

if __name__ == "__main__":
    main()
