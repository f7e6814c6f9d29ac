"""Data: genome FASTA -> training windows, labelled task files -> datasets, the batch sampler and the seeded hash."""

from .. import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    ".fasta": ["FastaFormatError", "Genome", "default_corpus", "read_genome"],
    ".genome_windows": ["GenomeDataConfig", "GenomeWindowDataset", "build_genome_datasets"],
    ".tasks": ["TaskData", "build_datasets", "load_task"],
})
