// The formatting context of `ps` (docker's formatter.ContainerContext): the fields `--format` can use.
import type { ContainerSummary } from '@berth/docker-api';
import { familiarString, parseNormalizedReference } from '@berth/oci';
import { STRICT } from '../format/formatter.ts';
import { humanDuration, humanSize } from '../format/units.ts';
import { ellipsis, goQuote, goTimeString, truncateId } from '../lib/ids.ts';
import { displayablePorts } from '../lib/ports.ts';

export const CONTAINER_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export const CONTAINER_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED',
  Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Labels: 'LABELS', Label: 'LABEL', Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES', Networks: 'NETWORKS',
};

export class ContainerContext {
  readonly [STRICT] = '*formatter.ContainerContext';
  private readonly c: ContainerSummary;
  private readonly trunc: boolean;

  constructor(c: ContainerSummary, trunc: boolean) {
    this.c = c;
    this.trunc = trunc;
  }

  ID(): string {
    return this.trunc ? truncateId(this.c.Id) : this.c.Id;
  }

  Names(): string {
    const names = (this.c.Names ?? []).map((n) => n.replace(/^\//, ''));
    if (this.trunc) return names.find((n) => !n.includes('/')) ?? '';
    return names.join(',');
  }

  Image(): string {
    const image = this.c.Image;
    if (!image) return '<no image>';
    if (!this.trunc) return image;
    if (truncateId(this.c.ImageID ?? '') === truncateId(image)) return truncateId(image);
    try {
      const ref = parseNormalizedReference(image);
      return familiarString({ ...ref, digest: undefined } as typeof ref);
    } catch {
      return image;
    }
  }

  Command(): string {
    return goQuote(this.trunc ? ellipsis(this.c.Command ?? '', 20) : this.c.Command ?? '');
  }

  CreatedAt(): string {
    return goTimeString(new Date(this.c.Created * 1000));
  }

  RunningFor(): string {
    return `${humanDuration(Date.now() - this.c.Created * 1000)} ago`;
  }

  Ports(): string {
    return displayablePorts(this.c.Ports);
  }

  State(): string {
    return this.c.State;
  }

  Status(): string {
    return this.c.Status;
  }

  Size(): string {
    const srw = humanSize(this.c.SizeRw ?? 0, 3);
    const sv = humanSize(this.c.SizeRootFs ?? 0, 3);
    return (this.c.SizeRootFs ?? 0) > 0 ? `${srw} (virtual ${sv})` : srw;
  }

  Labels(): string {
    return Object.entries(this.c.Labels ?? {}).map(([k, v]) => `${k}=${v}`).sort().join(',');
  }

  Label(name: string): string {
    return this.c.Labels?.[name] ?? '';
  }

  Mounts(): string {
    return (this.c.Mounts ?? []).map((m) => {
      const name = m.Name || m.Source;
      return this.trunc ? ellipsis(name, 15) : name;
    }).join(',');
  }

  LocalVolumes(): string {
    return String((this.c.Mounts ?? []).filter((m) => m.Driver === 'local').length);
  }

  Networks(): string {
    return Object.keys(this.c.NetworkSettings?.Networks ?? {}).join(',');
  }

  /** The image platform the daemon reports (API 1.48+), or null. */
  Platform(): unknown {
    const d = this.c.ImageManifestDescriptor as { platform?: unknown } | undefined;
    return d?.platform ?? null;
  }

  toJSON(): Record<string, unknown> {
    const keys = ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Platform', 'Ports', 'RunningFor', 'Size', 'State', 'Status'] as const;
    return Object.fromEntries(keys.map((k) => [k, this[k]()]));
  }
}
