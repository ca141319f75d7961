/**
 * The build's output as Docker's JSON messages, in Dockerfile order even though stages run concurrently: each
 * stage writes to its own channel; a channel's messages go out live once every earlier channel has closed,
 * and are held until then.
 */
import type { ProgressMessage } from './backend.ts';

export interface JsonMessage {
  stream?: string;
  aux?: unknown;
  error?: string;
  errorDetail?: { code?: number; message: string };
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  [k: string]: unknown;
}

export type Emit = (m: JsonMessage) => void;

/** What a stage writes to. */
export interface OutputChannel {
  stream(text: string): void;
  progress(m: ProgressMessage): void;
  /** Process output of RUN: stdout as is, stderr in red, as dockerd's classic builder sends it. */
  stdout(b: Buffer): void;
  stderr(b: Buffer): void;
  close(): void;
}

export class OrderedOutput {
  private readonly emit: Emit;
  private readonly quiet: boolean;
  private readonly channels: { buffered: JsonMessage[]; closed: boolean }[] = [];
  private head = 0;

  constructor(emit: Emit, quiet: boolean) {
    this.emit = emit;
    this.quiet = quiet;
  }

  /** A new channel, after all those opened before it. */
  channel(): OutputChannel {
    const idx = this.channels.length;
    const ch = { buffered: [] as JsonMessage[], closed: false };
    this.channels.push(ch);
    const send = (m: JsonMessage) => {
      if (this.quiet) return;
      if (idx === this.head) this.emit(m);
      else ch.buffered.push(m);
    };
    return {
      stream: (text) => send({ stream: text }),
      progress: (m) => send(m as JsonMessage),
      stdout: (b) => send({ stream: b.toString('utf8') }),
      stderr: (b) => send({ stream: `\u001b[91m${b.toString('utf8')}\u001b[0m` }),
      close: () => {
        ch.closed = true;
        this.advance();
      },
    };
  }

  private advance(): void {
    while (this.head < this.channels.length) {
      const ch = this.channels[this.head]!;
      for (const m of ch.buffered) this.emit(m);
      ch.buffered = [];
      if (!ch.closed) return;
      this.head++;
    }
  }

  /** Sends whatever is still held (after a failure, so the user sees how far each stage got). */
  flush(): void {
    for (let i = this.head; i < this.channels.length; i++) {
      const ch = this.channels[i]!;
      if (!this.quiet) for (const m of ch.buffered) this.emit(m);
      ch.buffered = [];
    }
    this.head = this.channels.length;
  }

  /** A message outside any stage (the final lines); quiet mode still drops it. */
  direct(m: JsonMessage, evenWhenQuiet = false): void {
    if (this.quiet && !evenWhenQuiet) return;
    this.emit(m);
  }
}
