"""Links: every badge, install cell and relative link leads somewhere real.

The project's home is declared once, in ``pyproject.toml`` ``[project.urls]
Homepage``. Each notebook's "Open in Colab" badge must open that notebook's
own path there (the student copies included), its setup cell must install from
it, and the README's Binder badge must build it; every such address must name
a path that exists in the repository. Every relative link in the READMEs and in
every notebook's Markdown must resolve to a file (and heading, for ``#anchor``).

The expected addresses are written out here from pyproject.toml, independently
of ``mtl_teach.links``, which ``make links`` and ``release`` use to write them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlparse

import nbformat
import pytest

from mtl_teach.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
MARKDOWN = [ROOT / "README.md", ROOT / "notebooks" / "README.md"]
DOCS = MARKDOWN + NOTEBOOKS
IDS = [p.relative_to(ROOT).as_posix() for p in DOCS]
BADGE = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\(([^)]*)\)")
BINDER_BADGE = re.compile(r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\(([^)]*)\)")
# Addresses that always mean this project, wherever they appear.
OURS = re.compile(
    r"https://colab\.research\.google\.com/github/[^)\s`\"']+"
    r"|https://mybinder\.org/v2/gh/[^)\s`\"']+"
    r"|https://[^/\s)`\"']+/hub/user-redirect/git-pull\?[^)\s`\"']+"
    r"|git\+https://github\.com/[^)\s`\"']+"
    r"|git clone https://github\.com/[^)\s`\"']+"
)
LINK = re.compile(
    r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|^\s*\[[^\]]+\]:\s*(\S+)|(?:href|src)=\"([^\"]+)\"", re.M
)


def _home(root: Path = ROOT) -> tuple[str, str, str]:
    url = tomllib.loads((root / "pyproject.toml").read_text())["project"]["urls"]["Homepage"]
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", url)
    assert match, f"pyproject.toml [project.urls] Homepage must be https://github.com/OWNER/REPO; got {url!r}"
    return url, match[1], match[2]


def _markdown(path: Path) -> list[str]:
    """The Markdown texts of a file: the file itself, or a notebook's Markdown cells."""
    if path.suffix == ".ipynb":
        return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
    return [path.read_text(encoding="utf-8")]


def _without_code(text: str) -> str:
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def _slugs(path: Path) -> set[str]:
    """Anchors of a file's headings: GitHub's (lower case) and JupyterLab's (case kept) spellings."""
    slugs = set()
    for text in _markdown(path):
        for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", _without_code(text), flags=re.M):
            plain = re.sub(r"[^\w\- ]", "", heading.replace("`", "")).strip()
            slugs |= {plain.lower().replace(" ", "-"), plain.replace(" ", "-")}
    return slugs


def test_pyproject_declares_the_project_home() -> None:
    url, _, _ = _home()
    assert url == "https://github.com/mtl-teach/mtl-teach", url  # we know no other home; forks change it


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(ROOT).as_posix() for p in NOTEBOOKS])
def test_notebook_badge_and_install_cell_follow_pyproject(path: Path) -> None:
    url, owner, repo = _home()
    cells = nbformat.read(path, as_version=4).cells
    rel = path.relative_to(ROOT).as_posix()
    badges = [m for c in cells if c.cell_type == "markdown" for m in BADGE.findall(c.source)]
    expected = f"https://colab.research.google.com/github/{owner}/{repo}/blob/main/{rel}"
    assert badges == [expected], f"{rel}: the Open in Colab badge must open the notebook itself, {expected}: {badges}"
    assert BADGE.search(cells[0].source), f"{rel}: the badge belongs in the first cell"
    setup = [c.source for c in cells if c.cell_type == "code" and c.source.startswith("# Setup:")]
    assert len(setup) == 1, f"{rel}: expected one setup cell starting '# Setup:', found {len(setup)}"
    installs = re.findall(r"git\+https://[^\s\"']+", setup[0])
    assert installs == [f"git+{url}"], f"{rel}: the setup cell must install git+{url}; it installs {installs}"


def test_readme_binder_badge_builds_the_project_home_and_opens_the_start_page() -> None:
    _, owner, repo = _home()
    badges = BINDER_BADGE.findall((ROOT / "README.md").read_text())
    expected = f"https://mybinder.org/v2/gh/{owner}/{repo}/main?urlpath=lab%2Ftree%2Fnotebooks%2FREADME.md"
    assert badges == [expected], f"README.md needs one Binder badge, {expected}: {badges}"


