"""Cited sources recovered from an earlier answer's Markdown (chat front-ends send turns back as text only):
parsing, mapping to the small real index, and follow-ups that keep their topic without the structured field."""

from __future__ import annotations

import time

import pytest

from app.query.recovery import SourceFinder, parse_sources
from app.query.render import render_markdown
from app.query.schemas import AnswerRequest, Turn

SEED = ("What is the most appropriate next diagnostic test for a pediatric patient presenting with a left flank mass "
        "and ultrasound findings of a mass with internal calcification?")


def cited(answer) -> list[str]:
    return list(dict.fromkeys(c for ref in answer.references for c in (ref.chunk_ids or [ref.chunk_id])))


def openwebui_truncate(text: str) -> str:
    """What Open WebUI's follow-up prompt keeps of a message over 1,000 characters (first 498, '...', last 499)."""
    return text if len(text) <= 1000 else f"{text[:498]}...{text[-499:]}"


@pytest.fixture(scope="module")
def seed_answer(pipeline):
    answer = pipeline.answer(AnswerRequest(question=SEED))
    assert not answer.abstained and answer.references
    return answer


def test_parse_reads_references_links_and_the_statements_citing_them() -> None:
    md = "\n".join([
        '**Obtain a CT scan \\*with contrast\\*.** [[1]](https://x.example/w "Wilms \\"PDQ\\"")[[2]](https://y.example)',
        "",
        "1. Physical examination. [1]",
        "- A statement with a grade. [2] *(USPSTF grade A)*",
        "- Text without a citation.",
        "",
        "### References",
        "",
        "1. *Evidence summary* — **Wilms \\*PDQ\\***. NCI, 2025. § Diagnosis. <https://x.example/w>",
    ])
    one, two = parse_sources(md)
    assert (one.n, one.title, one.url) == (1, "Wilms *PDQ*", "https://x.example/w")  # the reference line wins
    assert one.statements == ("Obtain a CT scan *with contrast*.", "Physical examination.")
    assert (two.n, two.title, two.url, two.statements) == (2, "", "https://y.example", (
        "Obtain a CT scan *with contrast*.", "A statement with a grade."))
    assert "§ Diagnosis." in one.section_text and two.section_text == ""
    assert parse_sources("Just some text [1] with a number.") == []  # no reference, no link: nothing to map


@pytest.mark.parametrize("linked", [False, True])
def test_markdown_of_an_answer_maps_back_to_its_cited_chunks(pipeline, seed_answer, linked: bool) -> None:
    finder = SourceFinder(pipeline.index.store)
    recovered = finder.chunk_ids(render_markdown(seed_answer, link_citations=linked))
    store = pipeline.index.store
    assert seed_answer.bottom_line.chunk_id in recovered
    docs = {store.chunks[store.row_of(c)].doc_id for c in recovered}
    assert {ref.doc_id for ref in seed_answer.references} <= docs
    # anything else is a document of the same title (the sections of one patient page repeat sentences)
    assert {store.documents[d].title for d in docs} == {ref.title for ref in seed_answer.references}
    assert set(cited(seed_answer)) & set(recovered)


def test_a_truncated_linked_answer_still_names_its_bottom_lines_source(pipeline, seed_answer) -> None:
    finder = SourceFinder(pipeline.index.store)
    markdown = render_markdown(seed_answer, link_citations=True, related=False)
    truncated = openwebui_truncate(markdown)
    first_ref = seed_answer.references[0]
    recovered = finder.chunk_ids(truncated)
    assert recovered, truncated
    assert finder.topics(recovered)[0] == pipeline.index.store.documents[first_ref.doc_id].topic
    # without links, the truncated text loses the References: nothing to recover (links are what survive)
    plain = openwebui_truncate(render_markdown(seed_answer, related=False))
    if "### References" not in plain:
        assert finder.chunk_ids(plain) == []


def test_unknown_sources_and_foreign_text_recover_nothing(pipeline) -> None:
    finder = SourceFinder(pipeline.index.store)
    assert finder.chunk_ids("1. *Guideline* — **A Title No Index Has**. CDC, 2020. <https://nowhere.example/x>") == []
    assert finder.chunk_ids("Sure! Here is a poem about kidneys [1].") == []
    assert finder.topics(["no-such#0"]) == []


