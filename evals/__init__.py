"""medcite's evaluation harness: datasets, metrics with bootstrap intervals, suites and reports (``medcite eval``).

Suites: retrieval (MedQuAD, LiveQA, PubMedQA, BioASQ), answers, clinician (gold documents and key facts).
Backends run the suites in process or against a remote medcite over HTTP.
May import: ``app``, ``ingest``, ``index``, ``core``. Nothing imports ``evals``: the CLI reaches it through the
``medcite.commands`` entry point.
"""
