"""A small read-only HTTP server speaking the part of the Hub API that loading reads, for tests: a child process
started with ``hub_env(server)`` (``HF_ENDPOINT`` is read when huggingface_hub is imported) downloads models with
``from_pretrained`` and model cards, and streams datasets with ``load_dataset(..., streaming=True)``.

Served per repository (``server.repos``: ``"user/name"`` for a model, ``"datasets/user/name"`` for a dataset, each a
dict of file path -> bytes; ``server.commits`` the same keys -> commit sha): its info at a revision, its file tree
(one level, as the Hub lists it without ``recursive``) and its files, whole or by byte range. Every request path is
kept in ``server.requests``."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote


class _Hub(BaseHTTPRequestHandler):
    def do_GET(self):
        path = unquote(self.path).partition("?")[0]
        self.server.requests.append(path)
        for key, files in self.server.repos.items():
            dataset, repo = key.startswith("datasets/"), key.removeprefix("datasets/")
            api = f"/api/{'datasets' if dataset else 'models'}/{repo}"
            resolve = f"{'/datasets' if dataset else ''}/{repo}/resolve/"
            if path == api or path.startswith(f"{api}/revision/"):
                return self._send(json.dumps({"id": repo, "sha": self.server.commits[key], "private": False,
                                              "siblings": [{"rfilename": name} for name in files]}).encode())
            if path.startswith(f"{api}/tree/"):
                return self._send(json.dumps(_tree(files, path.removeprefix(f"{api}/tree/").partition("/")[2]))
                                  .encode())
            if path.startswith(resolve):
                return self._file(files, path.removeprefix(resolve).partition("/")[2], self.server.commits[key])
        self._send(b"{}", 404, {"X-Error-Code": "RepoNotFound"})

    do_HEAD = do_GET

    def _file(self, files: dict[str, bytes], name: str, commit: str):
        if name not in files:
            return self._send(b"{}", 404, {"X-Error-Code": "EntryNotFound"})
        data, headers = files[name], {"X-Repo-Commit": commit, "ETag": f'"{commit}-{len(files[name])}"'}
        if "Range" in self.headers:
            first, last = self.headers["Range"].removeprefix("bytes=").split("-")
            first, last = int(first), int(last or len(data) - 1)
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
            return self._send(data[first : last + 1], 206, headers)
        return self._send(data, 200, headers)

    def _send(self, body: bytes, status: int = 200, headers: dict | None = None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args):  # keep the test output quiet
        pass


def _tree(files: dict[str, bytes], folder: str) -> list[dict]:
    """The entries directly inside ``folder``: files, and sub-folders once each."""
    prefix = folder + "/" if folder else ""
    entries: dict[str, dict] = {}
    for name, data in files.items():
        if not name.startswith(prefix):
            continue
        first, _, rest = name.removeprefix(prefix).partition("/")
        if rest:
            entries.setdefault(prefix + first, {"type": "directory", "path": prefix + first, "oid": "0" * 40})
        else:
            entries[name] = {"type": "file", "path": name, "oid": "0" * 40, "size": len(data)}
    return list(entries.values())


def folder_files(folder: Path) -> dict[str, bytes]:
    """A model folder's files as the Hub would hold them (what ``push_to_hub`` uploads: not checkpoints/, logs/)."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*")
            if path.is_file() and path.relative_to(folder).parts[0] not in ("checkpoints", "logs")}


def start_hub() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    server.repos, server.commits, server.requests = {}, {}, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def hub_env(server: ThreadingHTTPServer, home: Path, repo_root: Path) -> dict[str, str]:
    """The environment of a child process whose huggingface_hub talks to ``server``."""
    return dict(os.environ, HF_ENDPOINT=f"http://127.0.0.1:{server.server_port}", HF_HUB_OFFLINE="0",
                HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1", OMP_NUM_THREADS="1", PYTHONPATH=str(repo_root))
