"""The pure chart core: archive safety, SemVer precedence, manifest summaries (no database)."""

from __future__ import annotations

import gzip
import tarfile

import pytest

from appstore.charts import ChartError, archive, manifests, semver
from appstore.charts.index import parse_index

from .charts import CRD, chart_files, member, tgz, valid_chart

SMALL = archive.Limits(max_compressed=64 * 1024, max_uncompressed=1024 * 1024, max_files=50, max_ratio=100)


def test_a_valid_chart_is_read_with_its_metadata():
    info = archive.inspect(valid_chart(), limits=SMALL)
    assert (info.name, info.version, info.type, info.prerelease) == ("hello", "1.0.0", "application", False)
    assert info.values_schema["type"] == "object" and "replicas" in info.values_yaml
    assert info.readme.startswith("# hello") and len(info.digest) == 64


def bomb() -> bytes:
    files = chart_files()
    files["templates/zeros.txt"] = b"0" * 3_000_000
    return tgz(files)


CASES = [
    ("traversal", lambda: tgz(chart_files(), members=[member("hello/../../etc/passwd")]), "chart_path_traversal"),
    ("absolute path", lambda: tgz(chart_files(), members=[member("/etc/cron.d/x")]), "chart_path_traversal"),
    ("symlink", lambda: tgz(chart_files(), members=[member("hello/templates/l.yaml", type=tarfile.SYMTYPE,
                                                           linkname="/etc/passwd")]), "chart_symlink"),
    ("hard link", lambda: tgz(chart_files(), members=[member("hello/x", type=tarfile.LNKTYPE,
                                                             linkname="hello/Chart.yaml")]), "chart_symlink"),
    ("device", lambda: tgz(chart_files(), members=[member("hello/dev", type=tarfile.CHRTYPE)]), "chart_special_file"),
    ("bomb", bomb, "chart_bomb"),
    ("oversized", lambda: b"\x1f\x8b" + b"\0" * (SMALL.max_compressed + 1), "chart_too_large"),
    ("too many files", lambda: tgz({**chart_files(), **{f"templates/f{i}.txt": b"x" for i in range(60)}}),
     "chart_too_many_files"),
    ("not gzip", lambda: b"PK\x03\x04 not a tgz", "chart_archive_invalid"),
    ("gzip but not tar", lambda: gzip.compress(b"hello world" * 100), "chart_archive_invalid"),
    ("missing Chart.yaml", lambda: tgz({k: v for k, v in chart_files().items() if k != "Chart.yaml"}),
     "chart_yaml_missing"),
    ("two top directories", lambda: tgz(chart_files(), members=[member("other/x")]), "chart_layout_invalid"),
    ("bad semver", lambda: valid_chart(version="1.0"), "chart_semver_invalid"),
    ("v-prefixed version", lambda: valid_chart(version="v1.0.0"), "chart_semver_invalid"),
    ("apiVersion v1", lambda: valid_chart(chart={"apiVersion": "v1"}), "chart_api_version"),
    ("library chart", lambda: valid_chart(chart={"type": "library"}), "chart_library"),
    ("non-UTF-8 values", lambda: tgz({**chart_files(), "values.yaml": "image: caf\xe9\n".encode("latin-1")}),
     "chart_not_utf8"),
    ("invalid schema", lambda: valid_chart(schema={"type": "objekt"}), "chart_schema_invalid"),
    ("values failing schema", lambda: valid_chart(values={"replicas": "two", "image": "x"}), "chart_values_invalid"),
    ("name mismatch", lambda: tgz(chart_files(name="other"), top="hello"), "chart_layout_invalid"),
    ("bad chart name", lambda: tgz(chart_files(name="Hello_World"), top="Hello_World"), "chart_name_invalid"),
]


@pytest.mark.parametrize(("case", "build", "code"), CASES, ids=[c[0] for c in CASES])
def test_a_broken_or_hostile_archive_is_refused_with_a_specific_code(case, build, code):
    with pytest.raises(ChartError) as caught:
        archive.inspect(build(), limits=SMALL)
    assert caught.value.code == code, caught.value.detail


@pytest.mark.parametrize(("older", "newer"), [
    ("1.0.0-alpha", "1.0.0-alpha.1"), ("1.0.0-alpha.1", "1.0.0-alpha.beta"), ("1.0.0-alpha.beta", "1.0.0-beta"),
    ("1.0.0-beta.2", "1.0.0-beta.11"), ("1.0.0-rc.1", "1.0.0"), ("1.9.0", "1.10.0"), ("1.0.0", "2.0.0"),
])
def test_semver_precedence_follows_the_spec(older, newer):
    assert semver.parse(older) < semver.parse(newer)


def test_build_metadata_does_not_change_precedence():
    assert semver.parse("1.0.0+build.1") == semver.parse("1.0.0+build.2")


@pytest.mark.parametrize("bad", ["1", "1.2", "01.2.3", "1.2.3-", "1.2.3-01", "v1.2.3", "", None, "1.2.3.4"])
def test_semver_refuses_non_versions(bad):
    assert not semver.is_valid(bad)


def test_latest_is_the_newest_non_prerelease():
    assert semver.latest(["1.0.0", "1.10.0", "1.9.0", "2.0.0-rc.1", "junk"]) == "1.10.0"
    assert semver.latest(["2.0.0-rc.1"]) is None


def test_manifest_summary_finds_cluster_scoped_kinds_crds_and_images():
    cron = ("apiVersion: batch/v1\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n"
            "        spec:\n          containers: [{name: c, image: busybox:1.36}]\n")
    role = "kind: ClusterRole\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: x}\n"
    rendered = "---\n".join([CRD, role, cron])
    summary = manifests.summarize(rendered)
    assert summary.cluster_scoped_kinds == ["ClusterRole", "CustomResourceDefinition"]
    assert summary.has_crds and summary.images == ["busybox:1.36"]


def test_an_index_skips_bad_entries_but_keeps_the_good_ones():
    parsed = parse_index(b"""apiVersion: v1
entries:
  web:
    - {name: web, version: 1.0.0, urls: [web-1.0.0.tgz], digest: abc}
    - {name: web, version: not-semver}
  lib:
    - {name: lib, version: 1.0.0, type: library}
""")
    assert [(r.name, r.version) for r in parsed.records] == [("web", "1.0.0")]
    assert len(parsed.skipped) == 2


@pytest.mark.parametrize("body", [b"{{{", b"just a string", b"apiVersion: v1\n"])
def test_an_index_that_is_not_an_index_is_refused(body):
    with pytest.raises(ChartError) as caught:
        parse_index(body)
    assert caught.value.code == "index_invalid"
