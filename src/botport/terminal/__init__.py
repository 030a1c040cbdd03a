"""The terminal client of botport's own API: ``botport chat`` (interactive and ``-m`` for scripts).

- :mod:`.client`: a small async client of the REST + SSE API (docs/api.md).
- :mod:`.connect`: a running botport by URL, or the app served in this process.
- :mod:`.turn`: one turn read from the stream into an outcome.
- :mod:`.display`: rich rendering of a turn (live text, then markdown).
- :mod:`.repl`: the interactive loop and its slash commands.
"""
