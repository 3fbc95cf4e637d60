// A fake Kubernetes API for the informers: a local http server that answers paginated
// lists (`limit`/`continue` over a snapshot, as the real API server does) and streams
// watch events as newline-delimited JSON, with switches to drop connections, go down,
// forget old history (410 Gone on watches and continue tokens), refuse access (403), lack
// a CRD (404) and hold lists back. Shared by the informer tests, the `serve --kubeconfig`
// test and bench/scale.ts (which serves generated objects instead of stored ones).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KIND_FACTS, type IndexedKind, type KnownKind } from '../../src/engine/kinds.js';
import type { KubeObject } from '../../src/engine/types.js';

/** Short names the tests use for the indexed kinds: the informers list and watch each. */
export const RESOURCES = {
  nad: 'NetworkAttachmentDefinition',
  subnet: 'Subnet',
  vmi: 'VirtualMachineInstance',
  kubevirt: 'KubeVirt',
} as const satisfies Record<string, IndexedKind>;
/** What the server serves: the indexed kinds, and VMs (which `nicguard audit` lists; no informer does). */
const SERVED = { ...RESOURCES, vm: 'VirtualMachine' } as const satisfies Record<string, KnownKind>;
export type Res = keyof typeof SERVED;
const ALL_RES = Object.keys(SERVED) as Res[];

export function pathOf(res: Res): string {
  const f = KIND_FACTS[SERVED[res]];
  return `/apis/${f.group}/${f.version}/${f.plural}`;
}

