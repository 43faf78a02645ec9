from .audit import AuditEvent
from .clusters import Cluster, Namespace, NamespaceUsage
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
    "Membership",
    "Namespace",
    "NamespaceUsage",
    "OidcIdentity",
    "Operation",
    "ResourcePlan",
    "Role",
    "Tenant",
]
