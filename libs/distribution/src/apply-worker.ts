/**
 * Worker-thread side of `applyLayerInWorker` (see worker-apply.ts for the protocol). Runs
 * @berth/layer-store's applyLayerToMounts on a stream fed by the main thread, one chunk per read credit.
 */
import { Readable } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { codeOf } from '@berth/errdefs';
import { applyLayerToMounts, needsLowerLayers, type ApplyOptions, type Mount } from '@berth/layer-store';

type ToWorker =
  | { type: 'start'; id: number; mounts: Mount[]; opts: Omit<ApplyOptions, 'signal' | 'onProgress'> }
  | { type: 'chunk'; id: number; data: ArrayBuffer }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number; message: string };

const port = parentPort!;
const streams = new Map<number, Readable>();

port.on('message', (m: ToWorker) => {
  if (m.type === 'start') {
    const source = new Readable({
      highWaterMark: 1 << 20,
      read: () => port.postMessage({ type: 'read', id: m.id }),
    });
    streams.set(m.id, source);
    applyLayerToMounts(source, m.mounts, m.opts).then(
      (result) => port.postMessage({ type: 'done', id: m.id, result }),
      (err: unknown) => {
        source.destroy();
        const e = err as Error;
        port.postMessage({
          type: 'error', id: m.id,
          error: { code: codeOf(err), name: e?.name, message: e?.message ?? String(err), lowerLayersNeeded: needsLowerLayers(err) },
        });
      },
    ).finally(() => streams.delete(m.id));
    return;
  }
  const s = streams.get(m.id);
  if (!s) return;
  if (m.type === 'chunk') s.push(Buffer.from(m.data));
  else if (m.type === 'end') s.push(null);
  else s.destroy(new Error(m.message));
});
