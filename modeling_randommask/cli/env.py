"""The versions of Python, torch, transformers, ..., CUDA and the GPU, to paste into a bug report.

``randommask env``. A package that is missing, or a GPU that cannot be queried, is reported as such, never a crash.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from .. import __version__
from ..data.options import CommandParser
from .entry import run_command

PACKAGES = ("torch", "transformers", "accelerate", "datasets", "tokenizers", "huggingface_hub", "safetensors",
            "numpy", "peft")


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _devices() -> dict[str, str]:
    """CUDA (the version torch was built with, the GPUs it sees) and Apple's MPS, from torch."""
    try:
        import torch
    except (ImportError, OSError):  # OSError: a torch whose native libraries do not load
        return {"CUDA": "no torch"}
    try:
        built = torch.version.cuda or (f"ROCm {torch.version.hip}" if torch.version.hip else "torch built without it")
        found = {"CUDA": f"{built}; available: {torch.cuda.is_available()}", "GPU": "none"}
        if torch.cuda.is_available():
            names = [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
            found["GPU"] = ", ".join(f"{name} x{names.count(name)}" for name in dict.fromkeys(names))
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            found["MPS"] = "available"
        return found
    except (RuntimeError, AssertionError, OSError) as error:  # a broken driver: a fact for the report, not a crash
        return {"CUDA": f"could not be queried ({type(error).__name__}: {error})"}


def environment() -> dict[str, str]:
    """What a bug report needs, in the order it is printed."""
    report = {"randommask": f"{__version__} ({Path(__file__).resolve().parents[1]})",
              "Platform": platform.platform(), "Python": platform.python_version()}
    report |= {name: _version(name) for name in PACKAGES}
    return report | _devices()


def main(argv: list[str] | None = None) -> None:
    def body() -> None:
        CommandParser().parse_args(argv)  # only --help
        print("Paste this into your bug report:\n")
        print("\n".join(f"- {name}: {value}" for name, value in environment().items()))

    run_command(body, __doc__)
