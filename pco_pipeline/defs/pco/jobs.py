"""`check_pco_connection`: the admin's "Test Connection" button as a Dagster job."""

import dagster as dg

from pco_pipeline.defs.pco.resources import PCO_API_POOL, PCOResource


@dg.op(pool=PCO_API_POOL,
       description="Reads the organization and probes each PCO module (GET per_page=1). Creates nothing in PCO.")
def report_pco_connection(context: dg.OpExecutionContext, pco: PCOResource) -> dict:
    report = pco.check_connection()
    metadata = {
        "ok": dg.MetadataValue.bool(report.ok),
        "configured": dg.MetadataValue.bool(report.configured),
        "organization": dg.MetadataValue.text(report.organization or "-"),
        "auth_method": dg.MetadataValue.text(report.auth_method or "-"),
        "rate_limit": dg.MetadataValue.text(report.rate_limit or "-"),
        "api": dg.MetadataValue.text(report.base_url or "-"),
        "modules": dg.MetadataValue.md(report.modules_markdown()),
    }
    for line in report.lines():
        context.log.info(line)
    if not report.ok:
        raise dg.Failure(description=report.problem or "the PCO connection does not work", metadata=metadata)
    context.add_output_metadata(metadata)
    return report.as_dict()


@dg.job(description="Tests the PCO credentials: organization, auth method, rate limit, and which modules "
                    "they can read or write. Changes nothing in PCO.")
def check_pco_connection():
    report_pco_connection()
