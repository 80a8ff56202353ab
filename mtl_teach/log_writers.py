"""Where the Trainer writes its per-epoch metrics: a JSON file, or TensorBoard."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

LOG_WRITERS = ("json", "tensorboard")


def tensorboard_available() -> bool:
    """True when ``torch.utils.tensorboard`` can be used (the package is installed)."""
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


class JsonWriter:
    """Write ``{"config": ..., "epochs": [{metric: value}, ...]}`` to ``log_dir/run_name.json``.

    The file is rewritten after every epoch, so it is complete even if
    training is interrupted. An existing log is never overwritten: a second
    run with the same name writes ``run_name_1.json`` and so on.
    """

    def __init__(self, log_dir: str | Path, run_name: str, config: dict[str, Any]) -> None:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(log_dir) / f"{run_name}.json"
        suffix = 0
        while self.path.exists():
            suffix += 1
            self.path = Path(log_dir) / f"{run_name}_{suffix}.json"
        self._log: dict[str, Any] = {"config": config, "epochs": []}

    def write(self, epoch: int, metrics: dict[str, float]) -> None:
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}
        self._log["epochs"].append({"epoch": epoch, **clean})
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self._log, indent=2))
        tmp.replace(self.path)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"JsonWriter(path={str(self.path)!r})"


class TensorBoardWriter:
    """Write scalars to a TensorBoard event file under ``log_dir/run_name``."""

    def __init__(self, log_dir: str | Path, run_name: str, config: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.path = Path(log_dir) / run_name
        self._writer = SummaryWriter(log_dir=str(self.path))
        self._writer.add_text("config", json.dumps(config, indent=2))

    def write(self, epoch: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self._writer.add_scalar(key, value, epoch)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __repr__(self) -> str:
        return f"TensorBoardWriter(path={str(self.path)!r})"
