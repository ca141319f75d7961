export type * from './container.ts';
export type * from './image.ts';
export type * from './network.ts';
export type * from './volume.ts';
export type * from './exec.ts';
export type * from './system.ts';
