"""Tiny evaluation sets in the layout and schemas of ``../shared/data`` (written by the tests themselves)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable

import pytest

#: (page id, focus, [section texts]); passage ids are f"{page}_Sec{n}".
TOPICS = [
    ("GHR_0000001", "Asthma", [
        "Asthma is a chronic disease of the airways that causes wheezing, coughing and shortness of breath.",
        "Asthma is treated with inhaled corticosteroids and quick-relief bronchodilator inhalers such as albuterol.",
        "Asthma often runs in families; allergies and a family history increase the risk of asthma.",
    ]),
    ("GHR_0000002", "Gout", [
        "Gout is a form of inflammatory arthritis caused by uric acid crystals in a joint, often the big toe.",
        "Gout flares are treated with colchicine or anti-inflammatory drugs; allopurinol lowers uric acid.",
        "Gout is more common in men and in people who drink alcohol or eat red meat.",
    ]),
    ("GHR_0000003", "Glaucoma", [
        "Glaucoma is a group of eye diseases that damage the optic nerve, usually because of high eye pressure.",
        "Glaucoma is treated with eye drops that lower eye pressure, laser trabeculoplasty or surgery.",
        "Glaucoma is diagnosed with a dilated eye exam, tonometry and visual field testing.",
    ]),
    ("GARD_0000004", "Psoriasis", [
        "Psoriasis is an immune disease that causes red, scaly, itchy plaques on the skin of elbows and knees.",
        "Psoriasis is treated with topical steroids, phototherapy with ultraviolet light, or biologic drugs.",
        "Psoriasis is inherited in a complex pattern; several genes and triggers such as stress play a role.",
    ]),
    ("GARD_0000005", "Migraine", [
        "Migraine is a headache disorder with throbbing pain on one side of the head, nausea and light sensitivity.",
        "Migraine attacks are treated with triptans such as sumatriptan; preventive drugs reduce attack frequency.",
        "Migraine triggers include lack of sleep, skipped meals, hormonal changes and bright lights.",
    ]),
    ("NIDDK_0000006", "Anemia", [
        "Anemia is a condition in which the blood has too few healthy red blood cells to carry oxygen.",
        "Iron-deficiency anemia is treated with iron supplements and by finding the cause of blood loss.",
        "Anemia is diagnosed with a complete blood count that measures hemoglobin and hematocrit.",
    ]),
    ("NINDS_0000007", "Epilepsy", [
        "Epilepsy is a brain disorder that causes recurring, unprovoked seizures.",
        "Epilepsy is treated with antiseizure medicines such as levetiracetam; some patients need surgery.",
    ]),
]

MEDQUAD_QUESTIONS = [
    ("mq_1", "What is (are) Asthma ?", ["GHR_0000001_Sec1"]),
    ("mq_2", "What are the treatments for Asthma ?", ["GHR_0000001_Sec2"]),
    ("mq_3", "What causes Gout ?", ["GHR_0000002_Sec1"]),
    ("mq_4", "How to diagnose Glaucoma ?", ["GHR_0000003_Sec3"]),
    ("mq_5", "Is Psoriasis inherited ?", ["GARD_0000004_Sec3"]),
    ("mq_6", "What are the treatments for Migraine ?", ["GARD_0000005_Sec2"]),
    ("mq_7", "How to diagnose Anemia ?", ["NIDDK_0000006_Sec3"]),
    ("mq_8", "What are the treatments for Epilepsy ?", ["NINDS_0000007_Sec2"]),
]

SNIPPETS = [
    ("111", "title", "Colchicine reduces gout flares in a randomized trial."),
    ("111", "abstract", "In 200 patients with acute gout, low-dose colchicine reduced pain within 24 hours."),
    ("222", "abstract", "Sumatriptan nasal spray relieved migraine pain in adolescents."),
    ("333", "abstract", "Levetiracetam monotherapy controlled focal seizures in adults with epilepsy."),
]


#: Clinician questions over the tiny corpus: gold_doc = "<passage id>.md" (the document id plus an extension).
CLINICIAN_QA = [
    {"id": "pdq-001", "question": "A man has a hot, swollen big toe at night. How are gout flares treated?",
     "gold_doc": "GHR_0000002_Sec2.md", "gold_section": "Treatment", "key_facts": [["colchicine"], ["allopurinol"]],
     "support": "Gout flares are treated with colchicine or anti-inflammatory drugs; allopurinol lowers uric acid.",
     "style": "vignette", "turns": [], "in_corpus": True},
    {"id": "pdq-002", "question": "How is it treated?", "gold_doc": "GHR_0000003_Sec2.md", "gold_section": "Treatment",
     "key_facts": [["eye drops", "eyedrops"], ["laser"]], "support": None, "style": "followup",
     "turns": [{"question": "What is glaucoma?"}], "in_corpus": True},
    {"id": "ngc-003", "question": "Which test diagnoses anemia?", "gold_doc": "NIDDK_0000006_Sec3.xml",
     "gold_section": "Diagnosis", "key_facts": [["complete blood count", "CBC"]], "support": None, "style": "direct",
     "turns": [], "in_corpus": True},
    {"id": "ooc-004", "question": "How does a liquid-fuel rocket engine regulate its combustion chamber pressure?",
     "gold_doc": None, "gold_section": None, "key_facts": [], "support": None, "style": "direct", "turns": [],
     "in_corpus": False},
]


def write_jsonl(path: Path, records: Iterable[dict[str, Any]], gz: bool | None = None) -> Path:
    """Write records as JSON Lines; gzip when ``gz`` (default: when the name ends with .gz)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")
    if gz if gz is not None else path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def passages() -> list[dict[str, Any]]:
    return [{"passage_id": f"{page}_Sec{i}", "doc_id": page, "source": page.split("_")[0], "url": f"https://x/{page}",
             "focus": focus, "text": text}
            for page, focus, texts in TOPICS for i, text in enumerate(texts, 1)]


