"""Settings for the Cloud Elements instance dashboard.

Everything is read from the environment (and from a `.env` file when present) with
django-environ. Every value has a safe development default except the production secrets:
with DEBUG off, SECRET_KEY and FIELD_ENCRYPTION_KEYS must be set or start-up fails.
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

# --- Core -------------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-" + "not-secret-" * 5
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

# Public base URL of this dashboard. The OAuth callback URL and the webhook receiver URLs sent
# to Cloud Elements are built from it, never from the request's Host header. `make run` sets it
# from HOST and PORT.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not DEBUG and not SITE_URL.startswith("https://"):
    raise ImproperlyConfigured(
        "SITE_URL must be this dashboard's public https:// address when DEBUG is off: the OAuth "
        "callback and webhook URLs sent to Cloud Elements are built from it."
    )
_SITE = urlsplit(SITE_URL)
SITE_ORIGIN = f"{_SITE.scheme}://{_SITE.netloc}"

_SITE_HOST = _SITE.hostname or "127.0.0.1"
if ":" in _SITE_HOST:
    _SITE_HOST = f"[{_SITE_HOST}]"
# The loopback names, and SITE_URL's own host (e.g. `make run HOST=dashboard.local`).
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=list(dict.fromkeys(["127.0.0.1", "localhost", "[::1]", _SITE_HOST]))
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before whitenoise: its runserver command (instances/management/commands/runserver.py)
    # wraps whitenoise's, and the first app providing a command wins.
    "instances",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "ninja",  # the API: its bundled Swagger UI (static files)
    # The product's domains, one app each (docs/architecture.md).
    "instances.accounts",
    "instances.links",
    "instances.events",
    "instances.jobs",
    "instances.imports",
    "instances.health",
    "instances.alerts",
    "instances.campaigns",
    "instances.api",
    "instances.forwarding",
    "instances.elements",
    "instances.sandbox",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "instances.lib.audit_context.AuditContextMiddleware",
    "instances.api.middleware.JsonMethodNotAllowedMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "instances.lib.middleware.ContentSecurityPolicyMiddleware",
    "instances.lib.hosts.CanonicalHostMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication, before the two-factor middleware, so that it also marks what they
    # answer: answers to a signed-in user get Cache-Control: no-store, private.
    "instances.lib.middleware.NoStoreForSignedInMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "instances.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that it turns the login form's refusal of a locked-out client into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------

try:
    with warnings.catch_warnings():
        # django-environ warns with the whole URL, password included.
        warnings.simplefilter("ignore")
        DATABASES = {
            "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
        }
except (ImproperlyConfigured, KeyError, ValueError) as exc:
    # The URL itself may hold a password, so name the variable and the reason only.
    raise ImproperlyConfigured(
        f"DATABASE_URL is malformed ({type(exc).__name__}); expected e.g. "
        "postgres://user:password@host:5432/name or sqlite:////path/to/db.sqlite3"
    ) from None
if not DATABASES["default"].get("ENGINE"):
    raise ImproperlyConfigured(
        "DATABASE_URL is malformed: its scheme is not one of postgres://, sqlite:///."
    )

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (the dashboard and the sandbox it calls over HTTP) write at once:
    # WAL lets readers run beside a writer, IMMEDIATE takes the write lock up front so
    # transactions queue on the busy timeout instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Live-server tests need a file so that the server threads do not share one connection.
    # One file per test run (xdist workers share their controller's pid), so that two runs
    # at once never write to the same file.
    _run = os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f"test-db-{_run}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # A health check costs a `SELECT 1` round trip at the start of every request that reuses
    # a connection: a third of the receiver's budget. Off by default: after a database
    # restart, the first request of each worker fails once (the receiver answers 503, which
    # Cloud Elements retries) and the broken connection is dropped.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
    # The receiver's two statements bind their parameters on the server, so that psycopg
    # prepares them on each connection after a few executions (its default threshold, 5):
    # parsing and planning them again for each delivery took most of the database's CPU.
    # Django's own statements bind on the client and are never prepared. Off (None, Django's
    # default) behind a pooler in transaction mode that cannot keep prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        5 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None
    )
    # PostgreSQL compiles a query to machine code (JIT) when its estimated cost is high, as a
    # search's capped COUNT is (a subquery per row): 65 ms of compiling for a 17 ms scan. The
    # dashboard runs short queries only, so JIT is off for its connections; behind a pooler
    # that refuses startup options, set DATABASE_JIT_OFF=false and `ALTER DATABASE … SET jit
    # = off` instead.
    if env.bool("DATABASE_JIT_OFF", default=True):
        DATABASES["default"]["OPTIONS"]["options"] = "-c jit=off"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication and sessions ---------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "instances:index"
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Lax, not Strict: the OAuth callback is a cross-site top-level GET that must carry the session.
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
# Sudo mode: revealing a secret asks for the password again unless it was confirmed within
# this many seconds (the way GitHub does).
SUDO_WINDOW_SECONDS = env.int("SUDO_WINDOW_SECONDS", default=10 * 60)
# A password change changes the session auth hash, which signs out every other session of the
# user (the session that made the change is kept by update_session_auth_hash).

# Login throttling (django-axes): the backend refuses a locked-out client before any password
# check. Failures are counted per user name AND client address together, so that guessing at the
# operators' names from one address cannot lock them out from everywhere else.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
_lockout_minutes = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=_lockout_minutes)
if AXES_FAILURE_LIMIT < 1 or _lockout_minutes < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_MINUTES must be positive.")
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "instances.accounts.throttle.locked_out"
AXES_CLIENT_IP_CALLABLE = "instances.accounts.throttle.client_address"
# How many proxies in front of the server append the client's address to X-Forwarded-For.
# 0 (the default): the header is ignored, since any client can send it; the address is
# REMOTE_ADDR. N: the address is the N-th entry from the right, the one the outermost trusted
# proxy saw (entries further left were written by the client and may be forged).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")

# Two-factor authentication (django-otp): TOTP authenticators with single-use recovery codes.
# REQUIRE_TWO_FACTOR sends every signed-in staff user without an authenticator to enrolment.
REQUIRE_TWO_FACTOR = env.bool("REQUIRE_TWO_FACTOR", default=False)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Cloud Elements instances")
# The admin's device pages must not show TOTP seeds or recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- Security (production values whenever DEBUG is off) ----------------------------------------

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    # Only behind a proxy that always sets or strips X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
if SESSION_COOKIE_SECURE:
    # __Host- cookies must be Secure, Path=/ and carry no Domain.
    SESSION_COOKIE_NAME = "__Host-sessionid"
if CSRF_COOKIE_SECURE:
    CSRF_COOKIE_NAME = "__Host-csrftoken"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SILENCED_SYSTEM_CHECKS = (
    []
    if SECURE_HSTS_PRELOAD
    else [
        # HSTS preload is hard to undo, so it is an explicit opt-in (SECURE_HSTS_PRELOAD=true).
        "security.W021",
    ]
)

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        # The create form answers with a redirect to the provider's consent screen, and
        # Chromium applies form-action to redirects.
        "form-action": [SELF, "https://www.dropbox.com", "https://www.dropboxbusiness.com"],
    },
}

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
# Received events are purged after this many days (`manage.py purge_events`). De-duplication
# keys must outlive Cloud Elements' retries (about four days), so fewer days are refused.
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=90)
if EVENT_RETENTION_DAYS < 4:
    raise ImproperlyConfigured(
        "EVENT_RETENTION_DAYS must be at least 4: Cloud Elements retries a delivery for about "
        "four days, and a purged event's de-duplication key would let a retry be stored twice."
    )
# A notification holds up to 20 events plus the raw vendor body; larger bodies get 413.
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1_048_576)
# PostgreSQL: each worker keeps the instance a delivery was addressed to for this long, so
# that its next deliveries cost one round trip instead of two (0: read it every time). The
# store re-checks it in the same statement, so a change is never missed
# (instances/events/ingest.py).
WEBHOOK_RECEIVER_CACHE_SECONDS = env.int("WEBHOOK_RECEIVER_CACHE_SECONDS", default=60)

# --- Field encryption ---------------------------------------------------------------------------

# A list of Fernet keys, newest first: the first encrypts, every one decrypts. Separate from
# SECRET_KEY so that rotating one never makes the other's data unreadable.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
FIELD_ENCRYPTION_KEY_FILE = BASE_DIR / ".field-encryption-key"
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be set when DEBUG is off "
            "(generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')."
        )
    # Development only: one key generated on first start, kept in a git-ignored file.
    if not FIELD_ENCRYPTION_KEY_FILE.exists():
        FIELD_ENCRYPTION_KEY_FILE.write_text(Fernet.generate_key().decode() + "\n")
        FIELD_ENCRYPTION_KEY_FILE.chmod(0o600)
    FIELD_ENCRYPTION_KEYS = [FIELD_ENCRYPTION_KEY_FILE.read_text().strip()]
for _position, _key in enumerate(FIELD_ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS entry {_position} is not a valid Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from None

# --- Cloud Elements -------------------------------------------------------------------------------

# Unset means the embedded sandbox answers in Cloud Elements' place, under /sandbox/.
CLOUD_ELEMENTS_BASE_URL = env.str("CLOUD_ELEMENTS_BASE_URL", default="").rstrip("/")
CLOUD_ELEMENTS_SANDBOX = not CLOUD_ELEMENTS_BASE_URL
if CLOUD_ELEMENTS_BASE_URL and not DEBUG and urlsplit(CLOUD_ELEMENTS_BASE_URL).scheme != "https":
    # Every call carries the User and Organization secrets, and answers carry instance tokens.
    raise ImproperlyConfigured(
        "CLOUD_ELEMENTS_BASE_URL must be an https:// address when DEBUG is off: every call "
        "carries the Cloud Elements secrets and instance tokens."
    )
CLOUD_ELEMENTS_USER_SECRET = env.str("CLOUD_ELEMENTS_USER_SECRET", default="")
CLOUD_ELEMENTS_ORGANIZATION_SECRET = env.str("CLOUD_ELEMENTS_ORGANIZATION_SECRET", default="")
if CLOUD_ELEMENTS_SANDBOX and not DEBUG:
    # A public sandbox would take real app secrets and serve instance tokens to anyone holding
    # the documented default secrets: production must choose it, with secrets of its own.
    if not env.bool("CLOUD_ELEMENTS_SANDBOX", default=False):
        raise ImproperlyConfigured(
            "CLOUD_ELEMENTS_BASE_URL must be set when DEBUG is off (or CLOUD_ELEMENTS_SANDBOX=true "
            "to serve the offline sandbox on purpose, e.g. for a demo)."
        )
    if not (CLOUD_ELEMENTS_USER_SECRET and CLOUD_ELEMENTS_ORGANIZATION_SECRET):
        raise ImproperlyConfigured(
            "CLOUD_ELEMENTS_USER_SECRET and CLOUD_ELEMENTS_ORGANIZATION_SECRET must be set for a "
            "sandbox served with DEBUG off."
        )
if CLOUD_ELEMENTS_SANDBOX:
    # The sandbox checks the same header as Cloud Elements; these secrets only open the sandbox.
    CLOUD_ELEMENTS_USER_SECRET = CLOUD_ELEMENTS_USER_SECRET or "sandbox-user-secret"
    CLOUD_ELEMENTS_ORGANIZATION_SECRET = (
        CLOUD_ELEMENTS_ORGANIZATION_SECRET or "sandbox-organization-secret"
    )
elif not (CLOUD_ELEMENTS_USER_SECRET and CLOUD_ELEMENTS_ORGANIZATION_SECRET):
    raise ImproperlyConfigured(
        "CLOUD_ELEMENTS_USER_SECRET and CLOUD_ELEMENTS_ORGANIZATION_SECRET must be set "
        "when CLOUD_ELEMENTS_BASE_URL is set."
    )
if CLOUD_ELEMENTS_SANDBOX:
    # The sandbox's consent screen is served at SITE_URL, which is `self` only when the browser
    # uses that very host name: allow it by name so a create never stops at a blocked redirect.
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(SITE_ORIGIN)
# Seconds to connect and to wait for an answer: "3.05,15", or one number for both.
try:
    _timeouts = [float(t) for t in env.list("CLOUD_ELEMENTS_TIMEOUT", default=["3.05", "15"])]
except ValueError:
    raise ImproperlyConfigured("CLOUD_ELEMENTS_TIMEOUT must be seconds, e.g. 3.05,15") from None
if len(_timeouts) not in (1, 2) or min(_timeouts) <= 0:
    raise ImproperlyConfigured("CLOUD_ELEMENTS_TIMEOUT must be one or two positive numbers.")
CLOUD_ELEMENTS_TIMEOUT = (_timeouts[0], _timeouts[-1])
# An element's description (its instance parameters, events) is read again after this long;
# until then forms are built from the kept copy (a refresh reads it at once).
ELEMENT_METADATA_CACHE_HOURS = env.int("ELEMENT_METADATA_CACHE_HOURS", default=24)
if ELEMENT_METADATA_CACHE_HOURS < 0:
    raise ImproperlyConfigured("ELEMENT_METADATA_CACHE_HOURS must be 0 or more.")

# --- Consent links -------------------------------------------------------------------------------

# How long a consent link sent to a Dropbox account's owner stays usable, and who the owner's
# page says is asking.
CONSENT_LINK_DAYS = env.int("CONSENT_LINK_DAYS", default=7)
if CONSENT_LINK_DAYS < 1:
    raise ImproperlyConfigured("CONSENT_LINK_DAYS must be 1 or more.")
CONSENT_ORGANIZATION_NAME = env.str("CONSENT_ORGANIZATION_NAME", default="Your administrator")
# Requests per minute and client address on the link pages (/connect/...); more get 429.
CONSENT_LINK_RATE_LIMIT = env.int("CONSENT_LINK_RATE_LIMIT", default=30)
if CONSENT_LINK_RATE_LIMIT < 1:
    raise ImproperlyConfigured("CONSENT_LINK_RATE_LIMIT must be 1 or more.")

# The rate limit counts in Django's cache. The default, local memory, is per process: with
# several server processes, set a shared cache, e.g. CACHE_URL=dbcache://django_cache (after
# `manage.py createcachetable`) or CACHE_URL=redis://127.0.0.1:6379/1 (needs the redis package).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# --- Background work: django-tasks, with the django-tasks-db queue or RQ on Redis ---------------

# The database backend (default): workers (`manage.py db_worker`) on any host share one queue in
# the database. RQ_BACKEND instead: tasks go to Redis at REDIS_URL and `manage.py rqworker`
# runs them (README, "Task queue on Redis"). Jobs keep their own lease and recovery either way.
DATABASE_BACKEND = "django_tasks_db.DatabaseBackend"
RQ_BACKEND = "django_tasks_rq.RQBackend"
TASKS_BACKEND = env.str("TASKS_BACKEND", default=DATABASE_BACKEND)
if TASKS_BACKEND not in (DATABASE_BACKEND, RQ_BACKEND):
    raise ImproperlyConfigured(f"TASKS_BACKEND must be {DATABASE_BACKEND} or {RQ_BACKEND}.")
TASKS = {"default": {"BACKEND": TASKS_BACKEND}}
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
RQ_QUEUES = {"default": {"URL": REDIS_URL}}
if TASKS_BACKEND == RQ_BACKEND:
    INSTALLED_APPS.append("django_rq")  # its `rqworker` command
# Calls to Cloud Elements in flight at once, per process (each worker runs one job at a time).
CLOUD_ELEMENTS_MAX_CONCURRENCY = env.int("CLOUD_ELEMENTS_MAX_CONCURRENCY", default=4)
# A job's lease: a worker renews it after every instance; a job whose lease ran out (its worker
# died) is queued again and resumed by another worker.
JOB_LEASE_SECONDS = env.int("JOB_LEASE_SECONDS", default=120)
# How many times one instance waits out a 429/503 (Retry-After, capped) before it counts as failed.
JOB_RATE_LIMIT_RETRIES = env.int("JOB_RATE_LIMIT_RETRIES", default=3)
JOB_MAX_RETRY_AFTER_SECONDS = env.int("JOB_MAX_RETRY_AFTER_SECONDS", default=60)
# Scheduled work (manage.py run_schedules): period of each schedule in minutes.
SCHEDULE_HEALTH_CHECK_MINUTES = env.int("SCHEDULE_HEALTH_CHECK_MINUTES", default=60)
SCHEDULE_RECONCILE_MINUTES = env.int("SCHEDULE_RECONCILE_MINUTES", default=5)
SCHEDULE_PURGE_MINUTES = env.int("SCHEDULE_PURGE_MINUTES", default=24 * 60)
# The account scan that finds instances new, changed or deleted at Cloud Elements.
SCHEDULE_DISCOVERY_MINUTES = env.int("SCHEDULE_DISCOVERY_MINUTES", default=30)

# E-mail (alerts): an EMAIL_URL such as smtp+tls://user:password@smtp.example.com:587; the
# console in development (messages are printed by `make run`).
vars().update(
    env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
)
# Seconds an SMTP connection may stall before the send fails (and is retried later).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="Cloud Elements dashboard <dashboard@localhost>"
)

# The API: requests per minute per token (more get 429 with Retry-After).
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=600)
if API_RATE_LIMIT_PER_MINUTE < 1:
    raise ImproperlyConfigured("API_RATE_LIMIT_PER_MINUTE must be 1 or more.")

# Re-consent campaigns: e-mails sent per minute by each worker (your relay's limit), and the
# schedule that sends retries and reminders and closes campaigns whose links expired.
CAMPAIGN_EMAILS_PER_MINUTE = env.int("CAMPAIGN_EMAILS_PER_MINUTE", default=6000)
if CAMPAIGN_EMAILS_PER_MINUTE < 1:
    raise ImproperlyConfigured("CAMPAIGN_EMAILS_PER_MINUTE must be 1 or more.")
# SMTP connections each worker sends a campaign's e-mails over at once.
CAMPAIGN_SMTP_CONNECTIONS = env.int("CAMPAIGN_SMTP_CONNECTIONS", default=4)
if not 1 <= CAMPAIGN_SMTP_CONNECTIONS <= 32:
    raise ImproperlyConfigured("CAMPAIGN_SMTP_CONNECTIONS must be from 1 to 32.")
SCHEDULE_CAMPAIGNS_MINUTES = env.int("SCHEDULE_CAMPAIGNS_MINUTES", default=2)

# Forwarding received events to the team's app (destinations), by `manage.py forward`:
# deliveries retried for this many hours after the first attempt;
FORWARDING_RETRY_HOURS = env.int("FORWARDING_RETRY_HOURS", default=72)
# a destination whose every delivery failed for this long is paused (and an alert raised);
DESTINATION_DISABLE_AFTER_HOURS = env.int("DESTINATION_DISABLE_AFTER_HOURS", default=24)
# deliveries in flight to one destination at most (each destination can set its own);
DESTINATION_MAX_IN_FLIGHT = env.int("DESTINATION_MAX_IN_FLIGHT", default=10)
# seconds a destination has to answer; deliveries each forwarder sends at once; seconds
# between looks at the queue when it is empty.
FORWARDING_TIMEOUT_SECONDS = env.int("FORWARDING_TIMEOUT_SECONDS", default=15)
FORWARDING_CONCURRENCY = env.int("FORWARDING_CONCURRENCY", default=32)
FORWARDING_POLL_SECONDS = env.float("FORWARDING_POLL_SECONDS", default=0.5)
for _name in (
    "FORWARDING_RETRY_HOURS",
    "DESTINATION_DISABLE_AFTER_HOURS",
    "FORWARDING_TIMEOUT_SECONDS",
    "FORWARDING_CONCURRENCY",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be 1 or more.")
if not 1 <= DESTINATION_MAX_IN_FLIGHT <= 100:
    raise ImproperlyConfigured("DESTINATION_MAX_IN_FLIGHT must be from 1 to 100.")
if FORWARDING_POLL_SECONDS <= 0:
    raise ImproperlyConfigured("FORWARDING_POLL_SECONDS must be more than 0.")

# The health sweep: each instance's problems kept current (and the attention page's counts).
SCHEDULE_HEALTH_SWEEP_MINUTES = env.int("SCHEDULE_HEALTH_SWEEP_MINUTES", default=5)
# An instance with events on is *silent* after this many hours without a delivery.
SILENT_AFTER_HOURS = env.int("SILENT_AFTER_HOURS", default=72)
# Refused signed deliveries in an hour that make a *signature failures* problem.
SIGNATURE_FAILURES_PER_HOUR = env.int("SIGNATURE_FAILURES_PER_HOUR", default=5)
# Lost deliveries: how far back the first check reads Cloud Elements' event log, and how long
# a delivery that never arrived keeps its instance's *deliveries missing* problem open.
MISSING_LOOKBACK_HOURS = env.int("MISSING_LOOKBACK_HOURS", default=24)
MISSING_KEEP_DAYS = env.int("MISSING_KEEP_DAYS", default=3)

# --- Importing an existing Cloud Elements account ------------------------------------------------

# What the scheduled scan does with instances new at Cloud Elements: "review" lists them as
# *new at Cloud Elements* for an operator to import; "auto" imports them at once.
IMPORT_NEW_INSTANCES = env.str("IMPORT_NEW_INSTANCES", default="review")
if IMPORT_NEW_INSTANCES not in ("review", "auto"):
    raise ImproperlyConfigured("IMPORT_NEW_INSTANCES must be 'review' or 'auto'.")
# Instances asked for per page of GET /instances.
IMPORT_PAGE_SIZE = env.int("IMPORT_PAGE_SIZE", default=500)

# --- Internationalisation, static files ---------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# In development the files are served from STATICFILES_DIRS and the apps; collectstatic is
# for production.
STATIC_ROOT = env.str("STATIC_ROOT", default="" if DEBUG else str(BASE_DIR / "staticfiles")) or None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Logging ------------------------------------------------------------------------------------

# Error reports (DEBUG's page, the e-mails to ADMINS) hide typed secrets even before a view ran.
DEFAULT_EXCEPTION_REPORTER_FILTER = "instances.lib.logging.SecretsReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "instances.lib.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # urllib3 logs full request lines (even its retry warnings), and the OAuth URL call
        # carries apiSecret in its query string.
        "urllib3": {"level": "ERROR"},
        # django-axes logs every login at INFO; failures and lock-outs are WARNINGs.
        "axes": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
        # The development server logs request lines, whose query strings carry secrets
        # (the sandbox's oauth/url apiSecret, OAuth codes and states): filter them too.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Django adds its own console handler in DEBUG; one (redacting) handler is enough.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
