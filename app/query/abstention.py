"""The abstention stage: whether the evidence behind a draft is good enough to answer, and why not.

It reads only the generic :class:`app.query.generator.EvidenceSignals` (passages, support, coverage) and the
question's unknown names, so it works the same whatever generator wrote the draft. When it abstains the answer
shows :data:`core.contracts.ABSTENTION_TEXT`, the reason, and the topics the corpus does cover.

>>> from app.query.generator import EvidenceSignals
>>> from app.query.settings import AnswerSettings
>>> gate = Abstainer(AnswerSettings(abstain_threshold=0.42))
>>> gate.reason(EvidenceSignals(passages=8, support=0.71, coverage=0.8), unknown_names=[]) is None
True
>>> gate.reason(EvidenceSignals(passages=8, support=0.30, coverage=0.8), unknown_names=[]).split(". ")[-1]
'The closest passage is too weakly related (similarity 0.30 < 0.42).'
"""

from __future__ import annotations

from typing import Sequence

from app.query.generator import EvidenceSignals
from app.query.settings import AnswerSettings
from core.contracts import ABSTENTION_TEXT

#: Minimum share of the question's lexical weight the chosen statements must contain, when evidence is weak.
MIN_COVERAGE = 0.34
#: Dense evidence above this is trusted even with low lexical coverage (paraphrased questions).
STRONG_EVIDENCE = 0.62


class Abstainer:
    """Abstain when nothing matched, the question names something the index never mentions, the best support is
    under ``settings.abstain_threshold``, or weak support comes with low coverage of the question's terms.

    The similarity thresholds were calibrated on fp32 similarities; with the int8 encoder (``encoder`` =
    'onnx-int8') they are moved by ``settings.int8_similarity_map`` (int8 = a * fp32 + b, measured by
    ``scripts/map_encoder_similarity.py``), so either encoder abstains at the same operating point.
    """

    def __init__(self, settings: AnswerSettings, encoder: str = "onnx") -> None:
        self.settings = settings
        a, b = settings.int8_similarity_map if encoder == "onnx-int8" else (1.0, 0.0)
        self.threshold = a * settings.abstain_threshold + b
        self.strong = a * STRONG_EVIDENCE + b

    def reason(self, signals: EvidenceSignals, unknown_names: Sequence[str]) -> str | None:
        """Why to abstain (the text shown to the user), or None to answer."""
        if signals.passages == 0:
            return f"{ABSTENTION_TEXT} No indexed passage matched the question."
        if unknown_names:
            return f"{ABSTENTION_TEXT} The indexed sources never mention: {', '.join(unknown_names[:5])}."
        threshold = self.threshold
        if signals.support < threshold:
            return (f"{ABSTENTION_TEXT} The closest passage is too weakly related "
                    f"(similarity {signals.support:.2f} < {threshold:.2f}).")
        if signals.coverage < MIN_COVERAGE and signals.support < self.strong:
            return f"{ABSTENTION_TEXT} The retrieved passages do not contain the question's key terms."
        return None
