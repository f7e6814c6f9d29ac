"""RandomMask config and models: BERT-base defaults, DNABERT weight names, masked-only MLM logits, attention
maps under SDPA, task heads, DNABERT import. Tiny models on real lambda-phage DNA."""

import inspect
import json
import typing

import pytest
import torch
from conftest import lambda_genome, tiny_config, tiny_model
from torch.nn import functional as F
from transformers import BertConfig, BertForMaskedLM

from modeling_randommask.configuration_randommask import DEFAULT_AUTO_MAP, RandomMaskConfig
from modeling_randommask.hub.checkpoint import save_checkpoint
from modeling_randommask.hub.dnabert import from_dnabert
from modeling_randommask.hub.travelling_files import MODEL_CODE
from modeling_randommask.modeling_randommask import (
    RandomMaskForMaskedLM,
    RandomMaskForSequenceClassification,
    RandomMaskForTokenClassification,
    RandomMaskModel,
)
from modeling_randommask.tokenization import KmerTokenizer, kmer_size_of_vocab, kmer_vocab

TINY = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 256}


@pytest.fixture(scope="module")
def batch() -> dict[str, torch.Tensor]:
    """Four lambda windows of different lengths (so two rows are padded), with [CLS]/[SEP]."""
    genome = lambda_genome()
    windows = [genome[start : start + length] for start, length in [(0, 80), (10_000, 80), (20_000, 60), (30_000, 45)]]
    encoded = KmerTokenizer()(windows, padding=True, return_tensors="pt")
    assert (encoded["attention_mask"] == 0).any(), "fixture should contain padding"
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}




def mlm_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """~15% of real (non-special, non-pad) tokens labelled, the rest -100."""
    chosen = torch.rand(input_ids.shape, generator=torch.Generator().manual_seed(seed)) < 0.15
    chosen &= (input_ids > 4) & attention_mask.bool()
    assert chosen.sum() > 3
    return torch.where(chosen, input_ids, -100)


# --- config -------------------------------------------------------------------------------------------------------


def test_config_defaults_are_the_papers_bert_base_over_6mers():
    config = RandomMaskConfig()
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (12, 768, 12)
    assert (config.intermediate_size, config.max_position_embeddings) == (3072, 512)
    assert (config.vocab_size, config.pad_token_id, config.kmer_size, config.kmer_stride) == (4101, 0, 6, 1)
    assert config.model_type == "randommask"
    assert config.auto_map == DEFAULT_AUTO_MAP and len(DEFAULT_AUTO_MAP) == 5


def test_presets_sizes_and_overrides():
    assert RandomMaskConfig.from_preset("base").to_dict() == RandomMaskConfig().to_dict()
    tiny = RandomMaskConfig.from_preset("tiny")
    assert {name: getattr(tiny, name) for name in TINY} == TINY
    mini, small = RandomMaskConfig.from_preset("mini"), RandomMaskConfig.from_preset("small")
    assert (mini.num_hidden_layers, mini.hidden_size, small.num_hidden_layers, small.hidden_size) == (4, 256, 6, 512)
    overridden = RandomMaskConfig.from_preset("tiny", num_hidden_layers=3, kmer_size=3, kmer_stride=3)
    assert (overridden.num_hidden_layers, overridden.vocab_size, overridden.kmer_stride) == (3, 69, 3)
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        RandomMaskConfig.from_preset("huge")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"vocab_size": 4100}, "vocab_size=4100 is too small for kmer_size=6"),
        ({"kmer_size": 6, "kmer_stride": 7}, "kmer_stride"),
        ({"hidden_size": 100, "num_attention_heads": 12}, "not a multiple"),
        ({"classifier_pooling": "max"}, "classifier_pooling"),
    ],
)
def test_config_rejects_inconsistent_fields(fields, message):
    with pytest.raises(ValueError, match=message):
        RandomMaskConfig(**fields)


def test_loading_another_model_type_names_folder_and_type(tmp_path):
    BertForMaskedLM(BertConfig(vocab_size=4101, **TINY)).save_pretrained(tmp_path / "bert_ckpt")
    for cls in (RandomMaskConfig, RandomMaskForMaskedLM, RandomMaskForSequenceClassification):
        with pytest.raises(ValueError, match=r"bert_ckpt holds a checkpoint of model_type 'bert'.*from_dnabert"):
            cls.from_pretrained(tmp_path / "bert_ckpt")


