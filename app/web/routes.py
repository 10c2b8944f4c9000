"""The web client: server-rendered pages over the same services as the API."""

from fastapi import FastAPI

from app.web import (
    account_pages,
    admin_pages,
    analysis_pages,
    audit_pages,
    auth_pages,
    cycle_pages,
    finance_pages,
    import_pages,
    lock_pages,
    panel_admin_pages,
    panel_pages,
    proposal_pages,
    render,
    scoring_pages,
    user_pages,
)


def install(app: FastAPI) -> None:
    render.install(app)
    for module in (
        auth_pages,
        proposal_pages,
        scoring_pages,
        panel_admin_pages,  # before panel_pages: /panels/new is not /panels/{panel_id}
        panel_pages,
        finance_pages,
        analysis_pages,
        admin_pages,
        cycle_pages,
        lock_pages,
        account_pages,
        audit_pages,
        user_pages,
        import_pages,
    ):
        app.include_router(module.router)
