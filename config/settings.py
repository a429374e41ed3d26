"""Settings, all from the environment (12-factor); see README "Configuration"."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# Outside DEBUG a secret must be given: a default one would sign every session cookie alike.
SECRET_KEY = env("SECRET_KEY") if not DEBUG else env("SECRET_KEY", default="dev-only-insecure-key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "web",  # first: its registration/ templates replace the admin's
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served from here: no CDN
    "ingest",
    "journal",
    "bench",  # `manage.py bench`: the benchmarks, one module per subject
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "journal"
LOGOUT_REDIRECT_URL = "login"
# Password-reset mail is printed to the console unless a mail server is given (smtp://user:pw@host:587).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)  # django-environ's documented way to set EMAIL_BACKEND, EMAIL_HOST, …
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="journal@localhost")
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

REDIS_URL = env("REDIS_URL")

CHANNEL_LAYERS = {
    "default": {
        # Only low-rate UI updates travel here: channels-redis drops messages when a
        # channel is at capacity, so sensor frames never do (see DESIGN.md).
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 gives every read a 5-s socket timeout by default, and channels-redis waits for
        # a message with a blocking pop of 5 s: a quiet live page's read timed out every ~6 s and
        # its socket was dropped. The read must outlast the pop.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}], "prefix": "journal:channels"},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Tasks running when the broker connection drops are cancelled and redelivered (they are
# idempotent) instead of acking later on a dead channel, which kombu's Redis transport survives badly.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Our LOGGING config stays in charge of the worker's output.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Retraining (minutes of TensorFlow on every core) runs on its own worker (the Procfile's
# `trainer`), so live steps never wait behind it.
CELERY_TASK_ROUTES = {"journal.tasks.retrain_model": {"queue": "training"},
                      "journal.tasks.measure_memory_gain": {"queue": "training"}}
CELERY_BEAT_SCHEDULE_FILENAME = env("CELERY_BEAT_SCHEDULE_FILENAME", default=str(BASE_DIR / ".data" / "celerybeat-schedule"))
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=10.0)

REST_FRAMEWORK = {
    # Token first: an anonymous call answers 401 with `WWW-Authenticate: Token` (the first class
    # names the scheme), where session authentication alone can only answer 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Workout journal API",
    "DESCRIPTION": "Workouts, sets (read and correct) and watches of the signed-in user.",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The real datasets (../shared/data/README.md), read in place for benchmarks and training.
SHARED_DATA_DIR = Path(env.str("SHARED_DATA_DIR", default=str(BASE_DIR.parent / "shared" / "data")))

# Watch protocol limits (docs/protocol.md). A frame beyond them gets a clear error.
INGEST_MAX_SAMPLES_PER_FRAME = env.int("INGEST_MAX_SAMPLES_PER_FRAME", default=500)
INGEST_MAX_MESSAGE_BYTES = env.int("INGEST_MAX_MESSAGE_BYTES", default=128 * 1024)
INGEST_MAX_FRAMES_PER_SECOND = env.float("INGEST_MAX_FRAMES_PER_SECOND", default=50.0)
INGEST_FRAME_BURST = env.int("INGEST_FRAME_BURST", default=100)
# How soon a revoked device's open sockets are closed (one query per web process per check).
INGEST_REVOCATION_CHECK_SECONDS = env.float("INGEST_REVOCATION_CHECK_SECONDS", default=2.0)
INGEST_MAX_STARTS_PER_MINUTE = env.int("INGEST_MAX_STARTS_PER_MINUTE", default=30)
INGEST_START_BURST = env.int("INGEST_START_BURST", default=10)
# Frames kept per recording in its Redis Stream (the workers' buffer); older ones are
# trimmed and read from the PostgreSQL archive instead. 3600 = an hour at 1 frame/s.
INGEST_STREAM_MAX_FRAMES = env.int("INGEST_STREAM_MAX_FRAMES", default=3600)
# Frames a session may be ahead of the pipeline before its watch is told to back off
# (`backlog`, retry after INGEST_BACKLOG_RETRY_SECONDS). 900 = a quarter of an hour at 1 frame/s.
INGEST_MAX_BACKLOG_FRAMES = env.int("INGEST_MAX_BACKLOG_FRAMES", default=900)
INGEST_BACKLOG_RETRY_SECONDS = env.float("INGEST_BACKLOG_RETRY_SECONDS", default=5.0)
# Recording files uploaded on the import page, at most this size (a gym CSV of an hour at 100 Hz is ~30 MB).
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=64 * 1024 * 1024)
# Physically impossible readings (g, deg/s) are refused rather than archived.
INGEST_MAX_ABS_VALUE = env.float("INGEST_MAX_ABS_VALUE", default=100_000.0)
# Sensor Logger's HTTP Push (ingest/push.py): a message's body at most (a batch of 10 s of wrist
# motion at 100 Hz is ~400 kB; below Django's own 2.5 MB), and how long a message waits for an
# earlier one before that one is given up as lost.
INGEST_MAX_PUSH_BYTES = env.int("INGEST_MAX_PUSH_BYTES", default=2 * 1024 * 1024)
INGEST_PUSH_HOLD_SECONDS = env.float("INGEST_PUSH_HOLD_SECONDS", default=5.0)

# The pipeline (journal/pipeline.py). Models: every artefact folder in JOURNAL_MODEL_DIR; a
# recording gets the one that reads the most of its channels.
JOURNAL_MODEL_DIR = Path(env.str("JOURNAL_MODEL_DIR", default=str(BASE_DIR / "classifier" / "trained")))
# Where retraining writes the versions it registers (journal/retraining.py); the workers read them from here.
JOURNAL_VERSION_DIR = Path(env.str("JOURNAL_VERSION_DIR", default=str(BASE_DIR / ".data" / "models")))
# A window is classified once this much signal past its end has arrived (resampling needs it).
PIPELINE_SETTLE_SECONDS = env.float("PIPELINE_SETTLE_SECONDS", default=1.0)
# A recording that has sent nothing for this long gets its final pass, as if it had ended.
PIPELINE_QUIET_SECONDS = env.float("PIPELINE_QUIET_SECONDS", default=120.0)
PIPELINE_SWEEP_SECONDS = env.float("PIPELINE_SWEEP_SECONDS", default=15.0)
# /healthz turns red when a streaming recording's oldest unprocessed frame has waited longer.
PIPELINE_MAX_HEALTHY_LAG_SECONDS = env.float("PIPELINE_MAX_HEALTHY_LAG_SECONDS", default=30.0)

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # /healthz is probed over plain HTTP from inside the cluster.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=3600)
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        },
        "text": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": env("LOG_FORMAT", default="json")},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Uvicorn installs its own handlers before importing the app; route them through ours.
        "pgserver": {"level": "WARNING"},
        "absl": {"level": "WARNING"},  # TensorFlow's "Assets written to …" on every model export
        # Keras retraces predict() for each new batch shape; the warning suggests nothing a user can do.
        "tensorflow": {"level": "ERROR"},
        "uvicorn": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "uvicorn.error": {"handlers": [], "propagate": True},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
    },
}
