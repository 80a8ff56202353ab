"""The hub recipes hold the measured budgets: Zero to JupyterHub's values.yaml, the TLJH recipe, the README.

``benchmarks/bench_kernels.py --write`` records each notebook's kernel peak
memory and CPU seconds in ``benchmarks/results/hub_budgets.json``;
``mtl_teach.classroom.sizing`` turns them into one student's guarantee and
limit. Every number a recipe or the README states about them must be that
number: re-measure, and these tests say which file to update.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from mtl_teach.classroom.sizing import load_figures, student_budget
from mtl_teach.links import nbgitpuller_query

ROOT = Path(__file__).resolve().parents[1]
FIGURES = load_figures(ROOT / "benchmarks" / "results" / "hub_budgets.json")
BUDGET = student_budget(FIGURES)
VALUES = yaml.safe_load((ROOT / "hub" / "z2jh" / "values.yaml").read_text())
HOME = "https://github.com/mtl-teach/mtl-teach"


def test_the_figures_cover_every_notebook_and_a_server() -> None:
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(FIGURES["notebooks"]) == notebooks, "re-run: python benchmarks/bench_kernels.py --write"
    assert FIGURES["server"]["peak_rss_mib"] > 0
    for name, figure in FIGURES["notebooks"].items():
        assert figure["peak_rss_mib"] > 100 and figure["cpu_s"] > 0, (name, figure)  # torch alone is over 100 MiB


def test_zero_to_jupyterhub_limits_are_the_measured_budget() -> None:
    single = VALUES["singleuser"]
    assert single["memory"] == {
        "guarantee": f"{BUDGET.memory_guarantee_mib}M",
        "limit": f"{BUDGET.memory_limit_mib}M",
    }, f"hub/z2jh/values.yaml: set singleuser.memory from {BUDGET}"
    assert single["cpu"] == {"guarantee": BUDGET.cpu_guarantee, "limit": BUDGET.cpu_limit}, BUDGET
    assert single["extraEnv"]["OMP_NUM_THREADS"] == "1"  # the figures were measured with one torch thread


def test_zero_to_jupyterhub_culls_idle_servers_and_opens_the_kit() -> None:
    assert VALUES["cull"]["enabled"] is True and 0 < VALUES["cull"]["timeout"] <= 4 * 3600
    single = VALUES["singleuser"]
    assert single["defaultUrl"] == f"/git-pull?{nbgitpuller_query(HOME, 'main', 'notebooks/README.md')}"
    # Each student's pod mounts only their own dropbox (KubeSpawner expands {username}).
    mount = next(m for m in single["storage"]["extraVolumeMounts"] if m["mountPath"] == "/srv/handin")
    assert mount["subPath"] == "{username}" and single["extraEnv"]["MTL_TEACH_HANDIN"] == "/srv/handin"


def test_the_image_is_built_from_binder_with_repo2docker() -> None:
    script = (ROOT / "hub" / "z2jh" / "build_image.sh").read_text()
    assert os.access(ROOT / "hub" / "z2jh" / "build_image.sh", os.X_OK)
    assert "repo2docker --no-run" in script and "--user-id 1000" in script
    assert (ROOT / "binder" / "requirements.txt").is_file()
    assert subprocess.run(["bash", "-n", str(ROOT / "hub" / "z2jh" / "build_image.sh")]).returncode == 0


def test_the_littlest_jupyterhub_recipe_has_the_same_limits() -> None:
    script = (ROOT / "hub" / "tljh" / "install.sh").read_text()
    assert f"tljh-config set limits.memory {BUDGET.memory_limit_mib}M" in script, BUDGET
    assert f"tljh-config set limits.cpu {BUDGET.cpu_limit:g}" in script, BUDGET
    assert re.search(r"tljh-config set services\.cull\.timeout \d+", script)
    assert subprocess.run(["bash", "-n", str(ROOT / "hub" / "tljh" / "install.sh")]).returncode == 0


def test_the_littlest_jupyterhub_config_gives_each_student_a_dropbox(tmp_path: Path) -> None:
    from traitlets.config import Config

    config = Config()
    namespace = {"get_config": lambda: config}
    exec(compile((ROOT / "hub" / "tljh" / "mtl_teach_config.py").read_text(), "mtl_teach_config.py", "exec"), namespace)
    assert config.Spawner.default_url == f"/git-pull?{nbgitpuller_query(HOME, 'main', 'notebooks/README.md')}"
    namespace["HANDIN_ROOT"] = tmp_path / "handin"
    account = SimpleNamespace(pw_uid=os.geteuid(), pw_gid=os.getegid())
    namespace["pwd"] = SimpleNamespace(getpwnam=lambda name: account if name == "jupyter-ada" else pytest.fail(name))
    spawner = SimpleNamespace(user=SimpleNamespace(name="ada"))
    config.Spawner.pre_spawn_hook(spawner)
    assert ((tmp_path / "handin" / "ada").stat().st_mode & 0o777) == 0o700
    assert ((tmp_path / "handin").stat().st_mode & 0o777) == 0o711
    environment = config.Spawner.environment.get_value({})  # what TLJH's own settings are updated with
    assert environment["MTL_TEACH_HANDIN"](spawner) == str(tmp_path / "handin" / "ada")
    assert environment["OMP_NUM_THREADS"] == "1"


def test_the_readme_sizing_table_is_the_measured_one() -> None:
    readme = (ROOT / "README.md").read_text()
    for students in (100, 300):
        size = BUDGET.for_class(students, 0.2)
        row = f"| {students} | {size.active} | {size.memory_gib:g} GiB | {size.cores:g} |"
        assert row in readme, f"README's sizing table should have the row {row!r} ({BUDGET})"
    for name, figure in FIGURES["notebooks"].items():
        row = f"| `{name}` | {figure['peak_rss_mib']:.0f} | {figure['cpu_s']:.1f} |"
        assert row in readme, f"README's per-notebook table should have {row!r}"
    assert f"{BUDGET.memory_guarantee_mib}M" in readme and f"{BUDGET.memory_limit_mib}M" in readme
