"""The MCP server of medcite (Model Context Protocol, official ``mcp`` Python SDK): tools ``answer``, ``search`` and
``get_document`` over the same :class:`app.query.pipeline.AnswerPipeline` as the HTTP API.

* :mod:`app.mcp.server` builds the server and its tools;
* :mod:`app.mcp.stdio` runs it over stdio (``medcite mcp``);
* :mod:`app.mcp.http` serves it over streamable HTTP inside the FastAPI service (``/v1/mcp``).

The SDK is the optional extra ``mcp`` (``pip install 'medcite[mcp]'``); without it importing these modules raises
an ``ImportError`` that says what to install.
"""

INSTALL_HINT = "the MCP server needs the 'mcp' package: pip install 'medcite[mcp]' (or pip install 'mcp>=2.3,<3')"
