"""Publish a model folder on the Hugging Face Hub: the model, its tokenizer, code and card, nothing of the run.

``HF_ENDPOINT`` (read by huggingface_hub when it is imported) points uploads at another server, e.g. a local one in
tests; the token comes from ``HF_TOKEN`` or ``huggingface-cli login`` as usual.
"""

from __future__ import annotations

from pathlib import Path

# Training state, tracker logs and the lock of the run writing the folder (training.output_lock.LOCK_FILE) stay
# local; the model folder, its card and training_log.jsonl are published.
UPLOAD_IGNORE = ["checkpoints/*", "logs/*", ".randommask.lock"]


def files_to_upload(folder: Path) -> list[str]:
    """The files ``push_model_folder`` uploads from ``folder`` (relative paths, sorted)."""
    from huggingface_hub.utils import filter_repo_objects

    folder = Path(folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return list(filter_repo_objects(files, ignore_patterns=UPLOAD_IGNORE))


def push_model_folder(folder: Path, repo_id: str, *, token: str | None = None, private: bool | None = None) -> str:
    """Create the Hub repository if needed (``private`` as asked, else the Hub's default) and upload
    ``files_to_upload(folder)``; return the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, exist_ok=True, private=private)
    return api.upload_folder(repo_id=repo_id, folder_path=str(folder), ignore_patterns=UPLOAD_IGNORE).commit_url
