// Pulling an image with the credentials from the config file and docker's progress output.
import type { AuthConfig, DockerClient } from '@berth/docker-api';
import { familiarString, formatReference, parseNormalizedReference, type Reference } from '@berth/oci';
import type { Context } from '../context.ts';
import { CliError } from '../framework/errors.ts';
import { displayProgress } from './progress.ts';

export function parseImageRef(image: string): Reference {
  try {
    return parseNormalizedReference(image);
  } catch (err) {
    throw new CliError((err as Error).message, 1);
  }
}

/** The credentials stored for the registry an image reference points at (empty when none). */
export async function authFor(ctx: Context, ref: Reference): Promise<AuthConfig> {
  const cfg = await ctx.config();
  return cfg.getAuth(ref.domain) ?? {};
}

export interface PullOptions {
  platform?: string;
  quiet?: boolean;
  /** Where progress goes (stdout for `pull`, stderr for `run`'s implicit pull). */
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Pull every tag of the repository. */
  allTags?: boolean;
}

/** Pulls `image` (tag defaults to latest); returns the full reference pulled. */
export async function pullImage(ctx: Context, client: DockerClient, ref: Reference, opts: PullOptions): Promise<string> {
  const tag = opts.allTags ? undefined : ref.digest ? undefined : ref.tag ?? 'latest';
  const fromImage = opts.allTags ? `${ref.domain}/${ref.path}` : ref.digest ? `${ref.domain}/${ref.path}@${ref.digest}` : `${ref.domain}/${ref.path}`;
  const body = await client.images.pull(fromImage, { tag, platform: opts.platform, auth: await authFor(ctx, ref) });
  if (opts.quiet) {
    await displayProgress(body, { out: devNull(), terminal: false });
  } else {
    ctx.flush();
    await displayProgress(body, { out: opts.out });
  }
  return formatReference(ref.digest || opts.allTags ? ref : { ...ref, tag: tag ?? ref.tag });
}

export function familiar(ref: Reference): string {
  return familiarString(ref);
}

function devNull(): NodeJS.WritableStream {
  return { write: () => true } as unknown as NodeJS.WritableStream;
}
