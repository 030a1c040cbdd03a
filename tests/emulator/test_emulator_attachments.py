"""The demo bot says what a question carried, so attachments are testable offline: each upload's name,
type (as the multipart part declared it), size and an image's width × height, and a file by URL (which
the emulator never fetches). Coze's official SDK (cozepy) uploads and asks, on a real uvicorn server."""

from __future__ import annotations

import pytest
from cozepy import ChatEventType, Coze, Message, MessageObjectString, MessageType

from botport.emulator.bots import DEMO_BOT_ID
from image_files import png

pytestmark = pytest.mark.live


def _answer(coze: Coze, user: str, parts: list[MessageObjectString]) -> str:
    events = coze.chat.stream(
        bot_id=DEMO_BOT_ID, user_id=user, additional_messages=[Message.build_user_question_objects(parts)]
    )
    completed = [e.message for e in events if e.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED]
    return next(m.content for m in completed if m and m.type == MessageType.ANSWER)


def test_the_demo_bot_describes_uploads_and_urls(coze: Coze, user: str) -> None:
    photo = png(640, 480)
    image = coze.files.upload(file=("photo.png", photo, "image/png"))
    notes = coze.files.upload(file=("notes.pdf", b"%PDF-1.4\n" + b"x" * 2039, "application/pdf"))
    assert (image.file_name, image.bytes) == ("photo.png", len(photo))
    answer = _answer(
        coze,
        user,
        [
            MessageObjectString.build_text("what is this?"),
            MessageObjectString.build_image(file_id=image.id),
            MessageObjectString.build_file(file_id=notes.id),
            MessageObjectString.build_image(file_url="https://example.com/cat.png"),
        ],
    )
    assert (
        f"You attached 3 files: photo.png (image/png, {len(photo) / 1024:.1f} KB, 640×480); "
        "notes.pdf (application/pdf, 2.0 KB); "
        "an image at https://example.com/cat.png (not downloaded: the emulator works offline)."
    ) in answer
    assert "> what is this?" in answer


def test_a_picture_alone(coze: Coze, user: str) -> None:
    image = coze.files.upload(file=("dot.gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 20))
    answer = _answer(coze, user, [MessageObjectString.build_image(file_id=image.id)])
    assert "*(no text)*" in answer and "You attached 1 file: dot.gif (" in answer and "1×1" in answer
