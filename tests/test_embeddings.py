"""Embeddings of any length: stitching across windows is exact with a model whose output can be computed by hand,
the other strand maps back to the right base, batching changes nothing, and every output format holds the same
numbers."""


import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO, lambda_dna, run_script, tiny_model
from safetensors.numpy import load_file

from modeling_randommask import RandomMaskForMaskedLM, save_checkpoint
from modeling_randommask.inference import EmbedArguments, embed, embed_to_file, read_sequences, tile
from modeling_randommask.inference import embeddings as embeddings_module
from modeling_randommask.tokenization import KmerTokenizer


def reverse_complement(dna: str) -> str:
    return dna[::-1].translate(str.maketrans("ACGTN", "TGCAN"))


def model_of(k: int, stride: int, layers: int = 2, seed: int = 0) -> tuple[RandomMaskForMaskedLM, KmerTokenizer]:
    model = tiny_model(seed, kmer_size=k, kmer_stride=stride, num_hidden_layers=layers, max_position_embeddings=64)
    return model, KmerTokenizer(k=k, kmer_stride=stride)


def position_free_model(k: int, stride: int) -> tuple[RandomMaskForMaskedLM, KmerTokenizer]:
    """No layers and zero position embeddings: a token's state is LayerNorm(its word embedding + the type embedding),
    whatever the window it sits in, so per-base states of a whole sequence can be computed by hand."""
    model, tokenizer = model_of(k, stride, layers=0)
    with torch.no_grad():
        model.bert.embeddings.position_embeddings.weight.zero_()
    return model, tokenizer


@torch.no_grad()
def by_hand(model, tokenizer, dna: str) -> np.ndarray:
    """Per-base states of ``dna`` for a position-free model: the mean over the k-mers of the whole sequence that hold
    each base, one base at a time."""
    embeddings = model.bert.embeddings
    ids = torch.tensor(tokenizer(dna, add_special_tokens=False)["input_ids"])
    states = embeddings.LayerNorm(embeddings.word_embeddings(ids) + embeddings.token_type_embeddings.weight[0])
    k, stride = tokenizer.k, tokenizer.kmer_stride
    rows = []
    for base in range(len(dna)):
        holders = [t for t in range(len(ids)) if t * stride <= base < t * stride + k]
        rows.append(states[holders].mean(dim=0))
    return torch.stack(rows).numpy()


@pytest.mark.parametrize("k, stride, length", [(6, 1, 1000), (6, 6, 1020)], ids=["overlapping", "non_overlapping"])
def test_per_base_states_are_stitched_exactly_across_window_borders(k, stride, length):
    model, tokenizer = position_free_model(k, stride)
    dna = lambda_dna(5_000, length)
    dna = dna[:500] + "NN" + dna[502:]  # [UNK] k-mers are states too
    window_tokens, overlap = 32, 2 * (k - 1)
    windows = tile(np.array([length]), tokenizer.bases_for_tokens(window_tokens - 2), overlap, k, stride)
    assert len(windows) >= 6  # many seams
    rows = embed(model, tokenizer, [dna], per_base=True, window_tokens=window_tokens, overlap=overlap,
                 progress=False)[0]
    assert rows.shape == (length, model.config.hidden_size)
    np.testing.assert_allclose(rows, by_hand(model, tokenizer, dna), atol=1e-6)
    if stride == 1:  # the bound is tight: with less overlap the bases next to a seam miss some of their k-mers
        seamed = embed(model, tokenizer, [dna], per_base=True, window_tokens=window_tokens, overlap=overlap - 2,
                       progress=False)[0]
        assert not np.allclose(seamed, by_hand(model, tokenizer, dna), atol=1e-3)


