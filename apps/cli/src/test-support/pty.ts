// A small expect-style driver over node-pty for the interactive tests.
import * as pty from 'node-pty';

export interface PtySession {
  /** Everything the terminal showed so far. */
  output(): string;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  /** Waits until the output after the last match matches `re`; returns the match. */
  expect(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ exitCode: number; signal?: number }>;
  pid: number;
  kill(): void;
}

export function spawnPty(file: string, args: string[], env: NodeJS.ProcessEnv, cols = 80, rows = 24): PtySession {
  const p = pty.spawn(file, args, { name: 'xterm', cols, rows, env: env as Record<string, string> });
  let out = '';
  let from = 0;
  const waiters = new Set<() => void>();
  p.onData((d) => {
    out += d;
    for (const w of waiters) w();
  });
  const exited = new Promise<{ exitCode: number; signal?: number }>((resolve) => p.onExit(resolve));
  return {
    output: () => out,
    write: (d) => p.write(d),
    resize: (c, r) => p.resize(c, r),
    pid: p.pid,
    kill: () => {
      try {
        p.kill();
      } catch {
        // already gone
      }
    },
    exited,
    expect(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.slice(from).match(re);
          if (m) {
            from += (m.index ?? 0) + m[0].length;
            waiters.delete(check);
            clearTimeout(timer);
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${re} in terminal output:\n${JSON.stringify(out.slice(from))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}
