"""Packaging: pins, conda file, command line, and a light import."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_runtime_dependency_is_pinned_and_torch_is_the_cpu_pin() -> None:
    deps = _pyproject()["project"]["dependencies"] + _pyproject()["project"]["optional-dependencies"]["hub"]
    marker = r"(; sys_platform == '[a-z]+')?"  # e.g. the grader's bwrap, which exists only on Linux
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.]*" + marker, d) for d in deps), deps
    assert "torch==2.13.0" in deps  # a bare "torch" pulls a multi-GB CUDA build


def test_environment_yml_installs_the_same_pins_as_pyproject() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    python = next(d for d in conda if d.startswith("python="))
    assert _pyproject()["project"]["requires-python"] == f">={python.split('=')[1]}"
    assert "-e ." in pip
    # Conda users get the [hub] extra too, so `make hub` works in that environment as well.
    expected = _pyproject()["project"]["dependencies"] + _pyproject()["project"]["optional-dependencies"]["hub"]
    assert sorted(p for p in pip if p != "-e .") == sorted(expected)


def test_binder_installs_the_same_pins_as_pyproject_with_the_cpu_build_of_torch() -> None:
    # repo2docker (Binder, JupyterHub images) reads binder/: requirements.txt, runtime.txt, postBuild.
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    lines = [line for line in lines if line]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines, lines
    assert "." in lines, "binder/requirements.txt must install the kit itself ('.')"
    # The [hub] extra too: a JupyterHub's single-user image is built from binder/ (jupyterhub-singleuser,
    # nbgitpuller), and every other extra's pins stay out of a student's image.
    deps = _pyproject()["project"]["dependencies"] + _pyproject()["project"]["optional-dependencies"]["hub"]
    cpu = [f"{dep}+cpu" if dep.startswith("torch==") else dep for dep in deps]
    pins = [line for line in lines if "==" in line]
    assert sorted(pins) == sorted(cpu), f"binder/requirements.txt drifted from pyproject.toml: {pins} vs {cpu}"
    minimum = _pyproject()["project"]["requires-python"].removeprefix(">=")
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == f"python-{minimum}"


def test_binder_post_build_installs_the_jupyterlab_settings_as_make_does(tmp_path: Path) -> None:
    script = ROOT / "binder" / "postBuild"
    assert os.access(script, os.X_OK), "repo2docker runs binder/postBuild only if it is executable"
    env = {**os.environ, "NB_PYTHON_PREFIX": str(tmp_path)}
    subprocess.run([str(script)], cwd=ROOT, env=env, check=True)
    installed = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert installed.read_bytes() == (ROOT / "scripts" / "jupyterlab_overrides.json").read_bytes()
    assert "share/jupyter/lab/settings/overrides.json" in (ROOT / "Makefile").read_text()


def test_python_dash_m_mtl_teach_runs_and_lists_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "mtl_teach", "--help"], capture_output=True, text=True, check=True)
    assert "info" in out.stdout
    info = subprocess.run([sys.executable, "-m", "mtl_teach", "info"], capture_output=True, text=True, check=True)
    assert "torch" in info.stdout and "mtl-teach" in info.stdout


def test_unknown_command_fails_naming_the_valid_ones() -> None:
    out = subprocess.run([sys.executable, "-m", "mtl_teach", "nope"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "invalid choice: 'nope'" in out.stderr and "info" in out.stderr


def test_import_loads_no_heavy_library_beyond_torch() -> None:
    code = (
        "import sys, torch; before = set(sys.modules); import mtl_teach; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("matplotlib", "pandas", "sklearn", "scipy", "tqdm", "IPython"):
        assert f"'{heavy}'" not in out, out


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make lab" in readme
    assert "make test" in ci


def test_readme_python_snippet_runs_as_written() -> None:
    # The README's "package in one screen" is what a newcomer copies first.
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks, "the README has no ```python block"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    scores = namespace["model"].score(namespace["dataloaders"])
    assert set(scores) >= {"circle_task/circleDataset/test/accuracy", "square_task/squareDataset/test/accuracy"}
    assert min(scores.values()) > 0.85, scores
    assert "circle_task/circleDataset/train/loss" in namespace["trainer"].history


def _public_callables():
    import inspect

    import mtl_teach

    for name in mtl_teach.__all__:
        obj = getattr(mtl_teach, name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException | Warning):
            yield name, obj
            for attr, member in vars(obj).items():
                func = member.__func__ if isinstance(member, classmethod | staticmethod) else member
                # Methods defined in the class (not defaults such as Task.loss_func=F.cross_entropy);
                # getattr lets an override inherit its base's docstring, as help() shows it.
                if (
                    not attr.startswith("_")
                    and inspect.isfunction(func)
                    and func.__qualname__.startswith(f"{obj.__name__}.")
                ):
                    yield f"{name}.{attr}", getattr(obj, attr)
        elif inspect.isfunction(obj):
            yield name, obj


def test_public_api_has_numpydoc_parameters_and_a_repr() -> None:
    # Students read these with help(...) and Shift-Tab in Jupyter: every public
    # function that takes arguments documents them in a numpydoc Parameters section.
    import inspect

    missing = []
    for name, obj in _public_callables():
        doc = inspect.getdoc(obj) or ""
        params = [p for p in inspect.signature(obj).parameters if p not in ("self", "cls")]
        if not doc:
            missing.append(f"{name}: no docstring")
        elif params and "Parameters\n----------" not in doc:
            missing.append(f"{name}: no Parameters section for {params}")
        if inspect.isclass(obj) and not any("__repr__" in vars(c) for c in obj.__mro__[:-1]):
            missing.append(f"{name}: no __repr__")
    assert not missing, "\n".join(missing)


def _make_lab_dry_run(*variables: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS", "LAB_", "NOTEBOOKS"))}
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(ROOT), "lab", *variables],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    line = next((line for line in out.splitlines() if "jupyter lab" in line), None)
    assert line is not None, f"`make -n lab` runs no `jupyter lab`:\n{out}"
    return shlex.split(line)


def test_make_lab_adds_allow_root_and_container_address_only_where_needed() -> None:
    # tests/e2e starts JupyterLab through this very recipe; here, the switches it
    # takes from the machine: as root jupyter refuses to start without
    # --allow-root, and in a container localhost is unreachable from a published port.
    args = _make_lab_dry_run()
    assert args[2:4] == ["--notebook-dir=notebooks", "notebooks/README.md"], args
    assert ("--allow-root" in args) == (os.geteuid() == 0), args
    in_container = Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()
    assert ("--ip=0.0.0.0" in args) == in_container, args
    assert not any(arg.startswith(("--port=", "--port-retries")) for arg in args), (
        f"the port is jupyter_server's (8888, JUPYTER_PORT, then the next free one): {args}"
    )
    args = _make_lab_dry_run("LAB_IP=127.0.0.1", "LAB_ARGS=--no-browser '--ServerApp.browser=a b %s'")
    assert [a for a in args if a.startswith("--ip")] == ["--ip=127.0.0.1"], args
    assert args[-2:] == ["--no-browser", "--ServerApp.browser=a b %s"], args
