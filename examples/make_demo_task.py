"""Write a small fine-tuning task from the embedded genomes: 100 bp fragments of phage lambda (1) or E. coli (0).

    python examples/make_demo_task.py                          # -> outputs/phage-host
    python examples/finetune.py --model outputs/randommask-tiny --task outputs/phage-host --output_dir outputs/ft-demo

A demonstration of the fine-tuning pipeline on a fresh clone, not a benchmark (see modeling_randommask.data.demo_task).
"""

from dataclasses import dataclass, field

from modeling_randommask.data.demo_task import write_phage_host_task
from modeling_randommask.data.options import parse_cli


@dataclass
class DemoTaskArguments:
    output_dir: str = field(default="outputs/phage-host", metadata={"help": "task folder to write"})
    seed: int = field(default=0, metadata={"help": "which fragments are drawn"})


if __name__ == "__main__":
    (args,) = parse_cli(DemoTaskArguments)
    folder = write_phage_host_task(args.output_dir, seed=args.seed)
    print(f"wrote {folder}/train,dev,test.csv.gz (2,000 / 300 / 300 fragments); next: python examples/finetune.py "
          f"--model outputs/randommask-tiny --task {folder} --output_dir outputs/ft-demo")
