"""Bulk-built tenant trees for benchmarks and query-count tests.

Rows are written level by level with ``bulk_create`` (one INSERT per level and
batch) instead of one service call per tenant, which would take minutes for
10,000 nodes and measure treebeard's insert path rather than the reads we care
about. The rows are exactly what treebeard would have written: the same
materialised paths (``Tenant._get_path``), depth, numchild, plus our parent FK
and full_slug.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tenants.models import ResourcePlan, Tenant

BATCH = 2000
ROOT_CPU = 1_000_000_000


@dataclass
class BuiltTree:
    levels: list[list[Tenant]]  # levels[0] are the roots

    @property
    def count(self) -> int:
        return sum(len(level) for level in self.levels)


def build_tree(branching: Sequence[int], *, slug: str = "bench", plans: bool = True) -> BuiltTree:
    """Build ``branching[0]`` roots, each node at level d having ``branching[d]`` children.

    (1, 9, 10, 10, 10) gives 1 + 9 + 90 + 900 + 9000 = 10,000 tenants, five levels deep.
    Roots are named ``{slug}``, ``{slug}-2`` … and placed after any existing root. Each
    node gets a cpu plan whose owned splits its parent's evenly, so the plans obey the
    plan rules (children owned ≤ parent owned, no limits to violate).
    """
    last_root = Tenant.objects.filter(depth=1).order_by("-path").values_list("path", flat=True).first()
    first_step = Tenant._str2int(last_root) + 1 if last_root else 1
    levels: list[list[Tenant]] = []
    parents: list[Tenant | None] = [None]
    cpu: dict[str, int] = {}
    for depth, fan_out in enumerate(branching, start=1):
        numchild = branching[depth] if depth < len(branching) else 0
        rows = []
        for parent in parents:
            for i in range(1, fan_out + 1):
                if parent is None:
                    step = first_step + i - 1
                    node_slug = slug if i == 1 else f"{slug}-{i}"
                    full_slug, path = node_slug, Tenant._get_path(None, 1, step)
                else:
                    node_slug = f"n{i}"
                    full_slug, path = f"{parent.full_slug}/{node_slug}", Tenant._get_path(parent.path, depth, i)
                rows.append(Tenant(parent=parent, path=path, depth=depth, numchild=numchild, slug=node_slug,
                                   name=full_slug.replace("/", " / "), full_slug=full_slug))
                cpu[path] = ROOT_CPU if parent is None else cpu[parent.path] // fan_out
        # PostgreSQL and SQLite return the new ids, which the next level needs for its parent FK.
        created = Tenant.objects.bulk_create(rows, batch_size=BATCH)
        if plans:
            ResourcePlan.objects.bulk_create(
                [ResourcePlan(tenant=t, resource="cpu", owned=cpu[t.path]) for t in created], batch_size=BATCH)
        levels.append(created)
        parents = created
    return BuiltTree(levels)


def check_sample(tree: BuiltTree, per_level: int = 3) -> list[str]:
    """Compare a few nodes per level against what treebeard derives from the paths; [] if all agree."""
    problems = []
    for level in tree.levels:
        for node in (level[0], level[len(level) // 2], level[-1])[:per_level]:
            fresh = Tenant.objects.get(pk=node.pk)
            tb_parent = Tenant.objects.get_parent(fresh)
            if (tb_parent.pk if tb_parent else None) != fresh.parent_id:
                problems.append(f"{fresh.full_slug}: treebeard parent {tb_parent} != parent FK {fresh.parent_id}")
            children = Tenant.objects.get_children_count(fresh)
            if children != fresh.numchild:
                problems.append(f"{fresh.full_slug}: numchild {fresh.numchild}, but {children} children")
            if len(fresh.path) != fresh.depth * Tenant.steplen:
                problems.append(f"{fresh.full_slug}: depth {fresh.depth} does not match path {fresh.path}")
            expected = f"{tb_parent.full_slug}/{fresh.slug}" if tb_parent else fresh.slug
            if fresh.full_slug != expected:
                problems.append(f"{fresh.full_slug}: expected full_slug {expected}")
    return problems
