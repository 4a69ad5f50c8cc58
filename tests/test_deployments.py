"""Every deployment in prefect.yaml, deployed to a real local Prefect server and run by a process worker.

`.fn` tests skip what only a deployment run does: loading the entrypoint in a
fresh process, the pull step, parameters as JSON, the flow's artifacts and its
return value. One server, one work pool and one worker serve the session; each
run gets its own database and sample-day server through the run's environment.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from fakes.openai_server import FakeOpenAI
from newsdesk.cli import app
from newsdesk.demo import SAMPLE_DAY, demo_sources, serve_sample_day
from smtp_server import SmtpServer, free_port
from storage import desk
from storage.db import Database
from storage.models import Digest, Publication

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class PrefectStack:
    api: str
    env: dict[str, str]
    logs: Path

    def deployments(self) -> dict[str, dict[str, Any]]:
        return {row["name"]: row for row in self._call("POST", "/deployments/filter", {})}

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call, retried like Prefect's own client does when the busy server answers 503."""
        for attempt in range(20):
            response = httpx.request(method, f"{self.api}{path}", json=body, timeout=60)
            if response.status_code not in (429, 503):
                response.raise_for_status()
                return response.json()
            time.sleep(min(0.5 * (attempt + 1), 5))
        response.raise_for_status()

    def run(self, deployment: dict[str, Any], parameters: dict[str, Any], env: dict[str, str],
            timeout: float = 600) -> dict[str, Any]:
        """Create a flow run and wait for its final state; returns the run with its logs on failure."""
        run_id = self._call("POST", f"/deployments/{deployment['id']}/create_flow_run",
                            {"parameters": parameters, "job_variables": {"env": env}})["id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self._call("GET", f"/flow_runs/{run_id}")
            if run["state_type"] in FINAL:
                if run["state_type"] != "COMPLETED":
                    run["logs"] = self.flow_logs(run_id)
                return run
            time.sleep(0.5)
        raise AssertionError(f"{deployment['name']} did not finish in {timeout}s; worker log:\n{self.tail()}")

    def flow_logs(self, run_id: str) -> str:
        rows = self._call("POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}})
        return "\n".join(r["message"] for r in rows)[-6000:] + "\n--- worker ---\n" + self.tail()

    def tail(self) -> str:
        return self.logs.read_text(encoding="utf-8", errors="replace")[-4000:] if self.logs.exists() else ""


def _wait_healthy(api: str, server: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited {server.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"prefect server not healthy after {timeout}s:\n{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def prefect_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    """`prefect server start` on a free loopback port, the work pool, `prefect deploy --all`, a process worker."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSDESK_", "OPENAI_"))}
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",  # no cron runs of `nightly` during the test
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "NEWSDESK_PROJECT_DIR": str(ROOT),  # the pull step's working directory
        "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback",
    })
    server_log, worker_log = home / "server.log", home / "worker.log"
    with server_log.open("wb") as out:
        server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, stdout=out, stderr=subprocess.STDOUT, cwd=home)
    worker = None
    try:
        _wait_healthy(api, server, server_log)
        for cmd in (["work-pool", "create", "newsdesk", "--type", "process"], ["--no-prompt", "deploy", "--all"]):
            done = subprocess.run([PREFECT, *cmd], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"prefect {' '.join(cmd)}:\n{done.stdout}\n{done.stderr}"
        with worker_log.open("wb") as out:
            worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "newsdesk", "--type", "process"],
                                      env=env, stdout=out, stderr=subprocess.STDOUT, cwd=home)
        yield PrefectStack(api=api, env=env, logs=worker_log)
    finally:
        if worker is not None:
            _stop(worker)
        _stop(server)
        shutil.rmtree(home / "storage", ignore_errors=True)


def _cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, f"newsdesk {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result.output


def test_every_deployment_in_prefect_yaml_runs_to_completed(prefect_stack: PrefectStack, tmp_path: Path) -> None:
    declared = {d["name"] for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    deployed = prefect_stack.deployments()
    assert set(deployed) == declared

    db = Database(f"sqlite:///{tmp_path / 'newsdesk.db'}")
    db.migrate()
    ran: list[str] = []
    with serve_sample_day() as base_url, FakeOpenAI() as llm, SmtpServer() as smtp:
        sources = tmp_path / "sources.yaml"
        sources.write_text(yaml.safe_dump({"sources": demo_sources(base_url)}), encoding="utf-8")
        env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db.url,
               "NEWSDESK_SOURCES": str(sources), "NEWSDESK_PUBLISH_DIR": str(tmp_path / "site"),
               "NEWSDESK_MAX_STORIES": "4", "OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": llm.base_url,
               "NEWSDESK_MODEL": llm.model, "NEWSDESK_SMTP_URL": smtp.url(), "NEWSDESK_EMAIL_FROM": "desk@example.org",
               "NEWSDESK_SITE_URL": "https://news.example.org", "NEWSDESK_PUBLIC_URL": "https://desk.example.org",
               "NEWSDESK_EMAIL_RATE": "100"}

        def run(name: str, **parameters: Any) -> dict[str, Any]:
            flow_run = prefect_stack.run(deployed[name], parameters, env)
            assert flow_run["state_type"] == "COMPLETED", \
                f"{name} ended {flow_run['state_type']}: {flow_run['state']['message']}\n{flow_run.get('logs', '')}"
            ran.append(name)
            return flow_run

        run("nightly", day=SAMPLE_DAY)
        with db.session() as s:
            rows = desk.list_stories(s, day=SAMPLE_DAY)
        assert rows, "the nightly deployment queued no drafts"
        run("rerun", day=SAMPLE_DAY, from_stage="draft")

        with db.session() as s:
            desk.approve(s, rows[0].id, "ana", override="checked by hand")
        _cli(env, "subscribers", "add", "reader@example.org")
        run("publish", day=SAMPLE_DAY)
        assert (tmp_path / "site" / f"{SAMPLE_DAY}.md").exists()
        with db.session() as s:
            revisions = s.scalar(select(func.count(Publication.id)).join(Digest, Digest.id == Publication.digest_id)
                                 .where(Digest.day == SAMPLE_DAY))
        assert revisions == 1, "a completed publish run wrote one revision, no spurious correction"

        run("send", day=SAMPLE_DAY)
        assert len(smtp.handler.to("reader@example.org")) == 1
    db.dispose()
    assert sorted(ran) == sorted(declared), "every deployment in prefect.yaml ran"
