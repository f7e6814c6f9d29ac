"""RandomMask models: transformers' BERT encoder with DNABERT's weight names, plus DNA task heads.

The encoder, attention backends (SDPA by default) and gradient checkpointing are transformers' BERT; what is
ours: the config class, a masked-LM step that spends no work on unlabelled positions past the point where they
can still matter (last encoder layer and head run only at labelled positions), "cls"/"mean" pooling for
sequence-level heads, and per-layer attention maps that work whatever the attention backend.

This file travels with every saved checkpoint (`trust_remote_code`), so it imports only torch, transformers
and its sibling `configuration_randommask`.
"""

from contextlib import contextmanager
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F
from transformers import AttentionInterface
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    MaskedLMOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.models.bert.modeling_bert import (
    BertLayer,
    BertModel,
    BertOnlyMLMHead,
    BertPreTrainedModel,
    eager_attention_forward,
)
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs, logging
from transformers.utils.generic import can_return_tuple

from .configuration_randommask import RandomMaskConfig

logger = logging.get_logger(__name__)

# transformers' public registry of attention backends (every instance sees what is registered on the class).
ATTENTION_FUNCTIONS = AttentionInterface()


@contextmanager
def _eager_attention(config: RandomMaskConfig):
    """Run the enclosed forward with eager attention: only eager materialises the probability maps."""
    previous = config._attn_implementation
    config._attn_implementation = "eager"
    try:
        yield
    finally:
        config._attn_implementation = previous


def _layer_outputs(output_attentions: bool | None, output_hidden_states: bool | None) -> dict[str, bool]:
    """The per-layer output switches a head was given explicitly (None: the config decides), as encoder kwargs."""
    given = {"output_attentions": output_attentions, "output_hidden_states": output_hidden_states}
    return {name: value for name, value in given.items() if value is not None}


def _check_length(config: RandomMaskConfig, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None,
                  position_ids: torch.Tensor | None) -> None:
    """Refuse an input longer than the position embeddings (e.g. a long DNA string through `pipeline("fill-mask")`):
    torch would fail with a shape mismatch that does not say why."""
    given = input_ids if input_ids is not None else inputs_embeds
    if given is None or position_ids is not None or given.dim() < 2:
        return
    if given.shape[1] > config.max_position_embeddings:
        raise ValueError(
            f"the input holds {given.shape[1]} tokens, more than this model's {config.max_position_embeddings} "
            f"positions (max_position_embeddings): truncate it (tokenizer(..., truncation=True, "
            f"max_length={config.max_position_embeddings})) or read long DNA in windows (the dna-base-probabilities "
            "pipeline does)"
        )


class RandomMaskPreTrainedModel(BertPreTrainedModel):
    """BERT's weight init, output capturing and backend support, bound to `RandomMaskConfig`."""

    config_class = RandomMaskConfig
    config: RandomMaskConfig
    base_model_prefix = "bert"


class RandomMaskModel(RandomMaskPreTrainedModel, BertModel):
    """The bare encoder (`last_hidden_state`, and `pooler_output` when built with the pooler).

    `output_attentions=True` returns one `[batch, heads, query, key]` probability map per layer: SDPA (the
    default) and flash kernels never form those maps, so such a call runs with eager attention, which gives
    the same hidden states (to float rounding). The switch is per call and not thread-safe for a model
    shared between threads.
    """

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> BaseModelOutputWithPoolingAndCrossAttentions:
        inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
            "position_ids": position_ids,
            "inputs_embeds": inputs_embeds,
        }
        _check_length(self.config, input_ids, inputs_embeds, position_ids)
        kwargs.update(_layer_outputs(None, output_hidden_states))
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        if output_attentions and self.config._attn_implementation != "eager":
            logger.info_once("output_attentions=True: running eager attention to return attention maps")
            with _eager_attention(self.config):
                return super().forward(**inputs, output_attentions=True, **kwargs)
        return super().forward(**inputs, output_attentions=output_attentions, **kwargs)


