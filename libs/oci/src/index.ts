// Public API of oci; filled in by its issue. Exports only through this file.
export {};
