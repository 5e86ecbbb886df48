"""The embedded write gate takes turns by writer: one writer's queue never holds the others back by more than one turn."""

import asyncio

from models.db import FairGate, writer


async def _write(gate: FairGate, who: str, served: list[str], hold: float = 0.001) -> None:
    writer.set(who)
    async with gate.hold():
        served.append(who)
        await asyncio.sleep(hold)


async def test_a_second_writer_is_served_after_one_turn_of_the_first_however_long_its_queue():
    gate, served = FairGate(), []
    flood = [asyncio.create_task(_write(gate, "flooder", served)) for _ in range(50)]
    await asyncio.sleep(0)
    await asyncio.sleep(0.0005)
    await _write(gate, "bystander", served)
    assert served.index("bystander") <= 2
    await asyncio.gather(*flood)
    assert served.count("flooder") == 50


async def test_writers_alternate_and_each_keeps_its_own_order():
    gate, served = FairGate(), []

    async def numbered(who: str, number: int) -> None:
        writer.set(who)
        async with gate.hold():
            served.append(f"{who}{number}")
            await asyncio.sleep(0)

    holder = asyncio.create_task(_write(gate, "first", served, hold=0.01))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(numbered(who, n)) for who in ("a", "b") for n in range(3)]
    await asyncio.gather(holder, *waiting)
    assert served == ["first", "a0", "b0", "a1", "b1", "a2", "b2"]


async def test_a_waiter_that_gives_up_does_not_keep_the_gate():
    gate, served = FairGate(), []
    holder = asyncio.create_task(_write(gate, "holder", served, hold=0.01))
    await asyncio.sleep(0)
    quitter = asyncio.create_task(_write(gate, "quitter", served))
    await asyncio.sleep(0)
    quitter.cancel()
    await _write(gate, "patient", served)
    await holder
    assert served == ["holder", "patient"]
    async with asyncio.timeout(1):
        await _write(gate, "later", served)
