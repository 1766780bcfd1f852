// A certificate authority for tests, made with openssl in a temp dir: its certificate (give it to
// mailgate as secureDelivery.caFile) and server certificates it signs for any host names — an MX
// host's for an SMTP sink, mta-sts.<domain> for a policy server. Also a self-signed one (no CA).
//
//   const ca = makeTestCa(dir);
//   const mx = ca.issue('mx', ['mx.secure.test']);   // { key, cert } as PEM text
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface IssuedCert {
  key: string;
  cert: string;
  keyFile: string;
  certFile: string;
}

export interface TestCa {
  caFile: string;
  caPem: string;
  /** A server certificate for `names` (subjectAltName DNS entries), signed by this CA; files under `<dir>/<label>.*`. */
  issue(label: string, names: string[]): IssuedCert;
  /** A self-signed server certificate for `names` (no CA vouches for it). */
  selfSigned(label: string, names: string[]): IssuedCert;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

export function makeTestCa(dir: string): TestCa {
  const file = (name: string) => path.join(dir, name);
  openssl(['req', '-x509', ...EC, '-subj', '/CN=mailgate test CA', '-days', '2', '-keyout', file('ca.key'), '-out', file('ca.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const read = (label: string): IssuedCert => ({
    key: fs.readFileSync(file(`${label}.key`), 'utf8'), cert: fs.readFileSync(file(`${label}.pem`), 'utf8'),
    keyFile: file(`${label}.key`), certFile: file(`${label}.pem`),
  });
  return {
    caFile: file('ca.pem'),
    caPem: fs.readFileSync(file('ca.pem'), 'utf8'),
    issue(label, names) {
      fs.writeFileSync(file(`${label}.ext`), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      openssl(['req', ...EC, '-subj', `/CN=${names[0]}`, '-keyout', file(`${label}.key`), '-out', file(`${label}.csr`)]);
      openssl(['x509', '-req', '-in', file(`${label}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-out', file(`${label}.pem`), '-extfile', file(`${label}.ext`)]);
      return read(label);
    },
    selfSigned(label, names) {
      openssl(['req', '-x509', ...EC, '-subj', `/CN=${names[0]}`, '-days', '2', '-keyout', file(`${label}.key`), '-out', file(`${label}.pem`),
        '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`]);
      return read(label);
    },
  };
}
