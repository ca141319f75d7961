/** Content service: blob metadata, streaming Read, and the resumable bidi Write that ctr's pull uses. */
import {
  addService, bidi, serverStream, toTimestamp, unary,
  type BidiCall, type ContentInfo, type FieldMask, type GrpcServer, type ServerHooks, type WriteContentRequest, type WriteContentResponse,
} from '@berth/containerd-api';
import { InvalidArgumentError } from '@berth/errdefs';
import type { ContentManager, ContentWriter } from '../content/manager.ts';
import type { Context } from '../context.ts';

const LIST_BATCH = 100;

export function addContentService(server: GrpcServer, ctx: Context, content: ContentManager, hooks: ServerHooks): void {
  addService(server, 'containerd.services.content.v1.Content', {
    Info: unary((req: { digest: string }, call) => ({ info: content.info(call.namespace(), req.digest) })),
    Update: unary((req: { info: ContentInfo; updateMask: FieldMask | null }, call) =>
      ({ info: content.update(call.namespace(), req.info.digest, req.info.labels ?? {}, req.updateMask?.paths) })),
    List: serverStream(async (req: { filters: string[] }, call, send) => {
      const all = content.list(call.namespace(), req.filters);
      for (let i = 0; i < all.length; i += LIST_BATCH) await send({ info: all.slice(i, i + LIST_BATCH) });
    }),
    Delete: unary((req: { digest: string }, call) => {
      content.delete(call.namespace(), req.digest);
      return {};
    }),
    Read: serverStream(async (req: { digest: string; offset: number; size: number }, call, send) => {
      if (req.offset < 0 || req.size < 0) throw new InvalidArgumentError(`read ${req.digest}: negative offset or size`);
      const ns = call.namespace();
      const small = content.readSmall(ns, req.digest, req.offset, req.size);
      if (small) {
        if (small.length > 0) await send({ offset: req.offset, data: small });
        return;
      }
      let offset = req.offset;
      for await (const chunk of content.read(ns, req.digest, req.offset, req.size)) {
        await send({ offset, data: chunk as Buffer });
        offset += (chunk as Buffer).length;
      }
    }),
    Status: unary(async (req: { ref: string }, call) => ({ status: await content.status(call.namespace(), req.ref) })),
    ListStatuses: unary(async (req: { filters: string[] }, call) =>
      ({ statuses: await content.listStatuses(call.namespace(), req.filters) })),
    Abort: unary(async (req: { ref: string }, call) => {
      await content.abort(call.namespace(), req.ref);
      return {};
    }),
    Write: bidi(async (stream: BidiCall<WriteContentRequest, WriteContentResponse>, call) => {
      const ns = call.namespace();
      let w: ContentWriter | undefined;
      try {
        // Leaving the loop on an error does not end the call before its status is sent.
        for await (const req of stream.messages()) {
          if (!w) {
            if (!req.ref) throw new InvalidArgumentError('write content: the first message must carry a ref');
            w = await content.openWriter(ns, req.ref, { expected: req.expected, total: req.total, lease: call.lease });
          } else if (req.ref && req.ref !== w.ref) {
            throw new InvalidArgumentError(`write content ${w.ref}: ref changed to ${req.ref} mid-stream`);
          }
          if (req.total > 0) w.total = req.total;
          if (req.expected) w.expected = req.expected;
          const res: WriteContentResponse = {
            action: req.action, startedAt: toTimestamp(w.startedAt), updatedAt: toTimestamp(), offset: w.offset, total: w.total, digest: '',
          };
          if (req.action === 'STAT') {
            res.digest = w.digest();
          } else {
            if (req.offset > 0 && req.offset !== w.offset) {
              throw new InvalidArgumentError(`write ${w.ref} @${req.offset}: must occur at current offset ${w.offset}`);
            }
            if (req.offset === 0 && w.offset > 0) await w.truncate();
            if (req.data.length > 0) await w.write(req.data);
            res.offset = w.offset;
            if (req.action === 'COMMIT') {
              const info = await w.commit(req.total, req.expected, req.labels ?? {});
              res.digest = info.digest;
            }
          }
          await stream.send(res);
        }
      } finally {
        await w?.close();
      }
    }),
  }, hooks);
}
