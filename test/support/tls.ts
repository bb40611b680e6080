// Throwaway TLS certificates for tests, made with the openssl command line at test time:
// self-signed P-256 certificates valid for 127.0.0.1, localhost and any other addresses
// asked for, one day long.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
}

export function selfSignedCertificate(dir: string, name: string, addresses: string[] = []): TestCertificate {
  const certFile = join(dir, `${name}.cert.pem`);
  const keyFile = join(dir, `${name}.key.pem`);
  // prettier-ignore
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=concord-${name}`,
    '-addext', `subjectAltName=${['IP:127.0.0.1', 'DNS:localhost', ...addresses.map((a) => `IP:${a}`)].join(',')}`,
  ], { stdio: 'ignore' });
  return { certFile, keyFile };
}
