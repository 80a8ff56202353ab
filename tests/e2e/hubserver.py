"""A real JupyterHub for the end-to-end tests, started by ``make hub``, and what it needs around it.

Shared by ``tests/e2e/test_hub.py``, ``scripts/make_screenshots.py`` (the README's
picture of a student's hub session) and ``benchmarks/bench_hub_load.py``.

- :class:`ClassHub` runs ``make -C <repo> hub`` with the ``HUB_*`` settings a
  test picks (a free loopback port, a private state folder, the demo login),
  in its own process group, and stops it as Ctrl+C does: SIGINT to the group.
  It remembers every process of the hub it saw (user servers and kernels run
  in sessions of their own), so a test can check that none is left.
- :class:`GitServer` stands in for GitHub: a bare repository of the working
  tree, served by ``git daemon`` on loopback. Not ``file://``: git refuses a
  repository owned by another user ("dubious ownership"), and under the local
  spawner each student is their own user.
- :func:`student_python`: under the local spawner each student's server runs
  as that student, who must be able to run the kit's Python. A venv whose
  interpreter lives in a private home (pyenv in ``/root``), or a checkout in a
  private temporary folder, is out of their reach; an instructor installs the
  kit with a shared Python instead. The tests stand in for that in seconds:
  a venv of the system's Python of the same version, with hard-linked copies
  of this venv's packages and of the kit.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil
from labserver import REPO, free_port

PASSWORD = secrets.token_hex(12)  # the demo login's shared password, new for every run
EXERCISE = "notebooks/student/04_your_turn.ipynb"
HAND_IN = "from mtl_teach.classroom import submit; submit()"  # the README's one line
HUB_LOG = "hub.log"
# JupyterLab settings for a student's server in the tests, as labserver's: no news or update toasts, and
# every cell rendered (off-screen cells' outputs read as empty text otherwise).
TEST_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}


def _reachable_by_others(path: Path) -> bool:
    """Whether a user other than the owner can run or read ``path``: every folder above it lets others through."""
    path = path.resolve()
    if any(not os.stat(folder).st_mode & stat.S_IXOTH for folder in path.parents):
        return False
    return bool(os.stat(path).st_mode & stat.S_IROTH)


def _link_tree(source: Path, target: Path) -> None:
    """``target`` as a copy of ``source`` made of hard links: instant, and nothing is written to ``source``."""
    subprocess.run(["cp", "-al", str(source), str(target)], check=True, capture_output=True)


def student_python(folder: Path) -> Path:
    """A Python environment in ``folder`` that every student's system user can run: the kit and this venv's packages.

    An instructor installs the kit for a class with a Python the students can
    run, somewhere they can read. The test machine's venv may be neither (a
    pyenv Python in ``/root``, a checkout in a private temporary folder), so
    this builds the equivalent: a venv of the system's Python of the same
    version that imports this venv's packages (a ``.pth`` file) and links its
    ``etc/jupyter`` and ``share/jupyter``. Where others cannot reach the venv
    or the checkout, its site-packages and Jupyter files are hard-linked
    copies instead, with the kit's package in place of its editable install
    (a few seconds more, and ``folder`` must be on the same file system). Its
    JupyterLab settings overrides add the tests' own (:data:`TEST_OVERRIDES`)
    to the kit's.
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(f"/usr/bin/{version}"), Path(f"/usr/local/bin/{version}")]
    system = next((p for p in candidates if p.is_file() and _reachable_by_others(p)), None)
    if system is None:
        raise RuntimeError(
            "The hub tests run each student as their own system user, who must be able to run Python: "
            f"{sys.executable} is out of their reach and there is no {version} in /usr/bin or /usr/local/bin. "
            f"Install one: apt-get install -y {version} {version}-venv"
        )
    venv, env = Path(sys.prefix), folder / "student-python"
    packages = Path(sysconfig.get_paths()["purelib"])
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(env)], check=True)
    site = env / "lib" / version / "site-packages"
    lab = env / "share" / "jupyter" / "lab"
    if all(_reachable_by_others(p) for p in (packages, REPO / "mtl_teach", venv / "share" / "jupyter")):
        # Quick: this venv's packages (and the kit's editable install) as they are, its Jupyter files linked.
        (site / "_mtl_teach_venv.pth").write_text(f"import site; site.addsitedir({str(packages)!r})\n")
        (env / "etc").symlink_to(venv / "etc")
        lab.mkdir(parents=True)
        for entry in (venv / "share" / "jupyter").iterdir():
            if entry.name != "lab":
                (lab.parent / entry.name).symlink_to(entry)
        for entry in (venv / "share" / "jupyter" / "lab").iterdir():
            if entry.name != "settings":
                (lab / entry.name).symlink_to(entry)
        (lab / "settings").mkdir()
    else:  # out of their reach: hard-linked copies, the kit's package in place of its editable install
        site.rmdir()
        _link_tree(packages, site)
        for editable in site.glob("__editable__*"):
            editable.unlink()
        _link_tree(REPO / "mtl_teach", site / "mtl_teach")
        _link_tree(venv / "etc", env / "etc")
        (env / "share").mkdir()
        _link_tree(venv / "share" / "jupyter", env / "share" / "jupyter")
        (lab / "settings" / "overrides.json").unlink()  # a hard link to the venv's file: a new one follows
    kit = json.loads((REPO / "scripts" / "jupyterlab_overrides.json").read_text())
    (lab / "settings" / "overrides.json").write_text(json.dumps(kit | TEST_OVERRIDES))
    (lab / "settings" / "overrides.json").chmod(0o644)
    return env / "bin" / "python"


