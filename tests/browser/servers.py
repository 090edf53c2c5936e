"""The servers the browser tests drive: JupyterLab, Notebook 7, Voilà and marimo, each on 127.0.0.1 on a
free port with a random token, in private config and runtime directories, stopped by its PID (its
own process group), and ``new_page`` (a fresh page that leaves a screenshot when its test fails).  The
fixtures that start them are in ``conftest.py``."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@contextmanager
def new_page(browser, request):
    """A fresh browser page (1300x1000, 30 s timeouts); a screenshot in test-artifacts/browser when the
    test (``request.node``) failed."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            try:
                pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}-FAILED.png"))
            except Exception:
                pass
        context.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server of our own: ``url(path)`` opens a notebook, ``api(...)`` calls its REST API."""

    def __init__(self, root: Path, tmp: Path):
        self.root, self.tmp = root, tmp
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        conf = tmp / "config"
        (conf / "labconfig").mkdir(parents=True, exist_ok=True)
        (conf / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
        )
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(conf),
            JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
            IPYTHONDIR=str(tmp / "ipython"),
            MPLCONFIGDIR=str(tmp / "mpl"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        for var in ("MPLBACKEND", "NBTRAIN_COMM_MODE"):  # the kernel should see what a user's kernel sees
            env.pop(var, None)
        env.update(self.extra_env())
        self.log = open(tmp / "jupyterlab.log", "wb")
        self.proc = subprocess.Popen(
            self.command(), env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True
        )
        self._wait_up(timeout=60)

    def extra_env(self) -> dict:
        return {}

    def command(self) -> list:
        root, tmp = self.root, self.tmp
        return [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}",
            "--allow-root",
            "--LabApp.news_url=None",
            "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
            f"--LabApp.user_settings_dir={tmp / 'settings'}",
            "--LabApp.expose_app_in_browser=True",
        ]

    def ready(self) -> None:
        """Raises OSError until the server answers."""
        self.api("GET", "/api/status")

    def _wait_up(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.command()[3]} exited with {self.proc.returncode}: {self.read_log()[-2000:]}")
            try:
                self.ready()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.command()[3]} did not come up in {timeout} s: {self.read_log()[-2000:]}")

    def read_log(self) -> str:
        return (self.tmp / "jupyterlab.log").read_text(errors="replace")

    def api(self, method, path, timeout=10):
        req = urllib.request.Request(
            f"{self.base}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}?token={self.token}&reset"

    def end_sessions(self):
        """Shut down every kernel: a kernel outlives the page that started it."""
        for s in self.api("GET", "/api/sessions") or []:
            try:
                self.api("DELETE", f"/api/sessions/{s['id']}", timeout=30)
            except OSError:
                pass

    def stop(self):
        try:
            self.end_sessions()
        except OSError:
            pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server's own process group, by its PID
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


class Notebook7(Lab):
    """A Jupyter Notebook 7 server (``jupyter notebook``), set up like :class:`Lab`."""

    def command(self) -> list:
        root, tmp = self.root, self.tmp
        return [
            sys.executable,
            "-m",
            "jupyter",
            "notebook",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}",
            "--allow-root",
            f"--JupyterNotebookApp.workspaces_dir={tmp / 'workspaces'}",
            f"--JupyterNotebookApp.user_settings_dir={tmp / 'settings'}",
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ]

    def url(self, notebook: str) -> str:
        return f"{self.base}/notebooks/{notebook}?token={self.token}"


class Voila(Lab):
    """A Voilà server over ``root`` (``voila ROOT``): ``url(nb)`` renders a notebook as an app.

    ``options`` are extra command-line options, e.g. ``["--progressive_rendering=True"]``."""

    def __init__(self, root: Path, tmp: Path, options=()):
        self.options = list(options)
        super().__init__(root, tmp)

    def command(self) -> list:
        return [
            sys.executable,
            "-m",
            "voila",
            str(self.root),
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            f"--port={self.port}",
            f"--token={self.token}",
            *self.options,
        ]

    def ready(self) -> None:
        with urllib.request.urlopen(f"{self.base}/?token={self.token}", timeout=10) as r:
            r.read()

    def url(self, notebook: str) -> str:
        return f"{self.base}/voila/render/{notebook}?token={self.token}"

    def end_sessions(self):
        """Voilà shuts a page's kernel down when the page goes; the server's stop ends the rest."""


class Marimo(Lab):
    """A marimo server for one app: ``marimo run APP`` (``mode="run"``) or ``marimo edit APP``."""

    def __init__(self, root: Path, tmp: Path, app: str, mode: str = "run"):
        self.app, self.mode = app, mode
        super().__init__(root, tmp)

    def extra_env(self) -> dict:
        dirs = {var: self.tmp / var.lower() for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        # `marimo edit` runs the notebook on open, as a user's first look at it does
        (dirs["XDG_CONFIG_HOME"] / "marimo").mkdir(exist_ok=True)
        (dirs["XDG_CONFIG_HOME"] / "marimo" / "marimo.toml").write_text("[runtime]\nauto_instantiate = true\n")
        return {var: str(d) for var, d in dirs.items()}

    def command(self) -> list:
        return [
            sys.executable,
            "-m",
            "marimo",
            self.mode,
            str(self.root / self.app),
            "--headless",
            "--host=127.0.0.1",
            f"--port={self.port}",
            "--token",
            f"--token-password={self.token}",
            *(["--skip-update-check"] if self.mode == "edit" else []),
        ]

    def ready(self) -> None:
        with urllib.request.urlopen(f"{self.base}/health", timeout=10) as r:
            r.read()

    def url(self, notebook: str = "") -> str:
        return f"{self.base}/?access_token={self.token}"

    def end_sessions(self):
        """A marimo session ends with its page (and with the server)."""
