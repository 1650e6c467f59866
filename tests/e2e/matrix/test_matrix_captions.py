"""A resident's caption on Matrix (the spec's media captions: `body` says something, `filename`
names the file) is kept with the file and reaches the working group's room the same way."""

from __future__ import annotations

import io

import pytest
from nio import RoomSendResponse, UploadResponse

from storage.models import Attachment
from testkit.support import rows
from tests.e2e.matrix.conftest import Lab, until, working_group
from tests.e2e.matrix.test_matrix_flow import KIND_QUESTION, REFERENCE

pytestmark = pytest.mark.e2e

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 2
CAPTION = "Das Loch ist 30 cm tief"
KEPT = "Ihren Text dazu habe ich als Beschreibung der Datei gespeichert."


async def test_a_captioned_image_reaches_the_group_room_with_its_caption(lab: Lab) -> None:
    group = await working_group(lab)
    cora, room = group.coordinator, group.room
    anna = await lab.person("anna")
    dm = await anna.direct_chat(group.bot.account.user_id, encrypted=False)
    await anna.say(dm, "Schlagloch vor der Schule")
    await anna.answer(dm, KIND_QUESTION)

    uploaded, _ = await anna.client.upload(
        io.BytesIO(PHOTO), content_type="image/jpeg", filename="loch.jpg", filesize=len(PHOTO)
    )
    assert isinstance(uploaded, UploadResponse), uploaded
    content = {
        "msgtype": "m.image",
        "body": CAPTION,
        "filename": "loch.jpg",
        "url": uploaded.content_uri,
        "info": {"mimetype": "image/jpeg", "size": len(PHOTO)},
    }
    sent = await anna.client.room_send(dm, "m.room.message", content)
    assert isinstance(sent, RoomSendResponse), sent
    await anna.answer(dm, KEPT)
    for answer, prompt in (
        ("1", "Handlungsfeld"),
        ("Bildung und Sprache", "Namen"),
        ("Anonym bleiben", "Bitte prüfen Sie"),
        ("1", "Vielen Dank!"),
    ):
        seen = len(anna.bodies(dm))
        await anna.say(dm, answer)
        thanks = await anna.answer(dm, prompt, after=seen)
    reference = REFERENCE.search(thanks)
    assert reference is not None

    (stored,) = await rows(group.bot.app.db, Attachment)
    assert (stored.file_name, stored.caption, stored.data) == ("loch.jpg", CAPTION, PHOTO)
    await cora.answer(room, reference.group())

    def image() -> dict[str, object] | None:
        return next(
            (c for r, _, c in cora.received if r == room and c.get("msgtype") == "m.image"), None
        )

    shown = await until(image, "the image in the group's room")
    assert (shown["body"], shown["filename"]) == (CAPTION, "loch.jpg")
