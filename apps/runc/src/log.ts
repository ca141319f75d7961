// runc's --log/--log-format: errors (and warnings) appended to a file as JSON lines
// {"level":"error","msg":…,"time":…} (containerd-shim-runc-v2 reads the last error from it) or logfmt text.
import { appendFileSync } from 'node:fs';

export class Log {
  private readonly file?: string;
  private readonly json: boolean;

  constructor(file: string | undefined, format: string | undefined) {
    if (file) this.file = file;
    this.json = format === 'json';
  }

  write(level: 'error' | 'warning' | 'info' | 'debug', msg: string): void {
    if (!this.file) return;
    const time = new Date().toISOString();
    const line = this.json ? JSON.stringify({ level, msg, time }) : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    try {
      appendFileSync(this.file, `${line}\n`);
    } catch {
      // a log we cannot write must not hide the error itself (it also goes to stderr)
    }
  }
}