# --- weight names, saving ---------------------------------------------------------------------------------------


def test_weight_names_are_dnaberts_and_decoder_is_tied():
    ours = RandomMaskForMaskedLM(tiny_config())
    bert = BertForMaskedLM(BertConfig(vocab_size=4101, **TINY))
    assert set(ours.state_dict()) == set(bert.state_dict())
    assert {"cls.predictions.transform.dense.weight", "cls.predictions.decoder.weight", "cls.predictions.bias"} <= set(
        ours.state_dict()
    )
    assert ours.cls.predictions.decoder.weight is ours.bert.embeddings.word_embeddings.weight


def test_save_pretrained_writes_full_auto_map_code_and_safetensors(tmp_path, batch):
    torch.manual_seed(0)
    model = RandomMaskForMaskedLM(tiny_config()).eval()
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["auto_map"] == DEFAULT_AUTO_MAP and saved["architectures"] == ["RandomMaskForMaskedLM"]
    assert {"model.safetensors", *MODEL_CODE} <= {
        p.name for p in tmp_path.iterdir()
    }
    loaded = RandomMaskForMaskedLM.from_pretrained(tmp_path).eval()
    assert loaded.cls.predictions.decoder.weight is loaded.bert.embeddings.word_embeddings.weight
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, loaded(**batch).logits)


def test_untied_decoder_is_saved_and_reloaded(tmp_path, batch):
    """`tie_word_embeddings=False`: the decoder is a weight of its own, saved and reloaded (as BertForMaskedLM)."""
    torch.manual_seed(0)
    model = RandomMaskForMaskedLM(tiny_config(tie_word_embeddings=False)).eval()
    assert model.cls.predictions.decoder.weight is not model.bert.embeddings.word_embeddings.weight
    model.save_pretrained(tmp_path)
    loaded, info = RandomMaskForMaskedLM.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert loaded.cls.predictions.decoder.weight is not loaded.bert.embeddings.word_embeddings.weight
    assert torch.equal(loaded.cls.predictions.decoder.weight, model.cls.predictions.decoder.weight)
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, loaded.eval()(**batch).logits)


def test_vocabulary_padded_to_a_multiple_saves_and_reloads(tmp_path, batch):
    """`resize_token_embeddings(..., pad_to_multiple_of=64)` (tensor-core padding) gives 4,160 rows: the 59 past the
    k-mer vocabulary are never produced by the tokenizer, and the folder saves and loads."""
    torch.manual_seed(0)
    model = RandomMaskForMaskedLM(tiny_config()).eval()
    model.resize_token_embeddings(4101, pad_to_multiple_of=64, mean_resizing=False)
    assert model.config.vocab_size == 4160
    tokenizer = KmerTokenizer()
    save_checkpoint(model, tokenizer, tmp_path / "padded")
    loaded = RandomMaskForMaskedLM.from_pretrained(tmp_path / "padded").eval()
    assert loaded.config.vocab_size == 4160 and loaded.get_input_embeddings().weight.shape[0] == 4160
    with torch.no_grad():
        logits = loaded(**batch).logits
    assert logits.shape[-1] == 4160 and torch.equal(model(**batch).logits, logits)
    assert int(batch["input_ids"].max()) < len(tokenizer) == 4101
    # A tokenizer that can produce ids the model has no row for is still refused.
    tokenizer.add_tokens([f"<extra{i}>" for i in range(60)])
    with pytest.raises(ValueError, match="tokenizer has 4161 tokens, the model's vocab_size is only 4160"):
        save_checkpoint(model, tokenizer, tmp_path / "short")


@pytest.mark.parametrize("head", [RandomMaskModel, RandomMaskForMaskedLM, RandomMaskForSequenceClassification,
                                  RandomMaskForTokenClassification])
