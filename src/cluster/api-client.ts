// The two calls the informers make to the Kubernetes API: one page of a list, and a watch
// read as a stream of newline-delimited JSON events. Plain node http(s); credentials, CA
// and TLS settings come from the kubeconfig through @kubernetes/client-node, so token,
// client certificate, exec plugins and in-cluster config work as with its own clients.
//
// The client's own list call reads a whole response into one string: a 100,000-VMI list
// is ~600 MB, past V8's string limit (`Cannot create a string longer than 0x1fffffe8
// characters`). Pages of `limit` objects keep each response small.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import type { KubeConfig } from '@kubernetes/client-node';
import { splitListBody } from './list-body.js';

/** An HTTP error answer (or an ERROR watch event) from the API server. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(`HTTP ${status}${message ? `: ${message}` : ''}`);
  }
}

/** The `message` of a Kubernetes Status body, if the text is one. */
function statusMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    return typeof body?.message === 'string' ? body.message : '';
  } catch {
    return text.slice(0, 200);
  }
}

/** A network failure in one line, with its code (ECONNRESET, ECONNREFUSED, ...). */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error)) return String(err);
  return e.code && !e.message.includes(e.code) ? `${e.message} (${e.code})` : e.message;
}

export interface ListPage {
  /** How many items the page holds. */
  count: number;
  /** Items start to end - 1, parsed now (a slice at a time); throws SyntaxError on one that is not JSON. */
  items(start: number, end: number): unknown[];
  resourceVersion: string;
  /** Set while more pages follow. */
  continueToken?: string;
  /** CPU time (µs) spent decoding and splitting the page, which blocks the event loop. */
  parseCpuUs: number;
}

export interface WatchEvent {
  type: string;
  object: { metadata?: { resourceVersion?: string }; code?: number; message?: string; [key: string]: unknown };
}

export interface WatchHandle {
  /** Resolves when the server ends the stream; rejects on a broken connection or an HTTP error. */
  done: Promise<void>;
  abort(): void;
}

export class KubeApiClient {
  private readonly server: URL;
  private readonly inFlight = new Set<ClientRequest>();
  private closed = false;

  constructor(private readonly kc: KubeConfig) {
    this.server = new URL(kc.getCurrentCluster()!.server);
  }

  private async open(
    path: string,
    query: Record<string, string | undefined>,
  ): Promise<{ req: ClientRequest; res: IncomingMessage }> {
    const url = new URL(this.server.pathname.replace(/\/$/, '') + path, this.server);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    const opts: RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
    // Adds the Authorization header, client certificate, CA and an agent for them.
    await this.kc.applyToHTTPSOptions(opts);
    const plain = url.protocol === 'http:';
    if (plain) delete opts.agent;
    return new Promise((resolve, reject) => {
      const req = (plain ? httpRequest : httpsRequest)(url, opts, (res) => resolve({ req, res }));
      if (this.closed) req.destroy(new Error('client closed'));
      this.inFlight.add(req);
      req.on('close', () => this.inFlight.delete(req));
      req.on('error', reject);
      req.end();
    });
  }

  private static async readBuffer(res: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  private static async readText(res: IncomingMessage): Promise<string> {
    return (await KubeApiClient.readBuffer(res)).toString('utf8');
  }

  /** One page of a list. Throws ApiError for HTTP errors (410 when the continue token expired). */
  async listPage(path: string, limit: number, continueToken?: string): Promise<ListPage> {
    const { res } = await this.open(path, { limit: String(limit), continue: continueToken });
    const body = await KubeApiClient.readBuffer(res);
    if ((res.statusCode ?? 0) >= 300) throw new ApiError(res.statusCode ?? 0, statusMessage(body.toString('utf8')));
    const cpu = process.cpuUsage();
    // The items are parsed later, a slice at a time, by the caller (list-body.ts).
    const list = splitListBody(body);
    const used = process.cpuUsage(cpu);
    const metadata = list.envelope.metadata;
    return {
      parseCpuUs: used.user + used.system,
      count: list.count,
      items: list.items,
      resourceVersion: metadata?.resourceVersion ?? '',
      ...(metadata?.continue ? { continueToken: metadata.continue } : {}),
    };
  }

  /**
   * Watches from `resourceVersion`, calling `onEvent` per event in order. The handle's
   * promise rejects with ApiError on an HTTP error status (410 when the version is too old).
   */
  watch(path: string, resourceVersion: string, timeoutSeconds: number, onEvent: (e: WatchEvent) => void): WatchHandle {
    let aborted = false;
    let current: ClientRequest | undefined;
    const done = (async () => {
      const { req, res } = await this.open(path, {
        watch: 'true',
        resourceVersion,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(timeoutSeconds),
      });
      current = req;
      if (aborted) req.destroy();
      if ((res.statusCode ?? 0) >= 300)
        throw new ApiError(res.statusCode ?? 0, statusMessage(await KubeApiClient.readText(res)));
      const decoder = new StringDecoder('utf8');
      // The pieces of an event not yet ended by a newline. Only each new chunk is searched: a
      // string grown chunk by chunk and searched whole each time made a 1.5 MB event cost 40 ms.
      const pending: string[] = [];
      await new Promise<void>((resolve, reject) => {
        res.on('data', (chunk: Buffer) => {
          let text = decoder.write(chunk);
          let newline: number;
          while ((newline = text.indexOf('\n')) >= 0) {
            pending.push(text.slice(0, newline));
            const line = pending.join('');
            pending.length = 0;
            text = text.slice(newline + 1);
            if (!line.trim()) continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent);
            } catch (err) {
              req.destroy();
              return reject(err);
            }
          }
          if (text) pending.push(text);
        });
        res.on('end', resolve);
        res.on('error', reject);
        res.on('aborted', () =>
          reject(Object.assign(new Error('watch connection closed by the server'), { code: 'ECONNRESET' })),
        );
        res.on('close', () =>
          aborted
            ? resolve()
            : res.complete
              ? resolve()
              : reject(Object.assign(new Error('premature close'), { code: 'ECONNRESET' })),
        );
      });
    })();
    return {
      done,
      abort() {
        aborted = true;
        current?.destroy();
      },
    };
  }

  /** Ends every request still open (stop()). */
  closeAll(): void {
    this.closed = true;
    for (const req of this.inFlight) req.destroy();
    this.inFlight.clear();
  }
}
