"""RandomMask models: a BERT encoder with DNABERT's weight names, written out here, plus DNA task heads.

Everything a checkpoint computes is in this file: embeddings, self-attention (SDPA, and eager arithmetic when
attention maps are asked for), layers, encoder, pooler and heads. It travels with every saved checkpoint
(`trust_remote_code`) and imports from transformers only the stable public surface every release from 4.57 to the
newest 5.x holds: `PreTrainedModel`, the output dataclasses, activations and logging. So a published checkpoint
does not break when transformers reorganises its own BERT (tests/compat/check_checkpoints.py proves it per
release). Weight names are BERT's (`bert.encoder.layer.N.attention.self.query...`, `cls.predictions...`), so
DNABERT and earlier RandomMask checkpoints load unchanged.

What is ours beyond BERT: a masked-LM step that, when asked (`labelled_logits_only=True`), spends no work on
unlabelled positions past the point where they can still matter, "cls"/"mean" pooling for sequence-level heads,
and a clear error for inputs longer than the position embeddings.
"""

from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint
from transformers import PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    MaskedLMOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import logging

from .configuration_randommask import IGNORE_INDEX, RandomMaskConfig

logger = logging.get_logger(__name__)


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


def _key_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """`[batch, 1, 1, keys]` boolean mask (True: attend) from a `[batch, keys]` 0/1 attention mask; None when every
    key is attended (SDPA then may use its fastest kernels). The all-ones test is skipped under torch.compile, where
    reading a value would break the graph."""
    if attention_mask is None:
        return None
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be [batch, length] with 1 at tokens and 0 at padding, got shape "
                         f"{tuple(attention_mask.shape)}")
    if not torch.compiler.is_compiling() and bool(attention_mask.all()):
        return None
    return attention_mask.bool()[:, None, None, :]


