"""`pco-pipeline users …`: the staff who sign in (add, list, remove, set-password).

A password is typed at a prompt (twice, not echoed) or read from standard input with
`--password-stdin` (its first line); it is stored only as its argon2id hash and never printed.
"""

from __future__ import annotations

import getpass
import sys

from pco_pipeline.accounts.errors import AccountError
from pco_pipeline.accounts.identity import NAME_RULE, Role
from pco_pipeline.accounts.passwords import MIN_PASSWORD_LENGTH, check_password_rules
from pco_pipeline.accounts.users import add_user, list_users, remove_user, set_password
from pco_pipeline.commands.accounts_common import accounts_engine, moment, print_table, reporting_account_errors


def register(subparsers) -> None:
    users = subparsers.add_parser("users", help="the staff users who sign in: add, list, remove, set-password")
    actions = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add a user (the password is asked for twice)")
    add.add_argument("name", metavar="NAME", help=f"the user name: {NAME_RULE} (case-insensitive)")
    add.add_argument("--role", required=True, choices=[role.value for role in Role],
                     help="viewer reads church data; admin may also change things")
    _password_option(add)
    add.set_defaults(handler=run_add)

    actions.add_parser("list", help="the users, their roles and last logins (never a password)").set_defaults(
        handler=run_list)

    remove = actions.add_parser("remove", help="delete a user")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=run_remove)

    set_pw = actions.add_parser("set-password", help="give a user a new password (also lifts a login lockout)")
    set_pw.add_argument("name", metavar="NAME")
    _password_option(set_pw)
    set_pw.set_defaults(handler=run_set_password)


def _password_option(parser) -> None:
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input instead of a prompt")


def read_password(args, name: str) -> str:
    """The new password for `name`: from standard input, or typed twice at a prompt.
    Raises AccountError when it breaks a rule or the two typed differ."""
    if args.password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        check_password_rules(password)
        return password
    try:
        password = getpass.getpass(f"Password for {name} (at least {MIN_PASSWORD_LENGTH} characters): ")
        check_password_rules(password)
        repeated = getpass.getpass("The same password again: ")
    except EOFError:
        raise AccountError("no password given: type it at the prompt, or pass it with --password-stdin") from None
    if repeated != password:
        raise AccountError("the two passwords differ; nothing was changed")
    return password


@reporting_account_errors
def run_add(args) -> int:
    password = read_password(args, args.name)
    with accounts_engine() as engine:
        user = add_user(engine, args.name, Role(args.role), password)
    print(f"user {user.name!r} added with the {user.role} role")
    return 0


def run_list(args) -> int:
    with accounts_engine() as engine:
        users = list_users(engine)
    print_table(["name", "role", "created", "password set", "last login"], [6, 20, 20],
                [[user.name, user.role, moment(user.created_at), moment(user.updated_at), moment(user.last_login_at)]
                 for user in users],
                none_yet="no users yet: add one with `pco-pipeline users add NAME --role admin`")
    return 0


@reporting_account_errors
def run_remove(args) -> int:
    with accounts_engine() as engine:
        name = remove_user(engine, args.name)
    print(f"user {name!r} removed")
    return 0


@reporting_account_errors
def run_set_password(args) -> int:
    password = read_password(args, args.name)
    with accounts_engine() as engine:
        name = set_password(engine, args.name, password)
    print(f"password of {name!r} changed")
    return 0
