"""The staff console: a small server-rendered web app on the internal listener (`pco-pipeline
console`, started by `make ui` beside the Dagster UI).

- `app`: the routes, each declared protected (with the least role) or public (with why);
- `security`: the session credential reader, the pages' refusals, the CSRF check on every POST;
- `session`, `settings`, `rendering`: the signed session cookie, the `PCO_CONSOLE_*` settings, the
  autoescaped templates;
- `dashboard`, `launch`, `review`, `decisions`, `person_history`: what each page reads or does
  (runs are launched through the Dagster webserver's GraphQL API; quarantine decisions are
  recorded for the next people load).
"""
