/**
 * ChainIDs (OCI image spec): ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)).
 * Snapshots of unpacked layers are named by the chainID of the layers below and including them.
 */
import { digestOf, parseDigest, type Digest } from '@berth/oci';

export function chainID(diffIDs: readonly Digest[]): Digest {
  const all = chainIDs(diffIDs);
  const last = all.at(-1);
  if (!last) throw new Error('chainID of no layers');
  return last;
}

/** The chainID of each prefix: result[i] names the stack of layers 0..i. */
export function chainIDs(diffIDs: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIDs) {
    parseDigest(d);
    const prev = out.at(-1);
    out.push(prev === undefined ? d : digestOf(`${prev} ${d}`));
  }
  return out;
}
