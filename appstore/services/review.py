"""The review workflow of an uploaded version, and the lifecycle of published ones.

    draft ──submit──▶ submitted ──approve──▶ approved ──publish──▶ published
      ▲                   │                                          │
      └──(re-submit)── rejected ◀──reject──┘           suspend ⇄ activate, deprecate

Suspending, deprecating or un-deprecating a version changes what the store offers for new
installs only; releases already installed are never touched (KubeSphere semantics).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from appstore import permissions
from appstore.models import AppVersion, ReviewDecision
from bluedock_portal.errors import Conflict, InvalidInput, PermissionDenied
from tenants.services.audit import audit_record

from .catalog import apps_refresh_latest

R = AppVersion.Review


def _locked(version: AppVersion) -> AppVersion:
    return AppVersion.objects.select_for_update(of=("self",)).select_related("app", "app__tenant").get(pk=version.pk)


def _require_state(version: AppVersion, allowed: tuple[str, ...], verb: str) -> None:
    if version.review_state not in allowed:
        raise Conflict(f"{version} is {version.review_state}; only {' or '.join(allowed)} versions can be {verb}.",
                       code="review_state_invalid", state=version.review_state)


def _transition(version: AppVersion, *, actor, action: str, comment: str = "", **changes) -> AppVersion:
    before = {k: getattr(version, k) for k in changes}
    for field, value in changes.items():
        setattr(version, field, value)
    version.save(update_fields=list(changes))
    ReviewDecision.objects.create(app_version=version, actor=actor, action=action, comment=comment)
    audit_record(actor=actor, action=f"appstore.version_{action}", target=version, tenant=version.app.tenant,
                 before={k: _plain(v) for k, v in before.items()},
                 after={k: _plain(v) for k, v in changes.items()}, reason=comment[:500])
    return version


def _plain(value):
    return value.pk if hasattr(value, "pk") else (value.isoformat() if hasattr(value, "isoformat") else value)


def version_submit(*, version: AppVersion, actor, comment: str = "") -> AppVersion:
    with transaction.atomic():
        version = _locked(version)
        if not permissions.can_publish(actor, version.app.tenant):
            raise PermissionDenied(f"You need the publisher role on the owner of {version} to submit it.")
        _require_state(version, (R.DRAFT, R.REJECTED), "submitted")
        return _transition(version, actor=actor, action="submit", comment=comment, review_state=R.SUBMITTED,
                           submitted_by=actor)


def version_approve(*, version: AppVersion, actor, comment: str = "") -> AppVersion:
    with transaction.atomic():
        version = _locked(version)
        if not permissions.can_review(actor, version.app.tenant):
            raise PermissionDenied(f"You need the reviewer role on the owner of {version} to approve it.")
        _require_state(version, (R.SUBMITTED,), "approved")
        if version.needs_operator_approval and not permissions.is_operator(actor):
            kinds = version.cluster_scoped_kinds or ["CustomResourceDefinition"]
            raise PermissionDenied(f"{version} creates cluster-scoped objects ({', '.join(kinds)}); only a platform "
                                   "operator may approve it.", code="chart_needs_operator_approval", kinds=kinds)
        return _transition(version, actor=actor, action="approve", comment=comment, review_state=R.APPROVED,
                           reviewed_by=actor, review_comment=comment)


def version_reject(*, version: AppVersion, actor, comment: str) -> AppVersion:
    if not comment.strip():
        raise InvalidInput("Say why the version is rejected, so the publisher can fix it.", code="comment_required",
                           field="comment")
    with transaction.atomic():
        version = _locked(version)
        if not permissions.can_review(actor, version.app.tenant):
            raise PermissionDenied(f"You need the reviewer role on the owner of {version} to reject it.")
        _require_state(version, (R.SUBMITTED, R.APPROVED), "rejected")
        return _transition(version, actor=actor, action="reject", comment=comment, review_state=R.REJECTED,
                           reviewed_by=actor, review_comment=comment)


def version_publish(*, version: AppVersion, actor) -> AppVersion:
    with transaction.atomic():
        version = _locked(version)
        tenant = version.app.tenant
        if not (permissions.can_publish(actor, tenant) or permissions.can_review(actor, tenant)):
            raise PermissionDenied(f"You need the publisher role on the owner of {version} to publish it.")
        _require_state(version, (R.APPROVED,), "published")
        _transition(version, actor=actor, action="publish", review_state=R.PUBLISHED, published_at=timezone.now())
        apps_refresh_latest(app_ids=[version.app_id])
        return version


def version_set_status(*, version: AppVersion, actor, status: str, comment: str = "") -> AppVersion:
    """Suspend or re-activate a published version for new installs (installed releases are untouched)."""
    with transaction.atomic():
        version = _locked(version)
        _require_curator(version, actor, "suspend or activate")
        _require_state(version, (R.PUBLISHED,), "suspended or activated")
        if version.status == status:
            return version
        action = "suspend" if status == AppVersion.Status.SUSPENDED else "activate"
        _transition(version, actor=actor, action=action, comment=comment, status=status)
        apps_refresh_latest(app_ids=[version.app_id])
        return version


def version_deprecate(*, version: AppVersion, actor, deprecated: bool = True) -> AppVersion:
    with transaction.atomic():
        version = _locked(version)
        _require_curator(version, actor, "deprecate")
        if version.deprecated == deprecated:
            return version
        _transition(version, actor=actor, action="deprecate" if deprecated else "undeprecate", deprecated=deprecated)
        app = version.app
        if app.latest_version_id == version.pk and app.deprecated != deprecated:
            app.deprecated = deprecated
            app.save(update_fields=["deprecated"])
        return version


def _require_curator(version: AppVersion, actor, verb: str) -> None:
    if not permissions.can_review(actor, version.app.tenant):
        raise PermissionDenied(f"You need the reviewer role on the owner of {version} to {verb} it.")


def app_set_state(*, app, actor, state: str, comment: str = ""):
    """Suspend or re-activate a whole app in the store (its versions and installed releases stay as they are)."""
    from appstore.models import App

    with transaction.atomic():
        app = App.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=app.pk)
        if not permissions.can_review(actor, app.tenant):
            raise PermissionDenied(f"You need the reviewer role on the owner of {app.name} to change its state.")
        if app.state == state:
            return app
        before = app.state
        app.state = state
        app.save(update_fields=["state", "updated_at"])
        audit_record(actor=actor, action=f"appstore.app_{'suspend' if state == App.State.SUSPENDED else 'activate'}",
                     target=app, tenant=app.tenant, before={"state": before}, after={"state": state},
                     reason=comment[:500])
        return app
