/**
 * Diff service (containerd's walking differ): Apply unpacks a layer blob onto mounts (overlay upper dirs get
 * overlay whiteouts, bind mounts plain removals) and returns the uncompressed layer's descriptor (the diffID);
 * Diff turns the change between two mount sets into a compressed layer blob in the content store.
 */
import { addService, unary, type Descriptor, type Mount, type ServerHooks, type GrpcServer } from '@berth/containerd-api';
import { NotImplementedError } from '@berth/errdefs';
import { applyLayerToMounts, compressLayer, diffMounts } from '@berth/layer-store';
import { randomBytes } from 'node:crypto';
import type { Context } from '../context.ts';

const LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
const SUPPORTED = new Set([
  'application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar', 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar', 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);
const UNCOMPRESSED_LABEL = 'containerd.io/uncompressed';

export function addDiffService(server: GrpcServer, ctx: Context, hooks: ServerHooks): void {
  addService(server, 'containerd.services.diff.v1.Diff', {
    Apply: unary(async (req: { diff: Descriptor; mounts: Mount[] }, call) => {
      const ns = call.namespace();
      if (!SUPPORTED.has(req.diff.mediaType)) throw new NotImplementedError(`apply ${req.diff.digest}: unsupported media type ${req.diff.mediaType}`);
      const stream = ctx.content.read(ns, req.diff.digest);
      const r = await applyLayerToMounts(stream, req.mounts.map((m) => ({ type: m.type, source: m.source, options: m.options })),
        { signal: call.signal });
      return { applied: { mediaType: LAYER_TAR, digest: r.diffID, size: r.size, annotations: {} } };
    }),
    Diff: unary(async (req: { left: Mount[]; right: Mount[]; mediaType: string; ref: string; labels: Record<string, string> }, call) => {
      const ns = call.namespace();
      const mediaType = req.mediaType || 'application/vnd.oci.image.layer.v1.tar+gzip';
      const compression = mediaType.endsWith('gzip') ? 'gzip' : mediaType.endsWith('zstd') ? 'zstd' : mediaType.endsWith('tar') ? 'none' : undefined;
      if (!compression) throw new NotImplementedError(`diff: unsupported media type ${mediaType}`);
      const conv = (ms: Mount[]) => ms.map((m) => ({ type: m.type, source: m.source, options: m.options }));
      const layer = compressLayer(diffMounts(conv(req.left), conv(req.right)), compression);
      const ref = req.ref || `diff-${randomBytes(8).toString('hex')}`;
      // The content is committed without expected digest; the uncompressed digest is known once the stream ends.
      const info = await ctx.content.writeStream(ns, ref, layer.stream, { lease: call.lease, labels: req.labels ?? {} });
      const done = await layer.done;
      ctx.content.update(ns, info.digest, { [UNCOMPRESSED_LABEL]: done.diffID }, [`labels.${UNCOMPRESSED_LABEL}`]);
      return { diff: { mediaType, digest: info.digest, size: info.size, annotations: {} } };
    }),
  }, hooks);
}
