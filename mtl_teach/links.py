"""Where the kit lives online, and every link derived from it.

The project's home is declared once, in ``pyproject.toml``::

    [project.urls]
    Homepage = "https://github.com/mtl-teach/mtl-teach"

From it come the "Open in Colab" badge of each notebook (which opens that
notebook's own path), the Colab setup cell's ``pip install git+<home>``, the
README's Binder badge and its nbgitpuller example. A fork changes the one
line and runs ``make links`` (``scripts/stamp_links.py``) to restamp them all;
``mtl-teach release --repo-url URL`` stamps a student copy for another home.

This module also moves a notebook's relative links when ``release`` writes its
student copy into another folder, so "Next" links and badges keep resolving.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from mtl_teach._errors import fail

DEFAULT_BRANCH = "main"
HOME_KEY = "Homepage"  # the [project.urls] entry that names the project's home
START_PAGE = "notebooks/README.md"  # where Binder and nbgitpuller links open
SETUP_MARKER = "# Setup:"  # the first line of each notebook's setup (install) cell

_NAME = r"[A-Za-z0-9_.-]+"
_HOME_URL = re.compile(rf"https://github\.com/(?P<owner>{_NAME})/(?P<repo>{_NAME}?)(?:\.git)?/?")
# The link forms that always mean this project (never another one the docs may cite).
_COLAB = re.compile(rf"https://colab\.research\.google\.com/github/{_NAME}/{_NAME}/blob/{_NAME}/(?P<path>[^)\s\"'#?]+)")
_BINDER = re.compile(rf"https://mybinder\.org/v2/gh/{_NAME}/{_NAME}/{_NAME}(?=[?)\s\"']|$)")
_GIT_PLUS = re.compile(rf"git\+https://github\.com/{_NAME}/{_NAME}?(?:\.git)?(?=[)\s\"'`]|$)")
_CLONE = re.compile(rf"git clone https://github\.com/{_NAME}/{_NAME}?(?:\.git)?(?=[)\s\"'`]|$)")
_PULLER = re.compile(r"https://(?P<hub>[^/\s)`\"']+)/hub/user-redirect/git-pull\?(?P<query>[^)\s`\"']*)")
_BADGE = re.compile(
    r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\((?P<target>[^)\s]*)\)"
)
# A Markdown link or image target: ](target) or ](target "title").
_LINK = re.compile(r"(\]\(\s*)(<?)([^)\s>]+)(>?)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class ProjectHome:
    """A GitHub repository and branch: the project's home, and the links made from it.

    Parameters
    ----------
    owner
        GitHub user or organisation, e.g. ``"mtl-teach"``.
    repo
        Repository name, e.g. ``"mtl-teach"``.
    branch
        The branch links open (Colab, Binder, nbgitpuller).
    """

    owner: str
    repo: str
    branch: str = DEFAULT_BRANCH

    @classmethod
    def from_url(cls, url: Any, branch: str = DEFAULT_BRANCH, param: str = "repo URL") -> ProjectHome:
        """Parse ``https://github.com/OWNER/REPO``; a clear error for anything else.

        Parameters
        ----------
        url
            The repository's web address.
        branch
            The branch links should open.
        param
            How the caller names this value in error messages (e.g. ``"release --repo-url"``).
        """
        match = _HOME_URL.fullmatch(url) if isinstance(url, str) else None
        if match is None or not match["repo"]:
            fail(
                param,
                "must be a GitHub repository's address, https://github.com/OWNER/REPO "
                "(Colab and Binder open notebooks from GitHub)",
                url,
                "pass e.g. https://github.com/mtl-teach/mtl-teach, or your fork's address.",
            )
        if not isinstance(branch, str) or not re.fullmatch(r"[A-Za-z0-9_.\-/]+", branch):
            fail(f"{param} branch", "must be a git branch name", branch, "pass e.g. main.")
        return cls(match["owner"], match["repo"], branch)

    @property
    def url(self) -> str:
        """``https://github.com/OWNER/REPO``."""
        return f"https://github.com/{self.owner}/{self.repo}"

    @property
    def install(self) -> str:
        """What the Colab setup cell pip-installs: ``git+https://github.com/OWNER/REPO``."""
        return f"git+{self.url}"

    def colab(self, path: str) -> str:
        """The Colab address that opens ``path`` (relative to the repository's root)."""
        return f"https://colab.research.google.com/github/{self.owner}/{self.repo}/blob/{self.branch}/{path}"

    def binder(self, path: str = START_PAGE) -> str:
        """The Binder address that builds the repository and opens ``path`` in JupyterLab."""
        return f"https://mybinder.org/v2/gh/{self.owner}/{self.repo}/{self.branch}?urlpath={quote(f'lab/tree/{path}', safe='')}"

    def nbgitpuller(self, hub: str, path: str = START_PAGE) -> str:
        """The nbgitpuller link: a JupyterHub at ``hub`` clones the repository into ``~/REPO`` and opens ``path``."""
        return nbgitpuller_url(hub, self.url, self.branch, path)


