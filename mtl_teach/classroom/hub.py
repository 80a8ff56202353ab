"""The settings of the kit's JupyterHub (``make hub``), read from ``HUB_*`` variables and checked.

``hub/jupyterhub_config.py`` reads them with :meth:`HubSettings.from_environment`
and writes each JupyterHub setting itself, in plain sight (the README explains
it line by line). This module holds what needs code: the checks, the demo
login that can make system accounts, the nbgitpuller start page and the hook
that gives every student a dropbox before their server starts.

Two ways to run it:

- **Demo** (``HUB_AUTH=dummy``): any name logs in with the one ``HUB_PASSWORD``.
  With the simple spawner (its default) every student's server runs as the
  user who ran ``make hub``: nothing keeps students apart. As root,
  ``HUB_SPAWNER=local`` makes a system account per name instead.
- **A class** (``HUB_AUTH=pam``, the default, as root): students log in with
  their own system account and password, and each server runs as that user,
  so file permissions keep each student's files and hand-ins their own.
"""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mtl_teach._errors import check_choice, fail
from mtl_teach.classroom.handin import HANDIN_ENV, check_name, prepare_dropbox, prepare_root
from mtl_teach.links import START_PAGE, clone_folder, installed_home_url, nbgitpuller_query

AUTHS = ("pam", "dummy")
SPAWNERS = ("local", "simple")
MIN_PASSWORD = 8  # JupyterHub's SharedPasswordAuthenticator refuses shorter ones
# System account names (adduser's default rule); the hub lowercases names first. Anchored at both ends:
# JupyterHub matches username_pattern from the start only.
SYSTEM_USERNAME = r"^[a-z][a-z0-9_-]{0,31}$"
DEMO_USERNAME = r"^[a-z0-9][a-z0-9._@+-]{0,63}$"  # a dropbox's name (mtl_teach.classroom.handin.STUDENT_NAME)
# What a student's server must find, checked as an unprivileged user before the hub starts (found, not
# imported: torch alone takes seconds), and the hand-in root it must reach.
PROBE = (
    "import importlib.util as u, os, sys; "
    "[u.find_spec(m) or sys.exit(f'cannot find {m}') for m in sys.argv[2:]]; os.stat(sys.argv[1])"
)
MODULES = ("jupyterhub.singleuser", "jupyterlab", "nbgitpuller", "mtl_teach", "torch", "ipykernel")


