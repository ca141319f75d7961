// What every command gets: the global options, the output streams, a lazily created Engine API client and
// the client config file.
import type { DockerClient } from '@berth/docker-api';
import type { ConfigFile } from './config-file.ts';

export interface GlobalOptions {
  host?: string;
  tls: boolean;
  tlsverify: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  /** Client config directory (default ~/.berth, or BERTH_CONFIG). */
  config?: string;
  debug: boolean;
  logLevel: string;
  context?: string;
}

export const BIN = 'berth';

/**
 * Writes to fd 1 directly: creating `process.stdout` costs ~10 ms at start-up, and most commands print once
 * at the end. Falls back to the stream when the descriptor is non-blocking (EAGAIN); a closed pipe ends
 * the program quietly, as docker does.
 */
export function writeStdout(text: string): void {
  const fs = process.getBuiltinModule('node:fs');
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    try {
      const n = fs.writeSync(1, buf);
      buf = buf.subarray(n);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        process.stdout.write(buf);
        return;
      }
      if (code === 'EPIPE') process.exit(0);
      throw err;
    }
  }
}
export const VERSION = '0.1.0';

/** isatty(fd) without creating the process.stdout/stderr/stdin streams (each costs start-up time). */
export function isTTY(fd: 0 | 1 | 2): boolean {
  return process.getBuiltinModule('node:tty').isatty(fd);
}

let stdoutGuarded = false;
/** process.stdout, with a closed pipe ending the program quietly (`berth logs x | head -1`). */
export function stdout(): NodeJS.WriteStream {
  const s = process.stdout;
  if (!stdoutGuarded) {
    stdoutGuarded = true;
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
  return s;
}

export class Context {
  readonly global: GlobalOptions;
  readonly env: NodeJS.ProcessEnv;
  private clientInstance: DockerClient | undefined;
  private configInstance: ConfigFile | undefined;
  private pending = '';

  constructor(global: GlobalOptions, env: NodeJS.ProcessEnv = process.env) {
    this.global = global;
    this.env = env;
  }

  /** Buffered stdout; flushed by `flush()` (and before anything is read from the daemon's streams). */
  out(text: string): void {
    this.pending += text;
    if (this.pending.length > 64 * 1024) this.flush();
  }

  err(text: string): void {
    this.flush();
    process.stderr.write(text);
  }

  flush(): void {
    if (this.pending) {
      writeStdout(this.pending);
      this.pending = '';
    }
  }

  /** The Engine API client for the selected host (created on first use). */
  async client(): Promise<DockerClient> {
    if (this.clientInstance) return this.clientInstance;
    const { createClient } = await import('./client.ts');
    this.clientInstance = createClient(this.global, this.env, await this.headers());
    return this.clientInstance;
  }

  /** The config file (~/.berth/config.json, falling back to docker's for credentials). */
  async config(): Promise<ConfigFile> {
    if (this.configInstance) return this.configInstance;
    const { loadConfigFile } = await import('./config-file.ts');
    this.configInstance = loadConfigFile(this.global.config, this.env);
    return this.configInstance;
  }

  private async headers(): Promise<Record<string, string>> {
    const cfg = await this.config();
    return cfg.data.HttpHeaders ?? {};
  }
}