def test_forward_signatures_declare_per_layer_outputs_like_berts_heads(head, batch):
    """Tools that inspect `forward` (signature or type hints) see `output_attentions` / `output_hidden_states` /
    `return_dict`, as in BERT's heads; an argument the model does not know is a TypeError, not silently dropped."""
    parameters = inspect.signature(head.forward).parameters
    assert {"output_attentions", "output_hidden_states", "return_dict"} <= set(parameters)
    assert not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    assert typing.get_type_hints(head.forward)["output_attentions"] == bool | None
    model = head(tiny_config(num_labels=2)).eval()
    with torch.no_grad():
        out = model(**batch, output_attentions=True, output_hidden_states=True)
    assert len(out.hidden_states) == 3 and len(out.attentions) == 2
    with torch.no_grad():
        plain = model(**batch)
    assert plain.hidden_states is None and plain.attentions is None


# --- masked-LM head -----------------------------------------------------------------------------------------------


def _labelled_and_full(model, inputs, labels):
    """``(output, gradients)`` of one forward + backward with ``labelled_logits_only`` on, then off."""
    results = []
    for labelled_only in (True, False):
        model.zero_grad()
        out = model(**inputs, labels=labels, labelled_logits_only=labelled_only)
        out.loss.backward()
        results.append((out, {name: p.grad.clone() for name, p in model.named_parameters()}))
    return results


def test_labelled_only_logits_give_the_full_logits_loss_and_gradients(batch):
    torch.manual_seed(0)
    model = RandomMaskForMaskedLM(tiny_config())
    labels = mlm_labels(batch["input_ids"], batch["attention_mask"])
    (sparse, sparse_grads), (full, full_grads) = _labelled_and_full(model, batch, labels)
    labelled = labels != -100
    assert sparse.logits.shape == (int(labelled.sum()), 4101)
    assert full.logits.shape == (*labels.shape, 4101)
    torch.testing.assert_close(sparse.logits, full.logits[labelled], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sparse.loss, full.loss, rtol=1e-6, atol=1e-6)
    for name, grad in full_grads.items():
        torch.testing.assert_close(sparse_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)

    with torch.no_grad():
        summed = F.cross_entropy(sparse.logits, labels[labelled], reduction="sum")
        accumulated = model(**batch, labels=labels, num_items_in_batch=torch.tensor(3 * int(labelled.sum())),
                            labelled_logits_only=True)
    torch.testing.assert_close(accumulated.loss, summed / (3 * int(labelled.sum())))


def test_masked_lm_with_labels_keeps_berts_logits_shape(batch, tmp_path):
    """`labels` change nothing but the loss: logits stay `[batch, length, vocab]` as BertForMaskedLM returns them
    (a Trainer's compute_metrics and BERT code rely on it), also for a checkpoint whose config.json holds the
    `mlm_logits_at_labels_only: true` of earlier releases."""
    torch.manual_seed(0)
    model = RandomMaskForMaskedLM(tiny_config()).eval()
    labels = mlm_labels(batch["input_ids"], batch["attention_mask"])
    model.config.mlm_logits_at_labels_only = True  # what configs saved before 0.5 hold
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["mlm_logits_at_labels_only"] is True
    loaded = RandomMaskForMaskedLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        plain = loaded(**batch)
        with_labels = loaded(**batch, labels=labels)
    assert with_labels.logits.shape == plain.logits.shape == (*labels.shape, 4101)
    torch.testing.assert_close(with_labels.logits, plain.logits, rtol=0, atol=0)
    kept = labels != -100
    torch.testing.assert_close(with_labels.loss, F.cross_entropy(plain.logits[kept], labels[kept]))


