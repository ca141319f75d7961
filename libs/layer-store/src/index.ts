// Public API of layer-store; filled in by its issue. Exports only through this file.
export {};