def clone_folder(repo: str) -> str:
    """The folder nbgitpuller clones ``repo`` into, in the student's home: the URL's last part, as it is.

    (nbgitpuller keeps a ``.git`` ending, unlike ``git clone``.)

    Parameters
    ----------
    repo
        A git repository's URL.
    """
    return PurePosixPath(urlsplit(repo).path.rstrip("/")).name


def nbgitpuller_query(repo: str, branch: str, path: str) -> str:
    """nbgitpuller's query: clone or pull ``repo`` at ``branch`` into ``~/<clone folder>``, then open ``path`` in it.

    Parameters
    ----------
    repo
        The repository's URL (``https://``; a local ``file://`` one works as well).
    branch
        The branch to pull.
    path
        The file to open, relative to the repository's root.
    """
    urlpath = f"lab/tree/{clone_folder(repo)}/{path}"
    return f"repo={quote(repo, safe='')}&branch={quote(branch, safe='')}&urlpath={quote(urlpath, safe='')}"


def nbgitpuller_url(hub: str, repo: str, branch: str, path: str = START_PAGE) -> str:
    """The link a student clicks: the hub at ``hub`` logs them in, pulls ``repo`` and opens ``path``.

    nbgitpuller merges: a student who clicks again gets the instructor's new
    files and keeps their own edits.

    Parameters
    ----------
    hub
        The hub's address: ``https://hub.example.edu`` (with its base path, if any),
        or a bare host name, which means ``https://``.
    repo, branch, path
        See :func:`nbgitpuller_query`.
    """
    base = hub.rstrip("/") if "://" in hub else f"https://{hub.rstrip('/')}"
    return f"{base}/hub/user-redirect/git-pull?{nbgitpuller_query(repo, branch, path)}"


def installed_home_url() -> str:
    """The project's home as the installed package's metadata gives it (``pyproject.toml``'s Homepage)."""
    from importlib import metadata

    for entry in metadata.metadata("mtl-teach").get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip() == HOME_KEY:
            return url.strip()
    fail("the installed mtl-teach", f"must name its home ({HOME_KEY})", None, "reinstall it: make install.")


def read_home(pyproject: Path, branch: str = DEFAULT_BRANCH) -> ProjectHome:
    """The project's home as ``pyproject.toml`` declares it (``[project.urls] Homepage``).

    Parameters
    ----------
    pyproject
        Path of the ``pyproject.toml`` to read.
    branch
        The branch links should open.
    """
    urls = tomllib.loads(Path(pyproject).read_text(encoding="utf-8")).get("project", {}).get("urls", {})
    if HOME_KEY not in urls:
        fail(
            f"{pyproject} [project.urls]",
            f"must name the project's home as {HOME_KEY}",
            sorted(urls),
            f'add {HOME_KEY} = "https://github.com/OWNER/REPO".',
        )
    return ProjectHome.from_url(urls[HOME_KEY], branch, param=f"{pyproject} [project.urls] {HOME_KEY}")


def stamp_markdown(text: str, home: ProjectHome) -> str:
    """Point every link of ours in ``text`` at ``home``, keeping the path each one opens.

    Rewrites Colab notebook links, Binder links, ``git+https://github.com/...``
    installs, ``git clone`` commands and nbgitpuller links. Links to other
    projects (plain ``https://github.com/...`` addresses) are left alone.

    Parameters
    ----------
    text
        Markdown (or code) to restamp.
    home
        The project's home.
    """
    text = _COLAB.sub(lambda m: home.colab(m["path"]), text)
    text = _BINDER.sub(f"https://mybinder.org/v2/gh/{home.owner}/{home.repo}/{home.branch}", text)
    text = _GIT_PLUS.sub(home.install, text)
    text = _CLONE.sub(f"git clone {home.url}", text)

    def puller(match: re.Match[str]) -> str:
        urlpath = parse_qs(match["query"]).get("urlpath", [f"lab/tree/x/{START_PAGE}"])[0]
        parts = PurePosixPath(urlpath).parts  # lab, tree, <clone folder>, path...
        path = "/".join(parts[3:]) if len(parts) > 3 and parts[:2] == ("lab", "tree") else START_PAGE
        return home.nbgitpuller(match["hub"], path)

    return _PULLER.sub(puller, text)