def corpus_documents() -> list[dict[str, Any]]:
    """The tiny MedQuAD passages in medcite's JSONL document schema (what the default index is built from)."""
    return [{"id": p["passage_id"], "text": p["text"], "title": p["focus"], "focus": p["focus"],
             "parent_id": p["doc_id"], "issuer": p["source"], "url": p["url"], "type": "Patient information",
             "audience": "patient", "license": "CC BY 4.0", "year": None} for p in passages()]


def snippet_id(pmid: str, section: str, text: str) -> str:
    return f"{pmid}:{section}:0-{len(text)}:{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def make_data_dir(root: Path) -> Path:
    """A data directory with every file the harness reads, in the shared-data layout."""
    write_jsonl(root / "medquad/corpus_passages.jsonl.gz", passages())
    write_jsonl(root / "medquad/questions_dev.jsonl.gz", [
        {"query_id": q, "question": text, "qtype": "x", "focus": "", "relevant_passage_ids": gold,
         "relevant_doc_ids": [gold[0].rsplit("_", 1)[0]], "sources": [], "orig_qids": []}
        for q, text, gold in MEDQUAD_QUESTIONS])
    write_jsonl(root / "liveqa-med-2017/test_questions_dev.jsonl", [
        {"qid": "TQ1", "qnum": 1, "subject": "gout", "message": "my big toe hurts at night what helps with gout pain",
         "nist_paraphrase": "How are gout flares treated?", "nlm_summary": "",
         "reference_answers": [{"aid": "TQ1A1", "answer": "Gout flares are treated with colchicine.", "url": None}],
         "medquad_judgments": [
             {"passage_id": "GHR_0000002_Sec2", "grade": 4, "label": "4-Excellent", "text_in_corpus": True},
             {"passage_id": "GHR_0000002_Sec1", "grade": 2, "label": "2-Related", "text_in_corpus": True},
             {"passage_id": "GHR_0000002_Sec3", "grade": 1, "label": "1-Incorrect", "text_in_corpus": True},
             {"passage_id": "ADAM_0000009_Sec1", "grade": 4, "label": "4-Excellent", "text_in_corpus": False}]},
        {"qid": "TQ2", "qnum": 2, "subject": "", "message": "what is the best eye drop for glaucoma",
         "nist_paraphrase": "How is glaucoma treated?", "nlm_summary": "", "reference_answers": [],
         "medquad_judgments": [
             {"passage_id": "GHR_0000003_Sec2", "grade": 3, "label": "3-Incomplete", "text_in_corpus": True}]},
        {"qid": "TQ3", "qnum": 3, "subject": "", "message": "only unusable judgments here",
         "nist_paraphrase": "Unused?", "nlm_summary": "", "reference_answers": [],
         "medquad_judgments": [
             {"passage_id": "GHR_0000001_Sec1", "grade": 1, "label": "1-Incorrect", "text_in_corpus": True},
             {"passage_id": "ADAM_1_Sec1", "grade": 4, "label": "4-Excellent", "text_in_corpus": False}]},
    ])
    snippets = [{"snippet_id": snippet_id(p, s, t), "pmid": p, "section": s, "text": t} for p, s, t in SNIPPETS]
    write_jsonl(root / "bioasq/snippets_corpus.jsonl.gz", snippets)
    write_jsonl(root / "bioasq/questions_dev.jsonl.gz", [
        {"id": "b1", "type": "yesno", "body": "Does colchicine reduce gout flares?", "exact_answer": "yes",
         "ideal_answer": ["Yes."], "documents_pmids": ["111", "999"],
         "snippet_ids": [snippets[0]["snippet_id"], snippets[1]["snippet_id"]], "source_file": "x"},
        {"id": "b2", "type": "summary", "body": "Which drug controls focal seizures in epilepsy?",
         "ideal_answer": ["Levetiracetam."], "documents_pmids": ["333"], "snippet_ids": [snippets[3]["snippet_id"]],
         "source_file": "x"},
        {"id": "b3", "type": "summary", "body": "A question whose snippet is not in the corpus",
         "documents_pmids": ["444"], "snippet_ids": ["444:abstract:0-5:zz"], "source_file": "x"},
    ])
    write_jsonl(root / "pubmedqa/contexts_corpus.jsonl", [
        {"pubid": "5001", "contexts": ["We studied whether statins lower stroke risk in older adults.",
                                       "Statin users had fewer strokes over five years."],
         "labels": ["OBJECTIVE", "RESULTS"], "meshes": [], "year": "2001"},
        {"pubid": 5002, "contexts": ["Vitamin D supplements and fracture risk in postmenopausal women."],
         "labels": ["OBJECTIVE"], "meshes": [], "year": None},
    ])
    write_jsonl(root / "pubmedqa/questions_dev.jsonl", [
        {"pubid": "5001", "question": "Do statins lower stroke risk in older adults?", "final_decision": "yes",
         "long_answer": "Yes.", "official_split": "test"},
        {"pubid": "5002", "question": "Does vitamin D prevent fractures in postmenopausal women?",
         "final_decision": "maybe", "long_answer": "Maybe.", "official_split": "train_dev"},
    ])
    write_jsonl(root / "medicationqa/medicationqa_dev.jsonl", [
        {"id": "medicationqa-0001", "question": "what is albuterol used for", "focus": "albuterol",
         "qtype": "Usage", "answer": "Albuterol is a quick-relief bronchodilator inhaler for asthma.",
         "section_title": "", "url": "https://x"},
    ])
    write_jsonl(root / "clinician-qa/clinician_qa_dev.jsonl", CLINICIAN_QA)
    return root


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return make_data_dir(tmp_path / "data")


@pytest.fixture
def jsonl():
    """``jsonl(path, records, gz=None) -> path``: write a JSON Lines fixture file."""
    return write_jsonl


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The fixture builders for module-scoped fixtures: write_jsonl, corpus_documents, make_data_dir."""
    return SimpleNamespace(write_jsonl=write_jsonl, corpus_documents=corpus_documents, make_data_dir=make_data_dir)
