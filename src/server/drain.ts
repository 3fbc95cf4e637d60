// Connection bookkeeping for a shutdown that drops no request. HTTP/1.1 has no way to tell
// a client that an idle keep-alive connection is going away (HTTP/2 has GOAWAY): a server
// that closes one just as the client sends a review on it makes the API server fail that
// review (Go does not retry a POST), and the user's write is refused. So the server answers
// every request with `Connection: close` once draining (app.ts), and closes a connection
// itself only when it is quiet: no request in flight and not one byte of a next request
// received since the last answer. A connection that has carried no request yet was opened
// to send one; it gets a moment (FRESH_CONNECTION_SETTLE_MS) before it counts as quiet.
import type { Server } from 'node:https';
import type { Socket } from 'node:net';

/** How long a connection that never sent a request may stay open once the server stops. */
export const FRESH_CONNECTION_SETTLE_MS = 1_000;

interface ConnectionState {
  /** Requests received and not yet answered (more than one only with pipelining). */
  inFlight: number;
  /** Requests answered on this connection. */
  answered: number;
  /** socket.bytesRead (decrypted bytes) when the connection last became quiet. */
  bytesAtQuiet: number;
  /** When it last became quiet: handshake done or last answer sent. */
  quietSince: number;
  closing: boolean;
}

export interface ConnectionTracker {
  /** Open connections (after their TLS handshake). */
  open(): number;
  /** Requests being handled right now. */
  inFlight(): number;
  /**
   * Ends every quiet connection; returns how many it ended. A connection with a request in
   * flight or with bytes of a new one received is left alone: it is answered with
   * `Connection: close` and Node closes it after that answer.
   */
  closeQuiet(): number;
}

/** Tracks the HTTPS server's connections from now on (call before it listens). */
export function trackConnections(server: Server, now: () => number = Date.now): ConnectionTracker {
  const states = new Map<Socket, ConnectionState>();

  server.on('secureConnection', (socket: Socket) => {
    states.set(socket, { inFlight: 0, answered: 0, bytesAtQuiet: socket.bytesRead, quietSince: now(), closing: false });
    socket.once('close', () => states.delete(socket));
  });

  server.on('request', (req, res) => {
    const socket = req.socket;
    const state = states.get(socket);
    if (!state) return;
    state.inFlight++;
    // 'close' comes once the answer is sent or the connection is gone, whichever is first.
    res.once('close', () => {
      state.inFlight--;
      state.answered++;
      if (state.inFlight === 0) {
        state.bytesAtQuiet = socket.bytesRead;
        state.quietSince = now();
      }
    });
  });

  const isQuiet = (socket: Socket, s: ConnectionState): boolean =>
    !s.closing &&
    s.inFlight === 0 &&
    socket.bytesRead === s.bytesAtQuiet &&
    (s.answered > 0 || now() - s.quietSince >= FRESH_CONNECTION_SETTLE_MS);

  return {
    open: () => states.size,
    inFlight: () => [...states.values()].reduce((n, s) => n + s.inFlight, 0),
    closeQuiet() {
      let ended = 0;
      for (const [socket, state] of states) {
        if (!isQuiet(socket, state)) continue;
        state.closing = true;
        // end(), not destroy(): a TLS close_notify and a FIN, and the socket keeps reading
        // until the client closes its side, so bytes already on the wire get no RST.
        socket.end();
        setTimeout(() => socket.destroy(), 2_000).unref();
        ended++;
      }
      return ended;
    },
  };
}
