// The only place that loads the native addon (@berth/native), lazily: commands that need no kernel work
// (berth-runc state, list) never pay for the dlopen.
import { createRequire } from 'node:module';
import type * as Native from '@berth/native';

export type NativeModule = typeof Native;
export type { ExitStatus as NativeExitStatus, NativeError, SeccompProfile, SyncMessage } from '@berth/native';

let loaded: NativeModule | undefined;

export function native(): NativeModule {
  loaded ??= createRequire(import.meta.url)('@berth/native') as NativeModule;
  return loaded;
}
