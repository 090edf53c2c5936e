"""JupyterLab, Notebook 7, Voilà and marimo servers + headless Chromium (Playwright) for the real-browser tests.

The tests install what they need: Debian's ``chromium`` (``apt-get install -y chromium`` when run as
root; otherwise they skip and say why).  Playwright's own browser download is never used.  The
servers (``servers.py``) run on 127.0.0.1 on a free port with a random token, in private config and
runtime directories, and are stopped by their PID.  JupyterLab's server lives for the session,
Notebook 7's for its module, a Voilà or marimo server for its test.  Screenshots go to
``test-artifacts/browser/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from servers import Lab, Marimo, Notebook7, Voila, new_page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


def _ensure_chromium() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    from filelock import FileLock

    # one install at a time, whatever the number of pytest processes (xdist workers, other checkouts)
    with FileLock(os.path.join(tempfile.gettempdir(), "nbtrain-chromium-install.lock"), timeout=900):
        return CHROMIUM if os.path.exists(CHROMIUM) else _install_chromium()


def _install_chromium() -> str:
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"{CHROMIUM} is missing and this user cannot install it: run `apt-get install -y chromium` as root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(
            ["apt-get", "update", "-qq"],
            check=True,
            env=env,
            timeout=300,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=True,
            env=env,
            timeout=600,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        err = getattr(exc, "stderr", b"") or b""
        pytest.skip(f"could not install chromium with apt-get: {exc}; {err.decode(errors='replace')[-300:]}")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"apt-get installed chromium but {CHROMIUM} is still missing")
    return CHROMIUM


@pytest.fixture(scope="session")
def chromium_path():
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("jupyterlab")
    return _ensure_chromium()


@pytest.fixture(scope="session")
def lab(chromium_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-root")
    server = Lab(root, tmp_path_factory.mktemp("lab-home"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, lab, request):
    with new_page(browser, request) as pg:
        yield pg
    lab.end_sessions()


@pytest.fixture(scope="module")
def notebook7(chromium_path, tmp_path_factory):
    """A Jupyter Notebook 7 server (one per test module)."""
    pytest.importorskip("notebook")
    server = Notebook7(tmp_path_factory.mktemp("nb7-root"), tmp_path_factory.mktemp("nb7-home"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_server(chromium_path, tmp_path_factory):
    """``start_server(kind, *args, root=None, **kw)`` starts a "voila" (:class:`Voila`) or "marimo"
    (:class:`Marimo`) server over ``root`` with private directories; all are stopped afterwards."""
    started = []
    kinds = {"voila": ("voila", Voila), "marimo": ("marimo", Marimo)}

    def start(kind, *args, root=None, **kw):
        module, cls = kinds[kind]
        pytest.importorskip(module)
        server = cls(root or tmp_path_factory.mktemp("root"), tmp_path_factory.mktemp("home"), *args, **kw)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture
def bpage(browser, request):
    """A fresh browser page (1300x1000); a screenshot is saved when the test fails."""
    with new_page(browser, request) as pg:
        yield pg


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
