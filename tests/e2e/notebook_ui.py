"""Drive a notebook through JupyterLab's UI with Playwright, and read back what it shows.

Everything here goes through what a student sees and clicks: the notebook is
opened by URL, run with the menu Run > Run All Cells, and judged from the
rendered DOM (prompts, output areas, images), never from the kernel directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
KERNEL_IDLE = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']"
DIALOG = ".jp-Dialog"

# Reads every cell of the visible notebook in one round trip: its prompt, its
# outputs (mime type and text) and the natural size of every <img> it shows.
_READ_CELLS_JS = """
(notebook) => [...notebook.querySelectorAll(':scope .jp-Cell')].map((cell) => ({
  kind: cell.classList.contains('jp-CodeCell') ? 'code' : 'other',
  prompt: (cell.querySelector('.jp-InputPrompt')?.textContent || '').trim(),
  outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map((out) => ({
    mime: out.getAttribute('data-mime-type') || '',
    text: out.innerText || '',
    widget: out.querySelector('.jupyter-widgets') !== null,
  })),
  images: [...cell.querySelectorAll('.jp-OutputArea-output img')].map((img) => ({
    complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
  })),
}))
"""


@dataclass
class Cell:
    """What one rendered cell shows, as read from the DOM."""

    kind: str
    prompt: str
    outputs: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)

    @property
    def execution_count(self) -> int | None:
        """The number in the ``[n]:`` prompt, or None for ``[ ]:`` / ``[*]:``."""
        inner = self.prompt.strip("[]: ")
        return int(inner) if inner.isdigit() else None

    @property
    def text(self) -> str:
        """All output text of the cell, joined."""
        return "\n".join(out["text"] for out in self.outputs)

    def stderr(self) -> list[str]:
        """Texts of the cell's stderr / error outputs (JupyterLab renders tracebacks as stderr)."""
        return [out["text"] for out in self.outputs if out["mime"] == "application/vnd.jupyter.stderr"]


def _accept_dialogs(page: Any) -> None:
    # JupyterLab asks "Select Kernel" when a notebook opens before the kernel
    # specs have loaded; accepting it picks the notebook's own kernel (python3).
    dialog = page.locator(DIALOG)
    if dialog.count() and "Select Kernel" in dialog.first.inner_text():
        dialog.first.locator(".jp-mod-accept").click()
        dialog.first.wait_for(state="detached", timeout=10_000)


def wait_for(page: Any, predicate_js: str, arg: Any = None, timeout_s: float = 60.0, what: str = "condition") -> None:
    """Wait until ``predicate_js`` is truthy in the page, accepting a kernel dialog if one shows up.

    Raises
    ------
    TimeoutError
        If the condition does not hold within ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        _accept_dialogs(page)
        try:
            page.wait_for_function(predicate_js, arg=arg, timeout=1_000)
            return
        except PlaywrightTimeoutError as exc:  # poll again (and look for dialogs) until our own deadline
            if time.monotonic() > deadline:
                raise TimeoutError(f"Timed out after {timeout_s:.0f} s waiting for {what}") from exc


def open_notebook(page: Any, url: str, n_cells: int, timeout_s: float = 90.0) -> None:
    """Open a notebook by URL and wait until all its cells are shown and its kernel is idle."""
    page.goto(url)
    # The toolbar indicator says "idle" for a moment before any kernel exists,
    # so also wait for the status bar to name a kernel that is idle.
    wait_for(
        page,
        "([nb, idle, n]) => document.querySelectorAll(nb + ' .jp-Cell').length === n && document.querySelector(idle) !== null"
        " && [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /^(?!No Kernel).* \\| Idle$/.test(e.textContent))"
        " && !document.querySelector('.jp-Dialog')",
        arg=[NOTEBOOK, KERNEL_IDLE, n_cells],
        timeout_s=timeout_s,
        what=f"the notebook's {n_cells} cells and an idle kernel",
    )


def run_all_cells(page: Any, timeout_s: float = 150.0) -> None:
    """Click Run > Run All Cells, then wait until nothing is queued or running and the kernel is idle.

    A cell that raises stops Run All (the rest stay ``[ ]``), so the wait ends
    either way; the caller checks prompts and outputs afterwards.
    """
    page.locator(".lm-MenuBar-item", has_text="Run").click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    wait_for(
        page,
        "([nb, idle]) => { const p = [...document.querySelectorAll(nb + ' .jp-InputPrompt')].map(e => e.textContent.trim());"
        " return document.querySelector(idle) !== null && !p.includes('[*]:') && p.some(t => /^\\[\\d+\\]:$/.test(t)); }",
        arg=[NOTEBOOK, KERNEL_IDLE],
        timeout_s=timeout_s,
        what="Run All Cells to finish (no [*] prompts, kernel idle)",
    )


def run_cell(page: Any, index: int, timeout_s: float = 60.0) -> None:
    """Select cell ``index`` and press Shift+Enter, as a student runs one cell; wait until it ran.

    Waits until the cell's prompt shows a new execution count and the kernel is idle.
    """
    cell = page.locator(f"{NOTEBOOK} .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text().strip()
    cell.scroll_into_view_if_needed()
    prompt.click()  # selects the cell (command mode)
    page.keyboard.press("Shift+Enter")
    wait_for(
        page,
        "([nb, idle, i, before]) => { const p = document.querySelectorAll(nb + ' .jp-Cell')[i]"
        ".querySelector('.jp-InputPrompt').textContent.trim();"
        " return document.querySelector(idle) !== null && /^\\[\\d+\\]:$/.test(p) && p !== before; }",
        arg=[NOTEBOOK, KERNEL_IDLE, index, before],
        timeout_s=timeout_s,
        what=f"cell {index} to run after Shift+Enter",
    )


def current_tab(page: Any) -> dict[str, str]:
    """Return the title and the text of the document shown in the main area's current tab."""
    return page.evaluate(
        """() => {
          const tab = document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel');
          const panel = [...document.querySelectorAll('#jp-main-dock-panel .jp-MainAreaWidget')]
            .find((w) => !w.classList.contains('lm-mod-hidden') && w.offsetParent !== null);
          return {title: tab ? tab.textContent.trim() : '', text: panel ? panel.innerText : ''};
        }"""
    )


def read_cells(page: Any) -> list[Cell]:
    """Return what every cell of the visible notebook shows."""
    return [Cell(**raw) for raw in page.eval_on_selector(NOTEBOOK, _READ_CELLS_JS)]


def screenshot_cell(page: Any, index: int, path: Path) -> None:
    """Scroll cell ``index`` into view and save a screenshot of the whole window."""
    cell = page.locator(f"{NOTEBOOK} .jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    cell.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
