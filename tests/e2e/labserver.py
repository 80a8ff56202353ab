"""Start a real JupyterLab server and a headless Chromium for the end-to-end tests.

Shared by ``tests/e2e/conftest.py`` and ``scripts/make_screenshots.py``, so the
README pictures come from exactly the machinery the tests use.

The server is started BY ``make lab`` (``make -C <repo> lab``), the recipe a
student runs, so the test and the Makefile cannot drift apart. The test only
adds, through the recipe's make variables: ``NOTEBOOKS`` (a temporary copy of
``notebooks/``), ``LAB_IP=127.0.0.1`` (loopback, even in a container) and
``LAB_ARGS`` (a random token and a "browser" command that records the URL
JupyterLab would open for the student). The port comes from ``JUPYTER_PORT``,
as a user would set it; the port the server really took is read back from the
server's own runtime file. The recipe's ``jupyter`` is the venv's (so the
``python3`` kernel is the venv's python, where ``mtl_teach`` is installed), and
its config, data, runtime, settings and workspace folders are in a private
temporary folder: nothing the developer has configured leaks in, and nothing
the test does leaks out.
"""

from __future__ import annotations

import contextlib
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


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class JupyterLab:
    """A JupyterLab server started by ``make lab``, in its own process group, as a context manager.

    Parameters
    ----------
    notebooks
        The folder to serve (``make lab NOTEBOOKS=...``): a temporary copy of
        ``notebooks/``, with the start page ``README.md`` in it.
    home
        A private, empty folder for Jupyter's config/data/runtime/settings.
    port
        The port asked for through ``JUPYTER_PORT``; by default one free right
        now. If it is taken, jupyter_server moves on to another, as it would for
        a student; :attr:`port` is the one it took.
    startup_timeout
        Seconds to wait for ``/api/status`` to answer (after ``make install``,
        which is a no-op when ``.venv`` is up to date).
    """

    def __init__(self, notebooks: Path, home: Path, port: int | None = None, startup_timeout: float = 90.0) -> None:
        self.notebooks = Path(notebooks)
        self.home = Path(home)
        self.requested_port = free_port() if port is None else int(port)
        self.port: int | None = None
        self.startup_timeout = startup_timeout
        self.token = secrets.token_hex(24)
        self.log_path = self.home / "jupyterlab.log"
        self.opened_url_path = self.home / "opened-url.txt"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, once the server runs."""
        if self.port is None:
            raise RuntimeError("JupyterLab is not running: call start() first (or use it as a context manager).")
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # A parent make (make test) passes its flags and jobserver down; `make lab`
        # here is a fresh, top-level make. Make also reads variables from the
        # environment: only the ones given on its command line may shape the recipe.
        for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "NOTEBOOKS", "JUPYTER_PORT_RETRIES"):
            env.pop(var, None)
        for var in [v for v in env if v.startswith("LAB_")]:
            env.pop(var)
        env["JUPYTER_PORT"] = str(self.requested_port)
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

    def make_command(self) -> list[str]:
        """The ``make lab`` command line that starts the server (see the module docstring)."""
        if any(ch.isspace() or ch in "$'\"" for ch in str(self.notebooks)):
            raise ValueError(
                f"JupyterLab(notebooks=...) must be a path without spaces, quotes or '$' (make splits on them); "
                f"got {str(self.notebooks)!r}. Fix: copy the notebooks to a plain temporary folder."
            )
        lab_args = [
            f"--IdentityProvider.token={self.token}", f"--ServerApp.browser={self._browser_command()}",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]  # fmt: skip
        return [
            "make", "-C", str(REPO), "--no-print-directory", "lab",
            f"NOTEBOOKS={self.notebooks}", "LAB_IP=127.0.0.1", "LAB_ARGS=" + shlex.join(lab_args).replace("$", "$$"),
        ]  # fmt: skip

    def _server_port(self) -> int | None:
        # jupyter_server writes jpserver-<pid>.json into its (private) runtime folder once it listens.
        for info in (self.home / "runtime").glob("jpserver-*.json"):
            try:
                return int(json.loads(info.read_text())["port"])
            except (ValueError, KeyError, OSError):
                continue  # being written: read it again on the next poll
        return None

    def start(self) -> JupyterLab:
        """Run ``make lab`` and wait (bounded) until the server's REST API answers.

        Raises
        ------
        RuntimeError
            If ``make install`` fails, or the server exits or stays silent while starting;
            the message holds the end of its log.
        """
        env = self._env()
        self._write_settings()
        # `make lab` installs .venv first when pyproject.toml changed; do that outside the startup timeout.
        install = subprocess.run(
            ["make", "-C", str(REPO), "--no-print-directory", "install"], env=env, capture_output=True, text=True
        )
        if install.returncode != 0:
            raise RuntimeError(f"`make install` failed:\n{install.stdout[-3000:]}{install.stderr[-3000:]}")
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            self.make_command(), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"`make lab` exited with code {self._proc.returncode} while starting:\n{self.log_tail()}"
                )
            self.port = self._server_port()
            try:
                if self.port is not None:
                    self.api("GET", "/api/status")
                    return self
            except (urllib.error.URLError, ConnectionError):
                pass
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
        """Stop the whole process group (make, jupyter, kernels): TERM, then KILL what is left."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            # make exits at once; jupyter shuts its kernels down first. Wait for all of them.
            deadline = time.monotonic() + wait
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.1)  # polling interval while the group shuts down
            if not _group_alive(proc.pid):
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)  # reap make (its group is gone, or killed)

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (zombies, awaiting their reaper, do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel, zombies included
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False
