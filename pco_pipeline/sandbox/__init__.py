"""The PCO sandbox: a faithful simulator of the Planning Center API and its webhooks. No Dagster here.

    from pco_pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox_server

    sandbox = Sandbox.seeded(people=2000, seed=1, config=SandboxConfig(rate_limit="100/2s"))
    with sandbox.client() as client:                   # in-process, no sockets
        client.get("/people/v2/people", params={"include": "emails"})
    with run_sandbox_server(sandbox) as base_url:      # real HTTP on 127.0.0.1
        ...

Modules: core (Sandbox, SandboxConfig), store, schema, query, documents, writes, auth, ratelimit,
webhooks, faults, controls, requestlog, clock, errors, app (ASGI), server (HTTP / in-process),
seed (the synthetic church).
"""

from pco_pipeline.sandbox.core import Sandbox, SandboxConfig
from pco_pipeline.sandbox.server import InProcessTransport, run_sandbox_server, serve
from pco_pipeline.sandbox.webhooks import sign

__all__ = ["InProcessTransport", "Sandbox", "SandboxConfig", "run_sandbox_server", "serve", "sign"]
