/** Tasks service over the TaskManager (shims). */
import {
  addService, unary, type Any, type CreateTaskRequest, type ExecProcessRequest, type ServerHooks, type GrpcServer,
} from '@berth/containerd-api';
import { NotImplementedError } from '@berth/errdefs';
import type { TaskManager } from '../tasks/manager.ts';

interface Ids { containerId: string; execId: string }

export function addTasksService(server: GrpcServer, tasks: TaskManager, hooks: ServerHooks): void {
  addService(server, 'containerd.services.tasks.v1.Tasks', {
    Create: unary((req: CreateTaskRequest, call) => tasks.create(call.namespace(), req)),
    Start: unary(async (req: Ids, call) => ({ pid: await tasks.start(call.namespace(), req.containerId, req.execId) })),
    Wait: unary((req: Ids, call) => tasks.wait(call.namespace(), req.containerId, req.execId)),
    Kill: unary(async (req: Ids & { signal: number; all: boolean }, call) => {
      await tasks.kill(call.namespace(), req.containerId, req.execId, req.signal, req.all);
      return {};
    }),
    Delete: unary((req: { containerId: string }, call) => tasks.delete(call.namespace(), req.containerId)),
    DeleteProcess: unary((req: Ids, call) => tasks.deleteProcess(call.namespace(), req.containerId, req.execId)),
    Get: unary(async (req: Ids, call) => ({ process: await tasks.get(call.namespace(), req.containerId, req.execId) })),
    List: unary(async (req: { filter: string }, call) => ({ tasks: await tasks.list(call.namespace(), req.filter) })),
    Exec: unary(async (req: ExecProcessRequest, call) => {
      await tasks.exec(call.namespace(), req);
      return {};
    }),
    ResizePty: unary(async (req: Ids & { width: number; height: number }, call) => {
      await tasks.resizePty(call.namespace(), req.containerId, req.execId, req.width, req.height);
      return {};
    }),
    CloseIO: unary(async (req: Ids & { stdin: boolean }, call) => {
      await tasks.closeIO(call.namespace(), req.containerId, req.execId, req.stdin);
      return {};
    }),
    Pause: unary(async (req: { containerId: string }, call) => {
      await tasks.pause(call.namespace(), req.containerId);
      return {};
    }),
    Resume: unary(async (req: { containerId: string }, call) => {
      await tasks.resume(call.namespace(), req.containerId);
      return {};
    }),
    ListPids: unary(async (req: { containerId: string }, call) => ({ processes: await tasks.pids(call.namespace(), req.containerId) })),
    Checkpoint: unary((req: { containerId: string }) => {
      throw new NotImplementedError(`checkpoint task ${req.containerId}: not supported by berth`);
    }),
    Update: unary(async (req: { containerId: string; resources: Any | null }, call) => {
      await tasks.update(call.namespace(), req.containerId, req.resources);
      return {};
    }),
    Metrics: unary(async (req: { filters: string[] }, call) => ({ metrics: await tasks.metrics(call.namespace(), req.filters) })),
  }, hooks);
}
