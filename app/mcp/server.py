"""The MCP tools: ``answer``, ``search`` and ``get_document``, each returning structured content (the same JSON as the
HTTP API: ``Answer``, ``SearchResponse``, a document view) plus readable text (the answer's Markdown with its
numbered citations and references; a ranked passage list; the document's sections).

Every call runs the served :class:`AnswerPipeline` (taken from ``source()`` at each call, so an index swap takes
effect at once) with the pipeline's own request limits (``LimitSettings``). Nothing here logs tool arguments, and
the SDK's own loggers are held at WARNING, so question text reaches no log.

>>> import asyncio
>>> [tool.name for tool in asyncio.run(build_server(lambda: None).list_tools())]
['answer', 'search', 'get_document']
"""

import logging
from contextlib import contextmanager
from typing import Annotated, Any, Callable, Iterator, Literal

from pydantic import Field, ValidationError

from app.mcp import INSTALL_HINT
from app.query.documents import DocumentView, document_view
from app.query.errors import RequestError
from app.query.pipeline import AnswerPipeline
from app.query.render import render_markdown
from app.query.schemas import Answer, AnswerRequest, RetrieverName, SearchRequest, SearchResponse, Turn
from core.contracts import MAX_QUESTION_CHARS, MAX_TURNS

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import CallToolResult, TextContent, ToolAnnotations
except ImportError as exc:  # the optional extra is not installed
    raise ImportError(INSTALL_HINT) from exc

#: Returns the served pipeline, or raises :class:`ToolError` saying why there is none (loading, failed load).
PipelineSource = Callable[[], AnswerPipeline]
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
INSTRUCTIONS = (
    "medcite answers clinical questions from an offline index of medical guidelines and patient information. "
    "Use `answer` for a cited answer (bottom line, sections of source sentences with [n] citations, numbered "
    "references, disclaimer; it abstains when the sources do not cover the question), `search` for ranked "
    "passages, `get_document` to read a cited source (doc_id from a reference or passage). Quote citations as "
    "given; every statement is a sentence of the cited source."
)
SDK_LOGGERS = ("mcp", "mcp_types", "sse_starlette")


def not_ready(reason: str | None) -> ToolError:
    return ToolError(reason or "medcite is still loading its index and model; retry in a few seconds")


def _invalid(exc: ValidationError) -> ToolError:
    """A validation error named by field and problem, without echoing the (possibly patient) input."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "arguments"
    return ToolError(f"invalid {where}: {first['msg']}")


def _text(body: str) -> list[TextContent]:
    return [TextContent(type="text", text=body)]


def search_text(response: SearchResponse) -> str:
    lines = [f"{len(response.passages)} passages for the query ({response.retriever} retrieval):"]
    for p in response.passages:
        source = ", ".join(x for x in (p.issuer, str(p.year) if p.year else "") if x)
        lines.append(f"{p.rank}. {p.title}" + (f" ({source})" if source else "") + f" -- doc_id {p.doc_id}, "
                     f"chunk {p.chunk_id}, score {p.score:.3f}")
        snippet = " ".join(p.text.split())
        lines.append("   " + (snippet[:400] + " …" if len(snippet) > 400 else snippet))
    return "\n".join(lines)


def document_text(view: DocumentView) -> str:
    meta = ", ".join(x for x in (view.issuer, str(view.year) if view.year else "", view.type.value, view.url) if x)
    lines = [f"# {view.title}", meta, f"sections {view.offset + 1}-{view.offset + len(view.sections)} of "
             f"{view.total_sections}", ""]
    for section in view.sections:
        if section.heading:
            lines.append(f"## {section.heading}")
        lines += [section.text, ""]
    return "\n".join(lines).strip()


@contextmanager
def _root_logging_kept() -> Iterator[None]:
    """The SDK configures the root logger when a server is built; keep the process's logging as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        for name in SDK_LOGGERS:  # their INFO/DEBUG lines may quote requests
            logging.getLogger(name).setLevel(logging.WARNING)


