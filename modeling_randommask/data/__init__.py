"""Data: genome FASTA -> training windows, labelled task files -> datasets, the batch sampler and the seeded hash."""

from .fasta import FastaFormatError, Genome, default_corpus, read_genome
from .genome_windows import GenomeDataConfig, GenomeWindowDataset, build_genome_datasets
from .tasks import TaskData, build_datasets, load_task

__all__ = ["FastaFormatError", "Genome", "GenomeDataConfig", "GenomeWindowDataset", "TaskData", "build_datasets",
           "build_genome_datasets", "default_corpus", "load_task", "read_genome"]
