"""``python -m autoenhance_nb.sandbox``: run the Autoenhance v3 sandbox in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys

from . import DEFAULT_KEY, Sandbox


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="autoenhance-sandbox",
        description="Run a local, stateful emulator of the Autoenhance v3 API.",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; other hosts can reach it "
        "only if you bind 0.0.0.0 on purpose)",
    )
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free)")
    p.add_argument(
        "--api-key",
        default=None,
        help="accept only this key (default: any non-empty key). Prefer the "
        "AUTOENHANCE_SANDBOX_KEY environment variable: arguments show in ps.",
    )
    p.add_argument(
        "--processing-seconds",
        type=float,
        default=2.0,
        help="seconds an uploaded image stays 'processing' (default 2)",
    )
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    p.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction of requests answered 503"
    )
    p.add_argument(
        "--ambiguous-rate",
        type=float,
        default=0.0,
        help="fraction of successful writes committed but answered 502",
    )
    p.add_argument(
        "--rate-limit",
        type=float,
        default=0.0,
        help="requests per second before 429 (0 = off; the real API allows 300)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed that makes faults repeat")
    p.add_argument(
        "--per-page-overflow",
        choices=["clamp", "reject"],
        default="clamp",
        help="what a per_page above 15 gets (default clamp)",
    )
    p.add_argument(
        "--merging-seconds",
        type=float,
        default=2.0,
        help="seconds an order stays is_merging after POST /v3/orders/{id}/process (default 2)",
    )
    p.add_argument(
        "--daily-image-limit",
        type=int,
        default=None,
        help="images a day that may start processing; later ones end in 'error' "
        "(default: no limit; the real API's is 500)",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        help="seconds a connection may stall or sit idle before it is closed (default 30)",
    )
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    import os

    args = build_parser().parse_args(argv)
    api_key = args.api_key or os.environ.get("AUTOENHANCE_SANDBOX_KEY") or None
    try:
        sandbox = Sandbox(
            host=args.host,
            port=args.port,
            api_key=api_key,
            processing_seconds=args.processing_seconds,
            latency=args.latency,
            error_rate=args.error_rate,
            ambiguous_rate=args.ambiguous_rate,
            rate_limit=args.rate_limit,
            seed=args.seed,
            per_page_overflow=args.per_page_overflow,
            merging_seconds=args.merging_seconds,
            daily_image_limit=args.daily_image_limit,
            request_timeout=args.request_timeout,
            verbose=args.verbose,
        )
        sandbox.bind()
    except (ValueError, OSError) as exc:
        print(f"autoenhance-sandbox: {exc}", file=sys.stderr)
        return 2

    def _stop(signum, frame):  # SIGTERM behaves like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    key_hint = "<the key you configured>" if api_key else DEFAULT_KEY
    print(f"Autoenhance sandbox listening on {sandbox.url}")
    print("Point a client at it with:")
    print(f"  export AUTOENHANCE_BASE_URL={sandbox.url}")
    print(f"  export AUTOENHANCE_API_KEY={key_hint}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    print("Sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
