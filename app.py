"""Start the web UI and its OpenAI-compatible API: `python app.py [--port N] [--host H]` (or ASSISTANT_PORT,
ASSISTANT_HOST) at http://127.0.0.1:7860 (the API at /v1).

Builds the index from the knowledge directory first when there is none. Bound to anything but loopback,
the API needs a key (ASSISTANT_API_KEY): without one the app refuses to start.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="昆山人才科创政策问答助手 (web UI)")
    parser.add_argument("--port", type=int, default=None, help="port (default: the port setting, $ASSISTANT_PORT, or 7860)")
    parser.add_argument("--host", default=None, help="address to bind (default: $ASSISTANT_HOST or 127.0.0.1; others need $ASSISTANT_API_KEY)")
    args = parser.parse_args(argv)
    if args.port is None or args.host is None:
        from pydantic import ValidationError

        from assistant.settings import Settings

        try:
            settings = Settings()
        except ValidationError as exc:
            error = exc.errors()[0]
            parser.error(f"ASSISTANT_{str(error['loc'][0]).upper()}: {error['msg']}")
        args.port = settings.port if args.port is None else args.port
        args.host = settings.host if args.host is None else args.host
    if not 0 < args.port < 65536:
        parser.error(f"port out of range: {args.port}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from assistant.retrieval.index import IndexError_
    from assistant.settings import get_settings

    settings = get_settings()
    from assistant.interfaces.web_start import BindError, WarmUp, check_binding, ensure_index

    try:
        check_binding(args.host, settings)  # before any work: refuse to open the API to the network
    except BindError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        ensure_index(settings)
    except IndexError_ as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # warm up while Gradio is imported and the server starts (both take seconds)
    warm_up = WarmUp(settings).start()
    from assistant.interfaces.web import Server, build_app

    demo = build_app(settings, warm_up=warm_up)
    server = Server(demo, args.port, args.host)
    print(f"昆山人才科创政策问答助手: {server.url}（OpenAI 兼容接口：{server.url}v1）", flush=True)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
