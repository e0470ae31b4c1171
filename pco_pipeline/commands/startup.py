"""What every command checks before it runs: the settings a run would otherwise trip over halfway
(today the conflict policies: `PCO_SYNC_POLICIES`, the shipped policy file and
`PCO_CONFLICT_MAX_WAIT_HOURS`)."""

from __future__ import annotations

from pco_pipeline.sync.policies import PolicyError, load_policies, max_wait

# The errors `check_settings` raises: the CLI prints their one-line message and exits 2.
SETTINGS_ERRORS: tuple[type[Exception], ...] = (PolicyError,)


def check_settings() -> None:
    """Raise one of SETTINGS_ERRORS, naming the file, entity and field, when a setting is wrong."""
    load_policies()
    max_wait()
