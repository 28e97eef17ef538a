"""The throwaway Gitea's app.ini (tests.fixtures.gitea.app_ini): loopback only, locked, offline."""

from __future__ import annotations

import configparser
from pathlib import Path

from tests.fixtures.gitea import app_ini


def test_app_ini_keeps_gitea_on_loopback_with_hooks_allowed_to_loopback() -> None:
    text = app_ini(Path("/r"), 3000, Path("/assets"), secret_key="k", internal_token="t")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string("[root]\n" + text)
    assert parser["server"]["HTTP_ADDR"] == "127.0.0.1"
    assert parser["server"]["ROOT_URL"] == "http://127.0.0.1:3000/"
    assert parser["server"]["DISABLE_SSH"] == "true"
    assert parser["server"]["OFFLINE_MODE"] == "true"
    assert parser["server"]["STATIC_ROOT_PATH"] == "/assets"
    assert parser["security"]["INSTALL_LOCK"] == "true"
    assert parser["webhook"]["ALLOWED_HOST_LIST"] == "loopback"
    assert parser["database"]["DB_TYPE"] == "sqlite3"
    assert parser["database"]["PATH"] == "/r/data/gitea.db"
    assert parser["service"]["DISABLE_REGISTRATION"] == "true"
