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
    wait_for_notebook(page, n_cells, timeout_s)


def wait_for_notebook(page: Any, n_cells: int, timeout_s: float = 90.0) -> None:
    """Wait until the notebook in front shows its ``n_cells`` cells and its kernel is idle."""
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


def click_run_all(page: Any) -> None:
    """Click Run > Run All Cells (and return at once)."""
    page.locator(".lm-MenuBar-item", has_text="Run").click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()


def run_all_cells(page: Any, timeout_s: float = 150.0, click: bool = True) -> None:
    """Click Run > Run All Cells, then wait until nothing is queued or running and the kernel is idle.

    A cell that raises stops Run All (the rest stay ``[ ]``), so the wait ends
    either way; the caller checks prompts and outputs afterwards. With
    ``click=False`` it only waits (Run All was clicked before, e.g. in several tabs at once).
    """
    if click:
        click_run_all(page)
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


def set_cell_source(page: Any, index: int, text: str) -> None:
    """Replace cell ``index``'s source with ``text``, as a student does: click into it, select all, type.

    The text is inserted as one input (no key presses), so the editor's
    auto-indent and bracket closing leave it exactly as given.
    """
    editor = page.locator(f"{NOTEBOOK} .jp-Cell").nth(index).locator(".cm-content")
    editor.scroll_into_view_if_needed()
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)
    page.keyboard.press("Escape")  # back to command mode
    wait_for(
        page,
        "([nb, i, text]) => [...document.querySelectorAll(nb + ' .jp-Cell')[i].querySelectorAll('.cm-content .cm-line')]"
        ".map((line) => line.textContent).join('\\n') === text",
        arg=[NOTEBOOK, index, text],
        timeout_s=10,
        what=f"cell {index} to hold the typed source",
    )


def save_notebook(page: Any, timeout_s: float = 30.0) -> None:
    """Press Ctrl+S and wait until the notebook's tab no longer shows unsaved changes."""
    page.locator(f"{NOTEBOOK} .jp-Cell").first.locator(".jp-InputPrompt").click()  # focus the notebook
    page.keyboard.press("Control+s")
    wait_for(
        page,
        "() => !document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current.jp-mod-dirty')",
        timeout_s=timeout_s,
        what="the notebook to be saved (no unsaved-changes mark on its tab)",
    )


def add_cell_and_run(page: Any, text: str, timeout_s: float = 60.0) -> Cell:
    """Add a code cell at the end of the notebook, type ``text`` into it and run it (Shift+Enter); return it."""
    cells = page.locator(f"{NOTEBOOK} .jp-Cell")
    last = cells.count() - 1
    cells.nth(last).locator(".jp-InputPrompt, .jp-InputArea-prompt").first.click()  # select it (command mode)
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # insert a code cell below
    wait_for(page, "([nb, n]) => document.querySelectorAll(nb + ' .jp-Cell').length === n", arg=[NOTEBOOK, last + 2])
    set_cell_source(page, last + 1, text)
    run_cell(page, last + 1, timeout_s)
    return read_cells(page)[last + 1]
