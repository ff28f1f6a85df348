"""``make lab``'s server: the pinned JupyterLab on localhost with the project's kernel, driven through its
REST API and a kernel channel the way the browser client drives it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

TOKEN = uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(base: str, path: str, method: str = "GET", body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{base}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, root, tiny_data):
    """JupyterLab serving a copy of notebooks/ (beside the tiny data) with the kernel ``make lab`` registers."""
    home = tmp_path_factory.mktemp("lab")
    shutil.copytree(root / "notebooks", home / "notebooks")
    (home / "data").symlink_to(tiny_data)
    prefix = home / "prefix"  # make lab installs into the venv (--sys-prefix); here a prefix of the test's own
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ipykernel",
            "install",
            "--prefix",
            str(prefix),
            "--name",
            "paperlib",
            "--display-name",
            "paperlib (.venv)",
        ],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    env = {**os.environ, "JUPYTER_PATH": str(prefix / "share" / "jupyter"), "JUPYTER_RUNTIME_DIR": str(home / "rt")}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("jupyter")),
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={home / 'notebooks'}",
            "--ServerApp.port_retries=0",
            "--KernelManager.transport=ipc",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(home / "server.log").open("w"),
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            _get(base, "/api/status")
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {(home / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
    yield base, home
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def test_the_project_kernel_is_listed(lab):
    specs = _get(lab[0], "/api/kernelspecs")["kernelspecs"]
    assert specs["paperlib"]["spec"]["display_name"] == "paperlib (.venv)"
    assert Path(specs["paperlib"]["spec"]["argv"][0]).resolve() == Path(sys.executable).resolve()


def test_a_notebooks_cells_run_in_the_project_kernel(lab, root):
    lab, home = lab
    notebook = _get(lab, "/api/contents/tasks.ipynb")
    assert notebook["type"] == "notebook"
    session = _get(
        lab, "/api/sessions", "POST", {"path": "tasks.ipynb", "type": "notebook", "kernel": {"name": "paperlib"}}
    )
    kernel = session["kernel"]["id"]
    try:
        cells = [c for c in nbformat.read(root / "notebooks" / "tasks.ipynb", 4).cells if c.cell_type == "code"]
        replies = asyncio.run(_execute(lab.replace("http", "ws"), kernel, [c.source for c in cells]))
        assert [r["status"] for r in replies] == ["ok"] * len(cells), [r.get("evalue") for r in replies]
    finally:
        _get(lab, f"/api/sessions/{session['id']}", "DELETE")
    assert kernel not in {k["id"] for k in _get(lab, "/api/kernels")}
    log = (home / "server.log").read_text()  # the kernel's own stderr too: over IPC, no unencrypted-TCP warning
    assert "without encryption" not in log and "KeyboardInterrupt" not in log, log[-2000:]


async def _execute(ws_base: str, kernel: str, sources: list[str], timeout: float = 120) -> list[dict]:
    """Run each source in the kernel over its websocket channel; return each execute_reply's content."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    request = HTTPRequest(f"{ws_base}/api/kernels/{kernel}/channels", headers={"Authorization": f"token {TOKEN}"})
    connection = await websocket_connect(request)
    replies = []
    try:
        for source in sources:
            msg_id = uuid.uuid4().hex
            message = {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "test",
                    "session": TOKEN,
                    "version": "5.3",
                    "date": "",
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "buffers": [],
                "content": {
                    "code": source,
                    "silent": False,
                    "store_history": True,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
            }
            await connection.write_message(json.dumps(message))
            while True:
                raw = await asyncio.wait_for(connection.read_message(), timeout)
                reply = json.loads(raw)
                if reply.get("parent_header", {}).get("msg_id") == msg_id and reply["msg_type"] == "execute_reply":
                    replies.append(reply["content"])
                    break
            if replies[-1]["status"] != "ok":
                break
    finally:
        connection.close()
    return replies
