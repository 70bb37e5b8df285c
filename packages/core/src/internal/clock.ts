/** Seconds since the epoch, the unit of every timestamp in tokens and the store. */
export function epochSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
