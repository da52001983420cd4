"""The loop-level timer wheel (core/runtime/timers.py) on a real event loop: callbacks fire,
never early; cancelled handles do not keep their callbacks' objects alive for long."""

from __future__ import annotations

import asyncio
import gc
import weakref

from hapx.core.runtime.timers import TICK_MS, now_ms, timers_of


class Owner:
    """What a timer's callback belongs to (a transaction, a stream...)."""

    def __init__(self) -> None:
        self.fired_at: float | None = None

    def fire(self) -> None:
        self.fired_at = now_ms()


def test_fires_not_early_and_moves() -> None:
    async def main() -> None:
        wheel = timers_of()
        a, b, c = Owner(), Owner(), Owner()
        start = now_ms()
        ha = wheel.schedule(start + 30, a.fire)
        wheel.schedule(start + 20, b.fire)
        hc = wheel.schedule(start + 20, c.fire)
        ha.reschedule(start + 60)      # later: noticed when its first slot comes due
        hc.cancel()
        deadline = asyncio.get_running_loop().time() + 5
        while (a.fired_at is None or b.fired_at is None) and \
                asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        assert b.fired_at is not None and b.fired_at >= start + 20
        assert a.fired_at is not None and a.fired_at >= start + 60
        assert c.fired_at is None
        hc.reschedule(now_ms() + TICK_MS)  # a cancelled handle revived
        deadline = asyncio.get_running_loop().time() + 5
        while c.fired_at is None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        assert c.fired_at is not None

    asyncio.run(main())


def test_cancelled_handles_release_their_owners() -> None:
    async def main() -> None:
        wheel = timers_of()
        refs = []
        kept = []
        far = now_ms() + 60_000
        for i in range(5000):
            owner = Owner()
            handle = wheel.schedule(far + i, owner.fire)
            refs.append(weakref.ref(owner))
            if i % 10 == 0:
                kept.append((owner, handle))   # a live timer: its owner must stay
            else:
                handle.cancel()
            del owner, handle
        gc.collect()
        alive = sum(r() is not None for r in refs)
        # without compaction all 5,000 owners would be held until their slots run, a
        # minute from now; with it, the live 500 plus at most the cancelled handles of
        # the last 2 x 1,024 entries
        assert alive < 3000, alive
        assert all(r() is not None for r in refs[::10])
        assert len(wheel) == len(kept)
        # live handles still fire after compaction
        soon = now_ms() + TICK_MS
        for _owner, handle in kept[:5]:
            handle.reschedule(soon)
        deadline = asyncio.get_running_loop().time() + 5
        while any(o.fired_at is None for o, _h in kept[:5]) and \
                asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        assert all(o.fired_at is not None for o, _h in kept[:5])
        assert all(o.fired_at is None for o, _h in kept[5:])

    asyncio.run(main())