class RandomMaskForMaskedLM(RandomMaskPreTrainedModel):
    """Masked-LM pretraining model; DNABERT's head (`cls.predictions.*`), decoder tied to word embeddings.

    With `labels` and `config.mlm_logits_at_labels_only` (the default), only the labelled positions
    (`labels != -100`, ~15% of tokens) go through the head: `logits` then has shape `[num_labelled, vocab]`,
    row `i` belonging to position `(labels != -100).nonzero()[i]` (row-major order), and the loss equals
    the full-logits loss. The last encoder layer then also runs only at labelled positions (its keys and
    values still come from every position): nothing after the last layer's key/value projections reads an
    unlabelled position, so this is the same computation with ~85% of one layer left out. That path is taken
    with the eager and SDPA backends unless hidden states or attention maps are requested (they need every
    position; the full encoder runs then).
    Attention dropout in that layer then draws its mask over `[labelled, keys]` instead of `[seq, keys]`:
    same distribution, other random numbers. Without `labels` (inference, pipelines) `logits` is
    `[batch, seq, vocab]`.
    Under the Trainer, `num_items_in_batch` (labelled tokens over all gradient-accumulation micro-batches)
    turns the loss into a sum over this batch divided by that count, so accumulation is exact.
    """

    _tied_weights_keys: ClassVar[dict[str, str]] = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }

    def __init__(self, config: RandomMaskConfig):
        super().__init__(config)
        self.bert = RandomMaskModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.post_init()
        # Tied copies are not written to checkpoints; naming them lets the Trainer re-tie them on resume instead of
        # warning that they are missing. Only the ones actually tied: with `tie_word_embeddings=False` the decoder
        # is a weight of its own and is saved (as BertForMaskedLM does).
        self._keys_to_ignore_on_save = set(self.all_tied_weights_keys)

    def get_output_embeddings(self):
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings):
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> MaskedLMOutput:
        kwargs.update(_layer_outputs(output_attentions, output_hidden_states))
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
                  "position_ids": position_ids, "inputs_embeds": inputs_embeds}
        labelled_path = (labels is not None and self.config.mlm_logits_at_labels_only
                         and self._labelled_path_applies(kwargs))
        if labelled_path:
            slots = _query_slots(labels, QUERY_SLOT_BUCKET if torch.compiler.is_compiling() else 1)
            hidden, labels = self._labelled_hidden_states(labels, slots, **inputs)
            outputs = MaskedLMOutput()
        else:
            outputs = self.bert(**inputs, return_dict=True, **kwargs)
            hidden = outputs.last_hidden_state
            if labels is not None:
                labels = labels.to(hidden.device)
                if self.config.mlm_logits_at_labels_only:
                    labelled = labels != -100
                    hidden, labels = hidden[labelled], labels[labelled]
        loss = None
        logits = self.cls(hidden)
        if labels is not None:
            flat_logits, flat_labels = logits.reshape(-1, self.config.vocab_size).float(), labels.reshape(-1)
            if num_items_in_batch is None:
                loss = F.cross_entropy(flat_logits, flat_labels, ignore_index=-100)
            else:
                total = F.cross_entropy(flat_logits, flat_labels, ignore_index=-100, reduction="sum")
                loss = total / torch.as_tensor(num_items_in_batch, device=total.device)
        if labelled_path and torch.compiler.is_compiling():
            logits = logits[labels != -100]  # drop the spare slots; dynamo runs this one op outside the graph
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions)

    def _labelled_path_applies(self, kwargs: dict) -> bool:
        """The labelled-only encoder path returns no per-layer outputs, takes no other encoder arguments, and
        knows the 4D masks of the eager and SDPA backends (flash/flex kernels take other mask forms)."""
        wants_layers = kwargs.get("output_hidden_states", self.config.output_hidden_states) or kwargs.get(
            "output_attentions", self.config.output_attentions
        )
        other_arguments = set(kwargs) - {"return_dict", "output_hidden_states", "output_attentions"}
        return (
            not wants_layers
            and not other_arguments
            and len(self.bert.encoder.layer) > 0
            and not self.config.chunk_size_feed_forward
            and self.config._attn_implementation in ("eager", "sdpa")
        )

    def _labelled_hidden_states(
        self, labels: torch.Tensor, slots: torch.Tensor, attention_mask: torch.Tensor | None, **inputs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Final hidden states `[rows, hidden]` and labels `[rows]` of the labelled positions, in row-major order.

        Embeddings and every layer but the last run as in BERT (gradient checkpointing included); the last
        layer computes keys and values at every position and everything else only at each row's query `slots`
        (`_query_slots`). Eager, the rows are exactly the labelled positions. Under torch.compile they are every
        slot, spare ones labelled -100 (the loss ignores them; `forward` drops their logits): the shapes then
        depend on the slot bucket only, so a compiled run builds a few graphs, not one per batch.
        """
        bert = self.bert
        _check_length(self.config, inputs["input_ids"], inputs["inputs_embeds"], inputs["position_ids"])
        hidden = bert.embeddings(
            input_ids=inputs["input_ids"], token_type_ids=inputs["token_type_ids"],
            position_ids=inputs["position_ids"], inputs_embeds=inputs["inputs_embeds"],
        )
        mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
        *layers, last = bert.encoder.layer
        for layer in layers:
            hidden = layer(hidden, mask)
        labels, slots = labels.to(hidden.device), slots.to(hidden.device)
        hidden, labels = _layer_at_queries(last, hidden, mask, slots), labels.gather(1, slots)
        if torch.compiler.is_compiling():
            return hidden.flatten(0, 1), labels.flatten()
        labelled = labels != -100
        return hidden[labelled], labels[labelled]


class RandomMaskForSequenceClassification(RandomMaskPreTrainedModel):
    """Sequence-level head: single-label, multi-label or regression with any number of outputs.

    `config.problem_type` picks the loss ("single_label_classification": cross-entropy on integer labels;
    "multi_label_classification": BCE-with-logits on 0/1 float labels `[batch, num_labels]`; "regression":
    MSE on float labels `[batch]` or `[batch, num_labels]`, e.g. DeepSTARR's two enhancer activities with
    `num_labels=2`). Unset, it is inferred as in BERT and recorded in the config. `config.classifier_pooling`
    picks the sequence summary: "cls" (BERT pooler) or "mean" (over the attention mask).
    """

    # The loss is a per-batch mean: let the Trainer divide by gradient-accumulation steps.
    accepts_loss_kwargs = False

    def __init__(self, config: RandomMaskConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = RandomMaskModel(config, add_pooling_layer=config.classifier_pooling == "cls")
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> SequenceClassifierOutput:
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            return_dict=True,
            **_layer_outputs(output_attentions, output_hidden_states),
            **kwargs,
        )
        if self.config.classifier_pooling == "cls":
            pooled = outputs.pooler_output
        else:
            pooled = masked_mean(outputs.last_hidden_state, attention_mask)
        logits = self.classifier(self.dropout(pooled))
        loss = None if labels is None else self._loss(logits, labels.to(logits.device))
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.config.problem_type is None:
            if self.num_labels == 1:
                self.config.problem_type = "regression"
            elif labels.dtype in (torch.long, torch.int):
                self.config.problem_type = "single_label_classification"
            else:
                self.config.problem_type = "multi_label_classification"
        logits = logits.float()
        if self.config.problem_type == "regression":
            return F.mse_loss(logits, labels.float().reshape(logits.shape))
        if self.config.problem_type == "single_label_classification":
            return F.cross_entropy(logits, labels.reshape(-1).long())
        return F.binary_cross_entropy_with_logits(logits, labels.float().reshape(logits.shape))


# Under torch.compile, query slots per row are rounded up to a multiple of this (at most the sequence length), so
# the last layer and the head see a handful of shapes over a run instead of a new one every batch.
QUERY_SLOT_BUCKET = 64


@torch.compiler.disable
def _query_slots(labels: torch.Tensor, bucket: int) -> torch.Tensor:
    """`[batch, width]` positions: each row's labelled positions (`labels != -100`) first, in order, then spare
    slots holding that row's other positions. `width` is the most labels in a row, rounded up to a multiple of
    `bucket` and capped at the sequence length.

    Reading that count is the step's one host sync. Under torch.compile this runs outside the graph, so the
    graph after it sees only the bucketed width: a new shape when the bucket changes, not every batch.
    """
    queries = labels != -100
    width = min(-(-int(queries.sum(dim=1).max()) // bucket) * bucket, queries.shape[1])
    return torch.argsort((~queries).to(torch.uint8), dim=1, stable=True)[:, :width]


def _layer_at_queries(layer: BertLayer, hidden: torch.Tensor, mask: torch.Tensor | None, slots: torch.Tensor) -> torch.Tensor:
    """Output `[batch, width, hidden]` of a BERT `layer` at the positions `slots` `[batch, width]`, whose keys and
    values are every position of `hidden` `[batch, seq, hidden]`: the attention stays batched over rows."""
    batch, length, _ = hidden.shape
    width = slots.shape[1]
    if width == 0:
        return hidden[:, :0]
    query_hidden = hidden.gather(1, slots.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
    if mask is not None:  # [batch, 1, seq, seq] (or broadcastable): keep the query rows
        mask = mask.expand(batch, -1, length, -1)
        mask = mask.gather(2, slots[:, None, :, None].expand(-1, mask.shape[1], -1, mask.shape[-1]))

    attention = layer.attention.self
    head_size = attention.attention_head_size
    query = attention.query(query_hidden).view(batch, width, -1, head_size).transpose(1, 2)
    key = attention.key(hidden).view(batch, length, -1, head_size).transpose(1, 2)
    value = attention.value(hidden).view(batch, length, -1, head_size).transpose(1, 2)
    interface = ATTENTION_FUNCTIONS.get_interface(attention.config._attn_implementation, eager_attention_forward)
    context, _ = interface(
        attention, query, key, value, mask,
        dropout=attention.dropout.p if attention.training else 0.0, scaling=attention.scaling,
    )
    attended = layer.attention.output(context.reshape(batch, width, -1), query_hidden)
    return layer.output(layer.intermediate(attended), attended)


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of `hidden` `[batch, seq, dim]` over positions where `attention_mask` is 1 (all if None)."""
    if attention_mask is None:
        return hidden.mean(dim=1)
    weights = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class RandomMaskForTokenClassification(RandomMaskPreTrainedModel):
    """Per-token head (`[batch, seq, num_labels]` logits; cross-entropy, labels -100 ignored)."""

    accepts_loss_kwargs = False

    def __init__(self, config: RandomMaskConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = RandomMaskModel(config, add_pooling_layer=False)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> TokenClassifierOutput:
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            return_dict=True,
            **_layer_outputs(output_attentions, output_hidden_states),
            **kwargs,
        )
        logits = self.classifier(self.dropout(outputs.last_hidden_state))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                logits.float().reshape(-1, self.num_labels), labels.to(logits.device).reshape(-1), ignore_index=-100
            )
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# save_pretrained copies this file (and configuration_randommask.py) into every checkpoint folder.
RandomMaskModel.register_for_auto_class("AutoModel")
RandomMaskForMaskedLM.register_for_auto_class("AutoModelForMaskedLM")
RandomMaskForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
RandomMaskForTokenClassification.register_for_auto_class("AutoModelForTokenClassification")

__all__ = [
    "RandomMaskForMaskedLM",
    "RandomMaskForSequenceClassification",
    "RandomMaskForTokenClassification",
    "RandomMaskModel",
    "RandomMaskPreTrainedModel",
]
