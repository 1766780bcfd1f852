// A free TCP port on 127.0.0.1, for servers that must be told their port up front (PostgreSQL, a
// container on the host's network) instead of binding port 0 themselves.
import net from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