def test_reverse_complement_averaging_maps_every_base_back_to_the_forward_strand():
    model, tokenizer = position_free_model(6, 1)
    dna = lambda_dna(12_000, 700)
    rows = embed(model, tokenizer, [dna], per_base=True, window_tokens=32, overlap=10, reverse_complement=True,
                 progress=False)[0]
    other_strand = by_hand(model, tokenizer, reverse_complement(dna))[::-1]  # base b <- base L - 1 - b
    np.testing.assert_allclose(rows, (by_hand(model, tokenizer, dna) + other_strand) / 2, atol=1e-6)

    # A real (random) transformer, one window: the same identity through attention and position embeddings.
    model, tokenizer = model_of(6, 1, seed=1)
    short = dna[:50]
    both = embed(model, tokenizer, [short], per_base=True, reverse_complement=True, progress=False)[0]
    forward = embed(model, tokenizer, [short], per_base=True, progress=False)[0]
    reverse = embed(model, tokenizer, [reverse_complement(short)], per_base=True, progress=False)[0]
    np.testing.assert_allclose(both, (forward + reverse[::-1]) / 2, atol=1e-6)
    pooled = embed(model, tokenizer, [short, reverse_complement(short)], reverse_complement=True, progress=False)
    np.testing.assert_allclose(pooled[0], pooled[1], atol=1e-6)  # a sequence and its reverse complement agree


@pytest.mark.parametrize("pooling, window_pooling", [("mean", "mean"), ("max", "cls"), ("mean", "cls")])
def test_batching_and_sorting_change_nothing(pooling, window_pooling):
    model, tokenizer = model_of(6, 1)
    rng = np.random.default_rng(0)
    dna = [lambda_dna(int(start), int(length)) for start, length in
           zip(rng.integers(0, 40_000, 9), [8, 30, 61, 62, 63, 200, 333, 59, 1000])]
    options = {"pooling": pooling, "window_pooling": window_pooling, "progress": False}
    together = embed(model, tokenizer, dna, batch_tokens=250, **options)  # several windows per pass, padded
    alone = np.concatenate([embed(model, tokenizer, [one], batch_tokens=1, **options) for one in dna])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    per_base = embed(model, tokenizer, dna, per_base=True, batch_tokens=150, progress=False)
    for rows, one in zip(per_base, dna):
        np.testing.assert_allclose(rows, embed(model, tokenizer, [one], per_base=True, progress=False)[0], atol=1e-5)


