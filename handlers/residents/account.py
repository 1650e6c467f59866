"""Greeting, language, privacy notice, help and leaving a flow."""

from __future__ import annotations

from handlers.context import Deps, Turn
from handlers.i18n import LANGUAGE_NAMES
from handlers.messages import Choice, Reply
from handlers.roles import role_of

LANGUAGE_PAYLOAD = "lang:"


class AccountHandlers:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def start(self, turn: Turn) -> list[Reply]:
        """Greet, offer the languages and say in short what happens with the data; after
        /stop it also resumes the messages the bot sends on its own."""
        if turn.contact.stopped_at is not None:
            await self._deps.store.contacts.set_stopped(turn.contact_id, None)
        greeting = turn._(
            "Willkommen bei mitreden! Hier können Sie der Stadt jederzeit Vorschläge, Kritik, "
            "Fragen oder Lob zum Integrationskonzept schicken. Ihre Rückmeldung geht an die "
            "Arbeitsgruppe, die für das Handlungsfeld zuständig ist, und Sie erfahren, was "
            "daraus wird.\n\nSchreiben Sie einfach los, oder wählen Sie zuerst Ihre Sprache."
        )
        return [
            Reply(greeting, self._language_choices(), choice_columns=2),
            Reply(self._privacy_text(turn)),
        ]

    async def language(self, turn: Turn) -> list[Reply]:
        """`/language [code]`: a shipped code switches at once; an unknown one is said to be
        unknown before the picker, so the picker is not taken for a switch that failed."""
        ask = turn._("Bitte wählen Sie Ihre Sprache.")
        if turn.incoming.args:
            wanted = self._deps.catalogues.match(turn.incoming.args[0])
            if wanted is not None:
                return await self._set_language(turn, wanted)
            ask = turn._("Diese Sprache gibt es hier nicht.") + "\n" + ask
        return [Reply(ask, self._language_choices(), choice_columns=2)]

    async def on_language_choice(self, turn: Turn, code: str) -> list[Reply]:
        if code not in self._deps.catalogues.languages:
            return [Reply(turn._("Diese Sprache gibt es hier nicht."))]
        return await self._set_language(turn, code, replaces_prompt=True)

    async def _set_language(
        self, turn: Turn, code: str, *, replaces_prompt: bool = False
    ) -> list[Reply]:
        await self._deps.store.contacts.set_language(turn.contact_id, code)
        _ = self._deps.catalogues.get(code).gettext
        return [
            Reply(
                _(
                    "Ich schreibe Ihnen ab jetzt auf {language}. Schicken Sie mir einfach Ihre "
                    "Rückmeldung als Nachricht."
                ).format(language=LANGUAGE_NAMES.get(code, code)),
                replaces_prompt=replaces_prompt,
            )
        ]

    async def help(self, turn: Turn) -> list[Reply]:
        rights = turn._(
            "Ihre Daten:\n"
            "/mydata – alles, was über Sie gespeichert ist, als Datei\n"
            "/forget – Ihre Daten löschen\n"
            "/stop – keine Nachrichten mehr von uns aus (/start: wieder)"
        )
        replies = [
            Reply(
                turn._(
                    "So funktioniert mitreden:\n"
                    "Schreiben Sie einfach eine Nachricht, um eine Rückmeldung zu schicken.\n\n"
                    "/feedback – neue Rückmeldung\n"
                    "/status – Stand Ihrer Rückmeldungen, /status F-2026-0042 für eine\n"
                    "/mine – alle Ihre Rückmeldungen\n"
                    "/language – Sprache wählen\n"
                    "/privacy – was gespeichert wird\n"
                    "/cancel – aktuellen Vorgang abbrechen"
                )
                + "\n"
                + turn._("/outcomes – was aus Vorschlägen wurde, mit Begründung")
                + "\n"
                + turn._(
                    "/reply F-2026-0042 Text – der Arbeitsgruppe zu Ihrer Rückmeldung schreiben"
                )
                + "\n\n"
                + rights
                + "\n\n"
                + turn._(
                    "Telegram und Matrix:\n"
                    "/link – beide Konten verbinden (den Code hier holen, im anderen Chat senden)"
                )
            )
        ]
        if (await role_of(self._deps, turn)).is_coordinator:
            replies.append(
                Reply(
                    turn._(
                        "Für Koordinator:innen:\n"
                        "/pending [Gruppe|Handlungsfeld] – offene Rückmeldungen\n"
                        "/item REF – eine Rückmeldung mit Verlauf\n"
                        "/take REF – übernehmen\n"
                        "/assign REF GRUPPE – an eine andere Arbeitsgruppe\n"
                        "/state REF STAND [Anmerkung] – Stand ändern\n"
                        "/reply REF Text – der Person antworten\n"
                        "/note REF Text – interne Notiz\n"
                        "/stats [30d|12w|2026|all] – Zahlen"
                    )
                )
            )
        return replies

    async def whoami(self, turn: Turn) -> list[Reply]:
        """`/whoami`: the ids an administrator writes into the configuration (a coordinator
        as `telegram:123`, a group's chat as `matrix:!room:server`), in that very form."""
        incoming = turn.incoming
        lines = [turn._("Ihre Kennung: {id}").format(id=f"{incoming.platform}:{incoming.user_id}")]
        if incoming.is_group:
            chat = f"{incoming.platform}:{incoming.chat_id}"
            lines.append(turn._("Dieser Chat: {id}").format(id=chat))
        return [Reply("\n".join(lines))]

    async def cancel(self, turn: Turn) -> list[Reply]:
        if await self._deps.store.conversations.clear_state(turn.contact_id):
            return [Reply(turn._("Abgebrochen. Es wurde nichts gespeichert."))]
        return [Reply(turn._("Es gibt gerade nichts abzubrechen."))]

    def _language_choices(self) -> tuple[Choice, ...]:
        return tuple(
            Choice(LANGUAGE_NAMES.get(code, code), LANGUAGE_PAYLOAD + code)
            for code in self._deps.catalogues.languages
        )

    @staticmethod
    def _privacy_text(turn: Turn) -> str:
        return turn._(
            "Datenschutz in Kürze: Gespeichert werden Ihre Rückmeldungen, Ihre Sprache und die "
            "Kennung Ihres Kontos, damit wir Ihnen antworten können. Die zuständige "
            "Arbeitsgruppe sieht Ihre Rückmeldung; Ihren Namen nur, wenn Sie das erlauben. "
            "Mit /privacy lesen Sie das jederzeit wieder. /mydata schickt Ihnen alles, was über "
            "Sie gespeichert ist; /forget löscht es."
        )
