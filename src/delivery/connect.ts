// The TCP connection nodemailer sends over (its getSocket hook), for delivery and the upstream test
// mail alike: Nagle's algorithm off, a connect deadline, and for a shop's own server (publicOnly) a
// lookup that refuses private addresses on the address actually connected to.
import net from 'node:net';
import { privateLiteral, publicOnlyLookup } from '../security/public-lookup.js';

/** How long a connection (and, under a TLS policy, its STARTTLS) may take. */
export const CONNECT_TIMEOUT_MS = 30_000;
const PRIVATE_HINT = 'set admin.allowPrivateTenantUpstreams to allow';

export interface ConnectOptions {
  /** Connect only to public addresses (a shop's own upstream). */
  publicOnly?: boolean;
  /** Told the address reached (for the delivery log line). */
  connected?: (address: string | undefined) => void;
  timeoutMs?: number;
}

/**
 * Opens the connection with Nagle's algorithm off: nodemailer writes the body and the final "."
 * separately; with Nagle on, that last small write waits for the upstream's delayed ACK (40 ms on
 * Linux) on every message of a pooled connection.
 */
export function connectSocket(
  options: { host?: string; port?: number; localAddress?: string },
  callback: (err: Error | null, socketOptions?: { connection: net.Socket }) => void,
  opts: ConnectOptions = {},
): void {
  const refused = opts.publicOnly ? privateLiteral(options.host ?? '', PRIVATE_HINT) : undefined;
  if (refused) return callback(refused);
  const socket = net.connect({
    host: options.host, port: options.port ?? 25,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    ...(opts.publicOnly ? { lookup: publicOnlyLookup(PRIVATE_HINT) } : {}),
  });
  socket.setNoDelay(true);
  const fail = (err: Error) => {
    socket.destroy();
    callback(err);
  };
  const timeoutMs = opts.timeoutMs ?? CONNECT_TIMEOUT_MS;
  socket.setTimeout(timeoutMs, () => fail(new Error(`connection to ${options.host}:${options.port} timed out`)));
  socket.once('error', fail);
  socket.once('connect', () => {
    socket.setTimeout(0);
    socket.off('error', fail);
    opts.connected?.(socket.remoteAddress);
    callback(null, { connection: socket });
  });
}
