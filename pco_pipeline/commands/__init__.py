"""`pco-pipeline` subcommands, one module per command group.

Each module exposes `register(subparsers)`, which adds its parser(s) and sets `handler` to a
function taking the parsed args and returning an exit code.
"""
