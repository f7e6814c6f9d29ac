"""Configuration of RandomMask DNA language models (a BERT encoder over overlapping k-mer tokens).

This file travels with every saved checkpoint (`trust_remote_code`), so it imports only the standard
library and transformers.
"""

from typing import Any, Literal, get_args

import transformers

# The one name that differs between the releases a checkpoint must load under: 5.x calls the base class
# `PreTrainedConfig`, 4.x `PretrainedConfig` (5.x keeps that as an alias, which may go).
ConfigBase = getattr(transformers, "PreTrainedConfig", None) or transformers.PretrainedConfig

# 5 special tokens ([PAD] [UNK] [CLS] [SEP] [MASK], ids 0..4) then every k-mer: DNABERT's vocabulary layout.
# The tokenizer's `kmer_vocab.NUM_SPECIAL_TOKENS`, which the model's files cannot import (another folder of
# the source tree); a test checks that the two agree. Code outside the travelling files imports that one.
NUM_SPECIAL_TOKENS = 5

# The label every loss ignores (PyTorch's cross-entropy default): unmasked tokens in masked-LM, special tokens
# in per-token tasks.
IGNORE_INDEX = -100

# Where each Auto class finds our code in a saved (flat) checkpoint folder. `save_pretrained` only records the
# saved class and AutoConfig, so the full map is a config default and every checkpoint carries all five.
DEFAULT_AUTO_MAP = {
    "AutoConfig": "configuration_randommask.RandomMaskConfig",
    "AutoModel": "modeling_randommask.RandomMaskModel",
    "AutoModelForMaskedLM": "modeling_randommask.RandomMaskForMaskedLM",
    "AutoModelForSequenceClassification": "modeling_randommask.RandomMaskForSequenceClassification",
    "AutoModelForTokenClassification": "modeling_randommask.RandomMaskForTokenClassification",
}

# Model sizes by name. "base" is the paper's (DNABERT's) BERT-base; the others are for CPU runs and tests.
MODEL_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 256},
    "mini": {"num_hidden_layers": 4, "hidden_size": 256, "num_attention_heads": 4, "intermediate_size": 1024},
    "small": {"num_hidden_layers": 6, "hidden_size": 512, "num_attention_heads": 8, "intermediate_size": 2048},
    "base": {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072},
}

# Sizes a model can be built with: the smallest value each may take (0 layers: the embeddings alone).
_WHOLE_NUMBERS = {"kmer_size": 1, "kmer_stride": 1, "hidden_size": 1, "num_hidden_layers": 0, "num_attention_heads": 1,
                  "intermediate_size": 1, "max_position_embeddings": 1, "type_vocab_size": 1}

ModelSize = Literal["tiny", "mini", "small", "base"]
ClassifierPooling = Literal["cls", "mean"]
CLASSIFIER_POOLINGS = get_args(ClassifierPooling)


class RandomMaskConfig(ConfigBase):
    r"""BERT configuration plus the tokenization a checkpoint was trained with.

    Defaults are the paper's model: BERT-base over overlapping 6-mers (vocabulary 4,101 = 5 specials +
    4,096 6-mers, DNABERT's ids), 512 positions. A classic `__init__` (not 5.x's dataclass fields), so that the same
    file loads under transformers 4.57 to the newest 5.x.

    Args beyond BERT's:
        kmer_size: k of the k-mer tokens. `vocab_size` defaults to `5 + 4**kmer_size` and may be larger: rows past
            the k-mer vocabulary hold added tokens or padding (`resize_token_embeddings(..., pad_to_multiple_of=64)`);
            the k-mer tokenizer never produces padding ids.
        kmer_stride: 1 for overlapping k-mers (DNABERT), `kmer_size` for non-overlapping ones.
        classifier_pooling: how `RandomMaskForSequenceClassification` summarises a sequence: "cls" (BERT's
            pooler: dense + tanh on the [CLS] state) or "mean" (mean of the last hidden states over the
            attention mask, [CLS]/[SEP] included).

    Configs saved before 0.5 hold `mlm_logits_at_labels_only`; it is kept as read and changes nothing: masked-LM
    logits are `[batch, seq, vocab]` unless a call passes `labelled_logits_only=True`.
    """

    model_type = "randommask"

    def __init__(
        self,
        vocab_size: int | None = None,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        pad_token_id: int | None = 0,
        classifier_dropout: float | None = None,
        tie_word_embeddings: bool = True,
        kmer_size: int = 6,
        kmer_stride: int = 1,
        classifier_pooling: ClassifierPooling = "cls",
        auto_map: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.classifier_dropout = classifier_dropout
        self.kmer_size = kmer_size
        self.kmer_stride = kmer_stride
        self.classifier_pooling = classifier_pooling
        # A hand-edited or damaged config.json must fail here, naming the field, not deep inside torch.
        for name, least in _WHOLE_NUMBERS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be a whole number >= {least}, got {value!r}")
        if not 1 <= kmer_stride <= kmer_size:
            raise ValueError(f"kmer_stride must be in 1..kmer_size={kmer_size}, got {kmer_stride}")
        kmer_vocab_size = NUM_SPECIAL_TOKENS + 4**kmer_size
        if vocab_size is None:
            vocab_size = kmer_vocab_size
        elif isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < kmer_vocab_size:
            raise ValueError(
                f"vocab_size={vocab_size!r} is too small for kmer_size={kmer_size}: a k-mer vocabulary "
                f"holds {NUM_SPECIAL_TOKENS} special tokens + 4**k k-mers = {kmer_vocab_size} (more rows are allowed: "
                "added tokens, padding)"
            )
        self.vocab_size = vocab_size
        if hidden_size % num_attention_heads != 0:
            raise ValueError(f"hidden_size={hidden_size} is not a multiple of num_attention_heads={num_attention_heads}")
        if classifier_pooling not in CLASSIFIER_POOLINGS:
            raise ValueError(f"classifier_pooling must be one of {CLASSIFIER_POOLINGS}, got {classifier_pooling!r}")
        # Complete, never shrink: a checkpoint saved elsewhere may map more classes (e.g. AutoTokenizer).
        auto_map = {**DEFAULT_AUTO_MAP, **(auto_map or {})}
        super().__init__(pad_token_id=pad_token_id, tie_word_embeddings=tie_word_embeddings, auto_map=auto_map,
                         **kwargs)

    @classmethod
    def from_preset(cls, name: ModelSize, **overrides: Any) -> "RandomMaskConfig":
        """Config of a named size ("tiny", "mini", "small", "base"); `overrides` win over the preset."""
        if name not in MODEL_SIZES:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(MODEL_SIZES)}")
        return cls(**{**MODEL_SIZES[name], **overrides})

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path, **kwargs) -> tuple[dict[str, Any], dict[str, Any]]:
        """Refuse other architectures' checkpoints (transformers only warns, then loads garbage)."""
        config_dict, kwargs = super().get_config_dict(pretrained_model_name_or_path, **kwargs)
        found = config_dict.get("model_type")
        if found is not None and found != cls.model_type:
            hint = (
                " It looks like a (DNA)BERT checkpoint: convert it with "
                "modeling_randommask.from_dnabert(path)."
                if found == "bert"
                else ""
            )
            raise ValueError(
                f"{pretrained_model_name_or_path} holds a checkpoint of model_type {found!r}, "
                f"not {cls.model_type!r}: RandomMask classes cannot load it.{hint}"
            )
        return config_dict, kwargs


RandomMaskConfig.register_for_auto_class()  # save_pretrained then copies this file next to config.json
