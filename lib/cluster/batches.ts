import type { RedisClient } from './redis-connection.js';

/** Runs `task` over `items`, `size` at a time (ioredis pipelines each batch into few round trips). */
export async function inBatches<T, R>(items: readonly T[], size: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    results.push(...(await Promise.all(items.slice(i, i + size).map(task))));
  }
  return results;
}

/**
 * Walks the field names of hash `key` with HSCAN, about `size` at a time, handing each batch to
 * `batch`. Stops, returning `false`, as soon as `batch` returns `false` (for a reaper: the node is
 * alive again); `true` once the scan is complete.
 */
export async function everyHashFieldBatch(
  commands: Pick<RedisClient, 'hscan'>,
  key: string,
  size: number,
  batch: (fields: string[]) => Promise<boolean>,
): Promise<boolean> {
  let cursor = '0';
  do {
    const [next, flat] = await commands.hscan(key, cursor, 'COUNT', size);
    cursor = next;
    if (!(await batch(flat.filter((_, i) => i % 2 === 0)))) return false;
  } while (cursor !== '0');
  return true;
}
