"""The grader's trust boundary, as the layout draws it (issue 22): which side a line is on, from its file name.

- ``mtl_teach/grading/in_sandbox/`` runs inside the sandbox, next to student
  code: it may import the kit but none of the grader's own modules.
- Every other grading module is the trusted side. None of them touches a
  path with the raw file-system calls that follow links, recurse, or read a
  file of any size: those go through ``from_kernel/fs.py``, the one helper
  built for folders a kernel could write (no links followed, exclusive
  creation, bounded reads, removal that never raises).
"""

from __future__ import annotations

import ast
from pathlib import Path

GRADING = Path(__file__).resolve().parents[1] / "mtl_teach" / "grading"
HELPER = GRADING / "from_kernel" / "fs.py"
# module.function calls that follow links, recurse or read without bounds
RAW = {
    "os": {"open", "mkdir", "makedirs", "remove", "unlink", "rmdir", "rename", "replace", "chmod", "symlink", "walk"},
    "shutil": {"rmtree", "copy", "copy2", "copyfile", "copytree", "move"},
    "tempfile": {"TemporaryDirectory", "mkdtemp", "mkstemp", "NamedTemporaryFile"},
    "torch": {"load"},
}
# pathlib methods that do the same
RAW_METHODS = {"mkdir", "unlink", "rmdir", "write_text", "write_bytes", "read_bytes", "touch", "iterdir", "rename"}
# The trusted side's calls that touch no folder a kernel could write, and why.
ALLOWED = {
    ("release.py", "write_text"): "the student copies, into the instructor's --out: no kernel is involved",
    ("release.py", "mkdir"): "the instructor's --out for the student copies",
    ("rebuild.py", "load"): "decodes bytes the helper read (a regular file, bounded), once check_archive passed",
}


def _raw_calls(path: Path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open":
            found.append(("open", node.lineno))
        elif isinstance(func, ast.Attribute):
            owner = func.value.id if isinstance(func.value, ast.Name) else None
            if owner in RAW and func.attr in RAW[owner]:
                found.append((f"{owner}.{func.attr}", node.lineno))
            elif owner not in RAW and func.attr in RAW_METHODS:
                found.append((func.attr, node.lineno))
    return found


def test_code_that_runs_in_the_sandbox_imports_none_of_the_graders_own_modules():
    files = sorted((GRADING / "in_sandbox").glob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "export.py", "kernel_launcher.py", "forkserver.py"}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("mtl_teach.grading"):
                    assert name.startswith("mtl_teach.grading.in_sandbox"), f"{path.name} imports {name}"


def test_the_trusted_side_touches_paths_only_through_the_one_safe_helper():
    trusted = [
        path
        for path in sorted(GRADING.rglob("*.py"))
        if path != HELPER and "in_sandbox" not in path.relative_to(GRADING).parts
    ]
    assert len(trusted) >= 15
    offending = [
        f"{path.relative_to(GRADING)}:{line}: {call}"
        for path in trusted
        for call, line in _raw_calls(path)
        if (path.name, call.split(".")[-1]) not in ALLOWED
    ]
    assert not offending, "use mtl_teach.grading.from_kernel.fs instead:\n" + "\n".join(offending)


def test_the_helper_itself_follows_no_link_it_opens():
    # Every os.open and mkdir in the helper works relative to a folder's descriptor, or opens with O_NOFOLLOW.
    source = HELPER.read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("open", "mkdir"):
            if getattr(node.func.value, "id", None) != "os":
                continue
            text = ast.get_source_segment(source, node) or ""
            assert "dir_fd=" in text or "O_DIR" in text or "O_NOFOLLOW" in text or "path" in text, text
