"""`pco-pipeline tokens …`: API tokens for the internal API (create, list, revoke).

`create` prints the token once, alone on standard output (so `$(pco-pipeline tokens create …)`
captures it), with the explanation on standard error. Only its SHA-256 is stored: a lost token
cannot be shown again, only revoked and replaced.
"""

from __future__ import annotations

import sys

from pco_pipeline.accounts.identity import NAME_RULE, Role
from pco_pipeline.accounts.tokens import create_token, list_tokens, revoke_token
from pco_pipeline.commands.accounts_common import accounts_engine, moment, print_table, reporting_account_errors


def register(subparsers) -> None:
    tokens = subparsers.add_parser("tokens", help="API tokens for the internal API: create, list, revoke")
    actions = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a token and print it (once)")
    create.add_argument("name", metavar="NAME", help=f"what the token is for: {NAME_RULE} (case-insensitive)")
    create.add_argument("--role", required=True, choices=[role.value for role in Role],
                        help="viewer reads the /api/pco/* listings; admin may also do what needs admin")
    create.set_defaults(handler=run_create)

    actions.add_parser("list", help="the tokens: name, role, prefix, dates (never the token)").set_defaults(
        handler=run_list)

    revoke = actions.add_parser("revoke", help="revoke a token: requests with it get 401 from then on")
    revoke.add_argument("name", metavar="NAME")
    revoke.set_defaults(handler=run_revoke)


@reporting_account_errors
def run_create(args) -> int:
    with accounts_engine() as engine:
        created = create_token(engine, args.name, Role(args.role))
    print(f"token {created.token.name!r} created with the {created.token.role} role; it is on standard output, "
          f"shown this once: store it now (only its hash is kept). Send it as `Authorization: Bearer <token>`.",
          file=sys.stderr, flush=True)
    print(created.secret, flush=True)
    return 0


def run_list(args) -> int:
    with accounts_engine() as engine:
        tokens = list_tokens(engine)
    print_table(["name", "role", "prefix", "created", "last used", "status"], [6, 15, 20, 20],
                [[token.name, token.role, token.prefix + "…", moment(token.created_at), moment(token.last_used_at),
                  f"revoked {moment(token.revoked_at)}" if token.revoked_at else "active"] for token in tokens],
                none_yet="no tokens yet: create one with `pco-pipeline tokens create NAME --role viewer`")
    return 0


@reporting_account_errors
def run_revoke(args) -> int:
    with accounts_engine() as engine:
        token = revoke_token(engine, args.name)
    print(f"token {token.name!r} ({token.prefix}…) revoked: requests with it now get 401")
    return 0
