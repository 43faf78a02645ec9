"""What a user below member may see of a release's values and manifests: no secrets.

Kubernetes' ``view`` role cannot read Secrets, and Helm keeps a release's values and
manifest in a Secret for that reason. The portal shows revisions to viewers too, so it
hides what they could not read in the cluster: the ``data`` and ``stringData`` of Secret
objects, and every value of the user's overrides (a password given as a value ends up in
a Secret; which keys are set stays visible). Pure: standard library and PyYAML.
"""

from __future__ import annotations

import yaml

REDACTED = "<redacted>"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def values(value):
    """The same structure with every scalar replaced (keys and list lengths stay visible)."""
    if isinstance(value, dict):
        return {key: values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [values(item) for item in value]
    return value if value is None else REDACTED


def manifest(text: str) -> str:
    """The manifest with the data of its Secrets redacted; other documents are unchanged."""
    if not text or "Secret" not in text:
        return text
    try:
        documents = list(yaml.load_all(text, Loader=_Loader))  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError:
        return REDACTED
    out = []
    for doc in documents:
        if doc is None:
            continue
        if isinstance(doc, dict) and doc.get("kind") == "Secret":
            for field in ("data", "stringData"):
                if isinstance(doc.get(field), dict):
                    doc[field] = {key: REDACTED for key in doc[field]}
                elif doc.get(field) is not None:
                    doc[field] = REDACTED
        out.append("---\n" + yaml.dump(doc, Dumper=_Dumper, sort_keys=True, default_flow_style=False))
    return "".join(out)


def values_changes(changes: list[dict]) -> list[dict]:
    """A values diff (``render.values_diff``) with its old and new values redacted."""
    return [{**change, **{k: values(change[k]) for k in ("from", "to") if k in change}} for change in changes]