@pytest.mark.parametrize("padded", [True, False])
def test_last_layer_at_labelled_positions_equals_the_full_encoder(batch, padded):
    """With `labelled_logits_only` the last layer runs only at labelled positions: same logits and gradients as
    the full encoder (padded and unpadded batches, a row without any label)."""
    torch.manual_seed(0)
    model = RandomMaskForMaskedLM(tiny_config()).eval()
    inputs = batch if padded else {"input_ids": batch["input_ids"][:2], "attention_mask": batch["attention_mask"][:2]}
    assert bool((inputs["attention_mask"] == 0).any()) == padded
    labels = mlm_labels(inputs["input_ids"], inputs["attention_mask"], seed=2)
    labels[-1] = -100  # a row without labels gets no query slot
    labelled = labels != -100
    (sparse_out, sparse_grads), (full_out, full_grads) = _labelled_and_full(model, inputs, labels)
    sparse, full = sparse_out.logits, full_out.logits[labelled]
    torch.testing.assert_close(sparse, full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sparse_out.loss, full_out.loss, rtol=1e-6, atol=1e-6)
    for name, grad in full_grads.items():
        torch.testing.assert_close(sparse_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    # Per-layer outputs need every position: asking for them with the opt-in is an error, not a silent full run.
    with pytest.raises(ValueError, match="labelled_logits_only=True returns no per-layer outputs"):
        model(**inputs, labels=labels, output_hidden_states=True, labelled_logits_only=True)
    with torch.no_grad():  # no label at all: empty logits, no error
        empty = model(**inputs, labels=torch.full_like(labels, -100), labelled_logits_only=True)
    assert empty.logits.shape == (0, 4101)


def test_labelled_path_trains_with_dropout(batch):
    """Training mode with dropout: the labelled-only path runs, its loss is finite and differs from eval."""
    model = tiny_model(dropout=True)
    labels = mlm_labels(batch["input_ids"], batch["attention_mask"], seed=3)
    train_loss = model.train()(**batch, labels=labels, labelled_logits_only=True).loss
    train_loss.backward()
    assert torch.isfinite(train_loss)
    assert model.bert.encoder.layer[-1].attention.self.query.weight.grad.abs().sum() > 0
    with torch.no_grad():
        assert not torch.equal(model.eval()(**batch, labels=labels, labelled_logits_only=True).loss, train_loss.detach())


# --- attention maps -----------------------------------------------------------------------------------------------


def test_output_attentions_returns_probability_maps_under_sdpa(batch):
    torch.manual_seed(0)
    model = RandomMaskForMaskedLM(tiny_config()).eval()
    with torch.no_grad():
        plain = model(**batch)
        with_maps = model(**batch, output_attentions=True)
    batch_size, length = batch["input_ids"].shape
    assert len(with_maps.attentions) == 2
    for maps in with_maps.attentions:
        assert maps.shape == (batch_size, 2, length, length)
        torch.testing.assert_close(maps.sum(-1), torch.ones(batch_size, 2, length))
        padded_keys = batch["attention_mask"][:, None, None, :].expand_as(maps) == 0
        assert maps[padded_keys].abs().max() < 1e-6
    torch.testing.assert_close(with_maps.logits, plain.logits, rtol=1e-5, atol=1e-5)

    # The first layer's maps written out: softmax(q k^T / sqrt(d) over unpadded keys) of the embeddings.
    attention = model.bert.encoder.layer[0].attention.self
    with torch.no_grad():
        hidden = model.bert.embeddings(batch["input_ids"])
        query, key = (layer(hidden).view(batch_size, length, 2, 32).transpose(1, 2)
                      for layer in (attention.query, attention.key))
        scores = (query @ key.transpose(2, 3)) / 32**0.5
        scores = scores.masked_fill(batch["attention_mask"][:, None, None, :] == 0, float("-inf"))
    torch.testing.assert_close(with_maps.attentions[0], scores.softmax(-1))


# --- task heads -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "num_labels, labels, given, problem_type",
    [  # given=None: inferred from num_labels and the labels' dtype, as BERT does
        (3, torch.tensor([0, 2, 1, 2]), None, "single_label_classification"),
        (2, torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [0.0, 1.0]]), None, "multi_label_classification"),
        (1, torch.tensor([0.5, -1.0, 2.0, 0.1]), None, "regression"),
        # DeepSTARR: two enhancer activities (developmental, housekeeping); float [B, 2] labels need the explicit type
        (2, torch.tensor([[0.5, 1.5], [-1.0, 0.2], [2.0, 2.5], [0.1, -0.3]]), "regression", "regression"),
    ],
)
def test_sequence_classification_losses(batch, num_labels, labels, given, problem_type):
    torch.manual_seed(0)
    config = tiny_config(num_labels=num_labels, problem_type=given)
    model = RandomMaskForSequenceClassification(config).eval()
    out = model(**batch, labels=labels)
    assert model.config.problem_type == problem_type
    assert out.logits.shape == (4, num_labels)
    expected = {
        "single_label_classification": lambda: F.cross_entropy(out.logits, labels),
        "multi_label_classification": lambda: F.binary_cross_entropy_with_logits(out.logits, labels),
        "regression": lambda: F.mse_loss(out.logits, labels.reshape(4, num_labels)),
    }[problem_type]()
    torch.testing.assert_close(out.loss, expected)


