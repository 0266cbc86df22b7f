"""CPU cost of recovering the cited sources of one crafted assistant turn (issue 22, item 2), in process.

    python scripts/recovery_cost.py --index var/index/default

The turn is :func:`abuse_bench.crafted_turn` against the index's longest document (ten references, statements
whose longest word is in nearly every chunk); prints the mean CPU milliseconds of ``SourceFinder.chunk_ids`` over
``--repeat`` runs. Run it from an older checkout (``--src``-style: its own ``scripts/``) to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    from abuse_bench import crafted_turn
    from app.query.recovery import SourceFinder
    from app.settings import load_settings
    from index.storage import open_index

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "var" / "index" / "default")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    store = open_index(args.index, load_settings().index).store
    counts: dict[str, int] = {}
    for chunk in store.chunks:
        counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
    doc = max(counts, key=counts.get)
    meta = store.documents[doc]
    finder = SourceFinder(store)
    turn = crafted_turn(meta.title, meta.url)
    finder.chunk_ids(turn)  # warm
    t = time.process_time()
    for _ in range(args.repeat):
        finder.chunk_ids(turn)
    ms = (time.process_time() - t) / args.repeat * 1000
    print(json.dumps({"document": doc, "chunks": counts[doc], "turn_chars": len(turn), "cpu_ms": round(ms, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