/** /apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME] */
const WRITABLE_PATH = /^\/apis\/([^/]+)\/([^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/;

interface StoredEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

/** Objects made on demand (bench/scale.ts): `count` of them, the i-th by `make(i)`. */
export interface GeneratedObjects {
  count: number;
  make(i: number): KubeObject;
}

interface Snapshot {
  rv: number;
  /** Serialized items in key order, or indexes into a generator. */
  items: string[] | GeneratedObjects;
  /** The next page of generated items, rendered ahead while the client reads the last one. */
  ahead?: { offset: number; end: number; items: Promise<string> };
}

const perResource = <T>(value: () => T) => Object.fromEntries(ALL_RES.map((r) => [r, value()])) as Record<Res, T>;

export class FakeApiServer {
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  private readonly watchers = perResource(() => new Set<ServerResponse>());
  private readonly store = perResource(() => new Map<string, KubeObject>());
  private readonly events = perResource((): StoredEvent[] => []);
  private readonly generated: Partial<Record<Res, GeneratedObjects>> = {};
  private readonly snapshots = new Map<number, Snapshot>();
  private nextSnapshot = 1;
  private readonly heldLists: (() => void)[] = [];
  /** Events at or below this resourceVersion are forgotten: older watches get 410. */
  private compactedRv = 0;
  rv = 100;
  down = false;
  /** While true, list requests wait for release(). */
  holdLists = false;
  readonly missing = new Set<Res>();
  readonly forbidden = new Set<Res>();
  /** List requests (every page counts). */
  readonly lists = perResource(() => 0);
  /** First pages only: how many times each resource was listed from the start. */
  readonly fullLists = perResource(() => 0);
  readonly watches = perResource(() => 0);
  readonly notFound = perResource(() => 0);
  /**
   * Called before a page after the first is served, with its number (2, 3, ...); answering
   * 'drop' cuts the connection instead of serving it.
   */
  beforePage: ((res: Res, page: number) => 'drop' | void) | undefined;
  /** Watches of these resources always answer 410 Gone, as if history were compacted at once. */
  readonly goneWatches = new Set<Res>();
  authorization: string | undefined;
  port = 0;
  /**
   * When set, resources this server does not serve take writes (PolicyReports from `nicguard audit
   * --apply`): created, read, listed, replaced and deleted as the API server would, without checks.
   */
  storeWrites = false;
  /** What was written, by `group/version/namespace/plural/name`. */
  readonly written = new Map<string, KubeObject>();

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.release();
    this.dropConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** A kubeconfig (YAML) for this server with a bearer token. */
  kubeconfig(token = 'sekret'): string {
    return `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: { server: "http://127.0.0.1:${this.port}", insecure-skip-tls-verify: true }
users:
- name: webhook
  user: { token: ${token} }
contexts:
- name: fake
  context: { cluster: fake, user: webhook }
current-context: fake
`;
  }

  /** Answers the lists held back while holdLists was set. */
  release(): void {
    this.holdLists = false;
    for (const answer of this.heldLists.splice(0)) answer();
  }

  /** Cuts every open connection, as a restarting API server or a broken network does. */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    for (const w of Object.values(this.watchers)) w.clear();
  }

  openWatches(res: Res): number {
    return this.watchers[res].size;
  }

  /** Forgets history up to now, as etcd compaction does: older watches and continue tokens get 410. */
  compact(): void {
    this.compactedRv = this.rv;
    for (const e of Object.values(this.events)) e.length = 0;
    this.snapshots.clear();
  }

  /** Serves `count` objects made on demand for a resource, in place of stored ones. */
  generate(res: Res, objects: GeneratedObjects): void {
    this.generated[res] = objects;
  }

  put(res: Res, obj: KubeObject): void {
    const key = `${obj.metadata?.namespace ?? ''}/${obj.metadata!.name}`;
    this.record(res, this.store[res].has(key) ? 'MODIFIED' : 'ADDED', key, obj);
  }

  delete(res: Res, namespace: string | undefined, name: string): void {
    const key = `${namespace ?? ''}/${name}`;
    const obj = this.store[res].get(key);
    if (!obj) throw new Error(`fake API: nothing to delete at ${res} ${key}`);
    this.record(res, 'DELETED', key, obj);
  }

  /** Sends a BOOKMARK at the current resourceVersion to the open watches of a resource. */
  bookmark(res: Res): void {
    const f = KIND_FACTS[SERVED[res]];
    const event = {
      type: 'BOOKMARK',
      object: { kind: f.kind, apiVersion: `${f.group}/${f.version}`, metadata: { resourceVersion: String(this.rv) } },
    };
    for (const w of this.watchers[res]) w.write(`${JSON.stringify(event)}\n`);
  }

  private record(res: Res, type: StoredEvent['type'], key: string, obj: KubeObject): void {
    this.rv++;
    const object = structuredClone(obj);
    object.metadata = { ...object.metadata, resourceVersion: String(this.rv) };
    if (type === 'DELETED') this.store[res].delete(key);
    else this.store[res].set(key, object);
    this.events[res].push({ rv: this.rv, type, object });
    for (const w of this.watchers[res]) w.write(`${JSON.stringify({ type, object })}\n`);
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Status', status: 'Failure', code, reason, message }));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.down) {
      req.socket.destroy();
      return;
    }
    this.authorization = req.headers.authorization;
    const url = new URL(req.url!, 'http://x');
    const which = ALL_RES.find((r) => pathOf(r) === url.pathname);
    if (!which && this.storeWrites && WRITABLE_PATH.test(url.pathname)) return this.writable(req, url.pathname, res);
    if (!which)
      return this.status(res, 404, 'NotFound', `the server could not find the requested resource ${url.pathname}`);
    if (this.missing.has(which)) {
      this.notFound[which]++;
      return this.status(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    if (this.forbidden.has(which)) {
      return this.status(
        res,
        403,
        'Forbidden',
        `${which} is forbidden: User "system:serviceaccount:nicguard-system:nicguard" cannot list resource`,
      );
    }
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
      return this.watch(which, Number(url.searchParams.get('resourceVersion') || 0), res);
    }
    const answer = () => this.list(which, url.searchParams, res);
    if (this.holdLists) this.heldLists.push(answer);
    else answer();
  }

  /** Create (POST), read (GET), list (GET of the collection, here or in any namespace), replace (PUT), delete. */
  private writable(req: IncomingMessage, path: string, res: ServerResponse): void {
    const [, group, version, namespace, plural, name] = WRITABLE_PATH.exec(path)!;
    const keyOf = (ns: string | undefined, n: string) => `${group}/${version}/${ns ?? ''}/${plural}/${n}`;
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && !name) {
      const items = [...this.written.entries()]
        .filter(([key]) => {
          const [g, v, ns, p] = key.split('/');
          return g === group && v === version && p === plural && (!namespace || ns === namespace);
        })
        .map(([, o]) => o);
      return reply(200, { kind: 'List', metadata: { resourceVersion: String(this.rv) }, items });
    }
    if (req.method === 'GET') {
      const found = this.written.get(keyOf(namespace, name));
      return found ? reply(200, found) : this.status(res, 404, 'NotFound', `${plural} "${name}" not found`);
    }
    if (req.method === 'DELETE') {
      this.written.delete(keyOf(namespace, name));
      return reply(200, { kind: 'Status', status: 'Success' });
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const object = JSON.parse(body) as KubeObject;
      object.metadata = { ...object.metadata, resourceVersion: String(++this.rv) };
      this.written.set(keyOf(namespace, name ?? String(object.metadata.name)), object);
      reply(req.method === 'POST' ? 201 : 200, object);
    });
  }

  /** A snapshot of the resource now: its items in key order, as etcd returns them. */
  private takeSnapshot(which: Res): number {
    const generated = this.generated[which];
    let items: Snapshot['items'];
    if (generated) items = generated;
    else {
      // Like many real list responses, the items carry neither kind nor apiVersion.
      items = [...this.store[which].entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, { kind: _k, apiVersion: _a, ...rest }]) => JSON.stringify(rest));
    }
    const id = this.nextSnapshot++;
    this.snapshots.set(id, { rv: this.rv, items });
    return id;
  }

  private list(which: Res, params: URLSearchParams, res: ServerResponse): void {
    this.lists[which]++;
    const limit = Number(params.get('limit') || 0);
    const token = params.get('continue');
    let id: number;
    let offset = 0;
    if (token) {
      const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { id: number; offset: number };
      if (this.beforePage?.(which, Math.round(parsed.offset / limit) + 1) === 'drop') {
        res.socket?.destroy();
        return;
      }
      if (!this.snapshots.has(parsed.id)) {
        return this.status(
          res,
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. ' +
            'You can start a new list without the continue parameter.',
        );
      }
      id = parsed.id;
      offset = parsed.offset;
    } else {
      this.fullLists[which]++;
      id = this.takeSnapshot(which);
    }
    const snap = this.snapshots.get(id)!;
    const total = Array.isArray(snap.items) ? snap.items.length : snap.items.count;
    const end = limit > 0 ? Math.min(total, offset + limit) : total;
    const items = FakeApiServer.pageItems(snap, offset, end);
    const more = end < total;
    if (!more) this.snapshots.delete(id);
    const next = more ? Buffer.from(JSON.stringify({ id, offset: end })).toString('base64') : undefined;
    const metadata = JSON.stringify({
      resourceVersion: String(snap.rv),
      ...(next ? { continue: next, remainingItemCount: total - end } : {}),
    });
    void items.then((text) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"apiVersion":"v1","kind":"List","metadata":${metadata},"items":[${text}]}`);
      if (more && limit > 0) FakeApiServer.renderAhead(snap, end, Math.min(total, end + limit));
    });
  }

  /** The items of a page: rendered ahead, or now. */
  private static pageItems(snap: Snapshot, offset: number, end: number): Promise<string> {
    const ahead = snap.ahead;
    snap.ahead = undefined;
    if (ahead?.offset === offset && ahead.end === end) return ahead.items;
    return Promise.resolve(FakeApiServer.render(snap.items, offset, end));
  }

  /**
   * Generated objects cost this process CPU time a real API server spends on its own
   * machine: the next page is made now, while the client reads this one, as an API
   * server's watch cache has it at hand.
   */
  private static renderAhead(snap: Snapshot, offset: number, end: number): void {
    const generated = snap.items;
    if (Array.isArray(generated)) return;
    const items = new Promise<string>((resolve) =>
      setImmediate(() => resolve(FakeApiServer.render(generated, offset, end))),
    );
    snap.ahead = { offset, end, items };
  }

  /** Items offset to end of a snapshot, as the JSON text inside a list's `items` array. */
  private static render(items: Snapshot['items'], offset: number, end: number): string {
    const parts: string[] = [];
    for (let i = offset; i < end; i++) parts.push(Array.isArray(items) ? items[i] : JSON.stringify(items.make(i)));
    return parts.join(',');
  }

  private watch(which: Res, since: number, res: ServerResponse): void {
    this.watches[which]++;
    if (since < this.compactedRv || this.goneWatches.has(which)) {
      return this.status(res, 410, 'Expired', `too old resource version: ${since} (${this.compactedRv})`);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    for (const e of this.events[which]) {
      if (e.rv > since) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    }
    const set = this.watchers[which];
    set.add(res);
    res.on('close', () => set.delete(res));
  }
}