class GitServer:
    """The working tree's tracked files as a bare repository ``mtl-teach``, served by ``git daemon`` on loopback.

    Parameters
    ----------
    folder
        A private, empty folder for the snapshot, the bare repository and the daemon's log.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The repository's URL, which nbgitpuller clones into ``~/mtl-teach``."""
        return f"git://127.0.0.1:{self.port}/mtl-teach"

    def _git(self, *args: str, cwd: Path) -> None:
        ident = ["-c", "user.name=mtl-teach tests", "-c", "user.email=tests@localhost", "-c", "init.defaultBranch=main"]
        subprocess.run(["git", *ident, *args], cwd=cwd, check=True, capture_output=True)

    def start(self) -> GitServer:
        """Snapshot the working tree (uncommitted changes included), make the bare repository, serve it."""
        snapshot = self.folder / "snapshot"
        snapshot.mkdir()
        tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True).stdout
        for name in filter(None, tracked.decode().split("\0")):
            source = REPO / name
            if source.is_file():
                (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, snapshot / name)
        self._git("init", "-q", cwd=snapshot)
        self._git("add", "-A", cwd=snapshot)
        self._git("commit", "-q", "-m", "the kit, as the tests found it", cwd=snapshot)
        served = self.folder / "served"
        served.mkdir()
        self._git("clone", "-q", "--bare", str(snapshot), str(served / "mtl-teach"), cwd=self.folder)
        log = (self.folder / "git-daemon.log").open("wb")
        self._proc = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", f"--port={self.port}",
             f"--base-path={served}", str(served)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 30
        while subprocess.run(["git", "ls-remote", self.url], capture_output=True).returncode != 0:
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"git daemon did not serve {self.url}:\n{self.log_tail()}")
            time.sleep(0.2)  # polling interval while the daemon starts
        return self

    def log_tail(self) -> str:
        path = self.folder / "git-daemon.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)

    def __enter__(self) -> GitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ClassHub:
    """A JupyterHub started by ``make hub`` with the demo login, on a free loopback port.

    Parameters
    ----------
    state
        The hub's state folder (``HUB_STATE``): others must be able to pass
        through every folder above it (students reach their dropboxes there).
    repo
        What each server pulls when it opens (``HUB_REPO``).
    spawner
        ``"local"`` (each student their own system user; root only) or ``"simple"``.
    python
        The students' Python (``HUB_PYTHON``); default: the hub's.
    config
        A config file of one's own that loads the kit's (``HUB_CONFIG``); default: the kit's.
    startup_timeout
        Seconds to wait for the hub's API to answer.
    """

    def __init__(
        self,
        state: Path,
        repo: str,
        spawner: str,
        python: Path | None = None,
        config: Path | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.state = Path(state)
        self.repo = repo
        self.spawner = spawner
        self.python = python
        self.config = config
        self.port = free_port()
        self.startup_timeout = startup_timeout
        self.log_path = self.state.parent / HUB_LOG
        self.seen: dict[int, float] = {}  # pid -> create_time of every hub process seen
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def make_command(self) -> list[str]:
        settings = {
            "HUB_PORT": str(self.port), "HUB_STATE": str(self.state), "HUB_AUTH": "dummy",
            "HUB_PASSWORD": PASSWORD, "HUB_SPAWNER": self.spawner, "HUB_REPO": self.repo,
        }  # fmt: skip
        if self.python is not None:
            settings["HUB_PYTHON"] = str(self.python)
        if self.config is not None:
            settings["HUB_CONFIG"] = str(self.config)
        return ["make", "-C", str(REPO), "--no-print-directory", "hub", *(f"{k}={v}" for k, v in settings.items())]

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS", "HUB_", "JUPYTER"))}
        env.pop("TQDM_DISABLE", None)  # a student's kernel has progress bars
        return env

    def start(self) -> ClassHub:
        """Run ``make hub``; wait (bounded) until the hub's REST API answers."""
        install = subprocess.run(
            ["make", "-C", str(REPO), "--no-print-directory", "install", "node_modules/.bin/configurable-http-proxy"],
            env=self._env(), capture_output=True, text=True,
        )  # fmt: skip
        if install.returncode != 0:
            raise RuntimeError(f"`make install` failed:\n{install.stdout[-3000:]}{install.stderr[-3000:]}")
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            self.make_command(), env=self._env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"`make hub` exited with code {self._proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api/", timeout=5) as response:
                    if "version" in json.loads(response.read()):
                        self.remember()
                        return self
            except (urllib.error.URLError, ConnectionError, ValueError):
                pass
            time.sleep(0.25)  # polling interval while the hub starts
        self.stop()
        raise RuntimeError(f"the hub did not answer within {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def remember(self) -> list[psutil.Process]:
        """Note every process of the hub now (make, hub, proxy, servers, kernels); return them."""
        if self._proc is None:
            return []
        try:
            found = [psutil.Process(self._proc.pid), *psutil.Process(self._proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        for proc in found:
            with contextlib.suppress(psutil.NoSuchProcess):
                self.seen[proc.pid] = proc.create_time()
        return found

    def leftovers(self, users: tuple[str, ...] = ()) -> list[str]:
        """Processes of the hub still running: any seen before, any of ``users``', any serving its port."""
        alive = []
        for proc in psutil.process_iter(["pid", "username", "cmdline", "create_time", "status"]):
            info = proc.info
            if info["status"] == psutil.STATUS_ZOMBIE:
                continue
            ours = self.seen.get(info["pid"]) == info["create_time"] or info["username"] in users
            ours = ours or any(str(self.port) in arg or str(self.state) in arg for arg in info["cmdline"] or ())
            if ours:
                alive.append(f"{info['pid']} ({info['username']}): {' '.join(info['cmdline'] or ())[:200]}")
        return alive

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def interrupt(self, timeout_s: float = 60.0) -> int | None:
        """Stop the hub as Ctrl+C does (SIGINT to its process group); wait for make to exit; its exit code."""
        proc = self._proc
        if proc is None:
            return None
        self.remember()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """Ctrl+C, then whatever is left of it gets SIGKILL (a failed test must not leave a hub behind)."""
        self.interrupt()
        self._proc = None
        for pid, created in self.seen.items():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc = psutil.Process(pid)
                if proc.create_time() == created:
                    proc.kill()

    def __enter__(self) -> ClassHub:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def log_in(page: Any, hub: ClassHub, name: str, url: str) -> None:
    """Open ``url`` (a page of the hub) and log in as ``name`` with the demo password on the login form it shows."""
    page.goto(url)
    page.locator("#username_input").fill(name)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()


def exercise_answers(work: str) -> dict[int, str]:
    """What a student types into each stub of the exercise's student copy: the code of that cell (by its
    grade id) in ``tests/submissions/<work>.ipynb``, whose expected score ``expected.json`` gives."""
    import nbformat

    if work == "stub":
        return {}
    student = nbformat.read(REPO / EXERCISE, as_version=4)
    submitted = nbformat.read(REPO / "tests" / "submissions" / f"{work}.ipynb", as_version=4)
    by_id = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source for cell in submitted.cells}
    return {
        i: by_id[cell.metadata["nbgrader"]["grade_id"]]
        for i, cell in enumerate(student.cells)
        if cell.cell_type == "code" and "raise NotImplementedError" in cell.source
    }


def remove_system_user(name: str) -> None:
    """Delete a test's system account and its home (``userdel -r``), killing what it still runs first."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    for proc in psutil.process_iter(["username"]):
        if proc.info["username"] == name:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
    subprocess.run(["userdel", "-r", name], capture_output=True)
    with contextlib.suppress(KeyError):
        pwd.getpwnam(name)
        raise RuntimeError(f"could not remove the test's system user {name!r}")


def run_as(name: str, command: str) -> subprocess.CompletedProcess[str]:
    """Run a shell ``command`` as the system user ``name`` (what a student's own process may do)."""
    account = pwd.getpwnam(name)
    return subprocess.run(
        ["/bin/sh", "-c", command], user=account.pw_uid, group=account.pw_gid, extra_groups=[],
        cwd="/", capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
