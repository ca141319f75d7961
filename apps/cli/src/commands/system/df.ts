import type { SystemDataUsage } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { STRICT, renderList } from '../../format/formatter.ts';
import { humanSize } from '../../format/units.ts';
import { CONTAINER_HEADERS, ContainerContext } from '../../contexts/container.ts';
import { IMAGE_HEADERS, imageRows } from '../../contexts/image.ts';

const SUMMARY_TABLE = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const SUMMARY_HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

class SummaryRow {
  readonly [STRICT] = '*formatter.diskUsageContext';
  readonly Type: string;
  readonly TotalCount: string;
  readonly Active: string;
  readonly Size: string;
  readonly Reclaimable: string;
  constructor(type: string, total: number, active: number, size: number, reclaimable: number, percent: boolean) {
    this.Type = type;
    this.TotalCount = String(total);
    this.Active = String(active);
    this.Size = humanSize(size);
    this.Reclaimable = percent && size > 0 ? `${humanSize(reclaimable)} (${Math.floor((reclaimable * 100) / size)}%)` : humanSize(reclaimable);
  }

  toJSON(): Record<string, string> {
    return { Active: this.Active, Reclaimable: this.Reclaimable, Size: this.Size, TotalCount: this.TotalCount, Type: this.Type };
  }
}

export default class SystemDf extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth system df', 'berth system df -v'];
  static override flags = {
    format: Flags.string({ description: 'Format output using a custom template' }),
    verbose: Flags.boolean({ char: 'v', description: 'Show detailed information on space usage' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(SystemDf);
    const client = await this.ctx.client();
    const du = await client.system.df();
    if (flags.verbose) {
      this.verbose(du);
      return;
    }
    const images = du.Images ?? [];
    const containers = du.Containers ?? [];
    const volumes = du.Volumes ?? [];
    const cache = du.BuildCache ?? [];
    const imgSize = du.LayersSize ?? images.reduce((a, i) => a + i.Size, 0);
    const imgActive = images.filter((i) => i.Containers > 0);
    const imgReclaim = imgSize - imgActive.reduce((a, i) => a + (i.Size - Math.max(0, i.SharedSize)), 0) - sharedOfActive(images);
    const ctrSize = containers.reduce((a, c) => a + (c.SizeRw ?? 0), 0);
    const ctrActive = containers.filter((c) => c.State === 'running' || c.State === 'paused' || c.State === 'restarting');
    const ctrReclaim = containers.filter((c) => !ctrActive.includes(c)).reduce((a, c) => a + (c.SizeRw ?? 0), 0);
    const volSize = volumes.reduce((a, v) => a + Math.max(0, v.UsageData?.Size ?? 0), 0);
    const volActive = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0);
    const volReclaim = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0)
      .reduce((a, v) => a + Math.max(0, v.UsageData?.Size ?? 0), 0);
    const cacheSize = cache.reduce((a, b) => a + (b.Shared ? 0 : b.Size), 0);
    const cacheReclaim = cache.filter((b) => !b.InUse && !b.Shared).reduce((a, b) => a + b.Size, 0);
    const rows = [
      new SummaryRow('Images', images.length, imgActive.length, imgSize, Math.max(0, imgReclaim), true),
      new SummaryRow('Containers', containers.length, ctrActive.length, ctrSize, ctrReclaim, true),
      new SummaryRow('Local Volumes', volumes.length, volActive.length, volSize, volReclaim, true),
      new SummaryRow('Build Cache', cache.length, cache.filter((b) => b.InUse).length, cacheSize, cacheReclaim, false),
    ];
    this.ctx.out(renderList(flags.format ?? '', SUMMARY_TABLE, rows, SUMMARY_HEADERS));
  }

  private verbose(du: SystemDataUsage): void {
    this.log('Images space usage:\n');
    const imgTable = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
    this.ctx.out(renderList(imgTable, imgTable, imageRows(du.Images ?? [], true, false, false), IMAGE_HEADERS));
    this.log('\nContainers space usage:\n');
    const ctrTable = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}';
    // docker's verbose df shows each container's own size, without the image's "virtual" part
    const ctrs = (du.Containers ?? []).map((c) => new ContainerContext({ ...c, SizeRootFs: 0 }, true));
    this.ctx.out(renderList(ctrTable, ctrTable, ctrs, CONTAINER_HEADERS));
    this.log('\nLocal Volumes space usage:\n');
    const volRows = (du.Volumes ?? []).map((v) => ({
      Name: v.Name, Links: String(v.UsageData?.RefCount ?? 0), Size: humanSize(v.UsageData?.Size ?? 0),
    }));
    const volTable = 'table {{.Name}}\t{{.Links}}\t{{.Size}}';
    this.ctx.out(renderList(volTable, volTable, volRows, { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' }));
    const cache = du.BuildCache ?? [];
    this.log(`\nBuild cache usage: ${humanSize(cache.reduce((a, b) => a + b.Size, 0))}\n`);
    const cacheTable = 'table {{.ID}}\t{{.Type}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}';
    const cacheRows = cache.map((b) => ({
      ID: b.ID.slice(0, 12), Type: b.Type, Size: humanSize(b.Size), CreatedSince: b.CreatedAt, LastUsedSince: b.LastUsedAt ?? '', UsageCount: String(b.UsageCount),
      Shared: String(b.Shared),
    }));
    this.ctx.out(renderList(cacheTable, cacheTable, cacheRows, {
      ID: 'CACHE ID', Type: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED',
    }));
  }
}

function sharedOfActive(images: Array<{ Containers: number; SharedSize: number }>): number {
  // shared layers are counted once, and only if some image using them is in use
  const active = images.filter((i) => i.Containers > 0);
  return active.length ? Math.max(0, ...active.map((i) => Math.max(0, i.SharedSize))) : 0;
}
