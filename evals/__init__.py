"""medcite evaluation harness: datasets, metrics, reports."""
