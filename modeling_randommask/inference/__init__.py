"""Inference: embeddings of sequences of any length, base-level predictions, zero-shot variant effect scores and
bits per base (with an order-k Markov baseline). The base-level arithmetic is ``pipeline_randommask``, which also
travels with checkpoints as their ``dna-base-probabilities`` pipeline."""

from .. import lazy_exports

# Eager: the function shares its module's name, and an import of that module would otherwise leave the package
# attribute pointing at the module.
from .base_probabilities import base_probabilities as base_probabilities

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "..pipeline_randommask": ["BASES", "DEFAULT_RULE", "RULES", "TASK", "DNABaseProbabilityPipeline"],
    ".base_probabilities": ["base_probabilities", "log_probs_at"],
    ".bits_per_base": ["HeldOutDNA", "PositionScores", "fit_markov", "from_datasets", "from_fasta",
                       "from_pretraining_data", "held_out_bits_per_base", "markov_bits_per_base",
                       "markov_position_scores", "model_bits_per_base", "model_position_scores", "paired_difference",
                       "sample_positions", "sample_stretches", "StatisticUnavailable"],
    ".embeddings": ["EmbedArguments", "embed", "embed_to_file", "iter_embeddings"],
    ".loading": ["load_model", "resolve_device"],
    ".markov": ["MarkovBaseline"],
    ".outputs": ["open_writer"],
    ".sequences": ["Sequences", "from_strings", "read_sequences"],
    ".variants": ["Allele", "Reference", "ScoreVariantsArguments", "VariantReader", "score_alleles", "score_variants"],
    ".windows": ["Tiling", "per_base_states", "tile"],
})
