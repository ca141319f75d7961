// Public API of container-logs; filled in by its issue. Exports only through this file.
export {};
