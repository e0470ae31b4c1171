"""`make bench`: run every benchmark module in this folder (`bench_*.py`), or the ones named.

Each module has `main() -> int` and prints a table of medians (and ratios to its peer or limit).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if not names:
        print("no benchmarks yet")
        return 0
    status = 0
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        module = importlib.import_module(f"bench.{name}")
        status |= module.main()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
