// Builds the Engine API client from the global options: host by -H, BERTH_HOST, DOCKER_HOST, then berthd's
// socket; TLS from --tls/--tlsverify and the certificate flags (or DOCKER_CERT_PATH / the config dir).
import { DockerClient, selectHost } from '@berth/docker-api';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { configDir } from './config-file.ts';
import { VERSION, type GlobalOptions } from './context.ts';

export function createClient(g: GlobalOptions, env: NodeJS.ProcessEnv, headers: Record<string, string>): DockerClient {
  const verify = g.tlsverify || (env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '');
  const useTls = g.tls || verify;
  let tls: { enabled: boolean; verify: boolean; ca?: Buffer; cert?: Buffer; key?: Buffer } = { enabled: useTls, verify };
  if (useTls) {
    const certDir = env.DOCKER_CERT_PATH || configDir(g.config, env);
    const pick = (given: string | undefined, file: string) => {
      const p = given ?? path.join(certDir, file);
      return given !== undefined || existsSync(p) ? readFileSync(p) : undefined;
    };
    tls = { ...tls, ca: pick(g.tlscacert, 'ca.pem'), cert: pick(g.tlscert, 'cert.pem'), key: pick(g.tlskey, 'key.pem') };
  }
  return new DockerClient({
    host: selectHost(g.host, env),
    tls,
    userAgent: `berth/${VERSION}`,
    headers,
    ...(env.DOCKER_API_VERSION ? { version: env.DOCKER_API_VERSION } : {}),
  });
}