class RandomMaskEmbeddings(nn.Module):
    """Word + token-type + absolute position embeddings, LayerNorm, dropout (BERT's)."""

    def __init__(self, config: RandomMaskConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor | None = None, token_type_ids: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        length = inputs_embeds.shape[1]
        if position_ids is None:  # computed, not a buffer: nothing to restore when weights are loaded lazily
            position_ids = torch.arange(length, device=inputs_embeds.device)[None, :]
        if token_type_ids is None:
            token_type_ids = torch.zeros(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
        embeddings = inputs_embeds + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class RandomMaskSelfAttention(nn.Module):
    """Multi-head scaled dot-product attention: SDPA, or the same arithmetic written out when the probability maps
    are wanted (SDPA never forms them)."""

    def __init__(self, config: RandomMaskConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.scaling = self.head_size**-0.5
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def _heads(self, projected: torch.Tensor) -> torch.Tensor:
        batch, length, _ = projected.shape
        return projected.view(batch, length, self.num_heads, self.head_size).transpose(1, 2)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None, queries: torch.Tensor | None = None,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Context `[batch, queries, hidden]` of `queries` (default `hidden`: every position) over the keys and values
        of every position of `hidden`, and the probability maps `[batch, heads, queries, keys]` when asked for."""
        query_hidden = hidden if queries is None else queries
        query = self._heads(self.query(query_hidden))
        key, value = self._heads(self.key(hidden)), self._heads(self.value(hidden))
        dropout = self.dropout.p if self.training else 0.0
        probabilities = None
        if output_attentions:
            scores = torch.matmul(query, key.transpose(2, 3)) * self.scaling
            if mask is not None:
                scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
            probabilities = F.softmax(scores, dim=-1)
            context = torch.matmul(self.dropout(probabilities), value)
        else:
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout,
                                                     scale=self.scaling)
        batch, _, width, _ = context.shape
        return context.transpose(1, 2).reshape(batch, width, self.num_heads * self.head_size), probabilities


class RandomMaskResidualOutput(nn.Module):
    """Projection back to the hidden size, dropout, residual, LayerNorm: how both the attention (`in_features`
    hidden_size) and the feed-forward block (intermediate_size) end."""

    def __init__(self, config: RandomMaskConfig, in_features: int):
        super().__init__()
        self.dense = nn.Linear(in_features, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class RandomMaskAttention(nn.Module):
    def __init__(self, config: RandomMaskConfig):
        super().__init__()
        self.self = RandomMaskSelfAttention(config)
        self.output = RandomMaskResidualOutput(config, config.hidden_size)


class RandomMaskIntermediate(nn.Module):
    def __init__(self, config: RandomMaskConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = ACT2FN[config.hidden_act]

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(hidden))


class RandomMaskLayer(nn.Module):
    """One post-LayerNorm transformer block (BERT's)."""

    def __init__(self, config: RandomMaskConfig):
        super().__init__()
        self.attention = RandomMaskAttention(config)
        self.intermediate = RandomMaskIntermediate(config)
        self.output = RandomMaskResidualOutput(config, config.intermediate_size)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None, slots: torch.Tensor | None = None,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The block's output at every position, or (`slots` `[batch, width]`) only at those positions, whose keys
        and values are still every position of `hidden`."""
        queries = None
        if slots is not None:
            queries = hidden.gather(1, slots.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
        context, probabilities = self.attention.self(hidden, mask, queries, output_attentions)
        attended = self.attention.output(context, hidden if queries is None else queries)
        return self.output(self.intermediate(attended), attended), probabilities


class RandomMaskEncoder(nn.Module):
    """The stack of layers; `gradient_checkpointing` (set by `model.gradient_checkpointing_enable()`) recomputes each
    layer in the backward pass instead of keeping its activations."""

    def __init__(self, config: RandomMaskConfig):
        super().__init__()
        self.layer = nn.ModuleList(RandomMaskLayer(config) for _ in range(config.num_hidden_layers))
        self.gradient_checkpointing = False

    def run_layer(self, layer: RandomMaskLayer, hidden: torch.Tensor, mask: torch.Tensor | None,
                  slots: torch.Tensor | None = None, output_attentions: bool = False):
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(layer, hidden, mask, slots, output_attentions, use_reentrant=False)
        return layer(hidden, mask, slots, output_attentions)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool,
                output_hidden_states: bool) -> tuple[torch.Tensor, tuple | None, tuple | None]:
        """(last hidden states, every layer's input and the last output if asked, attention maps if asked)."""
        states = (hidden,) if output_hidden_states else None
        maps = () if output_attentions else None
        for layer in self.layer:
            hidden, probabilities = self.run_layer(layer, hidden, mask, output_attentions=output_attentions)
            if output_hidden_states:
                states += (hidden,)
            if output_attentions:
                maps += (probabilities,)
        return hidden, states, maps


class RandomMaskPooler(nn.Module):
    """Dense + tanh on the first ([CLS]) token's state."""

    def __init__(self, config: RandomMaskConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden[:, 0]))


class RandomMaskPredictionHeadTransform(nn.Module):
    def __init__(self, config: RandomMaskConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden)))


class RandomMaskLMPredictionHead(nn.Module):
    """Transform, then the vocabulary decoder.

    Tied to the word embeddings (the default), the decoder's bias is `bias` (`decoder.bias` names the same tensor,
    as in BERT, and checkpoints store it once as `cls.predictions.bias`); it is read from there, whatever a loader
    did to the alias. Untied (`tie_word_embeddings=False`), the decoder is a layer of its own, bias included, as
    BertForMaskedLM saves it.
    """

    def __init__(self, config: RandomMaskConfig):
        super().__init__()
        self.transform = RandomMaskPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.tied = config.tie_word_embeddings
        # Not tied here: transformers ties `decoder.bias` to `bias` after init or loading (`_tied_weights_keys`; 4.x
        # through `_tie_weights` below). Tied before, a loader that finds neither (a classifier's folder) leaves
        # both on the meta device.

    def _tie_weights(self) -> None:
        if self.tied:
            self.decoder.bias = self.bias

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(self.transform(hidden), self.decoder.weight, self.bias if self.tied else self.decoder.bias)


class RandomMaskOnlyMLMHead(nn.Module):
    def __init__(self, config: RandomMaskConfig):
        super().__init__()
        self.predictions = RandomMaskLMPredictionHead(config)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.predictions(hidden)


class RandomMaskPreTrainedModel(PreTrainedModel):
    """BERT's weight init and the loading/saving machinery, bound to `RandomMaskConfig`."""

    config_class = RandomMaskConfig
    base_model_prefix = "bert"
    supports_gradient_checkpointing = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """BERT's init: normal(0, initializer_range) weights, zero biases and padding row, unit LayerNorms."""
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, RandomMaskLMPredictionHead):
            nn.init.zeros_(module.bias)
            nn.init.zeros_(module.decoder.bias)


def _flag(value: bool | None, default: bool | None) -> bool:
    return bool(default if value is None else value)


class RandomMaskModel(RandomMaskPreTrainedModel):
    """The bare encoder (`last_hidden_state`, and `pooler_output` when built with the pooler).

    `output_attentions=True` returns one `[batch, heads, query, key]` probability map per layer, computed by the
    eager arithmetic (SDPA never forms those maps); the hidden states are the same to float rounding.
    """

    def __init__(self, config: RandomMaskConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = RandomMaskEmbeddings(config)
        self.encoder = RandomMaskEncoder(config)
        self.pooler = RandomMaskPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPoolingAndCrossAttentions | tuple:
        _check_length(self.config, input_ids, inputs_embeds, position_ids)
        hidden = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        hidden, states, maps = self.encoder(
            hidden, _key_mask(attention_mask), _flag(output_attentions, self.config.output_attentions),
            _flag(output_hidden_states, self.config.output_hidden_states),
        )
        pooled = self.pooler(hidden) if self.pooler is not None else None
        output = BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=hidden, pooler_output=pooled, hidden_states=states, attentions=maps
        )
        return output if _flag(return_dict, self.config.return_dict) else output.to_tuple()


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
    queries = labels != IGNORE_INDEX
    width = min(-(-int(queries.sum(dim=1).max()) // bucket) * bucket, queries.shape[1])
    return torch.argsort((~queries).to(torch.uint8), dim=1, stable=True)[:, :width]


class RandomMaskForMaskedLM(RandomMaskPreTrainedModel):
    """Masked-LM model; DNABERT's head (`cls.predictions.*`), decoder tied to the word embeddings.

    `logits` is `[batch, seq, vocab]`, with or without `labels`, as `BertForMaskedLM` returns.

    Pretraining opts in to a faster step with `labelled_logits_only=True` (with `labels`): only the labelled
    positions (`labels != -100`, ~15% of tokens) go through the last encoder layer's queries, feed-forward and
    the head; the last layer's keys and values still come from every position. Nothing after those projections
    reads an unlabelled position, so the loss is the same computation with ~85% of one layer and of the head left
    out. `logits` is then `[num_labelled, vocab]`, row `i` belonging to position `(labels != -100).nonzero()[i]`
    (row-major order), and `hidden_states`/`attentions` are not returned (they need every position; asking for
    them raises). Attention dropout in that layer draws its mask over `[labelled, keys]` instead of `[seq, keys]`:
    same distribution, other random numbers.
    Under the Trainer, `num_items_in_batch` (labelled tokens over all gradient-accumulation micro-batches)
    turns the loss into a sum over this batch divided by that count, so accumulation is exact.
    """

    _tied_weights_keys: ClassVar[dict[str, str]] = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }
    accepts_loss_kwargs = True

    def __init__(self, config: RandomMaskConfig):
        super().__init__(config)
        self.bert = RandomMaskModel(config, add_pooling_layer=False)
        self.cls = RandomMaskOnlyMLMHead(config)
        self.post_init()
        # Tied copies are not written to checkpoints; naming them lets the Trainer re-tie them on resume instead of
        # warning that they are missing. Only when tied: with `tie_word_embeddings=False` the decoder is a weight of
        # its own and is saved (as BertForMaskedLM does).
        self._keys_to_ignore_on_save = set(self._tied_weights_keys) if config.tie_word_embeddings else set()

    def get_output_embeddings(self) -> nn.Linear:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

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
        return_dict: bool | None = None,
        labelled_logits_only: bool = False,
    ) -> MaskedLMOutput | tuple:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
                  "position_ids": position_ids, "inputs_embeds": inputs_embeds}
        outputs = BaseModelOutputWithPoolingAndCrossAttentions()
        if labelled_logits_only and labels is not None:
            if output_attentions or output_hidden_states:
                raise ValueError("labelled_logits_only=True returns no per-layer outputs: drop output_attentions/"
                                 "output_hidden_states, or run without labelled_logits_only")
            # The slot count is read outside any graph (see _query_slots), here in forward's own frame, so that one
            # compiled graph runs from there to the loss.
            slots = _query_slots(labels, QUERY_SLOT_BUCKET if torch.compiler.is_compiling() else 1)
            hidden, labels = self._labelled_hidden_states(labels, slots, **inputs)
        else:
            outputs = self.bert(**inputs, output_attentions=output_attentions,
                                output_hidden_states=output_hidden_states, return_dict=True)
            hidden = outputs.last_hidden_state
        logits = self.cls(hidden)
        loss = None
        if labels is not None:
            labels = labels.to(logits.device)
            flat_logits, flat_labels = logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1)
            if num_items_in_batch is None:
                loss = F.cross_entropy(flat_logits, flat_labels, ignore_index=IGNORE_INDEX)
            else:
                total = F.cross_entropy(flat_logits, flat_labels, ignore_index=IGNORE_INDEX, reduction="sum")
                loss = total / torch.as_tensor(num_items_in_batch, device=total.device)
            if labelled_logits_only and torch.compiler.is_compiling():
                # drop the spare slots; dynamo runs this one op outside the graph
                logits = logits[labels != IGNORE_INDEX]
        output = MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                attentions=outputs.attentions)
        return output if _flag(return_dict, self.config.return_dict) else output.to_tuple()

    def _labelled_hidden_states(self, labels: torch.Tensor, slots: torch.Tensor, input_ids, attention_mask,
                                token_type_ids, position_ids, inputs_embeds) -> tuple[torch.Tensor, torch.Tensor]:
        """Final hidden states `[rows, hidden]` and labels `[rows]` of the labelled positions, in row-major order.

        Embeddings and every layer but the last run over every position (gradient checkpointing included); the
        last layer computes keys and values at every position and everything else only at each row's query `slots`
        (`_query_slots`). Eager, the rows are exactly the labelled positions. Under torch.compile they are every
        slot, spare ones labelled -100 (the loss ignores them; `forward` drops their logits): the shapes then
        depend on the slot bucket only, so a compiled run builds a few graphs, not one per batch.
        """
        bert = self.bert
        _check_length(self.config, input_ids, inputs_embeds, position_ids)
        hidden = bert.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        mask = _key_mask(attention_mask)
        if not bert.encoder.layer:  # the embeddings alone: every position is its own output
            labels = labels.to(hidden.device)
            return hidden[labels != IGNORE_INDEX], labels[labels != IGNORE_INDEX]
        *layers, last = bert.encoder.layer
        for layer in layers:
            hidden, _ = bert.encoder.run_layer(layer, hidden, mask)
        slots = slots.to(hidden.device)
        labels = labels.to(hidden.device).gather(1, slots)
        hidden, _ = bert.encoder.run_layer(last, hidden, mask, slots)
        if torch.compiler.is_compiling():
            return hidden.flatten(0, 1), labels.flatten()
        labelled = labels != IGNORE_INDEX
        return hidden[labelled], labels[labelled]


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of `hidden` `[batch, seq, dim]` over positions where `attention_mask` is 1 (all if None)."""
    if attention_mask is None:
        return hidden.mean(dim=1)
    weights = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


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
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput | tuple:
        outputs = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                            output_attentions, output_hidden_states, return_dict=True)
        if self.config.classifier_pooling == "cls":
            pooled = outputs.pooler_output
        else:
            pooled = masked_mean(outputs.last_hidden_state, attention_mask)
        logits = self.classifier(self.dropout(pooled))
        loss = None if labels is None else self._loss(logits, labels.to(logits.device))
        output = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return output if _flag(return_dict, self.config.return_dict) else output.to_tuple()

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
        return_dict: bool | None = None,
    ) -> TokenClassifierOutput | tuple:
        outputs = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                            output_attentions, output_hidden_states, return_dict=True)
        logits = self.classifier(self.dropout(outputs.last_hidden_state))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float().reshape(-1, self.num_labels), labels.to(logits.device).reshape(-1),
                                   ignore_index=IGNORE_INDEX)
        output = TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return output if _flag(return_dict, self.config.return_dict) else output.to_tuple()


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
