"""SemVer 2.0.0 (semver.org): parsing and precedence, as Helm requires for chart versions.

Helm itself accepts a leading "v" and missing minor/patch ("1.2") through Masterminds/semver;
we require the strict form for uploads (what `helm package` writes), so that every stored
version has exactly one spelling and "1.2" and "1.2.0" can never both exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from .errors import ChartError

# The regular expression published on semver.org, unchanged.
_SEMVER = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
MAX_LENGTH = 64


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _key(self):
        # A release sorts above its prereleases; numeric identifiers sort below alphanumeric
        # ones and compare as numbers; a longer prerelease wins when all earlier parts tie.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        # Build metadata does not take part in precedence (semver.org §10).
        return isinstance(other, Version) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        return text + (f"+{self.build}" if self.build else "")


def parse(text: object) -> Version:
    """Parse a strict SemVer 2 string or raise ChartError(chart_semver_invalid)."""
    if not isinstance(text, str) or len(text) > MAX_LENGTH or not (m := _SEMVER.fullmatch(text)):
        shown = str(text)[:MAX_LENGTH]
        raise ChartError("chart_semver_invalid", f"version {shown!r} is not a SemVer 2 version (e.g. 1.2.3 or "
                         "1.2.3-rc.1)", version=shown)
    pre = m.group("prerelease")
    return Version(int(m.group("major")), int(m.group("minor")), int(m.group("patch")),
                   tuple(pre.split(".")) if pre else (), m.group("build") or "")


def is_valid(text: object) -> bool:
    try:
        parse(text)
    except ChartError:
        return False
    return True


def latest(versions: list[str]) -> str | None:
    """The newest non-prerelease version of ``versions`` (invalid ones ignored); None if none."""
    parsed = [v for v in (_try(t) for t in versions) if v is not None and not v.is_prerelease]
    return str(max(parsed)) if parsed else None


def sort_desc(versions: list[str]) -> list[str]:
    """Newest first; unparsable strings go last, in their given order."""
    good = sorted(((v, t) for t in versions if (v := _try(t)) is not None), key=lambda p: p[0], reverse=True)
    return [t for _, t in good] + [t for t in versions if _try(t) is None]


def _try(text: str) -> Version | None:
    try:
        return parse(text)
    except ChartError:
        return None
