// The watch stream's events are JSON lines that arrive in pieces of any size: split inside a
// multi-byte character, inside a line, at the newline, several in one piece, with blank lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeApiClient, type WatchEvent } from '../src/cluster/api-client.js';

/** A server that answers one watch with `pieces`, written one by one, each flushed, then ends. */
async function watchOf(pieces: Buffer[]): Promise<WatchEvent[]> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    let i = 0;
    const next = () => (i < pieces.length ? res.write(pieces[i++], () => setImmediate(next)) : res.end());
    next();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true },
    ],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const events: WatchEvent[] = [];
  try {
    await new KubeApiClient(kc).watch('/api/v1/pods', '1', 60, (e) => events.push(e)).done;
  } finally {
    server.close();
  }
  return events;
}

test('watch events are read whole however the stream cuts them', async () => {
  const objects = [
    { metadata: { name: 'ünïcødé-名前', resourceVersion: '2' } },
    { metadata: { name: 'big', resourceVersion: '3' }, data: 'x'.repeat(200_000) },
    { metadata: { name: 'small-1', resourceVersion: '4' } },
    { metadata: { name: 'small-2', resourceVersion: '5' } },
  ];
  const lines = objects.map((object) => `${JSON.stringify({ type: 'MODIFIED', object })}\n`);
  const text = Buffer.from(`${lines[0]}\n${lines[1]}${lines[2]}${lines[3]}`);
  const first = Buffer.byteLength(lines[0]);
  const second = first + 1 + Buffer.byteLength(lines[1]);
  const pieces: Buffer[] = [];
  // The first event byte by byte (its characters split), then a blank line, the big one in
  // pieces of 1,000 ending just before its newline, the newline alone, and two events in one piece.
  for (let i = 0; i < first; i++) pieces.push(text.subarray(i, i + 1));
  pieces.push(text.subarray(first, first + 1));
  for (let i = first + 1; i < second - 1; i += 1000) pieces.push(text.subarray(i, Math.min(i + 1000, second - 1)));
  pieces.push(text.subarray(second - 1, second), text.subarray(second));
  const events = await watchOf(pieces);
  assert.deepEqual(
    events.map((e) => e.object),
    objects,
  );
});
