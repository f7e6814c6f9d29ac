"""A small task from the embedded genomes: 100 bp fragments of phage lambda (1) or E. coli (0).

``randommask make-demo-task`` (``examples/make_demo_task.py``), so that fine-tuning runs on a fresh clone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..data.demo_task import write_phage_host_task
from ..data.options import parse_cli
from .entry import run_command


@dataclass
class DemoTaskArguments:
    output_dir: str = field(default="outputs/phage-host", metadata={"help": "task folder to write"})
    seed: int = field(default=0, metadata={"help": "which fragments are drawn"})
    overwrite_output_dir: bool = field(default=False, metadata={
        "help": "replace train/dev/test.csv.gz already in --output_dir (refused otherwise)"})


def main(argv: list[str] | None = None) -> None:
    def body() -> None:
        (args,) = parse_cli(DemoTaskArguments, argv)
        folder = write_phage_host_task(args.output_dir, seed=args.seed, overwrite=args.overwrite_output_dir)
        print(f"wrote {folder}/train,dev,test.csv.gz (2,000 / 300 / 300 fragments); next: randommask finetune "
              f"--model outputs/randommask-tiny --task {folder} --output_dir outputs/ft-demo")

    run_command(body, __doc__)
