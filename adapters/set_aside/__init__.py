"""Events a follower could not apply, set aside so that nothing else stops.

A follower (a read model, a process manager's planner, the relay) that cannot apply an
event sets its aggregate aside and carries on with every other aggregate; the
aggregate's later events wait behind it, so its order holds. Operators see the items
in `GET /status` and `ledgerflow status`, and have each retried after a fix or skipped
with a reason: the follower carries their requests out itself, in order.

- `errors`: which failures are the event's, and how one is described for operators;
- `isolation`: finding the failing events of a batch by splitting it;
- `ledger`: a follower's own record, written in its transactions;
- `desk`: what operators read and ask.
"""
