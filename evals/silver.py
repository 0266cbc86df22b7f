"""Silver clinician questions, generated deterministically from the PDQ and NGC texts of the index.

One question per section whose heading says what kind of answer it holds (treatment, diagnosis, staging, prognosis,
presentation, risk, screening, incidence, a USPSTF or VA/DoD recommendation): the heading and the document's topic
become the question ("How is stage I Wilms Tumor treated?", "What does the USPSTF recommend on screening for
syphilis infection, and at what grade?"); the section's first sentence that states a checkable fact is the answer
key (``support``), and its facts -- drugs (any synonym), numbers with units, tests and modalities, grades -- are
the ``key_facts`` (at most three; a grade is always kept). Items use the clinician-qa schema, so ``medcite eval clinician --data FILE`` scores them.

>>> facts_of("Give vincristine 1.5 mg/m2 weekly; 5-year survival is 93% (A recommendation).", lambda s: ["vincristine"])
[['vincristine'], ['1.5 mg/m2'], ['A recommendation', 'grade A']]
>>> question_for(["Wilms Tumor", "Treatment of Stage I Wilms Tumor"], "Wilms Tumor", 0)
'How is stage I Wilms Tumor treated?'
>>> question_for(["Wilms Tumor", "Treatment of Wilms Tumor", "Chemotherapy"], "Wilms Tumor", 0)
'What is the role of chemotherapy in Wilms Tumor?'
"""

from __future__ import annotations

import hashlib
import re
from typing import Callable, Iterable, Iterator

from app.query.intents import answers_intent, modalities, question_intent
from index.store import ChunkStore

_SKIP = re.compile(r"changes to this summary|about this pdq|references|rating scheme|definitions|grades? mean|"
                   r"levels? of certainty|methods?|outcomes considered|objective|disclaimer|copyright|funding|"
                   r"availability|financial|companion|identifying information|implementation|qualifying", re.I)
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((k, re.compile(p, re.I)) for k, p in (
    ("late", r"late effects"),
    ("treatment", r"treatment|therap|management|recurrent|progressive|refractory"),
    ("diagnosis", r"diagnos|evaluation|work-?up|detection"),
    ("staging", r"\bstag"),
    ("prognosis", r"prognos|survival|outcomes?\b"),
    ("presentation", r"clinical (?:features|presentation)|signs|symptoms|presentation"),
    ("risk", r"risk factors?|etiology|causes|predispos"),
    ("screening", r"screen|surveillance"),
    ("incidence", r"incidence|epidemiology|prevalence"),
    ("recommendation", r"recommendations?\b"),
    ("pathology", r"histolog|patholog|classification|subtypes?"),
    ("molecular", r"molecular|genomic|genetic|\bgenes?\b"),
    ("prevention", r"prevention|chemoprevention|risk reduction|protective"),
    ("followup", r"follow-?up|posttreatment|after treatment"),
))
_MODALITY_HEADING = re.compile(r"^(?:surgery|chemotherapy|radiation therapy|radiotherapy|immunotherapy|targeted "
                               r"therapy|hormone therapy|stem cell transplant\w*|observation|active surveillance|"
                               r"[\w\s-]{0,30}(?:inhibitors?|therapy))$", re.I)
_SUBJECT = re.compile(r"^(?:standard |initial |first-line )?(?:treatment|therapy|management|diagnosis|evaluation|"
                      r"staging|prognosis|screening|incidence|clinical features|risk factors)(?: option)?"
                      r"(?: overview)?s? (?:of|for|in|with) (.+)$", re.I)
_TEMPLATES = {
    "treatment": ("How is {s} treated?", "What is the recommended treatment for {s}?",
                  "What are the treatment options for {s}?"),
    "late": ("What late effects follow treatment for {s}?",),
    "diagnosis": ("How is {s} diagnosed?", "What is the diagnostic evaluation for {s}?"),
    "staging": ("How is {s} staged?", "What staging evaluation is done for {s}?"),
    "prognosis": ("What is the prognosis of {s}?", "Which factors affect outcome in {s}?"),
    "presentation": ("How does {s} present?", "What are the clinical features of {s}?"),
    "risk": ("What are the risk factors for {s}?",),
    "screening": ("Is screening recommended for {s}, and how?", "What surveillance is recommended for {s}?"),
    "incidence": ("How common is {s}?",),
    "recommendation": ("What is recommended for {s}?",),
    "pathology": ("What are the histologic features of {s}?", "How is {s} classified?"),
    "molecular": ("What molecular or genetic features characterize {s}?",),
    "prevention": ("What reduces the risk of {s}?", "What is known about prevention of {s}?"),
    "followup": ("What follow-up is recommended after treatment of {s}?",),
}
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:\s?(?:-|–|to)\s?\d+(?:\.\d+)?)?\s?(?:%|mg/m2|mg/kg|mg|mcg|µg|"
                     r"Gy|years?|months?|weeks?|days?|cm|mm|mL|hours?)(?![\w/])")
