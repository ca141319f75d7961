// Go text/template semantics for the formats docker users write. Expected values are what Go's
// text/template (with docker's functions) prints for the same template and data.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Template } from './index.ts';

const data = {
  Id: 'abc123',
  State: { Status: 'running', Pid: 42, Running: true, Health: null },
  Config: { Cmd: ['sh', '-c', 'x'], Labels: { b: '2', a: '1' }, Entrypoint: null, Env: null, Image: 'busybox' },
  NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' } }, Ports: {} },
  Mounts: [] as unknown[],
  Ratio: 1.5,
  Big: 1e6,
  Name: '/web',
};

const cases: Array<[string, string]> = [
  ['{{.Id}}', 'abc123'],
  ['{{.State.Status}}', 'running'],
  ['{{.State.Pid}}', '42'],
  ['{{json .State}}', '{"Status":"running","Pid":42,"Running":true,"Health":null}'],
  ['{{json .Config.Cmd}}', '["sh","-c","x"]'],
  ['{{.Config.Cmd}}', '[sh -c x]'],
  ['{{.Config.Labels}}', 'map[a:1 b:2]'],
  ['{{.Config.Entrypoint}}', '[]'],
  ['{{json .Config.Entrypoint}}', 'null'],
  ['{{.State.Health}}', '<nil>'],
  ['{{.Missing}}', '<no value>'],
  ['{{range .Config.Cmd}}[{{.}}]{{end}}', '[sh][-c][x]'],
  ['{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', 'a=1;b=2;'],
  ['{{range $i, $e := .Config.Cmd}}{{$i}}:{{$e}} {{end}}', '0:sh 1:-c 2:x '],
  ['{{range .Mounts}}x{{else}}none{{end}}', 'none'],
  ['{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', '172.17.0.2'],
  ['{{index .Config.Cmd 1}}', '-c'],
  ['{{index .Config.Labels "a"}}', '1'],
  ['{{index .Config.Labels "zz"}}', '<no value>'],
  ['{{join .Config.Cmd ","}}', 'sh,-c,x'],
  ['{{split "a:b:c" ":"}}', '[a b c]'],
  ['{{lower "ABC"}} {{upper "abc"}} {{title "hello world"}}', 'abc ABC Hello World'],
  ['{{println "a" 1}}x', 'a 1\nx'],
  ['{{print "a" 1 2 "b"}}', 'a1 2b'],
  ['{{printf "%-6s|%5d|%.2f|%q|%v" .Id .State.Pid .Ratio "s" .State.Running}}', 'abc123|   42|1.50|"s"|true'],
  ['{{if eq .State.Status "running"}}up{{else}}down{{end}}', 'up'],
  ['{{if eq .State.Status "a" "b" "running"}}multi{{end}}', 'multi'],
  ['{{if ne .State.Pid 0}}pid{{end}}', 'pid'],
  ['{{if gt .State.Pid 10}}big{{end}}{{if lt .State.Pid 10}}small{{end}}', 'big'],
  ['{{if and .Id (not .Missing)}}ok{{end}}', 'ok'],
  ['{{if or .Missing .Id}}{{or .Missing .Id}}{{end}}', 'abc123'],
  ['{{if .State.Health}}h{{else if .State.Running}}r{{else}}n{{end}}', 'r'],
  ['{{with .State}}{{.Pid}}{{end}}', '42'],
  ['{{with .Missing}}x{{else}}none{{end}}', 'none'],
  ['{{len .Config.Cmd}} {{len .Id}} {{len .Config.Labels}}', '3 6 2'],
  ['{{$x := .Id}}{{$x}}', 'abc123'],
  ['{{$x := 1}}{{range .Config.Cmd}}{{$x = 2}}{{end}}{{$x}}', '2'],
  ['{{ .Id | printf "%s!" }}', 'abc123!'],
  ['{{.Id | printf "%s-%s" "x"}}', 'x-abc123'],
  ['{{(index .Config.Cmd 0) | upper}}', 'SH'],
  ['{{- " a " -}}', ' a '],
  ['x {{- .Id -}} y', 'xabc123y'],
  ['{{/* a comment */}}ok', 'ok'],
  ['{{.Ratio}} {{.Big}}', '1.5 1000000'],
  ['{{pad .Id 1 2}}|', ' abc123  |'],
  ['{{truncate .Id 3}}', 'abc'],
  ['{{slice .Id 1 3}}', 'bc'],
  ['{{range $i, $e := .Config.Cmd}}{{if eq $i 1}}{{break}}{{end}}{{$e}}{{end}}', 'sh'],
  ['{{range .Config.Cmd}}{{if eq . "-c"}}{{continue}}{{end}}{{.}}{{end}}', 'shx'],
  ['{{range 3}}{{.}}{{end}}', '012'],
  ['{{"\\t"}}|{{`raw\\t`}}', '\t|raw\\t'],
  ['{{$.Id}}{{range .Config.Cmd}}{{$.Name}}{{end}}', 'abc123/web/web/web'],
  ['{{.State}}', '{running 42 true <nil>}'],
];

describe('Go template semantics', () => {
  for (const [source, want] of cases) {
    test(source, () => assert.equal(new Template(source).execute(data), want));
  }

  test('methods with arguments on contexts', () => {
    const ctx = { Label: (k: string) => ({ a: 'x' } as Record<string, string>)[k] ?? '', Name: () => 'n' };
    assert.equal(new Template('{{.Label "a"}}-{{.Name}}').execute(ctx), 'x-n');
  });

  for (const [source, message] of [
    ['{{.Id', /unclosed action/],
    ['{{nosuchfunc .}}', /function "nosuchfunc" not defined/],
    ['{{if}}', /missing value for if/],
    ['{{end}}', /unexpected \{\{end\}\}/],
    ['{{range .X}}', /unexpected EOF/],
    ['{{$undefined}}', /undefined variable "\$undefined"/],
    ['{{break}}', /outside \{\{range\}\}/],
  ] as Array<[string, RegExp]>) {
    test(`parse error: ${source}`, () => assert.throws(() => new Template(source), message));
  }

  test('execution errors name the action', () => {
    assert.throws(() => new Template('{{index .Config.Cmd 7}}').execute(data), /executing "" at <index \.Config\.Cmd 7>: error calling index: index out of range: 7/);
  });
});
