from collections.abc import AsyncIterator

import pytest

from tests.notifications.receiver import Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real webhook receiver on 127.0.0.1."""
    r = await Receiver().start()
    yield r
    if r.gate is not None:
        r.gate.set()
    await r.stop()
