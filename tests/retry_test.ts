import assert from "node:assert/strict";
import { backoffDelay, parseRetryAfter, retry, RetryError } from "../mod.ts";

Deno.test("retry() returns the first success", async () => {
  let calls = 0;
  const v = await retry(() => Promise.resolve(++calls), { sleep: () => Promise.resolve() });
  assert.equal(v, 1);
  assert.equal(calls, 1);
});

Deno.test("retry() gives up after maxAttempts with RetryError carrying the last error", async () => {
  let calls = 0;
  const err = await retry(() => Promise.reject(new Error(`fail ${++calls}`)), {
    maxAttempts: 4,
    sleep: () => Promise.resolve(),
  }).catch((e) => e);
  assert.ok(err instanceof RetryError);
  assert.equal(err.attempts, 4);
  assert.equal((err.cause as Error).message, "fail 4");
  assert.equal(calls, 4);
});

Deno.test("retry() waits follow min(max, min * multiplier^n) scaled by the jitter", async () => {
  const waits: number[] = [];
  await retry(() => Promise.reject(new Error("x")), {
    maxAttempts: 6,
    minTimeout: 1000,
    maxTimeout: 10000,
    multiplier: 2,
    jitter: 0.5,
    random: () => 0.5,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  }).catch(() => {});
  // (1 - 0.5 * 0.5) * min(10000, 1000 * 2^n)
  assert.deepEqual(waits, [750, 1500, 3000, 6000, 7500]);
});

Deno.test("backoffDelay with full jitter stays within [0, cap]", () => {
  for (let i = 0; i < 20; i++) {
    const d = backoffDelay(i, { minTimeout: 1000, maxTimeout: 60000 });
    assert.ok(d >= 0 && d <= 60000, `delay ${d}`);
  }
  assert.equal(backoffDelay(0, { random: () => 0 }), 1000);
  assert.equal(backoffDelay(10, { random: () => 0 }), 60000);
});

Deno.test("retry() honours a longer retryAfter carried by the error", async () => {
  const waits: number[] = [];
  let n = 0;
  await retry(() => {
    if (++n < 3) return Promise.reject(Object.assign(new Error("slow down"), { retryAfter: 7000 }));
    return Promise.resolve();
  }, {
    minTimeout: 100,
    random: () => 0,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  });
  assert.deepEqual(waits, [7000, 7000]);
});

Deno.test("retry() rethrows a non-retriable error as it is, at once", async () => {
  let calls = 0;
  const boom = new Error("permanent");
  const err = await retry(() => {
    calls++;
    return Promise.reject(boom);
  }, { isRetriable: () => false, sleep: () => Promise.resolve() }).catch((e) => e);
  assert.equal(err, boom);
  assert.equal(calls, 1);
});

Deno.test("retry() stops when the signal aborts during a wait", async () => {
  const ac = new AbortController();
  let calls = 0;
  const err = await retry(() => {
    calls++;
    return Promise.reject(new Error("x"));
  }, {
    signal: ac.signal,
    sleep: (_ms, signal) => {
      ac.abort(new Error("stop"));
      return Promise.reject(signal?.reason);
    },
  }).catch((e) => e);
  assert.equal(calls, 1);
  assert.equal((err as Error).message, "stop");
});

Deno.test("retry() rejects impossible options", async () => {
  await assert.rejects(retry(() => Promise.resolve(1), { maxAttempts: 0 }), RangeError);
  await assert.rejects(
    retry(() => Promise.resolve(1), { minTimeout: 5, maxTimeout: 1 }),
    RangeError,
  );
});

Deno.test("parseRetryAfter reads seconds and HTTP dates", () => {
  assert.equal(parseRetryAfter("3"), 3000);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter("garbage"), undefined);
  const now = Date.parse("Wed, 21 Oct 2026 07:28:00 GMT");
  assert.equal(parseRetryAfter("Wed, 21 Oct 2026 07:28:05 GMT", now), 5000);
});
