"""Write a small fine-tuning task from the embedded genomes: 100 bp fragments of phage lambda (1) or E. coli (0).

    python examples/make_demo_task.py                          # -> outputs/phage-host
    python examples/finetune.py --model outputs/randommask-tiny --task outputs/phage-host --output_dir outputs/ft-demo

A demonstration of the fine-tuning pipeline on a fresh clone, not a benchmark (see modeling_randommask.data.demo_task).
"""

from modeling_randommask.cli.make_demo_task import main

if __name__ == "__main__":
    main()
