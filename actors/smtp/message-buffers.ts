/**
 * Buffers for per-recipient messages (template.ts fill), reused (issue 17). A 100 KB message
 * written into fresh memory page-faults on every page, and each fresh ArrayBuffer is external
 * memory that drives V8's collections: measured together, more than the filling itself. A
 * buffer comes back once the server has accepted the message it carried (its reply after the
 * final dot: every byte was written and read, nothing will read it again). After a failure it
 * is left to the GC instead, as a write of it may still be pending on a socket.
 */
const lent = new WeakSet<ArrayBuffer>();
const free: ArrayBuffer[] = [];
let freeBytes = 0;

/** Sizes are rounded up to this: recipients of one payload differ by a few bytes and share buffers. */
const GRAIN = 16 * 1024;
/** At most this much memory kept for reuse; buffers beyond it go to the GC. */
export const MAX_FREE_BYTES = 16 * 1024 * 1024;

/** A buffer of `size` bytes (uninitialised), from the free list when one fits. */
export function messageBuffer(size: number): Buffer {
  // Last in, first out: the most recently used memory is the likeliest still in cache.
  for (let i = free.length - 1; i >= 0; i--) {
    const ab = free[i] as ArrayBuffer;
    // Not a far bigger one than needed: a small message must not hold a large buffer.
    if (ab.byteLength < size || ab.byteLength > 2 * size + GRAIN) continue;
    free.splice(i, 1);
    freeBytes -= ab.byteLength;
    lent.add(ab);
    return Buffer.from(ab, 0, size);
  }
  const ab = Buffer.allocUnsafeSlow(Math.ceil(size / GRAIN) * GRAIN).buffer as ArrayBuffer;
  lent.add(ab);
  return Buffer.from(ab, 0, size);
}

/** The message in `b` (a view of a messageBuffer, or any other buffer: ignored) is done with. */
export function recycle(b: Buffer): void {
  const ab = b.buffer as ArrayBuffer;
  if (!lent.has(ab)) return; // not ours, or given back already
  lent.delete(ab);
  if (freeBytes + ab.byteLength > MAX_FREE_BYTES) return;
  free.push(ab);
  freeBytes += ab.byteLength;
}

/** What the free list holds (for tests). */
export const freeBuffers = (): { count: number; bytes: number } => ({ count: free.length, bytes: freeBytes });
