"""`vertebro mllp`: run the HL7 v2 MLLP listener until stopped."""

import asyncio
import signal

import typer
from rich.console import Console

console = Console(stderr=True)


def mllp_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(2575, help="TCP port (2575 is MLLP's registered port)."),
    api_key: str | None = typer.Option(
        None,
        envvar="HL7_MLLP_API_KEY",
        help="The API key (scope events:write) the listener acts as; default HL7_MLLP_API_KEY.",
        show_default=False,
    ),
) -> None:
    """Accept HL7 v2 messages over MLLP and answer each with its ACK (see docs/hl7v2.md)."""
    from app.config import get_settings
    from app.db import get_engine
    from app.hl7 import mllp

    settings = get_settings()
    secret = settings.hl7_mllp_api_key
    key = api_key or (secret.get_secret_value() if secret else None)
    if not key:
        console.print("Give the API key: --api-key or HL7_MLLP_API_KEY (scope events:write).")
        raise typer.Exit(2)

    async def run() -> None:
        try:
            server = await mllp.start(host, port, key, settings.hl7_mllp_max_frame_bytes)
        except mllp.KeyRefused as exc:
            console.print(f"The API key is refused: {exc}")
            raise typer.Exit(2) from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        console.print(f"MLLP listening on {host}:{port}; Ctrl-C to stop")
        async with server:
            await stop.wait()
        await get_engine().dispose()

    asyncio.run(run())
