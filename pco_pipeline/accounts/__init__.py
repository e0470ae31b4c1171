"""Accounts and authentication for every part of the project that needs to know who is asking.

- `identity`: roles (viewer < admin), the names users and tokens may have, `Identity`.
- `passwords`: the password rules and argon2id hashing.
- `users`: staff users (add, list, remove, set a password).
- `login`: verifies a user's password, with failed logins rate-limited per account and per address.
- `tokens`: API bearer tokens (create, list, revoke) and verifying a presented token.

Only `db`-level concerns (a SQLAlchemy engine) are below this package: no Dagster, no web
framework. A secret (a password, a token) is never part of a repr, a log line, an error message
or anything stored in clear.
"""
