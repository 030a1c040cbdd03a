"""An offline Coze v3 emulator. It writes Coze's wire bytes itself and never imports botport.upstream.

``create_emulator_app(tokens, bots=...)`` (in :mod:`botport.emulator.app`) builds the ASGI app;
``botport emulator --port N --token T`` serves it. It speaks Coze's v3 protocol: ``/v3/chat``
(streaming and not), retrieve, message list, cancel, submit_tool_outputs, ``/v1`` conversations,
conversation messages (cursor paging) and file upload. Every response has an ``x-tt-logid`` header;
errors are envelopes ``{"code": N, "msg": ..., "detail": {"logid": ...}}`` with HTTP 200 (401 for 4100).

Demo bots (:mod:`botport.emulator.bots`): Demo (context-aware markdown, reasoning first, follow-ups;
commands ``/slow``, ``/long``, ``/fail``, ``/error``), Weather tool demo (``requires_action`` with a
``get_weather`` call, then answers from the submitted output), Slow demo, Failing demo.

Fault knobs, per bot (``EmulatedBot.faults``) or per request with the header
``X-Emulator-Fault: name=value; name=value`` (header values win over the bot's):

``first_delay=S``
    seconds before the chat's first event (the stream's headers are sent at once).
``delta_delay=S``
    seconds between two ``conversation.message.delta`` events (demo bots: 0.02; ``/slow``: 0.3).
``http_status=N``
    answer with HTTP N and an HTML body, like a proxy (on any path when sent as a header).
``cut_after=N``
    close the connection after N deltas, without finishing the response (no ``done``).
    The chat itself goes on running, as on Coze.
``error_event_after=N``
    send an ``error`` event (code 5000) after N deltas and end the stream; the chat is ``failed``.
``envelope_error=N``
    answer a chat request (stream or not) with a JSON error envelope of code N.

Other behaviour: conversations belong to the token and to the first ``user_id`` that chats in them
(others get 4200 "not found"); a second chat while one runs gets 4016; cancel of a finished chat
gets 4104; a canceled stream ends with ``conversation.chat.canceled`` (a name from Coze's websocket
API; the HTTP API documents none) and ``done``.

Polling: a chat's ``/v3/chat/retrieve`` answers 4013 (HTTP 429) beyond about one call a second, with
a burst of two (:mod:`botport.emulator.poll_limit`); ``create_emulator_app(poll_limit=False)`` turns
that off. Also served: bot lists v1 and v2 (:mod:`~botport.emulator.bot_list_routes`), the one
workspace (:mod:`~botport.emulator.workspace_routes`), conversation
rename and delete, message feedback, and offline audio: speech as WAV or PCM, transcription, voices
(:mod:`~botport.emulator.audio_routes`); other ``/v1/audio`` calls answer "not supported".
"""