def _target(address: str, repo: str) -> str | None:
    """The repository path an address of ours opens (None for a bare install or clone)."""
    if address.startswith("https://colab.research.google.com/"):
        parts = PurePosixPath(urlparse(address).path).parts  # /, github, owner, repo, blob, branch, path...
        return "/".join(parts[6:])
    query = parse_qs(urlparse(address).query)
    if "urlpath" not in query:
        return None
    parts = PurePosixPath(unquote(query["urlpath"][0])).parts
    assert parts[:2] == ("lab", "tree"), f"{address}: urlpath must open lab/tree/..."
    return "/".join(parts[3:] if "git-pull" in address else parts[2:])  # nbgitpuller clones into ~/<repo>/


def _names_home(address: str, url: str, owner: str, repo: str) -> bool:
    if "/hub/user-redirect/git-pull?" in address:
        query = parse_qs(urlparse(address).query)
        return query.get("repo") == [url] and query.get("branch") == ["main"]
    if address.startswith(("git+", "git clone ")):
        return address.split()[-1].removeprefix("git+") in (url, f"{url}.git")
    return f"/github/{owner}/{repo}/blob/main/" in address or f"/gh/{owner}/{repo}/main?" in address


@pytest.mark.parametrize("path", DOCS, ids=IDS)
def test_every_address_of_ours_names_the_project_home_and_a_real_path(path: Path) -> None:
    url, owner, repo = _home()
    if path.suffix == ".ipynb":
        texts = [cell.source for cell in nbformat.read(path, as_version=4).cells]
    else:
        texts = [path.read_text(encoding="utf-8")]
    problems = []
    for address in (address for text in texts for address in OURS.findall(text)):
        if not _names_home(address, url, owner, repo):
            problems.append(f"{address} does not name {url} (branch main)")
        target = _target(address, repo)
        if target is not None and not (ROOT / target).is_file():
            problems.append(f"{address} opens {target}, which is not in the repository")
    assert not problems, f"{path.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", DOCS, ids=IDS)
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for text in _markdown(path):
        for match in LINK.finditer(_without_code(text)):
            link = next(group for group in match.groups() if group)
            if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", link) or link.startswith("/"):
                continue
            file, _, anchor = unquote(link).partition("#")
            target = (path.parent / file).resolve() if file else path
            if not target.is_relative_to(ROOT) or not target.exists():
                broken.append(f"{link}: no such file {target}")
            elif anchor and target.is_file() and target.suffix in (".md", ".ipynb") and anchor not in _slugs(target):
                broken.append(f"{link}: {target.name} has no heading #{anchor}")
    assert not broken, f"{path.relative_to(ROOT)} has broken links:\n" + "\n".join(broken)


def test_the_link_checks_see_links() -> None:
    """Guards the checks above against passing because they found nothing to check."""
    links = [m for p in DOCS for t in _markdown(p) for m in LINK.finditer(_without_code(t))]
    assert len(links) > 10, links
    student = ROOT / "notebooks" / "student" / "04_your_turn.ipynb"
    assert any("../05_slicing.ipynb" in t for t in _markdown(student)), "the student copy's Next link"
    assert any(m.group(1) == "docs/images/jupyterlab.png" for m in LINK.finditer((ROOT / "README.md").read_text()))


# --- writing the links: make links (scripts/stamp_links.py) and release ------------------------------------


