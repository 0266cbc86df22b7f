"""What an index swap costs in memory (issue 19 item 3): RSS and private (USS-like) memory of a process after loading
the served index once, and after loading it a second time beside the first (the moment of a swap, when both
versions are held), with the FAISS index memory-mapped (``index.mmap_vectors``, the default) and read into memory.

    python scripts/swap_memory.py --index var/index/default

Each mode runs in its own child process. Prints one JSON object; MB from /proc/self/smaps_rollup.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def memory_mb() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value) / 1024
    return {"rss": round(fields["Rss"], 1), "private": round(fields["Private_Clean"] + fields["Private_Dirty"], 1),
            "anonymous": round(fields["Anonymous"], 1), "file_backed": round(fields["Rss"] - fields["Anonymous"], 1)}


def one(index_dir: Path, mmap: bool) -> dict:
    sys.path.insert(0, str(REPO))
    import numpy as np

    from index.settings import IndexSettings
    from index.storage import open_index

    settings = IndexSettings(mmap_vectors=mmap)
    start = memory_mb()
    first = open_index(index_dir, settings)
    query = np.ones((1, first.vectors.dimension), "float32")
    first.vectors.search(query, 10)  # a search touches every vector of a flat index
    gc.collect()
    once = memory_mb()
    second = open_index(index_dir, settings)
    second.vectors.search(query, 10)
    gc.collect()
    twice = memory_mb()
    return {"mmap_vectors": mmap, "chunks": len(first.store), "start": start, "one_index": once,
            "two_indexes": twice, "swap_extra_rss_mb": round(twice["rss"] - once["rss"], 1),
            "swap_extra_private_mb": round(twice["private"] - once["private"], 1),
            "swap_extra_anonymous_mb": round(twice["anonymous"] - once["anonymous"], 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/swap_memory.py", description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "var" / "index" / "default")
    parser.add_argument("--one", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.index, args.one == "on")))
        return 0
    rows = []
    for mode in ("on", "off"):
        done = subprocess.run([sys.executable, __file__, "--index", str(args.index), "--one", mode],
                              capture_output=True, text=True, timeout=1800)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else
                    {"mmap_vectors": mode == "on", "error": done.stderr.strip().splitlines()[-3:]})
    print(json.dumps({"index": str(args.index), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
