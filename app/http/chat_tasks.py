"""Background requests of chat front-ends: chat titles, tags, follow-up suggestions, search queries, autocomplete.

Front-ends such as Open WebUI send these through the same ``/v1/chat/completions`` route, as one user message
holding an instruction ("### Task: Generate a concise, 3-5 word title ...") and the chat history
(``<chat_history>USER: ...\\nASSISTANT: ...</chat_history>``). A medical answer to such a prompt is useless, so
they get short replies built from the conversation instead: a title from the first question's words, tags, the
related questions of the last answer, no web-search queries, no autocompletion. The reply is JSON when the prompt
asks for JSON (``{"title": ...}``), plain text otherwise.

>>> task = detect_task([("user", "Generate a concise, 3-5 word title for the chat history.\\n"
...                              "USER: How is Wilms tumor diagnosed?")])
>>> task.kind, task.history
('title', [('user', 'How is Wilms tumor diagnosed?')])
>>> reply_to_task(task)
'Wilms Tumor Diagnosed'
"""

from __future__ import annotations

import json
import re
from typing import Callable, Literal, NamedTuple

from index.lexical import STOP_WORDS

TaskKind = Literal["title", "tags", "follow_ups", "queries", "autocomplete"]
#: (role, text) of one message, oldest first.
Message = tuple[str, str]

