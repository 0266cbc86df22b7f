"""Clinical-to-lay query expansion: clinicians write "pediatric renal mass", patient pages say "child kidney tumor".

The default corpus is mostly consumer-health text, so a clinician's vocabulary often has no lexical match. Known
clinical terms add their everyday equivalents to the query (never remove anything), for BM25 and the dense query.

>>> expand_query("Pediatric patient with a flank mass and dyspnea")
'Pediatric patient with a flank mass and dyspnea (child children childhood side kidney abdomen tumor lump shortness of breath)'
>>> expand_query("What is asthma?")
'What is asthma?'
"""

from __future__ import annotations

import re
from functools import lru_cache

#: clinical term (regex-safe words; matched as whole words, case-insensitive, simple plural) -> lay equivalents
CLINICAL_TO_LAY: dict[str, str] = {
    "pediatric": "child children childhood", "paediatric": "child children childhood",
    "neonate": "newborn baby", "neonatal": "newborn baby", "infant": "baby", "geriatric": "older adults elderly",
    "flank": "side kidney abdomen", "renal": "kidney", "nephrotic": "kidney", "hepatic": "liver",
    "cardiac": "heart", "pulmonary": "lung", "gastric": "stomach", "colonic": "colon bowel",
    "cerebral": "brain", "cutaneous": "skin", "dermal": "skin", "ocular": "eye", "otic": "ear", "nasal": "nose",
    "mass": "tumor lump", "neoplasm": "tumor cancer", "malignancy": "cancer", "malignant": "cancer",
    "carcinoma": "cancer", "benign": "not cancer", "lesion": "tumor spot", "metastasis": "spread",
    "metastatic": "spread", "calcification": "calcium", "calcified": "calcium",
    "dyspnea": "shortness of breath", "dyspnoea": "shortness of breath", "tachycardia": "fast heartbeat",
    "bradycardia": "slow heartbeat", "hypertension": "high blood pressure", "hypotension": "low blood pressure",
    "pyrexia": "fever", "febrile": "fever", "emesis": "vomiting", "pruritus": "itching", "syncope": "fainting",
    "cephalgia": "headache", "myalgia": "muscle pain", "arthralgia": "joint pain", "edema": "swelling",
    "oedema": "swelling", "erythema": "redness", "hematuria": "blood in the urine", "haematuria": "blood in the urine",
    "hematochezia": "blood in the stool", "melena": "black stool", "hemoptysis": "coughing up blood",
    "epistaxis": "nosebleed", "dysphagia": "trouble swallowing", "dysuria": "painful urination",
    "polyuria": "frequent urination", "polydipsia": "thirst", "anorexia": "loss of appetite", "pyuria": "urine",
    "hyperglycemia": "high blood sugar", "hypoglycemia": "low blood sugar", "hyperlipidemia": "high cholesterol",
    "myocardial infarction": "heart attack", "cerebrovascular accident": "stroke", "cva": "stroke",
    "analgesic": "pain medicine", "antipyretic": "fever medicine", "prophylaxis": "prevention",
    "etiology": "cause", "aetiology": "cause", "prognosis": "outlook", "sequelae": "complications",
    "contraindication": "should not take", "idiopathic": "unknown cause", "congenital": "present at birth born with",
    "hereditary": "inherited genetic", "sonography": "ultrasound", "ultrasonography": "ultrasound",
    "ct": "CT scan computed tomography", "mri": "MRI scan magnetic resonance imaging", "biopsy": "tissue sample",
    "pharmacotherapy": "medicine drugs", "resection": "surgery remove", "excision": "surgery remove",
    "first-line": "standard treatment", "management": "treatment", "workup": "tests diagnosis",
    "work-up": "tests diagnosis",
}


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    terms = sorted(CLINICAL_TO_LAY, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(t) for t in terms) + r")(?:e?s)?\b", re.IGNORECASE)


def expansion_terms(query: str) -> list[str]:
    """Lay words for the clinical terms in ``query`` that it does not already contain."""
    lowered = query.lower()
    words: list[str] = []
    for match in _pattern().finditer(query):
        for word in CLINICAL_TO_LAY[match.group(1).lower()].split():
            if word.lower() not in words and not re.search(rf"\b{re.escape(word.lower())}\b", lowered):
                words.append(word)
    return words


def expand_query(query: str) -> str:
    """``query`` plus, in parentheses, the lay equivalents of its clinical terms (unchanged when none)."""
    extra = expansion_terms(query)
    return f"{query} ({' '.join(extra)})" if extra else query
