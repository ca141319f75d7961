/** The global flags, as words for shell completion (kept apart from cli.ts so completion does not import the runner). */
export const GLOBAL_FLAGS_FOR_COMPLETION = [
  '--config', '--context', '-c', '--debug', '-D', '--host', '-H', '--log-level', '-l', '--tls', '--tlscacert', '--tlscert', '--tlskey',
  '--tlsverify', '--version', '-v', '--help',
];
