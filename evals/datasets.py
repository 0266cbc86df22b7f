"""Readers for the evaluation sets in ``../shared/data`` (and any other file of the same schema).

Every file is JSON Lines, gzip-compressed or not (decided by the magic bytes, not the name). Each record is
validated into a pydantic model; extra fields are ignored, so newer splits with more fields still load. A bad
record raises :class:`DatasetError` naming the file, the line and the problem.

>>> DEFAULT_FILES["medquad_questions"]
'medquad/questions_dev.jsonl.gz'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Iterator, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.fileio import numbered_jsonl

#: Files of each set, relative to the data directory.
DEFAULT_FILES: dict[str, str] = {
    "medquad_questions": "medquad/questions_dev.jsonl.gz",
    "medquad_passages": "medquad/corpus_passages.jsonl.gz",
    "liveqa": "liveqa-med-2017/test_questions_dev.jsonl",
    "bioasq_questions": "bioasq/questions_dev.jsonl.gz",
    "bioasq_snippets": "bioasq/snippets_corpus.jsonl.gz",
    "pubmedqa_questions": "pubmedqa/questions_dev.jsonl",
    "pubmedqa_contexts": "pubmedqa/contexts_corpus.jsonl",
    "medicationqa": "medicationqa/medicationqa_dev.jsonl",
    "clinician_qa": "clinician-qa/clinician_qa_dev.jsonl",
}
DATA_DIR_ENV = "MEDCITE_EVAL_DATA_DIR"


#: An optional text field: JSON null reads as "".
OptStr = Annotated[str, BeforeValidator(lambda v: "" if v is None else v)]
#: An optional list field: JSON null reads as [].
OptList = BeforeValidator(lambda v: [] if v is None else v)


class DatasetError(ValueError):
    """An evaluation file is missing, unreadable or has a record of the wrong schema."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class MedQuADQuery(_Record):
    query_id: str
    question: str
    qtype: OptStr = ""
    focus: OptStr = ""
    relevant_passage_ids: list[str] = Field(min_length=1)
    relevant_doc_ids: list[str] = Field(default_factory=list)


class MedQuADPassage(_Record):
    passage_id: str
    doc_id: str
    source: OptStr = ""
    url: OptStr = ""
    focus: OptStr = ""
    text: str


class LiveQAJudgment(_Record):
    passage_id: str
    grade: int
    label: OptStr = ""
    text_in_corpus: bool = True


class LiveQAReference(_Record):
    aid: OptStr = ""
    answer: str
    url: OptStr = ""


class LiveQAQuestion(_Record):
    qid: str
    subject: OptStr = ""
    message: str
    nist_paraphrase: OptStr = ""
    nlm_summary: OptStr = ""
    reference_answers: list[LiveQAReference] = Field(default_factory=list)
    medquad_judgments: list[LiveQAJudgment] = Field(default_factory=list)


class BioASQQuestion(_Record):
    id: str
    type: OptStr = ""
    body: str
    ideal_answer: list[str] = Field(default_factory=list)
    documents_pmids: list[str] = Field(default_factory=list)
    snippet_ids: list[str] = Field(default_factory=list)


class BioASQSnippet(_Record):
    snippet_id: str
    pmid: str
    section: OptStr = ""
    text: str


class PubMedQAQuestion(_Record):
    pubid: str
    question: str
    final_decision: OptStr = ""
    long_answer: OptStr = ""


class PubMedQAContext(_Record):
    pubid: str
    contexts: list[str]
    labels: list[str] = Field(default_factory=list)
    year: OptStr = ""


class MedicationQAItem(_Record):
    id: str
    question: str
    focus: OptStr = ""
    qtype: OptStr = ""
    answer: str
    url: OptStr = ""


def _nonblank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty")
    return value


class ClinicianTurn(_Record):
    question: str

    _q = field_validator("question")(_nonblank)


class ClinicianQuestion(_Record):
    """One clinician question (``clinician-qa``): a vignette, a direct question or a follow-up with its turns.

    >>> q = ClinicianQuestion(id="pdq-1", question="Next test?", gold_doc="docs/wilms-pdq.md",
    ...                       key_facts=[["CT", "computed tomography"]], style="vignette", in_corpus=True)
    >>> q.gold_doc_id, q.source
    ('wilms-pdq', 'pdq')
    """

    id: str
    question: str
    turns: Annotated[list[ClinicianTurn], OptList] = Field(
        default_factory=list, description="Earlier turns, oldest first (the question is then their follow-up).")
    gold_doc: str | None = Field(None, description="File name of the document that answers it; null out of corpus.")
    gold_section: OptStr = ""
    support: OptStr = ""
    key_facts: Annotated[list[list[str]], OptList] = Field(
        default_factory=list, description="Facts a correct answer states; each a list of acceptable spellings.")
    style: OptStr = ""
    in_corpus: bool

    _q = field_validator("question")(_nonblank)

    @field_validator("key_facts")
    @classmethod
    def _spellings(cls, facts: list[list[str]]) -> list[list[str]]:
        for i, fact in enumerate(facts):
            if not any(s.strip() for s in fact):
                raise ValueError(f"key fact {i} has no spelling")
        return [[s for s in fact if s.strip()] for fact in facts]

    @model_validator(mode="after")
    def _consistent(self) -> "ClinicianQuestion":
        if self.in_corpus and not (self.gold_doc or "").strip():
            raise ValueError("in_corpus is true but gold_doc is missing")
        if self.in_corpus and not self.key_facts:
            raise ValueError("in_corpus is true but key_facts is empty")
        if not self.in_corpus and self.gold_doc:
            raise ValueError("in_corpus is false but gold_doc is set")
        return self

    @property
    def gold_doc_id(self) -> str | None:
        """The gold document's id in the index: its file name without the extension."""
        return gold_doc_id(self.gold_doc) if self.gold_doc else None

    @property
    def source(self) -> str:
        """The id's prefix (``pdq``, ``ngc``, ``ooc``): which collection the question was written against."""
        return self.id.split("-", 1)[0] if "-" in self.id else ""


