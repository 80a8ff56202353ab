"""Load on a real hub, bounded and on loopback: N students log in at once and run notebook 02.

Run: ``python benchmarks/bench_hub_load.py [--students 12] [--write]`` (as root or
not). It starts ``make hub`` (the demo login, the simple spawner: no system
accounts are made) on a free loopback port, through a config of its own that
loads the kit's and adds a service token for its API calls, the way an
instructor adds OAuth (README, "In a classroom"). Then every simulated
student, each in a thread, at the same moment:

(first one student alone, the baseline, then all N together)

1. logs in through the hub's login form, which starts their server;
   **start-up** is from the login to the server being ready;
2. starts a kernel on their server and runs notebook 02's code cells one by one
   over the kernel's websocket, as JupyterLab does; **run time** is from the
   first cell sent to the last reply.

A cell that fails, a server that does not start and anything past the time
limit count as **failures**. Percentiles and failures are printed, and with
``--write`` kept in ``benchmarks/results/hub_load.json``. Everything goes to
127.0.0.1 only; every wait is bounded (``--deadline``); at the end the hub is
stopped as Ctrl+C does, which stops every server and kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import requests
import websocket

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from hubserver import PASSWORD, ClassHub  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "02_mtl_basics.ipynb"
RESULTS = ROOT / "benchmarks" / "results" / "hub_load.json"
SERVICE = "load-test"
CONFIG = """\
# The load test's hub: the kit's own config, plus an admin token for the test's API calls.
load_subconfig({kit!r})
c = get_config()  # noqa: F821
c.JupyterHub.services = [{{"name": {service!r}, "api_token": {token!r}}}]
c.JupyterHub.load_roles = [
    {{"name": {service!r}, "services": [{service!r}], "scopes": ["admin:users", "admin:servers", "tokens"]}}
]
c.Spawner.start_timeout = {timeout}
"""


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {"p50": round(statistics.median(ordered), 1), "p90": round(pick(0.9), 1), "max": round(ordered[-1], 1)}


class Student(threading.Thread):
    """One simulated student: log in, wait for the server, run notebook 02's cells over a websocket."""

    def __init__(self, name: str, hub: ClassHub, token: str, cells: list[str], start: threading.Event, deadline: float):
        super().__init__(name=name, daemon=True)
        self.hub, self.admin, self.cells, self.start_gate, self.deadline = hub, token, cells, start, deadline
        self.startup_s: float | None = None
        self.run_s: float | None = None
        self.failure: str | None = None

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("past the load test's deadline")
        return left

    def run(self) -> None:
        try:
            self._run()
        except Exception as error:  # every kind of failure is a result here, recorded with its student
            self.failure = f"{type(error).__name__}: {str(error)[:300]}"

    def _run(self) -> None:
        base, admin = self.hub.url, {"Authorization": f"token {self.admin}"}
        session = requests.Session()
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', session.get(f"{base}/hub/login", timeout=30).text)
        self.start_gate.wait()
        started = time.monotonic()
        form = {"username": self.name, "password": PASSWORD, "_xsrf": xsrf[1] if xsrf else ""}
        session.post(f"{base}/hub/login", data=form, timeout=self._left(), allow_redirects=True)
        while True:  # the login started the server; wait until the hub says it is ready
            user = requests.get(f"{base}/hub/api/users/{self.name}", headers=admin, timeout=min(30, self._left()))
            server = user.json().get("servers", {}).get("", {})
            if server.get("ready"):
                break
            if not server.get("pending") and not server.get("ready") and time.monotonic() - started > 5:
                raise RuntimeError(f"the server is neither starting nor ready: {user.text[:300]}")
            time.sleep(0.5)  # polling interval while the server starts
        self.startup_s = time.monotonic() - started
        token = requests.post(
            f"{base}/hub/api/users/{self.name}/tokens", headers=admin, json={"note": "load test"}, timeout=30
        ).json()["token"]
        mine = {"Authorization": f"token {token}"}
        kernel = requests.post(f"{base}/user/{self.name}/api/kernels", headers=mine, json={}, timeout=60).json()["id"]
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{self.hub.port}/user/{self.name}/api/kernels/{kernel}/channels",
            header=[f"Authorization: token {token}"], timeout=min(300, self._left()),
        )  # fmt: skip
        try:
            began = time.monotonic()
            session_id = uuid.uuid4().hex
            for index, code in enumerate(self.cells):
                self._execute(ws, session_id, index, code)
            self.run_s = time.monotonic() - began
        finally:
            ws.close()

    def _execute(self, ws: Any, session_id: str, index: int, code: str) -> None:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": self.name, "session": session_id, "msg_type": "execute_request",
                       "version": "5.3", "date": datetime.now(UTC).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))  # fmt: skip
        while True:
            ws.settimeout(min(300, self._left()))
            reply = json.loads(ws.recv())
            if reply.get("parent_header", {}).get("msg_id") != msg_id or reply["msg_type"] != "execute_reply":
                continue
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"cell {index}: {reply['content'].get('ename')}: {reply['content'].get('evalue')}")
            return


def _phase(prefix: str, count: int, hub: ClassHub, token: str, cells: list[str], deadline: float) -> dict[str, object]:
    """``count`` students log in at the same moment and run the notebook; their percentiles and failures."""
    gate = threading.Event()
    students = [Student(f"{prefix}{i:03d}", hub, token, cells, gate, deadline) for i in range(count)]
    for student in students:
        student.start()
    time.sleep(1)  # every thread has fetched its login form
    began = time.monotonic()
    gate.set()
    for student in students:
        student.join(timeout=max(1.0, deadline - time.monotonic() + 5))
    return {
        "students": count,
        "startup_s": _percentiles([s.startup_s for s in students if s.startup_s is not None]),
        "run_s": _percentiles([s.run_s for s in students if s.run_s is not None]),
        "wall_s": round(time.monotonic() - began, 1),
        "failures": {s.name: s.failure or "did not finish in time" for s in students if s.failure or s.run_s is None},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=12, help="simulated students, all at once (default 12)")
    parser.add_argument("--deadline", type=float, default=600, help="seconds before everything stops (default 600)")
    parser.add_argument("--write", action="store_true", help=f"record the results in {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args()
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]
    token = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="mtl-hub-load-") as tmp:
        config = Path(tmp) / "load_config.py"
        kit = str(ROOT / "hub" / "jupyterhub_config.py")
        config.write_text(CONFIG.format(kit=kit, service=SERVICE, token=token, timeout=int(args.deadline)))
        hub = ClassHub(Path(tmp) / "state", "https://github.com/mtl-teach/mtl-teach", "simple", config=config)
        with hub:
            deadline = time.monotonic() + args.deadline
            # First one student alone (the baseline, on the same machine and hub), then all of them at once.
            phases = {"alone": _phase("solo", 1, hub, token, cells, deadline)}
            phases["together"] = _phase("load", args.students, hub, token, cells, deadline)
            hub.remember()
            stopped = hub.interrupt()
        left = hub.leftovers()
    results = {
        "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
        "students": args.students,
        "cores": os.cpu_count(),
        "notebook": NOTEBOOK.name,
        **phases,
        "hub_stopped": stopped is not None and not left,
    }
    print(json.dumps(results, indent=1))
    if args.write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    if left:
        raise SystemExit("left running after the hub stopped:\n" + "\n".join(left))


if __name__ == "__main__":
    main()