@torch.no_grad()
def test_window_pooling_is_the_cls_state_or_the_mean_over_kmer_tokens():
    model, tokenizer = model_of(6, 1)
    dna = lambda_dna(100, 40)
    hidden = model.bert(**tokenizer(dna, return_tensors="pt")).last_hidden_state[0]
    np.testing.assert_allclose(embed(model, tokenizer, [dna], window_pooling="cls", progress=False)[0],
                               hidden[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(embed(model, tokenizer, [dna], window_pooling="mean", progress=False)[0],
                               hidden[1:-1].mean(dim=0).numpy(), atol=1e-6)


def test_output_streams_in_chunks_without_changing_a_number(monkeypatch):
    model, tokenizer = model_of(6, 1)
    dna = [lambda_dna(0, 900), lambda_dna(20_000, 70), lambda_dna(30_000, 400)]
    whole = embed(model, tokenizer, dna, per_base=True, progress=False)
    monkeypatch.setattr(embeddings_module, "_CHUNK_BYTES", 1)  # chunks of one batch
    pieces = embed(model, tokenizer, dna, per_base=True, batch_tokens=100, progress=False)
    for a, b in zip(whole, pieces):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model, tokenizer = model_of(6, 1)
    return save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("embed") / "model"), model, tokenizer


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    path = tmp_path_factory.mktemp("embed-input") / "mixed.fa"
    records = {"short": lambda_dna(0, 40), "long": lambda_dna(1_000, 500), "soft": lambda_dna(9_000, 90).lower()}
    path.write_text("".join(f">{name} description\n{dna}\n" for name, dna in records.items()))
    return path, records


@pytest.mark.parametrize("suffix", [".npy", ".safetensors", ".parquet"])
@pytest.mark.parametrize("per_base", [False, True], ids=["pooled", "per_base"])
def test_every_format_holds_what_embed_returns(tmp_path, checkpoint, fasta, suffix, per_base):
    folder, model, tokenizer = checkpoint
    path, records = fasta
    output = tmp_path / f"out{suffix}"
    written = embed_to_file(EmbedArguments(model=str(folder), input=str(path), output=str(output), per_base=per_base,
                                           device="cpu"))
    expected = embed(model, tokenizer, read_sequences(path), per_base=per_base, progress=False)
    rows = np.concatenate(expected) if per_base else expected
    if suffix == ".npy":
        np.testing.assert_allclose(np.load(output), rows, atol=1e-6)
    elif suffix == ".safetensors":
        tensors = load_file(output)
        stored = np.concatenate([tensors[name] for name in records]) if per_base else tensors["embeddings"]
        np.testing.assert_allclose(stored, rows, atol=1e-6)
    else:
        table = pd.read_parquet(output)
        np.testing.assert_allclose(np.stack(table["embedding"].to_numpy()), rows, atol=1e-6)
        expected_ids = [name for name, dna in records.items() for _ in (dna if per_base else [0])]
        assert table["id"].tolist() == expected_ids
        if per_base:
            assert "".join(table["base"]) == "".join(records.values()).upper()
            assert table["position"].tolist() == [i for dna in records.values() for i in range(len(dna))]
    if suffix != ".parquet":
        ids = pd.read_csv(f"{output}.ids.tsv", sep="\t")
        assert ids["id"].tolist() == list(records)
        assert ids["length"].tolist() == [len(dna) for dna in records.values()]
        assert ids["first_row"].tolist() == ([0, 40, 540] if per_base else [0, 1, 2])
    assert written["rows"] == len(rows)


def test_a_task_table_keeps_its_labels(tmp_path, checkpoint):
    folder, _, _ = checkpoint
    table = tmp_path / "task.csv"
    table.write_text("sequence,label\n" + "".join(f"{lambda_dna(i * 100, 50)},{i % 2}\n" for i in range(5)))
    embed_to_file(EmbedArguments(model=str(folder), input=str(table), output=str(tmp_path / "task.parquet")))
    stored = pd.read_parquet(tmp_path / "task.parquet")
    assert stored["label"].tolist() == ["0", "1", "0", "1", "0"]
    assert stored["id"].tolist() == [f"task.csv:{line}" for line in range(2, 7)]


def test_bad_requests_fail_before_anything_is_written(tmp_path, checkpoint, fasta):
    folder, _, _ = checkpoint
    path, _ = fasta
    base = {"model": str(folder), "input": str(path)}
    with pytest.raises(ValueError, match=r"output suffix must be one of \.npy, \.safetensors, \.parquet"):
        embed_to_file(EmbedArguments(**base, output=str(tmp_path / "out.h5")))
    (tmp_path / "taken.npy").write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="--overwrite"):
        embed_to_file(EmbedArguments(**base, output=str(tmp_path / "taken.npy")))
    assert (tmp_path / "taken.npy").read_bytes() == b"keep me"
    with pytest.raises(ValueError, match="window_tokens must be an int in 3..64"):
        embed_to_file(EmbedArguments(**base, output=str(tmp_path / "a.npy"), window_tokens=100))
    with pytest.raises(ValueError, match="layer must be in -3..2"):
        embed_to_file(EmbedArguments(**base, output=str(tmp_path / "b.npy"), layer=5))
    short = tmp_path / "short.fa"
    short.write_text(">ok\nACGTACGTACGT\n>tiny\nACG\n")
    with pytest.raises(ValueError, match=r"hold no 6-mer, e.g. 'tiny' \(3 bp\)"):
        embed_to_file(EmbedArguments(model=str(folder), input=str(short), output=str(tmp_path / "c.npy")))
    assert not any((tmp_path / name).exists() for name in ("out.h5", "a.npy", "b.npy", "c.npy", "c.npy.ids.tsv"))


@pytest.mark.slow
def test_the_command_line_prints_what_it_wrote_where(tmp_path, checkpoint, fasta):
    folder, _, _ = checkpoint
    path, _ = fasta
    output = tmp_path / "cli.npy"
    run = run_script(["--model", str(folder), "--input", str(path), "--output", str(output), "--per_base",
                      "--average_strands"], program=(str(REPO / "examples" / "embed.py"),))
    out, _ = run.communicate(timeout=600)
    assert run.returncode == 0, out[-3000:]
    assert out.strip().splitlines()[-1] == (f"wrote 630 x 64 embeddings (per base) of 3 sequences to {output}, "
                                            f"{output}.ids.tsv")
    assert np.load(output).shape == (630, 64)