def build_server(source: PipelineSource, lifespan: Any = None) -> "MCPServer":
    """The MCP server with medcite's three tools over the pipeline ``source()`` returns at each call."""
    with _root_logging_kept():
        server = MCPServer("medcite", title="medcite", version="0.1.0", instructions=INSTRUCTIONS,
                           log_level="WARNING", lifespan=lifespan)

    @server.tool(name="answer", title="Cited answer", annotations=READ_ONLY, description=(
        "Answer a clinical question from the indexed guidelines: a bottom line and sections of source sentences, "
        "each with [n] citations into the numbered references (title, issuer, year, link, page), related "
        "questions and the disclaimer. Pass earlier turns (oldest first) for a follow-up. Abstains, naming the "
        "nearest covered topics, when the sources do not cover the question."))
    def answer(
        question: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                                       description="The question (1-2,000 characters).")],
        audience: Annotated[Literal["clinician", "patient"], Field(
            description="'clinician' prefers guidelines and evidence summaries, 'patient' patient information.")]
        = "clinician",
        turns: Annotated[list[Turn], Field(max_length=MAX_TURNS, description="Earlier turns of the conversation, "
                                           "oldest first: question, the answer's text, its cited chunk ids.")]
        = [],  # noqa: B006 -- the SDK copies validated arguments; never mutated
    ) -> Annotated[CallToolResult, Answer]:
        pipe = source()
        try:
            request = AnswerRequest(question=question, audience=audience, turns=turns)
            result = pipe.answer(request)
        except ValidationError as exc:
            raise _invalid(exc) from None
        except RequestError as exc:
            raise ToolError(str(exc)) from None
        return CallToolResult(content=_text(render_markdown(result)), structured_content=result.model_dump(mode="json"))

    @server.tool(name="search", title="Search passages", annotations=READ_ONLY, description=(
        "Ranked passages of the index for a query, with their source metadata (title, issuer, year, URL, pages, "
        "section) and scores. retriever: hybrid (BM25 + dense, the default), bm25, dense, or hybrid+rerank."))
    def search(
        query: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="Search text.")],
        k: Annotated[int, Field(ge=1, le=100, description="Passages returned.")] = 10,
        retriever: Annotated[RetrieverName, Field(description="Which ranking to use.")] = "hybrid",
    ) -> Annotated[CallToolResult, SearchResponse]:
        pipe = source()
        try:
            result = pipe.search(SearchRequest(query=query, top_k=k, retriever=retriever))
        except ValidationError as exc:
            raise _invalid(exc) from None
        except RequestError as exc:  # e.g. a retriever this deployment does not configure
            raise ToolError(str(exc)) from None
        return CallToolResult(content=_text(search_text(result)), structured_content=result.model_dump(mode="json"))

    @server.tool(name="get_document", title="Read a source document", annotations=READ_ONLY, description=(
        "One indexed document by doc_id (from a reference or a passage): its metadata and its text section by "
        "section, each section with the chunk ids that answers cite. Long documents come in pages of sections "
        "(offset, limit; total_sections says how many there are)."))
    def get_document(
        doc_id: Annotated[str, Field(min_length=1, max_length=300, description="The document id.")],
        offset: Annotated[int, Field(ge=0, description="First section returned.")] = 0,
        limit: Annotated[int, Field(ge=1, le=200, description="Sections returned.")] = 50,
    ) -> Annotated[CallToolResult, DocumentView]:
        pipe = source()
        try:
            view = document_view(pipe.index.store, doc_id, offset=offset, limit=limit)
        except KeyError:
            raise ToolError(f"no document with id {doc_id[:200]!r} in the index; ids come from a reference's "
                            "or a passage's doc_id") from None
        return CallToolResult(content=_text(document_text(view)), structured_content=view.model_dump(mode="json"))

    return server
