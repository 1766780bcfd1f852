// A self-signed RSA certificate for localhost, made with openssl in `dir` (key.pem, cert.pem).
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export function selfSignedCert(dir: string): { keyFile: string; certFile: string } {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '2',
    '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  return { keyFile, certFile };
}