def test_mean_pooling_ignores_padding_and_cls_pooling_uses_the_pooler(batch):
    torch.manual_seed(0)
    mean_model = RandomMaskForSequenceClassification(tiny_config(classifier_pooling="mean")).eval()
    assert mean_model.bert.pooler is None
    extra = 7  # more padding on every row must not move a mean-pooled prediction
    longer = {
        "input_ids": F.pad(batch["input_ids"], (0, extra), value=0),
        "attention_mask": F.pad(batch["attention_mask"], (0, extra), value=0),
    }
    with torch.no_grad():
        torch.testing.assert_close(mean_model(**batch).logits, mean_model(**longer).logits, rtol=1e-5, atol=1e-5)
        hidden = mean_model.bert(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        manual = mean_model.classifier((hidden * mask).sum(1) / mask.sum(1))
        torch.testing.assert_close(mean_model(**batch).logits, manual)

    cls_model = RandomMaskForSequenceClassification(tiny_config()).eval()
    with torch.no_grad():
        hidden = cls_model.bert(**batch).last_hidden_state
        manual = cls_model.classifier(torch.tanh(cls_model.bert.pooler.dense(hidden[:, 0])))
        torch.testing.assert_close(cls_model(**batch).logits, manual)


def test_token_classification_ignores_unlabelled_tokens(batch):
    torch.manual_seed(0)
    model = RandomMaskForTokenClassification(tiny_config(num_labels=3)).eval()
    labels = torch.where(batch["attention_mask"].bool(), batch["input_ids"] % 3, -100)
    out = model(**batch, labels=labels)
    assert out.logits.shape == (*batch["input_ids"].shape, 3)
    kept = labels != -100
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits[kept], labels[kept]))


def test_activation_checkpointing_gives_the_same_gradients(batch):
    torch.manual_seed(0)
    model = RandomMaskForMaskedLM(tiny_config())
    labels = mlm_labels(batch["input_ids"], batch["attention_mask"], seed=1)
    grads = []
    for checkpointing in (False, True):
        if checkpointing:
            # 5.25 renamed gradient_checkpointing_enable (now a deprecated alias); older releases have only that name
            enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
            enable()
        model.train().zero_grad()
        model(**batch, labels=labels).loss.backward()
        grads.append(model.bert.encoder.layer[0].attention.self.query.weight.grad.clone())
    assert model.bert.encoder.gradient_checkpointing
    torch.testing.assert_close(grads[0], grads[1])


def test_bare_model_returns_hidden_states_and_pooler(batch):
    model = RandomMaskModel(tiny_config()).eval()
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    assert out.last_hidden_state.shape == (*batch["input_ids"].shape, 64)
    assert out.pooler_output.shape == (4, 64) and len(out.hidden_states) == 3


# --- DNABERT import -----------------------------------------------------------------------------------------------


def test_kmer_size_of_vocab():
    assert [kmer_size_of_vocab(v) for v in (69, 261, 1029, 4101)] == [3, 4, 5, 6]
    assert [kmer_size_of_vocab(len(kmer_vocab(k))) for k in range(1, 9)] == list(range(1, 9))  # the inverse
    with pytest.raises(ValueError, match="not a k-mer vocabulary"):
        kmer_size_of_vocab(30522)


