// The image's HEALTHCHECK (docker/Dockerfile): exits 0 when mailgate's admin API answers GET /healthz with
// 200 within 4 s, else 1. It asks the admin address the running server wrote to runtime.json in the data
// volume, so it follows the config's `listen.admin` (a wildcard address is asked on loopback); before that
// file exists it asks 127.0.0.1:8025.
import { readFileSync } from 'node:fs';

let admin = '127.0.0.1:8025';
try {
  admin = JSON.parse(readFileSync('/var/lib/mailgate/runtime.json', 'utf8')).admin ?? admin;
} catch {
  // not started yet, or dataDir is not the volume
}
admin = admin.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
try {
  const res = await fetch(`http://${admin}/healthz`, { signal: AbortSignal.timeout(4000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
