// Public API of builder; filled in by its issue. Exports only through this file.
export {};
