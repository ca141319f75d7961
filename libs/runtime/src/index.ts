// Public API of runtime; filled in by its issue. Exports only through this file.
export {};
