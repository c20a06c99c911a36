import assert from "node:assert/strict";
import { EXTERNAL_SLACK, noteStreamed } from "../core/garbage.ts";

/** The most external memory seen while making `total` bytes of 1 MiB garbage chunks. */
async function peakExternal(total: number, note: boolean): Promise<number> {
  let peak = 0;
  for (let made = 0; made < total; made += 1 << 20) {
    const chunk = new Uint8Array(1 << 20);
    chunk[0] = made & 255;
    if (note) noteStreamed(chunk.length);
    peak = Math.max(peak, Deno.memoryUsage().external);
    await Promise.resolve();
  }
  return peak;
}

Deno.test("noteStreamed keeps a stream's short-lived buffers from piling up", async () => {
  const base = Deno.memoryUsage().external;
  const peak = await peakExternal(256 << 20, true);
  // Within the slack and one look's worth of chunks, not V8's own ~64 MiB or more.
  assert.ok(
    peak - base < EXTERNAL_SLACK + (8 << 20),
    `external memory grew by ${((peak - base) / 1048576).toFixed(1)} MiB`,
  );
});
