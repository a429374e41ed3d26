"""One bounded Redis client per process (sync) and per event loop (async).

A pool per call, or redis-py's default of 100 connections per pool, dropped sockets at a
few hundred concurrent watches (DESIGN.md): every user of Redis goes through these.
"""

import asyncio
import functools
import weakref

import redis
import redis.asyncio
from django.conf import settings

MAX_CONNECTIONS = 32


@functools.cache
def redis_client() -> redis.Redis:
    # Timeouts: /healthz must answer "Redis is down", not hang with it.
    return redis.Redis.from_url(
        settings.REDIS_URL, max_connections=MAX_CONNECTIONS, socket_connect_timeout=5, socket_timeout=10
    )


_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis]" = (
    weakref.WeakKeyDictionary()
)


def async_redis_client() -> redis.asyncio.Redis:
    """The client of the running event loop (asyncio connections cannot cross loops)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=MAX_CONNECTIONS, timeout=10
        )
        client = _async_clients[loop] = redis.asyncio.Redis(connection_pool=pool)
    return client
