"""What a Ukrainian, Russian and Arabic resident reads on Telegram when choosing their language
and starting a feedback: the confirmation names the language as the language itself says it,
and the kind question asks plainly (the fake Bot API server shows what Telegram would)."""

from __future__ import annotations

import pytest

from handlers.i18n import LANGUAGE_NAMES
from tests.e2e.conftest import RunningBot

pytestmark = pytest.mark.e2e

SEEN = {
    "uk": (
        "Відтепер я писатиму вам українською. Просто надішліть мені ваше звернення повідомленням.",
        "Що це за звернення?",
        ["Пропозиція", "Критика", "Питання", "Подяка"],
    ),
    "ru": (
        "Теперь я буду писать вам по-русски. Просто отправьте мне ваше обращение сообщением.",
        "Что это за обращение?",
        ["Предложение", "Критика", "Вопрос", "Благодарность"],
    ),
    "ar": (
        "سأكتب لكم من الآن فصاعدًا باللغة العربية. يكفي أن ترسلوا إليّ ملاحظتكم في رسالة.",
        "ما نوع هذه الملاحظة؟",
        ["اقتراح", "نقد", "سؤال", "إشادة"],
    ),
}


@pytest.mark.parametrize("language", sorted(SEEN))
async def test_the_language_and_the_kind_question_read_as_a_native_speaker_writes(
    bot: RunningBot, language: str
) -> None:
    confirmed, kind_question, kinds = SEEN[language]
    olena = bot.resident("Olena", language_code=language)

    bot.api.inject_text(olena.id, "/language")
    (picker,) = await bot.messages(olena.id, 1)
    query = bot.press(olena.id, picker, LANGUAGE_NAMES[language])
    await bot.edited(picker, 1)
    assert picker.text == confirmed
    await bot.answered(query)

    bot.api.inject_text(olena.id, "Більше вечірніх курсів")
    prompt = await bot.message_with(olena.id, kind_question)
    assert prompt.text == kind_question
    assert [label for row in prompt.buttons for label in row] == kinds
    assert (await bot.contact(olena.id)).language == language
