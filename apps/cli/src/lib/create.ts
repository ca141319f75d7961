// Creating a container as `docker create`/`run` do: pull first with --pull=always, or pull when the image is
// missing ("Unable to find image … locally") unless --pull=never; write --cidfile; print the daemon's warnings.
import { daemonStatus, type DockerClient } from '@berth/docker-api';
import { familiarString, type Reference } from '@berth/oci';
import { existsSync, writeFileSync } from 'node:fs';
import type { Context } from '../context.ts';
import { CliError } from '../framework/errors.ts';
import { parseImageRef, pullImage } from './pull.ts';
import type { CreateSpec } from './run-options.ts';

export interface CreateOptions {
  pull: string;
  quiet: boolean;
  cidfile?: string;
}

export async function createContainer(ctx: Context, client: DockerClient, spec: CreateSpec, opts: CreateOptions): Promise<string> {
  if (!['always', 'missing', 'never'].includes(opts.pull)) {
    throw new CliError(`invalid pull option: '${opts.pull}': must be one of "always", "missing" or "never"`, 125);
  }
  if (opts.cidfile && existsSync(opts.cidfile)) throw new CliError(`container ID file found, make sure the other container isn't running or delete ${opts.cidfile}`, 125);
  const image = spec.body.Image!;
  let ref: Reference | undefined;
  const getRef = () => (ref ??= parseImageRef(image));
  const pull = async () => {
    const r = getRef();
    const tagged = r.tag || r.digest ? r : { ...r, tag: 'latest' };
    await pullImage(ctx, client, tagged, { platform: spec.platform, quiet: opts.quiet, out: process.stderr });
  };
  if (opts.pull === 'always') await pull();
  let created;
  try {
    created = await client.containers.create(spec.body, { name: spec.name, platform: spec.platform });
  } catch (err) {
    if (daemonStatus(err) !== 404 || opts.pull !== 'missing' || !/no such image/i.test((err as Error).message)) throw err;
    const r = getRef();
    ctx.err(`Unable to find image '${familiarString(r.tag || r.digest ? r : { ...r, tag: 'latest' })}' locally\n`);
    await pull();
    created = await client.containers.create(spec.body, { name: spec.name, platform: spec.platform });
  }
  for (const w of created.Warnings ?? []) ctx.err(`WARNING: ${w}\n`);
  if (opts.cidfile) writeFileSync(opts.cidfile, created.Id);
  return created.Id;
}
