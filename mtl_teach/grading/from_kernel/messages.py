"""What a kernel sends the grader: capped as it arrives, checked before use, and never blamed on the grader.

A kernel holds its connection's signing key, so every message it sends is
"valid" to jupyter_client whatever it contains: a ``display_data`` without
``data``, a ``stream`` whose text is a list, an ``execute_reply`` whose
status is a number, a message of 150 MB. Before this module, such a message
raised deep inside nbclient (``KeyError: 'data'``) and the run was reported
as the grader's failure; and a large one was received and copied whole.

- Every socket to the kernel refuses a ZMQ frame over :data:`MAX_FRAME_BYTES`
  (``ZMQ_MAXMSGSIZE``): ZMQ drops the connection as the frame's size
  arrives, before it allocates the frame, and the channel connects again
  at once (ZMQ itself would not), so the cells after it run as before. (A
  message of many such frames is still received whole; the worker's own
  memory limit bounds that, see :mod:`mtl_teach.grading.worker`.)
- Every message is checked (:func:`problem`) before nbclient reads it: a
  malformed one is dropped and counted against the kernel that sent it.
- Output is kept up to ``output_bytes`` a cell and ``notebook_output_bytes``
  in all, display updates included (:class:`CappedClient`).
"""

from __future__ import annotations

import contextlib
import time
from queue import Empty
from typing import Any

import nbformat
import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal
from traitlets import DottedObjectName, default

MAX_FRAME_BYTES = 64 * 2**20  # one ZMQ frame from a kernel: past it, ZMQ drops the connection unread
POLL_SECONDS = 0.5  # how often a waiting channel looks for a dropped connection

# msg_type -> the content fields nbclient and nbformat read, and their types (None allowed where listed)
_FIELDS: dict[str, tuple[tuple[str, tuple[type, ...]], ...]] = {
    "status": (("execution_state", (str,)),),
    "stream": (("name", (str,)), ("text", (str,))),
    "display_data": (("data", (dict,)), ("metadata", (dict,))),
    "update_display_data": (("data", (dict,)), ("metadata", (dict,))),
    "execute_result": (("data", (dict,)), ("metadata", (dict,)), ("execution_count", (int, type(None)))),
    "error": (("ename", (str,)), ("evalue", (str,)), ("traceback", (list,))),
    "execute_input": (("code", (str,)),),
    "comm_open": (("comm_id", (str,)), ("data", (dict,))),
    "comm_msg": (("comm_id", (str,)), ("data", (dict,))),
    "comm_close": (("comm_id", (str,)),),
    "execute_reply": (("status", (str,)),),
}


def problem(msg: Any) -> str:
    """'' when ``msg`` (a deserialized Jupyter message) has what the grader reads, else what is wrong with it."""
    if not isinstance(msg, dict):
        return "a message that is not a mapping"
    header, parent, content = msg.get("header"), msg.get("parent_header"), msg.get("content")
    if not isinstance(header, dict) or not isinstance(header.get("msg_type"), str):
        return "a message without a type"
    kind = header["msg_type"][:40]
    if msg.get("msg_type") != header["msg_type"] or not isinstance(parent, dict):
        return f"a {kind!r} message without a proper header"
    if not isinstance(content, dict) or not isinstance(msg.get("metadata", {}), dict):
        return f"a {kind!r} message whose content is not a mapping"
    for name, types in _FIELDS.get(kind, ()):
        if not isinstance(content.get(name), types) or (isinstance(content.get(name), bool) and bool not in types):
            return f"a {kind!r} message without a proper {name!r}"
    transient = content.get("transient")
    if transient is not None and (
        not isinstance(transient, dict) or not isinstance(transient.get("display_id", ""), str)
    ):
        return f"a {kind!r} message with a malformed 'transient'"
    if kind == "error" or (kind == "execute_reply" and content["status"] == "error"):
        if not all(isinstance(content.get(k), str) for k in ("ename", "evalue")):
            return f"a {kind!r} message without a proper error name and value"
        if not isinstance(content.get("traceback", []), list) or not all(
            isinstance(line, str) for line in content.get("traceback", [])
        ):
            return f"a {kind!r} message with a malformed traceback"
    if kind in ("display_data", "update_display_data", "execute_result") and not all(
        isinstance(key, str) for key in content["data"]
    ):
        return f"a {kind!r} message with a malformed 'data'"
    return ""


def kernel_context() -> zmq.asyncio.Context:
    """A ZMQ context whose sockets refuse frames over :data:`MAX_FRAME_BYTES` (set before they connect)."""
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
    return context


