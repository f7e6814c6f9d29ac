"""--push_to_hub against a small local HTTP server standing in for the Hub (HF_ENDPOINT): pretraining uploads
``files_to_upload(folder)``, fine-tuning the selected model folder with its card, nothing else of either run.

The server implements what ``create_repo`` and ``upload_folder`` call: /api/repos/create, /api/validate-yaml,
/api/models/<repo>/preupload/<revision> (every file answered "regular", so contents travel inside the commit) and
/api/models/<repo>/commit/<revision> (an ndjson body: a header line, then one line per file, base64)."""

import base64
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from conftest import QUICK_PRETRAIN, REPO
from synthetic_tasks import tiny_checkpoint, write_gc_task

from modeling_randommask.hub.upload import files_to_upload

pytestmark = pytest.mark.slow


class _Hub(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append(self.path)
        path = self.path.split("?")[0]
        if path == "/api/repos/create":
            payload = json.loads(body)
            repo = f"{payload.get('organization') or 'tester'}/{payload['name']}"
            self.server.repos.append(repo)
            self._reply({"url": f"{self.server.endpoint}/{repo}"})
        elif path == "/api/validate-yaml":
            self._reply({})
        elif "/preupload/" in path:
            files = json.loads(body)["files"]
            self._reply({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                   for f in files]})
        elif "/commit/" in path:
            for line in body.splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    self.server.files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            repo = path.removeprefix("/api/models/").split("/commit/")[0]
            self._reply({"commitUrl": f"{self.server.endpoint}/{repo}/commit/{'0' * 40}", "commitOid": "0" * 40})
        else:
            self._reply({"error": f"not served here: {path}"}, status=404)

    def _reply(self, payload: dict, status: int = 200):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def hub(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    server.endpoint = f"http://127.0.0.1:{server.server_port}"
    server.requests, server.repos, server.files = [], [], {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def _run(script: str, args: list[str], hub, tmp_path: Path) -> subprocess.CompletedProcess:
    """The example in a child whose huggingface_hub talks to ``hub`` (HF_ENDPOINT is read at import)."""
    env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_HUB_OFFLINE="0", HF_TOKEN="hf_local_test_token",
               HF_HOME=str(tmp_path / "hf_home"), HF_HUB_DISABLE_TELEMETRY="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(REPO))
    run = subprocess.run([sys.executable, str(REPO / "examples" / script), *args], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-4000:] + f"\nrequests: {hub.requests}"
    return run


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_pretraining_uploads_exactly_files_to_upload(hub, tmp_path):
    out = tmp_path / "tiny"
    _run("pretrain.py", [*QUICK_PRETRAIN, "--output_dir", str(out), "--push_to_hub", "--hub_model_id", "tester/tiny"],
         hub, tmp_path)
    assert hub.repos == ["tester/tiny"]
    assert sorted(hub.files) == files_to_upload(out)
    assert {"checkpoints", "logs"}.isdisjoint(name.split("/")[0] for name in hub.files)
    assert all(hub.files[name] == (out / name).read_bytes() for name in hub.files)


def test_finetuning_uploads_the_model_folder_with_its_card_and_nothing_else(hub, tmp_path):
    model = tiny_checkpoint(tmp_path / "tiny")
    task = write_gc_task(tmp_path / "gc" / "task", {"train": 64, "dev": 16, "test": 16})
    out = tmp_path / "ft"
    run = _run("finetune.py", ["--model", str(model), "--task", str(task), "--output_dir", str(out),
                               "--num_train_epochs", "1", "--push_to_hub", "--hub_model_id", "tester/gc-ft"],
               hub, tmp_path)
    assert hub.repos == ["tester/gc-ft"]
    assert hub.files == _files(out / "model")  # not results.json, not the Trainer's seed-* checkpoints
    assert "pushed: " in run.stdout

    results = json.loads((out / "results.json").read_text())
    metadata = yaml.safe_load(hub.files["README.md"].decode().split("---")[1])
    (entry,) = metadata["model-index"]
    recorded = {m["type"]: m["value"] for r in entry["results"] for m in r["metrics"]}
    assert recorded["matthews_correlation"] == pytest.approx(results["test"]["mcc"]["mean"])
    assert recorded["accuracy"] == pytest.approx(results["test"]["accuracy"]["mean"])
    assert 'from_pretrained("tester/gc-ft"' in hub.files["README.md"].decode()
