"""Tree endpoints cost the same number of queries however large the tree is."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.treebuild import build_tree, check_sample
from tenants.models import Membership, Role, Tenant

pytestmark = pytest.mark.django_db

SMALL = (1, 2, 3, 3)  # 27 tenants
LARGE = (1, 2, 33, 3)  # 267 tenants: about 10x, with 11x the children under the listed node


def _endpoints(tree) -> dict[str, str]:
    team = tree.levels[1][0]  # alice's tenant, near the root
    group = tree.levels[2][0]
    leaf = tree.levels[-1][0]
    return {
        "list": f"/api/v1/tenants/?parent={team.pk}",
        "children": f"/api/v1/tenants/{team.pk}/children/",
        "ancestors": f"/api/v1/tenants/{leaf.pk}/ancestors/",
        "quota": f"/api/v1/tenants/{group.pk}/quota/",
        "tree": f"/api/v1/tenants/{team.pk}/tree/?depth=1",
    }


@pytest.fixture
def trees(alice):
    small, large = build_tree(SMALL, slug="small"), build_tree(LARGE, slug="large")
    for tree in (small, large):
        Membership.objects.create(tenant=tree.levels[1][0], user=alice, role=Role.TENANT_ADMIN, inherited=True)
    return small, large


def _queries(client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize("endpoint", ["list", "children", "ancestors", "quota", "tree"])
@pytest.mark.parametrize("persona", ["alice", "operator"])
def test_query_count_does_not_grow_with_the_tree(api, request, trees, endpoint, persona):
    small, large = trees
    client = api(request.getfixturevalue(persona))
    client.get("/api/v1/users/me/")  # the session's first use is not what we measure
    small_count, small_sql = _queries(client, _endpoints(small)[endpoint])
    large_count, large_sql = _queries(client, _endpoints(large)[endpoint])
    assert small_count == large_count, "\n".join(["small:", *small_sql, "large:", *large_sql])


def test_the_endpoints_answer_with_the_larger_tree(api, alice, trees):
    _, large = trees
    client = api(alice)
    listed = client.get(_endpoints(large)["list"]).json()["results"]
    assert len(listed) == 33 and all(t["my_role"] == "tenant-admin" for t in listed)
    ancestors = client.get(_endpoints(large)["ancestors"]).json()
    # alice's membership starts at level 2: the root is not hers to see.
    assert [t["depth"] for t in ancestors] == [2, 3]


def test_bulk_built_tree_is_what_treebeard_would_have_built(trees):
    small, large = trees
    assert small.count == 27 and large.count == 267
    assert check_sample(small) == [] and check_sample(large) == []
    assert Tenant.objects.find_problems() == ([], [], [], [], [])
    team = Tenant.objects.get(pk=large.levels[1][0].pk)
    extra = Tenant(parent=team, slug="extra", name="Extra", full_slug="large/n1/extra")
    child = Tenant.objects.add_child(team, instance=extra)
    assert child.path == team.path + "000Y"  # the 34th child: treebeard continues our numbering
