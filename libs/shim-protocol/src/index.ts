// Public API of shim-protocol; filled in by its issue. Exports only through this file.
export {};
