import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDockerfile, parseDockerfileInstructions, parseRunMount, type Instruction } from './index.ts';

const errorOf = (text: string): string => {
  try {
    parseDockerfileInstructions(text);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
};

describe('Dockerfile parser', () => {
  it('joins continuation lines, skips comments inside them and records lines', () => {
    const r = parseDockerfile([
      '# a comment',
      'FROM busybox',
      '',
      'RUN echo a \\',
      '  # comment inside',
      '    b \\',
      '    c',
      'run ["echo", "x"]',
    ].join('\n'));
    assert.equal(r.nodes.length, 3);
    const run = r.nodes[1]!;
    assert.equal(run.value, 'RUN');
    assert.deepEqual(run.args, ['echo a     b     c']);
    assert.equal(run.startLine, 4);
    assert.equal(run.endLine, 7);
    assert.equal(r.nodes[2]!.json, true);
    assert.deepEqual(r.nodes[2]!.args, ['echo', 'x']);
    assert.deepEqual(r.nodes[0]!.comments, ['a comment']);
  });

  it('honours the escape directive and reports directives', () => {
    const r = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox\nRUN dir c:\\ `\n  && echo ok\n');
    assert.equal(r.escapeToken, '`');
    assert.deepEqual(r.directives, { syntax: 'docker/dockerfile:1', escape: '`' });
    assert.deepEqual(r.nodes[1]!.args, ['dir c:\\   && echo ok']);
    // A directive after an instruction or a comment is a comment.
    const late = parseDockerfile('FROM busybox\n# escape=`\nRUN a \\\n b\n');
    assert.equal(late.escapeToken, '\\');
    assert.throws(() => parseDockerfile('# escape=x\nFROM busybox\n'), /invalid escape token 'x' does not match ` or \\/);
    assert.throws(() => parseDockerfile('# escape=`\n# escape=\\\nFROM busybox\n'), /only one escape parser directive can be used/);
  });

  it('parses heredocs with terminators, chomping and quoting', () => {
    const r = parseDockerfile([
      'FROM busybox',
      'RUN <<EOF',
      'echo $HOME',
      'EOF',
      'COPY <<-"A" <<B /dst/',
      '\tone $X',
      '\tA',
      'two',
      'B',
      'RUN ["cat", "<<EOF"]',
    ].join('\n'));
    const run = r.nodes[1]!;
    assert.deepEqual(run.heredocs, [{ name: 'EOF', fileDescriptor: 0, expand: true, chomp: false, content: 'echo $HOME\n' }]);
    assert.equal(run.endLine, 4);
    const copy = r.nodes[2]!;
    assert.equal(copy.heredocs.length, 2);
    assert.deepEqual(copy.heredocs[0], { name: 'A', fileDescriptor: 0, expand: false, chomp: true, content: '\tone $X\n' });
    assert.equal(copy.heredocs[1]!.content, 'two\n');
    assert.deepEqual(r.nodes[3]!.heredocs, []);
    assert.throws(() => parseDockerfile('FROM busybox\nRUN <<EOF\necho\n'), /unterminated heredoc/);
  });

  it('parses ENV and LABEL forms and keeps quotes for expansion', () => {
    const r = parseDockerfile('FROM x\nENV A=1 B="two words" C=\nENV D legacy value\nLABEL "a.b"="c d" e=f\n');
    assert.deepEqual(r.nodes[1]!.args, ['A', '1', '=', 'B', '"two words"', '=', 'C', '', '=']);
    assert.deepEqual(r.nodes[2]!.args, ['D', 'legacy value', '']);
    assert.deepEqual(r.nodes[3]!.args, ['"a.b"', '"c d"', '=', 'e', 'f', '=']);
    assert.throws(() => parseDockerfile('FROM x\nENV A=1 B\n'), /Syntax error - can't find = in "B". Must be of the form: name=value/);
    assert.throws(() => parseDockerfile('FROM x\nENV A\n'), /ENV must have two arguments/);
  });

  it('extracts flags and nested ONBUILD instructions', () => {
    const r = parseDockerfile('FROM x\nCOPY --from=a --chown="1:2" src /dst\nONBUILD RUN --mount=type=cache,target=/c make\n');
    assert.deepEqual(r.nodes[1]!.flags, ['--from=a', '--chown=1:2']);
    assert.deepEqual(r.nodes[1]!.args, ['src', '/dst']);
    const onbuild = r.nodes[2]!;
    assert.deepEqual(onbuild.args, ['RUN', 'make']);
    assert.deepEqual(onbuild.sub?.flags, ['--mount=type=cache,target=/c']);
  });
});

describe('Dockerfile instructions', () => {
  it('groups stages and meta args', () => {
    const df = parseDockerfileInstructions('ARG V=1\nFROM busybox:$V AS Build\nRUN make\nFROM scratch\nCOPY --from=build /a /a\n');
    assert.equal(df.metaArgs.length, 1);
    assert.equal(df.stages.length, 2);
    assert.equal(df.stages[0]!.name, 'build');
    assert.equal(df.stages[0]!.code, 'FROM busybox:$V AS Build');
    const copy = df.stages[1]!.commands[0] as Extract<Instruction, { kind: 'copy' }>;
    assert.equal(copy.kind, 'copy');
    assert.equal(copy.from, 'build');
    assert.deepEqual(copy.src, { sources: ['/a'], contents: [], dest: '/a' });
  });

  it('gives Docker\'s messages with line numbers', () => {
    assert.equal(errorOf('FORM busybox\n'), 'dockerfile parse error on line 1: unknown instruction: FORM (did you mean FROM?)');
    assert.equal(errorOf('FROM busybox\n\nrunn true\n'), 'dockerfile parse error on line 3: unknown instruction: runn (did you mean run?)');
    assert.equal(errorOf('FROM busybox\nFLY away\n'), 'dockerfile parse error on line 2: unknown instruction: FLY');
    assert.equal(errorOf('FROM busybox\nWORKDIR\n'), 'dockerfile parse error on line 2: WORKDIR requires exactly one argument');
    assert.equal(errorOf('FROM busybox\nENV\n'), 'dockerfile parse error on line 2: ENV requires at least one argument');
    assert.equal(errorOf('FROM busybox\nCOPY a\n'),
      'dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined');
    assert.equal(errorOf('FROM busybox\nCOPY --form=x a b\n'), 'dockerfile parse error on line 2: unknown flag: --form (did you mean from?)');
    assert.equal(errorOf('FROM busybox\nCOPY --from a b\n'), 'dockerfile parse error on line 2: missing a value on flag: --from');
    assert.equal(errorOf('FROM a b\n'), 'dockerfile parse error on line 1: FROM requires either one or three arguments');
    assert.equal(errorOf('FROM a AS 1x\n'),
      'dockerfile parse error on line 1: invalid name for build stage: "1x", name can\'t start with a number or contain symbols');
    assert.equal(errorOf('RUN true\n'), 'no build stage in current context');
    assert.equal(errorOf('FROM x\nONBUILD ONBUILD RUN x\n'), 'dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    assert.equal(errorOf('FROM x\nSHELL sh -c\n'), 'dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form');
    assert.equal(errorOf('FROM x\nCMD [1]\n'), 'when using JSON array syntax, arrays must be comprised of strings only');
    assert.equal(errorOf('# only a comment\n'), 'file with no instructions');
    assert.equal(errorOf('FROM x\nHEALTHCHECK --interval=1us CMD true\n'), 'dockerfile parse error on line 2: Interval "interval" cannot be less than 1ms');
  });

  it('shapes shell-dependent commands and health checks', () => {
    const df = parseDockerfileInstructions([
      'FROM x',
      'CMD echo hi',
      'ENTRYPOINT []',
      'HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/',
      'HEALTHCHECK NONE',
      'EXPOSE 90 80/udp',
      'ARG A B=2',
    ].join('\n'));
    const [cmd, ep, hc, none, expose, arg] = df.stages[0]!.commands;
    assert.deepEqual(cmd, { name: 'CMD', code: 'CMD echo hi', line: 2, kind: 'cmd', cmd: { cmdLine: ['echo hi'], files: [], prependShell: true } });
    assert.deepEqual((ep as Extract<Instruction, { kind: 'entrypoint' }>).cmd.cmdLine, null);
    assert.deepEqual((hc as Extract<Instruction, { kind: 'healthcheck' }>).health,
      { Test: ['CMD-SHELL', 'curl -f http://localhost/'], Interval: 5e9, Retries: 3 });
    assert.deepEqual((none as Extract<Instruction, { kind: 'healthcheck' }>).health, { Test: ['NONE'] });
    assert.deepEqual((expose as Extract<Instruction, { kind: 'expose' }>).ports, ['80/udp', '90']);
    assert.deepEqual((arg as Extract<Instruction, { kind: 'arg' }>).args, [{ key: 'A' }, { key: 'B', value: '2' }]);
  });

  it('splits COPY heredoc sources from paths', () => {
    const df = parseDockerfileInstructions('FROM x\nCOPY a <<EOF <<-\'R\' /d/\nhello $X\nEOF\n\traw\n\tR\n');
    const copy = df.stages[0]!.commands[0] as Extract<Instruction, { kind: 'copy' }>;
    assert.deepEqual(copy.src.sources, ['a']);
    assert.deepEqual(copy.src.contents, [{ path: 'EOF', data: 'hello $X\n', expand: true }, { path: 'R', data: 'raw\n', expand: false }]);
    assert.throws(() => parseDockerfileInstructions('FROM x\nCOPY a <<EOF\nx\nEOF\n'), /COPY cannot accept a heredoc as a destination/);
  });
});

describe('RUN --mount options', () => {
  const id = (s: string) => s;
  it('parses BuildKit\'s mount syntax with its defaults and messages', () => {
    assert.deepEqual(parseRunMount('type=cache,target=/root/.cache,id=pip,mode=0700,uid=1000', id), {
      type: 'cache', target: '/root/.cache', source: '', from: '', readOnly: false, id: 'pip', sharing: 'shared', mode: 0o700, uid: 1000, size: 0,
    });
    const bind = parseRunMount('target=/src,source=app,from=build', id);
    assert.equal(bind.type, 'bind');
    assert.equal(bind.readOnly, true);
    assert.equal(parseRunMount('type=bind,target=/src,rw', id).readOnly, false);
    assert.equal(parseRunMount('type=tmpfs,dst=/t,size=64m', id).size, 64 * 1024 * 1024);
    assert.equal(parseRunMount('type=cache,target=$DIR', (s) => s.replace('$DIR', '/x')).target, '/x');
    assert.throws(() => parseRunMount('type=cahce,target=/x', id), /unsupported mount type "cahce" \(did you mean cache\?\)/);
    assert.throws(() => parseRunMount('type=bind,target=/x,mode=0755', id), /mode not allowed for "bind" type mounts/);
    assert.throws(() => parseRunMount('type=cache,traget=/x', id), /unexpected key 'traget' in 'traget=\/x' \(did you mean target\?\)/);
    assert.throws(() => parseRunMount('type=cache', id), /mount destination not set/);
    assert.throws(() => parseRunMount('type=secret,id=x', id), /needs a build session/);
  });
});
