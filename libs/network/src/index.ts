// Public API of network; filled in by its issue. Exports only through this file.
export {};