#: Instruction wording of the well-known background prompts (Open WebUI, LibreChat and similar), per kind.
#: Checked in this order; only the instruction part of the prompt (before the chat history) is searched.
_PATTERNS: tuple[tuple[TaskKind, re.Pattern[str]], ...] = (
    ("autocomplete", re.compile(r"you are an autocompletion system", re.I)),
    ("follow_ups", re.compile(r"suggest \d-\d relevant follow-up|\"follow_ups\"\s*:", re.I)),
    ("queries", re.compile(r"necessity of generating search queries|\"queries\"\s*:", re.I)),
    ("tags", re.compile(r"generate \d-\d broad tags|\"tags\"\s*:", re.I)),
    ("title", re.compile(r"\d-\d[- ]word (?:title|phrase)|\btitle for (?:the|this) (?:chat|conversation|query)"
                         r"|\"title\"\s*:", re.I)),
)
#: History delimiters, found with literal searches: a prompt of many openers and no closer stays linear.
_HISTORY_OPEN = re.compile(re.escape("<chat_history>"), re.I)
_HISTORY_CLOSE = re.compile(re.escape("</chat_history>"), re.I)
_TURN = re.compile(r"^(USER|ASSISTANT):[ \t]?", re.M)
#: Only this much of a prompt's instruction part is searched for the task wording (real ones are < 2 KB).
MAX_INSTRUCTION_CHARS = 8000
#: History messages kept (the first and last ones) and characters kept of each.
MAX_HISTORY_MESSAGES = 40
MAX_HISTORY_MESSAGE_CHARS = 20000
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['-][A-Za-z0-9]+)*")
_RELATED = re.compile(r"^#+\s*Related questions\s*$(.*?)(?:^#+\s|^---\s*$|\Z)", re.M | re.S | re.I)
#: Question filler that makes poor title words, on top of the stop words.
_FILLER = frozenset("""what which whom whose how why when where whether please tell explain describe give list
appropriate next best most likely usually typically commonly presenting presents present findings finding patient
patients person people someone thing things kind way ways can could would should may might must need needs
know known mean means really also left right""".split())
TITLE_WORDS = 5
MAX_SUGGESTIONS = 5
#: Suggestions found in the history below this many are topped up from the pipeline (a truncated history may keep
#: only the tail of the Related questions).
MIN_SUGGESTIONS = 3
#: Built-in tools Open WebUI (0.6-0.12) offers with every chat request; two of them identify it.
OPEN_WEBUI_TOOLS = frozenset({"search_chats", "view_chat", "search_notes", "view_note", "search_memories",
                              "query_knowledge_files", "view_knowledge_file", "search_knowledge_bases"})


class BackgroundTask(NamedTuple):
    """A recognised background request: what is asked, whether as JSON, and the conversation it is about."""

    kind: TaskKind
    json_reply: bool
    history: list[Message]


def detect_task(messages: list[Message]) -> BackgroundTask | None:
    """Recognise a background prompt in the last user message; None for an ordinary question.

    Linear in the prompt's length whatever it holds (literal searches, bounded instruction part).
    """
    users = [i for i, (role, _) in enumerate(messages) if role == "user"]
    if not users:
        return None
    prompt = messages[users[-1]][1]
    instruction, history_text = _split_prompt(prompt)
    instruction = instruction[:MAX_INSTRUCTION_CHARS]
    for kind, pattern in _PATTERNS:
        if pattern.search(instruction):
            history = _parse_history(history_text) if history_text else []
            if not history:  # front-ends that send the conversation as messages, then the instruction
                history = [m for m in messages[: users[-1]] if m[0] in ("user", "assistant")]
            return BackgroundTask(kind, "json" in instruction.lower(), _bounded(history))
    return None


def _split_prompt(prompt: str) -> tuple[str, str]:
    """(instruction, history text): the history is inside ``<chat_history>`` (to its close, or to the end), else it
    starts at the first ``USER:``/``ASSISTANT:`` line; no history -> the whole prompt is the instruction.

    >>> _split_prompt("Title this.\\n<chat_history>USER: hi</chat_history> thanks")
    ('Title this.\\n', 'USER: hi')
    >>> _split_prompt("x" + "<chat_history>" * 3)
    ('x', '<chat_history><chat_history>')
    """
    opened = _HISTORY_OPEN.search(prompt)
    if opened:
        closed = _HISTORY_CLOSE.search(prompt, opened.end())
        return prompt[: opened.start()], prompt[opened.end(): closed.start() if closed else len(prompt)]
    turn = _TURN.search(prompt)
    return (prompt[: turn.start()], prompt[turn.start():]) if turn else (prompt, "")


def _parse_history(text: str) -> list[Message]:
    """``USER: ...`` / ``ASSISTANT: ...`` blocks (multi-line contents kept) as (role, text) pairs."""
    marks = list(_TURN.finditer(text))
    out: list[Message] = []
    for mark, nxt in zip(marks, marks[1:] + [None]):
        body = text[mark.end(): nxt.start() if nxt else len(text)].strip()
        out.append((mark.group(1).lower(), body))
    return out


def _bounded(history: list[Message]) -> list[Message]:
    """The first and last messages (at most MAX_HISTORY_MESSAGES), each cut to MAX_HISTORY_MESSAGE_CHARS."""
    if len(history) > MAX_HISTORY_MESSAGES:
        half = MAX_HISTORY_MESSAGES // 2
        history = history[:half] + history[-half:]
    return [(role, text[:MAX_HISTORY_MESSAGE_CHARS]) for role, text in history]


def suggests_follow_ups(tool_names: list[str], headers: dict[str, str] | None = None) -> bool:
    """Whether the client makes its own follow-up suggestions (Open WebUI: by its built-in tools, or the user-info
    headers it can forward); then the answer's Related questions would show twice.

    >>> suggests_follow_ups(["get_current_timestamp", "search_chats", "view_note"])
    True
    >>> suggests_follow_ups([], {"x-openwebui-user-id": "u1"}), suggests_follow_ups(["lookup"])
    (True, False)
    """
    if len(OPEN_WEBUI_TOOLS.intersection(tool_names)) >= 2:
        return True
    return any(name.lower().startswith("x-openwebui-") for name in (headers or {}))


def title_words(question: str, weigh: Callable[[str], dict[str, float]] | None = None,
                limit: int = TITLE_WORDS) -> list[str]:
    """The question's content words in order; with ``weigh`` (word -> weight) the ``limit`` heaviest are kept.

    >>> title_words("What is the most appropriate next test for a child with a flank mass?")
    ['test', 'child', 'flank', 'mass']
    """
    words = [w for w in dict.fromkeys(_WORD.findall(question)) if w.lower() not in STOP_WORDS | _FILLER]
    if weigh is not None and len(words) > limit:
        weights = weigh(" ".join(words))
        keep = set(sorted(words, key=lambda w: -weights.get(w.lower(), 0.0))[:limit])
        words = [w for w in words if w in keep]
    return words[:limit]


def make_title(question: str, weigh: Callable[[str], dict[str, float]] | None = None) -> str:
    """Title-cased content words of the question, e.g. ``Wilms Tumor Diagnosed``; "New chat" when none."""
    words = title_words(question, weigh)
    return " ".join(w if w.isupper() else w[:1].upper() + w[1:] for w in words) or "New chat"


def related_from_history(history: list[Message]) -> list[str]:
    """The "Related questions" bullets of the last assistant answer in the history (medcite's Markdown)."""
    for role, text in reversed(history):
        if role == "assistant":
            found = _RELATED.search(text)
            if found:
                return [ln.strip()[2:].strip() for ln in found.group(1).splitlines() if ln.strip().startswith("- ")]
            return []
    return []


def reply_to_task(task: BackgroundTask, related: Callable[[str, list[Message]], list[str]] | None = None,
                  weigh: Callable[[str], dict[str, float]] | None = None,
                  topics: Callable[[list[Message]], list[str]] | None = None) -> str:
    """The reply text: JSON like ``{"title": "..."}`` when asked for JSON, else plain text.

    ``related(question, history)`` supplies follow-up suggestions when the history carries fewer than
    :data:`MIN_SUGGESTIONS` (e.g. by answering the last question in its conversation); ``weigh`` ranks title words
    (e.g. by IDF in the index); ``topics(history)`` names the topics of the sources the answers cited (a tag).
    """
    questions = [text for role, text in task.history if role == "user" and text]
    first, last = (questions[0], questions[-1]) if questions else ("", "")
    value: object
    if task.kind == "title":
        value = make_title(first, weigh)
    elif task.kind == "tags":
        words = title_words(" ".join(questions), weigh, limit=2)
        found = (topics(task.history) if topics is not None else [])[:1]
        tags = ["Health", *found, *(w[:1].upper() + w[1:] for w in words)]
        value = [t for i, t in enumerate(tags) if t.lower() not in {u.lower() for u in tags[:i]}]
    elif task.kind == "follow_ups":
        value = related_from_history(task.history)
        if len(value) < MIN_SUGGESTIONS and last and related is not None:
            value += [q for q in related(last, task.history) if q not in value]
        value = value[:MAX_SUGGESTIONS]
    elif task.kind == "queries":
        value = []  # medcite answers from its own index: no web search wanted
    else:
        value = ""
    if task.json_reply:
        key = {"autocomplete": "text"}.get(task.kind, task.kind)
        return json.dumps({key: value}, ensure_ascii=False)
    return "\n".join(value) if task.kind == "follow_ups" else ", ".join(value) if isinstance(value, list) else value
