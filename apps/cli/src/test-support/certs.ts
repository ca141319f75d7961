// A throwaway CA with a server and a client certificate (openssl), for TLS tests against a daemon on
// 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TestCerts {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A directory laid out as DOCKER_CERT_PATH expects (ca.pem, cert.pem, key.pem). */
  clientDir: string;
}

export function makeCerts(dir: string): TestCerts {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=berth-test-ca', '-keyout', f('ca-key.pem'), '-out', f('ca.pem'));
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, ext] of [['server', 'server.ext'], ['client', 'client.ext']] as const) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', f(`${name}-key.pem`), '-out', f(`${name}.csr`));
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-days', '1',
      '-extfile', f(ext), '-out', f(`${name}-cert.pem`));
  }
  // DOCKER_CERT_PATH layout for the client
  execFileSync('mkdir', ['-p', f('client')]);
  execFileSync('cp', [f('ca.pem'), f('client/ca.pem')]);
  execFileSync('cp', [f('client-cert.pem'), f('client/cert.pem')]);
  execFileSync('cp', [f('client-key.pem'), f('client/key.pem')]);
  return {
    ca: f('ca.pem'), serverCert: f('server-cert.pem'), serverKey: f('server-key.pem'), clientCert: f('client-cert.pem'),
    clientKey: f('client-key.pem'), clientDir: f('client'),
  };
}