_GRADE = re.compile(r"\(\s*([ABCDI]) (?:recommendation|statement)\s*\)")
_TITLE_TAIL = re.compile(r"\s*\(PDQ®?\)\s*[–-]\s*Health Professional Version\s*$|\s*\(PDQ®?\)\s*$")
MAX_FACTS = 3
MAX_PER_DOCUMENT = 40
MIN_WORDS, MAX_WORDS = 8, 60


def topic_of(title: str) -> str:
    """A document's subject: the PDQ title without its version tail, an NGC title without its statement prefix."""
    t = _TITLE_TAIL.sub("", title).strip()
    if ":" in t and t.lower().startswith(("final recommendation", "recommendation statement")):
        t = t.split(":")[1].strip()
    t = re.sub(r"\s+(?:Treatment|Screening|Prevention)(?:\s+\(.*\))?$", "", t)
    return t


def _kind(heading: str) -> str | None:
    for kind, rx in _KINDS:
        if rx.search(heading):
            return kind
    return None


def question_for(section_path: list[str], topic: str, seed: int) -> str | None:
    """The question a section answers, or None when its heading names no answer kind."""
    heading = section_path[-1].strip() if section_path else ""
    if not heading or _SKIP.search(" ".join(section_path)):
        return None
    if _MODALITY_HEADING.match(heading) and len(section_path) >= 2 and _kind(section_path[-2]) == "treatment":
        return f"What is the role of {heading.lower()} in {topic}?"
    kind = _kind(heading)
    if kind is None:
        return None
    m = _SUBJECT.match(heading)
    subject = m.group(1) if m else topic
    subject = re.sub(r"^(Stage|Grade|Low|High|Intermediate|Recurrent|Newly|Localized|Metastatic|Advanced|Early)\b",
                     lambda g: g.group(1).lower(), subject)
    templates = _TEMPLATES[kind]
    return templates[seed % len(templates)].format(s=subject)


def facts_of(sentence: str, find_drugs: Callable[[str], list[str]]) -> list[list[str]]:
    """Checkable facts of an answer sentence, each as its acceptable spellings (drugs, numbers, tests, grades);
    ``find_drugs`` returns the drugs' spellings as they occur in the sentence."""
    facts: list[list[str]] = [[d] for d in find_drugs(sentence)]
    facts += [[m.group(0)] for m in _NUMBER.finditer(sentence)]
    for name in modalities(sentence):
        if name in ("CT", "MRI", "PET", "ultrasound", "biopsy"):
            facts.append([name])
    g = _GRADE.search(sentence)
    if g:
        facts.append([f"{g.group(1)} {'statement' if g.group(1) == 'I' else 'recommendation'}",
                      f"grade {g.group(1)}"])
    seen: set[str] = set()
    out = []
    for f in facts:
        if f[0].lower() not in seen:
            seen.add(f[0].lower())
            out.append(f)
    grade = [f for f in out if f[0].endswith(("recommendation", "statement"))]
    return (out[: MAX_FACTS - len(grade)] + grade)[:MAX_FACTS] if grade else out[:MAX_FACTS]


def clinician_documents(store: ChunkStore) -> list[str]:
    """Document ids of the PDQ and NGC summaries in the index, sorted."""
    return sorted(d for d, m in store.documents.items()
                  if m.audience == "clinician" and str(m.source_path).startswith(("corpus/pdq/", "corpus/ngc/")))


def _seed(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)


def silver_items(store: ChunkStore, find_drugs: Callable[[str], list[str]],
                 doc_ids: Iterable[str] | None = None) -> Iterator[dict]:
    """clinician-qa items, one per answerable section, at most :data:`MAX_PER_DOCUMENT` per document."""
    for doc_id in doc_ids if doc_ids is not None else clinician_documents(store):
        meta = store.documents[doc_id]
        topic = topic_of(meta.title)
        seen_paths: set[tuple[str, ...]] = set()
        asked: set[str] = set()
        made = 0
        for row in store.rows_of_document(doc_id):
            chunk = store.chunks[row]
            path = tuple(p for p in chunk.section_path if p != meta.title)
            if path in seen_paths or made >= MAX_PER_DOCUMENT:
                continue
            seed = _seed(doc_id + "/".join(path))
            # another wording of the same kind when this one was already asked of the document
            question = next((q for k in range(3) if (q := question_for(list(path), topic, seed + k)) not in asked),
                            None)
            if question is None:
                continue
            intent = question_intent(question)
            keyed = [(text, facts) for text in (" ".join(s.text.split()) for s in chunk.sentences)
                     if MIN_WORDS <= len(text.split()) <= MAX_WORDS and text.endswith(".") and text.count("|") < 2
                     and (facts := facts_of(text, find_drugs))]
            # a sentence that gives the kind of answer asked for (a treatment, a test...) first, else the first one
            for text, facts in [k for k in keyed if answers_intent(k[0], intent)][:1] or keyed[:1]:
                seen_paths.add(path)
                asked.add(question)
                made += 1
                yield {"id": f"silver-{_seed(doc_id + question):08x}", "question": question,
                       "gold_doc": f"{doc_id}.md" if doc_id.startswith(("types-", "about-", "publications-"))
                       else f"{doc_id}.xml", "gold_section": path[-1], "key_facts": facts, "support": text,
                       "style": "direct", "turns": [], "in_corpus": True}
                break
