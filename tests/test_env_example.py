import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_lists_every_setting_read_from_the_environment():
    settings = (ROOT / "bluedock_portal" / "settings.py").read_text()
    read = set(re.findall(r'(?:env_\w+|database_from_url)\(\s*"([A-Z0-9_]+)"', settings))
    listed = set(re.findall(r"^(?:# )?([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    # The OIDC section of .env.example is written with the OIDC work, under its placeholder heading.
    missing = sorted(name for name in read - listed if not name.startswith("OIDC_"))
    assert not missing, f".env.example does not list {', '.join(missing)}"
    assert "# --- OIDC single sign-on" in (ROOT / ".env.example").read_text()
