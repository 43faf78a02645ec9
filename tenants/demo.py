"""The demo logins, kept free of Django imports so ``scripts/run.py`` can print them before Django starts."""

OPERATOR = "operator"
PEOPLE = ("alice", "bob", "charlie", "dana")

# Who each demo person is, for the start-up banner and the README.
ROLES = {
    OPERATOR: "operator (staff, superuser): everything, and the admin console",
    "alice": "tenant-admin of acme/team-a and everything below it",
    "bob": "member of acme/team-a and everything below it",
    "charlie": "tenant-admin of acme/team-b",
    "dana": "member of acme/research/vision and everything below it",
}


def demo_password(username: str) -> str:
    return f"{username}-demo-pass"