def test_from_dnabert_gives_identical_logits(tmp_path, batch):
    torch.manual_seed(0)
    dnabert = BertForMaskedLM(BertConfig(vocab_size=4101, hidden_act="gelu", **TINY)).eval()
    folder = tmp_path / "dnabert6"
    dnabert.save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(kmer_vocab(6)) + "\n")  # DNABERT's vocab_k6.txt (test_tokenizer)
    with torch.no_grad():
        expected = dnabert(**batch).logits
        for source in (folder, dnabert):
            converted = from_dnabert(source)
            assert isinstance(converted, RandomMaskForMaskedLM) and not converted.training
            assert (converted.config.kmer_size, converted.config.num_hidden_layers) == (6, 2)
            torch.testing.assert_close(converted(**batch).logits, expected, rtol=0, atol=1e-5)
    assert converted.cls.predictions.decoder.weight is converted.bert.embeddings.word_embeddings.weight

    lines = (folder / "vocab.txt").read_text().splitlines()
    lines[5], lines[6] = lines[6], lines[5]
    (folder / "vocab.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"vocab.txt: line 6 holds 'AAAAAT' but id 5 is 'AAAAAA'"):
        from_dnabert(folder)


def test_from_dnabert_refuses_other_checkpoints(tmp_path):
    RandomMaskForMaskedLM(tiny_config()).save_pretrained(tmp_path / "rm")
    with pytest.raises(ValueError, match=r"rm holds a checkpoint of model_type 'randommask'"):
        from_dnabert(tmp_path / "rm")
    BertForMaskedLM(BertConfig(vocab_size=30522, **TINY)).save_pretrained(tmp_path / "english")
    with pytest.raises(ValueError, match="not a k-mer vocabulary"):
        from_dnabert(tmp_path / "english")


# --- torch.compile ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_compiled_masked_only_training_builds_few_graphs_and_matches_eager():
    """30 AdamW steps on lambda DNA whose labelled counts change every batch (10-60% of tokens, so the busiest row
    needs 64 query slots in some batches and 128 in others; one row padded). The masked-only step reads its slot
    count outside the graph and buckets it, so torch.compile builds one graph per bucket (measured: 2) instead of
    breaking the graph and recompiling as the count changes; losses equal the eager run's (largest difference
    measured over the 30 steps: 6e-6; tolerance 1e-4), and the logits are still one row per labelled token."""
    from torch._dynamo.utils import counters

    genome = lambda_genome()
    encoded = KmerTokenizer()([genome[i * 1000 : i * 1000 + 131] for i in range(8)], return_tensors="pt")
    inputs = {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"].clone()}
    inputs["attention_mask"][-1, 100:] = 0  # a padded row
    torch.manual_seed(0)
    eager = RandomMaskForMaskedLM(tiny_config())
    twin = RandomMaskForMaskedLM(tiny_config())
    twin.load_state_dict(eager.state_dict())
    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(twin)
    optimizers = [torch.optim.AdamW(model.parameters(), lr=1e-3) for model in (eager, twin)]
    generator = torch.Generator().manual_seed(0)
    losses: dict[str, list[float]] = {"eager": [], "compiled": []}
    for step in range(30):
        chosen = torch.rand(inputs["input_ids"].shape, generator=generator) < (0.1, 0.3, 0.6)[step % 3]
        labels = torch.where(chosen & inputs["attention_mask"].bool(), inputs["input_ids"], -100)
        for name, model, optimizer in zip(losses, (eager, compiled), optimizers):
            out = model(**inputs, labels=labels, labelled_logits_only=True)
            out.loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses[name].append(out.loss.item())
            assert out.logits.shape == (int((labels != -100).sum()), 4101)
    graphs = counters["stats"]["unique_graphs"]
    assert 1 <= graphs <= 3, f"{graphs} graphs compiled in 30 steps"
    torch.testing.assert_close(torch.tensor(losses["compiled"]), torch.tensor(losses["eager"]), rtol=0, atol=1e-4)


def test_torch_export_gives_the_eager_outputs(batch):
    """The encoder and masked-LM head export (torch.export, e.g. for serving) with a padded batch: no graph
    break, no data-dependent branch, the same logits."""
    torch.manual_seed(0)
    model = RandomMaskForMaskedLM(tiny_config()).eval()
    inputs = (batch["input_ids"], batch["attention_mask"])
    exported = torch.export.export(model, inputs)
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(*inputs).logits, model(*inputs).logits, rtol=1e-5, atol=1e-5)
