// An independent DKIM verifier for tests: dkimpy (Debian python3-dkim) run on a message, looking keys
// up in the loopback DNS server at `dnsPort`. One result per DKIM-Signature, and the exit code.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './mailgate-process.js';

export interface DkimResult {
  d: string;
  a: string;
  h: string;
  ok: boolean;
  error?: string;
}

export function dkimVerify(dnsPort: number, message: Buffer): Promise<{ code: number; results: DkimResult[] }> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', [path.join(repoRoot, 'test/tools/dkim-verify.py'), String(dnsPort)], (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      if (stderr.trim()) return reject(new Error(stderr));
      resolve({ code: err ? Number(err.code) : 0, results: stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as DkimResult) });
    });
    child.stdin!.end(message);
  });
}
