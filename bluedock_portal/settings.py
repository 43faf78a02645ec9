"""BlueDock Portal settings: one module, every value from the environment.

Defaults suit a laptop (``make run``); production differs only by environment
variables, all listed in ``.env.example``.
"""

import ipaddress
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .env import database_from_url, env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set (or DEBUG=true for a laptop)")
    SECRET_KEY = "insecure-laptop-only-key"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "treebeard",
    "mozilla_django_oidc",
    "tenants",
    "sandbox",
    "appstore",
    "scheduling",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "bluedock_portal.middleware.RequestIdMiddleware",
    "bluedock_portal.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bluedock_portal.urls"
WSGI_APPLICATION = "bluedock_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "bluedock_portal.context_processors.portal",
            ],
        },
    }
]

DATABASES = {"default": database_from_url("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'portal.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "bluedock"),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:tenant-tree"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"

# Bodies above this size are refused with 413 before any parser reads them.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1_048_576, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

# Fernet keys for credentials at rest, newest first (empty: derived from SECRET_KEY).
CREDENTIALS_KEYS = [k for k in env_secret("CREDENTIALS_KEYS", "").split(",") if k.strip()]

# --- Tenancy -------------------------------------------------------------------------------
# Keystone's max_project_tree_depth defaults to 5 (not counting the domain); so do we.
TENANT_MAX_DEPTH = env_int("TENANT_MAX_DEPTH", 5, minimum=1, maximum=30)

# --- Kubernetes ------------------------------------------------------------------------------
# Prefixes the clusters' authenticators add to portal identities (like --oidc-username-prefix).
KUBERNETES_USER_PREFIX = env_str("KUBERNETES_USER_PREFIX", "")
KUBERNETES_GROUP_PREFIX = env_str("KUBERNETES_GROUP_PREFIX", "")
# The platform's own namespaces, refused to tenants like kube-* and default (namespaces.is_reserved).
RESERVED_NAMESPACES = env_list("RESERVED_NAMESPACES", ["cert-manager", "ingress-nginx", "monitoring", "logging",
                                                       "bluedock", "bluedock-system"])
# The name a user's RoleBindings give them: what the clusters' authenticator takes as the username
# (--oidc-username-claim). "username" is the portal's, which an SSO user gets from the IdP at first
# login, with "-2" added when taken; "sub" (or "email") names exactly the IdP account that signs in.
KUBERNETES_USERNAME_CLAIM = env_str("KUBERNETES_USERNAME_CLAIM", "username")
if KUBERNETES_USERNAME_CLAIM not in ("username", "sub", "email"):
    raise ImproperlyConfigured(
        f"KUBERNETES_USERNAME_CLAIM must be username, sub or email, got {KUBERNETES_USERNAME_CLAIM!r}")
# Container defaults stamped into every namespace's LimitRange (cpu millicores, memory MiB).
NAMESPACE_DEFAULT_REQUEST = {"cpu": env_int("NAMESPACE_DEFAULT_CPU_REQUEST", 100, minimum=1),
                             "memory": env_int("NAMESPACE_DEFAULT_MEMORY_REQUEST", 128, minimum=1)}
NAMESPACE_DEFAULT_LIMIT = {"cpu": env_int("NAMESPACE_DEFAULT_CPU_LIMIT", 500, minimum=1),
                           "memory": env_int("NAMESPACE_DEFAULT_MEMORY_LIMIT", 512, minimum=1)}

# --- Keystone --------------------------------------------------------------------------------
KEYSTONE_ENABLED = env_bool("KEYSTONE_ENABLED", False)
KEYSTONE_AUTH_URL = env_str("KEYSTONE_AUTH_URL", "")
KEYSTONE_USERNAME = env_str("KEYSTONE_USERNAME", "admin")
KEYSTONE_PASSWORD = env_secret("KEYSTONE_PASSWORD", "")
KEYSTONE_PROJECT_NAME = env_str("KEYSTONE_PROJECT_NAME", "admin")
KEYSTONE_USER_DOMAIN = env_str("KEYSTONE_USER_DOMAIN", "Default")
KEYSTONE_PROJECT_DOMAIN = env_str("KEYSTONE_PROJECT_DOMAIN", "Default")
# Seconds per Keystone request; an API call waits on it, so keep it well under a proxy's timeout.
KEYSTONE_TIMEOUT = env_int("KEYSTONE_TIMEOUT", 10, minimum=1, maximum=120)
# Domain that portal-created root tenants go into, and the domains imported.
KEYSTONE_DOMAIN_ID = env_str("KEYSTONE_DOMAIN_ID", "default")
KEYSTONE_EXCLUDE_PROJECTS = env_list("KEYSTONE_EXCLUDE_PROJECTS", ["admin", "service"])
if KEYSTONE_ENABLED and not KEYSTONE_AUTH_URL:
    raise ImproperlyConfigured("KEYSTONE_AUTH_URL must be set when KEYSTONE_ENABLED=true")

# --- App store -------------------------------------------------------------------------------
# The helm binary (scripts/install-helm.sh puts the pinned v3.19.0 there) and its per-call timeout.
HELM_BINARY = env_str("HELM_BINARY", str(BASE_DIR / ".cache" / "tools" / "helm"))
HELM_TIMEOUT = env_int("HELM_TIMEOUT", 30, minimum=1, maximum=600)
# Upload limits: the .tgz, its expanded size, its entry count and the expansion ratio (bomb guard).
APPSTORE_MAX_CHART_BYTES = env_int("APPSTORE_MAX_CHART_BYTES", 512 * 1024, minimum=1024)
APPSTORE_MAX_UNCOMPRESSED_BYTES = env_int("APPSTORE_MAX_UNCOMPRESSED_BYTES", 8 * 1024 * 1024, minimum=1024)
APPSTORE_MAX_FILES = env_int("APPSTORE_MAX_FILES", 500, minimum=1)
APPSTORE_MAX_RATIO = env_int("APPSTORE_MAX_RATIO", 100, minimum=2)
# Repository sync: the largest index.yaml accepted, the HTTP timeout, the beat interval.
APPSTORE_INDEX_MAX_BYTES = env_int("APPSTORE_INDEX_MAX_BYTES", 64 * 1024 * 1024, minimum=1024)
APPSTORE_HTTP_TIMEOUT = env_int("APPSTORE_HTTP_TIMEOUT", 20, minimum=1, maximum=300)
# Networks the workers never connect to for tenants' repositories and registries (backends/egress.py):
# link-local (the cloud's metadata service) and unspecified by default; add internal ranges to taste.
EGRESS_BLOCKED_NETWORKS = env_list("EGRESS_BLOCKED_NETWORKS", ["169.254.0.0/16", "fe80::/10", "0.0.0.0/8", "::/128",
                                                               "fd00:ec2::254/128"])
for _network in EGRESS_BLOCKED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"EGRESS_BLOCKED_NETWORKS: {_network!r} is not a network, e.g. 10.0.0.0/8") from None

# --- OIDC single sign-on ------------------------------------------------------------------
OIDC_ENABLED = env_bool("OIDC_ENABLED", False)
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_secret("OIDC_RP_CLIENT_SECRET", "")
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile")
OIDC_OP_ISSUER = env_str("OIDC_OP_ISSUER", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_OP_LOGOUT_ENDPOINT = env_str("OIDC_OP_LOGOUT_ENDPOINT", "")
# Bearer tokens on the API are checked here (RFC 7662) and taken only if issued to the portal or
# to a client in OIDC_API_CLIENTS: userinfo alone answers for a token of any client of the realm.
OIDC_OP_INTROSPECTION_ENDPOINT = env_str("OIDC_OP_INTROSPECTION_ENDPOINT", "")
OIDC_API_CLIENTS = env_list("OIDC_API_CLIENTS", [])
# Seconds an accepted introspection answer is kept (0: ask the provider on every call).
OIDC_INTROSPECTION_CACHE_SECONDS = env_int("OIDC_INTROSPECTION_CACHE_SECONDS", 60, minimum=0, maximum=3600)
# The claim whose values become the user's groups (and so group memberships).
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_CREATE_USER = env_bool("OIDC_CREATE_USER", True)
# mozilla-django-oidc waits forever by default; a hung IdP must not hold web workers.
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10, minimum=1)
OIDC_VERIFY_SSL = env_bool("OIDC_VERIFY_SSL", True)
# Where the OIDC callback sends people when the IdP refuses them or the flow fails.
LOGIN_REDIRECT_URL_FAILURE = "login"
if OIDC_ENABLED:
    missing = [
        name
        for name in (
            "OIDC_OP_ISSUER",
            "OIDC_RP_CLIENT_ID",
            "OIDC_OP_AUTHORIZATION_ENDPOINT",
            "OIDC_OP_TOKEN_ENDPOINT",
            "OIDC_OP_USER_ENDPOINT",
            "OIDC_OP_JWKS_ENDPOINT",
        )
        if not globals()[name]
    ]
    if missing:
        raise ImproperlyConfigured(f"OIDC_ENABLED=true needs {', '.join(missing)}")
    AUTHENTICATION_BACKENDS.append("tenants.oidc.PortalOIDCBackend")

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "bluedock_portal.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        # Inert unless OIDC_ENABLED; see its docstring for why it is always listed.
        "bluedock_portal.api.authentication.OidcBearerAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "bluedock_portal.api.pagination.PortalCursorPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "bluedock_portal.api.errors.problem_exception_handler",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BlueDock Portal API",
    "DESCRIPTION": "Tenants, quota plans, memberships, namespaces, audit and operations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Tenants, apps and app versions share the active/suspended lifecycle: one enum, one name.
    "ENUM_NAME_OVERRIDES": {"ActiveSuspendedEnum": "appstore.models.App.State",
                            "ReleaseStatusEnum": "appstore.models.ReleaseStatus",
                            # The nested field is "policy", as in the engine; "PolicyEnum" would say nothing.
                            "BorrowPreemptPolicyEnum": "scheduling.engine.model.BORROW_PREEMPT_POLICIES"},
}

# --- Celery ---------------------------------------------------------------------------------
# The scheduling cycle (scheduling/tasks.py): beat starts a tick every SCHEDULING_INTERVAL
# seconds; within its tick the worker keeps passing, polling every SCHEDULING_POLL_MS when a pass
# decided nothing, so a new pod waits about one pass, not one tick (0 = one pass per tick).
SCHEDULING_INTERVAL = env_int("SCHEDULING_INTERVAL", 1, minimum=1)
SCHEDULING_POLL_MS = env_int("SCHEDULING_POLL_MS", 200, minimum=0, maximum=60_000)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360, minimum=1)
# Redis re-delivers unacknowledged tasks after this; it must exceed the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT + 60,
    # Lets several portals (or test runs) share one Redis without taking each other's tasks.
    "global_keyprefix": env_str("CELERY_KEY_PREFIX", ""),
}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / "var" / "celerybeat-schedule")

# Operations stuck in queued/running longer than this are re-enqueued by the reconciler.
OPERATION_STUCK_AFTER_SECONDS = env_int("OPERATION_STUCK_AFTER_SECONDS", 600, minimum=10)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
