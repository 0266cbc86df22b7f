"""Review store: a de-duplication key per stored question (issue 22 item 6).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

``question_key`` is sha256 (first 32 hex characters) of the question case-folded, white space collapsed and
trailing punctuation dropped; existing rows are filled in here with that rule, frozen in this file (a migration must
not change when the code does).
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _key(question: str) -> str:
    normal = " ".join(question.casefold().split()).rstrip(" ?.!")
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def upgrade() -> None:
    with op.batch_alter_table("review_articles") as batch:
        batch.add_column(sa.Column("question_key", sa.String(64), nullable=True))
    articles = sa.table("review_articles", sa.column("id", sa.String), sa.column("question", sa.Text),
                        sa.column("question_key", sa.String))
    bind = op.get_bind()
    rows = bind.execute(sa.select(articles.c.id, articles.c.question)).all()
    for row in rows:
        bind.execute(articles.update().where(articles.c.id == row.id).values(question_key=_key(row.question)))
    op.create_index("ix_review_articles_question_key", "review_articles", ["audience", "question_key"])


def downgrade() -> None:
    op.drop_index("ix_review_articles_question_key", table_name="review_articles")
    with op.batch_alter_table("review_articles") as batch:
        batch.drop_column("question_key")
