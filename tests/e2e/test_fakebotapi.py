"""End-to-end tests of the fake Bot API server, driven by PTB's real ``telegram.Bot``.

The fake is used to prove the bot honours Telegram's limits and errors, so each test pins
down one Telegram behaviour (wording, status code, flow) that a regression would break.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import aiohttp.web
import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from testkit.fakebotapi import DEFAULT_TOKEN, FakeBotApi, FakeClock
from testkit.fakebotapi.limits import FloodLimits
from testkit.fakebotapi.pytest_fixtures import fake_api, fake_bot, fake_clock
from testkit.fakebotapi.textparse import parse
from testkit.fakebotapi.webhook import SECRET_HEADER

__all__ = ["fake_api", "fake_bot", "fake_clock"]  # fixtures used by name below

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in pairs])


@pytest.mark.asyncio
async def test_get_me_and_wrong_token_and_unknown_method(
    fake_api: FakeBotApi, fake_bot: Bot
) -> None:
    me = await fake_bot.get_me()
    assert me.is_bot and me.id == int(DEFAULT_TOKEN.split(":")[0])
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{fake_api.base_url}999:nope/getMe")
        assert r.status_code == 401
        assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        r = await client.get(f"{fake_api.base_url}{fake_api.token}/getNothing")
        assert r.status_code == 404 and r.json()["description"] == "Not Found"


@pytest.mark.asyncio
async def test_get_updates_offset_confirmation(fake_api: FakeBotApi, fake_bot: Bot) -> None:
    user = fake_api.add_user("Anna")
    fake_api.inject_text(user.id, "/start")
    fake_api.inject_text(user.id, "hallo")
    first = await fake_bot.get_updates(timeout=0)
    assert [u.message.text for u in first] == ["/start", "hallo"]
    assert first[0].message.entities[0].type == "bot_command"
    assert first[1].update_id == first[0].update_id + 1
    again = await fake_bot.get_updates(offset=first[0].update_id + 1)
    assert [u.message.text for u in again] == ["hallo"]
    assert await fake_bot.get_updates(offset=first[1].update_id + 1) == ()
    assert len(fake_api.updates) == 0


@pytest.mark.asyncio
async def test_long_poll_wakes_up_on_injected_update(fake_api: FakeBotApi, fake_bot: Bot) -> None:
    user = fake_api.add_user()
    started = time.monotonic()
    poll = asyncio.create_task(fake_bot.get_updates(timeout=10, read_timeout=15))
    await asyncio.sleep(0.2)
    assert not poll.done()
    fake_api.inject_text(user.id, "ping")
    updates = await asyncio.wait_for(poll, 5)
    assert [u.message.text for u in updates] == ["ping"]
    assert time.monotonic() - started < 5
    empty = await fake_bot.get_updates(offset=updates[0].update_id + 1, timeout=1)
    assert empty == ()


@pytest.mark.asyncio
async def test_webhook_blocks_get_updates(fake_bot: Bot) -> None:
    assert await fake_bot.set_webhook("https://example.org/hook")
    assert (await fake_bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(Exception, match="can't use getUpdates method while webhook"):
        await fake_bot.get_updates()
    await fake_bot.delete_webhook()
    assert await fake_bot.get_updates() == ()


@pytest.mark.asyncio
async def test_webhook_pushes_each_update_with_the_secret_and_retries_failures(
    fake_api: FakeBotApi, fake_bot: Bot
) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []
    answers = [500, 200, 200]  # the bot's server fails once, then accepts

    async def hook(request: aiohttp.web.Request) -> aiohttp.web.Response:
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        return aiohttp.web.Response(status=answers.pop(0))

    app = aiohttp.web.Application()
    app.router.add_post("/hook", hook)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with pytest.raises(BadRequest, match="secret token contains unallowed characters"):
            await fake_bot.set_webhook("https://bot.example.org/hook", secret_token="a b")
        fake_api.route_webhook("https://bot.example.org", f"http://127.0.0.1:{port}")
        assert await fake_bot.set_webhook("https://bot.example.org/hook", secret_token="s3cret")
        user = fake_api.add_user("Lena")
        fake_api.inject_text(user.id, "eins")
        fake_api.inject_text(user.id, "zwei")
        for _ in range(400):
            if fake_api.webhook.delivered == 2:
                break
            await asyncio.sleep(0.01)
        info = await fake_bot.get_webhook_info()
    finally:
        await runner.cleanup()

    texts = [update["message"]["text"] for _, update in received]  # type: ignore[index]
    assert texts == ["eins", "eins", "zwei"]  # the failed update again, then the next, in order
    assert {secret for secret, _ in received} == {"s3cret"}
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"


@pytest.mark.asyncio
async def test_commands_per_scope_and_language(fake_bot: Bot) -> None:
    await fake_bot.set_my_commands([("start", "Beginnen")], language_code="de")
    await fake_bot.set_my_commands([("start", "Start"), ("help", "Help")])
    assert [c.command for c in await fake_bot.get_my_commands(language_code="de")] == ["start"]
    assert len(await fake_bot.get_my_commands()) == 2
    await fake_bot.delete_my_commands()
    assert await fake_bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await fake_bot.set_my_commands([("Bad-Name", "x")])


@pytest.mark.asyncio
async def test_send_message_validation(fake_api: FakeBotApi, fake_bot: Bot) -> None:
    user = fake_api.add_user()
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await fake_bot.send_message(user.id, "x" * 4097)
    # 2048 emoji are 4096 UTF-16 units: allowed; one more is too long.
    await fake_bot.send_message(user.id, "\U0001f600" * 2048)
    with pytest.raises(BadRequest, match="too long"):
        await fake_bot.send_message(user.id, "\U0001f600" * 2049)
    # Markup does not count against the limit.
    await fake_bot.send_message(user.id, "<b>" + "y" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="text is empty"):
        await fake_bot.send_message(user.id, "")
    with pytest.raises(BadRequest, match="text is empty"):
        await fake_bot.send_message(user.id, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Chat not found"):
        await fake_bot.send_message(424242, "hi")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await fake_bot.send_message(user.id, "1.5", parse_mode="MarkdownV2")
    assert fake_api.sent_log[-1].description == (
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
        "with the preceding '\\'"
    )
    refused = fake_api.calls(method="sendMessage", status=400)
    assert len(refused) == 6
    assert refused[0].description == "Bad Request: message is too long"
    assert [m.text for m in fake_api.messages_to(user.id)][1:] == ["y" * 4096]


@pytest.mark.asyncio
async def test_error_bodies_are_telegram_formatted(fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    async with aiohttp.ClientSession() as session:
        url = f"{fake_api.base_url}{fake_api.token}/sendMessage"
        async with session.post(url, json={"chat_id": user.id, "text": "x" * 5000}) as r:
            assert r.status == 400
            assert await r.json() == {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: message is too long",
            }
        async with session.post(url, data={"chat_id": str(user.id), "text": "hi"}) as r:
            body = await r.json()
            assert body["ok"] is True and body["result"]["text"] == "hi"
            assert isinstance(body["result"]["date"], int)


@pytest.mark.asyncio
async def test_blocked_and_deactivated_users_get_403(fake_api: FakeBotApi, fake_bot: Bot) -> None:
    user, gone = fake_api.add_user("B"), fake_api.add_user("D")
    fake_api.block_user(user.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await fake_bot.send_message(user.id, "hi")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await fake_bot.send_chat_action(user.id, "typing")
    updates = await fake_bot.get_updates()
    assert updates[-1].my_chat_member.new_chat_member.status == "kicked"
    fake_api.unblock_user(user.id)
    await fake_bot.send_message(user.id, "back")
    fake_api.deactivate_user(gone.id)
    with pytest.raises(Forbidden, match="user is deactivated"):
        await fake_bot.send_message(gone.id, "hi")
    assert fake_api.count("sendMessage", 403) == 2


@pytest.mark.asyncio
async def test_callback_press_answer_and_edit(fake_api: FakeBotApi, fake_bot: Bot) -> None:
    user = fake_api.add_user()
    sent = await fake_bot.send_message(
        user.id, "Wählen?", reply_markup=keyboard(("Ja", "yes"), ("Nein", "no"))
    )
    assert fake_api.last_message(user.id).buttons == [["Ja"], ["Nein"]]
    with pytest.raises(ValueError):
        fake_api.press_button(user.id, sent.message_id, "maybe")
    qid = fake_api.press_button(user.id, sent.message_id, "yes")
    (update,) = await fake_bot.get_updates()
    assert update.callback_query.id == qid and update.callback_query.data == "yes"
    assert update.callback_query.message.message_id == sent.message_id
    assert await fake_bot.answer_callback_query(qid, text="Danke")
    assert fake_api.queries[qid].answer["text"] == "Danke"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await fake_bot.answer_callback_query(qid)  # already answered
    edited = await fake_bot.edit_message_text("Ja gewählt", user.id, sent.message_id)
    assert edited.text == "Ja gewählt" and edited.reply_markup is None
    msg = fake_api.last_message(user.id)
    assert msg.text == "Ja gewählt" and msg.buttons == [] and len(msg.edits) == 1
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await fake_bot.edit_message_text("x", user.id, 9999)


@pytest.mark.asyncio
async def test_query_too_old(fake_api: FakeBotApi, fake_bot: Bot, fake_clock: FakeClock) -> None:
    user = fake_api.add_user()
    sent = await fake_bot.send_message(user.id, "?", reply_markup=keyboard(("A", "a")))
    old = fake_api.press_button(user.id, sent.message_id, "a")
    fake_clock.advance(15.5)
    with pytest.raises(BadRequest, match=r"(?i)query is too old and response timeout expired"):
        await fake_bot.answer_callback_query(old)
    assert fake_api.sent_log[-1].description == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    aged = fake_api.press_button(user.id, sent.message_id, "a")
    fake_api.age_callback_query(aged, 16)
    with pytest.raises(BadRequest, match=r"(?i)query id is invalid"):
        await fake_bot.answer_callback_query(aged)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await fake_bot.answer_callback_query("12345")
    fresh = fake_api.press_button(user.id, sent.message_id, "a")
    fake_clock.advance(14)
    assert await fake_bot.answer_callback_query(fresh)


@pytest.mark.asyncio
async def test_not_modified_and_button_data_invalid(fake_api: FakeBotApi, fake_bot: Bot) -> None:
    user = fake_api.add_user()
    kb = keyboard(("A", "a"))
    sent = await fake_bot.send_message(user.id, "<b>Hi</b>", parse_mode="HTML", reply_markup=kb)
    with pytest.raises(BadRequest, match="exactly the same as a current content"):
        await fake_bot.edit_message_text(
            "<b>Hi</b>", user.id, sent.message_id, parse_mode="HTML", reply_markup=kb
        )
    with pytest.raises(BadRequest, match="Message is not modified"):
        await fake_bot.edit_message_reply_markup(user.id, sent.message_id, reply_markup=kb)
    # Same text but the entity differs -> a real modification.
    await fake_bot.edit_message_text("Hi", user.id, sent.message_id, reply_markup=kb)
    await fake_bot.edit_message_reply_markup(user.id, sent.message_id)
    assert fake_api.last_message(user.id).reply_markup is None
    with pytest.raises(BadRequest, match=r"Button_data_invalid|BUTTON_DATA_INVALID"):
        await fake_bot.send_message(user.id, "x", reply_markup=keyboard(("A", "ä" * 33)))
    await fake_bot.send_message(user.id, "x", reply_markup=keyboard(("A", "a" * 64)))


@pytest.mark.asyncio
async def test_reply_parameters_and_delete(fake_api: FakeBotApi, fake_bot: Bot) -> None:
    user = fake_api.add_user()
    incoming = fake_api.inject_text(user.id, "Frage")
    sent = await fake_bot.send_message(
        user.id, "Antwort", reply_parameters=ReplyParameters(incoming["message_id"])
    )
    assert sent.reply_to_message.text == "Frage"
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await fake_bot.send_message(user.id, "x", reply_to_message_id=777)
    fake_api.inject_text(user.id, "Danke", reply_to_message_id=sent.message_id)
    updates = await fake_bot.get_updates()
    assert updates[-1].message.reply_to_message.text == "Antwort"
    assert await fake_bot.delete_message(user.id, sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await fake_bot.delete_message(user.id, sent.message_id)
    assert fake_api.messages_to(user.id) == []


@pytest.mark.asyncio
async def test_document_upload_get_file_download_and_resend(
    fake_api: FakeBotApi, fake_bot: Bot
) -> None:
    user = fake_api.add_user()
    payload = b"%PDF-1.4 fake" * 100
    sent = await fake_bot.send_document(
        user.id, payload, filename="bericht.pdf", caption="Bericht"
    )
    assert sent.document.file_name == "bericht.pdf" and sent.caption == "Bericht"
    tg_file = await fake_bot.get_file(sent.document.file_id)
    assert tg_file.file_size == len(payload)
    assert bytes(await tg_file.download_as_bytearray()) == payload
    again = await fake_bot.send_document(user.id, sent.document.file_id)
    assert again.document.file_unique_id == sent.document.file_unique_id
    assert fake_api.last_message(user.id).data == payload
    with pytest.raises(BadRequest, match="caption is too long"):
        await fake_bot.send_document(user.id, payload, caption="c" * 1025)
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await fake_bot.send_document(user.id, "BQACAgIAAxk_unknown")
    big = fake_api.inject_document(user.id, b"\0" * (20 * 1024 * 1024 + 1), "big.bin")
    with pytest.raises(BadRequest, match="File is too big"):
        await fake_bot.get_file(big["document"]["file_id"])


@pytest.mark.asyncio
async def test_photo_update_is_downloadable_by_ptb(fake_api: FakeBotApi, fake_bot: Bot) -> None:
    user = fake_api.add_user()
    fake_api.inject_photo(user.id, PNG_1x1 * 3, caption="Foto", width=1280, height=960)
    (update,) = await fake_bot.get_updates()
    assert Update.de_json(update.to_dict(), fake_bot).message.caption == "Foto"
    sizes = update.message.photo
    assert len(sizes) >= 3 and sizes[-1].width == 1280
    assert len({s.file_unique_id for s in sizes}) == len(sizes)
    data = await (await sizes[-1].get_file()).download_as_bytearray()
    assert bytes(data) == PNG_1x1 * 3
    echoed = await fake_bot.send_photo(user.id, sizes[-1].file_id)
    assert echoed.photo[-1].file_id == sizes[-1].file_id
    uploaded = await fake_bot.send_photo(user.id, PNG_1x1)
    assert uploaded.photo[-1].width == 1 and fake_api.last_message(user.id).data == PNG_1x1


@pytest.mark.asyncio
async def test_private_chat_flood_limit(
    fake_api: FakeBotApi, fake_bot: Bot, fake_clock: FakeClock
) -> None:
    user = fake_api.add_user()
    fake_api.set_limits(True)
    for i in range(3):
        await fake_bot.send_message(user.id, f"burst {i}")
    with pytest.raises(RetryAfter):
        await fake_bot.send_message(user.id, "too fast")
    record = fake_api.calls(status=429)[0]
    assert record.description == "Too Many Requests: retry after 1"
    fake_clock.advance(1.0)
    await fake_bot.send_message(user.id, "after wait")
    assert fake_api.texts_to(user.id) == ["burst 0", "burst 1", "burst 2", "after wait"]
    fake_api.set_limits(False)
    for _ in range(10):
        await fake_bot.send_message(user.id, "unlimited")


@pytest.mark.asyncio
async def test_global_flood_limit_and_raw_429_body(
    fake_api: FakeBotApi, fake_bot: Bot, fake_clock: FakeClock
) -> None:
    users = [fake_api.add_user(f"u{i}") for i in range(31)]
    fake_api.set_limits(True)
    for user in users[:30]:
        await fake_bot.send_message(user.id, "hi")
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{fake_api.base_url}{fake_api.token}/sendMessage",
            json={"chat_id": users[30].id, "text": "hi"},
        )
    assert r.status_code == 429
    assert r.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    fake_clock.advance(1.0)
    await fake_bot.send_message(users[30].id, "hi")
    assert fake_api.count("sendMessage", 429) == 1 and fake_api.count("sendMessage", 200) == 31


def test_limits_unit_group_window_and_edits() -> None:
    clock = FakeClock()
    limits = FloodLimits(clock, enabled=True)
    for _ in range(20):
        assert limits.check(-100, "group") is None
        clock.advance(0.5)
    assert limits.check(-100, "group") == 50  # first send at t=0 leaves the window at t=60
    clock.advance(50)
    assert limits.check(-100, "group") is None
    before = len(limits.global_window.events)
    assert limits.check(7, "private", count_global=False) is None  # edits: per chat only
    assert len(limits.global_window.events) == before
    for _ in range(2):
        assert limits.check(7, "private") is None
    assert limits.check(7, "private") == 1  # bucket of 3 used up, refills at 1/s
    clock.advance(0.5)
    assert limits.check(7, "private") == 1  # still half a token short -> rounds up to 1
    clock.advance(0.5)
    assert limits.check(7, "private") is None


@pytest.mark.asyncio
async def test_fault_injection_500_then_success(fake_api: FakeBotApi, fake_bot: Bot) -> None:
    user = fake_api.add_user()
    fake_api.fail_next(1, 500, method="sendMessage")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await fake_bot.send_message(user.id, "first try")
    await fake_bot.get_me()
    sent = await fake_bot.send_message(user.id, "second try")
    assert sent.text == "second try" and fake_api.texts_to(user.id) == ["second try"]
    fake_api.fail_next(1, 502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await fake_bot.get_me()
    fake_api.hang_next(1, seconds=0.5, method="sendMessage")
    with pytest.raises(NetworkError):  # TimedOut is a NetworkError
        await fake_bot.send_message(user.id, "slow", read_timeout=0.1)
    await asyncio.sleep(0.6)
    assert fake_api.texts_to(user.id)[-1] == "slow"  # delivered despite the timeout


@pytest.mark.asyncio
async def test_groups_and_control_http_routes(fake_api: FakeBotApi, fake_bot: Bot) -> None:
    async with httpx.AsyncClient(base_url=fake_api.url) as client:
        r = await client.post("/_control/add_user", json={"first_name": "Remote"})
        uid = r.json()["result"]["id"]
        r = await client.post(
            "/_control/add_group", json={"title": "Haus", "member_ids": [uid], "supergroup": True}
        )
        gid = r.json()["result"]["id"]
        assert str(gid).startswith("-100")
        await client.post(
            "/_control/inject_text", json={"user_id": uid, "text": "/help", "chat_id": gid}
        )
        (update,) = await fake_bot.get_updates()
        assert update.message.chat.type == "supergroup"
        await fake_bot.send_message(gid, "Hilfe", reply_markup=keyboard(("OK", "ok")))
        msgs = (await client.get("/_control/messages", params={"chat_id": gid})).json()
        assert msgs["result"][0]["buttons"] == [["OK"]]
        log = (await client.get("/_control/log", params={"since": 0})).json()["result"]
        assert [rec["method"] for rec in log["records"]][-1] == "sendMessage"
        r = await client.post(
            "/_control/press_button",
            json={"user_id": uid, "chat_id": gid, "message_id": 1, "callback_data": "nope"},
        )
        assert r.status_code == 400
        chat = await fake_bot.get_chat(gid)
        assert chat.title == "Haus"


def test_html_and_markdown_parsing() -> None:
    text, ents = parse("<b>fett</b> und <a href='https://x.org'>link</a> &lt;3", "HTML")
    assert text == "fett und link <3"
    assert [(e["type"], e["offset"], e["length"]) for e in ents] == [
        ("bold", 0, 4),
        ("text_link", 9, 4),
    ]
    text, ents = parse("*a* \\. _b_", "MarkdownV2")
    assert text == "a . b" and [e["type"] for e in ents] == ["bold", "italic"]


@pytest.mark.asyncio
async def test_real_ptb_application_polls_and_replies(fake_api: FakeBotApi) -> None:
    from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(
            update.effective_chat.id, "Willkommen", reply_markup=keyboard(("Weiter", "next"))
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text("Weiter geht's")

    app = (
        Application.builder()
        .token(fake_api.token)
        .base_url(fake_api.base_url)
        .base_file_url(fake_api.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    user = fake_api.add_user()
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        fake_api.inject_text(user.id, "/start")
        for _ in range(100):
            if fake_api.texts_to(user.id):
                break
            await asyncio.sleep(0.02)
        msg = fake_api.last_message(user.id)
        assert msg is not None and msg.text == "Willkommen" and msg.buttons == [["Weiter"]]
        qid = fake_api.press_button(user.id, msg.message_id, "next")
        for _ in range(100):
            if msg.text == "Weiter geht's":
                break
            await asyncio.sleep(0.02)
        assert msg.text == "Weiter geht's" and fake_api.queries[qid].answered
        await app.updater.stop()
        await app.stop()
