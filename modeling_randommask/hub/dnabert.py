"""Convert DNABERT checkpoints (transformers `BertForMaskedLM` over k-mer tokens) into RandomMask models.

DNABERT and RandomMask share the architecture, the weight names and the vocabulary ids (5 specials, then
k-mers in `itertools.product("ATCG")` order), so conversion is a config translation plus a strict
state-dict copy: every weight must land somewhere and every RandomMask weight must come from DNABERT.
"""

import os
from pathlib import Path

from transformers import BertConfig, BertForMaskedLM, PreTrainedConfig

from ..configuration_randommask import RandomMaskConfig
from ..modeling_randommask import RandomMaskForMaskedLM
from ..tokenization.kmer_vocab import check_vocab_file, kmer_size_of_vocab
from .model_source import CheckpointError, check_loaded_weights

# BertConfig fields that carry over unchanged (the architecture; everything else is ours or irrelevant).
_SHARED_FIELDS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "max_position_embeddings",
    "type_vocab_size",
    "initializer_range",
    "layer_norm_eps",
    "pad_token_id",
    "tie_word_embeddings",
)


def from_dnabert(path_or_model: str | os.PathLike | BertForMaskedLM, head: bool = True, **config_overrides
                 ) -> RandomMaskForMaskedLM:
    """RandomMaskForMaskedLM with the weights of a DNABERT checkpoint folder or `BertForMaskedLM` instance.

    `config_overrides` set RandomMask fields the BERT config lacks, e.g. `kmer_stride=6` for a
    non-overlapping model (the default, 1, is DNABERT's). A `vocab.txt` beside a checkpoint folder is
    checked against the k-mer vocabulary, so a checkpoint with other ids is refused, not silently
    mis-read. A folder without the trained masked-LM head (a fine-tuned classifier) is refused unless ``head=False``
    (only the encoder will be used). The result is in eval mode and gives the same logits as the source.
    """
    if isinstance(path_or_model, BertForMaskedLM):
        bert = path_or_model
        source = type(bert).__name__
    elif isinstance(path_or_model, (str, os.PathLike)):
        source = str(path_or_model)
        found = PreTrainedConfig.get_config_dict(source)[0].get("model_type")
        if found != "bert":
            raise CheckpointError(f"{source} holds a checkpoint of model_type {found!r}; DNABERT checkpoints are 'bert'")
        bert, info = BertForMaskedLM.from_pretrained(source, output_loading_info=True)
        check_loaded_weights(source, info, head=head)
    else:
        raise TypeError(f"from_dnabert expects a checkpoint path or a BertForMaskedLM, got {type(path_or_model)}")

    bert_config: BertConfig = bert.config
    if bert_config.is_decoder:
        raise CheckpointError(f"{source} is a BERT decoder (is_decoder=True); DNABERT is a bidirectional encoder")
    kmer_size = kmer_size_of_vocab(bert_config.vocab_size)
    if not isinstance(path_or_model, BertForMaskedLM):
        _check_vocab_file(Path(source) / "vocab.txt", kmer_size)

    fields = {name: getattr(bert_config, name) for name in _SHARED_FIELDS}
    config = RandomMaskConfig(kmer_size=kmer_size, **{**fields, **config_overrides})
    model = RandomMaskForMaskedLM(config)
    result = model.load_state_dict(bert.state_dict(), strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"{source} does not match RandomMaskForMaskedLM: missing {result.missing_keys}, "
            f"unexpected {result.unexpected_keys}"
        )
    return model.eval()


def _check_vocab_file(vocab_file: Path, kmer_size: int) -> None:
    """Refuse a vocabulary whose ids differ from DNABERT's (the weights would be read under wrong ids): the
    tokenizer's rule (``check_vocab_file``), raised as the checkpoint's fault."""
    if not vocab_file.is_file():
        return
    try:
        check_vocab_file(vocab_file, kmer_size)
    except ValueError as error:
        raise CheckpointError(str(error)) from None
