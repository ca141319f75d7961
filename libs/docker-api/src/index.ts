// Public API of docker-api; filled in by its issue. Exports only through this file.
export {};
