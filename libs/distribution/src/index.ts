// Public API of distribution; filled in by its issue. Exports only through this file.
export {};
