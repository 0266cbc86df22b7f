"""medcite query side: retrieval, answer assembly, rendering, HTTP API and CLI."""
