import type { Volume } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { STRICT, renderList } from '../../format/formatter.ts';
import { humanSize } from '../../format/units.ts';
import { parseFilters } from '../../lib/filters.ts';
import { FORMAT_HELP } from '../../lib/help-text.ts';

const TABLE = 'table {{.Driver}}\t{{.Name}}';
const HEADERS = { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE', Availability: 'AVAILABILITY', Group: 'GROUP' };

class VolumeContext {
  readonly [STRICT] = '*formatter.volumeContext';
  private readonly v: Volume;
  constructor(v: Volume) {
    this.v = v;
  }

  Name(): string {
    return this.v.Name;
  }

  Driver(): string {
    return this.v.Driver;
  }

  Scope(): string {
    return this.v.Scope;
  }

  Mountpoint(): string {
    return this.v.Mountpoint;
  }

  Labels(): string {
    return Object.entries(this.v.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  }

  Label(name: string): string {
    return this.v.Labels?.[name] ?? '';
  }

  Links(): string {
    return this.v.UsageData && this.v.UsageData.RefCount >= 0 ? String(this.v.UsageData.RefCount) : 'N/A';
  }

  Size(): string {
    return this.v.UsageData && this.v.UsageData.Size >= 0 ? humanSize(this.v.UsageData.Size) : 'N/A';
  }

  toJSON(): Record<string, string> {
    return {
      Availability: 'N/A', Driver: this.Driver(), Group: 'N/A', Labels: this.Labels(), Links: this.Links(), Mountpoint: this.Mountpoint(),
      Name: this.Name(), Scope: this.Scope(), Size: this.Size(), Status: 'N/A',
    };
  }
}

export default class VolumeLs extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth volume ls', 'berth volume ls -q -f dangling=true'];
  static override flags = {
    cluster: Flags.boolean({ description: 'Display only cluster volumes, and use cluster volume list formatting', hidden: true }),
    filter: Flags.strings({ char: 'f', description: 'Provide filter values (e.g. "dangling=true")', helpValue: 'filter' }),
    format: Flags.string({ description: FORMAT_HELP }),
    quiet: Flags.boolean({ char: 'q', description: 'Only display volume names' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(VolumeLs);
    const client = await this.ctx.client();
    const r = await client.volumes.list(parseFilters(flags.filter));
    for (const w of r.Warnings ?? []) this.warn(w);
    const vols = (r.Volumes ?? []).sort((a, b) => a.Name.localeCompare(b.Name, 'en', { numeric: true }));
    let format = flags.format ?? 'table';
    if (format === 'table') format = flags.quiet ? '{{.Name}}' : TABLE;
    this.ctx.out(renderList(format, TABLE, vols.map((v) => new VolumeContext(v)), HEADERS));
  }
}
