// The formatting context of `images` (docker's formatter.imageContext): one row per repository:tag.
import type { ImageSummary } from '@berth/docker-api';
import { familiarName, parseNormalizedReference } from '@berth/oci';
import { STRICT } from '../format/formatter.ts';
import { humanDuration, humanSize } from '../format/units.ts';
import { goTimeString, truncateId } from '../lib/ids.ts';

export const IMAGE_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
export const IMAGE_TABLE_DIGEST = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
export const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE',
  Containers: 'CONTAINERS', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'VIRTUAL SIZE',
};

export class ImageContext {
  readonly [STRICT] = '*formatter.imageContext';
  private readonly i: ImageSummary;
  private readonly trunc: boolean;
  private readonly repo: string;
  private readonly tag: string;
  private readonly digest: string;

  constructor(i: ImageSummary, trunc: boolean, repo: string, tag: string, digest: string) {
    this.i = i;
    this.trunc = trunc;
    this.repo = repo;
    this.tag = tag;
    this.digest = digest;
  }

  ID(): string {
    return this.trunc ? truncateId(this.i.Id) : this.i.Id;
  }

  Repository(): string {
    return this.repo;
  }

  Tag(): string {
    return this.tag;
  }

  Digest(): string {
    return this.digest;
  }

  CreatedSince(): string {
    if (!this.i.Created) return '';
    return `${humanDuration(Date.now() - this.i.Created * 1000)} ago`;
  }

  CreatedAt(): string {
    return goTimeString(new Date(this.i.Created * 1000));
  }

  Size(): string {
    return humanSize(this.i.Size, 3);
  }

  VirtualSize(): string {
    return humanSize(this.i.VirtualSize ?? this.i.Size);
  }

  Containers(): string {
    return this.i.Containers === -1 ? 'N/A' : String(this.i.Containers);
  }

  SharedSize(): string {
    return this.i.SharedSize === -1 ? 'N/A' : humanSize(this.i.SharedSize);
  }

  UniqueSize(): string {
    return this.i.SharedSize === -1 ? 'N/A' : humanSize(this.i.Size - this.i.SharedSize);
  }

  toJSON(): Record<string, string> {
    const keys = ['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize'] as const;
    return Object.fromEntries(keys.map((k) => [k, this[k]()]));
  }
}

function isDangling(i: ImageSummary): boolean {
  const tags = i.RepoTags ?? [];
  const digests = i.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/** docker's imageFormat: rows per repository and tag (and digest when shown). */
export function imageRows(images: ImageSummary[], trunc: boolean, showDigests: boolean, needDigest: boolean): ImageContext[] {
  const rows: ImageContext[] = [];
  for (const img of images) {
    if (isDangling(img)) {
      rows.push(new ImageContext(img, trunc, '<none>', '<none>', '<none>'));
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const r of img.RepoTags ?? []) {
      try {
        const ref = parseNormalizedReference(r);
        if (ref.tag !== undefined) {
          const name = familiarName(ref);
          repoTags.set(name, [...(repoTags.get(name) ?? []), ref.tag]);
        }
      } catch {
        // not a reference: skip, as docker does
      }
    }
    for (const r of img.RepoDigests ?? []) {
      try {
        const ref = parseNormalizedReference(r);
        if (ref.digest !== undefined) {
          const name = familiarName(ref);
          repoDigests.set(name, [...(repoDigests.get(name) ?? []), ref.digest]);
        }
      } catch {
        // skip
      }
    }
    for (const [repo, tags] of repoTags) {
      let digests = repoDigests.get(repo) ?? [];
      repoDigests.delete(repo);
      if (!needDigest) digests = [];
      for (const tag of tags) {
        if (digests.length === 0) rows.push(new ImageContext(img, trunc, repo, tag, '<none>'));
        else for (const d of digests) rows.push(new ImageContext(img, trunc, repo, tag, d));
      }
    }
    for (const [repo, digests] of repoDigests) {
      if (showDigests) for (const d of digests) rows.push(new ImageContext(img, trunc, repo, '<none>', d));
      else rows.push(new ImageContext(img, trunc, repo, '<none>', ''));
    }
  }
  return rows;
}