def _stamp(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = ROOT / "scripts" / "stamp_links.py"
    return subprocess.run(
        [sys.executable, str(script), "--root", str(root), *args], capture_output=True, text=True, cwd=ROOT
    )


def test_make_links_has_nothing_to_restamp() -> None:
    result = _stamp(ROOT, "--check")
    assert result.returncode == 0, result.stderr


def test_make_links_restamps_a_fork_everywhere_and_nothing_else(tmp_path: Path) -> None:
    for name in ("README.md", "notebooks"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, tmp_path / name)
    pyproject = (ROOT / "pyproject.toml").read_text()
    fork = "https://github.com/someone/mtl-course"
    (tmp_path / "pyproject.toml").write_text(pyproject.replace('"https://github.com/mtl-teach/mtl-teach"', f'"{fork}"'))

    assert _stamp(tmp_path, "--check").returncode == 1
    result = _stamp(tmp_path)
    assert result.returncode == 0, result.stderr
    assert _stamp(tmp_path, "--check").returncode == 0

    readme = (tmp_path / "README.md").read_text()
    assert BINDER_BADGE.findall(readme) == [
        "https://mybinder.org/v2/gh/someone/mtl-course/main?urlpath=lab%2Ftree%2Fnotebooks%2FREADME.md"
    ]
    assert "mtl-teach/mtl-teach" not in "".join(OURS.findall(readme))
    for path in NOTEBOOKS:
        rel = path.relative_to(ROOT).as_posix()
        before, after = nbformat.read(path, as_version=4), nbformat.read(tmp_path / rel, as_version=4)
        assert BADGE.findall(after.cells[0].source) == [
            f"https://colab.research.google.com/github/someone/mtl-course/blob/main/{rel}"
        ]
        assert f'"git+{fork}"' in after.cells[1].source
        assert after.metadata == before.metadata
        for old, new in zip(before.cells, after.cells, strict=True):
            assert (old.get("outputs"), old.metadata) == (new.get("outputs"), new.metadata)
            assert new.source == old.source.replace("mtl-teach/mtl-teach", "someone/mtl-course")


def test_make_links_names_a_bad_home(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[project.urls]\nHomepage = "https://gitlab.com/a/b"\n'
    )
    result = _stamp(tmp_path)
    assert result.returncode != 0
    assert "Homepage must be a GitHub repository's address" in result.stderr
    assert "got 'https://gitlab.com/a/b'. Fix:" in result.stderr


def _fake_repository(tmp_path: Path) -> Path:
    """A repository with the real notebooks 04 and 05 at notebooks/ (their badges say so)."""
    (tmp_path / "notebooks").mkdir()
    for name in ("04_your_turn.ipynb", "05_slicing.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, tmp_path / "notebooks" / name)
    return tmp_path / "notebooks"


def test_release_moves_the_badge_and_next_link_with_the_student_copy(tmp_path: Path) -> None:
    notebooks = _fake_repository(tmp_path)
    assert cli(["release", str(notebooks / "04_your_turn.ipynb"), "--out", str(notebooks / "student")]) == 0
    copy = nbformat.read(notebooks / "student" / "04_your_turn.ipynb", as_version=4)
    assert BADGE.findall(copy.cells[0].source) == [
        "https://colab.research.google.com/github/mtl-teach/mtl-teach/blob/main/notebooks/student/04_your_turn.ipynb"
    ]
    assert "[05_slicing.ipynb](../05_slicing.ipynb)" in copy.cells[-1].source
    assert (notebooks / "student" / "../05_slicing.ipynb").is_file()


def test_release_keeps_links_between_notebooks_released_together(tmp_path: Path) -> None:
    notebooks = _fake_repository(tmp_path)
    sources = [str(notebooks / name) for name in ("04_your_turn.ipynb", "05_slicing.ipynb")]
    assert cli(["release", *sources, "--out", str(notebooks / "student")]) == 0
    copy = nbformat.read(notebooks / "student" / "04_your_turn.ipynb", as_version=4)
    assert "[05_slicing.ipynb](05_slicing.ipynb)" in copy.cells[-1].source  # the student copy of 05, next to it


def test_release_repo_url_stamps_another_home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebooks = _fake_repository(tmp_path)
    source = str(notebooks / "04_your_turn.ipynb")
    out = str(notebooks / "student")
    assert cli(["release", source, "--out", out, "--repo-url", "https://github.com/someone/course.git"]) == 0
    copy = nbformat.read(notebooks / "student" / "04_your_turn.ipynb", as_version=4)
    assert BADGE.findall(copy.cells[0].source) == [
        "https://colab.research.google.com/github/someone/course/blob/main/notebooks/student/04_your_turn.ipynb"
    ]
    assert '"git+https://github.com/someone/course"' in copy.cells[1].source
    with pytest.raises(SystemExit) as exit_:
        cli(["release", source, "--out", out, "--force", "--repo-url", "github.com/someone/course"])
    assert exit_.value.code == 2
    assert (
        "release --repo-url must be a GitHub repository's address, https://github.com/OWNER/REPO"
        in capsys.readouterr().err
    )
