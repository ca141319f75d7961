import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestOf, type Digest } from '@berth/oci';
import { childGcLabels, gcNodeKey, isGcRoot, labelReferences, reachable, snapshotGcLabel } from './index.ts';

describe('gc references', () => {
  it('follows containerd\'s labels from roots through blobs and snapshot chains', async () => {
    const [index, manifest, config, l0, l1, orphan] = ['index', 'manifest', 'config', 'l0', 'l1', 'orphan'].map((x) => digestOf(x)) as Digest[];
    const content = new Map<string, Record<string, string>>([
      [index!, childGcLabels({ manifests: [{ digest: manifest! }] })],
      [manifest!, childGcLabels({ config: { digest: config! }, layers: [{ digest: l0! }, { digest: l1! }] })],
      [config!, snapshotGcLabel('overlayfs', 'chain-1')],
      [l0!, {}],
      [l1!, {}],
      [orphan!, {}],
    ]);
    const snapshots = new Map([['chain-1', { labels: {}, parent: 'chain-0' }], ['chain-0', { labels: {} }], ['stray', { labels: {} }]]);
    const marked = await reachable([{ type: 'content', digest: index! }], {
      contentLabels: (d) => content.get(d),
      snapshot: (_sn, key) => snapshots.get(key),
    });
    assert.deepEqual([...marked].sort(), [
      ...[index!, manifest!, config!, l0!, l1!].map((d) => gcNodeKey({ type: 'content', digest: d })),
      'snapshot/overlayfs/chain-0', 'snapshot/overlayfs/chain-1',
    ].sort());
    assert.ok(!marked.has(gcNodeKey({ type: 'content', digest: orphan! })));
    assert.deepEqual(labelReferences({ 'containerd.io/gc.ref.contentX': 'no', 'containerd.io/gc.ref.content/x': l0!, 'containerd.io/gc.ref.snapshot.native/a': 'k' }),
      [{ type: 'content', digest: l0 }, { type: 'snapshot', snapshotter: 'native', key: 'k' }]);
    assert.ok(isGcRoot({ 'containerd.io/gc.root': '2026-01-01' }));
  });
});
