"""The PCO sandbox: a faithful simulator of the Planning Center API and its webhooks. No Dagster here,
and nothing of pco_pipeline: it stands alone (it reads PCO's reference table, `pco_reference`).

    from pco_sandbox import Sandbox, SandboxConfig, run_sandbox_server

    sandbox = Sandbox.seeded(people=2000, seed=1, config=SandboxConfig(rate_limit="100/2s"))
    with sandbox.client() as client:                   # in-process, no sockets
        client.get("/people/v2/people", params={"include": "emails"})
    with run_sandbox_server(sandbox) as base_url:      # real HTTP on 127.0.0.1
        ...

Modules: core (Sandbox, SandboxConfig: the composition root), store, schema, query, documents,
writes, auth, ratelimit, webhooks, faults, controls, requestlog, clock, errors, persistence
(snapshot files), app (ASGI), server (HTTP), transport (in-process), seed (the synthetic church's
PCO organization; the church's own dataset is `pco_pipeline.demo_data`).
"""

from pco_sandbox.core import Sandbox, SandboxConfig
from pco_sandbox.server import run_sandbox_server, serve
from pco_sandbox.transport import InProcessTransport
from pco_sandbox.webhooks import sign

__all__ = ["InProcessTransport", "Sandbox", "SandboxConfig", "run_sandbox_server", "serve", "sign"]
