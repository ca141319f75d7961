/**
 * Health checks (`HEALTHCHECK`, `--health-*`): probes run as execs in the running container every interval;
 * the status (starting, healthy, unhealthy), the failing streak and the last five results are kept in the
 * container's state, shown by inspect and `ps`, and announced as `health_status` events.
 */
import type { HealthcheckResult } from '@berth/docker-api';
import type { Engine } from '../engine.ts';
import type { Container } from './container.ts';

const NS = 1_000_000;
const DEFAULT_INTERVAL = 30_000;
const DEFAULT_TIMEOUT = 30_000;
const DEFAULT_START_INTERVAL = 5_000;
const DEFAULT_RETRIES = 3;
const KEEP = 5;

export class HealthMonitor {
  private readonly engine: Engine;
  private stopped = false;

  constructor(engine: Engine) {
    this.engine = engine;
    engine.containers.onStarted((c) => this.begin(c));
    engine.containers.onStopped((c) => this.end(c));
  }

  private probeArgs(c: Container): string[] | undefined {
    const test = c.rec.Config.Healthcheck?.Test;
    if (!test || test.length === 0 || test[0] === 'NONE') return undefined;
    if (test[0] === 'CMD') return test.slice(1);
    if (test[0] === 'CMD-SHELL') return [...(c.rec.Config.Shell && c.rec.Config.Shell.length > 0 ? c.rec.Config.Shell : ['/bin/sh', '-c']), test.slice(1).join(' ')];
    return undefined;
  }

  begin(c: Container): void {
    const args = this.probeArgs(c);
    if (!args || this.stopped) return;
    if (!c.rec.State.Health || c.rec.State.Health.Status === 'unhealthy') {
      c.rec.State.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    }
    this.schedule(c, args, true);
  }

  end(c: Container): void {
    if (c.healthTimer) clearTimeout(c.healthTimer);
    c.healthTimer = undefined;
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.engine.containers.list()) this.end(c);
  }

  private inStartPeriod(c: Container): boolean {
    const sp = (c.rec.Config.Healthcheck?.StartPeriod ?? 0) / NS;
    return sp > 0 && Date.now() - Date.parse(c.rec.State.StartedAt) < sp;
  }

  private schedule(c: Container, args: string[], first = false): void {
    const h = c.rec.Config.Healthcheck!;
    const interval = h.Interval ? h.Interval / NS : DEFAULT_INTERVAL;
    const startInterval = h.StartInterval ? h.StartInterval / NS : DEFAULT_START_INTERVAL;
    const delay = this.inStartPeriod(c) && c.rec.State.Health?.Status === 'starting' ? Math.min(startInterval, interval) : interval;
    void first;
    c.healthTimer = setTimeout(() => void this.probe(c, args), delay);
    c.healthTimer.unref();
  }

  private async probe(c: Container, args: string[]): Promise<void> {
    if (!c.hasTask || this.stopped) return;
    const h = c.rec.Config.Healthcheck!;
    const timeout = h.Timeout ? h.Timeout / NS : DEFAULT_TIMEOUT;
    const retries = h.Retries && h.Retries > 0 ? h.Retries : DEFAULT_RETRIES;
    const start = new Date().toISOString();
    let result: HealthcheckResult;
    if (c.paused) {
      this.schedule(c, args);
      return;
    }
    try {
      const r = await this.engine.execs.runCaptured(c, args, timeout);
      this.engine.log.debug({ containerId: c.id, exitCode: r.exitCode, timedOut: r.timedOut }, 'health probe');
      result = {
        Start: start, End: new Date().toISOString(), ExitCode: r.exitCode,
        Output: r.timedOut ? `Health check exceeded timeout (${Math.round(timeout / 1000)}s)` : r.output,
      };
    } catch (err) {
      result = { Start: start, End: new Date().toISOString(), ExitCode: -1, Output: (err as Error).message };
    }
    if (!c.hasTask) return;
    const health = c.rec.State.Health ?? { Status: 'starting' as const, FailingStreak: 0, Log: [] };
    const before = health.Status;
    health.Log = [...(health.Log ?? []), result].slice(-KEEP);
    if (result.ExitCode === 0) {
      health.Status = 'healthy';
      health.FailingStreak = 0;
    } else if (!(this.inStartPeriod(c) && health.Status === 'starting')) {
      health.FailingStreak++;
      if (health.FailingStreak >= retries) health.Status = 'unhealthy';
    }
    c.rec.State.Health = health;
    this.engine.containers.store.save(c.rec);
    if (health.Status !== before) this.engine.containers.emit(c, `health_status: ${health.Status}`);
    this.schedule(c, args);
  }
}
