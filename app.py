"""Start the web UI: `python app.py [--port N]` (or ASSISTANT_PORT) at http://127.0.0.1:7860.

Builds the index from the knowledge directory first when there is none.
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
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: the port setting, $ASSISTANT_PORT, or 7860)")
    args = parser.parse_args(argv)
    if args.port is None:
        from pydantic import ValidationError

        from assistant.settings import Settings

        try:
            args.port = Settings().port
        except ValidationError as exc:
            parser.error(f"ASSISTANT_PORT: {exc.errors()[0]['msg']}")
    if not 0 < args.port < 65536:
        parser.error(f"port out of range: {args.port}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from assistant.retrieval.index import IndexError_
    from assistant.settings import get_settings

    settings = get_settings()
    from assistant.interfaces.web_start import WarmUp, ensure_index

    try:
        ensure_index(settings)
    except IndexError_ as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # warm up while Gradio is imported and the server starts (both take seconds)
    warm_up = WarmUp(settings).start()
    from assistant.interfaces.web import build_app, launch_app

    demo = build_app(settings, warm_up=warm_up)
    print(f"昆山人才科创政策问答助手: http://127.0.0.1:{args.port}", flush=True)
    launch_app(demo, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
