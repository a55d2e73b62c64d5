"""PostgreSQL adapters for the messaging ports: used when no `AMQP_URL` is configured.

`command_queue`: the `CommandQueue`, one row per message, claimed under a lease.
`event_bus`: the `EventBus`, an append-only log and a position per durable subscriber.
What both share: `pool` (the connection pool they open lazily), `waking` (LISTEN/NOTIFY
wake-ups; both also poll about once a second, so a lost notification only costs latency)
and `rows` (messages and dead letters read from rows). Their tables are the migrations'
(adapters/migrations).
"""
