"""Errors a staff member can act on: each names the setting or file to look at."""


class DatabaseConfigError(RuntimeError):
    """The database could not be reached or prepared; the message names the setting."""


class MigrationError(RuntimeError):
    """A migration file cannot be applied as it is (edited after applying, missing, or failing)."""


class DatabaseUnavailableError(DatabaseConfigError):
    """The database stopped answering while a command was using it; the message names the database
    (password masked) and what failed."""