def test_follow_up_sent_as_text_only_resolves_like_the_structured_one(pipeline, seed_answer) -> None:
    markdown = render_markdown(seed_answer, link_citations=True)
    structured = pipeline.answer(AnswerRequest(question="How is it treated?", turns=[
        Turn(question=SEED, answer=markdown, cited_chunk_ids=cited(seed_answer))]))
    text_only = pipeline.answer(AnswerRequest(question="How is it treated?", turns=[
        Turn(question=SEED, answer=markdown)]))
    topic = pipeline.index.store.documents[seed_answer.references[0].doc_id].topic
    # the disease the first answer found is carried, whichever way the turn came back
    assert topic.split()[0] in text_only.resolved_question
    assert text_only.resolved_question == structured.resolved_question
    assert [r.doc_id for r in text_only.references] == [r.doc_id for r in structured.references]
    assert topic in {pipeline.index.store.documents[r.doc_id].topic for r in text_only.references}


@pytest.mark.parametrize("line", [" " * 19990 + "x", "[1]" * 6600 + "x", "x" + " " * 3990 + "[1]", ("[1]" * 1320) + "x",
                                  '[[1]](x "' * 440, "1. *T* — **" + "a*" * 1990, "*(" * 1990 + ")*"])
def test_hostile_answer_texts_parse_in_linear_time(line: str) -> None:
    """A client controls the text: a lazy-then-greedy statement regex took 9.4 s on 20,000 spaces and 3.2 s on
    6,000 '[1]' (now a right-to-left scan, and lines over 4,000 characters are skipped); bound generous for CI."""
    t = time.perf_counter()
    parse_sources("\n".join([line] * 5)[:20000])
    assert time.perf_counter() - t < 1.0


def test_an_answer_naming_many_sources_and_statements_is_bounded(pipeline, seed_answer) -> None:
    ref = seed_answer.references[0]
    refs = "\n".join(f"{n}. *Evidence summary* — **{ref.title}**. NCI. <{ref.url}>" for n in range(1, 60))
    lines = "\n".join(f"- A sentence found in no chunk, number {i} of many. " + "".join(f"[{n}]" for n in range(1, 60))
                      for i in range(60))
    text = (lines + "\n### References\n" + refs)[-20000:]
    t = time.perf_counter()
    recovered = SourceFinder(pipeline.index.store).chunk_ids(text)
    assert time.perf_counter() - t < 2.0
    assert 0 < len(recovered) <= 50


def test_crafted_statements_cost_a_bounded_number_of_chunk_comparisons(pipeline, seed_answer, monkeypatch) -> None:
    """Issue 22, item 2: ten references to the longest document, each cited by fragments whose longest word is in
    every chunk ("patients"), made recovery canonicalise every row for every fragment (seconds per request). Now
    one answer text compares at most MAX_ROW_CHECKS chunk texts, however many references and fragments it has."""
    import app.query.recovery as recovery

    store = pipeline.index.store
    doc = max(store.documents, key=lambda d: len(store.rows_of_document(d)))
    meta = store.documents[doc]
    refs = "\n".join(f"{n}. *Evidence summary* — **{meta.title}**. NCI. <{meta.url}>" for n in range(1, 11))
    lines = "\n".join(f"- Patients {'x' * 3} are seen {i} times by patients and patients. [{n}]"
                      for i in range(8) for n in range(1, 11))
    finder = SourceFinder(store)
    real = recovery.canonical

    def canonicalised(budget: int) -> int:
        calls = {"n": 0}

        def counting(text: str) -> str:
            calls["n"] += 1
            return real(text)

        monkeypatch.setattr(recovery, "canonical", counting)
        monkeypatch.setattr(recovery, "MAX_ROW_CHECKS", budget)
        finder.chunk_ids(lines + "\n### References\n" + refs)
        return calls["n"]

    fixed = canonicalised(0)  # titles, statements and fragments: no chunk text compared
    assert canonicalised(5) - fixed <= 5
    assert canonicalised(10**6) - fixed > 50  # without the bound the same text compares far more chunk texts