@dataclass(frozen=True)
class HubSettings:
    """What ``make hub`` was asked for, checked; see :meth:`from_environment` for the variables.

    Attributes
    ----------
    port, ip
        Where the hub listens (``HUB_PORT``, ``HUB_IP``).
    auth
        ``"pam"`` (system accounts) or ``"dummy"`` (a demo: any name, one password).
    password
        The demo's shared password (``HUB_PASSWORD``).
    spawner
        ``"local"`` (each student their own system user) or ``"simple"`` (all as the hub's user).
    state
        The hub's own files: ``hub/`` (database, cookie secret; 0700), ``handin/`` and, with the
        simple spawner, the students' homes.
    handin
        The hand-in root, one dropbox per student.
    python
        The Python that runs each student's server and kernels (``HUB_PYTHON``).
    repo, branch
        What each student's server pulls with nbgitpuller when it opens (``HUB_REPO``, ``HUB_BRANCH``).
    proxy
        The configurable-http-proxy command.
    admins
        Hub admins (``HUB_ADMINS``, comma-separated), e.g. the instructor.
    group
        With PAM, only members of this system group may log in (``HUB_GROUP``); None: every account.
    euid
        The user the hub runs as (0: root).
    """

    port: int
    ip: str
    auth: str
    password: str | None
    spawner: str
    state: Path
    handin: Path
    python: Path
    repo: str
    branch: str
    proxy: str
    admins: tuple[str, ...]
    group: str | None
    euid: int

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ, euid: int | None = None) -> HubSettings:
        """Read and check the ``HUB_*`` variables; a clear error for each bad one.

        Parameters
        ----------
        environ
            The variables: ``HUB_PORT`` (8000), ``HUB_IP`` (127.0.0.1), ``HUB_AUTH``
            (pam), ``HUB_PASSWORD``, ``HUB_SPAWNER`` (local for pam, simple for
            dummy), ``HUB_STATE`` (./.hub), ``HUB_HANDIN`` (HUB_STATE/handin),
            ``HUB_PYTHON`` (this Python), ``HUB_REPO`` (the project's home),
            ``HUB_BRANCH`` (main), ``HUB_PROXY``, ``HUB_ADMINS``, ``HUB_GROUP``.
        euid
            The user the hub runs as; default: this process's.
        """
        euid = os.geteuid() if euid is None else euid
        get = lambda name, default="": environ.get(name, "").strip() or default  # noqa: E731
        port_text = get("HUB_PORT", "8000")
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            fail("HUB_PORT", "must be a TCP port, 1 to 65535", port_text, "pass e.g. HUB_PORT=8000.")
        auth = check_choice("HUB_AUTH", get("HUB_AUTH", "pam"), AUTHS)
        spawner = check_choice("HUB_SPAWNER", get("HUB_SPAWNER", "local" if auth == "pam" else "simple"), SPAWNERS)
        password = environ.get("HUB_PASSWORD") or None
        if auth == "dummy" and (password is None or len(password) < MIN_PASSWORD):
            fail(
                "HUB_PASSWORD",
                f"must be set, {MIN_PASSWORD} characters or more, for the demo login (HUB_AUTH=dummy)",
                "(not set)" if password is None else f"{len(password)} characters",
                "pass e.g. make hub HUB_AUTH=dummy HUB_PASSWORD=$(openssl rand -hex 8).",
                raw=True,
            )
        if auth == "pam" and spawner == "simple":
            fail(
                "HUB_SPAWNER",
                "must be local with HUB_AUTH=pam: students log in with their own accounts, so their servers "
                "must run as those accounts (the simple spawner runs them all as the hub's user)",
                spawner,
                "leave HUB_SPAWNER unset, or use the demo login (HUB_AUTH=dummy).",
            )
        if spawner == "local" and euid != 0:
            fail(
                "HUB_SPAWNER",
                "local (each student's server as their own system user) needs the hub to run as root",
                f"local, as uid {euid}",
                "run it as root (sudo make hub), or try the demo on your own account: "
                "make hub HUB_AUTH=dummy HUB_PASSWORD=<8+ characters>.",
                raw=True,
            )
        state = Path(get("HUB_STATE", str(Path.cwd() / ".hub"))).absolute()
        repo = get("HUB_REPO", installed_home_url())
        if not urlsplit(repo).scheme or not clone_folder(repo):
            fail("HUB_REPO", "must be a git repository's URL", repo, "pass e.g. https://github.com/OWNER/REPO.")
        admins = tuple(check_name("HUB_ADMINS", name.strip()) for name in get("HUB_ADMINS").split(",") if name.strip())
        return cls(
            port=int(port_text),
            ip=get("HUB_IP", "127.0.0.1"),
            auth=auth,
            password=password,
            spawner=spawner,
            state=state,
            handin=Path(get("HUB_HANDIN", str(state / "handin"))).absolute(),
            python=Path(get("HUB_PYTHON", sys.executable)).absolute(),
            repo=repo,
            branch=get("HUB_BRANCH", "main"),
            proxy=get("HUB_PROXY", "configurable-http-proxy"),
            admins=admins,
            group=get("HUB_GROUP") or None,
            euid=euid,
        )

    def __repr__(self) -> str:
        login = "demo login (one shared password)" if self.auth == "dummy" else "system accounts (PAM)"
        return (
            f"HubSettings(http://{self.ip}:{self.port}, {login}, spawner={self.spawner!r}, "
            f"state={str(self.state)!r}, repo={self.repo!r})"
        )

    @property
    def demo(self) -> bool:
        """Whether this hub must not serve a real class: a shared password, or students not kept apart."""
        return self.auth == "dummy" or self.spawner == "simple"

    @staticmethod
    def free_port() -> int:
        """A loopback TCP port free right now: for the hub's own API and the proxy's, so that two hubs
        (a class's and a test's) never fight over JupyterHub's fixed defaults, 8081 and 8001."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    @property
    def start_url(self) -> str:
        """Where each student's server opens: nbgitpuller pulls the kit, then JupyterLab shows its start page."""
        return f"/git-pull?{nbgitpuller_query(self.repo, self.branch, START_PAGE)}"

    def warnings(self) -> list[str]:
        """What the hub's log must say about this setup, in capitals where it is not for a class."""
        notes = []
        if self.auth == "dummy":
            notes.append(
                "DEMO LOGIN (HUB_AUTH=dummy): any name logs in with the one HUB_PASSWORD, and anyone who knows it "
                "can log in as any student. Not for a real class: see the README, 'In a classroom'."
            )
        if self.spawner == "simple":
            who = "root" if self.euid == 0 else f"uid {self.euid}"
            notes.append(
                f"DEMO SPAWNER (simple): every student's server runs as {who}, the hub's own user, so students "
                "can read and change each other's files and hand-ins. Not for a real class."
            )
        if self.auth == "dummy" and self.spawner == "local":
            notes.append("Demo login with system users: each new name gets a system account (adduser) at first login.")
        return notes

    def authenticator_class(self) -> Any:
        """The JupyterHub authenticator: PAM, or the shared-password demo (making system accounts when local)."""
        if self.auth == "pam":
            return "pam"
        if self.spawner == "simple":
            return "shared-password"
        from jupyterhub.auth import LocalAuthenticator
        from jupyterhub.authenticators.shared import SharedPasswordAuthenticator

        class LocalSharedPasswordAuthenticator(LocalAuthenticator, SharedPasswordAuthenticator):
            """The demo login, each name a system account (``create_system_users``) so the local spawner can run it."""

        return LocalSharedPasswordAuthenticator

    @property
    def username_pattern(self) -> str:
        """Names the hub accepts: system account names under the local spawner (dropbox names anyway)."""
        return SYSTEM_USERNAME if self.spawner == "local" else DEMO_USERNAME

    def prepare(self) -> None:
        """Make the state folders (the hub's own files private) and the hand-in root; check students can run."""
        self.state.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state, 0o711)  # students pass through to their dropbox; nobody lists it
        private = self.state / "hub"
        private.mkdir(exist_ok=True)
        os.chmod(private, 0o700)  # the database and cookie secret: the hub's alone
        prepare_root(self.handin)
        if self.spawner == "simple":
            (self.state / "homes").mkdir(exist_ok=True)
        else:
            self.check_students_can_run()

    def check_students_can_run(self) -> None:
        """Run the server's imports as ``nobody``: a student's user must reach Python, the kit and the dropboxes.

        A Python installed in a private home (pyenv in ``/root``, say) passes every
        check as root and fails for every student; this says so before anyone logs in.
        """
        nobody = pwd.getpwnam("nobody")
        try:
            probe = subprocess.run(
                [str(self.python), "-c", PROBE, str(self.handin), *MODULES],
                user=nobody.pw_uid,
                group=nobody.pw_gid,
                extra_groups=[],
                cwd="/",
                env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
                capture_output=True,
                text=True,
                timeout=180,
            )
            error = probe.stderr.strip().splitlines()[-1] if probe.returncode and probe.stderr.strip() else ""
            error = error or (f"exit code {probe.returncode}" if probe.returncode else "")
        except OSError as exc:  # the interpreter itself is out of reach
            error = f"{type(exc).__name__}: {exc}"
        if error:
            fail(
                "HUB_PYTHON",
                "must be a Python with the kit installed that every student's system user can run "
                f"(tried as 'nobody': does it find {', '.join(MODULES)} and the hand-in root?)",
                error,
                "install the kit where students can read it, with a Python they can run (not one in a private "
                "home such as /root/.pyenv): e.g. clone it under /opt and run make install "
                "PYTHON=/usr/bin/python3.11 there; HUB_STATE must be reachable too.",
                raw=True,
            )

    def pre_spawn_hook(self, spawner: Any) -> None:
        """Before a student's server starts: make their dropbox, theirs alone (JupyterHub's ``pre_spawn_hook``)."""
        name = spawner.user.name
        if self.spawner == "local":
            try:
                account = pwd.getpwnam(name)
            except KeyError:
                fail(
                    "student",
                    "must have a system account (the local spawner runs each server as its student's user)",
                    name,
                    f"create it (adduser {name}), or let the demo login make accounts.",
                )
            uid, gid = account.pw_uid, account.pw_gid
        else:
            uid, gid = os.geteuid(), os.getegid()
        prepare_dropbox(self.handin, name, uid, gid)

    def dropbox_of(self, spawner: Any) -> str:
        """``MTL_TEACH_HANDIN`` for a student's server: their dropbox."""
        return str(self.handin / spawner.user.name)

    @property
    def environment(self) -> dict[str, Any]:
        """Variables for each student's server and kernels."""
        return {
            HANDIN_ENV: self.dropbox_of,
            # One thread per kernel: on a machine shared by a class, more threads only fight.
            "OMP_NUM_THREADS": "1",
        }
