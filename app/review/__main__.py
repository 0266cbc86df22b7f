"""``python -m app.review revision -m MESSAGE`` | ``python -m app.review upgrade [URL]`` (see app.review.migrate)."""

import sys

from app.review.migrate import main

sys.exit(main(sys.argv[1:]))
