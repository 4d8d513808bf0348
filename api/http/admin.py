"""Admin routes (an agent key with the admin role): documents, sources, the policy in use."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import APIRouter, File, Request, UploadFile

from api.http.deps import ERRORS_AGENT, Admin, ServiceDep
from api.http.schemas import DeletedSource, JobOut, PolicyOut, SourceOut
from triage.errors import InvalidInputError

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=ERRORS_AGENT)
SUFFIXES = (".md", ".txt", ".html", ".htm", ".pdf", ".json", ".jsonl", ".csv")


@router.post("/documents", status_code=202, response_model=JobOut)
async def upload(request: Request, file: Annotated[UploadFile, File(description="A document to index.")],
                 admin: Admin, service: ServiceDep):
    """Upload a document; it is ingested in the background (poll the job for progress)."""
    name = Path(file.filename or "").name
    if not name or not name.lower().endswith(SUFFIXES) or not re.fullmatch(r"[\w .()-]{1,200}", name):
        raise InvalidInputError(f"upload a file named like faq.md with one of {', '.join(SUFFIXES)}")
    data = await file.read()
    if not data:
        raise InvalidInputError("the uploaded file is empty")
    settings = request.app.state.settings
    folder = Path(settings.data_dir).resolve() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    with tempfile.NamedTemporaryFile(dir=folder, delete=False) as tmp:
        tmp.write(data)
    Path(tmp.name).replace(target)
    return service.start_ingest(target, name)


@router.get("/documents/jobs/{job_id}", response_model=JobOut)
async def job(job_id: str, admin: Admin, service: ServiceDep):
    """An upload's ingestion progress."""
    return service.job(job_id)


@router.get("/sources", response_model=list[SourceOut])
async def sources(admin: Admin, service: ServiceDep):
    """What is indexed."""
    return await anyio.to_thread.run_sync(service.sources)


@router.delete("/sources/{source:path}", response_model=DeletedSource)
async def delete_source(source: str, admin: Admin, service: ServiceDep):
    """Remove a source from the knowledge base."""
    return await anyio.to_thread.run_sync(service.delete_source, source)


@router.get("/policy", response_model=PolicyOut)
async def policy(admin: Admin, service: ServiceDep):
    """The policy file in use (store, hours, escalation rules)."""
    return {"text": service.policy_text}
