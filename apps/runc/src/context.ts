// What every command gets: the parsed global flags, a lazily built Runtime, and the log.
import { Runtime } from '@berth/runtime';
import type { Log } from './log.ts';

export interface Globals {
  root: string;
  systemdCgroup: boolean;
}

export class Context {
  readonly globals: Globals;
  readonly log: Log;
  private rt?: Runtime;

  constructor(globals: Globals, log: Log) {
    this.globals = globals;
    this.log = log;
  }

  runtime(): Runtime {
    this.rt ??= new Runtime({
      root: this.globals.root,
      systemdCgroup: this.globals.systemdCgroup,
      onWarning: (m) => {
        this.log.write('warning', m);
        process.stderr.write(`berth-runc: warning: ${m}\n`);
      },
    });
    return this.rt;
  }
}

export type Command = (argv: string[], ctx: Context) => Promise<number>;
