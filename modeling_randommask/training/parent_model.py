"""Continued pretraining: the checkpoint a run starts from (``--model_name_or_path``) and the settings it fixes.

A parent is any RandomMask checkpoint (a folder or a Hub id, read with its own tokenizer) or a DNABERT-1
``BertForMaskedLM`` (converted by ``from_dnabert``). Its weights are the new run's step 0; everything else (the
optimizer, the learning-rate schedule, the masking curriculum) starts afresh, as in transformers' ``run_mlm.py``:
this is a new run, not a resume. The parent fixes the k-mer size, the tokenization, the architecture and the number
of positions, so an option that says otherwise is refused in one line rather than silently overridden.

The card of a run records the tokens it was trained on (``tokens_seen`` in the card's metadata, counting its
parents' when known), so that a child's card can say how many tokens its weights had seen before and after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from huggingface_hub import ModelCard

from ..configuration_randommask import MODEL_SIZES
from ..data.options import OptionError
from ..data.strides import kmer_stride_of, tokenization_name
from ..hub.checkpoint import load_masked_lm
from ..hub.model_source import check_local_folder
from ..modeling_randommask import RandomMaskForMaskedLM
from ..tokenization import KmerTokenizer
from .pretrain_arguments import PretrainArguments

logger = logging.getLogger(__name__)

CARD_METADATA_KEY = "randommask"
"""The model card's metadata entry this package writes (``tokens_seen``, ``parent``)."""


@dataclass
class ParentModel:
    """The checkpoint a continued run starts from: its source as given, weights and tokenizer, and the tokens its
    card says it was trained on (``None``: unknown, e.g. a DNABERT checkpoint or a card from an older version)."""

    source: str
    model: RandomMaskForMaskedLM
    tokenizer: KmerTokenizer
    tokens_seen: int | None

    def lineage(self, tokens_this_run: int) -> dict:
        """The card's lines on where the weights come from and how much DNA they have seen (this run's count is the
        card's ``tokens_seen``)."""
        before = "unknown" if self.tokens_seen is None else self.tokens_seen
        total = (f"unknown (at least {tokens_this_run:,})" if self.tokens_seen is None
                 else self.tokens_seen + tokens_this_run)
        return {"continued_from": self.source, "tokens_seen_before": before, "tokens_seen_total": total}


def card_tokens_seen(source: str) -> int | None:
    """``tokens_seen`` from the metadata of ``source``'s model card (README.md of a folder or Hub repo), or ``None``
    when there is no card, no such entry, or it is not a whole number."""
    folder = check_local_folder(source)
    card = folder / "README.md" if folder is not None else source
    if folder is not None and not card.is_file():
        return None
    try:
        metadata = ModelCard.load(card).data.to_dict().get(CARD_METADATA_KEY) or {}
    except Exception as error:  # noqa: BLE001 - a card is optional: any failure to read it means "unknown"
        logger.info("%s: no model card read (%s); tokens seen before this run are unknown", source, error)
        return None
    tokens = metadata.get("tokens_seen") if isinstance(metadata, dict) else None
    return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0 else None


def load_parent(source: str) -> ParentModel:
    """The parent checkpoint ``source``: weights, own tokenizer and tokens seen. Errors name ``source``."""
    model, tokenizer = load_masked_lm(source)
    return ParentModel(source, model.train(), tokenizer, card_tokens_seen(source))


def _preset_of(config) -> str | None:
    shape = {name: getattr(config, name) for name in next(iter(MODEL_SIZES.values()))}
    return next((name for name, sizes in MODEL_SIZES.items() if sizes == shape), None)


def settings_from_parent(args: PretrainArguments, max_length: int, parent: ParentModel) -> PretrainArguments:
    """``args`` with the settings the parent fixes filled in (those left unset); refuse, in one line naming the option
    and the parent, one given with another value, and windows longer than the parent's positions."""
    config = parent.model.config
    parent_tokenization = tokenization_name(config.kmer_size, config.kmer_stride)
    preset = _preset_of(config)
    conflicts = []
    if args.kmer_size is not None and args.kmer_size != config.kmer_size:
        conflicts.append(f"--kmer_size {args.kmer_size} (the parent reads {config.kmer_size}-mers)")
    if args.tokenization is not None and kmer_stride_of(args.tokenization, config.kmer_size) != config.kmer_stride:
        conflicts.append(f"--tokenization {args.tokenization} (the parent's is {parent_tokenization})")
    if args.model_preset is not None and args.model_preset != preset:
        conflicts.append(f"--model_preset {args.model_preset} (the parent has {config.num_hidden_layers} layers of "
                         f"{config.hidden_size}{f', the {preset} preset' if preset else ', no preset'})")
    if args.position_embedding_init != "normal":
        conflicts.append(f"--position_embedding_init {args.position_embedding_init} (it would overwrite the parent's "
                         "trained position embeddings)")
    if max_length > config.max_position_embeddings:
        conflicts.append(f"--max_length {max_length} (the parent has {config.max_position_embeddings} positions)")
    if conflicts:
        raise OptionError(f"--model_name_or_path {parent.source}: the parent conflicts with {'; '.join(conflicts)}: "
                          "leave these options out (the parent sets them) or start from scratch")
    if parent_tokenization not in ("overlapping", "non_overlapping"):
        raise OptionError(f"--model_name_or_path {parent.source}: k-mer stride {config.kmer_stride} is neither "
                          "overlapping nor non-overlapping; pretraining supports only those two")
    return replace(args, kmer_size=config.kmer_size, tokenization=parent_tokenization, model_preset=preset)


def card_metadata(tokens_this_run: int, parent: ParentModel | None) -> dict:
    """The card's ``randommask`` metadata: the tokens the weights have seen in all (this run's plus the parent's;
    left out when the parent's are unknown) and the parent, for the next run that continues from this one."""
    entry: dict = {}
    if parent is None or parent.tokens_seen is not None:
        entry["tokens_seen"] = tokens_this_run + (parent.tokens_seen if parent is not None else 0)
    if parent is not None:
        entry["parent"] = parent.source
    return {CARD_METADATA_KEY: entry}


def parent_source_for_card(source: str) -> str | None:
    """The card's ``base_model``: a Hub id (the Hub refuses local paths there), else ``None``."""
    return None if check_local_folder(source) is not None else source


def describe(parent: ParentModel) -> str:
    """One log line on the parent."""
    config = parent.model.config
    seen = "unknown" if parent.tokens_seen is None else f"{parent.tokens_seen:,}"
    return (f"continuing from {parent.source}: {config.num_hidden_layers} layers of {config.hidden_size}, "
            f"{config.kmer_size}-mers stride {config.kmer_stride}, tokens seen before: {seen}")

