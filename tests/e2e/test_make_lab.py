"""``make lab`` on a machine whose port is already taken (8888 on a shared machine).

jupyter_server moves on to another free port by itself (``port_retries``,
50 by default) and prints the URL it took; the Makefile must not defeat
that (e.g. with ``--port-retries=0``). The test asks for a port through
``JUPYTER_PORT``, as a student would, while holding that port itself.
No browser is needed: the server's REST API answering is the proof.
"""

from __future__ import annotations

import socket
from pathlib import Path

from labserver import JupyterLab


def test_make_lab_moves_to_a_free_port_when_its_port_is_taken(tmp_path: Path) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "README.md").write_text("# Start here\n")
    home = tmp_path / "home"
    home.mkdir()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with JupyterLab(notebooks, home, port=busy) as lab:
            assert lab.port is not None and lab.port != busy, f"the server reports port {lab.port}:\n{lab.log_tail()}"
            assert lab.api("GET", "/api/status") is not None
            assert f"The port {busy} is already in use" in lab.log_tail(20_000), lab.log_tail()
