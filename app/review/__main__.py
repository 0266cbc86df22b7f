"""``python -m app.review revision -m MESSAGE`` | ``python -m app.review upgrade [URL]`` | ``python -m app.review purge``:
the review schema commands and the retention purge (``review.retention_days``; the server also purges hourly).

This entry point reads the root settings (``app.settings``); the rest of the package never does.
"""

from __future__ import annotations

import sys

from alembic import command

from app.review.migrate import alembic_config, head_revision


def main(argv: list[str]) -> int:
    """``python -m app.review revision -m MESSAGE``, ``python -m app.review upgrade [URL]`` or ``... purge``."""
    if argv[:1] == ["revision"]:
        message = argv[argv.index("-m") + 1] if "-m" in argv else "change"
        command.revision(alembic_config(), message=message)
        return 0
    if argv[:1] == ["upgrade"]:
        from app.review.database import Store
        from app.settings import load_settings
        settings = load_settings()
        if len(argv) > 1:
            settings.review.database_url = argv[1]
        from app.review.errors import ReviewStoreError

        try:
            store = Store(settings.review, settings.paths.data_dir)
            store.engine()  # migrates on first use
        except ReviewStoreError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"review database {store.where} is at revision {head_revision()}")
        return 0
    if argv[:1] == ["purge"]:
        from app.review.errors import ReviewStoreError
        from app.review.service import ReviewService
        from app.settings import load_settings

        settings = load_settings()
        days = settings.review.retention_days
        if days is None:
            print("review.retention_days is not set (MEDCITE_REVIEW__RETENTION_DAYS): articles are kept; nothing deleted")
            return 0
        try:
            service = ReviewService(settings)
            deleted = service.purge_expired()
        except ReviewStoreError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"deleted {len(deleted)} article(s) nobody reviewed within {days} days, with their history and feedback")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