def badge_path(notebook: Any) -> str | None:
    """The repository path the notebook's "Open in Colab" badge opens, or None without a badge."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and (badge := _BADGE.search(cell.source)):
            colab = _COLAB.match(badge["target"])
            return colab["path"] if colab else None
    return None


def _set_badge(cell: Any, target: str | None) -> None:
    if target is not None:
        cell.source = _BADGE.sub(lambda m: m[0].replace(m["target"], target), cell.source)
        return
    # No address can open this copy: drop the badge and the blank line after it.
    cell.source = re.sub(rf"{_BADGE.pattern}[ \t]*(\n[ \t]*\n|\n|$)", "", cell.source, count=1)


def stamp_notebook(notebook: Any, home: ProjectHome, path: str) -> None:
    """Restamp a notebook in place: its badge opens ``path`` at ``home``, its setup cell installs from ``home``.

    Only the badge, other links of ours in Markdown cells (:func:`stamp_markdown`)
    and the install address in the setup cell (the code cell starting with
    ``# Setup:``) change; every other cell, output and metadata stays as it was.

    Parameters
    ----------
    notebook
        An nbformat notebook.
    home
        The project's home.
    path
        The notebook's own path in the repository, e.g. ``notebooks/01_toy_data.ipynb``.
    """
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            source = stamp_markdown(cell.source, home)
            if _BADGE.search(source):
                source = _BADGE.sub(lambda m: m[0].replace(m["target"], home.colab(path)), source)
            if source != cell.source:
                cell.source = source
        elif cell.cell_type == "code" and cell.source.startswith(SETUP_MARKER):
            source = _GIT_PLUS.sub(home.install, cell.source)
            if source != cell.source:
                cell.source = source


def repository_root(notebook: Any, path: Path) -> Path | None:
    """The repository folder ``path`` lives in, as the notebook's own badge tells it.

    A badge opening ``notebooks/04_your_turn.ipynb`` on a file at
    ``/x/repo/notebooks/04_your_turn.ipynb`` means the repository is ``/x/repo``.
    None when the notebook has no badge, or the badge names another path.

    Parameters
    ----------
    notebook
        The nbformat notebook read from ``path``.
    path
        Where the notebook file is.
    """
    opened = badge_path(notebook)
    if opened is None:
        return None
    parts = PurePosixPath(opened).parts
    resolved = Path(path).resolve()
    if resolved.parts[-len(parts) :] != parts:
        return None
    return resolved.parents[len(parts) - 1]


def relocate_links(notebook: Any, source: Path, target: Path, released: frozenset[str] = frozenset()) -> list[str]:
    """Make a copy of ``source`` written to ``target`` keep its links working; return notes for the user.

    - The "Open in Colab" badge opens the copy's own path when ``target`` is in
      the same repository as ``source`` (see :func:`repository_root`);
      otherwise no address can open it, and the badge is removed (rather than
      opening the source, with its solutions).
    - Relative Markdown links (e.g. ``Next: [05_slicing.ipynb](05_slicing.ipynb)``)
      point to the same file as from ``source`` (``../05_slicing.ipynb``),
      unless that file is among ``released``, copied next to ``target``.

    Parameters
    ----------
    notebook
        The copy (an nbformat notebook), changed in place.
    source
        Where the original notebook is.
    target
        Where the copy is written.
    released
        File names written next to ``target`` in the same run.
    """
    notes: list[str] = []
    source, target = Path(source).resolve(), Path(target).resolve()
    root = repository_root(notebook, source)
    inside = root is not None and target.is_relative_to(root)
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        if _BADGE.search(cell.source):
            _set_badge(cell, _moved_badge(cell.source, target.relative_to(root).as_posix()) if inside else None)
            if not inside:
                notes.append(
                    f"{target.name}: removed the Open in Colab badge: {target.parent} is not in the repository "
                    "the source's badge names, so no Colab address opens this copy."
                )
        if inside and source.parent != target.parent:
            cell.source = _LINK.sub(lambda m: _moved_link(m, source, target, root, released), cell.source)
    return notes


def _moved_badge(text: str, path: str) -> str:
    colab = _COLAB.match(_BADGE.search(text)["target"])  # type: ignore[index]
    return colab[0][: colab.start("path")] + path if colab else path


def _moved_link(match: re.Match[str], source: Path, target: Path, root: Path, released: frozenset[str]) -> str:
    link = match[3]
    if _SCHEME.match(link) or link.startswith(("#", "/")):
        return match[0]
    path, hash_, anchor = link.partition("#")
    if PurePosixPath(path).name in released and PurePosixPath(path).parent == PurePosixPath("."):
        return match[0]
    resolved = (source.parent / path).resolve()
    if not resolved.is_relative_to(root):
        return match[0]
    moved = Path(os.path.relpath(resolved, target.parent)).as_posix() + hash_ + anchor
    return f"{match[1]}{match[2]}{moved}{match[4]}"
