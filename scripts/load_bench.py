"""Loading an ingest's input files, with the PDFs in a second process and serially, in one run.

    python scripts/load_bench.py [--corpus corpus] [--rounds 2]

Times ``ingest.pipeline._load_documents`` (the "files" step of every build) both ways; prints documents,
failures and seconds per round.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ingest.prefetch as prefetch  # noqa: E402
from ingest.pipeline import _load_documents  # noqa: E402
from ingest.report import IngestReport  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("corpus"))
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    default = prefetch.MIN_PDF_BYTES
    for round_ in range(args.rounds):
        for mode, threshold in (("second process", default), ("serial", 1 << 62)):
            prefetch.MIN_PDF_BYTES = threshold
            report = IngestReport(index_dir="-")
            start = time.perf_counter()
            docs = _load_documents([args.corpus], report, False, lambda *a: None)
            print(f"round {round_ + 1} {mode}: {len(docs)} documents, {len(report.failures)} failures, "
                  f"{time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
