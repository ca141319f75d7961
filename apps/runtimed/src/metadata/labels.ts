/** Label maps and field masks as containerd applies them. */
import { InvalidArgumentError } from '@berth/errdefs';

export type Labels = Record<string, string>;

const MAX_LABEL_BYTES = 4096;

export function validateLabels(labels: Labels, what: string): Labels {
  for (const [k, v] of Object.entries(labels)) {
    if (k === '') throw new InvalidArgumentError(`${what}: label key must not be empty`);
    if (k.length + v.length > MAX_LABEL_BYTES) throw new InvalidArgumentError(`${what}: label ${k} is longer than ${MAX_LABEL_BYTES} bytes`);
  }
  return labels;
}

/**
 * Applies an update mask's label paths: `labels` replaces all labels, `labels.<key>` sets or (with an empty
 * value) removes one. Returns the new labels and the paths that were not about labels.
 */
export function applyLabelPaths(current: Labels, incoming: Labels, paths: string[]): { labels: Labels; rest: string[] } {
  let labels = { ...current };
  const rest: string[] = [];
  for (const p of paths) {
    if (p === 'labels') labels = { ...incoming };
    else if (p.startsWith('labels.')) {
      const k = p.slice('labels.'.length);
      const v = incoming[k];
      if (v === undefined || v === '') delete labels[k];
      else labels[k] = v;
    } else rest.push(p);
  }
  return { labels, rest };
}
