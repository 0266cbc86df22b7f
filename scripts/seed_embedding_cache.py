"""Seed the persistent embedding cache with the sentence vectors of an existing index.

For an index built before the cache existed (or elsewhere): the next build of the same sentences, into any index
directory, then embeds only what is new. Prints how many vectors were added.

    python scripts/seed_embedding_cache.py --index var/index/old-corpus
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    from index.embedding import get_embedder
    from app.settings import load_settings
    from index.storage import open_index
    from ingest.embed import open_cache, seed_cache

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    args = parser.parse_args()
    settings = load_settings()
    embedder = get_embedder(settings.embedding)
    index = open_index(args.index, settings.index, expect_model=embedder.info)
    cache = open_cache(settings, embedder)
    print(f"added {seed_cache(cache, index)} sentence vectors; the cache holds {len(cache)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
