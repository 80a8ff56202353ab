"""Start a real JupyterLab server and a headless Chromium for the end-to-end tests.

Shared by ``tests/e2e/conftest.py`` and ``scripts/make_screenshots.py``, so the
README pictures come from exactly the machinery the tests use.

The server is started the way ``make lab`` starts it: the arguments of the
Makefile's ``lab`` recipe (``--notebook-dir=notebooks`` and the start page),
run in a folder holding a copy of ``notebooks/``. The test adds only what a
test needs: loopback, a free port, a random token, and a "browser" command that
records the URL JupyterLab would open for the student. It uses the venv's own
``jupyter`` (so the ``python3`` kernel is the venv's python, where ``mtl_teach``
is installed), with its config, data, runtime, settings and workspace folders
in a private temporary folder: nothing the developer has configured leaks in,
and nothing the test does leaks out.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = "Install Debian's chromium (as root): apt-get update && apt-get install -y chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Test-only JupyterLab settings: no news/update pop-ups over the notebook, and
# every cell kept in the DOM (no windowing) so outputs can be inspected.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def chromium_executable() -> str:
    """Return the path of the system's ``chromium``.

    Raises
    ------
    RuntimeError
        If ``chromium`` is not on ``PATH``; the message says how to install it.
        (Never download a browser: Playwright uses the system one.)
    """
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError(f"The end-to-end tests need the `chromium` browser, which is not on PATH. {INSTALL_HINT}")
    return path


def launch_chromium(playwright: Any) -> Any:
    """Launch headless system Chromium through a started Playwright instance."""
    return playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)


def make_lab_args(makefile: Path = REPO / "Makefile") -> list[str]:
    """Return the arguments the Makefile's ``lab`` recipe gives ``jupyter lab``.

    Raises
    ------
    RuntimeError
        If the recipe has no ``jupyter lab`` line, or its arguments use make variables.
    """
    lines = makefile.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("lab:")), None)
    recipe = []
    for line in lines[start + 1 :] if start is not None else []:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    for line in recipe:
        words = shlex.split(line)
        for i, word in enumerate(words[:-1]):
            if word.endswith("jupyter") and words[i + 1] == "lab":
                args = words[i + 2 :]
                if any("$" in arg for arg in args):
                    raise RuntimeError(f"{makefile}: the lab recipe's arguments use make variables: {args}")
                return args
    raise RuntimeError(f"{makefile}: no `jupyter lab` line in the `lab` recipe: {recipe}")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class JupyterLab:
    """A JupyterLab server in its own process group, as a context manager.

    Parameters
    ----------
    workdir
        The folder ``make lab`` would run in: it must hold (a temporary copy of)
        ``notebooks/``, whatever ``lab_args`` name.
    home
        A private, empty folder for Jupyter's config/data/runtime/settings.
    lab_args
        Arguments for ``jupyter lab``; by default the Makefile's (:func:`make_lab_args`).
    startup_timeout
        Seconds to wait for ``/api/status`` to answer.
    """

    def __init__(
        self, workdir: Path, home: Path, lab_args: list[str] | None = None, startup_timeout: float = 90.0
    ) -> None:
        self.workdir = Path(workdir)
        self.home = Path(home)
        self.lab_args = make_lab_args() if lab_args is None else list(lab_args)
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.home / "jupyterlab.log"
        self.opened_url_path = self.home / "opened-url.txt"
        self._proc: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The root conftest sets TQDM_DISABLE=1 for nbval; a student's lab has
        # progress bars, so the browser tests must see them too.
        env.pop("TQDM_DISABLE", None)
        env.pop("MPLBACKEND", None)
        dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime"}
        dirs |= {
            "JUPYTERLAB_SETTINGS_DIR": "settings",
            "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
            "IPYTHONDIR": "ipython",
        }
        for var, sub in dirs.items():
            env[var] = str(self.home / sub)
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        return env

    def _write_settings(self) -> None:
        for name, values in LAB_SETTINGS.items():
            path = self.home / "settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def _browser_command(self) -> str:
        # JupyterLab "opens a browser" by running this: it writes the URL down for opened_url().
        recorder = self.home / "record_url.py"
        recorder.write_text("import pathlib, sys\n\npathlib.Path(sys.argv[1]).write_text(sys.argv[2])\n")
        return shlex.join([sys.executable, str(recorder), str(self.opened_url_path)]) + " %s"

    def start(self) -> JupyterLab:
        """Start the server and wait (bounded) until its REST API answers."""
        env = self._env()
        self._write_settings()
        jupyter = Path(sys.executable).with_name("jupyter")
        cmd = [
            str(jupyter), "lab", *self.lab_args,
            "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0", "--allow-root",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.browser={self._browser_command()}",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]  # fmt: skip
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            cmd, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with code {self._proc.returncode} while starting:\n{self.log_tail()}"
                )
            try:
                self.api("GET", "/api/status")
                return self
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.25)  # polling interval while waiting for the server to answer
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def api(self, method: str, path: str) -> Any:
        """Call the server's REST API with the token; return the decoded JSON (or None)."""
        request = urllib.request.Request(
            self.base_url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def url(self, path: str = "lab") -> str:
        """Return the browser URL of ``path`` (e.g. ``lab/tree/01.ipynb``), token included."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path}{sep}token={self.token}"

    def opened_url(self, timeout_s: float = 30.0) -> str:
        """Return the URL JupyterLab asked the browser to open at start (the student's first page)."""
        deadline = time.monotonic() + timeout_s
        while not self.opened_url_path.exists() or not self.opened_url_path.read_text():
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab opened no browser within {timeout_s:.0f} s:\n{self.log_tail()}")
            time.sleep(0.25)  # polling interval while the server launches its browser command
        return self.opened_url_path.read_text().strip()

    def shutdown_kernels(self) -> None:
        """Shut down every running kernel (frees the 2-core machine between notebooks)."""
        for kernel in self.api("GET", "/api/kernels") or []:
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def log_tail(self, chars: int = 4000) -> str:
        """Return the end of the server's log, for failure messages."""
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self) -> None:
        """Stop the server's whole process group (kernels included): TERM, then KILL."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
