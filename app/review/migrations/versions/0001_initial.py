"""Review store: articles, review events, feedback.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

The status, kind and reason lists are frozen here on purpose (a migration must not change when the code does).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = "'submitted', 'under_review', 'approved', 'changes_requested', 'needs_re_review'"


def upgrade() -> None:
    op.create_table(
        "review_articles",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("index_version", sa.String(200), nullable=False),
        sa.Column("cited", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("question_vector", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_approved_by", sa.String(200), nullable=True),
        sa.Column("last_approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_review_articles_status"),
        sa.CheckConstraint("audience IN ('clinician', 'patient')", name="ck_review_articles_audience"),
    )
    op.create_index("ix_review_articles_status", "review_articles", ["status"])
    op.create_index("ix_review_articles_audience_status", "review_articles", ["audience", "status"])

    op.create_table(
        "review_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.String(32), sa.ForeignKey("review_articles.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(f"to_status IN ({STATUSES})", name="ck_review_events_to_status"),
    )
    op.create_index("ix_review_events_article", "review_events", ["article_id", "id"])

    op.create_table(
        "review_feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.String(32), sa.ForeignKey("review_articles.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("statement_index", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(16), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('helpful', 'not_helpful', 'report')", name="ck_review_feedback_kind"),
        sa.CheckConstraint("reason IS NULL OR reason IN ('wrong', 'outdated', 'unsupported')",
                           name="ck_review_feedback_reason"),
    )
    op.create_index("ix_review_feedback_article", "review_feedback", ["article_id", "kind"])


def downgrade() -> None:
    op.drop_table("review_feedback")
    op.drop_table("review_events")
    op.drop_table("review_articles")
