// Public API of containerd-api; filled in by its issue. Exports only through this file.
export {};
