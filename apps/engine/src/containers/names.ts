/**
 * Container names: unique, `/`-prefixed as Docker shows them, reserved synchronously (no await between the
 * check and the reservation) so two concurrent creates cannot both win a name.
 */
import { randomInt } from 'node:crypto';
import { ConflictError, InvalidArgumentError } from '@berth/errdefs';

const VALID = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function validateName(name: string): string {
  if (!VALID.test(name)) throw new InvalidArgumentError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.startsWith('/') ? name : `/${name}`;
}

export class NameRegistry {
  private readonly byName = new Map<string, string>();

  /** Reserves `name` (with or without its slash) for `id`; Docker's conflict message when taken. */
  reserve(name: string, id: string): string {
    const n = validateName(name);
    const owner = this.byName.get(n);
    if (owner !== undefined && owner !== id) {
      throw new ConflictError(
        `Conflict. The container name "${n}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    this.byName.set(n, id);
    return n;
  }

  release(name: string): void {
    this.byName.delete(name.startsWith('/') ? name : `/${name}`);
  }

  get(name: string): string | undefined {
    return this.byName.get(name.startsWith('/') ? name : `/${name}`);
  }

  /** A free generated name (`adjective_scientist`, with a digit appended after collisions). */
  generate(id: string): string {
    for (let i = 0; ; i++) {
      const base = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}`;
      const name = i < 5 ? base : `${base}${randomInt(10)}`;
      if (!this.byName.has(`/${name}`)) return this.reserve(name, id);
    }
  }
}

const ADJECTIVES = [
  'agile', 'amber', 'ardent', 'bold', 'brave', 'bright', 'calm', 'candid', 'clever', 'cosmic', 'crisp', 'curious',
  'daring', 'deft', 'eager', 'earnest', 'epic', 'fair', 'fervent', 'fond', 'gentle', 'glad', 'golden', 'happy',
  'hardy', 'humble', 'jolly', 'keen', 'kind', 'lively', 'loyal', 'lucid', 'merry', 'mellow', 'modest', 'nimble',
  'noble', 'patient', 'placid', 'proud', 'quiet', 'quirky', 'rapid', 'serene', 'sharp', 'silent', 'sleepy', 'steady',
  'stoic', 'sunny', 'swift', 'tender', 'tidy', 'vivid', 'wise', 'witty', 'zealous', 'zen',
];

const SURNAMES = [
  'agnesi', 'archimedes', 'babbage', 'banach', 'bardeen', 'bohr', 'boole', 'cantor', 'carson', 'curie', 'darwin',
  'dijkstra', 'einstein', 'euclid', 'euler', 'faraday', 'fermat', 'fermi', 'feynman', 'franklin', 'galileo', 'gauss',
  'goldberg', 'hamilton', 'hawking', 'hopper', 'hypatia', 'johnson', 'kepler', 'knuth', 'lamarr', 'lamport',
  'leakey', 'lovelace', 'maxwell', 'meitner', 'mendel', 'newton', 'noether', 'pascal', 'pasteur', 'planck',
  'ramanujan', 'ritchie', 'shannon', 'somerville', 'tesla', 'thompson', 'torvalds', 'turing', 'volta', 'wiles',
  'wright', 'yalow',
];
