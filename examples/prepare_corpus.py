"""Parse FASTA files (or sequence files, a dataset) once into a prepared corpus that every rank of every later
pretraining run memory-maps.

    python examples/prepare_corpus.py --genome hg38.fa.gz --corpus_dir /shared/corpora
    python examples/prepare_corpus.py --genome genomes/ --corpus_dir /shared/corpora   # every FASTA file of a folder
    python examples/prepare_corpus.py --dataset_name user/dna-corpus --corpus_dir /shared/corpora  # a Hub dataset

``examples/pretrain.py`` does the same step itself when the store is missing (rank 0 prepares, the others wait);
this command lets a cluster user build it once, e.g. on a login node, on storage every node sees. The logic lives
in ``modeling_randommask.data.corpus_store``.
"""

from modeling_randommask.cli.prepare_corpus import main

if __name__ == "__main__":
    main()
