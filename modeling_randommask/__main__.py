"""``python -m modeling_randommask <command> [options]``: the same as ``randommask <command>`` (``cli/main.py``),
for ``accelerate launch -m modeling_randommask pretrain ...`` and wherever the script is not on PATH."""

from .cli.main import main

if __name__ == "__main__":
    main()
