import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_lists_every_setting_read_from_the_environment():
    settings = (ROOT / "bluedock_portal" / "settings.py").read_text()
    read = set(re.findall(r'(?:env_\w+|database_from_url)\(\s*"([A-Z0-9_]+)"', settings))
    listed = set(re.findall(r"^(?:# )?([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    missing = sorted(read - listed)
    assert not missing, f".env.example does not list {', '.join(missing)}"
