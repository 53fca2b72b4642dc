// Live updates pushed by the server: a long-poll on GET /event (the server answers the
// moment something happens, or after ``timeout`` seconds with nothing), never a fixed
// short poll. Callers without a rule to receive events wait on GET /task/{id}/wait.

import { mayAtAll } from "./permissions.js";

const HOLD_SECONDS = 25;

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

// Calls ``onChange()`` whenever the server reports a change of the task's runs (or of
// ``related`` tasks, e.g. subtasks); stops when ``signal`` aborts or ``isDone()`` says so.
export async function followTask(api, me, taskId, { signal, onChange, isDone, related }) {
  const useEvents = mayAtAll(me, "receive", "event");
  let cursor = null;
  let failures = 0;
  while (!signal.aborted && !isDone()) {
    try {
      if (useEvents) {
        const body = await api.get("/event", { since: cursor ?? undefined,
          timeout: cursor === null ? 0 : HOLD_SECONDS }, { signal });
        const first = cursor === null;
        cursor = body.cursor;
        const mine = body.events.some((e) => e.task_id === taskId || related(e.task_id));
        if (mine || first) await onChange();
      } else {
        await api.get(`/task/${taskId}/wait`, { timeout: HOLD_SECONDS }, { signal });
        await onChange();
      }
      failures = 0;
    } catch (err) {
      if (signal.aborted || err.name === "AbortError") return;
      failures += 1;
      // busy server (429/503) or a broken connection: back off, then hold again
      await pause(Math.min(30000, 1000 * 2 ** failures), signal);
    }
  }
}
