/**
 * Per-file work with a few files in flight: while one file waits on the
 * disk or on `git cat-file`, the next is read and merged. Results come back
 * in input order, so everything built from them (trees, the conflict
 * record, reports) is the same as one at a time: instances still converge
 * byte for byte.
 */
export const FILES_IN_FLIGHT = 8;

export async function mapInOrder<T, R>(items: readonly T[], f: (item: T, i: number) => Promise<R>, limit = FILES_IN_FLIGHT): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
