"""Inference: embeddings of sequences of any length, base-level predictions, zero-shot variant effect scores and
bits per base (with an order-k Markov baseline). The base-level arithmetic is ``pipeline_randommask``, which also
travels with checkpoints as their ``dna-base-probabilities`` pipeline."""

from ..pipeline_randommask import BASES, DEFAULT_RULE, RULES, TASK, DNABaseProbabilityPipeline
from .base_probabilities import base_probabilities, log_probs_at
from .bits_per_base import (
    HeldOutDNA,
    fit_markov,
    from_datasets,
    from_fasta,
    from_pretraining_data,
    held_out_bits_per_base,
    markov_bits_per_base,
    model_bits_per_base,
    sample_positions,
)
from .embeddings import EmbedArguments, embed, embed_to_file, iter_embeddings
from .loading import load_model, resolve_device
from .markov import MarkovBaseline
from .outputs import open_writer
from .sequences import Sequences, from_strings, read_sequences
from .variants import Allele, Reference, ScoreVariantsArguments, VariantReader, score_alleles, score_variants
from .windows import Tiling, per_base_states, tile

__all__ = ["BASES", "DEFAULT_RULE", "RULES", "TASK", "Allele", "DNABaseProbabilityPipeline", "EmbedArguments",
           "HeldOutDNA", "MarkovBaseline", "Reference", "ScoreVariantsArguments", "Sequences", "Tiling",
           "VariantReader", "base_probabilities", "embed", "embed_to_file", "fit_markov", "from_datasets",
           "from_fasta", "from_pretraining_data", "from_strings", "held_out_bits_per_base", "iter_embeddings",
           "load_model", "log_probs_at", "markov_bits_per_base", "model_bits_per_base", "open_writer",
           "per_base_states", "read_sequences", "resolve_device", "sample_positions", "score_alleles",
           "score_variants", "tile"]
