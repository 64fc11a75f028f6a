"""Run ``harness run`` exactly as a rank does and write what it loaded: the module names, and
the bytes of the files behind them (compiled ``.pyc`` for Python modules, the shared object for
extensions). Used by ``tests/cli/test_rank_imports.py``: ``python rank_modules.py OUT ARGS...``."""

import atexit
import importlib.util
import json
import os
import sys


def footprint() -> dict:
    files = set()
    for module in list(sys.modules.values()):
        origin = getattr(module, "__file__", None)
        if not origin:
            continue
        if origin.endswith(".py"):
            cached = importlib.util.cache_from_source(origin)
            origin = cached if os.path.exists(cached) else origin
        files.add(origin)
    return {"modules": sorted(sys.modules), "files": len(files),
            "bytes": sum(os.path.getsize(f) for f in files if os.path.exists(f))}


def dump() -> None:
    with open(sys.argv[1], "w") as fh:
        json.dump(footprint(), fh)


if __name__ == "__main__":
    atexit.register(dump)
    from harness.cli import main

    main(sys.argv[2:])
