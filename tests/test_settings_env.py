"""Bad configuration fails fast, naming the variable."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from bluedock_portal import env


@pytest.mark.parametrize(("helper", "raw", "message"), [
    (lambda: env.env_bool("BD_TEST_FLAG"), "perhaps", "BD_TEST_FLAG must be one of"),
    (lambda: env.env_int("BD_TEST_FLAG", 1), "ten", "BD_TEST_FLAG must be an integer"),
    (lambda: env.env_int("BD_TEST_FLAG", 1, minimum=5), "2", "BD_TEST_FLAG must be at least 5"),
    (lambda: env.database_from_url("BD_TEST_FLAG", "sqlite:///x"), "mysql://h/db", "BD_TEST_FLAG must start with"),
])
def test_bad_values_name_the_variable(monkeypatch, helper, raw, message):
    monkeypatch.setenv("BD_TEST_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match=message):
        helper()


def test_secrets_can_come_from_a_mounted_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("BD_TEST_SECRET_FILE", str(secret))
    assert env.env_secret("BD_TEST_SECRET") == "s3cret"
    monkeypatch.setenv("BD_TEST_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="BD_TEST_SECRET_FILE points to"):
        env.env_secret("BD_TEST_SECRET")


def test_database_urls_parse():
    pg = env.database_from_url("UNSET_VAR_FOR_TEST", "postgresql://u:p%40ss@db.local:5433/portal")
    assert (pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"], pg["NAME"]) == ("u", "p@ss", "db.local", "5433",
                                                                                 "portal")
    assert env.database_from_url("UNSET_VAR_FOR_TEST", "sqlite:////tmp/x.db")["NAME"] == "/tmp/x.db"


def test_the_settings_module_refuses_to_start_without_a_secret_key():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", "import bluedock_portal.settings"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "DEBUG": "false"})
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
