"""`make test`: find or start the services the tests need, then run pytest.

- PostgreSQL: `DATABASE_URL` when set; otherwise the machine's server on 127.0.0.1:5432
  when it answers; otherwise the tests start an embedded one (tests/conftest.py).
- RabbitMQ: `AMQP_URL`, or the broker on 127.0.0.1:5672; when it is not running and
  `rabbitmq-server` is installed, it is started here.
- Redis: `LEDGERFLOW_REDIS_URL`, or the server on 127.0.0.1:6379; started here the same way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import psycopg

from tests.services import DEFAULT_AMQP_URL, DEFAULT_REDIS_URL, port_open

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def find_postgres() -> None:
    if os.environ.get("DATABASE_URL"):
        return
    try:
        psycopg.connect(LOCAL_POSTGRES, connect_timeout=2).close()
    except psycopg.OperationalError:
        print("no PostgreSQL on 127.0.0.1:5432: the tests use an embedded one", flush=True)
        return
    os.environ["DATABASE_URL"] = LOCAL_POSTGRES


def find_rabbitmq() -> None:
    url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
    if port_open(url, 5672) or not shutil.which("rabbitmq-server"):
        return
    print("starting RabbitMQ...", flush=True)
    subprocess.run(["rabbitmq-server", "-detached"], check=False)
    subprocess.run(["rabbitmqctl", "await_startup", "--timeout", "120"], check=False)


def find_redis() -> None:
    url = os.environ.get("LEDGERFLOW_REDIS_URL", DEFAULT_REDIS_URL)
    if port_open(url, 6379) or not shutil.which("redis-server"):
        return
    print("starting Redis...", flush=True)
    subprocess.run(REDIS_SERVER, check=False)


# In the background, on loopback, keeping nothing on disk.
REDIS_SERVER = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
]


def main() -> int:
    find_postgres()
    find_rabbitmq()
    find_redis()
    args = sys.argv[1:] or ["-q"]
    return subprocess.call([sys.executable, "-m", "pytest", *args])


if __name__ == "__main__":
    sys.exit(main())
