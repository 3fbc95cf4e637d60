// Option parsers the commands share.

/** For repeatable options: `-f a -f b` -> ['a', 'b']. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
