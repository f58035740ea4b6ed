/**
 * Steps run side by side under the sync lock: every promise settled, then
 * their values, or the first error in the list's order. Nothing is left
 * running when the caller goes on (to release the lock, or to report).
 */
export async function allDone<T extends readonly unknown[]>(ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const r = await Promise.allSettled(ps);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
  return r.map((x) => (x as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
