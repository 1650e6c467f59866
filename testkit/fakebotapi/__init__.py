"""A faithful fake of the Telegram Bot API (api.telegram.org) for tests and benchmarks."""

from .errors import ApiError
from .limits import FakeClock, FloodLimits
from .server import DEFAULT_TOKEN, FakeBotApi, Fault
from .state import BotMessage, CallbackQuery, CallRecord, Chat, StoredFile, User

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "BotMessage",
    "CallRecord",
    "CallbackQuery",
    "Chat",
    "FakeBotApi",
    "FakeClock",
    "Fault",
    "FloodLimits",
    "StoredFile",
    "User",
]
