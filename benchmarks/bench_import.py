"""Import time: what ``import mtl_teach`` adds on top of ``import torch``.

Each sample is a fresh interpreter that imports torch, then times
``import mtl_teach`` alone, and lists the heavy libraries that mtl_teach
(not torch: torch itself pulls in tqdm) newly loaded. Target: <= 0.3 s
(Snorkel 0.10: +1.1 s), and no matplotlib, pandas, scikit-learn or scipy.

Run: python benchmarks/bench_import.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

TARGET = 0.3
HEAVY = ("matplotlib", "pandas", "sklearn", "scipy", "tqdm", "IPython")
PROBE = f"""
import json, sys, time
t0 = time.perf_counter(); import torch; t1 = time.perf_counter()
before = set(sys.modules)
t2 = time.perf_counter(); import mtl_teach; t3 = time.perf_counter()
new = sorted({{m.split('.')[0] for m in set(sys.modules) - before}} & set({HEAVY!r}))
print(json.dumps({{"torch": t1 - t0, "kit": t3 - t2, "heavy": new}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    samples = []
    for _ in range(args.repeats + 1):
        out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True, text=True).stdout
        samples.append(json.loads(out))
    samples = samples[1:]  # the first one warms the file cache
    torch_s = statistics.median(s["torch"] for s in samples)
    kit_s = statistics.median(s["kit"] for s in samples)
    heavy = sorted({m for s in samples for m in s["heavy"]})
    print(f"import torch                  {torch_s:6.3f} s (median of {args.repeats} fresh interpreters)")
    print(f"import mtl_teach, after torch {kit_s:6.3f} s  (target <= {TARGET}; Snorkel 0.10: +1.1 s)")
    print(f"ratio kit / torch             {kit_s / torch_s:6.3f}")
    print(f"heavy modules newly loaded by mtl_teach: {heavy or 'none'}")
    print("PASS" if kit_s <= TARGET and not heavy else "FAIL")


if __name__ == "__main__":
    main()