def gold_doc_id(file_name: str) -> str:
    """Document id of a corpus file: the base name without its (last) extension.

    >>> gold_doc_id("types-kidney-hp-wilms-treatment-pdq.md"), gold_doc_id("summaries/ngc-10997.xml")
    ('types-kidney-hp-wilms-treatment-pdq', 'ngc-10997')
    """
    name = file_name.strip().replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, _ext = name.rpartition(".")
    return stem if dot and stem else name


M = TypeVar("M", bound=BaseModel)


def default_data_dir() -> Path:
    """``$MEDCITE_EVAL_DATA_DIR`` or ``<repo>/../shared/data``."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def data_file(data_dir: Path, key: str) -> Path:
    """The default file ``key`` (see :data:`DEFAULT_FILES`) under ``data_dir``."""
    return Path(data_dir) / DEFAULT_FILES[key]


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSONL file, gzip or plain."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        yield from numbered_jsonl(path)
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    except ValueError as exc:  # a line that is not a JSON object (the message names file and line)
        raise DatasetError(str(exc)) from None


def load_records(path: Path, model: type[M], what: str, unique: str | None = None) -> list[M]:
    """Every record of ``path`` validated as ``model``; ``what`` names the schema in error messages.

    ``unique``: a field whose values must not repeat (a repeat is an error naming both lines).
    """
    out: list[M] = []
    first_line: dict[Any, int] = {}
    for number, record in iter_json_lines(path):
        try:
            item = model.model_validate(record)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "record"
            raise DatasetError(f"{path} line {number}: not a {what} record ({where}: {err['msg']})") from None
        if unique is not None:
            key = getattr(item, unique)
            if key in first_line:
                raise DatasetError(f"{path} line {number}: {unique} {key!r} already used on line {first_line[key]}")
            first_line[key] = number
        out.append(item)
    if not out:
        raise DatasetError(f"{path}: no {what} records")
    return out


def load_medquad_queries(path: Path) -> list[MedQuADQuery]:
    return load_records(path, MedQuADQuery, "MedQuAD question")


def load_medquad_passages(path: Path) -> list[MedQuADPassage]:
    return load_records(path, MedQuADPassage, "MedQuAD passage")


def load_liveqa(path: Path) -> list[LiveQAQuestion]:
    return load_records(path, LiveQAQuestion, "LiveQA question")


def load_bioasq_questions(path: Path) -> list[BioASQQuestion]:
    return load_records(path, BioASQQuestion, "BioASQ question")


def load_bioasq_snippets(path: Path) -> list[BioASQSnippet]:
    return load_records(path, BioASQSnippet, "BioASQ snippet")


def load_pubmedqa_questions(path: Path) -> list[PubMedQAQuestion]:
    return load_records(path, PubMedQAQuestion, "PubMedQA question")


def load_pubmedqa_contexts(path: Path) -> list[PubMedQAContext]:
    return load_records(path, PubMedQAContext, "PubMedQA context")


def load_medicationqa(path: Path) -> list[MedicationQAItem]:
    return load_records(path, MedicationQAItem, "MedicationQA")


def load_clinician_qa(path: Path) -> list[ClinicianQuestion]:
    """Clinician questions; ids must be unique (per-item rows are keyed by them)."""
    return load_records(path, ClinicianQuestion, "clinician question", unique="id")


#: Field that identifies each question schema in :func:`sniff_schema`.
_SIGNATURES = (
    ("medquad", "relevant_passage_ids"),
    ("liveqa", "medquad_judgments"),
    ("bioasq", "snippet_ids"),
    ("pubmedqa", "final_decision"),
    ("clinician", "key_facts"),
    ("medicationqa", "answer"),
)


def sniff_schema(path: Path) -> str:
    """Which question set a file follows, judged by its first record.

    Returns ``medquad``, ``liveqa``, ``bioasq``, ``pubmedqa``, ``clinician`` or ``medicationqa``.
    """
    for _, record in iter_json_lines(path):
        for name, key in _SIGNATURES:
            if key in record:
                return name
        raise DatasetError(
            f"{path}: unknown question schema (first record has fields {sorted(record)[:8]}); expected one of "
            + ", ".join(f"{n} (with '{k}')" for n, k in _SIGNATURES)
        )
    raise DatasetError(f"{path}: empty file")