class GuardedChannel(AsyncZMQSocketChannel):
    """A channel that hands on only well-formed messages (the others are dropped into ``rejected``),
    and connects again when ZMQ dropped the connection over a frame past :data:`MAX_FRAME_BYTES`."""

    rejected: list[str]

    def __init__(self, socket: zmq.asyncio.Socket, session: Any, loop: Any = None) -> None:
        super().__init__(socket, session, loop)
        self.rejected = []
        self._endpoint = socket.getsockopt(zmq.LAST_ENDPOINT).decode()
        self._monitor = socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)

    async def _reconnect_if_dropped(self) -> None:
        """After ZMQ dropped the connection (an oversized frame, which ends it for good), connect again."""
        dropped = False
        while await self._monitor.poll(0):
            await self._monitor.recv_multipart()
            dropped = True
        if dropped and self.socket is not None and not self.socket.closed:
            with contextlib.suppress(zmq.ZMQError):
                self.socket.disconnect(self._endpoint)
            self.socket.connect(self._endpoint)

    def close(self) -> None:
        with contextlib.suppress(zmq.ZMQError):
            if self.socket is not None and not self.socket.closed:
                self.socket.disable_monitor()
        self._monitor.close(linger=0)
        super().close()

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:  # type: ignore[override]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            await self._reconnect_if_dropped()
            left = POLL_SECONDS if deadline is None else min(POLL_SECONDS, max(0.0, deadline - time.monotonic()))
            if not await self.socket.poll(int(left * 1000)):
                if deadline is not None and time.monotonic() >= deadline:
                    raise Empty
                continue
            try:
                msg = await self._recv()
            except Exception as error:  # bad framing, JSON or signature: the kernel's doing
                self.rejected.append(f"a message the grader could not decode ({type(error).__name__})")
                continue
            why = problem(msg)
            if not why:
                return msg
            self.rejected.append(why)


class GuardedClient(AsyncKernelClient):
    """The kernel client the grader uses: guarded channels, capped frames. ``rejected``: what it dropped."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shell_channel_class = self.iopub_channel_class = GuardedChannel
        self.stdin_channel_class = self.control_channel_class = GuardedChannel
        self.rejected: list[str] = []

    @default("context")
    def _context_default(self) -> zmq.asyncio.Context:
        self._created_context = True  # so stop_channels() closes it
        return kernel_context()

    def _guard(self, channel: Any) -> Any:
        if isinstance(channel, GuardedChannel) and channel.rejected is not self.rejected:
            channel.rejected = self.rejected
        return channel

    @property
    def shell_channel(self) -> Any:  # type: ignore[override]
        return self._guard(super().shell_channel)

    @property
    def iopub_channel(self) -> Any:  # type: ignore[override]
        return self._guard(super().iopub_channel)

    @property
    def stdin_channel(self) -> Any:  # type: ignore[override]
        return self._guard(super().stdin_channel)

    @property
    def control_channel(self) -> Any:  # type: ignore[override]
        return self._guard(super().control_channel)


class GuardedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose own sockets (the control channel) and clients are guarded too.

    It leaves its connection file and socket files where they are: jupyter_client removes them by path,
    and a forked kernel can swap the folder that holds them for a link by then. The grader removes the
    whole folder itself, through :mod:`~mtl_teach.grading.from_kernel.fs`.
    """

    client_class = DottedObjectName("mtl_teach.grading.from_kernel.messages.GuardedClient")

    @default("context")
    def _context_default(self) -> zmq.asyncio.Context:
        self._created_context = True  # so cleanup_resources() closes it
        return kernel_context()

    @default("client_factory")
    def _client_factory_default(self) -> type:
        return GuardedClient

    def cleanup_connection_file(self) -> None:
        self._connection_file_written = False

    def cleanup_ipc_files(self) -> None:
        pass


def _size(content: Any) -> int:
    """Roughly the bytes in a message's content: its strings' lengths, without copying them."""
    total, stack = 0, [content]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
            total += len(item)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        else:
            total += 8
    return total


class CappedClient(NotebookClient):
    """A NotebookClient that keeps at most ``cap`` bytes of output per cell and ``total`` in all.

    ``timed_out``: the grader interrupted the cell now running at its time limit (the TimeoutError
    is the grader's, not the kernel's). Messages nbclient cannot use are dropped into ``rejected``.
    """

    def __init__(self, *args: Any, cap: int, total: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cap, self._total, self._kept = cap, total, 0
        self._used: dict[int, int] = {}
        self.dropped: dict[int, int] = {}
        self.current_cell = 0  # the cell running now: display updates count against it
        self.timed_out = False
        self.unread: list[str] = []  # what process_message could not use

    @property
    def rejected(self) -> list[str]:
        """Every message dropped so far: by the guarded channels and by :meth:`process_message`."""
        return [*getattr(self.kc, "rejected", []), *self.unread]

    def _fits(self, size: int, cell_index: int, outs: list[Any]) -> bool:
        """Count ``size`` bytes against the caps; False (and note the drop) if they would pass one."""
        used = self._used.get(cell_index, 0)
        if used + size > self._cap or self._kept + size > self._total:
            if not self.dropped.get(cell_index):
                outs.append(nbformat.v4.new_output("stream", name="stderr", text="[grader: output truncated]\n"))
            self.dropped[cell_index] = self.dropped.get(cell_index, 0) + size
            return False
        self._used[cell_index] = used + size
        self._kept += size
        return True

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        try:
            return super().process_message(msg, cell, cell_index)
        except CellControlSignal:
            raise
        except Exception as error:  # a message the checks let through but nbformat refused
            self.unread.append(f"a {msg.get('msg_type', '?')!r} message nbformat refused ({type(error).__name__})")
            return None

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        if not self._fits(_size(msg.get("content")), cell_index, outs):
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        # display(..., display_id=...) and update_display() replace earlier outputs in place, outside
        # output(): without this, a thousand small displays each updated with a megabyte kept a gigabyte.
        if display_id in self._display_id_map:
            cell = self.current_cell
            if not self._fits(_size(msg.get("content")), cell, self.nb.cells[cell].outputs):
                return
        super()._update_display_id(display_id, msg)

    async def _async_handle_timeout(self, timeout: int, cell: Any = None) -> Any:
        self.timed_out = True
        return await super()._async_handle_timeout(timeout, cell)
