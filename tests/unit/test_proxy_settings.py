"""The outbound proxy: `telegram.proxy_url` and `matrix.proxy_url`, else the proxy the
environment names, as a city's IT sets it for every program on the machine."""

from __future__ import annotations

import pytest

from bot.cli.main import secrets_of
from bot.config import ConfigError, load_settings
from testkit.support import EXAMPLE_CONFIG

CITY_PROXY = "http://proxy.stadt.example:3128"
HOMESERVER = "MITREDEN_MATRIX_HOMESERVER"


def test_no_proxy_without_setting_or_variables() -> None:
    settings = load_settings(EXAMPLE_CONFIG, environ={})
    assert (settings.telegram.proxy_url, settings.matrix.proxy_url) == ("", "")


def test_an_empty_setting_takes_https_proxy_from_the_environment() -> None:
    environ = {"HTTPS_PROXY": CITY_PROXY, HOMESERVER: "https://matrix.stadt.example"}
    settings = load_settings(EXAMPLE_CONFIG, environ=environ)
    assert settings.telegram.proxy_url == CITY_PROXY
    assert settings.matrix.proxy_url == CITY_PROXY


def test_all_proxy_in_lower_case_serves_as_well() -> None:
    settings = load_settings(EXAMPLE_CONFIG, environ={"all_proxy": CITY_PROXY})
    assert settings.telegram.proxy_url == CITY_PROXY


def test_https_proxy_comes_before_all_proxy() -> None:
    environ = {"ALL_PROXY": "http://other.example:8080", "https_proxy": CITY_PROXY}
    assert load_settings(EXAMPLE_CONFIG, environ=environ).telegram.proxy_url == CITY_PROXY


def test_the_setting_wins_over_the_environment() -> None:
    own = "http://bot-proxy.stadt.example:8080"
    environ = {"HTTPS_PROXY": CITY_PROXY, "MITREDEN_TELEGRAM_PROXY_URL": own}
    assert load_settings(EXAMPLE_CONFIG, environ=environ).telegram.proxy_url == own


def test_no_proxy_exempts_a_homeserver_on_the_same_machine_or_network() -> None:
    for homeserver in ("http://localhost:8008", "https://matrix.intern.stadt.example"):
        environ = {
            "HTTPS_PROXY": CITY_PROXY,
            "NO_PROXY": "localhost,127.0.0.1,.intern.stadt.example",
            HOMESERVER: homeserver,
        }
        settings = load_settings(EXAMPLE_CONFIG, environ=environ)
        assert settings.matrix.proxy_url == "", homeserver
        assert settings.telegram.proxy_url == CITY_PROXY  # api.telegram.org is not exempt


def test_a_proxy_telegram_cannot_use_stops_the_start_without_showing_its_password() -> None:
    environ = {"ALL_PROXY": "socks5://amt:geheim@proxy.stadt.example:1080"}
    with pytest.raises(ConfigError, match=r"telegram\.proxy_url") as refused:
        load_settings(EXAMPLE_CONFIG, environ=environ)
    assert "socks5" in str(refused.value) and "geheim" not in str(refused.value)


def test_a_proxy_password_is_kept_out_of_all_output() -> None:
    environ = {"HTTPS_PROXY": "http://amt:geheim@proxy.stadt.example:3128"}
    assert "geheim" in secrets_of(load_settings(EXAMPLE_CONFIG, environ=environ))
