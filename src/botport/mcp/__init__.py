"""botport as a Model Context Protocol server: each configured bot is a tool (``ask_<slug>``), the
caller's conversations are resources. Over Streamable HTTP at ``/mcp`` (:mod:`botport.mcp.http`) and
over stdio with ``botport mcp`` (:mod:`botport.mcp.stdio`); see docs/mcp.md.

::

    tools.py      the tools: names, descriptions, schemas, arguments
    ask.py        one tool call: a botport turn, its result or its failure as a tool result
    progress.py   notifications/progress while the answer streams, throttled
    resources.py  the caller's conversations as Markdown resources
    calls.py      who calls, and the calls under way (what a cancel or a disconnect stops)
    server.py     the MCP server (the SDK's low-level server) and its handlers
    http.py       /mcp: API-key authentication, stateless Streamable HTTP
    openapi.py    /mcp in the OpenAPI document
    stdio.py      `botport mcp`: in-process over stdio
    bridge.py     `botport mcp --url`: stdio to a running botport's /mcp
"""
