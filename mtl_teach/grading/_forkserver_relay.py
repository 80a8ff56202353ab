"""The kernelspec's command when a fork server starts kernels: ask it for one, live as long as it does.

Run by path with ``python -I -S`` (standard library only, so it starts in
milliseconds): ``_forkserver_relay.py ADDRESS CONNECTION_FILE``. It sends the
server (:mod:`~mtl_teach.grading.forkserver`) the connection file, its own
working folder and environment, as jupyter_client set them, then waits. Its
exit code is the kernel's. Killing it (jupyter_client's shutdown, the disk
watch) closes the socket, and the server then kills the kernel and every
process the kernel started.
"""

import json
import os
import socket
import sys

address, connection_file = sys.argv[1], sys.argv[2]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    server.connect(address)
    request = {"connection_file": connection_file, "cwd": os.getcwd(), "env": dict(os.environ)}
    server.sendall(json.dumps(request).encode() + b"\n")
    for line in server.makefile("rb"):
        if line.startswith(b"exited "):
            code = int(line.split()[1])
            sys.exit(code if code >= 0 else 128 - code)
except (OSError, ValueError) as error:
    print(f"mtl-teach: the fork server did not start the kernel: {error}", file=sys.stderr)
sys.exit(70)
