from .audit import AuditEvent
from .clusters import Cluster, ClusterNode, ManagedObject, Namespace, NamespaceUsage
from .identity import ApiToken, OidcIdentity
from .memberships import Membership, Role
from .operations import Operation
from .plans import RESOURCES, ResourcePlan
from .tree import Tenant

__all__ = [
    "RESOURCES",
    "ApiToken",
    "AuditEvent",
    "Cluster",
    "ClusterNode",
    "ManagedObject",
    "Membership",
    "Namespace",
    "NamespaceUsage",
    "OidcIdentity",
    "Operation",
    "ResourcePlan",
    "Role",
    "Tenant",
]
