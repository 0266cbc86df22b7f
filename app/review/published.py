"""Approved articles: listing, matching a new question to one, re-review when cited passages change, retention.

An article is *served as approved* only while its status is ``approved``. :func:`recheck` (run after every index
change: upload, delete, reindex, new corpus) moves approved articles whose cited chunks changed or vanished to
``needs_re_review``; :func:`find_match` additionally refuses an approved article answered on another index
version unless all its cited chunks are unchanged, so a stale approval is never served between an index swap
and the recheck.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable, Sequence

import numpy as np
from sqlalchemy import delete, select

from app.review import convert
from app.review.content import cosine, decode_vector
from app.review.database import Store
from app.review.errors import ArticleNotFoundError, ConflictError, InvalidInputError
from app.review.models import Article, ArticleSummary
from app.review.tables import ArticleRow, EventRow, FeedbackRow
from app.review.transitions import apply_transition
from app.review.validation import checked_vector
from app.review.workflow import SYSTEM_REVIEWER, Status

log = logging.getLogger(__name__)
CurrentHashes = Callable[[list[str]], dict[str, str | None]]
_CHUNK = 500  # ids per IN (...) list


def approved(store: Store, audience: str | None, limit: int | None) -> list[ArticleSummary]:
    query = select(*convert.SUMMARY_COLUMNS).where(ArticleRow.status == Status.approved.value)
    if audience is not None:
        query = query.where(ArticleRow.audience == audience)
    query = query.order_by(ArticleRow.views.desc(), ArticleRow.updated_at.desc(), ArticleRow.id)
    if limit is not None:
        query = query.limit(limit)
    with store.session(write=False) as session:
        return [convert.summary(r) for r in session.execute(query)]


def approved_signature(store: Store, audience: str) -> tuple[tuple[str, int], ...]:
    """(id, version) of every approved article of ``audience`` with a question vector, by id: it changes whenever
    an article is approved or leaves ``approved``, so callers can cache what they derive from the approved set."""
    query = (select(ArticleRow.id, ArticleRow.version)
             .where(ArticleRow.status == Status.approved.value, ArticleRow.audience == audience,
                    ArticleRow.question_vector.is_not(None))
             .order_by(ArticleRow.id))
    with store.session(write=False) as session:
        return tuple((r.id, r.version) for r in session.execute(query))


def approved_questions(store: Store, audience: str) -> list[tuple[str, str, np.ndarray]]:
    """(id, question, unit vector) of every approved article of ``audience`` with a question vector, by id: the
    published questions related questions may offer."""
    query = (select(ArticleRow.id, ArticleRow.question, ArticleRow.question_vector)
             .where(ArticleRow.status == Status.approved.value, ArticleRow.audience == audience,
                    ArticleRow.question_vector.is_not(None))
             .order_by(ArticleRow.id))
    with store.session(write=False) as session:
        return [(r.id, r.question, decode_vector(r.question_vector)) for r in session.execute(query)]


def _ranked(store: Store, question_vector: Sequence[float] | np.ndarray, audience: str,
            min_similarity: float) -> list[tuple[str, float, str, dict[str, str]]]:
    """(id, cosine, index_version, cited) of approved articles of ``audience`` at or above ``min_similarity``,
    most similar first."""
    query = decode_vector(checked_vector(question_vector))
    rows = []
    with store.session(write=False) as session:
        for r in session.execute(
            select(ArticleRow.id, ArticleRow.question_vector, ArticleRow.index_version, ArticleRow.cited)
            .where(ArticleRow.status == Status.approved.value, ArticleRow.audience == audience,
                   ArticleRow.question_vector.is_not(None))
        ):
            vector = decode_vector(r.question_vector)
            if vector.shape != query.shape:  # another embedding model: never comparable
                continue
            similarity = cosine(vector, query)
            if similarity >= min_similarity:
                rows.append((r.id, similarity, r.index_version, dict(r.cited)))
    rows.sort(key=lambda t: (-t[1], t[0]))
    return rows


def similar(store: Store, question_vector: Sequence[float] | np.ndarray, audience: str, limit: int,
            min_similarity: float) -> list[tuple[ArticleSummary, float]]:
    ranked = _ranked(store, question_vector, audience, min_similarity)[:limit]
    if not ranked:
        return []
    scores = {article_id: score for article_id, score, _, _ in ranked}
    with store.session(write=False) as session:
        rows = session.execute(select(*convert.SUMMARY_COLUMNS).where(ArticleRow.id.in_(list(scores))))
        found = {r.id: convert.summary(r) for r in rows}
    return [(found[i], scores[i]) for i in scores if i in found]


def find_match(store: Store, question_vector: Sequence[float] | np.ndarray, audience: str, index_version: str,
               current_hashes: CurrentHashes, threshold: float,
               same_question: Callable[[str], bool] | None = None, key: str | None = None) -> Article | None:
    """The most similar approved article of the same audience with cosine >= ``threshold`` that was answered on
    ``index_version`` or whose cited chunks all still have their hashes (``current_hashes(ids)``: chunk id ->
    hash of its current text, None or absent when it is gone), and whose question ``same_question`` accepts (e.g.
    the same stage, risk group, histology, population, drugs and negation); None if there is none. An approved
    article whose ``question_key`` is ``key`` (the asked question's, :func:`~app.review.content.question_key`)
    comes first whatever its cosine: a lower-cased copy of a question is the same question."""
    ranked = _ranked(store, question_vector, audience, threshold)
    if key is not None:  # the same words (case, spacing, "?" aside) match whatever the cosine says
        with store.session(write=False) as session:
            same = [(r.id, 1.0, r.index_version, dict(r.cited)) for r in session.execute(
                select(ArticleRow.id, ArticleRow.index_version, ArticleRow.cited)
                .where(ArticleRow.status == Status.approved.value, ArticleRow.audience == audience,
                       ArticleRow.question_key == key).order_by(ArticleRow.id))]
        ranked = same + [r for r in ranked if r[0] not in {x[0] for x in same}]
    if not ranked:
        return None
    others = sorted({c for _, _, version, cited in ranked if version != index_version for c in cited})
    now = current_hashes(others) if others else {}
    for article_id, _, version, cited in ranked:
        if version == index_version or all(now.get(c) == h for c, h in cited.items()):
            with store.session(write=False) as session:
                row = session.get(ArticleRow, article_id)
                if row is not None and row.status == Status.approved.value and (  # still approved now
                        same_question is None or same_question(row.question)):
                    return convert.article(row)
    return None


def changed_chunks(cited: dict[str, str], now: dict[str, str | None]) -> tuple[list[str], list[str]]:
    """(changed, vanished) chunk ids of an article's ``cited`` hashes against the current ones.

    >>> changed_chunks({"a#0": "1" * 16, "b#0": "2" * 16, "c#0": "3" * 16}, {"a#0": "1" * 16, "b#0": "f" * 16})
    (['b#0'], ['c#0'])
    """
    changed = [c for c, h in cited.items() if now.get(c) is not None and now[c] != h]
    vanished = [c for c in cited if now.get(c) is None]
    return changed, vanished


def _note(changed: list[str], vanished: list[str]) -> str:
    parts = [f"{c} (changed)" for c in changed] + [f"{c} (vanished)" for c in vanished]
    shown = ", ".join(parts[:20]) + (f", and {len(parts) - 20} more" if len(parts) > 20 else "")
    return f"cited passages changed: {shown}"


def recheck(store: Store, current_hashes: CurrentHashes, clock: Callable[[], datetime]) -> list[str]:
    with store.session(write=False) as session:
        approved_rows = [(r.id, dict(r.cited)) for r in session.execute(
            select(ArticleRow.id, ArticleRow.cited).where(ArticleRow.status == Status.approved.value))]
    if not approved_rows:
        return []
    now = current_hashes(sorted({c for _, cited in approved_rows for c in cited}))
    moved: list[str] = []
    for article_id, cited in approved_rows:
        changed, vanished = changed_chunks(cited, now)
        if not changed and not vanished:
            continue
        try:
            with store.session(write=True) as session:
                row = session.get(ArticleRow, article_id)
                if row is None or row.status != Status.approved.value or dict(row.cited) != cited:
                    continue  # purged or moved by a reviewer meanwhile
                apply_transition(session, article_id, Status.approved, row.version, Status.needs_re_review,
                                 SYSTEM_REVIEWER, _note(changed, vanished), clock())
            moved.append(article_id)
        except (ConflictError, ArticleNotFoundError):
            log.info("re-review of %s skipped: a reviewer changed it at the same moment", article_id)
    return moved


def purge_expired(store: Store, retention_days: int | None, now: datetime) -> list[str]:
    """Delete ``submitted`` articles (no reviewer acted on them) last updated more than ``retention_days`` ago,
    with their history and feedback; returns their ids. Reviewed articles are kept."""
    if retention_days is None:
        return []
    if now.tzinfo is None:
        raise InvalidInputError("purge_expired needs an aware datetime (UTC)")
    cutoff = now - timedelta(days=retention_days)
    with store.session(write=True) as session:
        ids = list(session.scalars(select(ArticleRow.id).where(
            ArticleRow.status == Status.submitted.value, ArticleRow.updated_at < cutoff)))
        for start in range(0, len(ids), _CHUNK):
            part = ids[start:start + _CHUNK]
            session.execute(delete(FeedbackRow).where(FeedbackRow.article_id.in_(part)))
            session.execute(delete(EventRow).where(EventRow.article_id.in_(part)))
            session.execute(delete(ArticleRow).where(ArticleRow.id.in_(part)))
    return ids
