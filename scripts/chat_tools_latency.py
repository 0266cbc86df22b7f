"""Latency of a streamed chat completion with and without Open WebUI's ~26 KB of tool definitions.

Open WebUI (0.12) sends its built-in tools (36 functions: notes, memories, knowledge bases, calendar...) with every
chat request; medcite accepts and ignores them. This measures whether they cost anything: the same question is
sent over HTTP to a live server (uvicorn on a free 127.0.0.1 port, the real index), alternately with and without
the tools, and the client-side latency to ``data: [DONE]`` is compared in the same run.

    python scripts/chat_tools_latency.py --index var/index/default --requests 100
    python scripts/chat_tools_latency.py --tools /tmp/openwebui-request.json   # tools of a captured request body
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUESTION = ("What is the most appropriate next diagnostic test for a pediatric patient presenting with a left flank "
            "mass and ultrasound findings of a mass with internal calcification?")
#: Open WebUI 0.12.4's built-in tool names (their definitions are rebuilt here with filler of the same size).
NAMES = ("get_current_timestamp calculate_timestamp ask_user list_knowledge_bases search_knowledge_bases "
         "query_knowledge_bases grep_knowledge_files search_knowledge_files query_knowledge_files view_knowledge_file "
         "search_chats view_chat search_memories list_memory_paths read_memory_path list_memories update_memory "
         "add_memory replace_memory_content delete_memory search_notes view_note write_note replace_note_content "
         "create_skill create_tasks update_task create_automation update_automation list_automations "
         "toggle_automation delete_automation search_calendar_events create_calendar_event update_calendar_event "
         "delete_calendar_event").split()


def synthetic_tools(total_bytes: int = 26_000) -> list[dict[str, Any]]:
    """Tool definitions in OpenAI's shape, about ``total_bytes`` of JSON, with Open WebUI's tool names."""
    per = total_bytes // len(NAMES)
    tools = []
    for name in NAMES:
        params = {"type": "object", "properties": {
            f"arg{i}": {"type": "string", "description": "An argument of the tool, described in a sentence or two."}
            for i in range(3)}, "required": ["arg0"]}
        base = json.dumps({"type": "function", "function": {"name": name, "description": "", "parameters": params}})
        tools.append({"type": "function", "function": {
            "name": name, "description": "Does one thing of the front-end. " * max(1, (per - len(base)) // 33),
            "parameters": params}})
    return tools


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "var" / "index" / "default")
    parser.add_argument("--requests", type=int, default=100, help="requests per variant")
    parser.add_argument("--tools", type=Path, default=None, help="a captured request body whose 'tools' to send")
    args = parser.parse_args(argv)

    import httpx
    import uvicorn

    from app.http.factory import create_app
    from app.query.pipeline import AnswerPipeline
    from app.settings import Settings

    captured = json.loads(args.tools.read_text()) if args.tools else {}
    tools = (captured.get("tools") or captured.get("body", {}).get("tools")) if args.tools else synthetic_tools()
    settings = Settings()
    settings.paths.index_dir = args.index
    settings.security.rate_limit_per_minute = 0
    pipeline = AnswerPipeline.from_settings(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, pipeline=pipeline), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    times: dict[str, list[float]] = {"without tools": [], "with tools": []}
    body = {"model": "medcite", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    size = len(json.dumps({**body, "tools": tools}).encode()) - len(json.dumps(body).encode())
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for i in range(args.requests * 2 + 4):
                variant = "with tools" if i % 2 else "without tools"
                payload = {**body, "tools": tools} if i % 2 else body
                t0 = time.perf_counter()
                with client.stream("POST", "/v1/chat/completions", json=payload) as response:
                    response.raise_for_status()
                    text = "".join(response.iter_text())
                elapsed = (time.perf_counter() - t0) * 1000.0
                assert text.endswith("data: [DONE]\n\n")
                if i >= 4:  # the first two pairs warm up
                    times[variant].append(elapsed)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    report = {"tools_bytes": size, "tools": len(tools), "requests_per_variant": args.requests}
    for variant, values in times.items():
        values.sort()
        report[variant] = {"p50_ms": round(statistics.median(values), 2), "mean_ms": round(statistics.fmean(values), 2),
                           "p90_ms": round(values[int(0.9 * (len(values) - 1))], 2)}
    report["p50_ratio_with_over_without"] = round(report["with tools"]["p50_ms"] / report["without tools"]["p50_ms"], 3)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
