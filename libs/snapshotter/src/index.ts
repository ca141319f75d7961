// Public API of snapshotter; filled in by its issue. Exports only through this file.
export {};
