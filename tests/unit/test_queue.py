import asyncio

from driftless.controller.queue import WorkQueue


async def test_deduplicates_and_keeps_earliest_due_time() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a", delay=10)
    queue.add("a", delay=0)
    queue.add("a", delay=5)
    assert len(queue) == 1
    assert await asyncio.wait_for(queue.get(), 1) == "a"


async def test_key_in_progress_is_not_handed_out_twice() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    key = await queue.get()
    queue.add("a")
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0.05)
    assert not getter.done()
    queue.done(key)
    assert await asyncio.wait_for(getter, 1) == "a"


async def test_delayed_key_waits() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("late", delay=0.3)
    queue.add("soon", delay=0.0)
    assert await asyncio.wait_for(queue.get(), 1) == "soon"
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await asyncio.wait_for(queue.get(), 2) == "late"
    assert loop.time() - start > 0.2


async def test_forget_drops_a_scheduled_key() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("gone", delay=0.1)
    queue.forget("gone")
    queue.add("kept", delay=0.2)
    assert await asyncio.wait_for(queue.get(), 1) == "kept"
